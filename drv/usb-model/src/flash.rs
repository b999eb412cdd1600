//! Simulated USB flash drive: Bulk-Only Transport with a SCSI block device on storage the
//! caller provides (so the model itself allocates nothing): a RAM disk, or any
//! [`BlockStore`] such as the compact [`crate::blocks::PatternStore`]. A write the store
//! refuses fails its command with MEDIUM ERROR / WRITE ERROR.
//!
//! BOT state machine (per BOT 1.0 §5-6):
//!
//! | State | bulk OUT | bulk IN |
//! |---|---|---|
//! | `Command` | valid CBW → run command → `DataIn`/`DataOut`/`Status`; invalid CBW → halt both endpoints | NAK |
//! | `DataIn` | halt | next ≤ 64 bytes; when done → `Status` |
//! | `DataOut` | store ≤ 64 bytes; when done → `Status` | halt |
//! | `Status` | halt | CSW → `Command` |
//!
//! Bulk-Only Mass Storage Reset returns to `Command` (halts stay until CLEAR_FEATURE). After a
//! bus reset the first TEST UNIT READY fails with UNIT ATTENTION / power-on reset, so hosts
//! exercise REQUEST SENSE. [`FlashFaults`] make the drive stall a data stage or send a bad CSW
//! for one chosen command, which the host must recover from.

use crate::blocks::{BlockStore, RamStore};
use crate::device::{Ch9Device, EpIn, EpOut, Function};
use crate::{concat, device_descriptor};
use usb_proto::Speed;
use usb_proto::msc::{
    Capacity, Cbw, Csw, CswStatus, REQUEST_BULK_ONLY_RESET, REQUEST_GET_MAX_LUN, Sense, scsi,
};
use usb_proto::setup::{RequestType, SetupPacket};

const CONFIG: [u8; 32] = concat(&[
    &[9, 2, 32, 0, 1, 1, 0, 0x80, 50],
    &[9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0],
    &[7, 5, 0x81, 2, 64, 0, 0],
    &[7, 5, 0x02, 2, 64, 0, 0],
]);

pub const BLOCK_LEN: usize = 512;
const IN_EP: u8 = 1;
const OUT_EP: u8 = 2;

/// One-shot misbehaviour, keyed by the 1-based index of the command it hits.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlashFaults {
    /// Halt bulk IN instead of sending this command's data (the CSW still follows after
    /// CLEAR_FEATURE), with sense MEDIUM ERROR.
    pub stall_data_in_at: Option<u32>,
    /// Answer this command with a CSW whose signature is wrong.
    pub bad_csw_at: Option<u32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bot {
    Command,
    DataIn {
        source: Source,
        offset: usize,
        len: usize,
    },
    DataOut {
        lba: u32,
        offset: usize,
        len: usize,
    },
    Status,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Response,
    Disk(usize),
}

/// The drive's blocks: a RAM disk it wraps itself, or a store the caller made.
enum Storage<'d> {
    Ram(RamStore<'d>),
    Store(&'d mut dyn BlockStore),
}

impl Storage<'_> {
    fn get(&self) -> &dyn BlockStore {
        match self {
            Storage::Ram(ram) => ram,
            Storage::Store(store) => &**store,
        }
    }
    fn get_mut(&mut self) -> &mut dyn BlockStore {
        match self {
            Storage::Ram(ram) => ram,
            Storage::Store(store) => &mut **store,
        }
    }
}

pub struct BotDisk<'d> {
    disk: Storage<'d>,
    state: Bot,
    csw: Csw,
    response: [u8; 36],
    sense: Sense,
    unit_attention: bool,
    commands: u32,
    pub faults: FlashFaults,
    /// Bulk-Only Mass Storage Resets received.
    pub resets: u32,
}

pub type SimFlash<'d> = Ch9Device<BotDisk<'d>>;

/// The Bulk-Only SCSI disk function over `disk` (bulk IN endpoint 1, OUT endpoint 2), to put
/// behind any descriptors with those endpoints.
pub fn bot_function(disk: &mut [u8], faults: FlashFaults) -> BotDisk<'_> {
    bot_function_on(Storage::Ram(RamStore(disk)), faults)
}

fn bot_function_on(disk: Storage<'_>, faults: FlashFaults) -> BotDisk<'_> {
    BotDisk {
        disk,
        state: Bot::Command,
        csw: Csw {
            tag: 0,
            residue: 0,
            status: CswStatus::Passed,
        },
        response: [0; 36],
        sense: NO_SENSE,
        unit_attention: true,
        commands: 0,
        faults,
        resets: 0,
    }
}

/// A full-speed flash drive over `disk` (its length is rounded down to whole blocks).
pub fn flash_drive(disk: &mut [u8], faults: FlashFaults) -> SimFlash<'_> {
    drive(bot_function(disk, faults))
}

