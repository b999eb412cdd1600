//! The archive `cargo xtask dist qemu-m7` writes meets the humility contract
//! (`doc/humility-contract.md` 1-4, 7), and the checks notice when a kernel breaks it.
//!
//! The negative cases rename one string in a copy of the real kernel ELF (a symbol name in
//! `.strtab` or a DWARF name in `.debug_str`), so they exercise the checks on real rustc
//! output rather than on hand-made DWARF.

mod common;

use std::path::Path;

use common::{TempDir, built, stderr, stdout, xtask};
use object::{Object, ObjectSection};

fn check(file: &Path) -> Result<String, String> {
    let output = xtask(&["check-archive", file.to_str().expect("UTF-8 path")]);
    if output.status.success() {
        Ok(stdout(&output))
    } else {
        Err(stderr(&output))
    }
}

/// A copy of the kernel ELF with `from` replaced by `to` (same length, NUL-delimited on
/// both sides) inside `section`.
fn kernel_with(dir: &TempDir, section: &str, from: &str, to: &str) -> std::path::PathBuf {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(built().dir.join("elf").join("kernel")).expect("kernel ELF");
    let (start, size) = {
        let file = object::File::parse(&*bytes).expect("kernel parses");
        file.section_by_name(section)
            .and_then(|s| s.file_range())
            .expect("section present")
    };
    let range = start as usize..(start + size) as usize;
    let needle = [b"\0", from.as_bytes(), b"\0"].concat();
    let at = bytes[range.clone()]
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("{from:?} not in {section}"));
    let at = range.start + at + 1;
    bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
    let path = dir.path().join(format!("kernel-{to}"));
    std::fs::write(&path, bytes).expect("write patched kernel");
    path
}

#[test]
fn built_archive_and_its_kernel_meet_the_contract() {
    let built = built();
    check(&built.archive).unwrap_or_else(|e| panic!("{}: {e}", built.archive.display()));
    check(&built.dir.join("elf").join("kernel")).unwrap_or_else(|e| panic!("elf/kernel: {e}"));
}

#[test]
fn kernel_without_a_current_task_symbol_is_refused() {
    let dir = TempDir::new("no-current");
    let kernel = kernel_with(&dir, ".strtab", "CURRENT_TASK_PTR", "CURRENT_TASK_PTX");
    let e = check(&kernel).expect_err("refused");
    assert!(e.contains("no `CURRENT_TASK_PTR` symbol"), "{e}");
}

#[test]
fn legacy_task_table_symbol_is_refused() {
    let dir = TempDir::new("legacy");
    // Same length as HUBRIS_IMAGE_ID, which therefore goes missing too.
    let kernel = kernel_with(&dir, ".strtab", "HUBRIS_IMAGE_ID", "TASK_TABLE_BASE");
    let e = check(&kernel).expect_err("refused");
    assert!(e.contains("has a `TASK_TABLE_BASE` symbol"), "{e}");
    assert!(e.contains("no `HUBRIS_IMAGE_ID` symbol"), "{e}");
}

#[test]
fn missing_task_desc_struct_is_refused() {
    let dir = TempDir::new("no-taskdesc");
    let kernel = kernel_with(&dir, ".debug_str", "TaskDesc", "TaskDesX");
    let e = check(&kernel).expect_err("refused");
    assert!(e.contains("no struct named `TaskDesc`"), "{e}");
}

#[test]
fn unknown_task_state_variant_is_refused() {
    let dir = TempDir::new("variant");
    let kernel = kernel_with(&dir, ".debug_str", "Healthy", "Healthz");
    let e = check(&kernel).expect_err("refused");
    assert!(
        e.contains("`TaskState` has a variant `Healthz` humility does not know"),
        "{e}"
    );
}

#[test]
fn renamed_saved_state_register_is_refused() {
    let dir = TempDir::new("psp");
    let kernel = kernel_with(&dir, ".debug_str", "psp", "pss");
    let e = check(&kernel).expect_err("refused");
    assert!(
        e.contains("`SavedState` needs a 4-byte member `psp`"),
        "{e}"
    );
}
