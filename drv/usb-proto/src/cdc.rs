//! CDC-ACM wire formats (CDC 1.2 / PSTN 1.2): class requests, line coding, functional
//! descriptors and the SERIAL_STATE notification.

use crate::descriptor::ty;
use crate::setup::{Recipient, SetupPacket};
use crate::walk::{Configuration, InterfaceInfo, RawDescriptor};

pub const CLASS_COMM: u8 = 0x02;
pub const SUBCLASS_ACM: u8 = 0x02;
pub const CLASS_DATA: u8 = 0x0A;

pub mod request {
    pub const SET_LINE_CODING: u8 = 0x20;
    pub const GET_LINE_CODING: u8 = 0x21;
    pub const SET_CONTROL_LINE_STATE: u8 = 0x22;
    pub const SEND_BREAK: u8 = 0x23;
}

/// Functional descriptor subtypes.
pub mod subtype {
    pub const HEADER: u8 = 0x00;
    pub const CALL_MANAGEMENT: u8 = 0x01;
    pub const ACM: u8 = 0x02;
    pub const UNION: u8 = 0x06;
}

/// Control line bits of SET_CONTROL_LINE_STATE.
pub const DTR: u16 = 1 << 0;
pub const RTS: u16 = 1 << 1;

/// Line coding (7 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineCoding {
    pub baud: u32,
    /// 0 = 1 stop bit, 1 = 1.5, 2 = 2.
    pub stop_bits: u8,
    /// 0 none, 1 odd, 2 even, 3 mark, 4 space.
    pub parity: u8,
    /// 5, 6, 7, 8 or 16.
    pub data_bits: u8,
}

impl LineCoding {
    pub const LEN: usize = 7;

    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..Self::LEN)?;
        let coding = LineCoding {
            baud: crate::le32(b, 0),
            stop_bits: b[4],
            parity: b[5],
            data_bits: b[6],
        };
        coding.is_valid().then_some(coding)
    }

    pub fn is_valid(&self) -> bool {
        self.baud != 0
            && self.stop_bits <= 2
            && self.parity <= 4
            && matches!(self.data_bits, 5 | 6 | 7 | 8 | 16)
    }

    pub fn to_bytes(&self) -> [u8; 7] {
        let b = self.baud.to_le_bytes();
        [
            b[0],
            b[1],
            b[2],
            b[3],
            self.stop_bits,
            self.parity,
            self.data_bits,
        ]
    }
}

pub fn set_line_coding(interface: u8) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        request::SET_LINE_CODING,
        0,
        u16::from(interface),
        LineCoding::LEN as u16,
    )
}

pub fn get_line_coding(interface: u8) -> SetupPacket {
    SetupPacket::class_in(
        Recipient::Interface,
        request::GET_LINE_CODING,
        0,
        u16::from(interface),
        LineCoding::LEN as u16,
    )
}

pub fn set_control_line_state(interface: u8, lines: u16) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        request::SET_CONTROL_LINE_STATE,
        lines,
        u16::from(interface),
        0,
    )
}

/// Union functional descriptor: the control interface and its first subordinate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Union {
    pub control: u8,
    pub subordinate: u8,
}

impl Union {
    /// Returns the union if `raw` is a well-formed Union functional descriptor.
    pub fn from_raw(raw: &RawDescriptor<'_>) -> Option<Self> {
        let b = raw.bytes;
        (raw.ty == ty::CS_INTERFACE && b.len() >= 5 && b[2] == subtype::UNION).then(|| Union {
            control: b[3],
            subordinate: b[4],
        })
    }
}

/// The Union functional descriptor among the class-specific descriptors of `comm`, if any.
/// Without an IAD it is the only thing that ties a communications interface to its data
/// interface.
pub fn union_of(config: &Configuration<'_>, comm: &InterfaceInfo) -> Option<Union> {
    config
        .extra_descriptors(comm)
        .flatten()
        .find_map(|raw| Union::from_raw(&raw))
}

/// `bmCapabilities` of the ACM functional descriptor, if `raw` is one.
pub fn acm_capabilities(raw: &RawDescriptor<'_>) -> Option<u8> {
    let b = raw.bytes;
    (raw.ty == ty::CS_INTERFACE && b.len() >= 4 && b[2] == subtype::ACM).then_some(b[3])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_coding_rejects_impossible_formats() {
        let ok = LineCoding {
            baud: 115_200,
            stop_bits: 0,
            parity: 0,
            data_bits: 8,
        };
        assert_eq!(LineCoding::parse(&ok.to_bytes()), Some(ok));
        let bad = LineCoding { data_bits: 9, ..ok };
        assert_eq!(LineCoding::parse(&bad.to_bytes()), None);
        assert_eq!(LineCoding::parse(&[0; 6]), None);
    }
}
