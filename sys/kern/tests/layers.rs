//! The kernel's layers read top-down: no module uses one from a layer above it.
//!
//! The layers are the list in `src/lib.rs`'s module doc, read from there so the doc and the
//! rule cannot drift apart. Every `crate::` path in `src/` (in `use` items and inline alike)
//! is checked; `super::` never leaves a top-level module, and `lib.rs`, the root, is above
//! every layer.
//!
//! The one exception: the fault injector's hooks. Kernel code of any layer calls
//! `crate::inject::...` at the points where a campaign watches or injects (a fault taken, a
//! message delivered, a kernel failure), only in builds with feature `fault-inject`. A hook
//! call is accepted from below when `#[cfg(feature = "fault-inject")]` stands at most
//! [`HOOK_CFG_WINDOW`] lines above it; any other use of `inject` from below is refused.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// How far above a hook call its `cfg(feature = "fault-inject")` may stand: the attribute,
/// then a block's opening brace, then earlier hook calls of the same block.
const HOOK_CFG_WINDOW: usize = 3;
const HOOK_CFG: &str = "#[cfg(feature = \"fault-inject\")]";
const HOOK_MODULE: &str = "inject";

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A layer: its number in `lib.rs`'s list (1 is the top), its title and its modules.
#[derive(Debug)]
struct Layer {
    number: usize,
    title: String,
}

/// Module name -> its layer, from `lib.rs`: `//! N. Title` opens a layer, and each
/// `//!    - [`module`]: ...` under it names one of its modules.
fn layers() -> BTreeMap<String, Layer> {
    let lib = fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    let mut layers = BTreeMap::new();
    let mut current: Option<(usize, String)> = None;
    for line in lib.lines() {
        let Some(doc) = line.strip_prefix("//!") else {
            continue;
        };
        let doc = doc.trim_start();
        if let Some((n, title)) = doc.split_once(". ")
            && let Ok(n) = n.parse::<usize>()
        {
            current = Some((n, title.trim().to_string()));
        } else if let Some(rest) = doc.strip_prefix("- [`")
            && let Some((module, _)) = rest.split_once("`]")
        {
            let (number, title) = current
                .clone()
                .unwrap_or_else(|| panic!("lib.rs lists `{module}` before any numbered layer"));
            let old = layers.insert(module.to_string(), Layer { number, title });
            assert!(old.is_none(), "lib.rs lists `{module}` in two layers");
        }
    }
    assert!(
        layers.len() > 5,
        "lib.rs's module doc should list the layers (found {layers:?})"
    );
    layers
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file under `src/` belongs to (`arch/arm_m/mpu.rs` -> `arch`).
fn module_of(relative: &Path) -> String {
    let first = relative.components().next().expect("a path under src/");
    let first = first.as_os_str().to_string_lossy();
    first.strip_suffix(".rs").unwrap_or(&first).to_string()
}

/// Each line with its comment removed (`//` to the end of the line; the kernel's strings
/// hold no `//`).
fn code_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect()
}

/// Every module a file names through `crate::`, with the 1-based line it is named on. A
/// group (`crate::{a, b::c}`) may span lines; each of its top-level names counts.
fn crate_paths(lines: &[&str]) -> Vec<(usize, String)> {
    let mut text = String::new();
    let mut starts = Vec::new();
    for line in lines {
        starts.push(text.len());
        text.push_str(line);
        text.push('\n');
    }
    let line_at = |offset: usize| starts.partition_point(|&s| s <= offset);
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = Vec::new();
    for (at, _) in text.match_indices("crate::") {
        // `$crate::` is a macro's path to this crate: only in lib.rs, the root.
        if text[..at].ends_with('$') {
            continue;
        }
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let (mut depth, mut segment_start, mut names) = (0, 0, Vec::new());
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        names.push(&group[segment_start..i]);
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        names.push(&group[segment_start..i]);
                        segment_start = i + 1;
                    }
                    _ => {}
                }
            }
            for name in names {
                let name = ident(name.trim_start());
                if !name.is_empty() && name != "self" {
                    found.push((line_at(at), name));
                }
            }
        } else {
            found.push((line_at(at), ident(rest)));
        }
    }
    found
}

/// Whether the hook call on `line` (1-based) is compiled only with `fault-inject`.
fn is_gated_hook(lines: &[&str], line: usize) -> bool {
    let from = line.saturating_sub(1 + HOOK_CFG_WINDOW);
    lines[from..line - 1].iter().any(|l| l.contains(HOOK_CFG))
}

/// Every use of a module from a higher layer, as `file:line: rule broken`.
fn violations() -> Vec<String> {
    let layers = layers();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.sort();
    let mut found = Vec::new();
    for path in files {
        let relative = path.strip_prefix(src()).expect("under src/").to_path_buf();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let shown = Path::new("sys/kern/src").join(&relative);
        let module = module_of(&relative);
        let Some(own) = layers.get(&module) else {
            found.push(format!(
                "{}: module `{module}` is in no layer: add it to the list in src/lib.rs",
                shown.display()
            ));
            continue;
        };
        let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = code_lines(&text);
        for (line, used) in crate_paths(&lines) {
            let Some(theirs) = layers.get(&used) else {
                found.push(format!(
                    "{}:{line}: `crate::{used}` is in no layer: add it to the list in src/lib.rs",
                    shown.display()
                ));
                continue;
            };
            if theirs.number >= own.number {
                continue;
            }
            if used == HOOK_MODULE && is_gated_hook(&lines, line) {
                continue;
            }
            found.push(format!(
                "{}:{line}: `{module}` (layer {} {}) uses `crate::{used}` (layer {} {}): a module \
                 may use only its own layer and those below it",
                shown.display(),
                own.number,
                own.title,
                theirs.number,
                theirs.title,
            ));
        }
    }
    found
}

#[test]
fn no_module_uses_a_module_of_a_higher_layer() {
    let found = violations();
    assert!(found.is_empty(), "layer violations:\n{}", found.join("\n"));
}

#[test]
fn every_listed_module_is_declared_in_lib_rs() {
    let lib = fs::read_to_string(src().join("lib.rs")).expect("src/lib.rs");
    for module in layers().keys() {
        assert!(
            lib.contains(&format!("pub mod {module};")),
            "src/lib.rs lists `{module}` in a layer but declares no `pub mod {module};`"
        );
    }
}

#[test]
fn the_architecture_layer_names_nothing_above_it() {
    // The loop this layering ended: `arch` once imported `task`, `sched`, `syscalls` and
    // more for its exception entry, which now lives in `entry`.
    let layers = layers();
    assert_eq!(
        layers["arch"].number,
        layers.values().map(|l| l.number).max().unwrap()
    );
    assert_eq!(layers["entry"].number, 1);
}

#[test]
fn a_path_in_a_group_spanning_lines_is_seen() {
    let lines = [
        "use crate::{",
        "    arch,",
        "    task::{Task, X},",
        "};",
        "x(crate::sched::f)",
    ];
    assert_eq!(
        crate_paths(&lines),
        vec![
            (1, "arch".to_string()),
            (1, "task".to_string()),
            (5, "sched".to_string())
        ]
    );
}

#[test]
fn a_hook_is_accepted_only_under_its_cfg() {
    let lines = [
        "fn f() {",
        "    #[cfg(feature = \"fault-inject\")]",
        "    {",
        "        crate::inject::a();",
        "        crate::inject::b();",
        "    }",
        "    crate::inject::c();",
        "}",
    ];
    assert!(is_gated_hook(&lines, 4));
    assert!(is_gated_hook(&lines, 5));
    assert!(!is_gated_hook(&lines, 7));
}
