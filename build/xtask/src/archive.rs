//! The humility build archive: writing it reproducibly and checking one against
//! `doc/humility-contract.md` sections 1 and 7.
//!
//! The archive is a zip with the comment `hubris build archive v11` and these entries, in this
//! order (humility numbers tasks by the order of `elf/task/*` entries in the central
//! directory, so the order is part of the format):
//!
//! `app.toml`, `elf/kernel`, `elf/task/<name>` per task in index order, `img/final.elf`,
//! `img/final.bin`, `img/flash.ron` (only for boards with a probe-rs chip), `git-rev`,
//! `image-name`.
//!
//! Every entry is deflated with the same fixed timestamp (1980-01-01 00:00, the zip epoch) and
//! permissions (0644), so the same inputs give the same archive, byte for byte.

use std::fmt;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

use object::elf::{EM_ARM, SHF_ALLOC, SHF_WRITE, STT_FUNC};
use object::read::elf::{ElfFile32, FileHeader, SectionHeader};
use object::{LittleEndian as LE, Object, ObjectSection, ObjectSymbol};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

use crate::config::check_humility_toml;
use crate::elfimage::{IMAGE_ID_SYMBOL, symbol_bytes};

/// The archive format version we write; humility accepts up to 11.
pub const ARCHIVE_VERSION: u32 = 11;
const COMMENT_PREFIX: &str = "hubris build archive v";
/// humility's `TASK_TABLE_BASE` symbol overrides the task table it finds through DWARF.
const FORBIDDEN_SYMBOL: &str = "TASK_TABLE_BASE";

/// Everything that goes into an archive.
#[derive(Clone, Debug)]
pub struct ArchiveParts {
    /// The humility-facing `app.toml` (`config::App::archive_toml`).
    pub app_toml: String,
    pub kernel: Vec<u8>,
    /// `(name, ELF)` for every task, in task index order.
    pub tasks: Vec<(String, Vec<u8>)>,
    pub final_elf: Vec<u8>,
    pub final_bin: Vec<u8>,
    /// probe-rs target name; `img/flash.ron` is written only when there is one.
    pub probe_rs_chip: Option<String>,
    pub git_rev: String,
    pub image_name: String,
}

#[derive(Debug)]
pub enum ArchiveError {
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    Zip(zip::result::ZipError),
    /// A task name that is not a plain file name (it becomes `elf/task/<name>`).
    BadTaskName(String),
}

impl fmt::Display for ArchiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            ArchiveError::Zip(e) => write!(f, "writing zip: {e}"),
            ArchiveError::BadTaskName(name) => {
                write!(f, "task name \"{name}\" cannot be an archive file name")
            }
        }
    }
}

impl std::error::Error for ArchiveError {}

impl From<zip::result::ZipError> for ArchiveError {
    fn from(e: zip::result::ZipError) -> Self {
        ArchiveError::Zip(e)
    }
}

/// Writes the archive for `parts` to `out`.
pub fn write_archive(out: &Path, parts: &ArchiveParts) -> Result<(), ArchiveError> {
    let mut entries: Vec<(String, &[u8])> = vec![
        ("app.toml".into(), parts.app_toml.as_bytes()),
        ("elf/kernel".into(), &parts.kernel),
    ];
    for (name, elf) in &parts.tasks {
        let plain = !name.is_empty() && !name.contains(['/', '\\']) && name != "." && name != "..";
        if !plain {
            return Err(ArchiveError::BadTaskName(name.clone()));
        }
        entries.push((format!("elf/task/{name}"), elf));
    }
    entries.push(("img/final.elf".into(), &parts.final_elf));
    entries.push(("img/final.bin".into(), &parts.final_bin));
    let flash_ron = parts.probe_rs_chip.as_ref().map(|chip| flash_ron(chip));
    if let Some(ron) = &flash_ron {
        entries.push(("img/flash.ron".into(), ron.as_bytes()));
    }
    entries.push(("git-rev".into(), parts.git_rev.as_bytes()));
    entries.push(("image-name".into(), parts.image_name.as_bytes()));
    let zip = zip_entries(&format!("{COMMENT_PREFIX}{ARCHIVE_VERSION}"), &entries)?;
    std::fs::write(out, zip).map_err(|error| ArchiveError::Io {
        path: out.to_owned(),
        error,
    })
}