/// A full-speed flash drive over any [`BlockStore`].
pub fn flash_drive_on<'d>(store: &'d mut dyn BlockStore, faults: FlashFaults) -> SimFlash<'d> {
    drive(bot_function_on(Storage::Store(store), faults))
}

fn drive(function: BotDisk<'_>) -> SimFlash<'_> {
    Ch9Device::new(
        function,
        Speed::Full,
        device_descriptor(0, 64, 0x1209, 0x0004),
        &CONFIG,
    )
}

const NO_SENSE: Sense = Sense {
    key: scsi::NO_SENSE,
    asc: 0,
    ascq: 0,
};
const INVALID_OPCODE: Sense = Sense {
    key: scsi::ILLEGAL_REQUEST,
    asc: 0x20,
    ascq: 0,
};
const LBA_OUT_OF_RANGE: Sense = Sense {
    key: scsi::ILLEGAL_REQUEST,
    asc: 0x21,
    ascq: 0,
};
const POWER_ON: Sense = Sense {
    key: scsi::UNIT_ATTENTION,
    asc: 0x29,
    ascq: 0,
};
const READ_ERROR: Sense = Sense {
    key: scsi::MEDIUM_ERROR,
    asc: 0x11,
    ascq: 0,
};
const WRITE_ERROR: Sense = Sense {
    key: scsi::MEDIUM_ERROR,
    asc: 0x0C,
    ascq: 0,
};

impl BotDisk<'_> {
    fn blocks(&self) -> usize {
        self.disk.get().blocks()
    }

    fn respond(&mut self, bytes: &[u8]) -> Bot {
        let n = bytes.len().min(self.response.len());
        self.response[..n].copy_from_slice(&bytes[..n]);
        Bot::DataIn {
            source: Source::Response,
            offset: 0,
            len: n,
        }
    }

    fn fail(&mut self, sense: Sense) -> Bot {
        self.sense = sense;
        self.csw.status = CswStatus::Failed;
        Bot::Status
    }

    /// Range of disk bytes for a READ(10)/WRITE(10), if it lies on the disk.
    fn disk_range(&self, cdb: &[u8]) -> Option<(u32, usize)> {
        let (lba, blocks) = scsi::rw10_fields(cdb)?;
        let end = lba as usize + usize::from(blocks);
        (end <= self.blocks()).then_some((lba, usize::from(blocks) * BLOCK_LEN))
    }

    fn command(&mut self, cbw: &Cbw) -> Bot {
        self.commands += 1;
        self.csw = Csw {
            tag: cbw.tag,
            residue: cbw.data_length,
            status: CswStatus::Passed,
        };
        let cdb = cbw.command();
        let state = match cdb[0] {
            scsi::INQUIRY => {
                let mut inquiry = [0u8; 36];
                inquiry[1] = 0x80;
                inquiry[4] = 31;
                inquiry[8..16].copy_from_slice(b"BULKHEAD");
                inquiry[16..32].copy_from_slice(b"SIM FLASH DRIVE ");
                self.respond(&inquiry)
            }
            scsi::TEST_UNIT_READY if self.unit_attention => {
                self.unit_attention = false;
                self.fail(POWER_ON)
            }
            scsi::TEST_UNIT_READY => Bot::Status,
            scsi::REQUEST_SENSE => {
                let sense = self.sense.to_bytes();
                self.sense = NO_SENSE;
                self.respond(&sense)
            }
            scsi::READ_CAPACITY_10 => {
                let last_lba = self.blocks().saturating_sub(1) as u32;
                self.respond(
                    &Capacity {
                        last_lba,
                        block_len: BLOCK_LEN as u32,
                    }
                    .to_bytes(),
                )
            }
            scsi::READ_10 => match self.disk_range(cdb) {
                Some((lba, len)) => Bot::DataIn {
                    source: Source::Disk(lba as usize * BLOCK_LEN),
                    offset: 0,
                    len,
                },
                None => self.fail(LBA_OUT_OF_RANGE),
            },
            scsi::WRITE_10 => match self.disk_range(cdb) {
                Some((lba, len)) => Bot::DataOut {
                    lba,
                    offset: 0,
                    len,
                },
                None => self.fail(LBA_OUT_OF_RANGE),
            },
            _ => self.fail(INVALID_OPCODE),
        };
        // The host's transfer length bounds every data stage (BOT cases 4-13 collapse to
        // "move min(host, device) bytes and report the rest as residue").
        let limit = cbw.data_length as usize;
        match state {
            Bot::DataIn { source, len, .. } if cbw.data_in && len > 0 => Bot::DataIn {
                source,
                offset: 0,
                len: len.min(limit),
            },
            Bot::DataOut { lba, len, .. } if !cbw.data_in && len > 0 => Bot::DataOut {
                lba,
                offset: 0,
                len: len.min(limit),
            },
            Bot::DataIn { .. } | Bot::DataOut { .. } => {
                self.csw.status = CswStatus::PhaseError;
                Bot::Status
            }
            Bot::Status if limit > 0 && cbw.data_in => Bot::DataIn {
                source: Source::Response,
                offset: 0,
                len: 0,
            },
            other => other,
        }
    }

    fn data_stage_done(&mut self, moved: usize) {
        self.csw.residue = self.csw.residue.saturating_sub(moved as u32);
        self.state = Bot::Status;
    }

    fn csw_bytes(&mut self, out: &mut [u8]) -> usize {
        let mut bytes = self.csw.to_bytes();
        if self.faults.bad_csw_at == Some(self.commands) {
            bytes[0] ^= 0xFF;
        }
        out[..Csw::LEN].copy_from_slice(&bytes);
        Csw::LEN
    }
}

