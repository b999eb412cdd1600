//! Checks that the ring buffers and counters in a built ELF have the shapes `humility
//! ringbuf` and `humility counters` decode (doc/humility-contract.md 2.3, 4.2 and 4.4), so a
//! layout change is caught at build time rather than as a humility failure on a board.
//!
//! A static is a ring buffer if its type's name contains `Ringbuf`, and a counter table if
//! it contains `Counts`, as humility decides. The rules:
//!
//! - `CountedRingbuf...`: a `counters` member (counter rules) and, optionally, a `ringbuf`
//!   member (`StaticCell` rules).
//! - `StaticCell`: a `cell` member of type `UnsafeCell` whose `value` follows the plain rules.
//! - Plain: `last` is an `Option` whose `Some` holds an unsigned integer of pointer size;
//!   `buffer` is an array of entries with `line` and `generation` of type `u16`, `count`
//!   unsigned of 0, 1, 2, 4 or 8 bytes, and a `payload`.
//! - Counters: every member is an `AtomicU32 { v: UnsafeCell { value: u32 } }`, a zero-sized
//!   unit, or a nested counter struct.
//! - No `char` and no union other than `MaybeUninit` anywhere in a payload or counter table
//!   (humility panics on `char`). Pointers are not followed: humility does not read through
//!   them.

pub mod dies;

use std::collections::HashSet;

use dies::{DieId, Dies, short_name};
use gimli::constants;

/// What a check found.
pub struct Findings {
    /// One line per ring buffer or counter table checked.
    pub checked: Vec<String>,
    /// One line per broken rule, naming the static and the member at fault.
    pub violations: Vec<String>,
}

/// Checks every ring buffer and counter table of `elf`. `Ok` lists what was checked;
/// `Err` lists every violation, one per line, or says why the ELF could not be read.
pub fn check_elf(elf: &[u8]) -> Result<Vec<String>, String> {
    let findings = inspect_elf(elf)?;
    if findings.violations.is_empty() {
        Ok(findings.checked)
    } else {
        Err(findings.violations.join("\n"))
    }
}

/// Like [`check_elf`], returning what passed alongside what failed.
pub fn inspect_elf(elf: &[u8]) -> Result<Findings, String> {
    let dies = Dies::load(elf)?;
    let mut checker = Checker {
        dies: &dies,
        variable: String::new(),
        violations: Vec::new(),
    };
    let mut checked = Vec::new();
    for variable in &dies.variables {
        let Some((ty, die)) = dies.resolve(variable.ty) else {
            continue;
        };
        let type_name = die.name.as_deref().unwrap_or("");
        checker.variable = variable.qualified.clone();
        if type_name.contains("Ringbuf") {
            checker.ring_buffer(ty, type_name);
            checked.push(format!("ring buffer {}: {type_name}", variable.qualified));
        } else if type_name.contains("Counts") {
            checker.counters(ty, "");
            checked.push(format!("counters {}: {type_name}", variable.qualified));
        }
    }
    checked.sort();
    checked.dedup();
    Ok(Findings {
        checked,
        violations: checker.violations,
    })
}

struct Checker<'a> {
    dies: &'a Dies,
    /// The static being checked, for messages.
    variable: String,
    violations: Vec<String>,
}

