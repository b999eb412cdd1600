//! The transaction-level device interface and the chapter-9 device core shared by every
//! simulated device.
//!
//! [`SimDevice`] is what the controller model talks to: one call per bus transaction
//! (SETUP, OUT, IN), in the style of Zephyr's virtual bus. [`Ch9Device`] implements the
//! standard device framework once (USB 2.0 chapter 9) and delegates class behaviour to a
//! [`Function`].
//!
//! EP0 state machine of [`Ch9Device`]:
//!
//! | State | SETUP | IN token | OUT token |
//! |---|---|---|---|
//! | any | decode; IN request → `DataIn`; OUT with data → `DataOut`; OUT without data → run, `StatusIn`; refused → `Stalled` | | |
//! | `DataIn` | | next chunk (≤ MPS0, DATA1 first) | status ZLP → `Idle` |
//! | `DataOut` | | STALL | append; at wLength run → `StatusIn` or `Stalled` |
//! | `StatusIn` | | ZLP; pending SET_ADDRESS takes effect → `Idle` | STALL |
//! | `Idle` / `Stalled` | | STALL | STALL |
//!
//! Data toggles: each endpoint keeps one toggle per direction; an OUT packet with the wrong
//! toggle is acknowledged and dropped (a retransmission), as the specification requires.
//! CLEAR_FEATURE(ENDPOINT_HALT), SET_CONFIGURATION and bus reset return toggles to DATA0.

use usb_proto::descriptor::ty;
use usb_proto::setup::{Recipient, RequestType, SetupPacket, feature, request};
use usb_proto::{Direction, Speed};

/// Data PID of a data packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pid {
    Data0,
    Data1,
}

impl Pid {
    pub fn flipped(self) -> Self {
        match self {
            Pid::Data0 => Pid::Data1,
            Pid::Data1 => Pid::Data0,
        }
    }
}

/// Handshake of a SETUP or OUT transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handshake {
    Ack,
    Nak,
    Stall,
    /// No response: the host sees a transaction error.
    Silent,
}

/// Device answer to an IN token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InReply {
    /// `len` bytes were written to the output buffer, sent with `pid`.
    Data {
        len: usize,
        pid: Pid,
    },
    Nak,
    Stall,
    Silent,
}

/// Largest packet a (misbehaving) device may put on the bus in one IN transaction.
pub const MAX_BUS_PACKET: usize = 1023;

/// A device as the bus sees it.
pub trait SimDevice {
    fn speed(&self) -> Speed;
    fn address(&self) -> u8;
    fn bus_reset(&mut self);
    fn setup(&mut self, packet: &[u8; 8]) -> Handshake;
    fn data_out(&mut self, ep: u8, pid: Pid, data: &[u8]) -> Handshake;
    /// `out` is [`MAX_BUS_PACKET`] long; a well-behaved device writes at most its MPS.
    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> InReply;
    /// Called once per 1 ms frame.
    fn frame_tick(&mut self) {}
    /// The device that answers at `address`: this one, or one downstream of a hub.
    fn route(&mut self, address: u8) -> Option<&mut dyn SimDevice>;
    /// How many devices in this subtree answer at `address` (more than one at address 0 is a
    /// host bug the model reports).
    fn responders(&self, address: u8) -> usize;
    /// Hubs: plug or unplug the device on `port`. Returns false for non-hubs or bad ports.
    fn set_port_connected(&mut self, _port: u8, _connected: bool) -> bool {
        false
    }
    /// Keyboards: press the key `usage` now (its report goes out at the next poll, its
    /// release at the one after). Returns false for devices that have no keys.
    fn press_key(&mut self, _usage: u8) -> bool {
        false
    }
}

/// Answer of a function to a non-zero endpoint IN token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpIn {
    Data(usize),
    Nak,
    /// Halt the endpoint (it stays halted until CLEAR_FEATURE(ENDPOINT_HALT)).
    Halt,
}

/// Answer of a function to a non-zero endpoint OUT packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpOut {
    Accepted,
    Nak,
    Halt,
}

