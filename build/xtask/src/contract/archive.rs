//! Whole-image checks: the kernel and every task of an archive (contract 2, 3, 4).

use std::path::Path;

use dwarf_check::dies::StructShape;

use super::*;

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
pub(super) fn check_unique_structs(objects: &[ObjectInfo<'_>], problems: &mut Vec<String>) {
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
