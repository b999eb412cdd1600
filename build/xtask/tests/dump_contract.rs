//! `cargo xtask dump` against a booted QEMU writes a dump that meets the humility contract
//! (`doc/humility-contract.md` 5), decodes to the tasks we expect, and leaves the guest running;
//! `check-dump` refuses dumps humility would refuse.
//!
//! One QEMU run per test binary produces the dump ([`booted_dump`]); QEMU is killed as soon
//! as the dump is written, and on every failure path (its guard kills it on drop).

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use common::{APP, Qemu, TempDir, built, stderr, stdout, task_line, xtask};
use object::{Object, ObjectSymbol};
use serde_json::Value;

const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
const TASKS: [&str; 12] = [
    "jefe", "console", "pong", "ping", "usb-sim", "usb-hcd", "usb-core", "usb-msc", "usb-hid",
    "usb-cdc", "usb-hub", "idle",
];

struct Fixture {
    _dir: TempDir,
    dump: PathBuf,
    /// Console lines after the dump was taken.
    console_after: Vec<String>,
}

/// Boots the app, waits for ping's first exchange and a console answer, dumps it through the
/// GDB stub and checks that the guest keeps running afterwards (the console answers again).
fn booted_dump() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let built = built();
        let dir = TempDir::new("dump");
        let dump = dir.path().join("hubris.core.0");
        let mut qemu = Qemu::boot(&built.final_elf());
        qemu.wait_for("ping: sent 0000", 1, BOOT_TIMEOUT);
        qemu.tasks(BOOT_TIMEOUT);
        let port = qemu.port.to_string();
        let output = xtask(&[
            "dump",
            APP,
            "--port",
            &port,
            "--out",
            dump.to_str().expect("UTF-8 path"),
        ]);
        assert!(
            output.status.success(),
            "cargo xtask dump failed:\n{}",
            stderr(&output)
        );
        let console_after = qemu.tasks(BOOT_TIMEOUT);
        drop(qemu);
        Fixture {
            _dir: dir,
            dump,
            console_after,
        }
    })
}

fn check_dump(dump: &Path) -> Result<Value, String> {
    let output = xtask(&[
        "check-dump",
        dump.to_str().expect("UTF-8 path"),
        built().archive.to_str().expect("UTF-8 path"),
    ]);
    if !output.status.success() {
        return Err(stderr(&output));
    }
    Ok(serde_json::from_str(&stdout(&output)).expect("check-dump prints JSON"))
}

/// A copy of the fixture dump with `edit` applied.
fn tampered(tag: &str, edit: impl FnOnce(&mut Vec<u8>)) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let mut bytes = std::fs::read(&booted_dump().dump).expect("dump");
    edit(&mut bytes);
    let path = dir.path().join("hubris.core");
    std::fs::write(&path, bytes).expect("write dump");
    (dir, path)
}

#[test]
fn dump_of_a_booted_system_meets_the_contract() {
    let report = check_dump(&booted_dump().dump).unwrap_or_else(|e| panic!("{e}"));
    let tasks = report["tasks"].as_array().expect("tasks");
    let names: Vec<&str> = tasks
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, TASKS);
    for task in tasks {
        assert_eq!(task["state"], "Healthy", "{task}");
        assert_eq!(task["generation"], 0, "{task}");
    }
    let idle = tasks.last().expect("tasks");
    assert_eq!(idle["name"], "idle");
    assert_eq!(idle["detail"], "Runnable", "idle is always runnable");
    assert!(report["ticks"].as_u64().expect("ticks") > 0);
    assert!(TASKS.contains(&report["current_task"].as_str().expect("current task")));
    assert_eq!(report["kernel_epitaph"], Value::Null);
    let ids: Vec<u64> = report["registers"]
        .as_array()
        .expect("registers")
        .iter()
        .map(|r| r[0].as_u64().expect("id"))
        .collect();
    for id in 0..=14 {
        assert!(ids.contains(&id), "register {id} missing from {ids:?}");
    }
    assert!(ids.contains(&16), "xpsr missing from {ids:?}");
    // Both stack pointers, whatever mode the core was halted in: humility needs them to
    // unwind the running task (check-dump has checked they lie in the right stacks).
    assert!(
        ids.contains(&17) && ids.contains(&18),
        "MSP or PSP missing from {ids:?}"
    );
}

