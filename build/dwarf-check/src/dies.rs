//! Every DWARF entry of an ELF, indexed by its `.debug_info` offset, with just the
//! attributes the shape checks need.

use std::borrow::Cow;
use std::collections::HashMap;

use gimli::{AttributeValue, DwAte, DwTag, Reader, constants};
use object::{Object, ObjectSection};

pub type DieId = usize;

pub struct Die {
    pub tag: DwTag,
    pub name: Option<String>,
    pub byte_size: Option<u64>,
    pub encoding: Option<DwAte>,
    /// `DW_AT_type`.
    pub ty: Option<DieId>,
    pub children: Vec<DieId>,
}

/// A static variable: a `DW_TAG_variable` outside any function.
pub struct Variable {
    /// `module::path::NAME`, from the enclosing namespaces.
    pub name: String,
    pub ty: DieId,
}

pub struct Dies {
    pub dies: HashMap<DieId, Die>,
    pub variables: Vec<Variable>,
    /// Bytes in a pointer, hence in a `usize`.
    pub address_size: u64,
}

impl Dies {
    pub fn load(elf: &[u8]) -> Result<Dies, String> {
        let file = object::File::parse(elf).map_err(|e| format!("not an object file: {e}"))?;
        let endian = if file.is_little_endian() {
            gimli::RunTimeEndian::Little
        } else {
            gimli::RunTimeEndian::Big
        };
        let sections = gimli::DwarfSections::load(|id| -> Result<Cow<[u8]>, String> {
            match file.section_by_name(id.name()) {
                Some(section) => section
                    .uncompressed_data()
                    .map_err(|e| format!("section {}: {e}", id.name())),
                None => Ok(Cow::Borrowed(&[])),
            }
        })?;
        let dwarf = sections.borrow(|section| gimli::EndianSlice::new(section, endian));
        let mut out = Dies {
            dies: HashMap::new(),
            variables: Vec::new(),
            address_size: if file.is_64() { 8 } else { 4 },
        };
        let mut headers = dwarf.units();
        while let Some(header) = headers.next().map_err(dwarf_error)? {
            let unit = dwarf.unit(header).map_err(dwarf_error)?;
            out.load_unit(&dwarf, &unit).map_err(dwarf_error)?;
        }
        Ok(out)
    }

    fn load_unit<R: Reader<Offset = usize>>(
        &mut self,
        dwarf: &gimli::Dwarf<R>,
        unit: &gimli::Unit<R>,
    ) -> gimli::Result<()> {
        // The open ancestors of the current entry: (depth, id, tag, name).
        let mut ancestors: Vec<(isize, DieId, DwTag, Option<String>)> = Vec::new();
        let mut entries = unit.entries();
        while let Some(entry) = entries.next_dfs()? {
            let depth = entry.depth();
            while ancestors.last().is_some_and(|(d, ..)| *d >= depth) {
                ancestors.pop();
            }
            let id = global_offset(unit, entry.offset());
            let name = match entry.attr_value(constants::DW_AT_name) {
                Some(value) => Some(
                    dwarf
                        .attr_string(unit, value)?
                        .to_string_lossy()?
                        .into_owned(),
                ),
                None => None,
            };
            let ty = match entry.attr_value(constants::DW_AT_type) {
                Some(AttributeValue::UnitRef(offset)) => Some(global_offset(unit, offset)),
                Some(AttributeValue::DebugInfoRef(offset)) => Some(offset.0),
                _ => None,
            };
            let encoding = match entry.attr_value(constants::DW_AT_encoding) {
                Some(AttributeValue::Encoding(e)) => Some(e),
                _ => None,
            };
            let byte_size = entry
                .attr_value(constants::DW_AT_byte_size)
                .and_then(|v| v.udata_value());
            if let Some((_, parent, ..)) = ancestors.last()
                && let Some(parent) = self.dies.get_mut(parent)
            {
                parent.children.push(id);
            }
            let in_function = ancestors.iter().any(|(_, _, tag, _)| {
                matches!(
                    *tag,
                    constants::DW_TAG_subprogram | constants::DW_TAG_lexical_block
                )
            });
            if entry.tag() == constants::DW_TAG_variable
                && !in_function
                && let (Some(variable), Some(ty)) = (&name, ty)
            {
                let path: Vec<&str> = ancestors
                    .iter()
                    .filter(|(_, _, tag, _)| *tag == constants::DW_TAG_namespace)
                    .filter_map(|(_, _, _, name)| name.as_deref())
                    .chain([variable.as_str()])
                    .collect();
                self.variables.push(Variable {
                    name: path.join("::"),
                    ty,
                });
            }
            self.dies.insert(
                id,
                Die {
                    tag: entry.tag(),
                    name: name.clone(),
                    byte_size,
                    encoding,
                    ty,
                    children: Vec::new(),
                },
            );
            ancestors.push((depth, id, entry.tag(), name));
        }
        Ok(())
    }

    pub fn get(&self, id: DieId) -> Option<&Die> {
        self.dies.get(&id)
    }

    /// The type `id` names after typedefs and `const`/`volatile` qualifiers.
    pub fn resolve(&self, mut id: DieId) -> Option<(DieId, &Die)> {
        for _ in 0..16 {
            let die = self.get(id)?;
            match die.tag {
                constants::DW_TAG_typedef
                | constants::DW_TAG_const_type
                | constants::DW_TAG_volatile_type => id = die.ty?,
                _ => return Some((id, die)),
            }
        }
        None
    }

    /// The resolved type of the member `name` of the struct `id`.
    pub fn member(&self, id: DieId, name: &str) -> Option<(DieId, &Die)> {
        self.get(id)?
            .children
            .iter()
            .filter_map(|&child| self.get(child))
            .find(|child| {
                child.tag == constants::DW_TAG_member && child.name.as_deref() == Some(name)
            })
            .and_then(|member| self.resolve(member.ty?))
    }

    /// The resolved types of every member of `id`, including those of enum variants.
    pub fn member_types(&self, id: DieId) -> Vec<(DieId, &Die)> {
        let mut out = Vec::new();
        let Some(die) = self.get(id) else {
            return out;
        };
        for &child in &die.children {
            let Some(child_die) = self.get(child) else {
                continue;
            };
            match child_die.tag {
                constants::DW_TAG_member => out.extend(child_die.ty.and_then(|t| self.resolve(t))),
                constants::DW_TAG_variant_part | constants::DW_TAG_variant => {
                    out.extend(self.member_types(child))
                }
                _ => {}
            }
        }
        out
    }
}

fn global_offset<R: Reader<Offset = usize>>(
    unit: &gimli::Unit<R>,
    offset: gimli::UnitOffset,
) -> DieId {
    offset
        .to_debug_info_offset(&unit.header)
        .map_or(usize::MAX, |o| o.0)
}

fn dwarf_error(error: gimli::Error) -> String {
    format!("malformed DWARF: {error}")
}

/// The name without module path or generic parameters: `core::cell::UnsafeCell<T>` ->
/// `UnsafeCell`, as humility compares names.
pub fn short_name(name: &str) -> &str {
    let base = name.split('<').next().unwrap_or(name);
    base.rsplit("::").next().unwrap_or(base)
}
