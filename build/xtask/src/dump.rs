//! `cargo xtask dump [APP] [--out FILE] [--port N] [--halt]`: halt a QEMU guest through its
//! GDB stub and write a humility dump of it (`doc/humility-contract.md` 5), so `humility -d
//! FILE tasks` and friends work on an emulated system.
//!
//! The archive is `target/dist/<app>/build-<app>.zip` as `cargo xtask dist` left it; it is
//! not rebuilt, because the dump must hold the archive of the image that is running. The
//! image id read from the guest must match the archive's, or no dump is written.
//!
//! What is read (ranges merged, so the `PT_LOAD` segments never overlap):
//! - flash: the whole image, `final.bin`'s length at `final.elf`'s load address;
//! - RAM: every allocated kernel and task section outside flash (`.stack`, `.data`,
//!   `.bss`), and every writable, non-device region of `HUBRIS_REGION_DESCS` (whole task
//!   RAM regions, stacks included). Device regions are never read: reads can have effects.
//!
//! Registers: r0-r12, sp, lr, pc and xpsr (ids 0-16) from `g`. QEMU 7.2 describes no
//! M-profile system registers to GDB, so MSP, PSP and the packed PRIMASK/BASEPRI/FAULTMASK/
//! CONTROL word (ids 17, 18, 20) are read from the stub when it describes them (QEMU 8 and
//! later have `org.gnu.gdb.arm.m-system`). Without them, MSP and PSP are still both written,
//! so `humility tasks -s` can unwind the task that was running: the stub's `sp` is one of
//! them and the image fixes the other (see `stack_pointers`); the packed CONTROL word is
//! then left out. PC is left out unless it lies in some object's `.text`.
//!
//! QEMU is left running: the guest runs again after the dump (`D` detaches and resumes),
//! unless `--halt` asks to leave it stopped for a debugger. A guest from `cargo xtask run
//! --gdb` boots at once (it does not wait for a debugger), so every dump catches it running.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use object::elf::{EM_ARM, ET_CORE, PT_LOAD, PT_NOTE, SHF_ALLOC};
use object::read::elf::{ElfFile32, SectionHeader};
use object::{LittleEndian as LE, Object, ObjectSection};

use crate::contract::{
    self, ArchiveFiles, NOTE_NAME, NT_HUBRIS_ARCHIVE, NT_HUBRIS_REGISTERS, REG_MSP, REG_PC, REG_PSP,
};
use crate::elfimage::{EHDR_SIZE, ElfHeader, PHDR_SIZE, Phdr, write_ehdr, write_phdr};
use crate::gdb::Gdb;
use crate::{Error, cargo, dist};

pub const DEFAULT_PORT: u16 = crate::qemu::GDB_PORT;

/// Register ids of the registers note (ARMv7-M DCRSR REGSEL) for the GDB names.
const CORE_REGISTERS: [(&str, u32); 17] = [
    ("r0", 0),
    ("r1", 1),
    ("r2", 2),
    ("r3", 3),
    ("r4", 4),
    ("r5", 5),
    ("r6", 6),
    ("r7", 7),
    ("r8", 8),
    ("r9", 9),
    ("r10", 10),
    ("r11", 11),
    ("r12", 12),
    ("sp", 13),
    ("lr", 14),
    ("pc", 15),
    ("xpsr", 16),
];
const REG_SP: u32 = 13;
const REG_XPSR: u32 = 16;
/// CONTROL[31:24] | FAULTMASK[23:16] | BASEPRI[15:8] | PRIMASK[7:0].
const REG_SPR: u32 = 20;
const SPR_PARTS: [&str; 4] = ["control", "faultmask", "basepri", "primask"];

struct Options {
    app: String,
    out: Option<PathBuf>,
    port: u16,
    halt: bool,
}

fn parse_options(args: &[String]) -> Result<Options, Error> {
    let mut options = Options {
        app: crate::DEFAULT_APP.into(),
        out: None,
        port: DEFAULT_PORT,
        halt: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| Error::new(format!("dump: {flag} needs a value")))
        };
        match arg.as_str() {
            "--out" => options.out = Some(PathBuf::from(value("--out")?)),
            "--port" => {
                let port = value("--port")?;
                options.port = port
                    .parse()
                    .map_err(|_| Error::new(format!("dump: --port {port}: not a port number")))?;
            }
            "--halt" => options.halt = true,
            flag if flag.starts_with("--") => {
                return Err(Error::new(format!("dump: unknown option {flag}")));
            }
            app => options.app = app.to_owned(),
        }
    }
    Ok(options)
}

