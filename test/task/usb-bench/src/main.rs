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
use jefe_api::JefeClient;
use usb_msc_api::{DiskInfo, UsbMscClient};
use usb_sim_api::UsbSimClient;
use userlib::*;

task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(USB_SIM, "usb-sim");
task_slot!(USB_HCD, "usb-hcd");
task_slot!(USB_MSC, "usb-msc");

/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
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

/// READs of the first [`READ_BLOCKS`] of the disk, [`READ_PASSES`] times, in `CHUNK`s.
fn msc_read(disk: DiskInfo, buf: &mut [u8; CHUNK]) {
    let chunks = { disk.blocks }.min(READ_BLOCKS) as usize * BLOCK / CHUNK;
    let before = task_times();
    let start = bench_api::now();
    for pass in 0..READ_PASSES {
        for chunk in 0..chunks {
            if msc()
                .read(disk.handle, (chunk * CHUNK / BLOCK) as u32, buf)
                .is_err()
            {
                panic!("usb-bench: READ of chunk {chunk} in pass {pass} failed");
            }
        }
    }
    let ticks = since(start);
    let after = task_times();
    let charged = |i: usize| after[i] - before[i];
    let busy: u64 = (0..TASKS).map(charged).sum();
    let sim = charged(USB_SIM.index() as usize);
    // Busy time cannot exceed the loop's: if it does, the accounting is wrong.
    if busy > ticks + ticks / 1000 {
        panic!(
            "usb-bench: tasks were charged {busy} busy cycles over a read loop of {ticks} ticks"
        );
    }
    let kib = u64::from(READ_PASSES) * (chunks * CHUNK / 1024) as u64;
    report("usb_msc_read_elapsed_per_kib", ticks, kib);
    report("usb_msc_read_instr_per_kib_total", busy, kib);
    report("usb_msc_read_instr_per_kib", busy - sim, kib);
    say(format_args!(
        "BENCH usb_msc_read_sim_share_pct {}",
        (sim * 100 + busy / 2) / busy
    ));
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

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    bench_api::start_clock();
    let mut buf = [0u8; CHUNK];
    let Some(disk) = served_and_read(&mut buf[..BLOCK], UNTIMED_POLL_MS) else {
        panic!("usb-bench: usb-msc never served the flash drive plugged at boot")
    };
    msc_read(disk, &mut buf);

    let restarts = u64::from(RESTARTS);
    if let Some(t) = restart_to_read(USB_MSC, "usb-msc", &mut buf[..BLOCK]) {
        report("usb_class_restart_to_bound", t, restarts);
    }
    if let Some(t) = restart_to_read(USB_HCD, "usb-hcd", &mut buf[..BLOCK]) {
        report("usb_hcd_restart_to_enumerated", t, restarts);
    }
    say(format_args!("BENCH DONE"));
    loop {
        sys_recv_notification(1 << 31);
    }
}