/// `img/flash.ron`, as Hubris writes it (`doc/humility-contract.md` 1.5).
fn flash_ron(chip: &str) -> String {
    format!("(\n    chip: Some(\"{chip}\"),\n)\n")
}

/// A zip of `entries`, in order, deflated, with fixed timestamps and permissions.
fn zip_entries(comment: &str, entries: &[(String, &[u8])]) -> Result<Vec<u8>, ArchiveError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(0o644);
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    zip.set_comment(comment)?;
    for (name, bytes) in entries {
        zip.start_file(name, options)?;
        zip.write_all(bytes)
            .map_err(|e| ArchiveError::Zip(e.into()))?;
    }
    Ok(zip.finish()?.into_inner())
}

/// What a valid archive contains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveReport {
    pub version: u32,
    pub name: String,
    pub board: String,
    /// Task names in archive (= task index) order.
    pub tasks: Vec<String>,
    /// The kernel's `HUBRIS_IMAGE_ID` bytes.
    pub image_id: Vec<u8>,
    /// The probe-rs chip from `img/flash.ron`, if the archive has one.
    pub probe_rs_chip: Option<String>,
}

/// An archive's entries, in central-directory order.
type Entries = [(String, Vec<u8>)];

/// Opens the archive at `path` and checks what humility requires of it. Returns every problem
/// found, each naming the entry (and symbol or section) at fault.
pub fn check_archive(path: &Path) -> Result<ArchiveReport, Vec<String>> {
    let at = |e: &dyn fmt::Display| vec![format!("{}: {e}", path.display())];
    let bytes = std::fs::read(path).map_err(|e| at(&e))?;
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| at(&e))?;
    let mut problems = Vec::new();

    let version = check_comment(zip.comment(), &mut problems);
    let entries = read_entries(&mut zip).map_err(|e| at(&e))?;
    let app_toml = require(&entries, "app.toml", &mut problems);
    let kernel = require(&entries, "elf/kernel", &mut problems);
    let final_elf = require(&entries, "img/final.elf", &mut problems);
    let final_bin = require(&entries, "img/final.bin", &mut problems);
    for name in ["git-rev", "image-name"] {
        if require(&entries, name, &mut problems).is_some_and(|d| std::str::from_utf8(d).is_err()) {
            problems.push(format!("{name}: not UTF-8"));
        }
    }

    let tasks = task_entries(&entries, &mut problems);
    let task_names: Vec<String> = tasks.iter().map(|(n, _)| n.clone()).collect();
    let manifest = app_toml.and_then(|text| match std::str::from_utf8(text) {
        Err(_) => {
            problems.push("app.toml: not UTF-8".into());
            None
        }
        Ok(text) => check_humility_toml(text)
            .map_err(|p| problems.extend(p))
            .ok(),
    });
    if let Some(manifest) = &manifest
        && manifest.tasks != task_names
    {
        problems.push(format!(
            "app.toml lists tasks [{}] but the archive's task ELFs are, in order, [{}]",
            manifest.tasks.join(", "),
            task_names.join(", ")
        ));
    }
    let objects = kernel
        .map(|k| ("elf/kernel".to_owned(), k))
        .into_iter()
        .chain(tasks.iter().map(|(n, d)| (format!("elf/task/{n}"), *d)));
    check_objects(objects, &mut problems);

    let image = final_elf.and_then(|elf| final_image(elf, &mut problems));
    if let (Some((base, image)), Some(bin)) = (&image, final_bin)
        && image.as_slice() != bin
    {
        problems.push(format!(
            "img/final.bin ({} bytes) differs from the flash image in img/final.elf ({} bytes at \
             {base:#010x})",
            bin.len(),
            image.len()
        ));
    }
    let image_id = kernel.and_then(|k| check_image_id(k, image.as_ref(), &mut problems));

    let probe_rs_chip = find(&entries, "img/flash.ron").and_then(|ron| {
        let chip = std::str::from_utf8(ron).ok().and_then(flash_ron_chip);
        if chip.is_none() {
            problems.push("img/flash.ron: no `chip: Some(\"...\")` entry".into());
        }
        chip
    });

    match (problems.is_empty(), manifest, version, image_id) {
        (true, Some(manifest), Some(version), Some(image_id)) => Ok(ArchiveReport {
            version,
            name: manifest.name,
            board: manifest.board,
            tasks: task_names,
            image_id,
            probe_rs_chip,
        }),
        _ => Err(problems),
    }
}