/// Class behaviour behind a [`Ch9Device`].
pub trait Function {
    /// Class, vendor or non-standard request. IN: fill `data` and return the length; OUT:
    /// `data` holds the received bytes. `None` stalls the request.
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize>;
    /// Non-zero endpoint OUT; functions without OUT endpoints halt.
    fn data_out(&mut self, _ep: u8, _data: &[u8]) -> EpOut {
        EpOut::Halt
    }
    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> EpIn;
    /// Bus reset or SET_CONFIGURATION(0): forget class state.
    fn reset(&mut self);
    fn frame_tick(&mut self) {}
    fn route_downstream(&mut self, _address: u8) -> Option<&mut dyn SimDevice> {
        None
    }
    fn downstream_responders(&self, _address: u8) -> usize {
        0
    }
    fn set_port_connected(&mut self, _port: u8, _connected: bool) -> bool {
        false
    }
    fn press_key(&mut self, _usage: u8) -> bool {
        false
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ep0 {
    Idle,
    DataIn,
    DataOut,
    StatusIn,
    Stalled,
}

const EP0_BUF: usize = 512;

/// Standard device framework around a [`Function`].
pub struct Ch9Device<F> {
    pub function: F,
    device: [u8; 18],
    config: &'static [u8],
    speed: Speed,
    address: u8,
    pending_address: Option<u8>,
    configuration: u8,
    ep0: Ep0,
    setup: SetupPacket,
    buf: [u8; EP0_BUF],
    len: usize,
    sent: usize,
    toggle_in: [Pid; 16],
    toggle_out: [Pid; 16],
    halted_in: u16,
    halted_out: u16,
}

impl<F: Function> Ch9Device<F> {
    /// A device with descriptor tables `device` and `config` (one configuration).
    pub fn new(function: F, speed: Speed, device: [u8; 18], config: &'static [u8]) -> Self {
        Ch9Device {
            function,
            device,
            config,
            speed,
            address: 0,
            pending_address: None,
            configuration: 0,
            ep0: Ep0::Idle,
            setup: SetupPacket::parse(&[0; 8]),
            buf: [0; EP0_BUF],
            len: 0,
            sent: 0,
            toggle_in: [Pid::Data0; 16],
            toggle_out: [Pid::Data0; 16],
            halted_in: 0,
            halted_out: 0,
        }
    }

    pub fn configuration(&self) -> u8 {
        self.configuration
    }

    fn max_packet0(&self) -> usize {
        usize::from(self.device[7].max(8))
    }

    fn reset_endpoints(&mut self) {
        self.toggle_in = [Pid::Data0; 16];
        self.toggle_out = [Pid::Data0; 16];
        self.halted_in = 0;
        self.halted_out = 0;
    }

    fn halt_bit(ep: u16) -> (bool, u16) {
        (ep & 0x80 != 0, 1 << (ep & 0x0F))
    }

    /// Standard requests; `None` means "not standard, ask the function".
    fn standard(&mut self) -> Option<Option<usize>> {
        let s = self.setup;
        if s.request_type() != RequestType::Standard {
            return None;
        }
        let answer = match (s.request, s.recipient()) {
            (request::GET_DESCRIPTOR, Recipient::Device) => {
                let (dty, index) = s.descriptor_type_index();
                let source = match (dty, index) {
                    (ty::DEVICE, 0) => &self.device[..],
                    (ty::CONFIGURATION, 0) => self.config,
                    (ty::STRING, 0) => &[4, 3, 0x09, 0x04],
                    _ => return Some(None),
                };
                let n = source.len().min(EP0_BUF);
                self.buf[..n].copy_from_slice(&source[..n]);
                Some(n)
            }
            (request::SET_ADDRESS, Recipient::Device) if s.value <= 127 => {
                self.pending_address = Some(s.value as u8);
                Some(0)
            }
            (request::SET_CONFIGURATION, Recipient::Device) => {
                let value = s.value as u8;
                let offered = self.config.get(5).copied();
                if value != 0 && Some(value) != offered {
                    return Some(None);
                }
                self.configuration = value;
                self.reset_endpoints();
                self.function.reset();
                Some(0)
            }
            (request::GET_CONFIGURATION, Recipient::Device) => {
                self.buf[0] = self.configuration;
                Some(1)
            }
            (request::GET_STATUS, _) => {
                let (is_in, bit) = Self::halt_bit(s.index);
                let halted = if is_in {
                    self.halted_in
                } else {
                    self.halted_out
                } & bit
                    != 0;
                let halted = halted && s.recipient() == Recipient::Endpoint;
                self.buf[..2].copy_from_slice(&[u8::from(halted), 0]);
                Some(2)
            }
            (request::CLEAR_FEATURE, Recipient::Endpoint) if s.value == feature::ENDPOINT_HALT => {
                let (is_in, bit) = Self::halt_bit(s.index);
                let n = usize::from(s.index & 0x0F);
                if is_in {
                    self.halted_in &= !bit;
                    self.toggle_in[n] = Pid::Data0;
                } else {
                    self.halted_out &= !bit;
                    self.toggle_out[n] = Pid::Data0;
                }
                Some(0)
            }
            (request::SET_FEATURE, Recipient::Endpoint) if s.value == feature::ENDPOINT_HALT => {
                let (is_in, bit) = Self::halt_bit(s.index);
                if is_in {
                    self.halted_in |= bit
                } else {
                    self.halted_out |= bit
                }
                Some(0)
            }
            (request::SET_INTERFACE, Recipient::Interface) if s.value == 0 => Some(0),
            (request::GET_INTERFACE, Recipient::Interface) => {
                self.buf[0] = 0;
                Some(1)
            }
            _ => return None,
        };
        Some(answer)
    }

    /// Runs the request once its OUT data (if any) has arrived.
    fn execute(&mut self) -> Option<usize> {
        match self.standard() {
            Some(answer) => answer,
            None => {
                let wanted = usize::from(self.setup.length).min(EP0_BUF);
                let data = &mut self.buf[..wanted];
                self.function
                    .control(&self.setup, data)
                    .map(|n| n.min(wanted))
            }
        }
    }

    fn ep0_in(&mut self, out: &mut [u8]) -> InReply {
        match self.ep0 {
            Ep0::DataIn => {
                let n = (self.len - self.sent).min(self.max_packet0());
                out[..n].copy_from_slice(&self.buf[self.sent..self.sent + n]);
                self.sent += n;
                let pid = self.toggle_in[0];
                self.toggle_in[0] = pid.flipped();
                InReply::Data { len: n, pid }
            }
            Ep0::StatusIn => {
                if let Some(address) = self.pending_address.take() {
                    self.address = address;
                }
                self.ep0 = Ep0::Idle;
                InReply::Data {
                    len: 0,
                    pid: Pid::Data1,
                }
            }
            Ep0::Idle | Ep0::DataOut | Ep0::Stalled => InReply::Stall,
        }
    }

    fn ep0_out(&mut self, pid: Pid, data: &[u8]) -> Handshake {
        match self.ep0 {
            Ep0::DataIn if data.is_empty() => {
                self.ep0 = Ep0::Idle;
                Handshake::Ack
            }
            Ep0::DataOut => {
                if pid != self.toggle_out[0] {
                    return Handshake::Ack;
                }
                self.toggle_out[0] = pid.flipped();
                let wanted = usize::from(self.setup.length).min(EP0_BUF);
                let n = data.len().min(wanted - self.len);
                self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
                self.len += n;
                if self.len == wanted {
                    self.ep0 = if self.execute().is_some() {
                        Ep0::StatusIn
                    } else {
                        Ep0::Stalled
                    };
                }
                Handshake::Ack
            }
            _ => Handshake::Stall,
        }
    }
}

impl<F: Function> SimDevice for Ch9Device<F> {
    fn speed(&self) -> Speed {
        self.speed
    }

    fn address(&self) -> u8 {
        self.address
    }

    fn bus_reset(&mut self) {
        self.address = 0;
        self.pending_address = None;
        self.configuration = 0;
        self.ep0 = Ep0::Idle;
        self.reset_endpoints();
        self.function.reset();
    }

    fn setup(&mut self, packet: &[u8; 8]) -> Handshake {
        self.setup = SetupPacket::parse(packet);
        self.toggle_in[0] = Pid::Data1;
        self.toggle_out[0] = Pid::Data1;
        self.len = 0;
        self.sent = 0;
        self.ep0 = match (self.setup.direction(), self.setup.length) {
            (Direction::In, wanted) => match self.execute() {
                Some(n) => {
                    self.len = n.min(usize::from(wanted));
                    Ep0::DataIn
                }
                None => Ep0::Stalled,
            },
            (Direction::Out, 0) => match self.execute() {
                Some(_) => Ep0::StatusIn,
                None => Ep0::Stalled,
            },
            (Direction::Out, _) => Ep0::DataOut,
        };
        Handshake::Ack
    }

    fn data_out(&mut self, ep: u8, pid: Pid, data: &[u8]) -> Handshake {
        let n = usize::from(ep & 0x0F);
        if n == 0 {
            return self.ep0_out(pid, data);
        }
        if self.configuration == 0 || self.halted_out & (1 << n) != 0 {
            return Handshake::Stall;
        }
        if pid != self.toggle_out[n] {
            return Handshake::Ack;
        }
        match self.function.data_out(ep, data) {
            EpOut::Accepted => {
                self.toggle_out[n] = pid.flipped();
                Handshake::Ack
            }
            EpOut::Nak => Handshake::Nak,
            EpOut::Halt => {
                self.halted_out |= 1 << n;
                Handshake::Stall
            }
        }
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> InReply {
        let n = usize::from(ep & 0x0F);
        if n == 0 {
            return self.ep0_in(out);
        }
        if self.configuration == 0 || self.halted_in & (1 << n) != 0 {
            return InReply::Stall;
        }
        match self.function.data_in(ep, out) {
            EpIn::Data(len) => {
                let pid = self.toggle_in[n];
                self.toggle_in[n] = pid.flipped();
                InReply::Data { len, pid }
            }
            EpIn::Nak => InReply::Nak,
            EpIn::Halt => {
                self.halted_in |= 1 << n;
                InReply::Stall
            }
        }
    }

    fn frame_tick(&mut self) {
        self.function.frame_tick();
    }

    fn route(&mut self, address: u8) -> Option<&mut dyn SimDevice> {
        if self.address == address {
            Some(self)
        } else {
            self.function.route_downstream(address)
        }
    }

    fn responders(&self, address: u8) -> usize {
        usize::from(self.address == address) + self.function.downstream_responders(address)
    }

    fn set_port_connected(&mut self, port: u8, connected: bool) -> bool {
        self.function.set_port_connected(port, connected)
    }

    fn press_key(&mut self, usage: u8) -> bool {
        self.function.press_key(usage)
    }
}
