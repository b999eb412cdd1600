//! The kernel's layout as its DWARF describes it, and the checks of its types (contract 3).

use std::collections::{HashMap, HashSet};

use dwarf_check::dies::{DieId, Dies, Variant};
use gimli::constants as dw;
use object::ObjectSymbol;

use super::*;

/// Problems collected for one object.
pub(super) struct Problems<'p> {
    object: String,
    out: &'p mut Vec<String>,
}

impl Problems<'_> {
    fn push(&mut self, problem: impl std::fmt::Display) {
        self.out.push(format!("{}: {problem}", self.object));
    }
}

/// Finds the kernel layout, recording every contract violation on the way.
pub(super) fn kernel_layout(
    kernel: &ObjectInfo<'_>,
    problems: &mut Vec<String>,
) -> Option<KernelLayout> {
    let mut p = Problems {
        object: kernel.name.clone(),
        out: problems,
    };
    let dies = &kernel.dies;

    for legacy in LEGACY_TABLE {
        if kernel.symbol(legacy).is_some() {
            p.push(format!(
                "has a `{legacy}` symbol, which humility would use instead of `{TASK_TABLE}`"
            ));
        }
    }

    // Raw symbols.
    let current = match kernel.symbol(CURRENT_TASK_PTR) {
        Some(s) if s.size() == 4 && kernel.section_at(s.address()).is_some() => Some(s.address()),
        Some(s) => {
            p.push(format!(
                "`{CURRENT_TASK_PTR}` must be a 4-byte allocated symbol, is {} bytes",
                s.size()
            ));
            None
        }
        None => {
            p.push(format!(
                "no `{CURRENT_TASK_PTR}` symbol (`#[no_mangle]`, 4 bytes)"
            ));
            None
        }
    };
    let image_id = match kernel.symbol(IMAGE_ID) {
        Some(s) if s.size() > 0 && kernel.in_flash(s.address()) => kernel
            .file_bytes(s.address(), s.size())
            .map(|b| (s.address(), b.to_vec())),
        Some(s) => {
            p.push(format!(
                "`{IMAGE_ID}` must be a sized symbol in a flash section (is {} bytes at {:#010x})",
                s.size(),
                s.address()
            ));
            None
        }
        None => {
            p.push(format!(
                "no `{IMAGE_ID}` symbol: humility refuses the archive (missing image id)"
            ));
            None
        }
    };

    // DWARF variables.
    let mut variable = |name: &str| {
        let found = kernel.variable(name);
        if found.is_none() {
            p.push(format!(
                "no DWARF variable `{name}` with an address (external or with a linkage name)"
            ));
        }
        found
    };
    let table = variable(TASK_TABLE);
    let ticks = variable(TICKS);
    let descs = variable(TASK_DESCS);
    let regions = variable(REGION_DESCS);
    let has_failed = kernel.variable(HAS_FAILED);
    let epitaph = kernel.variable(EPITAPH);
    match (has_failed, epitaph) {
        (Some((_, 1, ty)), Some(_))
            if dies
                .get(dies.resolve_id(ty).unwrap_or(ty))
                .is_some_and(|d| d.name.as_deref() == Some("bool")) => {}
        (None, None) => {}
        (Some(_), Some(_)) => p.push(format!("`{HAS_FAILED}` must be a 1-byte bool")),
        _ => p.push(format!(
            "`{HAS_FAILED}` and `{EPITAPH}` must both exist or neither"
        )),
    }
    if let Some((address, size, _)) = ticks
        && size != 8
    {
        p.push(format!(
            "`{TICKS}` at {address:#010x} is {size} bytes; humility reads 8 (a little-endian u64)"
        ));
    }
    for (name, found) in [(TASK_DESCS, descs), (REGION_DESCS, regions)] {
        if let Some((address, ..)) = found
            && !kernel.in_flash(address)
        {
            p.push(format!("`{name}` at {address:#010x} is not in flash; `humility map` reads it from final.elf"));
        }
    }

    // Types.
    let task = structure(dies, "Task", &mut p)?;
    let task_size = dies.size(task)?;
    let members = task_members(dies, task, &mut p);
    let task_desc = structure(dies, "TaskDesc", &mut p);
    let region = structure(dies, "RegionDesc", &mut p).and_then(|r| region_layout(dies, r, &mut p));
    if let Some(desc) = task_desc {
        for name in ["entry_point", "initial_stack"] {
            if !dies
                .member_at(desc, name)
                .is_some_and(|(_, t)| dies.is_unsigned(t, 4))
            {
                p.push(format!("`TaskDesc` needs a member `{name}: u32`"));
            }
        }
    }
    if let Some(t) = task_desc
        .and_then(|d| dies.member_at(task, "descriptor").map(|(_, t)| (d, t)))
        .and_then(|(desc, ptr)| {
            dies.get(ptr)
                .and_then(|d| d.ty)
                .and_then(|t| dies.resolve_id(t))
                .map(|pointee| (desc, pointee))
        })
        && t.0 != t.1
        && dies.name(t.1) != "TaskDesc"
    {
        p.push(format!(
            "`Task.descriptor` points to `{}`, not `TaskDesc`",
            dies.name(t.1)
        ));
    }
    check_no_char(dies, task, "Task", &mut p);

    let (table, ticks, descs, regions, current, image_id, members, task_desc, region) = (
        table?, ticks?, descs?, regions?, current?, image_id?, members?, task_desc?, region?,
    );
    if task_size == 0 || table.1 % task_size != 0 || table.1 == 0 {
        p.push(format!(
            "`{TASK_TABLE}` is {} bytes, not a non-zero multiple of sizeof(Task) = {task_size}",
            table.1
        ));
        return None;
    }
    let task_desc_size = dies.size(task_desc)?;
    let (initial_stack, _) = dies.member_at(task_desc, "initial_stack")?;
    let kernel_stack = kernel
        .symbol("_stack_base")
        .zip(kernel.symbol("_stack_start"))
        .map(|(base, top)| base.address()..top.address());
    let region_count = regions.1 / region.size;
    let layout = KernelLayout {
        task_table: table.0,
        task_count: table.1 / task_size,
        task_size,
        current_task_ptr: current,
        ticks: ticks.0,
        image_id,
        epitaph: has_failed.zip(epitaph).map(|(f, e)| (f.0, e.0, e.1)),
        task_descs: descs.0,
        task_desc_size,
        region_descs: regions.0,
        region_count,
        region,
        initial_stack,
        kernel_stack,
        task: members,
    };
    if descs.1 != layout.task_count * task_desc_size {
        p.push(format!(
            "`{TASK_DESCS}` holds {} bytes, expected {} TaskDescs of {task_desc_size} bytes (one per task-table entry)",
            descs.1, layout.task_count
        ));
    }
    check_task_desc_regions(kernel, &layout, task_desc, &mut p);
    Some(layout)
}

