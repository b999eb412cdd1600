//! Client of the simulated USB controller, `task/usb-sim` (`idl/usb-sim.idol`,
//! doc/usb-host.md 4).
//!
//! What it is: [`IpcRegs`], `dwc2_regs::Dwc2Regs` over IPC (one call per register access,
//! one per packet for the FIFO windows), for `usb-hcd` in QEMU; the names of the simulated
//! devices ([`devices`]); and the wire forms of what the bus saw ([`SimStats`],
//! [`TraceEntry`]), the oracle of the `usb-tests` image.
//!
//! A simulator that cannot be reached (it died) reads as all-zero registers, like a core
//! whose clock is off: `GSNPSID` then names no DWC2 core and the driver's initialisation
//! fails cleanly instead of acting on garbage.
#![no_std]

use dwc2_regs::Dwc2Regs;
use idol_runtime::abi::Incarnation;
use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use usb_model::{BusEvent, Handshake, InReply, Pid};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

/// Words one `fifo_read` / `fifo_write` carries (their lease `max_len`).
pub const MAX_FIFO_WORDS: usize = 256;
/// Trace entries one `trace` call returns at most.
pub const MAX_TRACE_ENTRIES: usize = 16;

/// Names `plug` and `unplug` accept, besides the `name` of every `usb_corpus` device.
pub mod devices {
    /// A low-speed boot keyboard.
    pub const KEYBOARD: &str = "keyboard";
    /// A full-speed boot mouse.
    pub const MOUSE: &str = "mouse";
    /// A bulk-only mass-storage flash drive on a RAM disk.
    pub const FLASH: &str = "flash";
    /// A CDC-ACM serial adapter that loops data back.
    pub const SERIAL: &str = "serial";
    /// A 4-port hub; plugged at start unless app.toml names another device
    /// (`[tasks.usb-sim.config] plugged-at-boot`).
    pub const HUB: &str = "hub";
    /// A keyboard and a serial adapter of their own, in the hub's ports 1 and 2 unless
    /// app.toml names other devices for its ports (`hub-ports`). A device in a hub port
    /// stays there: `unplug` and `plug` of its name disconnect and connect that port, while
    /// the hub is on the root port.
    pub const HUB_KEYBOARD: &str = "hub-keyboard";
    pub const HUB_SERIAL: &str = "hub-serial";
    /// A keyboard that STALLs every data and status stage (doc/usb-host.md 4.7).
    pub const STALL_STORM: &str = "stall-storm";
    /// A keyboard that NAKs its control data and status stages forever.
    pub const ENDLESS_NAK: &str = "endless-nak";
    /// A keyboard whose device descriptor claims `bMaxPacketSize0` = 9.
    pub const BAD_MAX_PACKET: &str = "bad-max-packet";
    /// A keyboard whose interrupt IN endpoint answers 100 bytes to every poll (babble past
    /// its 8-byte packets).
    pub const BABBLE: &str = "babble";
    /// A keyboard whose configuration grows by 16 bytes (`wTotalLength`) at every read
    /// after the first.
    pub const GROWING_CONFIG: &str = "growing-config";
    /// A keyboard whose configuration descriptor says `bLength` 0 (a walker that trusts it
    /// loops forever).
    pub const ZERO_LENGTH_DESCRIPTOR: &str = "zero-length-descriptor";
    /// Every malicious device above, for sweeps.
    pub const MALICIOUS: [&str; 6] = [
        STALL_STORM,
        ENDLESS_NAK,
        BAD_MAX_PACKET,
        BABBLE,
        GROWING_CONFIG,
        ZERO_LENGTH_DESCRIPTOR,
    ];
    /// The keyboard (same identity), pressing and releasing A every tenth report, forever:
    /// keys keep coming across a restart of the HID driver.
    pub const TYPIST: &str = "typist";
    /// The keyboard (same identity) whose n-th key press is
    /// `usb_model::hid::sequence_usage(n)`, forever: the USB fault campaign's keyboard,
    /// whose keys say which are lost, repeated or out of order.
    pub const SEQUENCE_KEYBOARD: &str = "sequence-keyboard";
}

idol_runtime::error_enum! {
    /// Why `plug` or `unplug` refused.
    pub enum SimError {
        /// No simulated device has this name.
        UnknownDevice = 1,
        /// The named device is not the one on the root port (or, for a device behind the
        /// hub, the hub is not on the root port).
        NotPlugged = 2,
        /// `press`: neither the device on the root port nor a device in an enabled port of
        /// it (a hub) has keys.
        NoKeys = 3,
    }
}

/// The model's statistics (`usb_model::BusStats`, counters truncated to 32 bits) and time.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct SimStats {
    pub bus_resets: u32,
    pub transactions: u32,
    pub setups: u32,
    pub naks: u32,
    pub stalls: u32,
    pub errors: u32,
    /// Breaches of the controller's programming rules (`usb_model::Violation`).
    pub violations: u32,
    /// Bus events recorded so far: the number the next one gets.
    pub trace_count: u32,
    /// Model time; it follows the kernel's clock.
    pub now_us: u64,
}

/// What [`TraceEntry::kind`] records.
pub mod kind {
    pub const RESET: u8 = 1;
    pub const SETUP: u8 = 2;
    pub const OUT: u8 = 3;
    pub const IN: u8 = 4;
}