/// Every task's stack was painted at start, so `humility stackmargin` finds a real margin:
/// some of the stack used (the start-up frame at least), most of it not.
#[test]
fn every_task_stack_shows_a_real_margin() {
    let report = check_dump(&booted_dump().dump).unwrap_or_else(|e| panic!("{e}"));
    for task in report["tasks"].as_array().expect("tasks") {
        let (size, margin) = (
            task["stack_size"].as_u64().expect("size"),
            task["stack_margin"].as_u64().expect("margin"),
        );
        assert!(
            margin > 0 && margin < size,
            "{}: margin {margin} of a {size}-byte stack",
            task["name"]
        );
    }
}

/// A registers note whose PSP is not in the running task's stack would make humility
/// unwind garbage: check-dump refuses it.
#[test]
fn psp_outside_the_running_task_stack_is_refused() {
    let (_dir, path) = tampered("bad-psp", |bytes| {
        let at = register_offset(bytes, 18).expect("the dump has PSP");
        bytes[at..at + 4].copy_from_slice(&0x1000_0000u32.to_le_bytes());
    });
    let e = check_dump(&path).expect_err("refused");
    assert!(
        e.contains("PSP 0x10000000 is outside the running task"),
        "{e}"
    );
}

/// Where the value of register `id` lives in the dump's registers note.
fn register_offset(dump: &[u8], id: u32) -> Option<usize> {
    let word = |at: usize| u32::from_le_bytes(dump[at..at + 4].try_into().expect("4 bytes"));
    let note = program_headers(dump)
        .into_iter()
        .find(|h| h.p_type == PT_NOTE)?;
    let (mut at, end) = (
        note.p_offset as usize,
        (note.p_offset + note.p_filesz) as usize,
    );
    while at + 12 <= end {
        let (namesz, descsz, kind) = (word(at) as usize, word(at + 4) as usize, word(at + 8));
        let desc = at + 12 + namesz.next_multiple_of(4);
        if kind == 0x1de0_0002 {
            return (desc..desc + descsz)
                .step_by(8)
                .find(|&pair| word(pair) == id)
                .map(|pair| pair + 4);
        }
        at = desc + descsz.next_multiple_of(4);
    }
    None
}

#[test]
fn guest_keeps_running_after_the_dump() {
    let after = &booted_dump().console_after;
    assert!(
        task_line(after, "ping").is_some_and(|l| l.contains("running")),
        "{after:?}"
    );
}

#[test]
fn dump_with_another_image_id_is_refused() {
    let kernel = std::fs::read(built().dir.join("elf").join("kernel")).expect("kernel ELF");
    let kernel = object::File::parse(&*kernel).expect("kernel parses");
    let id = kernel
        .symbols()
        .find(|s| s.name() == Ok("HUBRIS_IMAGE_ID"))
        .expect("image id symbol")
        .address();
    let (_dir, path) = tampered("bad-id", |bytes| {
        let at = file_offset(bytes, id).expect("the image id is in the dump");
        bytes[at] ^= 0xff;
    });
    let e = check_dump(&path).expect_err("refused");
    assert!(e.contains("HUBRIS_IMAGE_ID in the dump is"), "{e}");
}

#[test]
fn dump_without_the_archive_note_is_refused() {
    let (_dir, path) = tampered("no-archive", |bytes| {
        let note = program_headers(bytes)
            .into_iter()
            .find(|h| h.p_type == PT_NOTE)
            .expect("a PT_NOTE");
        let kind = note.p_offset as usize + 8;
        assert_eq!(
            bytes[kind..kind + 4],
            0x1de0_0001u32.to_le_bytes(),
            "the archive note comes first"
        );
        bytes[kind..kind + 4].copy_from_slice(&0x1de0_0004u32.to_le_bytes());
    });
    let e = check_dump(&path).expect_err("refused");
    assert!(e.contains("0 archive notes, expected exactly one"), "{e}");
    assert!(e.contains("unrecognized Oxide note type 0x1de00004"), "{e}");
}

