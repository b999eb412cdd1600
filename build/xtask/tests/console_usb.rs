//! The USB stack of the default app, driven the way a user drives it: by typing on the
//! console of a booted qemu-m7 (the flash drive is on the root port at boot) (`task/console/src/usb.rs`). One QEMU session, so the whole
//! file takes a few seconds of wall time.

mod common;

use std::time::Duration;

use common::{Qemu, built};

const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// A command that needs no settling answers within this.
const ANSWER: Duration = Duration::from_secs(3);
/// Enumeration and a driver's bring-up take a few usb-core polls (100 ms each).
const SETTLE_TRIES: usize = 30;
const SETTLE_EACH: Duration = Duration::from_millis(300);

/// Hex dump of block 3 after `disk write 3 ab`: the first line, then `*` (every further line
/// the same) up to the block's end.
fn assert_block_is_ab(lines: &[String], why: &str) {
    let at = lines
        .iter()
        .position(|l| l == "block 3:")
        .unwrap_or_else(|| panic!("{why}: no `block 3:` in {lines:?}"));
    assert_eq!(
        lines.get(at + 1).map(String::as_str),
        Some(format!("  0000 {}", " ab".repeat(16)).as_str()),
        "{why}: {lines:?}"
    );
    assert_eq!(
        lines.get(at + 2).map(String::as_str),
        Some("  *"),
        "{why}: {lines:?}"
    );
}

/// `disk read 3` until usb-msc serves the drive again (after its restart or load).
fn read_block_3(qemu: &mut Qemu, why: &str) {
    let before = qemu.console.len();
    qemu.retry("disk read 3", "block 3:", SETTLE_TRIES, SETTLE_EACH);
    // The dump's lines follow the header.
    qemu.line_with("  *", ANSWER);
    let lines = qemu.console[before..].to_vec();
    assert_block_is_ab(&lines, why);
}

/// `plug keyboard`, then `usb` until the keyboard shows bound to usb-hid.
fn plug_keyboard(qemu: &mut Qemu) {
    qemu.command(
        "plug keyboard",
        "plug: keyboard is on the root port",
        ANSWER,
    );
    qemu.retry(
        "usb",
        "hid, bound to usb-hid (generation 0)",
        SETTLE_TRIES,
        SETTLE_EACH,
    );
}