/// The single struct named `name` in this object, reported if missing.
pub(super) fn structure(dies: &Dies, name: &str, p: &mut Problems<'_>) -> Option<DieId> {
    let found = dies.structs_named(name);
    let payloads = dies.variant_payloads();
    let real = found
        .iter()
        .find(|(id, _)| !payloads.contains(id))
        .map(|(id, _)| *id);
    if real.is_none() {
        p.push(format!(
            "no struct named `{name}` (humility looks it up by that exact, non-generic name)"
        ));
    }
    real
}

pub(super) fn task_members(dies: &Dies, task: DieId, p: &mut Problems<'_>) -> Option<TaskMembers> {
    let member = |name: &str| dies.member_at(task, name);
    let mut ok = true;
    let mut fail = |p: &mut Problems<'_>, what: String| {
        ok = false;
        p.push(what);
    };

    let save = member("save");
    let saved = save
        .map(|(_, t)| t)
        .filter(|&t| dies.name(t) == "SavedState");
    let mut regs = HashMap::new();
    match saved {
        None => fail(p, "`Task.save` must be a struct named `SavedState`".into()),
        Some(saved) => {
            for r in ["r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "psp"] {
                match dies.member_at(saved, r) {
                    Some((offset, t)) if dies.size(t) == Some(4) => {
                        regs.insert(r, offset);
                    }
                    _ => fail(p, format!("`SavedState` needs a 4-byte member `{r}`")),
                }
            }
            if let (Some(&r4), Some(&r5), Some(&r6)) =
                (regs.get("r4"), regs.get("r5"), regs.get("r6"))
                && (r5 != r4 + 4 || r6 != r4 + 8)
            {
                fail(
                    p,
                    format!(
                        "`SavedState` r4, r5, r6 must be contiguous (offsets {r4}, {r5}, {r6})"
                    ),
                );
            }
        }
    }

    let state = member("state");
    match state {
        Some((_, ty)) => check_state_enums(dies, ty, p),
        None => fail(p, "`Task` needs a member `state`".into()),
    }

    let generation = member("generation");
    let generation_size = match generation {
        Some((_, t)) if dies.is_unsigned(t, 4) => 4,
        Some((_, t)) if dies.is_newtype_of(t, 1) => 1,
        _ => {
            fail(
                p,
                "`Task.generation` must be a `u32` or a 1-tuple of `u8`".into(),
            );
            0
        }
    };
    if !member("priority").is_some_and(|(_, t)| dies.is_newtype_of(t, 1)) {
        fail(
            p,
            "`Task.priority` must be a 1-tuple struct of `u8` (`Priority(u8)`)".into(),
        );
    }
    let descriptor = member("descriptor");
    if !descriptor.is_some_and(|(_, t)| dies.is_pointer(t)) {
        fail(p, "`Task.descriptor` must be a pointer or reference".into());
    }
    match member("timer") {
        None => fail(p, "`Task` needs a member `timer`".into()),
        Some((_, timer)) => {
            let deadline_ok = dies.member_at(timer, "deadline").is_some_and(|(_, opt)| {
                let variants = dies.variants(opt).unwrap_or_default();
                let names: HashSet<&str> = variants.iter().map(|v| v.name.as_str()).collect();
                names == HashSet::from(["Some", "None"])
                    && variants
                        .iter()
                        .find(|v| v.name == "Some")
                        .and_then(|v| dies.member_at(v.payload?, "__0"))
                        .is_some_and(|(_, inner)| dies.is_newtype_of(inner, 8))
            });
            if !deadline_ok {
                fail(p, "`Task.timer.deadline` must be an `Option` of a 1-tuple of `u64` (`Option<Timestamp>`)".into());
            }
            if !dies
                .member_at(timer, "to_post")
                .is_some_and(|(_, t)| dies.is_newtype_of(t, 4))
            {
                fail(
                    p,
                    "`Task.timer.to_post` must be a 1-tuple of `u32` (`NotificationSet`)".into(),
                );
            }
        }
    }
    if !ok {
        return None;
    }
    Some(TaskMembers {
        r4: save?.0 + regs["r4"],
        r5: save?.0 + regs["r5"],
        psp: save?.0 + regs["psp"],
        state: state?.0,
        state_type: state?.1,
        generation: generation?.0,
        generation_size,
        descriptor: descriptor?.0,
    })
}

