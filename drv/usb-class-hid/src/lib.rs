//! HID boot keyboard and mouse driver logic.
//!
//! What it is: the logic of the `usb-hid` task for one binding – configure the interface for
//! the boot protocol, poll its interrupt IN endpoint, decode boot reports into [`HidEvent`]s.
//!
//! Invariants:
//! * report bytes are read only through `usb_proto::hid` views; short reports are rejected,
//!   extra bytes ignored, ErrorRollOver reports leave the key state unchanged;
//! * events are derived by diffing against the previous report, so a repeated report yields
//!   nothing and every `KeyDown` is eventually matched by a `KeyUp` (on release or detach);
//! * a STALLed interrupt endpoint is cleared (with the host toggle) and polling continues.
//!
//! Who talks to it: the `usb-hid` task (later) and the end-to-end tests, through a
//! [`ClassPort`] provided by the USB core.
//!
//! | Report | Events |
//! |---|---|
//! | keyboard, usage in new not in old | `KeyDown(usage)` |
//! | keyboard, usage in old not in new | `KeyUp(usage)` |
//! | keyboard, modifier byte changed | `Modifiers(new byte)` |
//! | keyboard, all six slots ErrorRollOver | none |
//! | mouse, ≥ 3 bytes | `Motion { buttons, dx, dy }` |
#![no_std]
#![forbid(unsafe_code)]

