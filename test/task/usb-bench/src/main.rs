//! The USB benchmarks, read by `cargo xtask bench` (`BENCH <key> <instructions>` lines, then
//! `BENCH DONE`), over the real tasks of `test/app/usb-bench`: `usb-msc` and `usb-hid` over
//! `usb-core` and `usb-hcd`, which drives the DWC2 model of `usb-sim` by register IPC.
//!
//! Time comes from `bench_api`'s clock (`timer0`, 40 guest instructions a tick under
//! `-icount shift=0`). This task is less important than every USB task, so it runs, and
//! polls, only while they all wait: its polling fills idle time and does not slow them.
//!
//! | Key | What |
//! |---|---|
//! | `usb_msc_read_instr_per_kib` | instructions per KiB of `usb-msc` READ (4 KiB reads over the disk's first [`READ_BLOCKS`], [`READ_PASSES`] times), less `usb-sim`'s share |
//! | `usb_msc_read_sim_share_pct` | `usb-sim`'s share of those instructions, percent |
//! | `usb_msc_read_instr_per_kib_total` | the same figure with `usb-sim`'s share left in |
//! | `usb_class_restart_to_bound` | `inject_fault(usb-msc)` sent to jefe, to the new incarnation serving the disk and its first 512-byte READ done |
//! | `usb_hcd_restart_to_enumerated` | `inject_fault(usb-hcd)` sent to jefe, to the drive served again and its first READ done |
//! | `usb_msc_read_instr_per_kib_one_task` | the same READs, less `usb-sim`'s share, with the application and the logic of `usb-msc`, `usb-core` and `usb-hcd` linked into this one task over the same register IPC ([`one_task`]) |
//! | `usb_msc_read_tasks_over_one_task_pct` | `usb_msc_read_instr_per_kib` over `usb_msc_read_instr_per_kib_one_task`, percent: what the task boundaries cost (goal: at most 110) |
//! | `usb_hid_key_to_app` | `usb-sim`'s `press` of a key on the keyboard, to this task (a `usb-hid` subscriber) woken by its `hid` notification and holding the key's KeyDown event; mean of [`KEY_PRESSES`] |
//! | `usb_hid_key_to_app_busy` | the instructions every task but `usb-sim` spent over those intervals: the rest is waiting, for `usb-hid`'s next poll (every 10 ms) and the keyboard's next frame |
//!
//! `usb-sim` stands for the controller's registers: on a board each of its register IPCs
//! would be one load or store. Its share comes from the kernel's per-task CPU time (kernel
//! feature `task-time`, kipc `read-task-time`): the cycles charged to `usb-sim` over the read
//! loop, over the cycles charged to every task (the kernel's entries on a task's behalf,
//! the register IPC's among them, count as that task's).
#![no_std]
#![no_main]

use core::fmt::Write as _;

use console_api::ConsoleClient;
use idol_runtime::zerocopy::FromZeros;
use jefe_api::JefeClient;
use usb_hid_api::{HidRecord, UsbHidClient, kind};
use usb_msc_api::{DiskInfo, UsbMscClient};
use usb_sim_api::UsbSimClient;
use userlib::{
    Incarnation, TextBuf, kipc, sleep_for, sys_get_timer, sys_recv_notification,
    sys_refresh_incarnation, sys_set_timer, task_slot,
};

task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(USB_SIM, "usb-sim");
task_slot!(USB_HCD, "usb-hcd");
task_slot!(USB_MSC, "usb-msc");
task_slot!(USB_HID, "usb-hid");
task_slot!(USB_CORE, "usb-core");

mod one_task;

/// app.toml: `notifications = ["timer", "hid"]`; `hid` comes from usb-hid when it logs events.
const TIMER: u32 = 1 << 0;
const HID: u32 = 1 << 1;
const UNTIMED_POLL_MS: u64 = 5;
const BLOCK: usize = 512;
/// One READ: eight blocks.
const CHUNK: usize = 8 * BLOCK;
/// Times the read region is read.
const READ_PASSES: u32 = 4;
/// The region read: the first 64 blocks (32 KiB), as when the simulated drive was that
/// small, so the figure stays comparable (the drive is 2 MiB now).
const READ_BLOCKS: u32 = 64;
const RESTARTS: u32 = 10;
/// A fresh drive or a restarted driver must serve the disk within this (virtual time).
const SERVED_WITHIN_MS: u64 = 2000;
/// Slots in the kernel's per-task time table: more than this image's tasks.
const TASKS: usize = 16;
/// Key presses timed for `usb_hid_key_to_app`.
const KEY_PRESSES: u32 = 10;
/// The key pressed: Z, which the keyboard's own script never presses.
const KEY_Z: u8 = 0x1D;

