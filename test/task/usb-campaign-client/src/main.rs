//! The USB fault campaign's workload and oracle (`test/app/campaign-usb`,
//! `doc/fault-campaign.md`).
//!
//! In a loop: write block `lba` of the flash drive through `usb-msc` with a fresh seed
//! (`usb_model::blocks::generated`, the pattern the simulated drive stores compactly), then
//! read it back. The oracle keeps, per block, what the drive must hold: the last write that
//! was acknowledged. A successful read of anything else is a corruption, printed as
//! `campaign: corrupt disk round R tick T`, which the campaign runner counts.
//!
//! A write that ended with an error (the driver, the core or the controller driver died
//! mid-command) leaves the block indeterminate, as SCSI says of a failed WRITE: the next read
//! settles it to the old or the new contents, or finds it torn (part of the data landed),
//! which is reported as `campaign: torn disk ...` and not checked until the next
//! acknowledged write.
//!
//! A call that fails is what a restart looks like from here: the handle goes stale, the disk
//! is asked for again, and the loop goes on. A drive the core quarantined (its driver
//! faulted on it three times) stays unserved; after [`REPLUG_MS`] without a disk the
//! workload unplugs and replugs it through `usb-sim`, as a user would, which gives it a clean
//! slate.
//!
//! The kernel counts this task's received replies as the workload's progress; this task is
//! never a target.
#![no_std]
#![no_main]

use drv_cmsdk_uart::Uart;
use usb_model::blocks::generated;
use usb_msc_api::{DiskHandle, UsbMscClient};
use usb_sim_api::UsbSimClient;
use userlib::{sleep_for, sys_get_timer, sys_refresh_incarnation, task_slot};

task_slot!(USB_MSC, "usb-msc");
task_slot!(USB_SIM, "usb-sim");

const UART0: usize = 0x4000_4000;
const CLOCK_HZ: u32 = 25_000_000;
/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
const BLOCK: usize = 512;
/// The blocks exercised: few enough that each is written again within a few rounds, so a
/// lost or misplaced write is read back soon.
const BLOCKS: u32 = 64;
/// How long without a disk before the drive is replugged.
const REPLUG_MS: u64 = 300;
/// The largest seed the drive stores compactly (`usb_model::blocks::MAX_SEED`).
const MAX_SEED: u32 = usb_model::blocks::MAX_SEED as u32;

/// What block `lba` must hold: seed 0 is the fresh drive's zeros.
#[derive(Copy, Clone)]
enum Expect {
    Known(u16),
    /// A write of the second seed ended with an error: the first or the second. Settled by
    /// a read before the block is written again.
    Either(u16, u16),
    /// Torn by a failed write: anything, until the next acknowledged write.
    Unknown,
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart0 to this task only.
    let uart = unsafe { Uart::new(UART0) };
    uart.enable(CLOCK_HZ, 115_200);
    uart.write_bytes(b"campaign: usb workload running\n");
    let sim = UsbSimClient::new(USB_SIM);
    let mut expect = [Expect::Known(0); BLOCKS as usize];
    let mut disk: Option<DiskHandle> = None;
    let mut without_disk_since = sys_get_timer().now;
    let mut block = [0u8; BLOCK];
    let mut back = [0u8; BLOCK];
    let mut round = 0u32;
    let mut verified = 0u64;
    loop {
        sleep_for(1, TIMER);
        let msc = UsbMscClient::new(sys_refresh_incarnation(USB_MSC));
        let Some(handle) = disk else {
            match msc.disk(0) {
                Ok(info) => disk = Some(info.handle),
                Err(_) if sys_get_timer().now - without_disk_since >= REPLUG_MS => {
                    let _ = sim.unplug(b"flash");
                    let _ = sim.plug(b"flash");
                    without_disk_since = sys_get_timer().now;
                }
                Err(_) => {}
            }
            continue;
        };
        round = round.wrapping_add(1);
        let lba = round % BLOCKS;
        let slot = &mut expect[lba as usize];
        // Settle an unknown write before the next one, so at most two contents are ever
        // possible.
        if let Expect::Either(..) = *slot {
            if msc.read(handle, lba, &mut back).is_err() {
                disk = None;
                without_disk_since = sys_get_timer().now;
                continue;
            }
            *slot = settle(*slot, lba, &back, &mut block, round, &uart);
        }
        let seed = (round % MAX_SEED + 1) as u16;
        generated(lba, seed, 0, &mut block);
        *slot = match (msc.write(handle, lba, &block), *slot) {
            (Ok(()), _) => Expect::Known(seed),
            (Err(_), Expect::Known(old) | Expect::Either(old, _)) => Expect::Either(old, seed),
            (Err(_), Expect::Unknown) => Expect::Unknown,
        };
        back.fill(0xA5);
        if msc.read(handle, lba, &mut back).is_err() {
            disk = None;
            without_disk_since = sys_get_timer().now;
            continue;
        }
        *slot = settle(*slot, lba, &back, &mut block, round, &uart);
        if let Expect::Known(s) = *slot
            && s == seed
        {
            verified += 1;
            // The runner keeps the last count: what the oracle actually checked.
            if verified.is_multiple_of(64) {
                uart.write_bytes(b"campaign: verified ");
                uart.write_bytes(&decimal(verified));
                uart.write_bytes(b"\n");
            }
        }
    }
}

/// What the block holds now that `back` was read from it: the expectation it met, or, if it
/// met none, the expectation unchanged after reporting a corruption. `scratch` is a block
/// buffer.
fn settle(
    expect: Expect,
    lba: u32,
    back: &[u8; BLOCK],
    scratch: &mut [u8; BLOCK],
    round: u32,
    uart: &Uart,
) -> Expect {
    let mut holds = |s: u16| {
        if s == 0 {
            back.iter().all(|&b| b == 0)
        } else {
            generated(lba, s, 0, scratch);
            scratch == back
        }
    };
    match expect {
        Expect::Known(s) if holds(s) => expect,
        Expect::Either(_, b) if holds(b) => Expect::Known(b),
        Expect::Either(a, _) if holds(a) => Expect::Known(a),
        Expect::Unknown => Expect::Unknown,
        Expect::Either(..) => {
            report(uart, b"campaign: torn disk round ", round);
            Expect::Unknown
        }
        Expect::Known(_) => {
            report(uart, b"campaign: corrupt disk round ", round);
            expect
        }
    }
}

/// `what`, the round and the tick, on one console line.
fn report(uart: &Uart, what: &[u8], round: u32) {
    uart.write_bytes(what);
    uart.write_bytes(&decimal(u64::from(round)));
    uart.write_bytes(b" tick ");
    uart.write_bytes(&decimal(sys_get_timer().now));
    uart.write_bytes(b"\n");
}

/// `v` in decimal, 20 digits with leading zeros.
fn decimal(mut v: u64) -> [u8; 20] {
    let mut digits = [b'0'; 20];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    digits
}