use usb_host_api::{ClassPort, Direction, EpAddr, EpType, PortError, XferError};
use usb_proto::hid::{self, BootKeyboardReport, BootMouseReport};
use usb_proto::walk::Configuration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HidKind {
    Keyboard,
    Mouse,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HidEvent {
    KeyDown(u8),
    KeyUp(u8),
    Modifiers(u8),
    Motion { buttons: u8, dx: i8, dy: i8 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HidError {
    /// The interface is not a boot keyboard or mouse.
    NotBootInterface,
    NoInterruptEndpoint,
    /// A report shorter than the boot format.
    ShortReport,
    Port(PortError),
}

impl From<PortError> for HidError {
    fn from(e: PortError) -> Self {
        HidError::Port(e)
    }
}

/// Most events one report can produce: 6 releases + 6 presses + modifiers.
pub const MAX_EVENTS_PER_REPORT: usize = 13;

/// One bound boot keyboard or mouse.
pub struct BootHid {
    pub kind: HidKind,
    interface: u8,
    endpoint: EpAddr,
    max_packet: usize,
    previous: [u8; BootKeyboardReport::LEN],
}

/// Treats "the endpoint STALLed this request" as an accepted answer (SET_IDLE, SET_PROTOCOL).
fn stall_is_fine(result: Result<usize, PortError>) -> Result<(), PortError> {
    match result {
        Ok(_) | Err(PortError::Xfer(XferError::Stall)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl BootHid {
    /// Binds to boot interface `interface` of `config`: SET_IDLE(0), SET_PROTOCOL(boot).
    pub fn attach(
        port: &mut impl ClassPort,
        config: &Configuration<'_>,
        interface: u8,
    ) -> Result<Self, HidError> {
        let iface = config
            .interfaces()
            .find(|i| i.number == interface && i.alternate == 0)
            .ok_or(HidError::NotBootInterface)?;
        let kind = match (iface.class, iface.subclass, iface.protocol) {
            (hid::CLASS, hid::SUBCLASS_BOOT, hid::PROTOCOL_KEYBOARD) => HidKind::Keyboard,
            (hid::CLASS, hid::SUBCLASS_BOOT, hid::PROTOCOL_MOUSE) => HidKind::Mouse,
            _ => return Err(HidError::NotBootInterface),
        };
        let ep = iface
            .endpoint(EpType::Interrupt, Direction::In)
            .ok_or(HidError::NoInterruptEndpoint)?;
        stall_is_fine(port.control(&hid::set_idle(interface, 0), &mut []))?;
        stall_is_fine(port.control(&hid::set_protocol(interface, hid::PROTOCOL_BOOT), &mut []))?;
        Ok(BootHid {
            kind,
            interface,
            endpoint: ep.addr,
            max_packet: usize::from(ep.max_packet_size).min(BootKeyboardReport::LEN),
            previous: [0; BootKeyboardReport::LEN],
        })
    }

    /// Polls for one report for up to `timeout_ms`; decoded events go to `out`.
    /// Returns how many were written (0: no report in time).
    pub fn poll(
        &mut self,
        port: &mut impl ClassPort,
        timeout_ms: u32,
        out: &mut [HidEvent; MAX_EVENTS_PER_REPORT],
    ) -> Result<usize, HidError> {
        let mut report = [0u8; BootKeyboardReport::LEN];
        let n = match port.transfer_in(self.endpoint, &mut report[..self.max_packet], timeout_ms) {
            Ok(n) => n,
            Err(PortError::Xfer(XferError::Timeout)) => return Ok(0),
            Err(PortError::Xfer(XferError::Stall)) => {
                port.clear_halt(self.endpoint)?;
                return Ok(0);
            }
            Err(e) => return Err(e.into()),
        };
        match self.kind {
            HidKind::Keyboard => {
                let next =
                    BootKeyboardReport::new_checked(&report[..n]).ok_or(HidError::ShortReport)?;
                let count = keyboard_events(
                    &BootKeyboardReport::new_checked(&self.previous)
                        .ok_or(HidError::ShortReport)?,
                    &next,
                    out,
                );
                if !next.is_roll_over_error() {
                    self.previous = report;
                }
                Ok(count)
            }
            HidKind::Mouse => {
                let r = BootMouseReport::new_checked(&report[..n]).ok_or(HidError::ShortReport)?;
                out[0] = HidEvent::Motion {
                    buttons: r.buttons(),
                    dx: r.dx(),
                    dy: r.dy(),
                };
                Ok(1)
            }
        }
    }

    /// Sets the keyboard LEDs (bit 0 NumLock, 1 CapsLock, 2 ScrollLock).
    pub fn set_leds(&self, port: &mut impl ClassPort, leds: u8) -> Result<(), HidError> {
        port.control(&hid::set_led_report(self.interface), &mut [leds])?;
        Ok(())
    }
}

/// Events between two keyboard reports (see the module table).
pub fn keyboard_events(
    previous: &BootKeyboardReport<'_>,
    next: &BootKeyboardReport<'_>,
    out: &mut [HidEvent; MAX_EVENTS_PER_REPORT],
) -> usize {
    if next.is_roll_over_error() {
        return 0;
    }
    let mut count = 0;
    let mut emit = |event| {
        out[count] = event;
        count += 1;
    };
    if previous.modifiers() != next.modifiers() {
        emit(HidEvent::Modifiers(next.modifiers()));
    }
    for key in previous.keys().filter(|&k| !next.is_pressed(k)) {
        emit(HidEvent::KeyUp(key));
    }
    for key in next.keys().filter(|&k| !previous.is_pressed(k)) {
        emit(HidEvent::KeyDown(key));
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(prev: [u8; 8], next: [u8; 8]) -> ([HidEvent; MAX_EVENTS_PER_REPORT], usize) {
        let mut out = [HidEvent::KeyUp(0); MAX_EVENTS_PER_REPORT];
        let n = keyboard_events(
            &BootKeyboardReport::new_checked(&prev).unwrap(),
            &BootKeyboardReport::new_checked(&next).unwrap(),
            &mut out,
        );
        (out, n)
    }

    #[test]
    fn new_key_in_a_report_is_a_key_down_and_its_absence_a_key_up() {
        let (out, n) = events([0; 8], [0, 0, 0x04, 0, 0, 0, 0, 0]);
        assert_eq!(&out[..n], [HidEvent::KeyDown(0x04)]);
        let (out, n) = events([0, 0, 0x04, 0, 0, 0, 0, 0], [0, 0, 0x05, 0, 0, 0, 0, 0]);
        assert_eq!(&out[..n], [HidEvent::KeyUp(0x04), HidEvent::KeyDown(0x05)]);
    }

    #[test]
    fn repeated_report_yields_no_events() {
        let r = [0x02, 0, 0x04, 0x05, 0, 0, 0, 0];
        assert_eq!(events(r, r).1, 0);
    }

    #[test]
    fn modifier_change_is_reported() {
        let (out, n) = events([0; 8], [0x02, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&out[..n], [HidEvent::Modifiers(0x02)]);
    }

    #[test]
    fn roll_over_error_report_changes_nothing() {
        assert_eq!(
            events([0, 0, 0x04, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 1, 1, 1]).1,
            0
        );
    }

    #[test]
    fn six_releases_and_six_presses_fit_the_event_buffer() {
        let (_, n) = events(
            [0x01, 0, 4, 5, 6, 7, 8, 9],
            [0x02, 0, 10, 11, 12, 13, 14, 15],
        );
        assert_eq!(n, 13);
    }
}
