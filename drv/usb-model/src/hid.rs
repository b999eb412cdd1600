//! Simulated HID boot keyboard (low speed) and boot mouse (full speed).
//!
//! Each plays a script of boot reports, one per interrupt poll after SET_CONFIGURATION, then
//! NAKs (nothing changed); the typist keyboard plays its script over and over instead, so
//! that keys keep coming across a restart of the host's driver. A keyboard also presses a
//! key on demand (`press_key`), before the rest of its script: the press at the next poll,
//! the release at the one after. SET_IDLE, SET_PROTOCOL and SET_REPORT (keyboard LEDs) are
//! accepted.

use crate::device::{Ch9Device, EpIn, Function};
use crate::{concat, device_descriptor};
use usb_proto::Speed;
use usb_proto::hid::request;
use usb_proto::setup::{RequestType, SetupPacket};

const KEYBOARD_CONFIG: [u8; 34] = concat(&[
    &[9, 2, 34, 0, 1, 1, 0, 0xA0, 50],
    &[9, 4, 0, 0, 1, 0x03, 0x01, 0x01, 0],
    &[9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0],
    &[7, 5, 0x81, 3, 8, 0, 10],
]);

const MOUSE_CONFIG: [u8; 34] = concat(&[
    &[9, 2, 34, 0, 1, 1, 0, 0xA0, 50],
    &[9, 4, 0, 0, 1, 0x03, 0x01, 0x02, 0],
    &[9, 0x21, 0x11, 0x01, 0, 1, 0x22, 50, 0],
    &[7, 5, 0x81, 3, 4, 0, 10],
]);

/// A boot-protocol HID function playing `script` (reports of `report_len` bytes).
pub struct HidBoot<'d> {
    script: &'d [u8],
    report_len: usize,
    /// Reports sent so far.
    next: usize,
    /// Start the script again after its last report, instead of NAKing.
    repeat: bool,
    /// Last LED byte written with SET_REPORT.
    pub leds: u8,
    /// Protocol selected with SET_PROTOCOL (0 boot, 1 report).
    pub protocol: u16,
    /// A key pressed on demand ([`SimDevice::press_key`](crate::device::SimDevice::press_key)):
    /// its usage, and whether its press report went out (its release goes next).
    typed: Option<(u8, bool)>,
}

impl<'d> HidBoot<'d> {
    pub fn reports_sent(&self) -> usize {
        self.next
    }
}

pub type SimHid<'d> = Ch9Device<HidBoot<'d>>;

/// The boot-keyboard function sending `script` in order (reports on EP1 IN), to put behind
/// any descriptors with an interrupt IN endpoint 1.
pub fn keyboard_function(script: &[[u8; 8]]) -> HidBoot<'_> {
    HidBoot {
        script: script.as_flattened(),
        report_len: 8,
        next: 0,
        repeat: false,
        leds: 0,
        protocol: 1,
        typed: None,
    }
}

/// A low-speed boot keyboard that sends `script` in order.
pub fn keyboard(script: &[[u8; 8]]) -> SimHid<'_> {
    Ch9Device::new(
        keyboard_function(script),
        Speed::Low,
        device_descriptor(0, 8, 0x1209, 0x0001),
        &KEYBOARD_CONFIG,
    )
}

/// A low-speed boot keyboard (the same descriptors as [`keyboard`]) that sends `script` in
/// order, again and again.
pub fn typist(script: &[[u8; 8]]) -> SimHid<'_> {
    Ch9Device::new(
        HidBoot {
            repeat: true,
            ..keyboard_function(script)
        },
        Speed::Low,
        device_descriptor(0, 8, 0x1209, 0x0001),
        &KEYBOARD_CONFIG,
    )
}

/// A full-speed boot mouse that sends `script` in order.
pub fn mouse(script: &[[u8; 4]]) -> SimHid<'_> {
    let function = HidBoot {
        script: script.as_flattened(),
        report_len: 4,
        next: 0,
        repeat: false,
        leds: 0,
        protocol: 1,
        typed: None,
    };
    Ch9Device::new(
        function,
        Speed::Full,
        device_descriptor(0, 8, 0x1209, 0x0002),
        &MOUSE_CONFIG,
    )
}

impl Function for HidBoot<'_> {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        if setup.request_type() != RequestType::Class {
            return None;
        }
        match setup.request {
            request::SET_IDLE => Some(0),
            request::SET_PROTOCOL if setup.value <= 1 => {
                self.protocol = setup.value;
                Some(0)
            }
            request::SET_REPORT => {
                self.leds = data.first().copied().unwrap_or(0);
                Some(data.len())
            }
            _ => None,
        }
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> EpIn {
        if ep != 1 {
            return EpIn::Halt;
        }
        if let Some((usage, pressed)) = self.typed {
            // A keyboard report: modifiers, reserved, then up to six keys down.
            let mut report = [0u8; 8];
            if !pressed {
                report[2] = usage;
            }
            out[..report.len()].copy_from_slice(&report);
            self.typed = (!pressed).then_some((usage, true));
            return EpIn::Data(report.len());
        }
        let reports = self.script.len() / self.report_len;
        let index = if self.repeat && reports > 0 {
            self.next % reports
        } else {
            self.next
        };
        let start = index * self.report_len;
        match self.script.get(start..start + self.report_len) {
            Some(report) => {
                out[..report.len()].copy_from_slice(report);
                self.next += 1;
                EpIn::Data(report.len())
            }
            None => EpIn::Nak,
        }
    }

    fn reset(&mut self) {
        self.protocol = 1;
        self.typed = None;
    }

    fn press_key(&mut self, usage: u8) -> bool {
        if self.report_len != 8 {
            return false;
        }
        self.typed = Some((usage, false));
        true
    }
}
