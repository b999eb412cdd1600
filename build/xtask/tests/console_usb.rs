//! The USB stack of the default app, driven the way a user drives it: by typing on the
//! console of a booted qemu-m7 (`task/console/src/usb.rs`), which boots with a hub on the root
//! port and the keyboard, the serial adapter and the flash drive in its ports 1, 2 and 3.
//! One QEMU session per test, so the file takes some seconds of wall time.

mod common;

use std::time::Duration;

use common::{Qemu, built, task_line};

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

/// The `usb` tree at boot: the hub on the root port, its three devices under it in port
/// order, each interface bound to the generation-0 incarnation of its driver task. `{id}`
/// stands for a device's id, which the tree pins separately ([`ids`]).
const BOOT_TREE: [&str; 9] = [
    "port 1  address 1   full speed  1209:0005  id {id}",
    "  interface 0: hub, bound to usb-hub (generation 0)",
    "  port 1.1  address 2   low  speed  1209:0001  id {id}",
    "    interface 0: hid, bound to usb-hid (generation 0)",
    "  port 1.2  address 3   full speed  1209:0003  id {id}",
    "    interface 0: cdc-acm, bound to usb-cdc (generation 0)",
    "    interface 1: cdc-acm, bound to usb-cdc (generation 0)",
    "  port 1.3  address 4   full speed  1209:0004  id {id}",
    "    interface 0: mass-storage, bound to usb-msc (generation 0)",
];

/// The answer of one `usb`: its lines up to the answer of a command typed after it, whose
/// `unknown command` line marks where the tree ends.
fn usb_tree(qemu: &mut Qemu) -> Vec<String> {
    let before = qemu.console.len();
    qemu.type_text("usb\ntree-end\n");
    qemu.wait_for("unknown command \"tree-end\"", 1, ANSWER);
    let lines = &qemu.console[before..];
    let end = lines.len() - 1;
    lines[..end]
        .iter()
        // The console echoes what is typed; ping may speak in between.
        .filter(|l| !["usb", "tree-end"].contains(&l.as_str()) && !l.starts_with("ping:"))
        .cloned()
        .collect()
}

/// `usb` until its tree is one that `settled` accepts (enumeration and bring-up take a few
/// polls); panics with `why` and the last tree when it never is.
fn usb_tree_when(qemu: &mut Qemu, why: &str, settled: impl Fn(&[String]) -> bool) -> Vec<String> {
    let mut tree = Vec::new();
    for _ in 0..SETTLE_TRIES {
        tree = usb_tree(qemu);
        if settled(&tree) {
            return tree;
        }
        std::thread::sleep(SETTLE_EACH);
    }
    panic!("`usb` never showed {why}; the last tree: {tree:#?}")
}

/// Whether a line of `tree` contains `needle`.
fn shows(tree: &[String], needle: &str) -> bool {
    tree.iter().any(|l| l.contains(needle))
}

/// Each device line's id (`id E.S.G`), in tree order.
fn ids(tree: &[String]) -> Vec<String> {
    tree.iter()
        .filter_map(|l| l.split_once("  id ").map(|(_, id)| id.to_owned()))
        .collect()
}

/// `tree` with every id replaced by `{id}`, to compare with [`BOOT_TREE`].
fn without_ids(tree: &[String]) -> Vec<String> {
    tree.iter()
        .map(|l| match l.split_once("  id ") {
            Some((head, _)) => format!("{head}  id {{id}}"),
            None => l.clone(),
        })
        .collect()
}

fn boot_with_the_tree_settled() -> (Qemu, Vec<String>) {
    let mut qemu = Qemu::boot(&built().final_elf());
    qemu.wait_for("type `help` for commands", 1, BOOT_TIMEOUT);
    qemu.wait_for("ping: sent 0000, pong replied 0000", 1, BOOT_TIMEOUT);
    let tree = usb_tree_when(&mut qemu, "the boot tree", |t| without_ids(t) == BOOT_TREE);
    (qemu, tree)
}

/// The hub on the root port shows with its three devices under it, each at its port path.
#[test]
fn usb_tree_shows_the_hub_and_the_devices_in_its_ports() {
    let (_, tree) = boot_with_the_tree_settled();
    let ids = ids(&tree);
    assert_eq!(ids.len(), 4, "{tree:#?}");
    for (i, id) in ids.iter().enumerate() {
        assert!(!ids[..i].contains(id), "ids are distinct: {ids:?}");
    }
}

/// A restart of usb-hub leaves the devices behind the hub alone: the same ids and addresses,
/// the same incarnations of their drivers, and they keep working (doc/usb-host.md 6.4).
#[test]
fn usb_hub_restart_keeps_the_devices_behind_it_working() {
    let (mut qemu, before) = boot_with_the_tree_settled();
    qemu.command(
        "disk write 3 ab",
        "disk write: block 3 filled with ab (512 bytes)",
        ANSWER,
    );
    qemu.command(
        "restart usb-hub",
        "usb-hub: restarted (incarnation 2)",
        ANSWER,
    );
    let expected: Vec<String> = before
        .iter()
        .map(|l| l.replace("usb-hub (generation 0)", "usb-hub (generation 1)"))
        .collect();
    usb_tree_when(&mut qemu, "the hub's new driver", |t| {
        shows(t, "hub, bound to usb-hub (generation 1)")
    });
    // Long enough for the new incarnation's reconciliation and many of its 20 ms polls: a
    // device it wrongly took for new would be gone or enumerated again by now, under a new id.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        usb_tree(&mut qemu),
        expected,
        "only the hub's driver changed: same ids, addresses and driver incarnations"
    );

    qemu.command("press b", "press: b pressed", ANSWER);
    qemu.retry("keys", "key down 05 (b)", SETTLE_TRIES, SETTLE_EACH);
    read_block_3(&mut qemu, "after restart usb-hub");
    qemu.command(
        "serial hello",
        "serial: 5 bytes out, 5 back, equal (loopback ok)",
        ANSWER,
    );
}

