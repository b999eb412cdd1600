//! Mass-storage wire formats: Bulk-Only Transport (CBW/CSW, class requests) and the SCSI
//! commands the host stack uses (SPC/SBC subset, big-endian fields).

use crate::setup::{Recipient, SetupPacket};
use crate::{be32, le32};

pub const CLASS: u8 = 0x08;
pub const SUBCLASS_SCSI: u8 = 0x06;
pub const PROTOCOL_BOT: u8 = 0x50;

pub const REQUEST_GET_MAX_LUN: u8 = 0xFE;
pub const REQUEST_BULK_ONLY_RESET: u8 = 0xFF;

pub fn get_max_lun(interface: u8) -> SetupPacket {
    SetupPacket::class_in(
        Recipient::Interface,
        REQUEST_GET_MAX_LUN,
        0,
        u16::from(interface),
        1,
    )
}

pub fn bulk_only_reset(interface: u8) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        REQUEST_BULK_ONLY_RESET,
        0,
        u16::from(interface),
        0,
    )
}

/// Why a CBW or CSW was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BotError {
    WrongLength,
    BadSignature,
    BadCommandLength,
}

/// Command Block Wrapper (31 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cbw {
    pub tag: u32,
    pub data_length: u32,
    pub data_in: bool,
    pub lun: u8,
    cb_len: u8,
    cb: [u8; 16],
}

impl Cbw {
    pub const LEN: usize = 31;
    pub const SIGNATURE: u32 = 0x4342_5355;

    /// A CBW carrying `command` (1..=16 bytes; longer input is truncated to 16).
    pub fn new(tag: u32, data_length: u32, data_in: bool, lun: u8, command: &[u8]) -> Self {
        let cb_len = command.len().clamp(1, 16);
        let mut cb = [0u8; 16];
        cb[..command.len().min(16)].copy_from_slice(&command[..command.len().min(16)]);
        Cbw {
            tag,
            data_length,
            data_in,
            lun: lun & 0x0F,
            cb_len: cb_len as u8,
            cb,
        }
    }

    pub fn command(&self) -> &[u8] {
        &self.cb[..usize::from(self.cb_len)]
    }

    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&Self::SIGNATURE.to_le_bytes());
        b[4..8].copy_from_slice(&self.tag.to_le_bytes());
        b[8..12].copy_from_slice(&self.data_length.to_le_bytes());
        b[12] = if self.data_in { 0x80 } else { 0 };
        b[13] = self.lun;
        b[14] = self.cb_len;
        b[15..31].copy_from_slice(&self.cb);
        b
    }

    /// Device-side parse (used by the simulated flash drive).
    pub fn parse(buf: &[u8]) -> Result<Self, BotError> {
        if buf.len() != Self::LEN {
            return Err(BotError::WrongLength);
        }
        if le32(buf, 0) != Self::SIGNATURE {
            return Err(BotError::BadSignature);
        }
        let cb_len = buf[14] & 0x1F;
        if !(1..=16).contains(&cb_len) {
            return Err(BotError::BadCommandLength);
        }
        let mut cb = [0u8; 16];
        cb.copy_from_slice(&buf[15..31]);
        Ok(Cbw {
            tag: le32(buf, 4),
            data_length: le32(buf, 8),
            data_in: buf[12] & 0x80 != 0,
            lun: buf[13] & 0x0F,
            cb_len,
            cb,
        })
    }
}

/// `bCSWStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CswStatus {
    Passed,
    Failed,
    PhaseError,
    /// Values 3..=255 are reserved; the host treats them like a phase error.
    Reserved(u8),
}

impl CswStatus {
    fn from_byte(b: u8) -> Self {
        match b {
            0 => CswStatus::Passed,
            1 => CswStatus::Failed,
            2 => CswStatus::PhaseError,
            other => CswStatus::Reserved(other),
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            CswStatus::Passed => 0,
            CswStatus::Failed => 1,
            CswStatus::PhaseError => 2,
            CswStatus::Reserved(b) => b,
        }
    }
}

/// Command Status Wrapper (13 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Csw {
    pub tag: u32,
    pub residue: u32,
    pub status: CswStatus,
}

impl Csw {
    pub const LEN: usize = 13;
    pub const SIGNATURE: u32 = 0x5342_5355;

    pub fn parse(buf: &[u8]) -> Result<Self, BotError> {
        if buf.len() != Self::LEN {
            return Err(BotError::WrongLength);
        }
        if le32(buf, 0) != Self::SIGNATURE {
            return Err(BotError::BadSignature);
        }
        Ok(Csw {
            tag: le32(buf, 4),
            residue: le32(buf, 8),
            status: CswStatus::from_byte(buf[12]),
        })
    }

    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut b = [0u8; Self::LEN];
        b[0..4].copy_from_slice(&Self::SIGNATURE.to_le_bytes());
        b[4..8].copy_from_slice(&self.tag.to_le_bytes());
        b[8..12].copy_from_slice(&self.residue.to_le_bytes());
        b[12] = self.status.to_byte();
        b
    }
}

