//! Every DWARF entry of an ELF, indexed by its `.debug_info` offset, with the attributes
//! the shape checks here and xtask's humility-contract checks need: one loader for both.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use gimli::{AttributeValue, DwAte, DwTag, Reader, constants as dw};
use object::{Object, ObjectSection};

pub type DieId = usize;

#[derive(Debug)]
pub struct Die {
    pub tag: DwTag,
    pub name: Option<String>,
    pub byte_size: Option<u64>,
    pub encoding: Option<DwAte>,
    /// `DW_AT_type`.
    pub ty: Option<DieId>,
    pub children: Vec<DieId>,
    pub parent: Option<DieId>,
    /// `DW_AT_data_member_location` (constant form only, as humility requires).
    pub member_offset: Option<u64>,
    /// `DW_AT_discr` of a variant part.
    pub discr: Option<DieId>,
    /// `DW_AT_discr_value` of a variant, `DW_AT_const_value` of an enumerator.
    pub value: Option<u64>,
    /// Element count of a subrange.
    pub count: Option<u64>,
}

/// A static variable: a `DW_TAG_variable` outside any function.
pub struct Variable {
    /// The plain name (`DW_AT_name`).
    pub name: String,
    /// `module::path::NAME`, from the enclosing namespaces.
    pub qualified: String,
    pub ty: DieId,
    pub external: bool,
    pub linkage_name: Option<String>,
    /// `DW_AT_location`, when it is one address or contiguous address pieces.
    pub address: Option<u64>,
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
        let reference = |value: Option<AttributeValue<R>>| match value {
            Some(AttributeValue::UnitRef(offset)) => {
                offset.to_debug_info_offset(&unit.header).map(|o| o.0)
            }
            Some(AttributeValue::DebugInfoRef(offset)) => Some(offset.0),
            _ => None,
        };
        // Open ancestors: (depth, id, tag, name).
        let mut ancestors: Vec<(isize, DieId, DwTag, Option<String>)> = Vec::new();
        let mut entries = unit.entries();
        while let Some(entry) = entries.next_dfs()? {
            let depth = entry.depth();
            while ancestors.last().is_some_and(|(d, ..)| *d >= depth) {
                ancestors.pop();
            }
            let Some(id) = entry
                .offset()
                .to_debug_info_offset(&unit.header)
                .map(|o| o.0)
            else {
                continue;
            };
            let string = |attr| -> gimli::Result<Option<String>> {
                match entry.attr_value(attr) {
                    Some(value) => Ok(Some(
                        dwarf
                            .attr_string(unit, value)?
                            .to_string_lossy()?
                            .into_owned(),
                    )),
                    None => Ok(None),
                }
            };
            let name = string(dw::DW_AT_name)?;
            let value = entry
                .attr_value(dw::DW_AT_discr_value)
                .or_else(|| entry.attr_value(dw::DW_AT_const_value))
                .and_then(|v| {
                    v.udata_value()
                        .or_else(|| v.sdata_value().map(|s| s as u64))
                });
            let count = entry
                .attr_value(dw::DW_AT_count)
                .and_then(|v| v.udata_value())
                .or_else(|| {
                    entry
                        .attr_value(dw::DW_AT_upper_bound)
                        .and_then(|v| v.udata_value())
                        .map(|u| u + 1)
                });
            let die = Die {
                tag: entry.tag(),
                name: name.clone(),
                byte_size: entry
                    .attr_value(dw::DW_AT_byte_size)
                    .and_then(|v| v.udata_value()),
                encoding: match entry.attr_value(dw::DW_AT_encoding) {
                    Some(AttributeValue::Encoding(e)) => Some(e),
                    _ => None,
                },
                ty: reference(entry.attr_value(dw::DW_AT_type)),
                children: Vec::new(),
                parent: ancestors.last().map(|(_, p, ..)| *p),
                member_offset: entry
                    .attr_value(dw::DW_AT_data_member_location)
                    .and_then(|v| v.udata_value()),
                discr: reference(entry.attr_value(dw::DW_AT_discr)),
                value,
                count,
            };
            if let Some(parent) = die.parent.and_then(|p| self.dies.get_mut(&p)) {
                parent.children.push(id);
            }
            let in_function = ancestors.iter().any(|(_, _, tag, _)| {
                matches!(*tag, dw::DW_TAG_subprogram | dw::DW_TAG_lexical_block)
            });
            if entry.tag() == dw::DW_TAG_variable
                && !in_function
                && let (Some(name), Some(ty)) = (&name, die.ty)
            {
                let qualified: Vec<&str> = ancestors
                    .iter()
                    .filter(|(_, _, tag, _)| *tag == dw::DW_TAG_namespace)
                    .filter_map(|(.., n)| n.as_deref())
                    .chain([name.as_str()])
                    .collect();
                let address = match entry.attr_value(dw::DW_AT_location) {
                    Some(AttributeValue::Exprloc(expr)) => location_address(&expr.0.to_slice()?),
                    _ => None,
                };
                self.variables.push(Variable {
                    name: name.clone(),
                    qualified: qualified.join("::"),
                    ty,
                    external: matches!(
                        entry.attr_value(dw::DW_AT_external),
                        Some(AttributeValue::Flag(true))
                    ),
                    linkage_name: string(dw::DW_AT_linkage_name)?,
                    address,
                });
            }
            self.dies.insert(id, die);
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
                dw::DW_TAG_typedef | dw::DW_TAG_const_type | dw::DW_TAG_volatile_type => {
                    id = die.ty?
                }
                _ => return Some((id, die)),
            }
        }
        None
    }

    /// [`Dies::resolve`], for callers that only need the id.
    pub fn resolve_id(&self, id: DieId) -> Option<DieId> {
        self.resolve(id).map(|(id, _)| id)
    }

    /// The resolved type of the member `name` of the struct `id`.
    pub fn member(&self, id: DieId, name: &str) -> Option<(DieId, &Die)> {
        self.get(id)?
            .children
            .iter()
            .filter_map(|&child| self.get(child))
            .find(|child| child.tag == dw::DW_TAG_member && child.name.as_deref() == Some(name))
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
                dw::DW_TAG_member => out.extend(child_die.ty.and_then(|t| self.resolve(t))),
                dw::DW_TAG_variant_part | dw::DW_TAG_variant => {
                    out.extend(self.member_types(child))
                }
                _ => {}
            }
        }
        out
    }

    pub fn name(&self, id: DieId) -> &str {
        self.get(id)
            .and_then(|d| d.name.as_deref())
            .unwrap_or("<unnamed>")
    }

    pub fn size(&self, id: DieId) -> Option<u64> {
        let id = self.resolve_id(id)?;
        let die = self.get(id)?;
        match die.tag {
            dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type => Some(die.byte_size.unwrap_or(4)),
            dw::DW_TAG_array_type if die.byte_size.is_none() => {
                let count: u64 = die
                    .children
                    .iter()
                    .filter_map(|&c| self.get(c)?.count)
                    .product();
                Some(count * self.size(die.ty?)?)
            }
            _ => die.byte_size,
        }
    }

    /// The named member of a struct: (offset, resolved type).
    pub fn member_at(&self, ty: DieId, name: &str) -> Option<(u64, DieId)> {
        let die = self.get(self.resolve_id(ty)?)?;
        die.children
            .iter()
            .filter_map(|&c| self.get(c))
            .find_map(|m| {
                (m.tag == dw::DW_TAG_member && m.name.as_deref() == Some(name))
                    .then(|| Some((m.member_offset?, self.resolve_id(m.ty?)?)))
                    .flatten()
            })
    }

    /// The names of a struct's data members.
    pub fn member_names(&self, ty: DieId) -> Vec<&str> {
        let Some(die) = self.resolve_id(ty).and_then(|t| self.get(t)) else {
            return Vec::new();
        };
        die.children
            .iter()
            .filter_map(|&c| self.get(c))
            .filter(|m| m.tag == dw::DW_TAG_member)
            .filter_map(|m| m.name.as_deref())
            .collect()
    }

    pub fn is_unsigned(&self, ty: DieId, size: u64) -> bool {
        self.resolve_id(ty)
            .and_then(|t| self.get(t))
            .is_some_and(|d| {
                d.tag == dw::DW_TAG_base_type
                    && d.encoding == Some(dw::DW_ATE_unsigned)
                    && d.byte_size == Some(size)
            })
    }

    /// A 1-tuple struct (`Name(T)`) holding an unsigned integer of `size` bytes.
    pub fn is_newtype_of(&self, ty: DieId, size: u64) -> bool {
        self.member_names(ty) == ["__0"]
            && self
                .member_at(ty, "__0")
                .is_some_and(|(_, t)| self.is_unsigned(t, size))
    }

    pub fn is_pointer(&self, ty: DieId) -> bool {
        self.resolve_id(ty)
            .and_then(|t| self.get(t))
            .is_some_and(|d| matches!(d.tag, dw::DW_TAG_pointer_type | dw::DW_TAG_reference_type))
    }

    /// Variants of a Rust enum (`variant_part` form) or of a C-like enumeration.
    pub fn variants(&self, ty: DieId) -> Option<Vec<Variant>> {
        let id = self.resolve_id(ty)?;
        let die = self.get(id)?;
        if die.tag == dw::DW_TAG_enumeration_type {
            return Some(
                die.children
                    .iter()
                    .filter_map(|&c| self.get(c))
                    .filter(|e| e.tag == dw::DW_TAG_enumerator)
                    .map(|e| Variant {
                        name: e.name.clone().unwrap_or_default(),
                        payload: None,
                        discr: e.value,
                    })
                    .collect(),
            );
        }
        let part = die
            .children
            .iter()
            .filter_map(|&c| self.get(c))
            .find(|c| c.tag == dw::DW_TAG_variant_part)?;
        let mut out = Vec::new();
        for variant in part
            .children
            .iter()
            .filter_map(|&c| self.get(c))
            .filter(|v| v.tag == dw::DW_TAG_variant)
        {
            for member in variant
                .children
                .iter()
                .filter_map(|&m| self.get(m))
                .filter(|m| m.tag == dw::DW_TAG_member)
            {
                out.push(Variant {
                    name: member.name.clone().unwrap_or_default(),
                    payload: member.ty.and_then(|t| self.resolve_id(t)),
                    discr: variant.value,
                });
            }
        }
        Some(out)
    }

    /// The live variant of the enum `ty` whose value is `bytes`: (name, payload struct).
    pub fn decode_variant(&self, ty: DieId, bytes: &[u8]) -> Option<(String, Option<DieId>)> {
        let id = self.resolve_id(ty)?;
        let die = self.get(id)?;
        let variants = self.variants(id)?;
        let (value, has_discr) = if die.tag == dw::DW_TAG_enumeration_type {
            (read_uint(bytes, 0, die.byte_size?)?, true)
        } else {
            let part = die
                .children
                .iter()
                .filter_map(|&c| self.get(c))
                .find(|c| c.tag == dw::DW_TAG_variant_part)?;
            match part.discr.and_then(|d| self.get(d)) {
                Some(discr) => (
                    read_uint(bytes, discr.member_offset?, self.size(discr.ty?)?)?,
                    true,
                ),
                // A single-variant enum has no discriminant.
                None => (0, false),
            }
        };
        let chosen = variants
            .iter()
            .find(|v| has_discr && v.discr == Some(value))
            .or_else(|| variants.iter().find(|v| v.discr.is_none()))?;
        Some((chosen.name.clone(), chosen.payload))
    }

    /// Every struct named `name`, with its byte size and (member, offset, type name) list.
    pub fn structs_named(&self, name: &str) -> Vec<(DieId, StructShape)> {
        let mut out: Vec<(DieId, StructShape)> = self
            .dies
            .iter()
            .filter(|(_, d)| d.tag == dw::DW_TAG_structure_type && d.name.as_deref() == Some(name))
            .map(|(&id, d)| {
                let members = d
                    .children
                    .iter()
                    .filter_map(|&c| self.get(c))
                    .filter(|m| m.tag == dw::DW_TAG_member)
                    .map(|m| {
                        let ty =
                            m.ty.map_or("?", |t| self.name(self.resolve_id(t).unwrap_or(t)));
                        (
                            m.name.clone().unwrap_or_default(),
                            m.member_offset,
                            ty.to_owned(),
                        )
                    })
                    .collect();
                (
                    id,
                    StructShape {
                        size: d.byte_size,
                        members,
                    },
                )
            })
            .collect();
        out.sort_by_key(|(id, _)| *id);
        out
    }

    /// Structs that are the payload of an enum variant.
    pub fn variant_payloads(&self) -> HashSet<DieId> {
        self.dies
            .values()
            .filter(|d| d.tag == dw::DW_TAG_variant)
            .flat_map(|v| v.children.iter().filter_map(|&m| self.get(m)?.ty))
            .filter_map(|t| self.resolve_id(t))
            .collect()
    }

    /// The first variable humility's unqualified lookup would find under `name`.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        self.variables
            .iter()
            .find(|v| v.name == name && (v.external || v.linkage_name.is_some()))
    }
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

