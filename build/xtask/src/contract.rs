//! The humility contract (`doc/humility-contract.md`), checked mechanically against built ELFs
//! and against dumps, so a change that would break humility fails a test instead of a
//! debugging session.
//!
//! - [`check_kernel_elf`] and [`check_objects`]: the kernel's symbols and DWARF variables
//!   (contract 3.1), the shapes of `Task`, `SavedState`, `TaskDesc` and `RegionDesc` (3.2,
//!   3.5, 3.6), the variant names of the state enums (3.3), unique struct names across all
//!   objects (2.2), and the ring buffers and counters of every object (4, through
//!   `dwarf-check`). ELF-level rules (`.text`, `.debug_frame`, function placement, distinct
//!   `.text` addresses, 1.7) are `archive::check_archive`'s; [`check_archive_file`] runs both.
//! - [`check_dump`]: a dump (contract 5) against the archive it claims to hold: notes,
//!   segments, the memory humility reads, and each task's state decoded from the dump
//!   through the kernel's DWARF, returned as a [`DumpReport`].
//!
//! `cargo xtask check-archive FILE` (a build archive, or a bare kernel ELF) and `cargo xtask
//! check-dump DUMP ZIP` run these from the command line and from the integration tests;
//! `check-dump` prints the report as JSON.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;
use std::path::Path;

use dwarf_check::dies::{DieId, Dies, StructShape, Variant, read_uint};
use gimli::constants as dw;
use object::elf::{PT_LOAD, PT_NOTE, SHF_ALLOC, SHF_WRITE, SHT_PROGBITS};
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader, SectionHeader};
use object::{LittleEndian as LE, Object, ObjectSection, ObjectSymbol};
use serde::Serialize;

use crate::Error;

/// The note name of humility's dump notes, NUL included (`namesz` 23).
pub const NOTE_NAME: &[u8] = b"Oxide Computer Company\0";
pub const NT_HUBRIS_ARCHIVE: u32 = 0x1de0_0001;
pub const NT_HUBRIS_REGISTERS: u32 = 0x1de0_0002;
pub const NT_HUBRIS_TASK: u32 = 0x1de0_0003;
/// Register ids in a registers note (ARMv7-M DCRSR REGSEL).
pub const REG_PC: u32 = 15;
pub const REG_MSP: u32 = 17;
pub const REG_PSP: u32 = 18;
/// The word `humility stackmargin` takes for never-used stack; task `_start` paints it.
pub const STACK_FILL: u32 = 0xbadd_cafe;

/// Kernel symbols humility reads, and the one it must not find.
const TASK_TABLE: &str = "HUBRIS_TASK_TABLE_SPACE";
const CURRENT_TASK_PTR: &str = "CURRENT_TASK_PTR";
const TICKS: &str = "TICKS";
const IMAGE_ID: &str = crate::elfimage::IMAGE_ID_SYMBOL;
const TASK_DESCS: &str = "HUBRIS_TASK_DESCS";
const REGION_DESCS: &str = "HUBRIS_REGION_DESCS";
const HAS_FAILED: &str = "KERNEL_HAS_FAILED";
const EPITAPH: &str = "KERNEL_EPITAPH";
const LEGACY_TABLE: [&str; 2] = ["TASK_TABLE_BASE", "TASK_TABLE_SIZE"];
/// Structs humility looks up by name: each must exist once (up to identical copies).
const NAMED_STRUCTS: [&str; 4] = ["Task", "SavedState", "TaskDesc", "RegionDesc"];

/// The variant names and shapes humility knows (contract 3.3).
#[derive(Copy, Clone)]
enum Shape {
    Unit,
    Tuple(usize),
    Fields(&'static [&'static str]),
}

type KnownVariants = &'static [(&'static str, Shape)];