fn find<'a>(entries: &'a Entries, name: &str) -> Option<&'a [u8]> {
    entries
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, d)| d.as_slice())
}

fn require<'a>(entries: &'a Entries, name: &str, problems: &mut Vec<String>) -> Option<&'a [u8]> {
    let found = find(entries, name);
    if found.is_none() {
        problems.push(format!("{name}: missing"));
    }
    found
}

/// The task ELFs as humility finds them: every entry whose parent directory is `task`, in zip
/// order. Only `elf/task/<name>` may be such an entry, and `kernel` and `hiffy` are not task
/// names.
fn task_entries<'a>(entries: &'a Entries, problems: &mut Vec<String>) -> Vec<(String, &'a [u8])> {
    let mut tasks = Vec::new();
    for (name, data) in entries {
        let parts: Vec<&str> = name.split('/').collect();
        let [.., parent, file] = parts.as_slice() else {
            continue;
        };
        if *parent != "task" {
            continue;
        }
        if parts.len() != 3 || parts[0] != "elf" {
            problems.push(format!(
                "{name}: humility would load this as a task; only elf/task/<name> may be in a \
                 `task` directory"
            ));
        }
        if ["kernel", "hiffy"].contains(file) {
            problems.push(format!(
                "{name}: humility reserves the task name \"{file}\""
            ));
        }
        tasks.push((file.to_string(), data.as_slice()));
    }
    tasks
}

/// Checks every kernel and task ELF, and that no two have `.text` at the same address.
fn check_objects<'a>(
    objects: impl Iterator<Item = (String, &'a [u8])>,
    problems: &mut Vec<String>,
) {
    let mut texts: Vec<(String, u64)> = Vec::new();
    for (name, data) in objects {
        let Some(text_address) = check_object(&name, data, problems) else {
            continue;
        };
        if let Some((other, _)) = texts.iter().find(|(_, a)| *a == text_address) {
            problems.push(format!(
                "{name}: .text at {text_address:#010x} is at the same address as {other}'s; \
                 humility would drop one of them"
            ));
        }
        texts.push((name, text_address));
    }
}

/// Every entry's name and contents, in central-directory order.
pub fn read_entries<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut entries = Vec::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).map_err(|e| format!("entry {i}: {e}"))?;
        let name = file
            .name()
            .map_err(|e| format!("entry {i}: {e}"))?
            .into_owned();
        let mut data = Vec::new();
        file.read_to_end(&mut data)
            .map_err(|e| format!("{name}: {e}"))?;
        entries.push((name, data));
    }
    Ok(entries)
}

/// The archive version from the zip comment, if it is one humility accepts.
fn check_comment(comment: &[u8], problems: &mut Vec<String>) -> Option<u32> {
    let text = String::from_utf8_lossy(comment);
    let Some(version) = text
        .strip_prefix(COMMENT_PREFIX)
        .and_then(|v| v.parse::<u32>().ok())
    else {
        problems.push(format!(
            "zip comment is \"{text}\", expected \"{COMMENT_PREFIX}<N>\""
        ));
        return None;
    };
    if version > ARCHIVE_VERSION {
        problems.push(format!(
            "archive version {version} is newer than humility accepts ({ARCHIVE_VERSION})"
        ));
        return None;
    }
    Some(version)
}

/// Checks one kernel or task ELF (`doc/humility-contract.md` 1.7 items 6-9, 7.6); returns the
/// address of its `.text`.
fn check_object(name: &str, data: &[u8], problems: &mut Vec<String>) -> Option<u64> {
    let file = match ElfFile32::<LE>::parse(data) {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!("{name}: not a little-endian ELF32 file: {e}"));
            return None;
        }
    };
    let machine = file.elf_header().e_machine(LE);
    if machine != EM_ARM {
        problems.push(format!(
            "{name}: e_machine is {machine}, expected EM_ARM ({EM_ARM})"
        ));
    }
    if file.section_by_name(".debug_frame").is_none() {
        problems.push(format!(
            "{name}: no .debug_frame section (build with debuginfo and do not strip)"
        ));
    }
    let Some(text) = file.section_by_name(".text") else {
        problems.push(format!("{name}: no .text section"));
        return None;
    };
    let text_range = text.address()..text.address() + text.size();
    for symbol in file.symbols() {
        let sym_name = symbol.name().unwrap_or("?");
        if sym_name == FORBIDDEN_SYMBOL {
            problems.push(format!("{name}: has a `{FORBIDDEN_SYMBOL}` symbol, which overrides the task table humility reads"));
        }
        let allocated = symbol
            .section_index()
            .and_then(|i| file.section_by_index(i).ok())
            .is_some_and(|s| s.elf_section_header().sh_flags(LE) & SHF_ALLOC != 0);
        if symbol.elf_symbol().st_type() != STT_FUNC || symbol.size() == 0 || !allocated {
            continue;
        }
        // Thumb function addresses carry bit 0.
        let start = symbol.address() & !1;
        if start < text_range.start || start + symbol.size() > text_range.end {
            problems.push(format!(
                "{name}: function `{sym_name}` at {start:#010x} ({} bytes) is outside .text \
                 {:#010x}..{:#010x}; humility disassembles functions from .text only",
                symbol.size(),
                text_range.start,
                text_range.end
            ));
        }
    }
    Some(text.address())
}

