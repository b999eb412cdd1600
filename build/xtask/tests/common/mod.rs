//! Shared helpers for the xtask integration tests: running the `xtask` binary, building the
//! QEMU app once per test binary, and QEMU sessions that are killed on every path.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

pub const APP: &str = "qemu-m7";

/// Runs the xtask binary Cargo built for these tests. `CARGO_TARGET_DIR` is inherited, so
/// `dist` and `dump` use the same target directory as the test run.
pub fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("CARGO", env!("CARGO"))
        .output()
        .expect("xtask runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A finished `cargo xtask dist qemu-m7`.
pub struct Built {
    pub archive: PathBuf,
    pub dir: PathBuf,
}

impl Built {
    pub fn final_elf(&self) -> PathBuf {
        self.dir.join("img").join("final.elf")
    }
}

/// Builds the app once per test binary.
pub fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let output = xtask(&["dist", APP]);
        assert!(
            output.status.success(),
            "cargo xtask dist {APP} failed:\n{}",
            stderr(&output)
        );
        let archive = PathBuf::from(
            stdout(&output)
                .lines()
                .last()
                .expect("dist prints the archive path")
                .trim(),
        );
        let dir = archive.parent().expect("archive has a folder").to_owned();
        Built { archive, dir }
    })
}

/// A temporary folder removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("xtask-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// QEMU running an image with its GDB stub on `port`; killed and reaped on drop.
pub struct Qemu {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub port: u16,
    /// Every console line seen so far.
    pub console: Vec<String>,
}

/// Virtual time from the instruction count, as under `cargo xtask run` (`qemu.rs`): the
/// guest has the same instructions per millisecond on a loaded host as on an idle one. On
/// the host's clock, a QEMU at half the speed of an idle development machine needs over a
/// core for the default app's periodic work (usb-sim's frames); the guest is then busy from
/// its first milliseconds and the idle task may not have run when a test looks (CI once
/// dumped a system whose idle task had never started, its stack never painted). Waits still
/// take real time (icount's default `sleep=on`), so console timing is as before.
const ICOUNT: [&str; 2] = ["-icount", "shift=0"];

impl Qemu {
    pub fn boot(image: &Path) -> Qemu {
        let port = free_port();
        let mut child = Command::new("qemu-system-arm")
            .args([
                "-M",
                "mps2-an500",
                "-display",
                "none",
                "-monitor",
                "none",
                "-serial",
                "stdio",
                "-kernel",
            ])
            .arg(image)
            .args(ICOUNT)
            .args(["-gdb", &format!("tcp::{port}")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("qemu-system-arm starts (install qemu-system-arm)");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take().expect("piped stdin");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line.trim_end_matches('\r').to_owned()).is_err() {
                    break;
                }
            }
        });
        Qemu {
            child,
            stdin,
            lines,
            port,
            console: Vec::new(),
        }
    }

    /// Waits until `count` more console lines containing `needle` arrived; panics with the
    /// console so far after `timeout`.
    pub fn wait_for(&mut self, needle: &str, count: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut seen = 0;
        while seen < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    seen += usize::from(line.contains(needle));
                    self.console.push(line);
                }
                Err(_) => panic!(
                    "no {count} console lines with {needle:?} within {timeout:?}; console:\n{}",
                    self.console.join("\n")
                ),
            }
        }
    }

    /// Waits up to `timeout` for a line containing `needle`; the line, or `None` (no panic).
    pub fn line_with(&mut self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            self.console.push(line.clone());
            if line.contains(needle) {
                return Some(line);
            }
        }
    }

    /// Types `command` until a line containing `needle` answers it (each try waits `each`),
    /// at most `tries` times: for state that settles (a device enumerating, a driver coming
    /// back). Panics with the console so far when it never does.
    pub fn retry(&mut self, command: &str, needle: &str, tries: usize, each: Duration) -> String {
        for _ in 0..tries {
            self.type_text(&format!("{command}\n"));
            if let Some(line) = self.line_with(needle, each) {
                return line;
            }
        }
        panic!(
            "`{command}` never answered {needle:?} in {tries} tries of {each:?}; console:\n{}",
            self.console.join("\n")
        )
    }

    /// Types `command` and a newline, waits for a line containing `until`, and returns the
    /// console lines that came after the command was typed.
    pub fn command(&mut self, command: &str, until: &str, timeout: Duration) -> Vec<String> {
        let before = self.console.len();
        self.type_text(&format!("{command}\n"));
        self.wait_for(until, 1, timeout);
        self.console[before..].to_vec()
    }

    /// Types `tasks` and waits for its last line, idle's (the supervisor lists idle last);
    /// returns the lines that came after the command. Find a task's line with [`task_line`],
    /// by name: indices move whenever app.toml gains a task.
    pub fn tasks(&mut self, timeout: Duration) -> Vec<String> {
        let before = self.console.len();
        self.type_text("tasks\n");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let last = task_name(&line) == Some("idle");
                    self.console.push(line);
                    if last {
                        return self.console[before..].to_vec();
                    }
                }
                Err(_) => panic!(
                    "`tasks` did not list idle within {timeout:?}; console:\n{}",
                    self.console.join("\n")
                ),
            }
        }
    }

    /// Sends `text` to the console UART.
    pub fn type_text(&mut self, text: &str) {
        self.stdin
            .write_all(text.as_bytes())
            .expect("write to QEMU");
        self.stdin.flush().expect("flush");
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The task a line of the console's `tasks` answer is about (`  7 usb-msc  running ...`):
/// its second word, after the index.
pub fn task_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    words.next()?.parse::<usize>().ok()?;
    words.next()
}

/// The line of task `name` in a `tasks` answer.
pub fn task_line<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    lines
        .iter()
        .map(String::as_str)
        .find(|l| task_name(l) == Some(name))
}