pub(super) fn region_layout(
    dies: &Dies,
    region: DieId,
    p: &mut Problems<'_>,
) -> Option<RegionLayout> {
    let word = |name: &str| {
        dies.member_at(region, name)
            .filter(|(_, t)| dies.is_unsigned(*t, 4) || dies.is_pointer(*t))
    };
    let base = word("base");
    let length = word("size");
    let attributes = dies
        .member_at(region, "attributes")
        .and_then(|(offset, t)| {
            ["__0", "bits"]
                .iter()
                .find_map(|inner| {
                    dies.member_at(t, inner)
                        .filter(|(_, it)| dies.is_unsigned(*it, 4))
                })
                .map(|(inner, _)| offset + inner)
        });
    for (name, found) in [
        ("base", base.is_some()),
        ("size", length.is_some()),
        ("attributes", attributes.is_some()),
    ] {
        if !found {
            let shape = if name == "attributes" {
                "a struct with a 4-byte `__0` or `bits`"
            } else {
                "a 4-byte integer"
            };
            p.push(format!("`RegionDesc.{name}` must be {shape}"));
        }
    }
    Some(RegionLayout {
        size: dies.size(region)?,
        base: base?.0,
        length: length?.0,
        attributes: attributes?,
    })
}

/// Every `TaskDesc.regions` entry must be a 1-byte index or a 4-byte reference landing on a
/// `HUBRIS_REGION_DESCS` entry.
pub(super) fn check_task_desc_regions(
    kernel: &ObjectInfo<'_>,
    layout: &KernelLayout,
    task_desc: DieId,
    p: &mut Problems<'_>,
) {
    let dies = &kernel.dies;
    let Some((offset, array)) = dies.member_at(task_desc, "regions") else {
        return p.push("`TaskDesc` needs a member `regions` (an array)");
    };
    let element = dies
        .get(array)
        .filter(|d| d.tag == dw::DW_TAG_array_type)
        .and_then(|d| d.ty);
    let Some(element) = element else {
        return p.push("`TaskDesc.regions` must be an array");
    };
    let (Some(element_size), Some(array_size)) = (dies.size(element), dies.size(array)) else {
        return;
    };
    if dies.is_unsigned(element, 1) {
        return;
    }
    if !(dies.is_pointer(element) && element_size == 4) {
        return p.push("`TaskDesc.regions` must hold 1-byte indices or 4-byte references");
    }
    let table_end = layout.region_descs + layout.region_count * layout.region.size;
    for task in 0..layout.task_count {
        let at = layout.task_descs + task * layout.task_desc_size + offset;
        let Some(bytes) = kernel.file_bytes(at, array_size) else {
            return p.push(format!("`{TASK_DESCS}` has no file bytes to check"));
        };
        for (slot, word) in bytes.chunks(4).enumerate() {
            let target = u64::from(u32::from_le_bytes(word.try_into().unwrap_or_default()));
            let on_entry = target >= layout.region_descs
                && target < table_end
                && (target - layout.region_descs).is_multiple_of(layout.region.size);
            if !on_entry {
                p.push(format!(
                    "task {task}: regions[{slot}] = {target:#010x} is not an entry of `{REGION_DESCS}` at {:#010x}",
                    layout.region_descs
                ));
            }
        }
    }
}

