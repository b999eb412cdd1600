//! HID class wire formats (HID 1.11): class requests and boot-protocol reports.

use crate::setup::{Recipient, SetupPacket};

pub const CLASS: u8 = 0x03;
pub const SUBCLASS_BOOT: u8 = 0x01;
pub const PROTOCOL_KEYBOARD: u8 = 0x01;
pub const PROTOCOL_MOUSE: u8 = 0x02;

pub mod request {
    pub const GET_REPORT: u8 = 0x01;
    pub const GET_IDLE: u8 = 0x02;
    pub const GET_PROTOCOL: u8 = 0x03;
    pub const SET_REPORT: u8 = 0x09;
    pub const SET_IDLE: u8 = 0x0A;
    pub const SET_PROTOCOL: u8 = 0x0B;
}

/// `SET_PROTOCOL` values.
pub const PROTOCOL_BOOT: u16 = 0;
pub const PROTOCOL_REPORT: u16 = 1;

/// SET_IDLE(duration in 4 ms units, all reports); 0 = report only on change.
pub fn set_idle(interface: u8, duration_4ms: u8) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        request::SET_IDLE,
        u16::from(duration_4ms) << 8,
        u16::from(interface),
        0,
    )
}

pub fn set_protocol(interface: u8, protocol: u16) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        request::SET_PROTOCOL,
        protocol,
        u16::from(interface),
        0,
    )
}

/// SET_REPORT(output) carrying the keyboard LED byte.
pub fn set_led_report(interface: u8) -> SetupPacket {
    SetupPacket::class_out(
        Recipient::Interface,
        request::SET_REPORT,
        0x0200,
        u16::from(interface),
        1,
    )
}

/// Boot keyboard report: modifiers, reserved, six usage IDs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootKeyboardReport<'a>(&'a [u8]);

impl<'a> BootKeyboardReport<'a> {
    pub const LEN: usize = 8;
    const ERROR_ROLL_OVER: u8 = 0x01;

    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        buf.get(..Self::LEN).map(BootKeyboardReport)
    }

    pub fn modifiers(&self) -> u8 {
        self.0[0]
    }

    /// Pressed keys (non-zero usage IDs).
    pub fn keys(&self) -> impl Iterator<Item = u8> + 'a {
        self.0[2..8].iter().copied().filter(|&k| k != 0)
    }

    pub fn is_pressed(&self, usage: u8) -> bool {
        self.keys().any(|k| k == usage)
    }

    /// All six slots = ErrorRollOver: too many keys; the report carries no key state.
    pub fn is_roll_over_error(&self) -> bool {
        self.0[2..8].iter().all(|&k| k == Self::ERROR_ROLL_OVER)
    }
}

/// Boot mouse report: buttons, X, Y (extra bytes such as a wheel are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BootMouseReport<'a>(&'a [u8]);

impl<'a> BootMouseReport<'a> {
    pub const MIN_LEN: usize = 3;

    pub fn new_checked(buf: &'a [u8]) -> Option<Self> {
        (buf.len() >= Self::MIN_LEN).then_some(BootMouseReport(buf))
    }

    pub fn buttons(&self) -> u8 {
        self.0[0]
    }
    pub fn dx(&self) -> i8 {
        self.0[1] as i8
    }
    pub fn dy(&self) -> i8 {
        self.0[2] as i8
    }
}
