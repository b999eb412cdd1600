//! Running images in QEMU: finding (or installing) `qemu-system-arm`, the interactive
//! console, and captured runs for system tests and benchmarks.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Error;

pub const QEMU: &str = "qemu-system-arm";

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Makes sure `qemu-system-arm` exists: installs it with apt-get when we are root on a
/// Debian-like system, otherwise says exactly what to install.
pub fn ensure_qemu() -> Result<(), Error> {
    if on_path(QEMU) {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .ok()
        .is_some_and(|o| o.stdout.starts_with(b"0"));
    if !(is_root && on_path("apt-get")) {
        return Err(Error::new(format!(
            "{QEMU} is not installed. Install it with `sudo apt-get install qemu-system-arm` (Debian/Ubuntu) \
             or your distribution's qemu-system-arm package, then run this again."
        )));
    }
    eprintln!("{QEMU} is missing; installing it with apt-get (qemu-system-arm)...");
    for args in [
        &["update", "-q"][..],
        &["install", "-y", "-q", "qemu-system-arm"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| Error::new(format!("cannot run apt-get: {e}")))?;
        if !status.success() {
            return Err(Error::new(format!(
                "`apt-get {}` failed; install qemu-system-arm by hand",
                args.join(" ")
            )));
        }
    }
    Ok(())
}

/// The QEMU machine of `app`'s board, or an error naming the app and the board.
pub fn machine_of(app: &crate::config::App) -> Result<String, Error> {
    app.board.qemu_machine.clone().ok_or_else(|| {
        Error::new(format!(
            "{}: board \"{}\" cannot run in QEMU",
            app.file.display(),
            app.board.name
        ))
    })
}

/// The common QEMU arguments for an image on `machine`.
pub fn base_args(machine: &str, image: &Path) -> Vec<String> {
    vec![
        "-M".into(),
        machine.into(),
        "-display".into(),
        "none".into(),
        "-monitor".into(),
        "none".into(),
        "-kernel".into(),
        image.display().to_string(),
    ]
}

/// Boots `image` with its console on this terminal until QEMU exits (Ctrl-C ends it).
pub fn run_interactive(machine: &str, image: &Path, gdb: bool) -> Result<(), Error> {
    ensure_qemu()?;
    if gdb {
        eprintln!(
            "QEMU's GDB stub listens on localhost:{GDB_PORT}; the guest boots at once. \
             `cargo xtask dump` (another terminal) writes a humility dump of it as it runs."
        );
    }
    eprintln!(
        "Booting {} on {machine}; press Ctrl-C to stop.",
        image.display()
    );
    let args = interactive_args(machine, image, gdb);
    let status = Command::new(QEMU)
        .args(&args)
        .status()
        .map_err(|e| Error::new(format!("cannot start {QEMU}: {e}")))?;
    // Ctrl-C reaches QEMU through the terminal's process group and it exits by signal;
    // that is how a user stops it, not an error.
    if !status.success() && status.code().is_some() {
        return Err(Error::new(format!("{QEMU} exited with {status}")));
    }
    Ok(())
}

/// The GDB stub's port for `run --gdb`, where `cargo xtask dump` looks by default.
pub const GDB_PORT: u16 = 3333;

/// QEMU's arguments for `run`. With `gdb`, the stub listens but the guest does not wait for
/// it (no `-S`): what `run --gdb` is for is looking at a running system (`cargo xtask dump`
/// for humility, or gdb attaching and interrupting when it likes), and a guest held at reset
/// would give a first dump of a system that has not booted, with a silent console until
/// something attached.
///
/// Virtual time comes from the instruction count (`-icount shift=0`: a nanosecond per
/// instruction, a 1 GHz core), so the board has the same instructions per millisecond on
/// any host. On the host's clock, a slow or loaded host leaves too few instructions per
/// tick for the default app's periodic work (usb-sim's frames cost QEMU about half a core
/// of an idle development machine), and the guest would never be idle: the lowest
/// priorities, ping and idle, would not run. Waits still take real time (`sleep=on`).
fn interactive_args(machine: &str, image: &Path, gdb: bool) -> Vec<String> {
    let mut args = base_args(machine, image);
    args.extend(["-serial".into(), "stdio".into()]);
    args.extend(["-icount".into(), "shift=0".into()]);
    if gdb {
        args.extend(["-gdb".into(), format!("tcp::{GDB_PORT}")]);
    }
    args
}

/// A captured run: QEMU's console lines, collected until `done` says stop, the timeout
/// passes, or QEMU exits.
pub struct Capture {
    pub lines: Vec<String>,
    pub timed_out: bool,
    /// QEMU, still running (unless it exited) so a failure can be inspected through its
    /// GDB stub; it is killed and reaped when the capture is dropped.
    _session: Session,
}

pub struct Session {
    child: Child,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `image` with extra QEMU `args`, feeding each console line to `done` until it
/// returns true.
pub fn capture(
    machine: &str,
    image: &Path,
    extra: &[String],
    timeout: Duration,
    mut done: impl FnMut(&str) -> bool,
) -> Result<Capture, Error> {
    let (session, rx) = start(machine, image, extra)?;
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timed_out = match rx.recv_timeout(left) {
            _ if left.is_zero() => true,
            Ok(line) => {
                let line = line.trim_end_matches('\r').to_string();
                let stop = done(&line);
                lines.push(line);
                if !stop {
                    continue;
                }
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => true,
            Err(mpsc::RecvTimeoutError::Disconnected) => false,
        };
        return Ok(Capture {
            lines,
            timed_out,
            _session: session,
        });
    }
}

/// Starts `image` with extra QEMU `args` in the background; its console lines arrive on
/// the receiver (carriage returns included). QEMU lives as long as the session.
pub fn start(
    machine: &str,
    image: &Path,
    extra: &[String],
) -> Result<(Session, mpsc::Receiver<String>), Error> {
    ensure_qemu()?;
    let mut args = base_args(machine, image);
    args.extend(["-serial".into(), "stdio".into()]);
    args.extend(extra.iter().cloned());
    let mut child = Command::new(QEMU)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::new(format!("cannot start {QEMU}: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((Session { child }, rx))
}

/// A TCP port on localhost that was free a moment ago, for QEMU's GDB stub.
pub fn free_port() -> Result<u16, Error> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Error::new(format!("no free local port for the GDB stub: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_takes_virtual_time_from_the_instruction_count() {
        for gdb in [false, true] {
            let args = interactive_args("mps2-an500", Path::new("final.elf"), gdb);
            let icount = args.iter().position(|a| a == "-icount").expect("-icount");
            assert_eq!(args[icount + 1], "shift=0", "{args:?}");
        }
    }

    #[test]
    fn run_with_gdb_opens_the_stub_and_boots_at_once() {
        let args = interactive_args("mps2-an500", Path::new("final.elf"), true);
        let gdb = args.iter().position(|a| a == "-gdb").expect("-gdb");
        assert_eq!(args[gdb + 1], "tcp::3333");
        assert!(
            !args.iter().any(|a| a == "-S"),
            "the guest must not wait for a debugger: {args:?}"
        );
        assert!(
            !interactive_args("mps2-an500", Path::new("final.elf"), false)
                .iter()
                .any(|a| a == "-gdb")
        );
    }
}