/// One variant of an enum.
pub struct Variant {
    pub name: String,
    /// The variant's payload struct (Rust enums only).
    pub payload: Option<DieId>,
    /// Its discriminant value; `None` for the niche-layout fallback variant.
    pub discr: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StructShape {
    pub size: Option<u64>,
    pub members: Vec<(String, Option<u64>, String)>,
}

/// The address of a `DW_AT_location` made of `DW_OP_addr` pieces that are contiguous.
pub fn location_address(expr: &[u8]) -> Option<u64> {
    const DW_OP_ADDR: u8 = 0x03;
    const DW_OP_PIECE: u8 = 0x93;
    let (mut at, mut first, mut next) = (0, None, None);
    while at < expr.len() {
        match expr[at] {
            DW_OP_ADDR => {
                let address = u64::from(u32::from_le_bytes(
                    expr.get(at + 1..at + 5)?.try_into().ok()?,
                ));
                if next.is_some_and(|n| n != address) {
                    return None;
                }
                first = first.or(Some(address));
                next = Some(address);
                at += 5;
            }
            DW_OP_PIECE => {
                let (size, len) = uleb128(&expr[at + 1..])?;
                next = next.map(|n| n + size);
                at += 1 + len;
            }
            _ => return None,
        }
    }
    first
}

fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

pub fn read_uint(bytes: &[u8], offset: u64, size: u64) -> Option<u64> {
    let start = usize::try_from(offset).ok()?;
    let raw = bytes.get(start..start + usize::try_from(size).ok()?)?;
    if raw.len() > 8 {
        return None;
    }
    let mut word = [0u8; 8];
    word[..raw.len()].copy_from_slice(raw);
    Some(u64::from_le_bytes(word))
}
