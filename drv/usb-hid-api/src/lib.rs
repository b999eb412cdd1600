//! Client of the USB HID driver, `task/usb-hid` (`idl/usb-hid.idol`), and the driver's
//! event log.
//!
//! Events are numbered from 1 in arrival order. The driver keeps the last [`LOG_LEN`] in an
//! [`EventLog`]; a subscriber asks for those numbered after the last one it saw, so a gap in
//! the numbers tells it what it missed, and an answer never repeats an event. A restarted
//! driver numbers from 1 again: a subscriber that sees numbers go back starts over.
#![cfg_attr(not(test), no_std)]

use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use usb_class_hid::HidEvent;

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

/// Events the driver keeps for its subscribers.
pub const LOG_LEN: usize = 32;

/// [`HidRecord::kind`] values.
pub mod kind {
    pub const KEY_DOWN: u8 = 1;
    pub const KEY_UP: u8 = 2;
    pub const MODIFIERS: u8 = 3;
    pub const MOTION: u8 = 4;
}

/// One event on the wire. Every byte pattern is a value, since the client fills the lease.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct HidRecord {
    /// The event's number (from 1).
    pub number: u32,
    /// One of [`kind`].
    pub kind: u8,
    /// The usage code of a key event, or the modifier byte.
    pub code: u8,
    /// Motion: the button bits and the signed displacements.
    pub buttons: u8,
    pub dx: i8,
    pub dy: i8,
}

impl HidRecord {
    pub fn new(number: u32, event: HidEvent) -> Self {
        let mut record = HidRecord {
            number,
            kind: 0,
            code: 0,
            buttons: 0,
            dx: 0,
            dy: 0,
        };
        match event {
            HidEvent::KeyDown(code) => (record.kind, record.code) = (kind::KEY_DOWN, code),
            HidEvent::KeyUp(code) => (record.kind, record.code) = (kind::KEY_UP, code),
            HidEvent::Modifiers(bits) => (record.kind, record.code) = (kind::MODIFIERS, bits),
            HidEvent::Motion { buttons, dx, dy } => {
                (record.kind, record.buttons, record.dx, record.dy) =
                    (kind::MOTION, buttons, dx, dy)
            }
        }
        record
    }

    /// The event, if `kind` is one of [`kind`].
    pub fn event(&self) -> Option<HidEvent> {
        Some(match self.kind {
            kind::KEY_DOWN => HidEvent::KeyDown(self.code),
            kind::KEY_UP => HidEvent::KeyUp(self.code),
            kind::MODIFIERS => HidEvent::Modifiers(self.code),
            kind::MOTION => HidEvent::Motion {
                buttons: self.buttons,
                dx: self.dx,
                dy: self.dy,
            },
            _ => return None,
        })
    }
}

/// The last [`LOG_LEN`] events, numbered.
pub struct EventLog {
    records: [HidRecord; LOG_LEN],
    /// The number of the newest event (0: none yet).
    newest: u32,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::new()
    }
}

impl EventLog {
    pub const fn new() -> Self {
        EventLog {
            records: [HidRecord {
                number: 0,
                kind: 0,
                code: 0,
                buttons: 0,
                dx: 0,
                dy: 0,
            }; LOG_LEN],
            newest: 0,
        }
    }

    /// Numbers and keeps `event`, dropping the oldest kept one when full.
    pub fn push(&mut self, event: HidEvent) {
        self.newest = self.newest.wrapping_add(1).max(1);
        let at = self.newest as usize % LOG_LEN;
        self.records[at] = HidRecord::new(self.newest, event);
    }

    pub fn newest(&self) -> u32 {
        self.newest
    }

    /// Copies the kept events numbered after `after` into `out`, oldest first, as many as
    /// fit; returns how many. An `after` from a previous incarnation (ahead of `newest`)
    /// gets everything kept.
    pub fn copy_after(&self, after: u32, out: &mut [HidRecord]) -> usize {
        let oldest_kept = self.newest.saturating_sub(LOG_LEN as u32 - 1).max(1);
        let after = if after > self.newest { 0 } else { after };
        let first = (after + 1).max(oldest_kept);
        let mut written = 0;
        for (slot, number) in out.iter_mut().zip(first..=self.newest) {
            *slot = self.records[number as usize % LOG_LEN];
            written += 1;
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(log: &EventLog, after: u32, room: usize) -> Vec<u32> {
        let mut out = vec![HidRecord::new(0, HidEvent::KeyUp(0)); room];
        let n = log.copy_after(after, &mut out);
        out[..n].iter().map(|r| r.number).collect()
    }

    #[test]
    fn events_after_a_number_come_oldest_first_and_never_twice() {
        let mut log = EventLog::new();
        assert_eq!(numbers(&log, 0, 4), Vec::<u32>::new());
        for code in 4..9 {
            log.push(HidEvent::KeyDown(code));
        }
        assert_eq!(numbers(&log, 0, 3), [1, 2, 3], "as many as fit");
        assert_eq!(numbers(&log, 3, 8), [4, 5]);
        assert_eq!(numbers(&log, 5, 8), Vec::<u32>::new(), "nothing new");
    }

    #[test]
    fn a_slow_subscriber_sees_the_gap_of_overwritten_events() {
        let mut log = EventLog::new();
        for i in 0..(LOG_LEN as u32 + 5) {
            log.push(HidEvent::KeyDown(i as u8));
        }
        let got = numbers(&log, 2, LOG_LEN);
        assert_eq!(got.first(), Some(&6), "1..=5 were overwritten");
        assert_eq!(got.last(), Some(&(LOG_LEN as u32 + 5)));
        assert_eq!(got.len(), LOG_LEN);
    }

    #[test]
    fn a_number_from_before_a_driver_restart_gets_everything_kept() {
        let mut log = EventLog::new();
        log.push(HidEvent::KeyDown(4));
        log.push(HidEvent::KeyUp(4));
        assert_eq!(numbers(&log, 900, 8), [1, 2]);
    }

    #[test]
    fn every_event_survives_the_record() {
        for event in [
            HidEvent::KeyDown(0x04),
            HidEvent::KeyUp(0x05),
            HidEvent::Modifiers(0x22),
            HidEvent::Motion {
                buttons: 1,
                dx: -5,
                dy: 7,
            },
        ] {
            assert_eq!(HidRecord::new(9, event).event(), Some(event));
        }
        let mut junk = HidRecord::new(1, HidEvent::KeyDown(1));
        junk.kind = 0;
        assert_eq!(junk.event(), None);
    }
}