fn say(args: core::fmt::Arguments<'_>) {
    let mut line = TextBuf::<128>::new();
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    let _ = ConsoleClient::new(CONSOLE).write(line.as_bytes());
}

/// Prints `key` as the mean of `total_ticks` over `count` runs, in instructions.
fn report(key: &str, total_ticks: u64, count: u64) {
    let instructions = (total_ticks * bench_api::INSTRUCTIONS_PER_TICK + count / 2) / count;
    say(format_args!("BENCH {key} {instructions}"));
}

fn since(earlier: u32) -> u64 {
    u64::from(bench_api::now().wrapping_sub(earlier))
}

fn msc() -> UsbMscClient {
    UsbMscClient::new(sys_refresh_incarnation(USB_MSC))
}

/// The disk, if `usb-msc` serves it and a READ of `buf` from block 0 succeeds.
fn disk_read(buf: &mut [u8]) -> Option<DiskInfo> {
    let disk = msc().disk(0).ok()?;
    msc().read(disk.handle, 0, buf).ok().map(|_| disk)
}

/// [`disk_read`], once it succeeds; `None` after `SERVED_WITHIN_MS`. Polls every
/// `pause_ms`, or without sleeping if 0 (see the module doc): timed waits poll busily for
/// precision, untimed ones sleep so that QEMU skips the idle time.
fn served_and_read(buf: &mut [u8], pause_ms: u64) -> Option<DiskInfo> {
    let give_up = sys_get_timer().now + SERVED_WITHIN_MS;
    while sys_get_timer().now < give_up {
        if let Some(disk) = disk_read(buf) {
            return Some(disk);
        }
        if pause_ms > 0 {
            sleep_for(pause_ms, TIMER);
        }
    }
    None
}

/// The kernel's CPU time per task index, idle's (the last task's, as in every app.toml)
/// left at 0: its time is waiting, not work, and QEMU's SysTick, the kernel's clock, loses
/// time across its sleeps.
fn task_times() -> [u64; TASKS] {
    let mut times = [0; TASKS];
    let Ok(count) = JefeClient::new(JEFE).task_count() else {
        panic!("usb-bench: jefe did not answer task_count")
    };
    let count = usize::from(count).min(TASKS + 1) - 1;
    for (index, t) in times.iter_mut().enumerate().take(count) {
        *t = kipc::read_task_time(index).unwrap_or_else(|| {
            panic!("usb-bench: no CPU time for task {index}: the kernel lacks feature `task-time`")
        });
    }
    times
}

/// CPU time over a read loop, in kernel cycles (instructions under `-icount shift=0`).
struct ReadCost {
    ticks: u64,
    /// Every task's time, usb-sim's included.
    busy: u64,
    sim: u64,
    kib: u64,
}

/// Times [`READ_PASSES`] passes of `read` over the first [`READ_BLOCKS`] of a disk of
/// `blocks` blocks, in `CHUNK`s.
fn time_reads(
    blocks: u32,
    buf: &mut [u8; CHUNK],
    mut read: impl FnMut(u32, &mut [u8]) -> Result<(), &'static str>,
) -> ReadCost {
    let chunks = blocks.min(READ_BLOCKS) as usize * BLOCK / CHUNK;
    let before = task_times();
    let start = bench_api::now();
    for pass in 0..READ_PASSES {
        for chunk in 0..chunks {
            if let Err(why) = read((chunk * CHUNK / BLOCK) as u32, buf) {
                panic!("usb-bench: READ of chunk {chunk} in pass {pass}: {why}");
            }
        }
    }
    let ticks = since(start);
    let after = task_times();
    let charged = |i: usize| after[i] - before[i];
    let busy: u64 = (0..TASKS).map(charged).sum();
    // Busy time cannot exceed the loop's: if it does, the accounting is wrong.
    if busy > ticks + ticks / 1000 {
        panic!(
            "usb-bench: tasks were charged {busy} busy cycles over a read loop of {ticks} ticks"
        );
    }
    ReadCost {
        ticks,
        busy,
        sim: charged(USB_SIM.index()),
        kib: u64::from(READ_PASSES) * (chunks * CHUNK / 1024) as u64,
    }
}

