//! USB 2.0 wire formats for the Bulkhead host stack.
//!
//! What it is: the only place where USB bytes become typed values. Every input format is read
//! through a checked view (`new_checked(buf) -> Result<View, Error>`, smoltcp style) that
//! validates lengths and fields once, so its accessors cannot index out of bounds. Output
//! formats (setup packets, CBWs, SCSI CDBs) have builders that return fixed-size arrays.
//!
//! Invariants:
//! * no allocation, no panics on any input (the walker is property-tested and fuzzed);
//! * parsing never decides policy: the walker reports what a configuration *is*, the USB core
//!   decides what to do with it;
//! * strict where it protects us, tolerant where a device is merely odd: what real devices get
//!   away with on Linux (zero-bandwidth default settings, vendor descriptors of type 0x21, a
//!   malformed class descriptor that spoils only its own interface) is accepted; the rules
//!   are in [`walk`]'s module doc;
//! * all limits are compile-time constants (`walk::MAX_INTERFACES`, `walk::MAX_ENDPOINTS`).
//!
//! Who uses it: `usb-core-logic` (enumeration), the class-driver crates (`usb-class-*`) on the
//! host side and `usb-model` on the simulated-device side, so both ends share one definition.
#![no_std]
#![forbid(unsafe_code)]

#[cfg(test)]
extern crate std;

pub mod cdc;
pub mod descriptor;
pub mod hid;
pub mod hub;
pub mod msc;
pub mod setup;
pub mod walk;

/// Bus speed of a device or port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speed {
    Low,
    Full,
    High,
}

impl Speed {
    /// Largest `wMaxPacketSize` allowed for an endpoint of `ty` at this speed (USB 2.0 5.5-5.8).
    pub fn max_packet_limit(self, ty: EpType) -> u16 {
        match (self, ty) {
            (Speed::Low, _) => 8,
            (Speed::Full, EpType::Isochronous) => 1023,
            (Speed::Full, _) => 64,
            (Speed::High, EpType::Control) => 64,
            (Speed::High, EpType::Bulk) => 512,
            (Speed::High, _) => 1024,
        }
    }
}

/// Endpoint transfer type (`bmAttributes[1:0]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpType {
    Control,
    Isochronous,
    Bulk,
    Interrupt,
}

impl EpType {
    pub fn from_attributes(attributes: u8) -> Self {
        match attributes & 0b11 {
            0 => EpType::Control,
            1 => EpType::Isochronous,
            2 => EpType::Bulk,
            _ => EpType::Interrupt,
        }
    }

    pub fn is_periodic(self) -> bool {
        matches!(self, EpType::Isochronous | EpType::Interrupt)
    }
}

/// Transfer direction as seen from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
}

impl Direction {
    /// Direction bit of an endpoint address or `bmRequestType`.
    pub fn from_bit7(byte: u8) -> Self {
        if byte & 0x80 != 0 {
            Direction::In
        } else {
            Direction::Out
        }
    }
}

/// Endpoint address (`bEndpointAddress`): number in bits 3:0, direction in bit 7.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpAddr(pub u8);

impl EpAddr {
    pub const fn new(number: u8, dir: Direction) -> Self {
        EpAddr(
            (number & 0x0F)
                | if matches!(dir, Direction::In) {
                    0x80
                } else {
                    0
                },
        )
    }

    pub fn number(self) -> u8 {
        self.0 & 0x0F
    }

    pub fn direction(self) -> Direction {
        Direction::from_bit7(self.0)
    }
}

pub(crate) fn le16(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

pub(crate) fn le32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

pub(crate) fn be32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}