pub fn command(args: &[String]) -> Result<(), Error> {
    let options = parse_options(args)?;
    let app_toml = dist::app_toml_path(&options.app)?;
    let text = std::fs::read_to_string(&app_toml).map_err(|e| Error::io(&app_toml, e))?;
    let name = text
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("name")?.as_str().map(str::to_owned))
        .ok_or_else(|| Error::new(format!("{}: no `name`", app_toml.display())))?;
    let dir = cargo::target_dir().join("dist").join(&name);
    let archive_path = dir.join(format!("build-{name}.zip"));
    let archive = std::fs::read(&archive_path).map_err(|e| {
        Error::new(format!(
            "{}: {e} (run `cargo xtask dist {}` first)",
            archive_path.display(),
            options.app
        ))
    })?;

    let address = format!("localhost:{}", options.port);
    let mut gdb =
        Gdb::connect(&address, Duration::from_secs(5)).map_err(|e| Error::new(e.to_string()))?;
    let dump = take(&mut gdb, &archive, options.halt)?;
    let out = match options.out {
        Some(out) => out,
        None => next_free(&dir)?,
    };
    std::fs::write(&out, &dump.core).map_err(|e| Error::io(&out, e))?;
    println!("{}", out.display());
    eprintln!(
        "dumped {} bytes of memory in {} segments and {} registers from {address}{}",
        dump.memory_bytes,
        dump.segments,
        dump.registers,
        if options.halt {
            "; the guest stays halted"
        } else {
            ""
        }
    );
    Ok(())
}

/// `hubris.core.N` in `dir` for the first N not taken, as humility names its dumps.
fn next_free(dir: &Path) -> Result<PathBuf, Error> {
    (0..10_000)
        .map(|n| dir.join(format!("hubris.core.{n}")))
        .find(|p| !p.exists())
        .ok_or_else(|| Error::new(format!("{}: no free hubris.core.N name", dir.display())))
}

/// A finished dump and what went into it.
pub struct Dump {
    pub core: Vec<u8>,
    pub memory_bytes: usize,
    pub segments: usize,
    pub registers: usize,
}

/// Halts the guest behind `gdb`, reads it and builds the dump; then lets the guest run
/// again unless `stay_halted`. QEMU's physical-memory mode is switched back off on every
/// path, because it outlives this connection.
pub fn take(gdb: &mut Gdb, archive: &[u8], stay_halted: bool) -> Result<Dump, Error> {
    let files = ArchiveFiles::parse(archive).map_err(|e| Error::new(format!("archive: {e}")))?;
    let ranges = memory_plan(&files)?;
    let gdb_error = |e: crate::gdb::GdbError| Error::new(e.to_string());

    gdb.halt().map_err(gdb_error)?;
    let physical = gdb.physical_memory(true).map_err(gdb_error)?;
    let read = read_target(gdb, &files, &ranges);
    let restored = if physical {
        gdb.physical_memory(false).map(|_| ())
    } else {
        Ok(())
    };
    let (segments, registers) = read?;
    restored.map_err(gdb_error)?;
    if !stay_halted {
        gdb.detach().map_err(gdb_error)?;
    }

    let memory_bytes = segments.iter().map(|(_, b)| b.len()).sum();
    let core = write_core(archive, &registers, &segments);
    Ok(Dump {
        core,
        memory_bytes,
        segments: segments.len(),
        registers: registers.len(),
    })
}

type Segments = Vec<(u32, Vec<u8>)>;

