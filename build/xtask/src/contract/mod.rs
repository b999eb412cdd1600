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
//! The kernel's DWARF layout and type checks live in `layout`, the whole-image checks in
//! `archive`, the dump checks in `dump`.
//!
//! `cargo xtask check-archive FILE` (a build archive, or a bare kernel ELF) and `cargo xtask
//! check-dump DUMP ZIP` run these from the command line and from the integration tests;
//! `check-dump` prints the report as JSON.

use std::io::Cursor;
use std::path::Path;

use dwarf_check::dies::{DieId, Dies, read_uint};
use object::elf::{PT_LOAD, SHF_ALLOC, SHF_WRITE, SHT_PROGBITS};
use object::read::elf::{ElfFile32, ProgramHeader, SectionHeader};
use object::{LittleEndian as LE, Object, ObjectSection, ObjectSymbol};

use crate::Error;

mod archive;
mod dump;
mod layout;

pub use archive::*;
pub use dump::*;
use layout::*;

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
