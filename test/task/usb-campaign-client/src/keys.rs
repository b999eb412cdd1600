//! The sequence keyboard's keys through `usb-hid`: its n-th press is
//! `usb_model::hid::sequence_usage(n)`, a cycle of [`SEQUENCE_KEYS`] usage codes, and the
//! driver numbers the events it logs. Each round pulls the events after the last one seen
//! and checks every press against the next position expected:
//!
//! | Key down at position p, expected e | Verdict |
//! |---|---|
//! | p = e | in order: checked |
//! | p up to [`REPEAT_WINDOW`] presses behind e | a key from the past, repeated or reordered: `corrupt keys` |
//! | any other p | the keys from e to p were lost: `lost keys N since T0` (T0: when the last key in order arrived), then p is in order |
//! | a usage outside the cycle, a modifier or a motion event | not the keyboard's: `corrupt keys` |
//!
//! Whether a loss is allowed is the runner's call: keys go missing when a driver dies
//! with them (usb-hid's log of unread events dies with its incarnation; a report in flight
//! dies with usb-hcd), and while this task is held by another driver for longer than the
//! log's 32 events last (320 ms); never while every driver is healthy.
//!
//! A restart of `usb-hid` numbers its events from 1 again: a new incarnation of it is read
//! from its first event. A keyboard that sends nothing for `REPLUG_MS` (the core
//! quarantined it, or its hub port was lost) is replugged.

use idol_runtime::zerocopy::FromZeros;
use usb_hid_api::{HidRecord, UsbHidClient, kind};
use usb_model::hid::{SEQUENCE_KEYS, sequence_position};
use usb_sim_api::UsbSimClient;
use userlib::{Incarnation, sys_get_timer, sys_refresh_incarnation};

use crate::{Console, USB_HID};

/// Presses behind the one expected that are taken as a repeat: twice the 16 presses
/// usb-hid's log of 32 events holds, the most a driver replaying its log could send again.
/// Any position further back is a gap instead, which the cycle's length keeps unambiguous.
const REPEAT_WINDOW: u32 = 32;
/// Events one `events` call returns at most (its lease's `max_len`).
const BATCH: usize = 16;

pub struct Keys {
    /// The incarnation of usb-hid the event numbers are from.
    hid: Option<Incarnation>,
    /// The number of the last event read.
    after: u32,
    /// The position the next press must have; `None` until the first press.
    expected: Option<u32>,
    /// When the last press in order arrived (or the workload started).
    last_in_order: u64,
    /// When the last press arrived, or the keyboard was last replugged.
    quiet_since: u64,
    checked: u64,
}

impl Keys {
    pub fn new() -> Self {
        Keys {
            hid: None,
            after: 0,
            expected: None,
            last_in_order: sys_get_timer().now,
            quiet_since: sys_get_timer().now,
            checked: 0,
        }
    }

    pub fn step(&mut self, console: &Console<'_>, sim: &UsbSimClient) {
        let id = sys_refresh_incarnation(USB_HID);
        if self.hid != Some(id) {
            self.hid = Some(id);
            self.after = 0;
        }
        let mut records = [HidRecord::new_zeroed(); BATCH];
        // A failed call is a restart of usb-hid: the next round reads its successor.
        let n = UsbHidClient::new(id)
            .events(self.after, &mut records)
            .map_or(0, usize::from);
        for record in &records[..n.min(BATCH)] {
            self.after = record.number;
            self.check(record, console);
        }
        crate::replug_if_missing(sim, b"sequence-keyboard", &mut self.quiet_since);
    }

    fn check(&mut self, record: &HidRecord, console: &Console<'_>) {
        let position = match (record.kind, sequence_position(record.code)) {
            (kind::KEY_DOWN, Some(p)) => p,
            // Releases carry no order of their own; their code must still be the keyboard's.
            (kind::KEY_UP, Some(_)) => return,
            _ => return self.corrupt(console),
        };
        let now = sys_get_timer().now;
        self.quiet_since = now;
        if let Some(expected) = self.expected {
            let ahead = (position + SEQUENCE_KEYS - expected) % SEQUENCE_KEYS;
            if ahead >= SEQUENCE_KEYS - REPEAT_WINDOW {
                return self.corrupt(console);
            }
            if ahead != 0 {
                console.lost(b"keys", u64::from(ahead), self.last_in_order);
            }
        }
        self.expected = Some((position + 1) % SEQUENCE_KEYS);
        self.last_in_order = now;
        self.checked += 1;
        console.count(
            b"campaign: keys checked ",
            64,
            self.checked - 1,
            self.checked,
        );
    }

    fn corrupt(&self, console: &Console<'_>) {
        console.report(b"campaign: corrupt keys round ", self.checked);
    }
}
