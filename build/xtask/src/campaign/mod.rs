//! `cargo xtask campaign [--app NAME] [--faults N] [--seed S] [--boot B]`: the fault-injection
//! campaign (`doc/fault-campaign.md`).
//!
//! The campaign image's kernel (`test/app/campaign` unless `--app` names another with a
//! `[kernel.fault-inject]` plan, such as `campaign-usb`) injects faults into its targets and reports each one over
//! semihosting (`sys/kern/src/inject.rs`). This runs that image as many times as it takes to
//! inject N faults, each boot under `-icount shift=0,sleep=off` with its own seed patched
//! into the image (`BULKHEAD_CAMPAIGN_RUN`), as many boots at a time as the host has cores;
//! reads every boot back ([`boot::Boot`]), and prints faults by kind and outcome, failures
//! by class, restarts per task and wall time. `target/campaign/report.json` has the same,
//! with `faults_injected` and `failures` (every class, zero or not); boot images and logs go
//! to `target/campaign/seed-S/`. A failure prints the
//! command that repeats its boot and the fault index; `--boot B` reruns boot B of seed S
//! alone, which under icount injects the same faults at the same instructions.

pub mod boot;
mod replay;
mod report;
pub mod rogue;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use object::{Object, ObjectSegment};

use crate::{Error, cargo, dist, elfimage, qemu};
use boot::{Boot, Image};
pub use report::Report;

/// The campaign image.
pub const APP: &str = "campaign";
/// A boot that has not ended after this long is lost (a healthy one takes seconds).
const BOOT_WALL_LIMIT: Duration = Duration::from_secs(600);

pub struct Options {
    /// The image (`test/app/NAME`).
    pub app: String,
    pub faults: u32,
    pub seed: u32,
    /// Run this boot of the seed alone.
    pub boot: Option<u32>,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, Error> {
        let mut options = Options {
            app: APP.to_string(),
            faults: 2000,
            seed: 1,
            boot: None,
        };
        let mut args = args.iter();
        while let Some(flag) = args.next() {
            let mut value = || {
                let text = args
                    .next()
                    .ok_or_else(|| Error::new(format!("campaign: {flag} needs a value")))?;
                text.parse::<u32>()
                    .map_err(|_| Error::new(format!("campaign: {flag} {text}: not a number")))
            };
            match flag.as_str() {
                "--app" => {
                    options.app = args
                        .next()
                        .ok_or_else(|| Error::new("campaign: --app needs a value"))?
                        .clone();
                }
                "--faults" => options.faults = value()?,
                "--seed" => options.seed = value()?,
                "--boot" => options.boot = Some(value()?),
                other => return Err(Error::new(format!("campaign: unknown option {other}"))),
            }
        }
        if options.faults == 0 {
            return Err(Error::new("campaign: --faults must be 1 or more"));
        }
        Ok(options)
    }
}

/// `cargo xtask campaign ...`: prints the table, writes the report, fails on any failure.
pub fn command(args: &[String]) -> Result<(), Error> {
    let options = Options::parse(args)?;
    let report = run(&options)?;
    print!("{}", report.table());
    let total = report.total_failures();
    if total == 0 {
        Ok(())
    } else {
        Err(Error::new(format!(
            "campaign: {total} failure(s); each is listed above with the command that repeats it"
        )))
    }
}

/// The kernel seed of boot `index` of campaign seed `seed`: distinct for every pair while both
/// are below 65536.
pub fn boot_seed(seed: u32, index: u32) -> u32 {
    seed.wrapping_mul(0x0001_0000).wrapping_add(index)
}