/// READs through `usb-msc`; returns the cost less usb-sim's share.
fn msc_read(disk: DiskInfo, buf: &mut [u8; CHUNK]) -> ReadCost {
    let cost = time_reads(disk.blocks, buf, |lba, chunk| {
        msc()
            .read(disk.handle, lba, chunk)
            .map_err(|_| "usb-msc refused or failed it")
    });
    report("usb_msc_read_elapsed_per_kib", cost.ticks, cost.kib);
    report("usb_msc_read_instr_per_kib_total", cost.busy, cost.kib);
    report("usb_msc_read_instr_per_kib", cost.busy - cost.sim, cost.kib);
    say(format_args!(
        "BENCH usb_msc_read_sim_share_pct {}",
        (cost.sim * 100 + cost.busy / 2) / cost.busy
    ));
    cost
}

/// The same READs with the stack linked into this task (`one_task`), after the stack's
/// tasks are unloaded and the drive plugged again; reports the figure and how much the
/// task boundaries add (`tasks`: the cost through `usb-msc`). Not inlined: the linked
/// stack's state takes its stack only while it runs.
#[inline(never)]
fn one_task_read(tasks: &ReadCost, buf: &mut [u8; CHUNK]) -> Option<()> {
    let jefe = JefeClient::new(JEFE);
    for (task, name) in [
        (USB_HID, "usb-hid"),
        (USB_MSC, "usb-msc"),
        (USB_CORE, "usb-core"),
        (USB_HCD, "usb-hcd"),
    ] {
        if jefe.unload(task.index() as u16).is_err() {
            say(format_args!("usb-bench: jefe refused to unload {name}"));
            return None;
        }
    }
    if UsbSimClient::new(USB_SIM)
        .plug(usb_sim_api::devices::FLASH.as_bytes())
        .is_err()
    {
        say(format_args!(
            "usb-bench: usb-sim refused to plug the flash drive"
        ));
        return None;
    }
    let mut stack = match one_task::LinkedStack::start() {
        Ok(stack) => stack,
        Err(why) => {
            say(format_args!("usb-bench: {why}"));
            return None;
        }
    };
    let blocks = stack.blocks();
    let cost = time_reads(blocks, buf, |lba, chunk| stack.read(lba, chunk));
    report(
        "usb_msc_read_instr_per_kib_one_task",
        cost.busy - cost.sim,
        cost.kib,
    );
    // Per KiB on both sides, as percent: 100 means the boundaries cost nothing.
    let per_kib = |c: &ReadCost| (c.busy - c.sim) as f64 / c.kib as f64;
    say(format_args!(
        "BENCH usb_msc_read_tasks_over_one_task_pct {}",
        (per_kib(tasks) * 100.0 / per_kib(&cost) + 0.5) as u64
    ));
    Some(())
}

/// Unplugs and plugs the flash drive and waits (untimed) until it is served: `usb-core`
/// counts every death of a driver as a strike against its devices and quarantines a
/// device at the third, so each timed restart needs a device with a clean record.
fn fresh_drive(buf: &mut [u8]) -> Option<()> {
    let sim = UsbSimClient::new(USB_SIM);
    let flash = usb_sim_api::devices::FLASH.as_bytes();
    if sim.unplug(flash).is_err() {
        say(format_args!(
            "usb-bench: usb-sim refused to unplug the flash drive"
        ));
        return None;
    }
    // Plugged back only once usb-msc has let go of it, so the drive served next is the
    // fresh device, not the old one before usb-core noticed the unplug.
    let give_up = sys_get_timer().now + SERVED_WITHIN_MS;
    while msc().disk(0).is_ok() {
        if sys_get_timer().now >= give_up {
            say(format_args!(
                "usb-bench: usb-msc still serves the unplugged flash drive"
            ));
            return None;
        }
        sleep_for(UNTIMED_POLL_MS, TIMER);
    }
    if sim.plug(flash).is_err() {
        say(format_args!(
            "usb-bench: usb-sim refused to plug the flash drive"
        ));
        return None;
    }
    served_and_read(buf, UNTIMED_POLL_MS).map(|_| ())
}

/// Mean time from `inject_fault(task)` to the drive served again and read; `None` (and the
/// reason on the console) if it never was.
fn restart_to_read(task: Incarnation, name: &str, buf: &mut [u8]) -> Option<u64> {
    let jefe = JefeClient::new(JEFE);
    let mut total = 0;
    for rep in 0..RESTARTS {
        if fresh_drive(buf).is_none() {
            say(format_args!(
                "usb-bench: the replugged flash drive was not served before fault {rep} of {name}"
            ));
            return None;
        }
        bench_api::dither(rep);
        let start = bench_api::now();
        if jefe.inject_fault(task.index() as u16).is_err() {
            say(format_args!("usb-bench: jefe refused to fault {name}"));
            return None;
        }
        if served_and_read(buf, 0).is_none() {
            say(format_args!(
                "usb-bench: after fault {rep} of {name}, usb-msc did not serve the drive within {SERVED_WITHIN_MS} ms"
            ));
            return None;
        }
        total += since(start);
    }
    Some(total)
}

