//! Mass-storage (Bulk-Only Transport + SCSI) driver logic.
//!
//! What it is: the logic of the `usb-msc` task for one binding: bring-up (GET MAX LUN,
//! INQUIRY, TEST UNIT READY with REQUEST SENSE, READ CAPACITY(10)) and block reads/writes.
//!
//! Command cycle (BOT 1.0 §5.3/§6.7, doc/usb-host.md 3.2):
//!
//! | Stage | Outcome | Action |
//! |---|---|---|
//! | before CBW | transport dirty | Reset Recovery first |
//! | CBW | STALL | clear halt OUT, Reset Recovery, fail `CbwRejected` |
//! | data | STALL | clear halt, continue to CSW (device ended the data phase) |
//! | data | short IN packet | data phase ends, continue to CSW |
//! | CSW | STALL | clear halt IN, read the CSW once more |
//! | CSW | wrong length / signature / tag, residue > length | Reset Recovery, fail `BadCsw` |
//! | CSW | status 2 (phase error) or reserved | Reset Recovery, fail `PhaseError` |
//! | CSW | status 1 | REQUEST SENSE, fail `CommandFailed(sense)` (a failing REQUEST SENSE: `SenseUnavailable`, no recursion) |
//! | any | transfer error / timeout | transport left dirty, fail `Port(..)` |
//!
//! Reset Recovery = Bulk-Only Mass Storage Reset, then CLEAR_FEATURE(HALT) on bulk IN and bulk
//! OUT (with host toggle resets). A restarted driver starts dirty, so its first command
//! resynchronises the transport (doc/usb-host.md 6.4).
//!
//! Invariants: data moved never exceeds the caller's buffer (the transport layer guarantees
//! it); the reported length is `min(received, length − residue)`; capacity is validated
//! (block length a power of two in 512..=4096, last LBA not 0xFFFFFFFF).
#![no_std]
#![forbid(unsafe_code)]

use usb_host_api::{ClassPort, Direction, EpAddr, EpType, PortError, XferError};
use usb_proto::msc::{self, Capacity, Cbw, Csw, CswStatus, Inquiry, Sense, scsi};
use usb_proto::walk::Configuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MscError {
    NotBulkOnly,
    MissingEndpoint,
    /// The device refused the CBW (STALL on bulk OUT).
    CbwRejected,
    BadCsw,
    PhaseError,
    CommandFailed(Sense),
    /// REQUEST SENSE itself failed or returned no fixed-format sense.
    SenseUnavailable,
    /// TEST UNIT READY kept failing.
    NeverReady,
    BadCapacity,
    OutOfRange,
    /// Buffer length is not a whole number of blocks.
    BadLength,
    Port(PortError),
}

impl From<PortError> for MscError {
    fn from(e: PortError) -> Self {
        MscError::Port(e)
    }
}

const DATA_TIMEOUT_MS: u32 = 5000;
const READY_ATTEMPTS: u32 = 5;
const READY_RETRY_MS: u32 = 20;
/// Blocks per READ(10)/WRITE(10): keeps one bulk transfer within 1023 packets.
pub const MAX_BLOCKS_PER_COMMAND: usize = 64;

/// A command's data stage.
pub enum Data<'a> {
    None,
    In(&'a mut [u8]),
    Out(&'a [u8]),
}

impl Data<'_> {
    fn len(&self) -> usize {
        match self {
            Data::None => 0,
            Data::In(b) => b.len(),
            Data::Out(b) => b.len(),
        }
    }
}

/// How a command cycle ended, when the transport itself worked.
enum Completed {
    Passed(usize),
    Failed,
}

/// One bound BOT/SCSI logical unit 0.
pub struct MassStorage {
    interface: u8,
    bulk_in: EpAddr,
    bulk_out: EpAddr,
    tag: u32,
    dirty: bool,
    pub max_lun: u8,
    pub block_len: u32,
    pub blocks: u32,
    pub removable: bool,
    /// Reset Recoveries performed.
    pub recoveries: u32,
}

impl MassStorage {
    /// Binds interface `interface`; the transport starts dirty (see the module docs).
    pub fn attach(config: &Configuration<'_>, interface: u8) -> Result<Self, MscError> {
        let iface = config
            .interfaces()
            .find(|i| i.number == interface && i.alternate == 0)
            .filter(|i| {
                (i.class, i.subclass, i.protocol)
                    == (msc::CLASS, msc::SUBCLASS_SCSI, msc::PROTOCOL_BOT)
            })
            .ok_or(MscError::NotBulkOnly)?;
        let bulk_in = iface
            .endpoint(EpType::Bulk, Direction::In)
            .ok_or(MscError::MissingEndpoint)?;
        let bulk_out = iface
            .endpoint(EpType::Bulk, Direction::Out)
            .ok_or(MscError::MissingEndpoint)?;
        Ok(MassStorage {
            interface,
            bulk_in: bulk_in.addr,
            bulk_out: bulk_out.addr,
            tag: 0,
            dirty: true,
            max_lun: 0,
            block_len: 0,
            blocks: 0,
            removable: false,
            recoveries: 0,
        })
    }