/// Builds the image, runs the boots and writes `target/campaign/report.json`.
pub fn run(options: &Options) -> Result<Report, Error> {
    cargo::ensure_firmware_target()?;
    let built = dist::dist(&dist::app_toml_path(&options.app)?)?;
    let app = &built.app;
    let plan = app.kernel.fault_inject.as_ref().ok_or_else(|| {
        Error::new(format!(
            "{}: no [kernel.fault-inject] plan",
            app.file.display()
        ))
    })?;
    let machine = qemu::machine_of(app)?;
    let task_index = |name: &str| {
        app.task(name).map(|t| t.index).ok_or_else(|| {
            Error::new(format!(
                "{}: the campaign workload reports on task \"{name}\", which the app lacks",
                app.file.display()
            ))
        })
    };
    // Which tasks answer each operation the workload reports as corrupt: a wrong answer while
    // one of them had a fault in flight is silent, from clean incarnations a failure.
    let answered_by: Vec<(&str, usize)> = if app.task("pong").is_some() {
        let (pong, server) = (task_index("pong")?, task_index("server")?);
        vec![
            ("ping", pong),
            ("echo", pong),
            ("server-ping", server),
            ("server-code", server),
        ]
    } else {
        // Each workload's data goes through its class driver and every layer below it: the
        // hub's driver, the core and the controller driver.
        let mut path = Vec::new();
        for (op, driver) in [
            ("disk", "usb-msc"),
            ("keys", "usb-hid"),
            ("serial", "usb-cdc"),
        ] {
            if app.task(driver).is_none() {
                continue;
            }
            for task in [driver, "usb-hub", "usb-core", "usb-hcd"] {
                if app.task(task).is_some() {
                    path.push((op, task_index(task)?));
                }
            }
        }
        path
    };
    let targets: Vec<usize> = plan.targets.iter().map(|&(i, _)| i).collect();
    let rogue_index = app.task(rogue::TASK).map(|t| t.index);
    let image = Image {
        targets: &targets,
        answered_by: &answered_by,
        rogue: rogue_index,
    };
    let names: Vec<String> = app.tasks.iter().map(|t| t.name.clone()).collect();

    let per_boot = plan.faults;
    let boots: Vec<(u32, u32)> = match options.boot {
        Some(b) => vec![(b, per_boot)],
        None => (0..options.faults.div_ceil(per_boot))
            .map(|b| (b, per_boot.min(options.faults - b * per_boot)))
            .collect(),
    };
    let out_dir = cargo::target_dir().join("campaign");
    // Boot files per seed, so two campaigns of different seeds can run side by side.
    let boot_dir = match options.app.as_str() {
        APP => out_dir.join(format!("seed-{}", options.seed)),
        _ => out_dir.join(format!("{}-seed-{}", app.name, options.seed)),
    };
    std::fs::create_dir_all(&boot_dir).map_err(|e| Error::io(&boot_dir, e))?;
    let final_elf = dist::read(&built.final_elf)?;
    let archive = dist::read(&built.archive)?;
    let kernel_elf = dist::read(&built.kernel_elf)?;
    let mut patches = vec![symbol_offset(
        &kernel_elf,
        dist::INJECTOR_SYMBOL,
        &final_elf,
    )?];
    if rogue_index.is_some() {
        let rogue_elf = dist::read(&built.dir.join("elf/task").join(rogue::TASK))?;
        patches.push(symbol_offset(&rogue_elf, rogue::SEED_SYMBOL, &final_elf)?);
    }

    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(boots.len());
    eprintln!(
        "campaign: {} fault(s) in {} boot(s) of up to {per_boot}, seed {}, {workers} QEMU at a time",
        boots.iter().map(|b| b.1).sum::<u32>(),
        boots.len(),
        options.seed
    );
    let started = Instant::now();
    let next = AtomicU32::new(0);
    let results: Mutex<Vec<(u32, Result<Boot, Error>)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&(index, faults)) = boots.get(i) else {
                        break;
                    };
                    let seed = boot_seed(options.seed, index);
                    let boot = Patched {
                        machine: &machine,
                        final_elf: &final_elf,
                        patches: &patches,
                        out_dir: &boot_dir,
                        archive: &archive,
                    };
                    let result = run_boot(&boot, &image, index, seed, faults);
                    results.lock().unwrap().push((index, result));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(index, _)| *index);
    let mut report = Report::new(options.seed, names, started.elapsed());
    if rogue_index.is_some() {
        report.rogue = Some(rogue::Tally::default());
    }
    if options.app != APP {
        report.app_flag = format!(" --app {}", options.app);
    }
    for (index, result) in results {
        report.add(index, boot_seed(options.seed, index), result?);
    }
    let json = out_dir.join("report.json");
    std::fs::write(&json, report.json() + "\n").map_err(|e| Error::io(&json, e))?;
    eprintln!("campaign: wrote {}", json.display());
    Ok(report)
}

/// Where `symbol` of the ELF `elf` (the kernel's or a task's) is in the file `final.elf`:
/// its address comes from that ELF's symbols, the file offset from the final image's load
/// segments.
fn symbol_offset(elf: &[u8], symbol: &str, final_elf: &[u8]) -> Result<usize, Error> {
    let bytes = elfimage::symbol_bytes(elf, symbol)
        .map_err(|e| Error::new(format!("campaign image: {e}")))?;
    let file = object::File::parse(final_elf).map_err(|e| Error::new(e.to_string()))?;
    file.segments()
        .find_map(|s| {
            let (offset, size) = s.file_range();
            let within = bytes.address.checked_sub(s.address())?;
            (within + bytes.size <= size).then(|| (offset + within) as usize)
        })
        .ok_or_else(|| {
            Error::new(format!(
                "campaign: {symbol} ({:#x}) is not in the final image",
                bytes.address
            ))
        })
}