fn read_target(
    gdb: &mut Gdb,
    files: &ArchiveFiles,
    ranges: &[Range<u32>],
) -> Result<(Segments, Vec<(u32, u32)>), Error> {
    let gdb_error = |e: crate::gdb::GdbError| Error::new(e.to_string());
    let mut segments = Vec::new();
    for range in ranges {
        let bytes = gdb
            .read_memory(range.start, (range.end - range.start) as usize)
            .map_err(|e| {
                Error::new(format!(
                    "reading {:#010x}..{:#010x}: {e}",
                    range.start, range.end
                ))
            })?;
        segments.push((range.start, bytes));
    }
    check_image_id(files, &segments)?;

    let mut names: Vec<&str> = CORE_REGISTERS.iter().map(|(n, _)| *n).collect();
    names.extend(["msp", "psp"]);
    names.extend(SPR_PARTS);
    let values = gdb.registers(&names).map_err(gdb_error)?;
    let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let mut registers: Vec<(u32, u32)> = CORE_REGISTERS
        .iter()
        .filter_map(|&(name, id)| Some((id, value(name)?)))
        .collect();
    match (value("msp"), value("psp")) {
        (Some(msp), Some(psp)) => registers.extend([(REG_MSP, msp), (REG_PSP, psp)]),
        _ => registers.extend(stack_pointers(files, &registers, &segments)),
    }
    if let [Some(control), Some(faultmask), Some(basepri), Some(primask)] = SPR_PARTS.map(value) {
        let byte = |v: u32| v & 0xff;
        registers.push((
            REG_SPR,
            byte(control) << 24 | byte(faultmask) << 16 | byte(basepri) << 8 | byte(primask),
        ));
    }
    let texts = texts(files);
    registers.retain(|&(id, v)| id != REG_PC || texts.iter().any(|t| t.contains(&(v & !1))));
    Ok((segments, registers))
}