    /// GET MAX LUN, INQUIRY, TEST UNIT READY (with REQUEST SENSE), READ CAPACITY(10).
    pub fn bring_up(&mut self, port: &mut impl ClassPort) -> Result<(), MscError> {
        let mut lun = [0u8; 1];
        self.max_lun = match port.control(&msc::get_max_lun(self.interface), &mut lun) {
            Ok(1) => lun[0].min(15),
            Ok(_) | Err(PortError::Xfer(XferError::Stall)) => 0,
            Err(e) => return Err(e.into()),
        };
        let mut inquiry = [0u8; scsi::INQUIRY_LEN as usize];
        let n = self.command(port, &scsi::inquiry(), Data::In(&mut inquiry))?;
        self.removable = Inquiry::parse(&inquiry[..n]).is_some_and(|i| i.removable);
        self.wait_ready(port)?;
        let mut capacity = [0u8; Capacity::LEN];
        let n = self.command(port, &scsi::read_capacity_10(), Data::In(&mut capacity))?;
        let capacity = Capacity::parse(&capacity[..n]).ok_or(MscError::BadCapacity)?;
        let block_ok =
            capacity.block_len.is_power_of_two() && (512..=4096).contains(&capacity.block_len);
        if !block_ok || capacity.last_lba == u32::MAX {
            return Err(MscError::BadCapacity);
        }
        self.block_len = capacity.block_len;
        self.blocks = capacity.last_lba + 1;
        Ok(())
    }

    fn wait_ready(&mut self, port: &mut impl ClassPort) -> Result<(), MscError> {
        for _ in 0..READY_ATTEMPTS {
            match self.command(port, &scsi::test_unit_ready(), Data::None) {
                Ok(_) => return Ok(()),
                Err(MscError::CommandFailed(_)) => port.delay_ms(READY_RETRY_MS),
                Err(e) => return Err(e),
            }
        }
        Err(MscError::NeverReady)
    }

    /// Reads whole blocks starting at `lba` into `buf`.
    pub fn read(
        &mut self,
        port: &mut impl ClassPort,
        lba: u32,
        buf: &mut [u8],
    ) -> Result<(), MscError> {
        let step = self.check_range(lba, buf.len())?;
        self.run_blocks(port, lba, buf.chunks_mut(step).map(Data::In), scsi::read_10)
    }

    /// Writes whole blocks from `data` starting at `lba`.
    pub fn write(
        &mut self,
        port: &mut impl ClassPort,
        lba: u32,
        data: &[u8],
    ) -> Result<(), MscError> {
        let step = self.check_range(lba, data.len())?;
        self.run_blocks(port, lba, data.chunks(step).map(Data::Out), scsi::write_10)
    }

