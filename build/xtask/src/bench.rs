//! `cargo xtask bench`: kernel and supervisor figures, in guest instructions.
//!
//! Benchmark images run under `qemu-system-arm -icount shift=0`, where virtual time
//! advances one nanosecond per guest instruction, and print `BENCH <key> <instructions>`
//! lines then `BENCH DONE` (see `test/task/bench-api` for how they time themselves). Sizes come
//! from the default app's kernel ELF. Results go to `target/bench/kernel.json` as one flat
//! JSON object and are printed next to Hubris's figures for the same shapes.

use std::collections::BTreeMap;
use std::time::Duration;

use object::{Object, ObjectSection, SectionFlags};

use crate::{Error, cargo, dist, qemu};

/// Hubris's figures for the same shapes on the same emulated machine (from the issue).
const HUBRIS: &[(&str, u64)] = &[
    ("ipc_roundtrip_4b", 1557),
    ("ipc_roundtrip_0b", 1002),
    ("ipc_roundtrip_256b", 2097),
    ("lease_read_256b", 816),
    ("ipc_oneway_send", 373),
    ("restart_fault_to_running", 3154),
    ("restart_client_unblocked", 3964),
    ("kernel_flash_bytes", 16716),
    ("kernel_ram_bytes", 2020),
];

/// Benchmark images: the kernel's own, the supervisor's and the USB stack's, when they exist.
const IMAGES: &[&str] = &["kernel-bench", "jefe-bench", "usb-bench"];

pub fn run() -> Result<(), Error> {
    let mut figures = BTreeMap::new();
    for image in IMAGES {
        let Ok(path) = dist::app_toml_path(image) else {
            eprintln!("(no test/app/{image}: its figures are skipped)");
            continue;
        };
        figures.extend(run_image(&path)?);
    }
    let default = dist::dist(&dist::app_toml_path(crate::DEFAULT_APP)?)?;
    let (flash, ram) = kernel_sizes(&dist::read(&default.kernel_elf)?)?;
    figures.insert("kernel_flash_bytes".to_string(), flash);
    figures.insert("kernel_ram_bytes".to_string(), ram);

    let out_dir = cargo::target_dir().join("bench");
    std::fs::create_dir_all(&out_dir).map_err(|e| Error::io(&out_dir, e))?;
    let json = serde_json::to_string_pretty(&figures).map_err(|e| Error::new(e.to_string()))?;
    let out = out_dir.join("kernel.json");
    std::fs::write(&out, json + "\n").map_err(|e| Error::io(&out, e))?;

    println!(
        "{:<28} {:>10} {:>10} {:>8}",
        "benchmark", "bulkhead", "hubris", "ratio"
    );
    for (key, value) in &figures {
        match HUBRIS.iter().find(|(k, _)| k == key) {
            Some((_, hubris)) => println!(
                "{key:<28} {value:>10} {hubris:>10} {:>8.2}",
                *value as f64 / *hubris as f64
            ),
            None => println!("{key:<28} {value:>10} {:>10} {:>8}", "-", "-"),
        }
    }
    println!("written to {}", out.display());
    Ok(())
}

fn run_image(path: &std::path::Path) -> Result<BTreeMap<String, u64>, Error> {
    let built = dist::dist(path)?;
    let image = path.display();
    let machine = built
        .app
        .board
        .qemu_machine
        .clone()
        .ok_or_else(|| Error::new(format!("{image}: board has no qemu-machine")))?;
    let extra = vec!["-icount".to_string(), "shift=0".to_string()];
    let capture = qemu::capture(
        &machine,
        &built.final_elf,
        &extra,
        Duration::from_secs(300),
        |l| l == "BENCH DONE",
    )?;
    if capture.timed_out || capture.lines.last().map(String::as_str) != Some("BENCH DONE") {
        return Err(Error::new(format!(
            "{image}: no `BENCH DONE` (last lines: {:?})",
            capture.lines.iter().rev().take(5).collect::<Vec<_>>()
        )));
    }
    parse_bench_lines(&capture.lines).map_err(|e| Error::new(format!("{image}: {e}")))
}

/// `BENCH <key> <n>` lines into figures; any malformed `BENCH` line is an error.
pub fn parse_bench_lines(lines: &[String]) -> Result<BTreeMap<String, u64>, String> {
    let mut figures = BTreeMap::new();
    for line in lines
        .iter()
        .filter(|l| l.starts_with("BENCH ") && *l != "BENCH DONE")
    {
        let mut parts = line.split_whitespace().skip(1);
        match (
            parts.next(),
            parts.next().and_then(|n| n.parse().ok()),
            parts.next(),
        ) {
            (Some(key), Some(value), None) => {
                figures.insert(key.to_string(), value);
            }
            _ => return Err(format!("malformed benchmark line {line:?}")),
        }
    }
    Ok(figures)
}

/// The kernel's flash (every allocated section loaded from flash: vector table, code,
/// constants, the `.data` image) and static RAM (`.data` and `.bss`; the main stack is
/// configured separately in `app.toml`).
fn kernel_sizes(elf: &[u8]) -> Result<(u64, u64), Error> {
    let file = object::File::parse(elf).map_err(|e| Error::new(format!("kernel ELF: {e}")))?;
    let alloc = |s: &object::Section<'_, '_>| matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0);
    let mut flash = 0;
    let mut ram = 0;
    for s in file.sections().filter(alloc) {
        match s.name().unwrap_or_default() {
            ".stack" => {}
            ".data" => {
                flash += s.size();
                ram += s.size();
            }
            ".bss" => ram += s.size(),
            _ => flash += s.size(),
        }
    }
    Ok((flash, ram))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_lines_become_figures_and_bad_lines_are_refused() {
        let lines: Vec<String> = [
            "noise",
            "BENCH ipc_roundtrip_0b 776",
            "BENCH lease_read_256b 642",
            "BENCH DONE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let f = parse_bench_lines(&lines).unwrap();
        assert_eq!(f["ipc_roundtrip_0b"], 776);
        assert_eq!(f.len(), 2);
        assert!(parse_bench_lines(&["BENCH x".to_string()]).is_err());
        assert!(parse_bench_lines(&["BENCH x 1 2".to_string()]).is_err());
    }
}