/// SCSI operation codes used by the host.
pub mod scsi {
    pub const TEST_UNIT_READY: u8 = 0x00;
    pub const REQUEST_SENSE: u8 = 0x03;
    pub const INQUIRY: u8 = 0x12;
    pub const READ_CAPACITY_10: u8 = 0x25;
    pub const READ_10: u8 = 0x28;
    pub const WRITE_10: u8 = 0x2A;

    pub const INQUIRY_LEN: u8 = 36;
    pub const SENSE_LEN: u8 = 18;

    /// Sense keys.
    pub const NO_SENSE: u8 = 0x0;
    pub const NOT_READY: u8 = 0x2;
    pub const MEDIUM_ERROR: u8 = 0x3;
    pub const ILLEGAL_REQUEST: u8 = 0x5;
    pub const UNIT_ATTENTION: u8 = 0x6;
    pub const DATA_PROTECT: u8 = 0x7;

    pub fn test_unit_ready() -> [u8; 6] {
        [TEST_UNIT_READY, 0, 0, 0, 0, 0]
    }
    pub fn request_sense() -> [u8; 6] {
        [REQUEST_SENSE, 0, 0, 0, SENSE_LEN, 0]
    }
    pub fn inquiry() -> [u8; 6] {
        [INQUIRY, 0, 0, 0, INQUIRY_LEN, 0]
    }
    pub fn read_capacity_10() -> [u8; 10] {
        [READ_CAPACITY_10, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    }
    pub fn read_10(lba: u32, blocks: u16) -> [u8; 10] {
        rw10(READ_10, lba, blocks)
    }
    pub fn write_10(lba: u32, blocks: u16) -> [u8; 10] {
        rw10(WRITE_10, lba, blocks)
    }

    fn rw10(op: u8, lba: u32, blocks: u16) -> [u8; 10] {
        let l = lba.to_be_bytes();
        let n = blocks.to_be_bytes();
        [op, 0, l[0], l[1], l[2], l[3], 0, n[0], n[1], 0]
    }

    /// `(LBA, block count)` of a READ(10)/WRITE(10) CDB (device side).
    pub fn rw10_fields(cdb: &[u8]) -> Option<(u32, u16)> {
        let c = cdb.get(..10)?;
        Some((super::be32(c, 2), u16::from_be_bytes([c[7], c[8]])))
    }
}

/// READ CAPACITY(10) data: last LBA and block length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capacity {
    pub last_lba: u32,
    pub block_len: u32,
}

impl Capacity {
    pub const LEN: usize = 8;

    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..Self::LEN)?;
        Some(Capacity {
            last_lba: be32(b, 0),
            block_len: be32(b, 4),
        })
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&self.last_lba.to_be_bytes());
        b[4..].copy_from_slice(&self.block_len.to_be_bytes());
        b
    }
}

/// Fixed-format sense data (key, ASC, ASCQ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sense {
    pub key: u8,
    pub asc: u8,
    pub ascq: u8,
}

impl Sense {
    pub const MIN_LEN: usize = 14;

    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..Self::MIN_LEN)?;
        matches!(b[0] & 0x7F, 0x70 | 0x71).then_some(Sense {
            key: b[2] & 0x0F,
            asc: b[12],
            ascq: b[13],
        })
    }

    pub fn to_bytes(&self) -> [u8; 18] {
        let mut b = [0u8; 18];
        b[0] = 0x70;
        b[2] = self.key;
        b[7] = 10;
        b[12] = self.asc;
        b[13] = self.ascq;
        b
    }
}

/// Standard INQUIRY data: peripheral device type and removable bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inquiry {
    pub device_type: u8,
    pub removable: bool,
}

impl Inquiry {
    pub const MIN_LEN: usize = 5;

    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..Self::MIN_LEN)?;
        Some(Inquiry {
            device_type: b[0] & 0x1F,
            removable: b[1] & 0x80 != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbw_round_trips_through_bytes() {
        let cbw = Cbw::new(7, 512, true, 0, &scsi::read_10(0x0102_0304, 1));
        let parsed = Cbw::parse(&cbw.to_bytes()).unwrap();
        assert_eq!(parsed, cbw);
        assert_eq!(scsi::rw10_fields(parsed.command()), Some((0x0102_0304, 1)));
    }

    #[test]
    fn csw_with_wrong_signature_or_length_is_rejected() {
        let mut b = Csw {
            tag: 1,
            residue: 0,
            status: CswStatus::Passed,
        }
        .to_bytes();
        assert_eq!(Csw::parse(&b[..12]), Err(BotError::WrongLength));
        b[0] ^= 1;
        assert_eq!(Csw::parse(&b), Err(BotError::BadSignature));
    }

    #[test]
    fn sense_requires_a_fixed_format_response_code() {
        let s = Sense {
            key: scsi::UNIT_ATTENTION,
            asc: 0x29,
            ascq: 0,
        };
        assert_eq!(Sense::parse(&s.to_bytes()), Some(s));
        assert_eq!(Sense::parse(&[0u8; 18]), None);
    }
}