    /// One READ(10)/WRITE(10) per chunk of [`MAX_BLOCKS_PER_COMMAND`] blocks; a chunk that
    /// moves less than asked is an error.
    fn run_blocks<'a>(
        &mut self,
        port: &mut impl ClassPort,
        lba: u32,
        chunks: impl Iterator<Item = Data<'a>>,
        cdb: fn(u32, u16) -> [u8; 10],
    ) -> Result<(), MscError> {
        for (i, data) in chunks.enumerate() {
            let len = data.len();
            let blocks = (len / self.block_len as usize) as u16;
            let at = lba + (i * MAX_BLOCKS_PER_COMMAND) as u32;
            if self.command(port, &cdb(at, blocks), data)? != len {
                return Err(MscError::BadCsw);
            }
        }
        Ok(())
    }

    /// Checks that `len` bytes from block `lba` on are whole blocks inside the disk; returns
    /// the bytes one command moves at most.
    pub fn check_range(&self, lba: u32, len: usize) -> Result<usize, MscError> {
        let block = self.block_len as usize;
        if block == 0 || !len.is_multiple_of(block) {
            return Err(MscError::BadLength);
        }
        let end = u64::from(lba) + (len / block) as u64;
        if end > u64::from(self.blocks) {
            return Err(MscError::OutOfRange);
        }
        Ok(block * MAX_BLOCKS_PER_COMMAND)
    }

    /// One SCSI command; a failed status is turned into its sense data.
    pub fn command(
        &mut self,
        port: &mut impl ClassPort,
        cdb: &[u8],
        data: Data<'_>,
    ) -> Result<usize, MscError> {
        match self.cycle(port, cdb, data)? {
            Completed::Passed(n) => Ok(n),
            Completed::Failed => Err(MscError::CommandFailed(self.request_sense(port)?)),
        }
    }

    /// One BOT command cycle (see the module table).
    fn cycle(
        &mut self,
        port: &mut impl ClassPort,
        cdb: &[u8],
        mut data: Data<'_>,
    ) -> Result<Completed, MscError> {
        if self.dirty {
            self.reset_recovery(port)?;
        }
        self.dirty = true;
        self.tag = self.tag.wrapping_add(1);
        let length = data.len();
        let cbw = Cbw::new(self.tag, length as u32, matches!(data, Data::In(_)), 0, cdb);
        match port.transfer_out(self.bulk_out, &cbw.to_bytes(), false, DATA_TIMEOUT_MS) {
            Ok(_) => {}
            Err(PortError::Xfer(XferError::Stall)) => {
                port.clear_halt(self.bulk_out)?;
                self.reset_recovery(port)?;
                return Err(MscError::CbwRejected);
            }
            Err(e) => return Err(e.into()),
        }
        let stage = match &mut data {
            Data::None => Ok(0),
            Data::In(buf) => port.transfer_in(self.bulk_in, buf, DATA_TIMEOUT_MS),
            Data::Out(bytes) => port.transfer_out(self.bulk_out, bytes, false, DATA_TIMEOUT_MS),
        };
        let moved = match stage {
            Ok(n) => n,
            Err(PortError::Xfer(XferError::Stall)) => {
                let ep = if matches!(data, Data::Out(_)) {
                    self.bulk_out
                } else {
                    self.bulk_in
                };
                port.clear_halt(ep)?;
                0
            }
            Err(e) => return Err(e.into()),
        };
        let raw = self.read_csw(port)?;
        let csw = self.check_csw(port, &raw, length)?;
        self.dirty = false;
        match csw.status {
            CswStatus::Passed => Ok(Completed::Passed(moved.min(length - csw.residue as usize))),
            CswStatus::Failed => Ok(Completed::Failed),
            CswStatus::PhaseError | CswStatus::Reserved(_) => {
                self.reset_recovery(port)?;
                Err(MscError::PhaseError)
            }
        }
    }

    fn read_csw(&mut self, port: &mut impl ClassPort) -> Result<([u8; Csw::LEN], usize), MscError> {
        let mut raw = [0u8; Csw::LEN];
        let n = match port.transfer_in(self.bulk_in, &mut raw, DATA_TIMEOUT_MS) {
            Err(PortError::Xfer(XferError::Stall)) => {
                port.clear_halt(self.bulk_in)?;
                port.transfer_in(self.bulk_in, &mut raw, DATA_TIMEOUT_MS)?
            }
            other => other?,
        };
        Ok((raw, n))
    }

    fn check_csw(
        &mut self,
        port: &mut impl ClassPort,
        csw: &([u8; Csw::LEN], usize),
        length: usize,
    ) -> Result<Csw, MscError> {
        let parsed = Csw::parse(&csw.0[..csw.1])
            .ok()
            .filter(|c| c.tag == self.tag && c.residue as usize <= length);
        match parsed {
            Some(c) => Ok(c),
            None => {
                self.reset_recovery(port)?;
                Err(MscError::BadCsw)
            }
        }
    }

    fn request_sense(&mut self, port: &mut impl ClassPort) -> Result<Sense, MscError> {
        let mut sense = [0u8; scsi::SENSE_LEN as usize];
        match self.cycle(port, &scsi::request_sense(), Data::In(&mut sense))? {
            Completed::Passed(n) => Sense::parse(&sense[..n]).ok_or(MscError::SenseUnavailable),
            Completed::Failed => Err(MscError::SenseUnavailable),
        }
    }

    /// Bulk-Only Mass Storage Reset + clear halt on both bulk endpoints.
    pub fn reset_recovery(&mut self, port: &mut impl ClassPort) -> Result<(), MscError> {
        self.recoveries += 1;
        port.control(&msc::bulk_only_reset(self.interface), &mut [])?;
        port.clear_halt(self.bulk_in)?;
        port.clear_halt(self.bulk_out)?;
        self.dirty = false;
        Ok(())
    }
}
