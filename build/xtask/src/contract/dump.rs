//! Dumps (contract 5): a core file against the archive it claims to hold.

use dwarf_check::dies::{DieId, Dies, read_uint};
use object::elf::{PT_LOAD, PT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader};
use object::{LittleEndian as LE, ObjectSymbol};
use serde::Serialize;

use super::*;

/// A note of a core file.
pub struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

/// A core file's notes and loaded segments.
pub struct Core<'a> {
    pub notes: Vec<Note<'a>>,
    /// `(address, bytes)`, sorted by address.
    pub loads: Vec<(u64, &'a [u8])>,
}

/// Parses a core file, checking the segment rules of contract 5.
pub fn parse_core(core: &[u8]) -> Result<Core<'_>, Vec<String>> {
    let header = object::elf::FileHeader32::<LE>::parse(core)
        .map_err(|e| vec![format!("not an ELF32 file: {e}")])?;
    if header.e_ident.data != object::elf::ELFDATA2LSB {
        return Err(vec!["not little-endian".into()]);
    }
    let phdrs = header
        .program_headers(LE, core)
        .map_err(|e| vec![format!("bad program headers: {e}")])?;
    let mut problems = Vec::new();
    let (mut notes, mut loads) = (Vec::new(), Vec::new());
    for ph in phdrs {
        let data = match ph.data(LE, core) {
            Ok(d) => d,
            Err(()) => {
                problems.push(format!(
                    "segment at offset {:#x} runs past the end of the file",
                    ph.p_offset(LE)
                ));
                continue;
            }
        };
        match ph.p_type(LE) {
            PT_NOTE => parse_notes(data, &mut notes, &mut problems),
            PT_LOAD => {
                if ph.p_filesz(LE) != ph.p_memsz(LE) {
                    problems.push(format!(
                        "PT_LOAD at {:#010x}: p_filesz {:#x} != p_memsz {:#x}",
                        ph.p_vaddr(LE),
                        ph.p_filesz(LE),
                        ph.p_memsz(LE)
                    ));
                }
                loads.push((u64::from(ph.p_vaddr(LE)), data));
            }
            _ => {}
        }
    }
    loads.sort_by_key(|(a, _)| *a);
    for pair in loads.windows(2) {
        let end = pair[0].0 + pair[0].1.len() as u64;
        if pair[1].0 < end {
            problems.push(format!(
                "PT_LOAD segments overlap: {:#010x}..{end:#010x} and {:#010x}",
                pair[0].0, pair[1].0
            ));
        }
    }
    if problems.is_empty() {
        Ok(Core { notes, loads })
    } else {
        Err(problems)
    }
}

pub(super) fn parse_notes<'a>(
    mut data: &'a [u8],
    notes: &mut Vec<Note<'a>>,
    problems: &mut Vec<String>,
) {
    let word = |d: &[u8], at: usize| {
        d.get(at..at + 4)
            .map(|w| u32::from_le_bytes(w.try_into().unwrap_or_default()))
    };
    while data.len() >= 12 {
        let (Some(namesz), Some(descsz), Some(kind)) =
            (word(data, 0), word(data, 4), word(data, 8))
        else {
            break;
        };
        let name_end = 12 + namesz as usize;
        let desc_start = name_end.next_multiple_of(4);
        let desc_end = desc_start + descsz as usize;
        let (Some(name), Some(desc)) = (data.get(12..name_end), data.get(desc_start..desc_end))
        else {
            problems.push("a note runs past the end of its segment".into());
            return;
        };
        notes.push(Note { name, kind, desc });
        data = data.get(desc_end.next_multiple_of(4)..).unwrap_or(&[]);
    }
}

/// A dump's memory: merged `PT_LOAD` ranges; a read must fall inside one.
pub struct DumpMemory<'a> {
    ranges: Vec<(u64, Vec<&'a [u8]>)>,
}

