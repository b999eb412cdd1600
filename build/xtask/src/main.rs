//! `cargo xtask`: build, package, run and test Bulkhead images.
//!
//! Commands: `dist [APP]`, `run [APP] [--gdb]`, `test [FILTER]`, `sizes [APP]`, `bench`,
//! `dump [APP]`, `restart-test [APP] [OPTIONS]`, `campaign [OPTIONS]`, `clippy`. APP is a folder
//! name under `app/` or `test/app/` (default `qemu-m7`) or a path.

mod alloc;
mod archive;
mod bench;
mod campaign;
mod cargo;
mod clippy;
use app_config as config;
mod contract;
mod dist;
mod dump;
mod elfimage;
mod gdb;
mod kconfig;
mod link;
mod qemu;
mod restart_test;
mod sizes;
mod test;

use std::fmt;
use std::path::Path;
use std::process::ExitCode;

pub const DEFAULT_APP: &str = "qemu-m7";

/// A failure to report to the user; the message names the file, task or key at fault.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error(message.into())
    }

    pub fn io(path: &Path, e: std::io::Error) -> Self {
        Error(format!("{}: {e}", path.display()))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const USAGE: &str = "usage: cargo xtask <command>
  dist [APP]         build APP (default qemu-m7) into target/dist/APP/ with its humility archive
  run [APP] [--gdb]  build APP and boot it in QEMU with the console on this terminal;
                     --gdb also opens QEMU's GDB stub on localhost:3333 (the guest still
                     boots at once, it does not wait for a debugger)
  test [FILTER]      run host tests and QEMU system tests (those whose name contains FILTER)
  sizes [APP]        flash and RAM used and wasted per task and for the kernel
  clippy             clippy, warnings denied, on the host packages and every app's firmware
  bench              run the QEMU benchmarks and write target/bench/kernel.json
  dump [APP]         halt a running QEMU (from `run --gdb`) and write a humility dump
  restart-test [APP] [--task NAME]... [--cycles N] [--trigger restart|fault|unload-load|hang] [--seed S]
                     restart APP's tasks at seeded instants in QEMU, as `humility jefe` does,
                     and check that everything comes back healthy
  campaign [--app APP] [--faults N] [--seed S] [--boot B]
                     inject N (default 2000) random faults into the drivers of APP (default
                     test/app/campaign; campaign-usb: the USB stack) across parallel QEMU boots;
                     print outcomes and failures, write target/campaign/report.json;
                     --boot B repeats one boot of seed S";

fn run(args: &[String]) -> Result<(), Error> {
    let app_arg = |i: usize| {
        args.get(i)
            .filter(|a| !a.starts_with("--"))
            .map_or(DEFAULT_APP, String::as_str)
    };
    match args.first().map(String::as_str) {
        Some("dist") => {
            let d = dist::dist(&dist::app_toml_path(app_arg(1))?)?;
            println!("{}", d.archive.display());
            Ok(())
        }
        Some("run") => {
            let d = dist::dist(&dist::app_toml_path(app_arg(1))?)?;
            let machine = d.app.board.qemu_machine.clone().ok_or_else(|| {
                Error::new(format!(
                    "board \"{}\" cannot run in QEMU (no qemu-machine in its board file)",
                    d.app.board.name
                ))
            })?;
            if let Some(console) = &d.app.board.console {
                eprintln!("console: {console} on this terminal");
            }
            qemu::run_interactive(&machine, &d.final_elf, args.iter().any(|a| a == "--gdb"))
        }
        Some("test") => {
            if test::run(args.get(1).map(String::as_str))? {
                Ok(())
            } else {
                Err(Error::new("some tests failed"))
            }
        }
        Some("dump") => dump::command(&args[1..]),
        Some("restart-test") => restart_test::command(&args[1..]),
        Some("campaign") => campaign::command(&args[1..]),
        Some(check @ ("check-archive" | "check-dump")) => contract::command(check, &args[1..]),
        Some("bench") => bench::run(),
        Some("clippy") => {
            if clippy::run()? {
                Ok(())
            } else {
                Err(Error::new("clippy found problems"))
            }
        }
        Some("sizes") => sizes::print(&dist::dist(&dist::app_toml_path(app_arg(1))?)?),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(Error::new(format!("unknown command \"{other}\"\n{USAGE}"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