const TASK_STATE: KnownVariants = &[
    ("Healthy", Shape::Tuple(1)),
    ("Faulted", Shape::Fields(&["fault", "original_state"])),
];
const SCHED_STATE: KnownVariants = &[
    ("Stopped", Shape::Unit),
    ("Runnable", Shape::Unit),
    ("InSend", Shape::Tuple(1)),
    ("InReply", Shape::Tuple(1)),
    ("InRecv", Shape::Tuple(1)),
];
const FAULT_INFO: KnownVariants = &[
    ("MemoryAccess", Shape::Fields(&["address", "source"])),
    ("StackOverflow", Shape::Fields(&["address"])),
    ("BusError", Shape::Fields(&["address", "source"])),
    ("DivideByZero", Shape::Unit),
    ("IllegalText", Shape::Unit),
    ("IllegalInstruction", Shape::Unit),
    ("InvalidOperation", Shape::Tuple(1)),
    ("SyscallUsage", Shape::Tuple(1)),
    ("Panic", Shape::Unit),
    ("Injected", Shape::Tuple(1)),
    ("FromServer", Shape::Tuple(2)),
];
const USAGE_ERROR: KnownVariants = &[
    ("BadSyscallNumber", Shape::Unit),
    ("InvalidSlice", Shape::Unit),
    ("TaskOutOfRange", Shape::Unit),
    ("IllegalTask", Shape::Unit),
    ("LeaseOutOfRange", Shape::Unit),
    ("OffsetOutOfRange", Shape::Unit),
    ("NoIrq", Shape::Unit),
    ("BadKernelMessage", Shape::Unit),
];
const FAULT_SOURCE: KnownVariants = &[("User", Shape::Unit), ("Kernel", Shape::Unit)];
const REPLY_FAULT_REASON: KnownVariants = &[
    ("UndefinedOperation", Shape::Unit),
    ("BadMessageSize", Shape::Unit),
    ("BadMessageContents", Shape::Unit),
    ("BadLeases", Shape::Unit),
    ("ReplyBufferTooSmall", Shape::Unit),
    ("AccessViolation", Shape::Unit),
];

// ---------------------------------------------------------------------------------------
// The archive's files.

/// The files of a build archive that the checks and the dumper read.
pub struct ArchiveFiles {
    pub kernel: Vec<u8>,
    /// `(name, ELF)` in zip (= task index) order.
    pub tasks: Vec<(String, Vec<u8>)>,
    pub final_elf: Vec<u8>,
    pub final_bin: Vec<u8>,
}

impl ArchiveFiles {
    pub fn parse(zip_bytes: &[u8]) -> Result<ArchiveFiles, String> {
        let mut zip = zip::ZipArchive::new(Cursor::new(zip_bytes))
            .map_err(|e| format!("not a zip archive: {e}"))?;
        let (mut kernel, mut final_elf, mut final_bin, mut tasks) = (None, None, None, Vec::new());
        for (name, data) in crate::archive::read_entries(&mut zip)? {
            let parts: Vec<&str> = name.split('/').collect();
            match name.as_str() {
                "elf/kernel" => kernel = Some(data),
                "img/final.elf" => final_elf = Some(data),
                "img/final.bin" => final_bin = Some(data),
                // humility's rule: any entry whose parent directory is `task`.
                _ if parts.len() >= 2 && parts[parts.len() - 2] == "task" => {
                    tasks.push((parts[parts.len() - 1].to_owned(), data));
                }
                _ => {}
            }
        }
        let need =
            |entry: Option<Vec<u8>>, name: &str| entry.ok_or_else(|| format!("{name}: missing"));
        Ok(ArchiveFiles {
            kernel: need(kernel, "elf/kernel")?,
            tasks,
            final_elf: need(final_elf, "img/final.elf")?,
            final_bin: need(final_bin, "img/final.bin")?,
        })
    }

    /// `("elf/kernel", kernel)` then `("elf/task/<name>", task)` for every task.
    pub fn objects(&self) -> Vec<(String, &[u8])> {
        std::iter::once(("elf/kernel".to_owned(), self.kernel.as_slice()))
            .chain(
                self.tasks
                    .iter()
                    .map(|(n, d)| (format!("elf/task/{n}"), d.as_slice())),
            )
            .collect()
    }