#[test]
fn console_drives_the_usb_stack_through_disk_restart_unload_plug_keys_and_serial() {
    let mut qemu = Qemu::boot(&built().final_elf());
    qemu.wait_for("type `help` for commands", 1, BOOT_TIMEOUT);
    qemu.wait_for("ping: sent 0000, pong replied 0000", 1, BOOT_TIMEOUT);

    // app.toml plugs the flash drive at boot.
    qemu.retry(
        "usb",
        "mass-storage, bound to usb-msc (generation 0)",
        SETTLE_TRIES,
        SETTLE_EACH,
    );

    qemu.command(
        "disk write 3 ab",
        "disk write: block 3 filled with ab (512 bytes)",
        ANSWER,
    );
    let lines = qemu.command("disk read 2 2", "block 3:", ANSWER);
    qemu.line_with("  *", ANSWER);
    assert!(
        !lines.iter().any(|l| l.starts_with("  0000  ab")),
        "block 2 is untouched by the write to block 3: {lines:?}"
    );
    read_block_3(&mut qemu, "right after the write");

    // The edges: the last block reads, one past it is refused with the capacity named.
    qemu.command("disk read 4095", "block 4095:", ANSWER);
    qemu.command(
        "disk read 4096",
        "disk read: LBA 4096 is past the end (4096 blocks)",
        ANSWER,
    );
    qemu.command(
        "disk read 99999",
        "disk read: LBA 99999 is past the end (4096 blocks)",
        ANSWER,
    );
    qemu.command(
        "disk read 4095 2",
        "disk read: 2 blocks from LBA 4095 run past the end (4096 blocks)",
        ANSWER,
    );
    qemu.command(
        "disk write 3 xyz",
        "disk write: pattern \"xyz\" is not 1 to 16 hex bytes",
        ANSWER,
    );

    // A restarted driver binds the same drive again; the data is the device's, not its.
    qemu.command(
        "restart usb-msc",
        "usb-msc: restarted (incarnation 2)",
        ANSWER,
    );
    read_block_3(&mut qemu, "after restart usb-msc");
    // jefe's log says in plain words why the driver came back, and as which incarnation.
    qemu.command(
        "log",
        "usb-msc restarted on request of the console (incarnation 2)",
        ANSWER,
    );
    qemu.retry(
        "usb",
        "mass-storage, bound to usb-msc (generation 1)",
        SETTLE_TRIES,
        SETTLE_EACH,
    );

    // Unloaded, the driver is refused at once: a clear line, no wait, no console fault.
    qemu.command("unload usb-msc", "usb-msc: unloaded", ANSWER);
    qemu.command(
        "disk read 3",
        "disk read: usb-msc is not running (unloaded, held or restarting)",
        Duration::from_secs(1),
    );
    qemu.command("load usb-msc", "usb-msc: loaded (incarnation 3)", ANSWER);
    read_block_3(&mut qemu, "after unload and load of usb-msc");

    // Plugging the keyboard takes the drive off the (single) root port.
    plug_keyboard(&mut qemu);
    qemu.retry("keys", "key down 04 (a)", SETTLE_TRIES, SETTLE_EACH);
    qemu.command("disk read 3", "disk read: usb-msc serves no disk", ANSWER);
    qemu.command(
        "unplug flash",
        "unplug: \"flash\" is not the device on the root port",
        ANSWER,
    );
    qemu.command(
        "unplug keyboard",
        "unplug: keyboard is off the root port",
        ANSWER,
    );
    qemu.retry("usb", "usb: no devices", SETTLE_TRIES, SETTLE_EACH);
    plug_keyboard(&mut qemu);

    // The serial adapter loops its bytes back through usb-cdc, before and after a restart of
    // the driver; with no adapter, the command says what to do.
    qemu.command(
        "serial",
        "serial: usb-cdc serves no port (plug serial, then check `usb`)",
        ANSWER,
    );
    qemu.command("plug serial", "plug: serial is on the root port", ANSWER);
    qemu.retry(
        "usb",
        "cdc-acm, bound to usb-cdc (generation 0)",
        SETTLE_TRIES,
        SETTLE_EACH,
    );
    qemu.command(
        "serial",
        "serial: 17 bytes out, 17 back, equal (loopback ok)",
        ANSWER,
    );
    // 64 bytes: a whole packet, so a zero-length packet ends the transfer.
    let long = "0123456789abcdef".repeat(4);
    qemu.command(
        &format!("serial {long}"),
        "serial: 64 bytes out, 64 back, equal (loopback ok)",
        ANSWER,
    );
    qemu.command(
        &format!("serial {long}x"),
        "serial: TEXT of 65 bytes is longer than 64",
        ANSWER,
    );
    qemu.command(
        "restart usb-cdc",
        "usb-cdc: restarted (incarnation 2)",
        ANSWER,
    );
    qemu.retry(
        "serial hello",
        "serial: 5 bytes out, 5 back, equal (loopback ok)",
        SETTLE_TRIES,
        SETTLE_EACH,
    );

    // The drive comes back with what was written to it: the data is the device's.
    qemu.command("plug flash", "plug: flash is on the root port", ANSWER);
    read_block_3(&mut qemu, "after the drive was unplugged and plugged again");

    // A restarted core or controller driver enumerates the drive again (doc/usb-host.md 6.4)
    // and usb-msc serves it again; its blocks are the device's, so they read back.
    qemu.command(
        "restart usb-core",
        "usb-core: restarted (incarnation 2)",
        ANSWER,
    );
    read_block_3(&mut qemu, "after restart usb-core");
    qemu.command(
        "restart usb-hcd",
        "usb-hcd: restarted (incarnation 2)",
        ANSWER,
    );
    read_block_3(&mut qemu, "after restart usb-hcd");
    qemu.command(
        "plug nothing",
        "plug: no simulated device named \"nothing\"",
        ANSWER,
    );

    // Nothing faulted on the way, only the tasks the session restarted were, and ping stayed
    // quiet: it reported its first exchange and nothing since, as pong never stopped answering.
    let tasks = qemu.command("tasks", " 10 idle", ANSWER);
    for line in tasks.iter().filter(|l| l.starts_with("  ")) {
        assert!(!line.contains("last fault"), "a task faulted: {line}");
        let restarted = !line.contains("restarts 0 ");
        assert_eq!(
            restarted,
            line.starts_with("  5 usb-hcd")
                || line.starts_with("  6 usb-core")
                || line.starts_with("  7 usb-msc")
                || line.starts_with("  9 usb-cdc"),
            "only usb-hcd, usb-core, usb-msc and usb-cdc were restarted: {line}"
        );
    }
    let pings: Vec<&String> = qemu
        .console
        .iter()
        .filter(|l| l.starts_with("ping:"))
        .collect();
    assert_eq!(pings.len(), 1, "ping floods the console: {pings:?}");

    // Last, as it faults a task: a restarted usb-sim is a new controller with a new, blank
    // drive. usb-hcd finds the controller replaced and faults on purpose; once restarted it
    // initialises the new one, usb-core enumerates again and usb-msc serves the blank drive.
    qemu.command(
        "restart usb-sim",
        "usb-sim: restarted (incarnation 2)",
        ANSWER,
    );
    qemu.retry(
        "disk read 3",
        &format!("  0000 {}", " 00".repeat(16)),
        SETTLE_TRIES,
        SETTLE_EACH,
    );
    qemu.command(
        "disk write 3 cd",
        "disk write: block 3 filled with cd (512 bytes)",
        ANSWER,
    );
    qemu.command(
        "disk read 3",
        &format!("  0000 {}", " cd".repeat(16)),
        ANSWER,
    );
    let tasks = qemu.command("tasks", " 10 idle", ANSWER);
    let hcd = tasks
        .iter()
        .find(|l| l.starts_with("  5 usb-hcd"))
        .expect("usb-hcd in `tasks`");
    assert!(
        hcd.contains("restarts 2 ") && hcd.contains("last fault: panicked"),
        "usb-hcd restarted itself once for the new controller: {hcd}"
    );
    qemu.command(
        "log",
        "usb-hcd restarted after a fault: panicked (incarnation 3)",
        ANSWER,
    );
    // A fault injected from the console reads as a fault, naming who injected it.
    qemu.command("fault usb-msc", "usb-msc: fault injected", ANSWER);
    qemu.retry(
        "log",
        "usb-msc restarted after a fault: fault injected by jefe (incarnation",
        SETTLE_TRIES,
        SETTLE_EACH,
    );
}

