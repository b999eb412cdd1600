//! Simulated CDC-ACM serial adapter: an IAD-grouped communication + data interface pair that
//! loops written bytes back once DTR is asserted.
//!
//! Flow control is by NAK: OUT packets that do not fit the loop buffer and IN tokens with no
//! looped data are NAKed, as a real adapter with a full/empty UART buffer would.

use crate::device::{Ch9Device, EpIn, EpOut, Function};
use crate::{concat, device_descriptor};
use usb_proto::Speed;
use usb_proto::cdc::{DTR, LineCoding, request};
use usb_proto::setup::{RequestType, SetupPacket};

const CONFIG: [u8; 75] = concat(&[
    &[9, 2, 75, 0, 2, 1, 0, 0x80, 50],
    &[8, 0x0B, 0, 2, 0x02, 0x02, 0x01, 0],
    &[9, 4, 0, 0, 1, 0x02, 0x02, 0x01, 0],
    &[5, 0x24, 0x00, 0x10, 0x01],
    &[5, 0x24, 0x01, 0x00, 1],
    &[4, 0x24, 0x02, 0x02],
    &[5, 0x24, 0x06, 0, 1],
    &[7, 5, 0x83, 3, 8, 0, 16],
    &[9, 4, 1, 0, 2, 0x0A, 0, 0, 0],
    &[7, 5, 0x81, 2, 64, 0, 0],
    &[7, 5, 0x01, 2, 64, 0, 0],
]);

const LOOP_CAPACITY: usize = 512;

pub struct CdcLoopback {
    ring: [u8; LOOP_CAPACITY],
    head: usize,
    len: usize,
    pub coding: LineCoding,
    pub lines: u16,
    /// Zero-length OUT packets received on the data endpoint.
    pub zero_length_packets: u32,
}

pub type SimSerial = Ch9Device<CdcLoopback>;

/// The CDC-ACM loopback function (data on bulk endpoint 1 both ways), to put behind any
/// descriptors with a bulk IN and OUT endpoint 1.
pub fn loopback_function() -> CdcLoopback {
    CdcLoopback {
        ring: [0; LOOP_CAPACITY],
        head: 0,
        len: 0,
        coding: LineCoding {
            baud: 9600,
            stop_bits: 0,
            parity: 0,
            data_bits: 8,
        },
        lines: 0,
        zero_length_packets: 0,
    }
}

pub fn serial() -> SimSerial {
    Ch9Device::new(
        loopback_function(),
        Speed::Full,
        device_descriptor(0xEF, 64, 0x1209, 0x0003),
        &CONFIG,
    )
}

impl Function for CdcLoopback {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        if setup.request_type() != RequestType::Class || setup.index != 0 {
            return None;
        }
        match setup.request {
            request::SET_LINE_CODING => {
                self.coding = LineCoding::parse(data)?;
                Some(data.len())
            }
            request::GET_LINE_CODING => {
                let bytes = self.coding.to_bytes();
                let n = bytes.len().min(data.len());
                data[..n].copy_from_slice(&bytes[..n]);
                Some(n)
            }
            request::SET_CONTROL_LINE_STATE => {
                self.lines = setup.value;
                Some(0)
            }
            _ => None,
        }
    }

    fn data_out(&mut self, ep: u8, data: &[u8]) -> EpOut {
        if ep != 1 {
            return EpOut::Halt;
        }
        if data.is_empty() {
            self.zero_length_packets += 1;
            return EpOut::Accepted;
        }
        if LOOP_CAPACITY - self.len < data.len() {
            return EpOut::Nak;
        }
        for &b in data {
            self.ring[(self.head + self.len) % LOOP_CAPACITY] = b;
            self.len += 1;
        }
        EpOut::Accepted
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> EpIn {
        match ep {
            1 if self.lines & DTR != 0 && self.len > 0 => {
                let n = self.len.min(64);
                for slot in &mut out[..n] {
                    *slot = self.ring[self.head];
                    self.head = (self.head + 1) % LOOP_CAPACITY;
                }
                self.len -= n;
                EpIn::Data(n)
            }
            1 | 3 => EpIn::Nak,
            _ => EpIn::Halt,
        }
    }

    fn reset(&mut self) {
        self.len = 0;
        self.lines = 0;
    }
}