    /// The address of `final.bin`'s first byte: `final.elf`'s loaded segment.
    pub fn flash_base(&self) -> Result<u32, String> {
        let file = ElfFile32::<LE>::parse(self.final_elf.as_slice())
            .map_err(|e| format!("img/final.elf: {e}"))?;
        file.elf_program_headers()
            .iter()
            .filter(|ph| ph.p_type(LE) == PT_LOAD && ph.p_filesz(LE) > 0)
            .map(|ph| ph.p_vaddr(LE))
            .min()
            .ok_or_else(|| "img/final.elf: no loaded segment".to_owned())
    }
}

// ---------------------------------------------------------------------------------------
// One object: its ELF and its DWARF.

struct ObjectInfo<'a> {
    name: String,
    file: ElfFile32<'a, LE>,
    dies: Dies,
}

impl<'a> ObjectInfo<'a> {
    fn parse(name: &str, bytes: &'a [u8]) -> Result<ObjectInfo<'a>, String> {
        let file = ElfFile32::<LE>::parse(bytes)
            .map_err(|e| format!("{name}: not a little-endian ELF32 file: {e}"))?;
        let dies = Dies::load(bytes).map_err(|e| format!("{name}: {e}"))?;
        Ok(ObjectInfo {
            name: name.to_owned(),
            file,
            dies,
        })
    }

    fn symbol(&self, name: &str) -> Option<object::read::elf::ElfSymbol32<'a, '_, LE>> {
        self.file.symbols().find(|s| s.name() == Ok(name))
    }

    /// The section flags of the section holding `address`.
    fn section_at(&self, address: u64) -> Option<object::read::elf::ElfSection32<'a, '_, LE>> {
        self.file
            .sections()
            .filter(|s| s.elf_section_header().sh_flags(LE) & SHF_ALLOC != 0)
            .find(|s| address >= s.address() && address < s.address() + s.size().max(1))
    }

    /// Whether `address` lies in flash: an allocated, read-only section with file contents.
    fn in_flash(&self, address: u64) -> bool {
        self.section_at(address).is_some_and(|s| {
            let h = s.elf_section_header();
            h.sh_flags(LE) & SHF_WRITE == 0 && h.sh_type(LE) == SHT_PROGBITS
        })
    }

    /// `.text`'s address range.
    fn text(&self) -> Option<std::ops::Range<u64>> {
        self.file
            .section_by_name(".text")
            .map(|s| s.address()..s.address() + s.size())
    }

    /// The bytes of `address..address + len` in the file, if a section holds them.
    fn file_bytes(&self, address: u64, len: u64) -> Option<&'a [u8]> {
        let section = self.section_at(address)?;
        let data = section.data().ok()?;
        let start = usize::try_from(address - section.address()).ok()?;
        data.get(start..start + usize::try_from(len).ok()?)
    }

    /// A DWARF variable's address and size (contract 2.1): the ELF symbol named by its
    /// linkage name (or plain name), else its location and its type's size.
    fn variable(&self, name: &str) -> Option<(u64, u64, DieId)> {
        let var = self.dies.variable(name)?;
        let symbol_name = var.linkage_name.as_deref().unwrap_or(&var.name);
        if let Some(sym) = self.symbol(symbol_name).filter(|s| s.size() > 0) {
            return Some((sym.address(), sym.size(), var.ty));
        }
        Some((var.address?, self.dies.size(var.ty)?, var.ty))
    }
}

// ---------------------------------------------------------------------------------------
// The kernel's layout, as humility derives it.

/// Where the kernel keeps what humility reads, and the shapes it reads it with.
pub struct KernelLayout {
    pub task_table: u64,
    pub task_count: u64,
    pub task_size: u64,
    pub current_task_ptr: u64,
    pub ticks: u64,
    pub image_id: (u64, Vec<u8>),
    /// `KERNEL_HAS_FAILED` address, `KERNEL_EPITAPH` address and size.
    pub epitaph: Option<(u64, u64, u64)>,
    pub task_descs: u64,
    pub task_desc_size: u64,
    pub region_descs: u64,
    pub region_count: u64,
    pub region: RegionLayout,
    /// Offset of `initial_stack` in `TaskDesc`.
    initial_stack: u64,
    /// The kernel's main stack, `_stack_base.._stack_start`, when the symbols exist.
    pub kernel_stack: Option<std::ops::Range<u64>>,
    task: TaskMembers,
}

