//! Behavioural model of the STM32H7's DWC2 host controller, with simulated USB devices.
//!
//! What it is: [`Dwc2Model`] reproduces what the host-mode driver can observe through the
//! registers – write-1-to-clear and read-only summary bits, pop-on-read RX status, FIFO windows,
//! self-clearing reset bits, the channel engine with the slave-mode IN re-enable quirk, a
//! virtual 1 ms frame clock, and the root-port state machine – and records every breach of the
//! programming rules as a [`Violation`] instead of misbehaving silently. Devices plug in behind
//! the transaction-level [`SimDevice`] trait: a chapter-9 core ([`Ch9Device`]) with keyboard,
//! mouse, flash drive (BOT + SCSI on a caller-provided RAM disk), CDC-ACM loopback and 4-port
//! hub functions, plus [`faulty`] wrappers implementing the malicious behaviours of
//! doc/usb-host.md 4.7. [`corpus`] presents the descriptors of any real device of `usb-corpus`
//! (standard requests and the hub descriptor; class traffic by putting a simulated class
//! function behind the real descriptors).
//!
//! Invariants:
//! * `no_std`, no allocation: devices are owned by the caller and lent to the model (`'d`);
//!   every buffer is fixed-size, so a QEMU task can host the same model;
//! * time only moves when the caller calls [`Dwc2Model::step`], [`Dwc2Model::idle_until`] or
//!   [`Dwc2Model::advance`], so runs are deterministic;
//! * a misprogramming driver never makes the model panic: it gets a violation, and the
//!   transaction it asked for does not happen.
//!
//! Who talks to it: host tests (through [`ModelRegs`], a [`dwc2_regs::Dwc2Regs`] over a
//! `RefCell<Dwc2Model>`), and later a `usb-sim` task answering register IPC in QEMU.
#![no_std]
#![forbid(unsafe_code)]

pub mod blocks;
pub mod chaos;
mod controller;
pub mod corpus;
pub mod device;
pub mod faulty;
pub mod flash;
pub mod hid;
pub mod hub;
pub mod serial;

pub use controller::{BusEvent, BusStats, Dwc2Model, ModelRegs, TRACE_LEN, Violation};
pub use device::{Ch9Device, Function, Handshake, InReply, Pid, SimDevice};

/// Writes `parts` back to back into `out` (descriptor tables of the simulated devices).
pub(crate) const fn concat<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    let mut p = 0;
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            out[at] = parts[p][i];
            at += 1;
            i += 1;
        }
        p += 1;
    }
    assert!(at == N, "descriptor table length mismatch");
    out
}

/// An 18-byte device descriptor (USB 2.0, one configuration).
pub(crate) const fn device_descriptor(class: u8, mps0: u8, vid: u16, pid: u16) -> [u8; 18] {
    let v = vid.to_le_bytes();
    let p = pid.to_le_bytes();
    [
        18, 1, 0x00, 0x02, class, 0, 0, mps0, v[0], v[1], p[0], p[1], 0x00, 0x01, 0, 0, 0, 1,
    ]
}