impl Checker<'_> {
    fn violation(&mut self, problem: String) {
        self.violations
            .push(format!("{}: {problem}", self.variable));
    }

    fn type_name(&self, id: DieId) -> &str {
        self.dies
            .get(id)
            .and_then(|d| d.name.as_deref())
            .unwrap_or("<unnamed>")
    }

    fn ring_buffer(&mut self, ty: DieId, type_name: &str) {
        let short = short_name(type_name);
        if short.starts_with("CountedRingbuf") {
            match self.dies.member(ty, "counters") {
                Some((counters, _)) => self.counters(counters, "counters."),
                None => self.violation("a CountedRingbuf needs a `counters` member".into()),
            }
            if let Some((ring, _)) = self.dies.member(ty, "ringbuf") {
                self.static_cell(ring);
            }
        } else if short == "StaticCell" {
            self.static_cell(ty);
        } else {
            self.plain_ring(ty);
        }
    }

    fn static_cell(&mut self, ty: DieId) {
        if short_name(self.type_name(ty)) != "StaticCell" {
            return self.violation(format!(
                "ring buffer wrapper is `{}`; humility accepts only `StaticCell`",
                self.type_name(ty)
            ));
        }
        let value = self
            .dies
            .member(ty, "cell")
            .filter(|(cell, _)| short_name(self.type_name(*cell)) == "UnsafeCell")
            .and_then(|(cell, _)| self.dies.member(cell, "value"));
        match value {
            Some((ring, _)) => self.plain_ring(ring),
            None => self.violation("StaticCell needs a member `cell: UnsafeCell { value }`".into()),
        }
    }

    fn plain_ring(&mut self, ty: DieId) {
        let pointer_size = self.dies.address_size;
        let last_ok = self
            .dies
            .member(ty, "last")
            .filter(|(last, _)| short_name(self.type_name(*last)) == "Option")
            .and_then(|(last, _)| self.option_payload(last))
            .is_some_and(|payload| self.is_unsigned(payload, &[pointer_size]));
        if !last_ok {
            self.violation(format!(
                "`last` must be an Option of a {pointer_size}-byte unsigned integer"
            ));
        }
        let Some((buffer, buffer_die)) = self.dies.member(ty, "buffer") else {
            return self.violation("a ring buffer needs a `buffer` member".into());
        };
        let entry = (buffer_die.tag == constants::DW_TAG_array_type)
            .then_some(buffer_die.ty)
            .flatten()
            .and_then(|element| self.dies.resolve(element));
        let Some((entry, _)) = entry else {
            return self.violation(format!(
                "`buffer` is `{}`, not an array",
                self.type_name(buffer)
            ));
        };
        for (member, sizes) in [
            ("line", &[2][..]),
            ("generation", &[2]),
            ("count", &[0, 1, 2, 4, 8]),
        ] {
            let ok = self
                .dies
                .member(entry, member)
                .is_some_and(|(t, _)| self.is_unsigned(t, sizes));
            if !ok {
                let expected = if member == "count" {
                    "an unsigned integer or ()"
                } else {
                    "u16"
                };
                self.violation(format!("entry member `{member}` must be {expected}"));
            }
        }
        match self.dies.member(entry, "payload") {
            Some((payload, _)) => self.decodable(payload, "payload", &mut HashSet::new()),
            None => self.violation("entries need a `payload` member".into()),
        }
    }

    /// `prefix` places nested tables in messages, e.g. `counters.`.
    fn counters(&mut self, ty: DieId, prefix: &str) {
        let Some(die) = self.dies.get(ty) else { return };
        let members: Vec<(String, Option<DieId>)> = die
            .children
            .iter()
            .filter_map(|&c| self.dies.get(c))
            .filter(|c| c.tag == constants::DW_TAG_member)
            .map(|c| (c.name.clone().unwrap_or_default(), c.ty))
            .collect();
        for (name, member_ty) in members {
            let Some((member_ty, member_die)) = member_ty.and_then(|t| self.dies.resolve(t)) else {
                continue;
            };
            let type_name = member_die.name.as_deref().unwrap_or("");
            let is_zero_sized =
                member_die.tag == constants::DW_TAG_base_type && member_die.byte_size == Some(0);
            if short_name(type_name).starts_with("AtomicU32") {
                if !self.is_atomic_u32(member_ty) {
                    self.violation(format!(
                        "counter `{prefix}{name}` is not `AtomicU32 {{ v: UnsafeCell<u32> }}`"
                    ));
                }
            } else if type_name.contains("Counts") {
                self.counters(member_ty, &format!("{prefix}{name}."));
            } else if !is_zero_sized {
                self.violation(format!(
                    "counter `{prefix}{name}` is `{type_name}`; humility reads only AtomicU32, () or nested counters"
                ));
            }
        }
    }

    fn is_atomic_u32(&self, ty: DieId) -> bool {
        self.dies
            .member(ty, "v")
            .filter(|(cell, _)| short_name(self.type_name(*cell)) == "UnsafeCell")
            .and_then(|(cell, _)| self.dies.member(cell, "value"))
            .is_some_and(|(value, _)| self.is_unsigned(value, &[4]))
    }

    /// The type inside `Some` of an `Option` type.
    fn option_payload(&self, option: DieId) -> Option<DieId> {
        self.dies
            .member_types(option)
            .into_iter()
            .find(|(_, die)| die.name.as_deref() == Some("Some"))
            .and_then(|(some, _)| self.dies.member(some, "__0"))
            .map(|(payload, _)| payload)
    }

    fn is_unsigned(&self, ty: DieId, sizes: &[u64]) -> bool {
        self.dies.get(ty).is_some_and(|die| {
            die.tag == constants::DW_TAG_base_type
                && die.encoding == Some(constants::DW_ATE_unsigned)
                && die.byte_size.is_some_and(|size| sizes.contains(&size))
        })
    }

    /// Reports a `char` or a non-`MaybeUninit` union anywhere inside `ty`.
    fn decodable(&mut self, ty: DieId, path: &str, visited: &mut HashSet<DieId>) {
        if !visited.insert(ty) {
            return;
        }
        let Some(die) = self.dies.get(ty) else { return };
        let name = die.name.clone().unwrap_or_default();
        match die.tag {
            constants::DW_TAG_base_type
                if die.encoding == Some(constants::DW_ATE_UTF) || name == "char" =>
            {
                self.violation(format!(
                    "`{path}` contains `char`, which humility cannot decode"
                ));
            }
            constants::DW_TAG_union_type if !name.contains("MaybeUninit") => {
                self.violation(format!(
                    "`{path}` contains the union `{name}`; humility decodes only MaybeUninit"
                ));
            }
            constants::DW_TAG_array_type => {
                if let Some((element, _)) = die.ty.and_then(|t| self.dies.resolve(t)) {
                    self.decodable(element, &format!("{path}[]"), visited);
                }
            }
            constants::DW_TAG_structure_type | constants::DW_TAG_union_type => {
                for (member, _) in self.dies.member_types(ty) {
                    let inner = format!("{path}.{}", short_name(self.type_name(member)));
                    self.decodable(member, &inner, visited);
                }
            }
            _ => {}
        }
    }
}