/// `RegionDesc` member offsets and its size.
#[derive(Copy, Clone, Debug)]
pub struct RegionLayout {
    pub size: u64,
    pub base: u64,
    pub length: u64,
    pub attributes: u64,
}

#[derive(Copy, Clone, Debug)]
struct TaskMembers {
    r4: u64,
    r5: u64,
    psp: u64,
    state: u64,
    state_type: DieId,
    generation: u64,
    generation_size: u64,
    descriptor: u64,
}

/// A region's attribute bits as humility reads them (contract 3.6).
pub const REGION_WRITE: u32 = 1 << 1;
pub const REGION_DEVICE: u32 = 1 << 3;

impl KernelLayout {
    /// Where the task-table entry at `task` keeps its saved PSP.
    pub fn saved_psp_at(&self, task: u64) -> u64 {
        task + self.task.psp
    }

    /// Reads the `HUBRIS_REGION_DESCS` table from the kernel ELF: (base, size, attributes).
    pub fn regions(&self, kernel: &[u8]) -> Result<Vec<(u32, u32, u32)>, String> {
        let object = ObjectInfo::parse("elf/kernel", kernel)?;
        let table = object
            .file_bytes(self.region_descs, self.region_count * self.region.size)
            .ok_or_else(|| format!("elf/kernel: `{REGION_DESCS}` has no file bytes"))?;
        let word = |entry: &[u8], at: u64| read_uint(entry, at, 4).map(|v| v as u32);
        table
            .chunks(self.region.size as usize)
            .map(|e| {
                Some((
                    word(e, self.region.base)?,
                    word(e, self.region.length)?,
                    word(e, self.region.attributes)?,
                ))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("elf/kernel: `{REGION_DESCS}` is truncated"))
    }
}

/// Problems collected for one object.
struct Problems<'p> {
    object: String,
    out: &'p mut Vec<String>,
}

impl Problems<'_> {
    fn push(&mut self, problem: impl std::fmt::Display) {
        self.out.push(format!("{}: {problem}", self.object));
    }
}

