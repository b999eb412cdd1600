//! humility's `jefe` protocol (doc/humility-contract.md 6.1), driven the way `humility jefe`
//! drives it, against a booted qemu-m7: through QEMU's GDB stub, halt, write
//! `JEFE_EXTERNAL_REQUEST`, `TASKINDEX` and `KICK` at their ELF symbol addresses, resume,
//! and poll `REQUESTS` / `ERRORS` every 100 ms. The task's state change is then read on the
//! console's `tasks` command.

mod common;
#[path = "../src/gdb.rs"]
#[allow(dead_code)]
mod gdb;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{Qemu, built, task_line};
use gdb::Gdb;
use object::{Object, ObjectSymbol};

const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// humility's default `-t`.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// qemu-m7's app.toml order.
const PONG: u32 = 2;

const START: u32 = 1;
const RELEASE: u32 = 3;
const FAULT: u32 = 4;

/// Addresses of the six `JEFE_EXTERNAL_*` words in jefe's ELF.
fn words() -> HashMap<String, u32> {
    let elf = std::fs::read(built().dir.join("elf").join("task").join("jefe")).expect("jefe's ELF");
    let file = object::File::parse(&*elf).expect("an ELF");
    let words: HashMap<String, u32> = file
        .symbols()
        .filter_map(|s| {
            let name = s.name().ok()?.strip_prefix("JEFE_EXTERNAL_")?;
            (s.size() == 4).then(|| (name.to_owned(), s.address() as u32))
        })
        .collect();
    assert_eq!(
        words.len(),
        6,
        "six word-sized JEFE_EXTERNAL_* symbols: {words:?}"
    );
    words
}

/// Halts the guest, runs `f` with physical memory access, and lets the guest go again.
fn halted<R>(port: u16, f: impl FnOnce(&mut Gdb) -> R) -> R {
    let mut gdb =
        Gdb::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(5)).expect("GDB stub");
    gdb.halt().expect("halt");
    assert!(
        gdb.physical_memory(true).expect("PhyMemMode"),
        "QEMU's stub knows PhyMemMode"
    );
    let result = f(&mut gdb);
    gdb.physical_memory(false).expect("PhyMemMode off");
    gdb.detach().expect("detach resumes the guest");
    result
}

fn read(gdb: &mut Gdb, address: u32) -> u32 {
    let bytes = gdb.read_memory(address, 4).expect("read");
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

fn write(gdb: &mut Gdb, address: u32, value: u32) {
    let hex: String = value
        .to_le_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let reply = gdb
        .request(&format!("M{address:x},4:{hex}"))
        .expect("write");
    assert_eq!(reply, b"OK", "memory write refused");
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Done,
    Refused,
}

/// One `humility jefe` request: returns how it ended, or panics on a timeout.
fn request(port: u16, words: &HashMap<String, u32>, request: u32, task: u32) -> Outcome {
    let (requests, errors) = halted(port, |gdb| {
        assert_eq!(read(gdb, words["READY"]), 1, "JEFE_EXTERNAL_READY is 1");
        write(gdb, words["REQUEST"], request);
        write(gdb, words["TASKINDEX"], task);
        write(gdb, words["KICK"], 1);
        (read(gdb, words["REQUESTS"]), read(gdb, words["ERRORS"]))
    });
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
        let (r, e) = halted(port, |gdb| {
            (read(gdb, words["REQUESTS"]), read(gdb, words["ERRORS"]))
        });
        if r != requests {
            return Outcome::Done;
        }
        if e != errors {
            return Outcome::Refused;
        }
    }
    panic!("request {request} for task {task}: operation timed out");
}

/// The console's `tasks` line for pong.
fn pong_line(qemu: &mut Qemu) -> String {
    let tasks = qemu.tasks(BOOT_TIMEOUT);
    task_line(&tasks, "pong")
        .expect("tasks lists pong")
        .to_owned()
}

/// Pong's `tasks` line once `settled` holds for it (a restart backs off a few ms first).
fn pong_when(qemu: &mut Qemu, settled: impl Fn(&str) -> bool) -> String {
    let mut line = pong_line(qemu);
    for _ in 0..20 {
        if settled(&line) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        line = pong_line(qemu);
    }
    line
}

#[test]
fn humility_jefe_faults_holds_releases_and_starts_tasks() {
    let words = words();
    let mut qemu = Qemu::boot(&built().final_elf());
    qemu.wait_for("console up", 1, BOOT_TIMEOUT);
    let port = qemu.port;

    assert_eq!(request(port, &words, FAULT, PONG), Outcome::Done);
    let line = pong_when(&mut qemu, |l| l.contains("stopped"));
    assert!(
        line.contains("stopped (hold)"),
        "pong is held after the fault: {line}"
    );
    assert!(
        line.contains("fault injected by jefe"),
        "the fault names jefe: {line}"
    );

    assert_eq!(request(port, &words, RELEASE, PONG), Outcome::Done);
    let line = pong_when(&mut qemu, |l| l.contains("running"));
    assert!(
        line.contains("running") && !line.contains("(hold)"),
        "pong runs again after release: {line}"
    );

    assert_eq!(request(port, &words, START, PONG), Outcome::Done);
    let line = pong_when(&mut qemu, |l| {
        l.contains("running") && l.contains("incarnation 3")
    });
    assert!(
        line.contains("running") && line.contains("incarnation 3"),
        "start restarted pong: {line}"
    );

    assert_eq!(
        request(port, &words, START, 0),
        Outcome::Refused,
        "the supervisor is refused"
    );
    assert_eq!(
        request(port, &words, 9, PONG),
        Outcome::Refused,
        "an unknown request is refused"
    );
}
