//! Malicious and broken devices (doc/usb-host.md 4.7) as wrappers around well-behaved ones.
//!
//! [`Faulty`] forwards every transaction to the wrapped device and corrupts the ones its
//! [`Fault`] names. [`Chameleon`] answers as one device until its second bus reset and as
//! another afterwards (re-enumeration with new descriptors). Disconnect-mid-transfer is a
//! property of the bus, not of a device: see `Dwc2Model::unplug_after_transactions` and
//! `Dwc2Model::replug`.

use crate::device::{Handshake, InReply, Pid, SimDevice};
use usb_proto::Speed;
use usb_proto::descriptor::ty;
use usb_proto::setup::{SetupPacket, request};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Byte `offset` of every GET_DESCRIPTOR(`descriptor`) answer reads as `value`
    /// (lying `bLength`, zero-length loops, bogus counts, bad packet sizes, …).
    PatchDescriptor {
        descriptor: u8,
        offset: usize,
        value: u8,
    },
    /// `wTotalLength` grows by `delta` in every configuration read after the first.
    GrowingTotalLength { delta: u16 },
    /// Every transaction on endpoint number `ep` is NAKed (0: the control data/status stages).
    EndlessNak { ep: u8 },
    /// Every data and status stage and every non-control transaction is STALLed.
    StallStorm,
    /// IN on endpoint number `ep` returns `len` bytes, whatever the packet size.
    Babble { ep: u8, len: usize },
}

pub struct Faulty<'d> {
    inner: &'d mut dyn SimDevice,
    /// `None`: the inner device as it is (a [`crate::chaos::Chaos`] between its bouts).
    fault: Option<Fault>,
    /// (descriptor type, bytes of it sent so far) of the GET_DESCRIPTOR in progress.
    descriptor_read: Option<(u8, usize)>,
    config_reads: u32,
}

impl<'d> Faulty<'d> {
    pub fn new(inner: &'d mut dyn SimDevice, fault: Fault) -> Self {
        Faulty {
            inner,
            fault: Some(fault),
            descriptor_read: None,
            config_reads: 0,
        }
    }

    /// Switches the misbehaviour (`None`: none) from the next transaction on, whatever is
    /// in progress: a bout of chaos starts mid-transfer.
    pub fn set_fault(&mut self, fault: Option<Fault>) {
        self.fault = fault;
    }

    fn corrupt(&mut self, chunk: &mut [u8]) {
        let Some((dty, sent)) = self.descriptor_read else {
            return;
        };
        self.descriptor_read = Some((dty, sent + chunk.len()));
        match self.fault {
            Some(Fault::PatchDescriptor {
                descriptor,
                offset,
                value,
            }) if descriptor == dty => {
                if let Some(b) = offset.checked_sub(sent).and_then(|i| chunk.get_mut(i)) {
                    *b = value;
                }
            }
            Some(Fault::GrowingTotalLength { delta })
                if dty == ty::CONFIGURATION
                    && self.config_reads > 1
                    && sent == 0
                    && chunk.len() >= 4 =>
            {
                let total = u16::from_le_bytes([chunk[2], chunk[3]]).wrapping_add(delta);
                chunk[2..4].copy_from_slice(&total.to_le_bytes());
            }
            _ => {}
        }
    }
}

impl SimDevice for Faulty<'_> {
    fn speed(&self) -> Speed {
        self.inner.speed()
    }

    fn address(&self) -> u8 {
        self.inner.address()
    }

    fn bus_reset(&mut self) {
        self.inner.bus_reset();
    }

    fn setup(&mut self, packet: &[u8; 8]) -> Handshake {
        let setup = SetupPacket::parse(packet);
        self.descriptor_read = setup
            .is_standard(request::GET_DESCRIPTOR)
            .then(|| (setup.descriptor_type_index().0, 0));
        if self
            .descriptor_read
            .is_some_and(|(t, _)| t == ty::CONFIGURATION)
        {
            self.config_reads += 1;
        }
        self.inner.setup(packet)
    }

    fn data_out(&mut self, ep: u8, pid: Pid, data: &[u8]) -> Handshake {
        match self.fault {
            Some(Fault::EndlessNak { ep: nak }) if nak == ep & 0x0F => Handshake::Nak,
            Some(Fault::StallStorm) => Handshake::Stall,
            _ => self.inner.data_out(ep, pid, data),
        }
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> InReply {
        match self.fault {
            Some(Fault::EndlessNak { ep: nak }) if nak == ep & 0x0F => return InReply::Nak,
            Some(Fault::StallStorm) => return InReply::Stall,
            Some(Fault::Babble { ep: target, len }) if target == ep & 0x0F => {
                let len = len.min(out.len());
                out[..len].fill(0xBB);
                return InReply::Data {
                    len,
                    pid: Pid::Data1,
                };
            }
            _ => {}
        }
        let reply = self.inner.data_in(ep, out);
        if let InReply::Data { len, .. } = reply
            && ep & 0x0F == 0
        {
            self.corrupt(&mut out[..len]);
        }
        reply
    }

    fn frame_tick(&mut self) {
        self.inner.frame_tick();
    }

    fn route(&mut self, address: u8) -> Option<&mut dyn SimDevice> {
        if self.inner.address() == address {
            Some(self)
        } else {
            self.inner.route(address)
        }
    }

    fn responders(&self, address: u8) -> usize {
        self.inner.responders(address)
    }

    fn set_port_connected(&mut self, port: u8, connected: bool) -> bool {
        self.inner.set_port_connected(port, connected)
    }

    fn press_key(&mut self, usage: u8) -> bool {
        self.inner.press_key(usage)
    }
}

/// Answers as `first` until the second bus reset, then as `second`.
pub struct Chameleon<'d> {
    first: &'d mut dyn SimDevice,
    second: &'d mut dyn SimDevice,
    resets: u32,
}

impl<'d> Chameleon<'d> {
    pub fn new(first: &'d mut dyn SimDevice, second: &'d mut dyn SimDevice) -> Self {
        Chameleon {
            first,
            second,
            resets: 0,
        }
    }

    fn current(&mut self) -> &mut dyn SimDevice {
        if self.resets >= 2 {
            &mut *self.second
        } else {
            &mut *self.first
        }
    }

    fn current_ref(&self) -> &dyn SimDevice {
        if self.resets >= 2 {
            &*self.second
        } else {
            &*self.first
        }
    }
}

impl SimDevice for Chameleon<'_> {
    fn speed(&self) -> Speed {
        self.current_ref().speed()
    }
    fn address(&self) -> u8 {
        self.current_ref().address()
    }
    fn bus_reset(&mut self) {
        self.resets += 1;
        self.current().bus_reset();
    }
    fn setup(&mut self, packet: &[u8; 8]) -> Handshake {
        self.current().setup(packet)
    }
    fn data_out(&mut self, ep: u8, pid: Pid, data: &[u8]) -> Handshake {
        self.current().data_out(ep, pid, data)
    }
    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> InReply {
        self.current().data_in(ep, out)
    }
    fn frame_tick(&mut self) {
        self.current().frame_tick();
    }
    fn route(&mut self, address: u8) -> Option<&mut dyn SimDevice> {
        self.current().route(address)
    }
    fn responders(&self, address: u8) -> usize {
        self.current_ref().responders(address)
    }
}