/// Finds the kernel layout, recording every contract violation on the way.
fn kernel_layout(kernel: &ObjectInfo<'_>, problems: &mut Vec<String>) -> Option<KernelLayout> {
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
fn structure(dies: &Dies, name: &str, p: &mut Problems<'_>) -> Option<DieId> {
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

fn task_members(dies: &Dies, task: DieId, p: &mut Problems<'_>) -> Option<TaskMembers> {
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

fn region_layout(dies: &Dies, region: DieId, p: &mut Problems<'_>) -> Option<RegionLayout> {
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
fn check_task_desc_regions(
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
fn check_state_enums(dies: &Dies, task_state: DieId, p: &mut Problems<'_>) {
    let mut seen = HashSet::new();
    check_enum(dies, task_state, "TaskState", TASK_STATE, p, &mut seen);
}

fn check_enum(
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
fn check_no_char(dies: &Dies, ty: DieId, path: &str, p: &mut Problems<'_>) {
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

// ---------------------------------------------------------------------------------------
// Whole-image checks.

/// Checks the kernel ELF alone: its symbols, variables and types (contract 3, 7.6-7.12).
pub fn check_kernel_elf(bytes: &[u8]) -> Result<(), Vec<String>> {
    check_objects(bytes, &[]).map(|_| ())
}

/// Checks the kernel and every task: the kernel contract, struct names unique across all
/// objects (contract 2.2), and every object's ring buffers and counters (4). Returns the
/// kernel layout.
pub fn check_objects(
    kernel: &[u8],
    tasks: &[(String, Vec<u8>)],
) -> Result<KernelLayout, Vec<String>> {
    let mut problems = Vec::new();
    let mut objects = Vec::new();
    for (name, bytes) in std::iter::once(("elf/kernel".to_owned(), kernel)).chain(
        tasks
            .iter()
            .map(|(n, b)| (format!("elf/task/{n}"), b.as_slice())),
    ) {
        match ObjectInfo::parse(&name, bytes) {
            Ok(object) => objects.push(object),
            Err(e) => problems.push(e),
        }
        if let Err(violations) = dwarf_check::check_elf(bytes) {
            problems.extend(violations.lines().map(|v| format!("{name}: {v}")));
        }
    }
    let layout = objects
        .first()
        .filter(|o| o.name == "elf/kernel")
        .and_then(|k| kernel_layout(k, &mut problems));
    check_unique_structs(&objects, &mut problems);
    match layout {
        Some(layout) if problems.is_empty() => Ok(layout),
        _ => Err(problems),
    }
}

/// Each named struct exists once across all objects, up to identical copies, and no enum
/// variant anywhere shares its name (contract 2.2).
fn check_unique_structs(objects: &[ObjectInfo<'_>], problems: &mut Vec<String>) {
    for name in NAMED_STRUCTS {
        let mut shapes: Vec<(String, StructShape)> = Vec::new();
        for object in objects {
            let payloads = object.dies.variant_payloads();
            for (id, shape) in object.dies.structs_named(name) {
                if payloads.contains(&id) {
                    problems.push(format!(
                        "{}: an enum variant is named `{name}`; humility would take it for the `{name}` struct",
                        object.name
                    ));
                } else if !shapes.iter().any(|(_, s)| *s == shape) {
                    shapes.push((object.name.clone(), shape));
                }
            }
        }
        if shapes.len() > 1 {
            let owners: Vec<&str> = shapes.iter().map(|(o, _)| o.as_str()).collect();
            problems.push(format!(
                "{} different structs are named `{name}` (in {}); humility needs exactly one",
                shapes.len(),
                owners.join(", ")
            ));
        }
    }
}

/// `archive::check_archive` plus [`check_objects`] for the archive at `path`.
pub fn check_archive_file(path: &Path) -> Result<(), Vec<String>> {
    let mut problems = crate::archive::check_archive(path)
        .err()
        .unwrap_or_default();
    let bytes = std::fs::read(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
    match ArchiveFiles::parse(&bytes) {
        Ok(files) => {
            if let Err(p) = check_objects(&files.kernel, &files.tasks) {
                problems.extend(p);
            }
        }
        Err(e) => problems.push(e),
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

// ---------------------------------------------------------------------------------------
// Dumps.

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

fn parse_notes<'a>(mut data: &'a [u8], notes: &mut Vec<Note<'a>>, problems: &mut Vec<String>) {
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
fn decode_task(
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
fn check_stack_pointers(
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
fn ring_buffers(
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
fn used_entries(dies: &Dies, ty: DieId, value: &[u8]) -> usize {
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

// ---------------------------------------------------------------------------------------
// Command line.

/// `check-archive ZIP` and `check-dump DUMP ZIP`.
pub fn command(which: &str, args: &[String]) -> Result<(), Error> {
    let read = |p: &String| std::fs::read(p).map_err(|e| Error::io(Path::new(p), e));
    let fail = |problems: Vec<String>| {
        Error::new(format!(
            "{} contract problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        ))
    };
    match (which, args) {
        ("check-archive", [file]) => {
            if read(file)?.starts_with(b"\x7fELF") {
                check_kernel_elf(&read(file)?).map_err(fail)?;
            } else {
                check_archive_file(Path::new(file)).map_err(fail)?;
            }
            println!("{file}: meets the humility contract");
            Ok(())
        }
        ("check-dump", [dump, zip]) => {
            let report = check_dump(&read(dump)?, &read(zip)?).map_err(fail)?;
            let json =
                serde_json::to_string_pretty(&report).map_err(|e| Error::new(e.to_string()))?;
            println!("{json}");
            Ok(())
        }
        _ => Err(Error::new(format!(
            "usage: cargo xtask check-archive ZIP|KERNEL-ELF | check-dump DUMP ZIP (got {which} {})",
            args.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use dwarf_check::dies::location_address;

    use super::*;

    /// A stack of `words` (0 = used, 1 = fill) at 0x2000_0000 in a 0x100-byte region.
    fn margin_of(words: &[u32]) -> Result<(u32, u32, u32), String> {
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|&w| if w == 1 { STACK_FILL } else { 0 }.to_le_bytes())
            .collect();
        let loads = [(0x2000_0000u64, bytes.as_slice())];
        let initial = 0x2000_0000 + bytes.len() as u32;
        stack_margin(
            &DumpMemory::new(&loads),
            &[(0x1000_0000, 0x100, 0), (0x2000_0000, 0x100, 3)],
            initial,
        )
    }

    #[test]
    fn stack_margin_counts_fill_words_from_the_base_as_humility_does() {
        assert_eq!(margin_of(&[1, 1, 0, 1]), Ok((0x2000_0000, 16, 8)));
        assert_eq!(
            margin_of(&[0, 1, 1, 1]),
            Ok((0x2000_0000, 16, 0)),
            "a used bottom word: no margin"
        );
        // humility stops one word short of the top, so an untouched stack shows size - 4.
        assert_eq!(margin_of(&[1, 1, 1, 1]), Ok((0x2000_0000, 16, 12)));
    }

    #[test]
    fn stack_margin_needs_a_region_above_whose_base_the_stack_starts() {
        let bytes = [0u8; 8];
        let loads = [(0x2000_0000u64, &bytes[..])];
        let memory = DumpMemory::new(&loads);
        // The initial stack at a region's very top belongs to it; at its base, to none.
        assert_eq!(
            stack_margin(&memory, &[(0x2000_0000, 8, 3)], 0x2000_0008),
            Ok((0x2000_0000, 8, 0))
        );
        assert_eq!(
            stack_margin(&memory, &[(0x2000_0000, 8, 3)], 0x2000_0000),
            Err("no region holds its initial stack 0x20000000".to_string())
        );
        assert_eq!(
            stack_margin(&memory, &[(0x2000_0000, 0x100, 3)], 0x2000_0010),
            Err("its stack (16 bytes at 0x20000000) is not in the dump".to_string())
        );
    }

    #[test]
    fn location_pieces_must_be_contiguous() {
        assert_eq!(
            location_address(&[0x03, 0x00, 0x08, 0x00, 0x20]),
            Some(0x2000_0800)
        );
        let split = [
            0x03, 0xd0, 0x0b, 0, 0x20, 0x93, 4, 0x03, 0xd4, 0x0b, 0, 0x20, 0x93, 4,
        ];
        assert_eq!(location_address(&split), Some(0x2000_0bd0));
        let apart = [
            0x03, 0xd0, 0x0b, 0, 0x20, 0x93, 4, 0x03, 0x00, 0x0c, 0, 0x20, 0x93, 4,
        ];
        assert_eq!(location_address(&apart), None);
        assert_eq!(location_address(&[0x91, 0x00]), None);
    }

    #[test]
    fn dump_memory_reads_across_adjacent_segments_only() {
        let (a, b, c) = ([1u8, 2, 3, 4], [5u8, 6], [9u8; 4]);
        let memory = DumpMemory::new(&[(0x100, &a[..]), (0x104, &b[..]), (0x200, &c[..])]);
        assert_eq!(memory.read(0x102, 4), Some(vec![3, 4, 5, 6]));
        assert_eq!(memory.read(0x105, 2), None);
        assert_eq!(memory.read(0x1fe, 4), None);
        assert_eq!(memory.read(0x200, 4), Some(vec![9; 4]));
    }

    #[test]
    fn uints_read_little_endian_within_bounds() {
        assert_eq!(read_uint(&[1, 2, 3], 1, 2), Some(0x0302));
        assert_eq!(read_uint(&[1, 2, 3], 2, 2), None);
    }
}