impl<'a> DumpMemory<'a> {
    pub fn new(loads: &[(u64, &'a [u8])]) -> DumpMemory<'a> {
        let mut ranges: Vec<(u64, Vec<&'a [u8]>)> = Vec::new();
        for &(address, bytes) in loads {
            match ranges.last_mut() {
                Some((start, parts))
                    if *start + parts.iter().map(|p| p.len() as u64).sum::<u64>() == address =>
                {
                    parts.push(bytes)
                }
                _ => ranges.push((address, vec![bytes])),
            }
        }
        DumpMemory { ranges }
    }

    pub fn read(&self, address: u64, len: u64) -> Option<Vec<u8>> {
        let (start, parts) = self
            .ranges
            .iter()
            .rev()
            .find(|(start, _)| *start <= address)?;
        let mut out = Vec::with_capacity(usize::try_from(len).ok()?);
        let mut skip = address - start;
        for part in parts {
            let part_len = part.len() as u64;
            if skip >= part_len {
                skip -= part_len;
                continue;
            }
            let want = (len - out.len() as u64).min(part_len - skip);
            out.extend_from_slice(&part[skip as usize..(skip + want) as usize]);
            skip = 0;
            if out.len() as u64 == len {
                break;
            }
        }
        (out.len() as u64 == len).then_some(out)
    }
}

/// What a dump holds, decoded through the archive's DWARF.
#[derive(Clone, Debug, Serialize)]
pub struct DumpReport {
    /// The image id, lowercase hex of its bytes in memory order.
    pub image_id: String,
    pub ticks: u64,
    /// The running task's name.
    pub current_task: String,
    pub tasks: Vec<TaskReport>,
    /// The registers note, `(id, value)` in note order; empty without one.
    pub registers: Vec<(u32, u32)>,
    /// The kernel epitaph if `KERNEL_HAS_FAILED` is set.
    pub kernel_epitaph: Option<String>,
    pub ring_buffers: Vec<RingbufReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TaskReport {
    pub index: usize,
    pub name: String,
    /// `TaskState` variant: `Healthy` or `Faulted`.
    pub state: String,
    /// The `SchedState` variant when healthy, the `FaultInfo` variant when faulted.
    pub detail: String,
    pub generation: u32,
    /// For a task faulted with `Panic`: the message at saved r4/r5.
    pub panic_message: Option<String>,
    /// The stack as `humility stackmargin` finds it: from the base of the region holding
    /// `initial_stack` up to `initial_stack`.
    pub stack_base: u32,
    pub stack_size: u32,
    /// Bytes at the bottom of the stack still holding [`STACK_FILL`], as humility counts
    /// them (it stops one word short of the top).
    pub stack_margin: u32,
    /// The saved process stack pointer (`SavedState.psp`).
    pub saved_psp: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct RingbufReport {
    /// `elf/task/<name>` or `elf/kernel`.
    pub object: String,
    pub variable: String,
    /// Entries whose `generation` is non-zero (written at least once).
    pub used_entries: usize,
}

/// Checks a dump against the archive it should hold (contract 5) and decodes it.
pub fn check_dump(dump: &[u8], archive: &[u8]) -> Result<DumpReport, Vec<String>> {
    let Core { notes, loads } = parse_core(dump)?;
    let mut problems = Vec::new();

    let oxide = |n: &Note<'_>| n.name == NOTE_NAME;
    let archives: Vec<&Note<'_>> = notes
        .iter()
        .filter(|n| oxide(n) && n.kind == NT_HUBRIS_ARCHIVE)
        .collect();
    match archives.as_slice() {
        [one] if one.desc == archive => {}
        [_] => problems.push("the archive note differs from the archive".into()),
        _ => problems.push(format!(
            "{} archive notes, expected exactly one",
            archives.len()
        )),
    }
    for note in notes.iter().filter(|n| oxide(n)) {
        if ![NT_HUBRIS_ARCHIVE, NT_HUBRIS_REGISTERS, NT_HUBRIS_TASK].contains(&note.kind) {
            problems.push(format!(
                "unrecognized Oxide note type {:#x} (humility refuses it)",
                note.kind
            ));
        }
        if note.kind == NT_HUBRIS_TASK {
            problems.push("a task note makes humility read this as a single-task dump".into());
        }
    }
    let register_notes: Vec<&Note<'_>> = notes
        .iter()
        .filter(|n| n.kind == NT_HUBRIS_REGISTERS)
        .collect();
    let mut registers = Vec::new();
    match register_notes.as_slice() {
        [] => {}
        [note] if note.desc.len().is_multiple_of(8) => {
            for pair in note.desc.chunks(8) {
                let id = u32::from_le_bytes(pair[..4].try_into().unwrap_or_default());
                let value = u32::from_le_bytes(pair[4..].try_into().unwrap_or_default());
                if registers.iter().any(|&(i, _)| i == id) {
                    problems.push(format!("register {id} appears twice in the registers note"));
                }
                registers.push((id, value));
            }
        }
        [note] => problems.push(format!(
            "the registers note is {} bytes, not a multiple of 8",
            note.desc.len()
        )),
        _ => problems.push("more than one registers note".into()),
    }

    let files = ArchiveFiles::parse(archive).map_err(|e| vec![e])?;
    let layout = check_objects(&files.kernel, &files.tasks)?;
    let kernel = ObjectInfo::parse("elf/kernel", &files.kernel).map_err(|e| vec![e])?;
    let texts: Vec<std::ops::Range<u64>> = files
        .objects()
        .iter()
        .filter_map(|(name, bytes)| ObjectInfo::parse(name, bytes).ok()?.text())
        .collect();
    if let Some(&(_, pc)) = registers.iter().find(|(id, _)| *id == REG_PC) {
        let pc = u64::from(pc & !1);
        if !texts.iter().any(|t| t.contains(&pc)) {
            problems.push(format!(
                "PC {pc:#010x} is in no object's .text; humility would refuse the dump"
            ));
        }
    }

    let memory = DumpMemory::new(&loads);
    let need = |problems: &mut Vec<String>, what: &str, address: u64, len: u64| {
        let got = memory.read(address, len);
        if got.is_none() {
            problems.push(format!(
                "{what} ({len} bytes at {address:#010x}) is not in the dump"
            ));
        }
        got
    };
    let (id_address, id_bytes) = &layout.image_id;
    if let Some(in_dump) = need(&mut problems, IMAGE_ID, *id_address, id_bytes.len() as u64)
        && &in_dump != id_bytes
    {
        problems.push(format!(
            "{IMAGE_ID} in the dump is {in_dump:02x?}, the kernel ELF's is {id_bytes:02x?}"
        ));
    }
    let table = need(
        &mut problems,
        TASK_TABLE,
        layout.task_table,
        layout.task_count * layout.task_size,
    );
    let current = need(&mut problems, CURRENT_TASK_PTR, layout.current_task_ptr, 4);
    let ticks = need(&mut problems, TICKS, layout.ticks, 8);
    let epitaph = layout.epitaph.and_then(|(failed, text, len)| {
        let failed = need(&mut problems, HAS_FAILED, failed, 1)?;
        let text = need(&mut problems, EPITAPH, text, len)?;
        (failed[0] == 1).then(|| {
            String::from_utf8_lossy(text.split(|&b| b == 0).next().unwrap_or(&[])).into_owned()
        })
    });
    if layout.task_count != files.tasks.len() as u64 {
        problems.push(format!(
            "the task table has {} entries but the archive has {} task ELFs",
            layout.task_count,
            files.tasks.len()
        ));
    }

    let mut current_task = String::new();
    if let Some(current) = current {
        let pointer = u64::from(u32::from_le_bytes(current.try_into().unwrap_or_default()));
        let offset = pointer.wrapping_sub(layout.task_table);
        if pointer == 0 {
            problems.push(format!(
                "{CURRENT_TASK_PTR} is 0: humility says the system has not booted"
            ));
        } else if pointer < layout.task_table
            || offset % layout.task_size != 0
            || offset / layout.task_size >= layout.task_count
        {
            problems.push(format!("{CURRENT_TASK_PTR} = {pointer:#010x} is not an entry of the task table at {:#010x}", layout.task_table));
        } else {
            let index = (offset / layout.task_size) as usize;
            current_task = files
                .tasks
                .get(index)
                .map_or_else(|| format!("#{index}"), |(n, _)| n.clone());
        }
    }

    let regions = layout.regions(&files.kernel).map_err(|e| vec![e])?;
    let mut tasks = Vec::new();
    if let Some(table) = &table {
        for (index, entry) in table.chunks(layout.task_size as usize).enumerate() {
            let name = files
                .tasks
                .get(index)
                .map_or_else(|| format!("#{index}"), |(n, _)| n.clone());
            match decode_task(
                &kernel.dies,
                &layout,
                &memory,
                &regions,
                index,
                &name,
                entry,
            ) {
                Ok(report) => tasks.push(report),
                Err(problem) => problems.push(problem),
            }
        }
    }
    let ring_buffers = ring_buffers(&files, &memory, &mut problems);
    if !registers.is_empty()
        && let Some(running) = tasks.iter().find(|t| t.name == current_task)
    {
        check_stack_pointers(
            &registers,
            running,
            layout.kernel_stack.as_ref(),
            &mut problems,
        );
    }

    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(DumpReport {
        image_id: id_bytes.iter().map(|b| format!("{b:02x}")).collect(),
        ticks: ticks.map_or(0, |t| u64::from_le_bytes(t.try_into().unwrap_or_default())),
        current_task,
        tasks,
        registers,
        kernel_epitaph: epitaph,
        ring_buffers,
    })
}

/// What humility's `tasks` shows of one task-table entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskStatus {
    /// `TaskState` variant: `Healthy` or `Faulted`.
    pub state: String,
    /// The `SchedState` variant when healthy, the `FaultInfo` variant when faulted.
    pub detail: String,
    pub generation: u32,
}

/// The state and generation of one task-table `entry` (`layout.task_size` bytes), decoded
/// through the kernel's DWARF `dies` as humility decodes them.
pub fn decode_task_status(
    dies: &Dies,
    layout: &KernelLayout,
    entry: &[u8],
) -> Result<TaskStatus, String> {
    let members = &layout.task;
    let state_bytes = entry
        .get(members.state as usize..)
        .ok_or("entry too short")?;
    let (state, payload) = dies
        .decode_variant(members.state_type, state_bytes)
        .ok_or("undecodable state")?;
    let payload = payload.ok_or("state variant without payload")?;
    let inner_member = if state == "Faulted" { "fault" } else { "__0" };
    let (inner_offset, inner_ty) = dies
        .member_at(payload, inner_member)
        .ok_or("state payload has no inner value")?;
    let (detail, _) = state_bytes
        .get(inner_offset as usize..)
        .and_then(|bytes| dies.decode_variant(inner_ty, bytes))
        .ok_or("undecodable state detail")?;
    let generation = read_uint(entry, members.generation, members.generation_size)
        .ok_or("no generation")? as u32;
    Ok(TaskStatus {
        state,
        detail,
        generation,
    })
}

/// A DWARF variable of the ELF `bytes` (named `object` in messages), found as humility
/// finds it (contract 2.1): its address and size, its type, and the object's DWARF to
/// decode it with.
pub fn find_variable(
    object: &str,
    bytes: &[u8],
    name: &str,
) -> Result<(u64, u64, DieId, Dies), String> {
    let info = ObjectInfo::parse(object, bytes)?;
    let (address, size, ty) = info
        .variable(name)
        .ok_or_else(|| format!("{object}: no variable `{name}` with an address"))?;
    let ty = info.dies.resolve_id(ty).unwrap_or(ty);
    Ok((address, size, ty, info.dies))
}

/// One task-table entry, decoded as humility would.
pub(super) fn decode_task(
    dies: &Dies,
    layout: &KernelLayout,
    memory: &DumpMemory<'_>,
    regions: &[(u32, u32, u32)],
    index: usize,
    name: &str,
    entry: &[u8],
) -> Result<TaskReport, String> {
    let members = &layout.task;
    let at = |what: &str| format!("task {index} ({name}): {what}");
    let TaskStatus {
        state,
        detail,
        generation,
    } = decode_task_status(dies, layout, entry).map_err(|what| at(&what))?;

    let descriptor = read_uint(entry, members.descriptor, 4).ok_or_else(|| at("no descriptor"))?;
    let Some(desc) = memory.read(descriptor, layout.task_desc_size) else {
        return Err(at(&format!(
            "its TaskDesc ({} bytes at {descriptor:#010x}) is not in the dump",
            layout.task_desc_size
        )));
    };
    let initial_stack = read_uint(&desc, layout.initial_stack, 4)
        .ok_or_else(|| at("TaskDesc has no initial_stack"))? as u32;
    let (stack_base, stack_size, stack_margin) =
        stack_margin(memory, regions, initial_stack).map_err(|e| at(&e))?;
    let saved_psp = read_uint(entry, members.psp, 4).ok_or_else(|| at("no saved psp"))? as u32;

    let panic_message = if state == "Faulted" && detail == "Panic" {
        let (r4, r5) = (
            read_uint(entry, members.r4, 4),
            read_uint(entry, members.r5, 4),
        );
        let (Some(pointer), Some(len)) = (r4, r5) else {
            return Err(at("no saved r4/r5"));
        };
        let bytes = memory.read(pointer, len.min(255)).ok_or_else(|| {
            at(&format!(
                "panic message ({len} bytes at {pointer:#010x}) is not in the dump"
            ))
        })?;
        Some(String::from_utf8_lossy(&bytes).into_owned())
    } else {
        None
    };
    Ok(TaskReport {
        index,
        name: name.to_owned(),
        state,
        detail,
        generation,
        panic_message,
        stack_base,
        stack_size,
        stack_margin,
        saved_psp,
    })
}

/// `humility stackmargin`'s reading of one stack: the stack is the region whose range
/// `(base, base + size]` holds `initial_stack`, from its base up to `initial_stack`; the
/// margin is the run of [`STACK_FILL`] words from the base up, stopping one word short of
/// the top. Returns (base, size, margin).
pub fn stack_margin(
    memory: &DumpMemory<'_>,
    regions: &[(u32, u32, u32)],
    initial_stack: u32,
) -> Result<(u32, u32, u32), String> {
    let &(base, _, _) = regions
        .iter()
        .find(|&&(base, size, _)| {
            base != 0
                && initial_stack > base
                && u64::from(initial_stack) <= u64::from(base) + u64::from(size)
        })
        .ok_or_else(|| format!("no region holds its initial stack {initial_stack:#010x}"))?;
    let size = initial_stack - base;
    let stack = memory
        .read(u64::from(base), u64::from(size))
        .ok_or_else(|| format!("its stack ({size} bytes at {base:#010x}) is not in the dump"))?;
    let untouched = stack
        .chunks_exact(4)
        .take((size as usize / 4).saturating_sub(1))
        .take_while(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) == STACK_FILL)
        .count();
    Ok((base, size, untouched as u32 * 4))
}

/// The registers note must let humility unwind the running task: PSP inside the running
/// task's stack and MSP inside the kernel's, whichever mode the core was halted in.
pub(super) fn check_stack_pointers(
    registers: &[(u32, u32)],
    running: &TaskReport,
    kernel_stack: Option<&std::ops::Range<u64>>,
    problems: &mut Vec<String>,
) {
    let get = |id: u32| registers.iter().find(|(i, _)| *i == id).map(|&(_, v)| v);
    match get(REG_PSP) {
        None => problems.push(format!("the registers note has no PSP (id {REG_PSP}): humility cannot unwind the running task {}", running.name)),
        Some(psp) if psp < running.stack_base || psp > running.stack_base + running.stack_size => problems.push(format!(
            "PSP {psp:#010x} is outside the running task {}'s stack {:#010x}..={:#010x}",
            running.name,
            running.stack_base,
            running.stack_base + running.stack_size
        )),
        Some(_) => {}
    }
    match (get(REG_MSP), kernel_stack) {
        (None, _) => problems.push(format!("the registers note has no MSP (id {REG_MSP})")),
        (Some(msp), Some(stack)) if !(stack.start..=stack.end).contains(&u64::from(msp)) => {
            problems.push(format!(
                "MSP {msp:#010x} is outside the kernel stack {:#010x}..={:#010x}",
                stack.start, stack.end
            ))
        }
        _ => {}
    }
}

/// Every ring buffer of every object must be in the dump; counts its used entries.
pub(super) fn ring_buffers(
    files: &ArchiveFiles,
    memory: &DumpMemory<'_>,
    problems: &mut Vec<String>,
) -> Vec<RingbufReport> {
    let mut out = Vec::new();
    for (name, bytes) in files.objects() {
        let Ok(object) = ObjectInfo::parse(&name, bytes) else {
            continue;
        };
        let dies = &object.dies;
        for var in &dies.variables {
            let Some(ty) = dies.resolve_id(var.ty) else {
                continue;
            };
            if !dies.name(ty).contains("Ringbuf") || dies.name(ty).starts_with("CountedRingbuf") {
                continue;
            }
            let symbol = var
                .linkage_name
                .as_deref()
                .and_then(|l| object.symbol(l))
                .filter(|s| s.size() > 0);
            let address = symbol.map(|s| s.address()).or(var.address);
            let (Some(address), Some(size)) = (address, dies.size(ty)) else {
                continue;
            };
            let Some(value) = memory.read(address, size) else {
                problems.push(format!(
                    "{name}: ring buffer {} ({size} bytes at {address:#010x}) is not in the dump",
                    var.qualified
                ));
                continue;
            };
            out.push(RingbufReport {
                object: name.clone(),
                variable: var.qualified.clone(),
                used_entries: used_entries(dies, ty, &value),
            });
        }
    }
    out
}

/// Entries of a (possibly `StaticCell`-wrapped) ring buffer with a non-zero generation.
pub(super) fn used_entries(dies: &Dies, ty: DieId, value: &[u8]) -> usize {
    let mut base = 0;
    let mut ring = ty;
    for wrapper in ["cell", "value"] {
        if let Some((offset, inner)) = dies.member_at(ring, wrapper) {
            base += offset;
            ring = inner;
        }
    }
    let Some((buffer_offset, buffer)) = dies.member_at(ring, "buffer") else {
        return 0;
    };
    let Some(entry) = dies.get(buffer).and_then(|d| d.ty) else {
        return 0;
    };
    let (Some(entry_size), Some(buffer_size)) = (dies.size(entry), dies.size(buffer)) else {
        return 0;
    };
    let Some((generation, _)) = dies.member_at(entry, "generation") else {
        return 0;
    };
    if entry_size == 0 {
        return 0;
    }
    (0..buffer_size / entry_size)
        .filter(|i| {
            read_uint(value, base + buffer_offset + i * entry_size + generation, 2)
                .is_some_and(|g| g != 0)
        })
        .count()
}