/// MSP and PSP when the stub does not describe them (QEMU 7.2), from what the image fixes:
/// - thread mode on a task stack: the stub's `sp` is PSP, and MSP is the top of the kernel
///   stack (`_stack_start`), where the first-task SVC left it and where every exception
///   from a task returns it;
/// - handler mode: `sp` is MSP, and PSP is the running task's (`CURRENT_TASK_PTR`) saved
///   PSP: exact after SVC, PendSV and fault entries, which save it; an interrupt that
///   switches no task leaves it as of the task's last kernel entry;
/// - thread mode on the kernel stack (start-up, before any task runs): `sp` is MSP and no
///   task stack is in use, so PSP is left out.
fn stack_pointers(
    files: &ArchiveFiles,
    registers: &[(u32, u32)],
    segments: &Segments,
) -> Vec<(u32, u32)> {
    let get = |id| registers.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    let (Some(sp), Some(xpsr)) = (get(REG_SP), get(REG_XPSR)) else {
        return Vec::new();
    };
    let Ok(layout) = contract::check_objects(&files.kernel, &files.tasks) else {
        return Vec::new();
    };
    let loads: Vec<(u64, &[u8])> = segments
        .iter()
        .map(|(a, b)| (u64::from(*a), b.as_slice()))
        .collect();
    let memory = contract::DumpMemory::new(&loads);
    let word = |address: u64| {
        memory
            .read(address, 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let saved_psp = || {
        word(layout.current_task_ptr)
            .filter(|&task| task != 0)
            .and_then(|task| word(layout.saved_psp_at(u64::from(task))))
    };
    let (msp, psp) = msp_and_psp(sp, xpsr, layout.kernel_stack.as_ref(), saved_psp);
    [(REG_MSP, msp), (REG_PSP, psp)]
        .into_iter()
        .filter_map(|(id, v)| Some((id, v?)))
        .collect()
}

/// The rules of [`stack_pointers`], given the stub's `sp` and `xpsr`, the kernel stack's
/// range and a reader of the running task's saved PSP.
fn msp_and_psp(
    sp: u32,
    xpsr: u32,
    kernel_stack: Option<&Range<u64>>,
    saved_psp: impl FnOnce() -> Option<u32>,
) -> (Option<u32>, Option<u32>) {
    let handler_mode = xpsr & 0x1ff != 0;
    let on_kernel_stack = kernel_stack.is_some_and(|s| (s.start..=s.end).contains(&u64::from(sp)));
    if handler_mode {
        (Some(sp), saved_psp())
    } else if on_kernel_stack {
        (Some(sp), None)
    } else {
        (kernel_stack.map(|s| s.end as u32), Some(sp))
    }
}

/// Every object's `.text`.
fn texts(files: &ArchiveFiles) -> Vec<Range<u32>> {
    files
        .objects()
        .iter()
        .filter_map(|(_, bytes)| {
            let file = ElfFile32::<LE>::parse(*bytes).ok()?;
            let text = file.section_by_name(".text")?;
            Some(text.address() as u32..(text.address() + text.size()) as u32)
        })
        .collect()
}

/// Refuses to pair the archive with a guest running another image.
fn check_image_id(files: &ArchiveFiles, segments: &[(u32, Vec<u8>)]) -> Result<(), Error> {
    let found = crate::elfimage::symbol_bytes(&files.kernel, crate::elfimage::IMAGE_ID_SYMBOL)
        .map_err(|e| Error::new(format!("archive elf/kernel: {e}")))?;
    let expected = &files.kernel[found.file_offset..found.file_offset + found.size as usize];
    let address = found.address as u32;
    let actual = segments.iter().find_map(|(start, bytes)| {
        let at = address.checked_sub(*start)? as usize;
        bytes.get(at..at + expected.len())
    });
    match actual {
        Some(actual) if actual == expected => Ok(()),
        Some(actual) => Err(Error::new(format!(
            "the guest runs another image: its image id is {actual:02x?}, the archive's is {expected:02x?} \
             (boot the image this archive was built with)"
        ))),
        None => Err(Error::new(format!(
            "the image id at {address:#010x} was not read"
        ))),
    }
}

/// The address ranges to read, sorted and merged (see the module doc).
fn memory_plan(files: &ArchiveFiles) -> Result<Vec<Range<u32>>, Error> {
    let flash_base = files.flash_base().map_err(Error::new)?;
    let flash = flash_base..flash_base + files.final_bin.len() as u32;
    let mut ranges = vec![flash.clone()];
    for (name, bytes) in files.objects() {
        let file = ElfFile32::<LE>::parse(bytes)
            .map_err(|e| Error::new(format!("archive {name}: {e}")))?;
        for section in file.sections() {
            let allocated = section.elf_section_header().sh_flags(LE) & SHF_ALLOC != 0;
            let start = section.address() as u32;
            let end = start.saturating_add(section.size() as u32);
            if allocated && end > start && !(flash.start <= start && end <= flash.end) {
                ranges.push(start..end);
            }
        }
    }
    // The region table adds whole task RAM regions, stacks included. Without a readable
    // layout the sections above still cover what the ELFs declare.
    if let Ok(layout) = contract::check_objects(&files.kernel, &files.tasks)
        && let Ok(regions) = layout.regions(&files.kernel)
    {
        for (base, size, attributes) in regions {
            let writable = attributes & contract::REGION_WRITE != 0
                && attributes & contract::REGION_DEVICE == 0;
            if writable && size > 0 {
                ranges.push(base..base.saturating_add(size));
            }
        }
    }
    Ok(merge(ranges))
}

/// Sorts `ranges` and merges those that overlap or touch.
pub fn merge(mut ranges: Vec<Range<u32>>) -> Vec<Range<u32>> {
    ranges.retain(|r| r.end > r.start);
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u32>> = Vec::new();
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The core file: ELF32 LE `ET_CORE` for `EM_ARM`; one `PT_NOTE` with the archive note and
/// (if any registers) the registers note; then one `PT_LOAD` per segment with
/// `p_filesz == p_memsz`.
pub fn write_core(
    archive: &[u8],
    registers: &[(u32, u32)],
    segments: &[(u32, Vec<u8>)],
) -> Vec<u8> {
    let mut notes = note(NT_HUBRIS_ARCHIVE, archive);
    if !registers.is_empty() {
        let desc: Vec<u8> = registers
            .iter()
            .flat_map(|&(id, v)| [id.to_le_bytes(), v.to_le_bytes()])
            .flatten()
            .collect();
        notes.extend(note(NT_HUBRIS_REGISTERS, &desc));
    }
    let phnum = 1 + segments.len();
    let mut out = vec![0u8; EHDR_SIZE + PHDR_SIZE * phnum];
    let header = ElfHeader {
        e_type: ET_CORE,
        machine: EM_ARM,
        entry: 0,
    };
    write_ehdr(&mut out, &header, phnum, (0, 0, 0));
    let mut headers = vec![Phdr {
        kind: PT_NOTE,
        offset: out.len() as u32,
        vaddr: 0,
        paddr: 0,
        size: notes.len() as u32,
        flags: 0,
        align: 4,
    }];
    out.extend_from_slice(&notes);
    for (address, bytes) in segments {
        headers.push(Phdr {
            kind: PT_LOAD,
            offset: out.len() as u32,
            vaddr: *address,
            paddr: *address,
            size: bytes.len() as u32,
            flags: object::elf::PF_R | object::elf::PF_W,
            align: 1,
        });
        out.extend_from_slice(bytes);
    }
    for (i, phdr) in headers.iter().enumerate() {
        write_phdr(&mut out, i, phdr);
    }
    out
}

/// One ELF note named [`NOTE_NAME`], name and descriptor padded to 4 bytes.
fn note(kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + 24 + desc.len() + 3);
    out.extend_from_slice(&(NOTE_NAME.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(NOTE_NAME);
    out.resize(out.len().next_multiple_of(4), 0);
    out.extend_from_slice(desc);
    out.resize(out.len().next_multiple_of(4), 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::read::elf::FileHeader;

    const KERNEL_STACK: Range<u64> = 0x2000_0000..0x2000_0800;

    #[test]
    fn thread_mode_on_a_task_stack_is_psp_with_the_kernel_stack_at_rest() {
        let read = || panic!("the saved PSP is not needed in thread mode");
        assert_eq!(
            msp_and_psp(0x2000_70f8, 0x6100_0000, Some(&KERNEL_STACK), read),
            (Some(0x2000_0800), Some(0x2000_70f8))
        );
    }

    #[test]
    fn handler_mode_is_msp_with_the_running_task_saved_psp() {
        // IPSR 11: SVCall.
        assert_eq!(
            msp_and_psp(0x2000_07c0, 0x6100_000b, Some(&KERNEL_STACK), || Some(
                0x2000_6b18
            )),
            (Some(0x2000_07c0), Some(0x2000_6b18))
        );
        assert_eq!(
            msp_and_psp(0x2000_07c0, 0x6100_000b, Some(&KERNEL_STACK), || None),
            (Some(0x2000_07c0), None)
        );
    }

    #[test]
    fn thread_mode_on_the_kernel_stack_is_start_up_with_no_task_stack() {
        let read = || panic!("no task runs yet");
        assert_eq!(
            msp_and_psp(0x2000_0700, 0x0100_0000, Some(&KERNEL_STACK), read),
            (Some(0x2000_0700), None)
        );
    }

    #[test]
    fn ranges_merge_when_they_overlap_or_touch() {
        let merged = merge(vec![
            0x20..0x30,
            0x0..0x10,
            0x10..0x18,
            0x28..0x40,
            0x50..0x50,
            0x60..0x70,
        ]);
        assert_eq!(merged, [0x0..0x18, 0x20..0x40, 0x60..0x70]);
    }

    #[test]
    fn notes_have_humility_name_and_padding() {
        let n = note(NT_HUBRIS_ARCHIVE, b"abcde");
        assert_eq!(&n[..12], [23, 0, 0, 0, 5, 0, 0, 0, 0x01, 0, 0xe0, 0x1d]);
        assert_eq!(&n[12..36], b"Oxide Computer Company\0\0");
        assert_eq!(&n[36..41], b"abcde");
        assert_eq!(n.len(), 44);
    }

    #[test]
    fn core_file_round_trips_through_the_dump_parser() {
        let archive = b"PK-not-really-a-zip".to_vec();
        let registers = [(0, 1), (REG_PC, 0x0000_0299), (REG_SPR, 0x0100_0000)];
        let segments = vec![(0x2000_0000, vec![1, 2, 3, 4, 5]), (0x0, vec![9; 8])];
        let core = write_core(&archive, &registers, &segments);
        let header = object::elf::FileHeader32::<LE>::parse(core.as_slice()).unwrap();
        assert_eq!(
            (header.e_type.get(LE), header.e_machine.get(LE)),
            (ET_CORE, EM_ARM)
        );
        let contract::Core { notes, loads } = contract::parse_core(&core).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].name, notes[0].kind, notes[0].desc),
            (NOTE_NAME, NT_HUBRIS_ARCHIVE, archive.as_slice())
        );
        assert_eq!(notes[1].kind, NT_HUBRIS_REGISTERS);
        assert_eq!(notes[1].desc.len(), 24);
        assert_eq!(&notes[1].desc[8..16], [15, 0, 0, 0, 0x99, 0x02, 0, 0]);
        let loads: Vec<(u64, Vec<u8>)> = loads.into_iter().map(|(a, b)| (a, b.to_vec())).collect();
        assert_eq!(
            loads,
            [(0x0, vec![9; 8]), (0x2000_0000, vec![1, 2, 3, 4, 5])]
        );
    }
}