/// The device's handshake ([`TraceEntry::handshake`]); IN data counts as `ACK`.
pub mod handshake {
    pub const ACK: u8 = 0;
    pub const NAK: u8 = 1;
    pub const STALL: u8 = 2;
    pub const SILENT: u8 = 3;
}

/// One `usb_model::BusEvent` on the wire.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct TraceEntry {
    /// The event's number (truncated to 32 bits).
    pub seq: u32,
    pub kind: u8,
    pub address: u8,
    pub endpoint: u8,
    /// Data PID of OUT and IN data packets: 0 DATA0, 1 DATA1.
    pub pid: u8,
    pub handshake: u8,
    /// `bmRequestType`, `bRequest` and `wValue` of a SETUP.
    pub request_type: u8,
    pub request: u8,
    pub reserved: u8,
    /// Data bytes of an OUT or IN packet.
    pub len: u16,
    pub value: u16,
}

fn pid_code(pid: Pid) -> u8 {
    match pid {
        Pid::Data0 => 0,
        Pid::Data1 => 1,
    }
}

fn handshake_code(h: Handshake) -> u8 {
    match h {
        Handshake::Ack => handshake::ACK,
        Handshake::Nak => handshake::NAK,
        Handshake::Stall => handshake::STALL,
        Handshake::Silent => handshake::SILENT,
    }
}

impl TraceEntry {
    pub fn from_event(seq: u64, event: &BusEvent) -> Self {
        let base = TraceEntry {
            seq: seq as u32,
            ..TraceEntry::default()
        };
        match *event {
            BusEvent::Reset => TraceEntry {
                kind: kind::RESET,
                ..base
            },
            BusEvent::Setup {
                address,
                setup,
                handshake,
            } => TraceEntry {
                kind: kind::SETUP,
                address,
                handshake: handshake_code(handshake),
                request_type: setup[0],
                request: setup[1],
                value: u16::from_le_bytes([setup[2], setup[3]]),
                ..base
            },
            BusEvent::Out {
                address,
                endpoint,
                pid,
                len,
                handshake,
            } => TraceEntry {
                kind: kind::OUT,
                address,
                endpoint,
                pid: pid_code(pid),
                handshake: handshake_code(handshake),
                len: len as u16,
                ..base
            },
            BusEvent::In {
                address,
                endpoint,
                reply,
            } => {
                let (pid, len, handshake) = match reply {
                    InReply::Data { len, pid } => (pid_code(pid), len as u16, handshake::ACK),
                    InReply::Nak => (0, 0, handshake::NAK),
                    InReply::Stall => (0, 0, handshake::STALL),
                    InReply::Silent => (0, 0, handshake::SILENT),
                };
                TraceEntry {
                    kind: kind::IN,
                    address,
                    endpoint,
                    pid,
                    handshake,
                    len,
                    ..base
                }
            }
        }
    }
}

/// The controller's registers in the simulator, reached by IPC.
pub struct IpcRegs(UsbSimClient);

impl IpcRegs {
    pub const fn new(sim: Incarnation) -> Self {
        IpcRegs(UsbSimClient::new(sim))
    }
}

impl Dwc2Regs for IpcRegs {
    fn read(&self, offset: u32) -> u32 {
        self.0.read(offset).unwrap_or(0)
    }

    fn write(&self, offset: u32, value: u32) {
        let _ = self.0.write(offset, value);
    }

    fn fifo_read(&self, dst: &mut [u32]) {
        for chunk in dst.chunks_mut(MAX_FIFO_WORDS) {
            if self.0.fifo_read(chunk).is_err() {
                chunk.fill(0);
            }
        }
    }

    fn fifo_write(&self, channel: u8, src: &[u32]) {
        for chunk in src.chunks(MAX_FIFO_WORDS) {
            let _ = self.0.fifo_write(channel, chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_address_setup_carries_request_and_new_address() {
        let e = TraceEntry::from_event(
            0x1_0000_0007,
            &BusEvent::Setup {
                address: 0,
                setup: [0x00, 0x05, 0x03, 0x00, 0, 0, 0, 0],
                handshake: Handshake::Ack,
            },
        );
        assert_eq!(
            (e.seq, e.kind, e.address, e.request_type, e.request, e.value),
            (7, kind::SETUP, 0, 0x00, 0x05, 3)
        );
    }

    #[test]
    fn data_packets_carry_their_pid_length_and_handshake() {
        let inp = TraceEntry::from_event(
            1,
            &BusEvent::In {
                address: 2,
                endpoint: 1,
                reply: InReply::Data {
                    len: 8,
                    pid: Pid::Data1,
                },
            },
        );
        assert_eq!(
            (
                inp.kind,
                inp.address,
                inp.endpoint,
                inp.pid,
                inp.len,
                inp.handshake
            ),
            (kind::IN, 2, 1, 1, 8, handshake::ACK)
        );
        let stalled = TraceEntry::from_event(
            2,
            &BusEvent::Out {
                address: 2,
                endpoint: 2,
                pid: Pid::Data0,
                len: 31,
                handshake: Handshake::Stall,
            },
        );
        assert_eq!(
            (stalled.kind, stalled.pid, stalled.len, stalled.handshake),
            (kind::OUT, 0, 31, handshake::STALL)
        );
        assert_eq!(
            TraceEntry::from_event(3, &BusEvent::Reset).kind,
            kind::RESET
        );
    }
}