/// The flash image in `img/final.elf`: its sections flagged exactly `SHF_WRITE | SHF_ALLOC`
/// (what hubtools reads) concatenated by address with 0xFF gaps. Returns (base, bytes).
fn final_image(elf: &[u8], problems: &mut Vec<String>) -> Option<(u64, Vec<u8>)> {
    let file = match ElfFile32::<LE>::parse(elf) {
        Ok(file) => file,
        Err(e) => {
            problems.push(format!(
                "img/final.elf: not a little-endian ELF32 file: {e}"
            ));
            return None;
        }
    };
    if file.elf_header().e_machine(LE) != EM_ARM {
        problems.push("img/final.elf: e_machine is not EM_ARM".into());
    }
    let mut pieces: Vec<(u64, &[u8])> = file
        .sections()
        .filter(|s| s.elf_section_header().sh_flags(LE) == SHF_WRITE | SHF_ALLOC)
        .filter_map(|s| Some((s.address(), s.data().ok()?)))
        .collect();
    pieces.sort_by_key(|(address, _)| *address);
    let (Some(&(base, _)), Some(&(last, last_data))) = (pieces.first(), pieces.last()) else {
        problems.push("img/final.elf: no section with flags SHF_WRITE|SHF_ALLOC (hubtools would see an empty image)".into());
        return None;
    };
    let mut image = vec![0xFF; (last - base) as usize + last_data.len()];
    let mut end = base;
    for (address, data) in pieces {
        if address < end {
            problems.push(format!(
                "img/final.elf: sections overlap at {address:#010x}"
            ));
            return None;
        }
        let at = (address - base) as usize;
        image[at..at + data.len()].copy_from_slice(data);
        end = address + data.len() as u64;
    }
    Some((base, image))
}

/// The kernel's image id bytes, checked against the same address in the flash image.
fn check_image_id(
    kernel: &[u8],
    image: Option<&(u64, Vec<u8>)>,
    problems: &mut Vec<String>,
) -> Option<Vec<u8>> {
    let found = match symbol_bytes(kernel, IMAGE_ID_SYMBOL) {
        Ok(found) if found.size > 0 && found.allocated => found,
        Ok(_) => {
            problems.push(format!(
                "elf/kernel: `{IMAGE_ID_SYMBOL}` must have a non-zero size in an allocated section \
                 (humility reports a missing image id otherwise)"
            ));
            return None;
        }
        Err(e) => {
            problems.push(format!("elf/kernel: missing image id: {e}"));
            return None;
        }
    };
    let id = kernel[found.file_offset..found.file_offset + found.size as usize].to_vec();
    let (base, image) = image?;
    let in_image = found
        .address
        .checked_sub(*base)
        .and_then(|at| image.get(at as usize..at as usize + id.len()));
    match in_image {
        None => problems.push(format!(
            "elf/kernel: `{IMAGE_ID_SYMBOL}` at {:#010x} is not inside img/final.elf's flash image",
            found.address
        )),
        Some(bytes) if bytes != id.as_slice() => problems.push(format!(
            "elf/kernel: `{IMAGE_ID_SYMBOL}` is {id:02x?} but img/final.elf holds {bytes:02x?} at {:#010x}",
            found.address
        )),
        Some(_) => return Some(id),
    }
    None
}

