//! Simulated HID boot keyboard (low speed) and boot mouse (full speed).
//!
//! Each plays a script of boot reports, one per interrupt poll after SET_CONFIGURATION, then
//! NAKs (nothing changed); the typist keyboard plays its script over and over instead, so
//! that keys keep coming across a restart of the host's driver. The sequence keyboard is a
//! typist whose key presses count: its n-th press is [`sequence_usage`]`(n)`, so whoever
//! receives its keys can tell a lost, repeated or reordered key from the usage codes alone
//! (the USB fault campaign's keyboard oracle). A keyboard also presses a
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

/// Keys the sequence keyboard cycles through: every usage code from `a` to just below the
/// modifiers, so the cycle is as long as one key code can make it. Two reports a key, one
/// per poll of at least 10 ms: a cycle takes 4.4 s or more, longer than a USB campaign lets
/// its workload go unanswered (2 s), so a receiver can take a key a few presses behind the
/// one it expects as a repeat, and any other as a gap, without mistaking one for the other.
pub const SEQUENCE_KEYS: u32 = 220;
/// The first usage code of the cycle (`a`); the cycle ends below the modifiers (0xE0).
const SEQUENCE_FIRST_USAGE: u8 = 0x04;

/// The usage code of the sequence keyboard's `n`-th key press (from 0).
pub const fn sequence_usage(n: u32) -> u8 {
    SEQUENCE_FIRST_USAGE + (n % SEQUENCE_KEYS) as u8
}

/// Where `usage` is in the sequence keyboard's cycle (`n % SEQUENCE_KEYS` of the press that
/// carries it), or `None` for a code the keyboard never sends.
pub fn sequence_position(usage: u8) -> Option<u32> {
    let position = u32::from(usage.checked_sub(SEQUENCE_FIRST_USAGE)?);
    (position < SEQUENCE_KEYS).then_some(position)
}

/// One cycle of the sequence keyboard: each key pressed in one report and released in the
/// next, so every report changes the state and the host's driver turns each into one event.
static SEQUENCE_SCRIPT: [[u8; 8]; 2 * SEQUENCE_KEYS as usize] = {
    let mut script = [[0; 8]; 2 * SEQUENCE_KEYS as usize];
    let mut n = 0;
    while n < SEQUENCE_KEYS {
        script[2 * n as usize][2] = sequence_usage(n);
        n += 1;
    }
    script
};

/// The sequence keyboard: a [`typist`] (same identity as [`keyboard`]) playing one press and
/// one release per poll of [`sequence_usage`]`(0)`, `(1)`, ... for as long as it is polled.
/// Keys advance only when a report goes out on the bus, as a keyboard whose host polls it
/// on time loses nothing: a key lost on the host's side was sent and dropped there.
pub fn sequence_keyboard() -> SimHid<'static> {
    typist(&SEQUENCE_SCRIPT)
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    /// Reports the keyboard sends to `polls` interrupt IN polls (a NAK ends the list).
    fn reports(function: &mut HidBoot<'_>, polls: usize) -> Vec<[u8; 8]> {
        let mut out = Vec::new();
        for _ in 0..polls {
            let mut report = [0u8; 8];
            match function.data_in(1, &mut report) {
                EpIn::Data(8) => out.push(report),
                other => panic!("poll {}: {other:?}", out.len()),
            }
        }
        out
    }

    #[test]
    fn the_sequence_keyboards_nth_press_is_the_nth_usage_and_it_never_stops() {
        let mut keyboard = sequence_keyboard();
        let function = &mut keyboard.function;
        let polls = 3 * 2 * SEQUENCE_KEYS as usize + 1;
        let sent = reports(function, polls);
        for (i, report) in sent.iter().enumerate() {
            let n = (i / 2) as u32;
            let expected = if i % 2 == 0 {
                [0, 0, sequence_usage(n), 0, 0, 0, 0, 0]
            } else {
                [0; 8]
            };
            assert_eq!(*report, expected, "report {i}");
        }
        assert_eq!(function.reports_sent(), polls);
    }

    #[test]
    fn every_sequence_usage_has_its_position_and_nothing_else_has_one() {
        for n in 0..SEQUENCE_KEYS {
            assert_eq!(sequence_position(sequence_usage(n)), Some(n));
            assert_eq!(sequence_usage(n + SEQUENCE_KEYS), sequence_usage(n));
        }
        let last = sequence_usage(SEQUENCE_KEYS - 1);
        assert!(last < 0xE0, "below the modifier usages");
        for usage in (0..SEQUENCE_FIRST_USAGE).chain(last + 1..=u8::MAX) {
            assert_eq!(sequence_position(usage), None, "{usage:#x}");
        }
    }
}