fn hid() -> UsbHidClient {
    UsbHidClient::new(sys_refresh_incarnation(USB_HID))
}

/// The number of the newest event usb-hid keeps after `after`, and whether one of those
/// is `wanted` of `usage`.
fn events_after(after: u32, wanted: u8, usage: u8) -> (u32, bool) {
    let mut records = [HidRecord::new_zeroed(); 16];
    let Ok(n) = hid().events(after, &mut records) else {
        return (after, false);
    };
    let records = &records[..usize::from(n)];
    let newest = records.iter().map(|r| r.number).max().unwrap_or(after);
    let seen = records.iter().any(|r| r.kind == wanted && r.code == usage);
    (newest, seen)
}

/// Waits (untimed, asleep between `hid` notifications or polls) until an event `wanted`
/// of `usage` comes after `after`; returns the newest event number, `None` after
/// `SERVED_WITHIN_MS`.
fn wait_for_key(after: u32, wanted: u8, usage: u8) -> Option<u32> {
    let give_up = sys_get_timer().now + SERVED_WITHIN_MS;
    let mut newest = after;
    loop {
        let (n, seen) = events_after(newest, wanted, usage);
        newest = n;
        if seen {
            return Some(newest);
        }
        if sys_get_timer().now >= give_up {
            return None;
        }
        sys_set_timer(Some(sys_get_timer().now + UNTIMED_POLL_MS), TIMER);
        sys_recv_notification(HID | TIMER);
    }
}

/// Mean elapsed and busy (every task but usb-sim) ticks from a key press in usb-sim to its
/// KeyDown in this task's hands; `None` (and why on the console) if it never came.
fn key_to_app() -> Option<(u64, u64)> {
    let sim = UsbSimClient::new(USB_SIM);
    if sim.plug(usb_sim_api::devices::KEYBOARD.as_bytes()).is_err() {
        say(format_args!(
            "usb-bench: usb-sim refused to plug the keyboard"
        ));
        return None;
    }
    // The keyboard's own script presses A once it is configured and polled.
    let Some(mut last) = wait_for_key(0, kind::KEY_DOWN, 0x04) else {
        say(format_args!(
            "usb-bench: usb-hid never served the keyboard's A"
        ));
        return None;
    };
    let (mut elapsed, mut busy) = (0, 0);
    for rep in 0..KEY_PRESSES {
        bench_api::dither(rep);
        let before = task_times();
        let start = bench_api::now();
        if sim.press(KEY_Z).is_err() {
            say(format_args!("usb-bench: usb-sim could not press a key"));
            return None;
        }
        // Woken by usb-hid's `hid` post; the timer only bounds a lost one.
        let Some(newest) = wait_for_key(last, kind::KEY_DOWN, KEY_Z) else {
            say(format_args!(
                "usb-bench: key press {rep} never reached usb-hid's events"
            ));
            return None;
        };
        elapsed += since(start);
        let after = task_times();
        busy += (0..TASKS)
            .filter(|&i| i != USB_SIM.index())
            .map(|i| after[i] - before[i])
            .sum::<u64>();
        // The release comes at the next poll; the next press waits for it.
        last = wait_for_key(newest, kind::KEY_UP, KEY_Z)?;
    }
    Some((elapsed, busy))
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    bench_api::start_clock();
    let mut buf = [0u8; CHUNK];
    let Some(disk) = served_and_read(&mut buf[..BLOCK], UNTIMED_POLL_MS) else {
        panic!("usb-bench: usb-msc never served the flash drive plugged at boot")
    };
    let through_tasks = msc_read(disk, &mut buf);

    let restarts = u64::from(RESTARTS);
    if let Some(t) = restart_to_read(USB_MSC, "usb-msc", &mut buf[..BLOCK]) {
        report("usb_class_restart_to_bound", t, restarts);
    }
    if let Some(t) = restart_to_read(USB_HCD, "usb-hcd", &mut buf[..BLOCK]) {
        report("usb_hcd_restart_to_enumerated", t, restarts);
    }
    if let Some((elapsed, busy)) = key_to_app() {
        let presses = u64::from(KEY_PRESSES);
        report("usb_hid_key_to_app", elapsed, presses);
        report("usb_hid_key_to_app_busy", busy, presses);
    }
    // Last: it unloads the stack's tasks.
    one_task_read(&through_tasks, &mut buf);
    say(format_args!("BENCH DONE"));
    loop {
        sys_recv_notification(1 << 31);
    }
}
