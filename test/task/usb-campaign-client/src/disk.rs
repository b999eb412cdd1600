//! Numbered blocks through `usb-msc`: write block `round % 64` of the flash drive with a
//! fresh seed (`usb_model::blocks::generated`, the pattern the simulated drive stores
//! compactly), then read it back. The oracle keeps, per block, what the drive must hold:
//! the last write that was acknowledged. A successful read of anything else is a
//! corruption, `campaign: corrupt disk round R tick T`.
//!
//! A write that ended with an error (the driver, the core or the controller driver died
//! mid-command) leaves the block indeterminate, as SCSI says of a failed WRITE: the next read
//! settles it to the old or the new contents, or finds it torn (part of the data landed),
//! which is reported as `campaign: torn disk ...` and not checked until the next
//! acknowledged write.

use usb_model::blocks::generated;
use usb_msc_api::{DiskHandle, UsbMscClient};
use usb_sim_api::UsbSimClient;
use userlib::{sys_get_timer, sys_refresh_incarnation};

use crate::{Console, USB_MSC};

const BLOCK: usize = 512;
/// The blocks exercised: few enough that each is written again within a few rounds, so a
/// lost or misplaced write is read back soon.
const BLOCKS: u32 = 64;
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

pub struct Disk {
    expect: [Expect; BLOCKS as usize],
    disk: Option<DiskHandle>,
    without_disk_since: u64,
    block: [u8; BLOCK],
    back: [u8; BLOCK],
    round: u32,
    verified: u64,
}

impl Disk {
    pub fn new() -> Self {
        Disk {
            expect: [Expect::Known(0); BLOCKS as usize],
            disk: None,
            without_disk_since: sys_get_timer().now,
            block: [0; BLOCK],
            back: [0; BLOCK],
            round: 0,
            verified: 0,
        }
    }

    /// One round: a write and its read back, or an attempt to find the disk.
    pub fn step(&mut self, console: &Console<'_>, sim: &UsbSimClient) {
        let msc = UsbMscClient::new(sys_refresh_incarnation(USB_MSC));
        let Some(handle) = self.disk else {
            match msc.disk(0) {
                Ok(info) => self.disk = Some(info.handle),
                Err(_) => {
                    crate::replug_if_missing(sim, b"flash", &mut self.without_disk_since);
                }
            }
            return;
        };
        self.round = self.round.wrapping_add(1);
        let round = self.round;
        let lba = round % BLOCKS;
        // Settle an unknown write before the next one, so at most two contents are ever
        // possible.
        if let Expect::Either(..) = self.expect[lba as usize] {
            if msc.read(handle, lba, &mut self.back).is_err() {
                return self.lose_disk();
            }
            self.settle(lba, console);
        }
        let seed = (round % MAX_SEED + 1) as u16;
        generated(lba, seed, 0, &mut self.block);
        let slot = &mut self.expect[lba as usize];
        *slot = match (msc.write(handle, lba, &self.block), *slot) {
            (Ok(()), _) => Expect::Known(seed),
            (Err(_), Expect::Known(old) | Expect::Either(old, _)) => Expect::Either(old, seed),
            (Err(_), Expect::Unknown) => Expect::Unknown,
        };
        self.back.fill(0xA5);
        if msc.read(handle, lba, &mut self.back).is_err() {
            return self.lose_disk();
        }
        self.settle(lba, console);
        if let Expect::Known(s) = self.expect[lba as usize]
            && s == seed
        {
            self.verified += 1;
            console.count(b"campaign: verified ", 64, self.verified - 1, self.verified);
        }
    }

    fn lose_disk(&mut self) {
        self.disk = None;
        self.without_disk_since = sys_get_timer().now;
    }

    /// Settles block `lba`'s expectation against what was just read into `back`: the
    /// expectation it met, or, if it met none, the expectation unchanged after reporting a
    /// corruption.
    fn settle(&mut self, lba: u32, console: &Console<'_>) {
        let (back, scratch) = (&self.back, &mut self.block);
        let mut holds = |s: u16| {
            if s == 0 {
                back.iter().all(|&b| b == 0)
            } else {
                generated(lba, s, 0, scratch);
                scratch == back
            }
        };
        let slot = &mut self.expect[lba as usize];
        let round = u64::from(self.round);
        *slot = match *slot {
            Expect::Known(s) if holds(s) => *slot,
            Expect::Either(_, b) if holds(b) => Expect::Known(b),
            Expect::Either(a, _) if holds(a) => Expect::Known(a),
            Expect::Unknown => Expect::Unknown,
            Expect::Either(..) => {
                console.report(b"campaign: torn disk round ", round);
                Expect::Unknown
            }
            Expect::Known(_) => {
                console.report(b"campaign: corrupt disk round ", round);
                *slot
            }
        };
    }
}