/// The chip in `img/flash.ron`: `chip: Some("NAME")` or, with RON's implicit-some, `chip: "NAME"`.
fn flash_ron_chip(ron: &str) -> Option<String> {
    let after = ron.split_once("chip:")?.1.trim_start();
    let after = after.strip_prefix("Some(").unwrap_or(after).trim_start();
    let quoted = after.strip_prefix('"')?;
    Some(quoted.split_once('"')?.0.to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::config::MemoryRange;
    use crate::elfimage::fixture::{Elf, Symbol};
    use crate::elfimage::{NamedElf, build_image, final_elf, stamp_image_id};

    const FLASH: MemoryRange = MemoryRange {
        start: 0x0800_0000,
        size: 0x10_0000,
    };
    const TASKS: [&str; 4] = ["jefe", "sys", "console", "idle"];

    /// A consistent set of parts: the config module's base app, a kernel and four tasks.
    fn good_parts() -> ArchiveParts {
        let mut kernel = Elf::kernel(0x0800_0000, &[0x11; 16]).build();
        let tasks: Vec<(String, Vec<u8>)> = TASKS
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.to_string(),
                    Elf::task(0x0800_1000 + 0x100 * i as u32, &[i as u8; 8]).build(),
                )
            })
            .collect();
        parts_for(&mut kernel, tasks)
    }

    fn parts_for(kernel: &mut [u8], tasks: Vec<(String, Vec<u8>)>) -> ArchiveParts {
        let named: Vec<NamedElf<'_>> = tasks
            .iter()
            .map(|(n, b)| NamedElf { name: n, bytes: b })
            .collect();
        let mut image = build_image(
            FLASH,
            NamedElf {
                name: "kernel",
                bytes: kernel,
            },
            &named,
        )
        .unwrap();
        stamp_image_id(kernel, &mut image).unwrap();
        let app = crate::config::app_tests::load(crate::config::app_tests::BASE).unwrap();
        ArchiveParts {
            app_toml: app.archive_toml(),
            kernel: kernel.to_vec(),
            tasks,
            final_elf: final_elf(&image),
            final_bin: image.bin,
            probe_rs_chip: Some("STM32H753ZITx".into()),
            git_rev: "0123abcd-dirty".into(),
            image_name: "demo".into(),
        }
    }

    fn write(parts: &ArchiveParts) -> (tempdir::Dir, PathBuf) {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("build.zip");
        write_archive(&path, parts).unwrap();
        (dir, path)
    }

    /// Rewrites an archive with `edit` applied to its entries (and a possibly new comment).
    fn rewrite(path: &Path, comment: &str, edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) {
        let mut zip = ZipArchive::new(Cursor::new(std::fs::read(path).unwrap())).unwrap();
        let mut entries = read_entries(&mut zip).unwrap();
        edit(&mut entries);
        let borrowed: Vec<(String, &[u8])> = entries
            .iter()
            .map(|(n, d)| (n.clone(), d.as_slice()))
            .collect();
        std::fs::write(path, zip_entries(comment, &borrowed).unwrap()).unwrap();
    }

    fn problems(path: &Path) -> Vec<String> {
        check_archive(path).expect_err("the archive should be refused")
    }

    fn has(problems: &[String], needle: &str) -> bool {
        problems.iter().any(|p| p.contains(needle))
    }

    /// Minimal self-cleaning temporary directory (std has none); the config tests use it too.
    pub(crate) mod tempdir {
        use std::path::{Path, PathBuf};
        use std::sync::atomic::{AtomicUsize, Ordering};

        pub struct Dir(PathBuf);

        impl Dir {
            pub fn new() -> Dir {
                static NEXT: AtomicUsize = AtomicUsize::new(0);
                let n = NEXT.fetch_add(1, Ordering::Relaxed);
                let path =
                    std::env::temp_dir().join(format!("xtask-archive-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }

            pub fn path(&self) -> &Path {
                &self.0
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn written_archive_passes_the_check() {
        let parts = good_parts();
        let (_dir, path) = write(&parts);
        let report = check_archive(&path).unwrap_or_else(|p| panic!("{p:#?}"));
        assert_eq!(report.version, 11);
        assert_eq!(report.tasks, TASKS);
        assert_eq!(
            (report.name.as_str(), report.board.as_str()),
            ("demo", "mps2-an500")
        );
        assert_eq!(report.probe_rs_chip.as_deref(), Some("STM32H753ZITx"));
        assert_eq!(report.image_id.len(), 8);
        assert_ne!(
            report.image_id, [0xAA; 8],
            "the placeholder must have been replaced"
        );
    }

    #[test]
    fn entries_comment_and_contents_are_exact() {
        let parts = good_parts();
        let (_dir, path) = write(&parts);
        let mut zip = ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert_eq!(zip.comment(), b"hubris build archive v11");
        let names: Vec<String> = read_entries(&mut zip)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "app.toml",
                "elf/kernel",
                "elf/task/jefe",
                "elf/task/sys",
                "elf/task/console",
                "elf/task/idle",
                "img/final.elf",
                "img/final.bin",
                "img/flash.ron",
                "git-rev",
                "image-name",
            ]
        );
        let mut ron = String::new();
        zip.by_name("img/flash.ron")
            .unwrap()
            .read_to_string(&mut ron)
            .unwrap();
        assert_eq!(ron, "(\n    chip: Some(\"STM32H753ZITx\"),\n)\n");
        let file = zip.by_name("elf/task/sys").unwrap();
        assert_eq!(file.compression(), CompressionMethod::Deflated);
        assert_eq!(file.unix_mode(), Some(0o100644));
        assert_eq!(file.last_modified(), Some(DateTime::default()));
    }

    #[test]
    fn no_flash_ron_without_a_probe_rs_chip() {
        let mut parts = good_parts();
        parts.probe_rs_chip = None;
        let (_dir, path) = write(&parts);
        let report = check_archive(&path).unwrap();
        assert_eq!(report.probe_rs_chip, None);
        let zip = ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
        assert!(zip.index_for_name("img/flash.ron").is_none());
    }

    #[test]
    fn archive_is_reproducible() {
        let parts = good_parts();
        let (_a, first) = write(&parts);
        let (_b, second) = write(&parts);
        assert_eq!(
            std::fs::read(first).unwrap(),
            std::fs::read(second).unwrap()
        );
    }

    #[test]
    fn bad_task_names_are_refused() {
        let mut parts = good_parts();
        parts.tasks[1].0 = "../sys".into();
        let dir = tempdir::Dir::new();
        let e = write_archive(&dir.path().join("a.zip"), &parts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task name \"../sys\" cannot be an archive file name"
        );
    }

    #[test]
    fn comment_and_version_are_checked() {
        let (_dir, path) = write(&good_parts());
        rewrite(&path, "hubris build archive v12", |_| {});
        assert!(has(
            &problems(&path),
            "archive version 12 is newer than humility accepts (11)"
        ));
        rewrite(&path, "some zip", |_| {});
        assert!(has(&problems(&path), "zip comment is \"some zip\""));
    }

    #[test]
    fn missing_required_files_are_named() {
        let (_dir, path) = write(&good_parts());
        rewrite(&path, "hubris build archive v11", |e| {
            e.retain(|(n, _)| n != "img/final.elf" && n != "git-rev")
        });
        let p = problems(&path);
        assert!(
            has(&p, "img/final.elf: missing") && has(&p, "git-rev: missing"),
            "{p:#?}"
        );
    }

    #[test]
    fn task_order_must_match_app_toml() {
        let (_dir, path) = write(&good_parts());
        rewrite(&path, "hubris build archive v11", |e| e.swap(2, 3));
        let p = problems(&path);
        assert!(
            has(
                &p,
                "app.toml lists tasks [jefe, sys, console, idle] but the archive's task ELFs are, in order, [sys, jefe, console, idle]"
            ),
            "{p:#?}"
        );
    }

    #[test]
    fn stray_task_directory_entries_are_refused() {
        let (_dir, path) = write(&good_parts());
        rewrite(&path, "hubris build archive v11", |e| {
            e.push(("debug/task/notes".into(), b"x".to_vec()))
        });
        assert!(has(
            &problems(&path),
            "debug/task/notes: humility would load this as a task"
        ));
    }

    #[test]
    fn elf_requirements_are_checked_per_object() {
        let mut kernel = Elf::kernel(0x0800_0000, &[0x11; 16]).build();
        let mut bad: Vec<Elf> = (0..4)
            .map(|i| Elf::task(0x0800_1000 + 0x100 * i, &[1; 8]))
            .collect();
        bad[0].sections.retain(|s| s.name != ".debug_frame");
        bad[1].symbols.push(Symbol {
            name: "ram_fn",
            value: 0x0800_1105,
            size: 16,
            function: true,
            section: 0,
        });
        bad[2].symbols.push(Symbol {
            name: FORBIDDEN_SYMBOL,
            value: 0x0800_1200,
            size: 4,
            function: false,
            section: 0,
        });
        bad[3].machine = 3;
        let tasks = TASKS
            .iter()
            .zip(&bad)
            .map(|(n, e)| (n.to_string(), e.build()))
            .collect();
        // Build the image from good ELFs of the same layout: the checks under test are per ELF.
        let mut parts = parts_for(&mut kernel, good_parts().tasks);
        parts.tasks = tasks;
        let (_dir, path) = write(&parts);
        let p = problems(&path);
        assert!(has(&p, "elf/task/jefe: no .debug_frame section"), "{p:#?}");
        assert!(
            has(
                &p,
                "elf/task/sys: function `ram_fn` at 0x08001104 (16 bytes) is outside .text 0x08001100..0x08001108"
            ),
            "{p:#?}"
        );
        assert!(
            has(&p, "elf/task/console: has a `TASK_TABLE_BASE` symbol"),
            "{p:#?}"
        );
        assert!(has(&p, "elf/task/idle: e_machine is 3"), "{p:#?}");
    }

    #[test]
    fn text_addresses_must_be_distinct() {
        let mut parts = good_parts();
        parts.tasks[3].1 = parts.tasks[2].1.clone();
        let (_dir, path) = write(&parts);
        assert!(has(
            &problems(&path),
            "elf/task/idle: .text at 0x08001200 is at the same address as elf/task/console's"
        ));
    }

    #[test]
    fn image_id_must_match_final_elf() {
        let mut parts = good_parts();
        patch_id(&mut parts.kernel, &[9; 8]);
        let (_dir, path) = write(&parts);
        let p = problems(&path);
        assert!(
            has(
                &p,
                "elf/kernel: `HUBRIS_IMAGE_ID` is [09, 09, 09, 09, 09, 09, 09, 09] but img/final.elf holds"
            ),
            "{p:#?}"
        );
    }

    fn patch_id(kernel: &mut [u8], id: &[u8]) {
        crate::elfimage::patch_symbol(kernel, IMAGE_ID_SYMBOL, id).unwrap();
    }

    #[test]
    fn image_id_must_be_sized_and_allocated() {
        let mut unallocated = Elf::kernel(0x0800_0000, &[0x11; 16]);
        unallocated.sections[1].flags = 0;
        let mut zero_sized = Elf::kernel(0x0800_0000, &[0x11; 16]);
        zero_sized.symbols[1].size = 0;
        for kernel in [unallocated, zero_sized] {
            let mut parts = good_parts();
            parts.kernel = kernel.build();
            let (_dir, path) = write(&parts);
            let p = problems(&path);
            assert!(
                has(
                    &p,
                    "`HUBRIS_IMAGE_ID` must have a non-zero size in an allocated section"
                ),
                "{p:#?}"
            );
        }
    }

    #[test]
    fn kernel_without_image_id_is_refused() {
        let mut parts = good_parts();
        parts.kernel = Elf::task(0x0800_0000, &[0x11; 16]).build();
        let (_dir, path) = write(&parts);
        assert!(has(
            &problems(&path),
            "elf/kernel: missing image id: no symbol `HUBRIS_IMAGE_ID`"
        ));
    }

    #[test]
    fn final_bin_must_match_final_elf() {
        let mut parts = good_parts();
        parts.final_bin[0] ^= 1;
        let (_dir, path) = write(&parts);
        assert!(has(&problems(&path), "img/final.bin"));
    }

    #[test]
    fn app_toml_interrupts_must_resolve() {
        let mut parts = good_parts();
        parts.app_toml = crate::config::app_tests::BASE.into();
        let (_dir, path) = write(&parts);
        assert!(has(
            &problems(&path),
            "app.toml: task \"sys\": interrupts: \"timer0.irq\" is neither"
        ));
    }

    #[test]
    fn flash_ron_chip_forms() {
        assert_eq!(
            flash_ron_chip("(\n    chip: Some(\"STM32H753ZITx\"),\n)\n").as_deref(),
            Some("STM32H753ZITx")
        );
        assert_eq!(flash_ron_chip("(chip: \"X\")").as_deref(), Some("X"));
        assert_eq!(flash_ron_chip("()"), None);
    }
}