/// QEMU's arguments for a boot: virtual time from instructions, the kernel's report lines
/// to `log` by semihosting, the rogue's (if any) to `rogue_log` on the second UART.
fn boot_args(log: &Path, rogue_log: &Path) -> Vec<String> {
    [
        "-icount",
        "shift=0,sleep=off",
        "-semihosting-config",
        "enable=on,target=native,chardev=campaign",
        "-chardev",
        &format!("file,id=campaign,path={}", log.display()),
        "-serial",
        &format!("file:{}", rogue_log.display()),
    ]
    .map(String::from)
    .into()
}

/// What every boot of one campaign shares.
struct Patched<'a> {
    machine: &'a str,
    final_elf: &'a [u8],
    /// Where the seed goes in `final_elf`: first the kernel's `BULKHEAD_CAMPAIGN_RUN` (seed,
    /// faults, hold on failure), then the rogue's seed where there is a rogue.
    patches: &'a [usize],
    out_dir: &'a Path,
    /// The humility archive, for a dump of a failure.
    archive: &'a [u8],
}

/// One boot: its own copy of the image with the seed and fault count patched in; a boot
/// that failed is replayed for a dump of its failure.
fn run_boot(
    patched: &Patched<'_>,
    image: &Image<'_>,
    index: u32,
    seed: u32,
    faults: u32,
) -> Result<Boot, Error> {
    let Patched {
        machine,
        final_elf,
        patches,
        out_dir,
        archive,
    } = *patched;
    let mut elf = final_elf.to_vec();
    for &at in patches {
        elf[at..at + 4].copy_from_slice(&seed.to_le_bytes());
    }
    let run_at = patches[0];
    elf[run_at + 4..run_at + 8].copy_from_slice(&faults.to_le_bytes());
    let elf_path = out_dir.join(format!("boot-{index}.elf"));
    let log: PathBuf = out_dir.join(format!("boot-{index}.log"));
    // The second serial port (uart1): the rogue's lines, where there is a rogue.
    let rogue_log: PathBuf = out_dir.join(format!("boot-{index}.rogue"));
    let _ = std::fs::remove_file(&rogue_log);
    std::fs::write(&elf_path, &elf).map_err(|e| Error::io(&elf_path, e))?;
    let _ = std::fs::remove_file(&log);
    let extra = boot_args(&log, &rogue_log);
    let capture = qemu::capture(machine, &elf_path, &extra, BOOT_WALL_LIMIT, |_| false)?;
    let timed_out = capture.timed_out;
    let console = capture.lines.clone();
    drop(capture);
    // Beside the kernel's report: the workload's own lines say what it checked and saw.
    let console_path = out_dir.join(format!("boot-{index}.console"));
    let _ = std::fs::write(&console_path, console.join("\n") + "\n");
    let kernel = std::fs::read_to_string(&log).unwrap_or_default();
    let mut boot = Boot::parse(image, &kernel, &console, timed_out)
        .map_err(|e| Error::new(format!("campaign boot {index} ({}): {e}", log.display())))?;
    if image.rogue.is_some() {
        let moves = std::fs::read(&rogue_log).unwrap_or_default();
        boot.add_rogue_moves(&moves)
            .map_err(|e| Error::new(format!("{}: {e}", rogue_log.display())))?;
    }
    if boot.failures.is_empty() {
        let _ = std::fs::remove_file(&elf_path);
    } else if boot.ended {
        let limit = BOOT_WALL_LIMIT;
        let kernel_saw_it = kernel.lines().any(|l| l.starts_with("FX "));
        let replay = replay::dump_failure(
            machine,
            &elf,
            run_at,
            out_dir,
            index,
            archive,
            limit,
            kernel_saw_it,
        );
        boot.dump = Some(match replay {
            Ok(dump) => format!(
                "humility dump of {}: {} (`humility -d {} tasks`)",
                if dump.at_end {
                    "the boot's end (the kernel cannot see this failure)"
                } else {
                    "that moment"
                },
                dump.path.display(),
                dump.path.display()
            ),
            Err(e) => format!("no dump: {e}"),
        });
    } else {
        boot.dump = Some("no dump: the boot never reported its end".to_string());
    }
    Ok(boot)
}