#[test]
fn console_drives_the_usb_stack_through_disk_restart_unload_plug_keys_and_serial() {
    let (mut qemu, _) = boot_with_the_tree_settled();

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

    // The keyboard's scripted key came at boot; a key pressed on it now arrives too.
    qemu.retry("keys", "key down 04 (a)", SETTLE_TRIES, SETTLE_EACH);
    qemu.command("press 7", "press: 7 pressed (usage 24)", ANSWER);
    qemu.retry("keys", "key down 24 (7)", SETTLE_TRIES, SETTLE_EACH);
    qemu.command(
        "press ab",
        "press: key \"ab\" is not one letter or digit",
        ANSWER,
    );

    // The drive out of its hub port and back: gone from the tree and from usb-msc, then
    // back at the same port path with what was written to it (the data is the device's).
    qemu.command("unplug flash", "unplug: flash is unplugged", ANSWER);
    qemu.retry(
        "disk read 3",
        "disk read: usb-msc serves no disk",
        SETTLE_TRIES,
        SETTLE_EACH,
    );
    usb_tree_when(&mut qemu, "the hub without the drive", |t| {
        t.len() == 7 && !shows(t, "port 1.3") && shows(t, "port 1.2")
    });
    qemu.command("plug flash", "plug: flash is plugged in", ANSWER);
    usb_tree_when(&mut qemu, "the drive back in port 3", |t| {
        shows(t, "port 1.3") && shows(t, "mass-storage, bound to usb-msc (generation 2)")
    });
    read_block_3(&mut qemu, "after the drive was unplugged and plugged again");

    // The serial adapter loops its bytes back through usb-cdc, before and after a restart of
    // the driver.
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

    // Another device on the root port takes the hub, and all behind it, off the bus; with
    // the hub gone, its devices cannot be unplugged; the hub back, they all come back.
    qemu.command("plug mouse", "plug: mouse is plugged in", ANSWER);
    usb_tree_when(&mut qemu, "the mouse alone on the root port", |t| {
        t.len() == 2
            && t[0].starts_with("port 1  ")
            && t[0].contains("1209:0002")
            && t[1].contains("hid, bound to usb-hid")
    });
    qemu.command(
        "serial",
        "serial: usb-cdc serves no port (plug serial, then check `usb`)",
        ANSWER,
    );
    qemu.command(
        "unplug flash",
        "unplug: \"flash\" is neither the device on the root port nor in a port of the hub on it",
        ANSWER,
    );
    qemu.command("unplug mouse", "unplug: mouse is unplugged", ANSWER);
    qemu.retry("usb", "usb: no devices", SETTLE_TRIES, SETTLE_EACH);
    qemu.command("plug hub", "plug: hub is plugged in", ANSWER);
    usb_tree_when(&mut qemu, "the hub back with its three devices", |t| {
        t.len() == BOOT_TREE.len() && shows(t, "port 1.3")
    });
    read_block_3(&mut qemu, "after the hub was swapped out and back");

    // A restarted core or controller driver enumerates the tree again (doc/usb-host.md 6.4)
    // and usb-msc serves the drive again; its blocks are the device's, so they read back.
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
    let tasks = qemu.tasks(ANSWER);
    for line in tasks.iter().filter(|l| l.starts_with("  ")) {
        assert!(!line.contains("last fault"), "a task faulted: {line}");
        let restarted = !line.contains("restarts 0 ");
        let name = common::task_name(line).unwrap_or_default();
        assert_eq!(
            restarted,
            ["usb-hcd", "usb-core", "usb-msc", "usb-cdc"].contains(&name),
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
    let tasks = qemu.tasks(ANSWER);
    let hcd = task_line(&tasks, "usb-hcd").expect("usb-hcd in `tasks`");
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

/// A lasting over-current: the console prints each one as usb-hcd switches VBUS off, then
/// the cut-off at the third; the tree says why it is empty; `usb power on` brings the hub
/// and its devices back (doc/usb-host.md 1.12).
#[test]
fn over_current_is_told_on_the_console_and_usb_power_on_brings_the_tree_back() {
    let (mut qemu, _) = boot_with_the_tree_settled();
    qemu.command("overcurrent on", "overcurrent: load on", ANSWER);
    qemu.wait_for(
        "usb: over-current on the root port: VBUS off, on again in",
        2,
        Duration::from_secs(10),
    );
    qemu.wait_for(
        "usb: over-current on the root port 3 times in 10 s: VBUS stays off and USB is down; \
         remove the fault, then type `usb power on`",
        1,
        Duration::from_secs(10),
    );
    qemu.command("overcurrent off", "overcurrent: load off", ANSWER);
    // Long enough for a rest to have ended: a cut-off port stays off.
    std::thread::sleep(Duration::from_secs(1));
    let tree = usb_tree(&mut qemu);
    assert!(
        shows(&tree, "VBUS stays off and USB is down") && !shows(&tree, "port 1"),
        "{tree:#?}"
    );
    qemu.command(
        "usb power on",
        "usb power: VBUS on again, strikes forgotten",
        ANSWER,
    );
    usb_tree_when(&mut qemu, "the boot tree after power on", |t| {
        without_ids(t) == BOOT_TREE
    });
    qemu.command(
        "usb power",
        "usb: VBUS on (3 over-currents since usb-hcd started, 0 in the last 10 s)",
        ANSWER,
    );
}
