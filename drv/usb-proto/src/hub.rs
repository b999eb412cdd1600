//! Hub class wire formats (USB 2.0 chapter 11): requests, feature selectors, port status.

use crate::descriptor::ty;
use crate::setup::{Recipient, SetupPacket, request as std_request};

pub const CLASS: u8 = 0x09;

/// Port feature selectors (USB 2.0 table 11-17).
pub mod feature {
    pub const PORT_CONNECTION: u16 = 0;
    pub const PORT_ENABLE: u16 = 1;
    pub const PORT_SUSPEND: u16 = 2;
    pub const PORT_OVER_CURRENT: u16 = 3;
    pub const PORT_RESET: u16 = 4;
    pub const PORT_POWER: u16 = 8;
    pub const PORT_LOW_SPEED: u16 = 9;
    pub const C_PORT_CONNECTION: u16 = 16;
    pub const C_PORT_ENABLE: u16 = 17;
    pub const C_PORT_SUSPEND: u16 = 18;
    pub const C_PORT_OVER_CURRENT: u16 = 19;
    pub const C_PORT_RESET: u16 = 20;
}

/// `wPortStatus` bits.
pub mod status {
    pub const CONNECTION: u16 = 1 << 0;
    pub const ENABLE: u16 = 1 << 1;
    pub const SUSPEND: u16 = 1 << 2;
    pub const OVER_CURRENT: u16 = 1 << 3;
    pub const RESET: u16 = 1 << 4;
    pub const POWER: u16 = 1 << 8;
    pub const LOW_SPEED: u16 = 1 << 9;
    pub const HIGH_SPEED: u16 = 1 << 10;
}

/// `wPortChange` bits, and the `C_*` feature that clears each.
pub mod change {
    pub const CONNECTION: u16 = 1 << 0;
    pub const ENABLE: u16 = 1 << 1;
    pub const SUSPEND: u16 = 1 << 2;
    pub const OVER_CURRENT: u16 = 1 << 3;
    pub const RESET: u16 = 1 << 4;
    pub const ALL: u16 = 0x1F;
}

/// Selector that clears change bit `bit` (bit 0..4 of `wPortChange`).
pub fn clear_selector_for_change(bit: u16) -> u16 {
    feature::C_PORT_CONNECTION + bit.trailing_zeros() as u16
}

pub fn get_hub_descriptor(length: u16) -> SetupPacket {
    SetupPacket::class_in(
        Recipient::Device,
        std_request::GET_DESCRIPTOR,
        u16::from(ty::HUB) << 8,
        0,
        length,
    )
}

pub fn get_port_status(port: u8) -> SetupPacket {
    SetupPacket::class_in(
        Recipient::Other,
        std_request::GET_STATUS,
        0,
        u16::from(port),
        4,
    )
}

pub fn set_port_feature(port: u8, selector: u16) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Other,
        std_request::SET_FEATURE,
        selector,
        u16::from(port),
        0,
    )
}

pub fn clear_port_feature(port: u8, selector: u16) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Other,
        std_request::CLEAR_FEATURE,
        selector,
        u16::from(port),
        0,
    )
}

/// GetPortStatus answer: `wPortStatus`, `wPortChange`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PortStatus {
    pub status: u16,
    pub change: u16,
}

impl PortStatus {
    pub const LEN: usize = 4;

    pub fn parse(buf: &[u8]) -> Option<Self> {
        let b = buf.get(..Self::LEN)?;
        Some(PortStatus {
            status: u16::from_le_bytes([b[0], b[1]]),
            change: u16::from_le_bytes([b[2], b[3]]),
        })
    }

    pub fn to_bytes(self) -> [u8; 4] {
        let [s0, s1] = self.status.to_le_bytes();
        let [c0, c1] = self.change.to_le_bytes();
        [s0, s1, c0, c1]
    }

    pub fn connected(&self) -> bool {
        self.status & status::CONNECTION != 0
    }
    pub fn enabled(&self) -> bool {
        self.status & status::ENABLE != 0
    }
    pub fn resetting(&self) -> bool {
        self.status & status::RESET != 0
    }
    /// Speed per USB 2.0 11.24.2.7.1; both speed bits set is invalid and reported as `None`.
    pub fn speed(&self) -> Option<crate::Speed> {
        match (
            self.status & status::LOW_SPEED != 0,
            self.status & status::HIGH_SPEED != 0,
        ) {
            (false, false) => Some(crate::Speed::Full),
            (true, false) => Some(crate::Speed::Low),
            (false, true) => Some(crate::Speed::High),
            (true, true) => None,
        }
    }
}