/// Variant names and shapes of `TaskState` and the enums inside it (contract 3.3).
pub(super) fn check_state_enums(dies: &Dies, task_state: DieId, p: &mut Problems<'_>) {
    let mut seen = HashSet::new();
    check_enum(dies, task_state, "TaskState", TASK_STATE, p, &mut seen);
}

pub(super) fn check_enum(
    dies: &Dies,
    ty: DieId,
    what: &str,
    known: KnownVariants,
    p: &mut Problems<'_>,
    seen: &mut HashSet<DieId>,
) {
    let Some(id) = dies.resolve_id(ty) else {
        return;
    };
    if !seen.insert(id) {
        return;
    }
    let Some(variants) = dies.variants(id) else {
        return p.push(format!("`{what}` ({}) is not an enum", dies.name(id)));
    };
    for Variant { name, payload, .. } in &variants {
        let Some((_, shape)) = known.iter().find(|(k, _)| k == name) else {
            p.push(format!(
                "`{what}` has a variant `{name}` humility does not know (known: {})",
                known.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        let members = payload.map(|pl| dies.member_names(pl)).unwrap_or_default();
        let shape_ok = match *shape {
            Shape::Unit => true,
            Shape::Tuple(n) => members == (0..n).map(|i| format!("__{i}")).collect::<Vec<_>>(),
            Shape::Fields(fields) => fields.iter().all(|f| members.contains(f)),
        };
        if !shape_ok {
            p.push(format!(
                "`{what}::{name}` has members [{}], which is not the shape humility decodes",
                members.join(", ")
            ));
            continue;
        }
        let Some(payload) = *payload else { continue };
        let field = |m: &str| dies.member_at(payload, m).map(|(_, t)| t);
        let nested: Vec<(Option<DieId>, &str, KnownVariants)> = match (what, name.as_str()) {
            ("TaskState", "Healthy") => vec![(field("__0"), "SchedState", SCHED_STATE)],
            ("TaskState", "Faulted") => {
                vec![
                    (field("fault"), "FaultInfo", FAULT_INFO),
                    (field("original_state"), "SchedState", SCHED_STATE),
                ]
            }
            ("FaultInfo", "MemoryAccess" | "BusError") => {
                vec![(field("source"), "FaultSource", FAULT_SOURCE)]
            }
            ("FaultInfo", "SyscallUsage") => vec![(field("__0"), "UsageError", USAGE_ERROR)],
            ("FaultInfo", "FromServer") => {
                vec![(field("__1"), "ReplyFaultReason", REPLY_FAULT_REASON)]
            }
            _ => Vec::new(),
        };
        for (inner, inner_what, inner_known) in nested {
            if let Some(inner) = inner {
                check_enum(dies, inner, inner_what, inner_known, p, seen);
            }
        }
        let task_id = match (what, name.as_str()) {
            ("SchedState", "InSend" | "InReply") | ("FaultInfo", "Injected" | "FromServer") => {
                field("__0")
            }
            _ => None,
        };
        if let Some(id_ty) = task_id
            && !(dies.is_unsigned(id_ty, 2)
                || dies.is_unsigned(id_ty, 4)
                || dies.is_newtype_of(id_ty, 2)
                || dies.is_newtype_of(id_ty, 4))
        {
            p.push(format!(
                "`{what}::{name}` must hold a TaskId: `u16`/`u32` or a 1-tuple of one"
            ));
        }
    }
}

/// humility panics on `char` and refuses unions other than `MaybeUninit` anywhere in a
/// decoded `Task`. Pointers are not followed: their pointees are decoded separately.
pub(super) fn check_no_char(dies: &Dies, ty: DieId, path: &str, p: &mut Problems<'_>) {
    let mut visited = HashSet::new();
    let mut stack = vec![(ty, path.to_owned())];
    while let Some((id, path)) = stack.pop() {
        let Some(id) = dies.resolve_id(id) else {
            continue;
        };
        if !visited.insert(id) {
            continue;
        }
        let Some(die) = dies.get(id) else { continue };
        let name = die.name.as_deref().unwrap_or("");
        match die.tag {
            dw::DW_TAG_base_type if die.encoding == Some(dw::DW_ATE_UTF) || name == "char" => {
                p.push(format!(
                    "`{path}` contains `char`, which makes humility panic"
                ));
            }
            dw::DW_TAG_union_type if !name.contains("MaybeUninit") => {
                p.push(format!(
                    "`{path}` contains the union `{name}`; humility decodes only MaybeUninit"
                ));
            }
            dw::DW_TAG_array_type => stack.extend(die.ty.map(|t| (t, format!("{path}[]")))),
            dw::DW_TAG_structure_type
            | dw::DW_TAG_union_type
            | dw::DW_TAG_variant_part
            | dw::DW_TAG_variant => {
                for &child in &die.children {
                    let Some(c) = dies.get(child) else { continue };
                    match c.tag {
                        dw::DW_TAG_member => {
                            let member = c.name.as_deref().unwrap_or("?");
                            stack.extend(c.ty.map(|t| (t, format!("{path}.{member}"))));
                        }
                        dw::DW_TAG_variant_part | dw::DW_TAG_variant => {
                            stack.push((child, path.clone()))
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
}