/// A line containing `needle` has come since console line `mark`, or comes within [`ANSWER`]
/// (ping's line and the console's answer race).
fn seen_since(qemu: &mut Qemu, mark: usize, needle: &str) {
    if !qemu.console[mark..].iter().any(|l| l.contains(needle)) {
        qemu.wait_for(needle, 1, ANSWER);
    }
}

/// ping speaks again when pong stops answering, and when it answers again.
#[test]
fn ping_reports_when_pong_stops_and_starts_answering() {
    let mut qemu = Qemu::boot(&built().final_elf());
    qemu.wait_for("ping: sent 0000, pong replied 0000", 1, BOOT_TIMEOUT);
    let mark = qemu.console.len();
    qemu.command("unload pong", "pong: unloaded", ANSWER);
    seen_since(&mut qemu, mark, "pong did not answer");
    let mark = qemu.console.len();
    qemu.command("load pong", "pong: loaded", ANSWER);
    seen_since(&mut qemu, mark, "pong replied");
    // Three of ping's half-second periods more, in which nothing changes.
    assert_eq!(qemu.line_with("ping:", Duration::from_millis(1600)), None);
    let pings = qemu
        .console
        .iter()
        .filter(|l| l.starts_with("ping:"))
        .count();
    assert_eq!(pings, 3, "{:?}", qemu.console);
}