impl Function for BotDisk<'_> {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        if setup.request_type() != RequestType::Class || setup.index != 0 {
            return None;
        }
        match setup.request {
            REQUEST_GET_MAX_LUN if !data.is_empty() => {
                data[0] = 0;
                Some(1)
            }
            REQUEST_BULK_ONLY_RESET => {
                self.resets += 1;
                self.state = Bot::Command;
                Some(0)
            }
            _ => None,
        }
    }

    fn data_out(&mut self, ep: u8, data: &[u8]) -> EpOut {
        if ep != OUT_EP {
            return EpOut::Halt;
        }
        match self.state {
            Bot::Command => match Cbw::parse(data) {
                Ok(cbw) => {
                    self.state = self.command(&cbw);
                    EpOut::Accepted
                }
                Err(_) => EpOut::Halt,
            },
            Bot::DataOut { lba, offset, len } => {
                let n = data.len().min(len - offset);
                // Whole packets never straddle a block; a host's odd packet might.
                let mut done = 0;
                while done < n {
                    let at = offset + done;
                    let (block, within) = (lba as usize + at / BLOCK_LEN, at % BLOCK_LEN);
                    let part = (n - done).min(BLOCK_LEN - within);
                    if !self
                        .disk
                        .get_mut()
                        .write(block, within, &data[done..done + part])
                    {
                        self.sense = WRITE_ERROR;
                        self.csw.status = CswStatus::Failed;
                    }
                    done += part;
                }
                let offset = offset + n;
                if offset == len || n < 64 {
                    self.data_stage_done(offset);
                } else {
                    self.state = Bot::DataOut { lba, offset, len };
                }
                EpOut::Accepted
            }
            _ => EpOut::Halt,
        }
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> EpIn {
        if ep != IN_EP {
            return EpIn::Halt;
        }
        match self.state {
            Bot::Command => EpIn::Nak,
            Bot::DataIn { .. } if self.faults.stall_data_in_at == Some(self.commands) => {
                self.faults.stall_data_in_at = None;
                self.sense = READ_ERROR;
                self.csw.status = CswStatus::Failed;
                self.state = Bot::Status;
                EpIn::Halt
            }
            Bot::DataIn {
                source,
                offset,
                len,
            } => {
                let n = (len - offset).min(64);
                match source {
                    Source::Response => {
                        out[..n].copy_from_slice(&self.response[offset..offset + n])
                    }
                    Source::Disk(base) => {
                        let mut done = 0;
                        while done < n {
                            let at = base + offset + done;
                            let (block, within) = (at / BLOCK_LEN, at % BLOCK_LEN);
                            let part = (n - done).min(BLOCK_LEN - within);
                            self.disk
                                .get()
                                .read(block, within, &mut out[done..done + part]);
                            done += part;
                        }
                    }
                }
                let offset = offset + n;
                if offset == len || n < 64 {
                    self.data_stage_done(offset);
                } else {
                    self.state = Bot::DataIn {
                        source,
                        offset,
                        len,
                    };
                }
                EpIn::Data(n)
            }
            Bot::DataOut { .. } => EpIn::Halt,
            Bot::Status => {
                self.state = Bot::Command;
                EpIn::Data(self.csw_bytes(out))
            }
        }
    }

    fn reset(&mut self) {
        self.state = Bot::Command;
        self.unit_attention = true;
        self.sense = NO_SENSE;
    }
}