#[test]
fn overlapping_segments_are_refused() {
    let (_dir, path) = tampered("overlap", |bytes| {
        let headers = program_headers(bytes);
        let loads: Vec<usize> = (0..headers.len())
            .filter(|&i| headers[i].p_type == PT_LOAD)
            .collect();
        assert!(loads.len() >= 2, "the dump has flash and RAM segments");
        // Move the second segment onto the first.
        let second = 52 + 32 * loads[1];
        bytes[second + 8..second + 12].copy_from_slice(&headers[loads[0]].p_vaddr.to_le_bytes());
    });
    let e = check_dump(&path).expect_err("refused");
    assert!(e.contains("PT_LOAD segments overlap"), "{e}");
}

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;

struct Header {
    p_type: u32,
    p_offset: u32,
    p_vaddr: u32,
    p_filesz: u32,
}

/// The program headers of a little-endian ELF32 file.
fn program_headers(elf: &[u8]) -> Vec<Header> {
    let word = |at: usize| u32::from_le_bytes(elf[at..at + 4].try_into().expect("4 bytes"));
    let half = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().expect("2 bytes"));
    let (phoff, phnum) = (word(28) as usize, half(44) as usize);
    (0..phnum)
        .map(|i| {
            let at = phoff + 32 * i;
            Header {
                p_type: word(at),
                p_offset: word(at + 4),
                p_vaddr: word(at + 8),
                p_filesz: word(at + 16),
            }
        })
        .collect()
}

/// Where the byte at `address` lives in the dump file.
fn file_offset(dump: &[u8], address: u64) -> Option<usize> {
    program_headers(dump)
        .into_iter()
        .filter(|h| h.p_type == PT_LOAD)
        .find_map(|h| {
            let within = address.checked_sub(u64::from(h.p_vaddr))?;
            (within < u64::from(h.p_filesz)).then(|| h.p_offset as usize + within as usize)
        })
}

/// A task restarted by the supervisor (through the console's `restart` command) shows its
/// new generation in the dump, and the ring buffers humility reads are in it, filled.
#[test]
fn restarted_task_shows_its_new_generation() {
    const RESTART_PING: &str = "restart ping\n";
    let built = built();
    let dir = TempDir::new("restart");
    let dump = dir.path().join("hubris.core.0");
    let mut qemu = Qemu::boot(&built.final_elf());
    qemu.wait_for("ping: sent 0000", 1, BOOT_TIMEOUT);
    qemu.type_text(RESTART_PING);
    // ping starts counting from 0 again once restarted.
    qemu.wait_for("ping: sent 0000", 1, BOOT_TIMEOUT);
    let port = qemu.port.to_string();
    let output = xtask(&[
        "dump",
        APP,
        "--port",
        &port,
        "--out",
        dump.to_str().expect("UTF-8 path"),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    drop(qemu);
    let report = check_dump(&dump).unwrap_or_else(|e| panic!("{e}"));
    let ping = report["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .find(|t| t["name"] == "ping")
        .expect("ping")
        .clone();
    assert_eq!(ping["generation"], 1, "{ping}");
    assert_eq!(ping["state"], "Healthy", "{ping}");
    let rings = report["ring_buffers"].as_array().expect("ring_buffers");
    let jefe_log = rings
        .iter()
        .find(|r| r["variable"] == "task_jefe::log::__RINGBUF")
        .unwrap_or_else(|| panic!("jefe's event log is not in the dump: {rings:?}"));
    assert!(
        jefe_log["used_entries"].as_u64() >= Some(3),
        "the restart left no records: {jefe_log}"
    );
}
