//! Real devices on the simulated bus: any `usb-corpus` device, presenting its published
//! descriptors byte for byte.
//!
//! [`device`] answers what enumeration and binding need: the standard requests of the
//! chapter-9 core (device and configuration descriptors exactly as captured, addressing,
//! configuration) and, for hubs whose dump holds one, the class GET_DESCRIPTOR for the hub
//! descriptor. Every other class or vendor request stalls, and its data endpoints NAK: we
//! know the device's descriptors, not its behaviour. Where a simulated class function exists,
//! [`with_function`] puts the captured descriptors in front of it instead, so class traffic
//! runs against a real device's descriptor layout.
//!
//! The corpus table is `no_std` and found by name (`usb_corpus::find`), so a `plug NAME`
//! command in a QEMU model task can build the same device.

use crate::device::{Ch9Device, EpIn, EpOut, Function};
use usb_corpus::CorpusDevice;
use usb_proto::descriptor::ty;
use usb_proto::setup::{Recipient, RequestType, SetupPacket, request};

/// The class side of a corpus device that has no simulated class function.
pub struct Descriptors {
    hub_descriptor: Option<&'static [u8]>,
}

pub type SimCorpus = Ch9Device<Descriptors>;

/// `corpus` on the bus at the speed it was captured at, answering standard requests only.
pub fn device(corpus: &'static CorpusDevice) -> SimCorpus {
    with_function(
        corpus,
        Descriptors {
            hub_descriptor: corpus.hub_descriptor,
        },
    )
}

/// `corpus`'s descriptors in front of a simulated class `function`.
pub fn with_function<F: Function>(corpus: &'static CorpusDevice, function: F) -> Ch9Device<F> {
    Ch9Device::new(function, corpus.speed, corpus.device, corpus.configuration)
}

impl Function for Descriptors {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        let hub_descriptor_read = setup.request_type() == RequestType::Class
            && setup.recipient() == Recipient::Device
            && setup.request == request::GET_DESCRIPTOR
            && setup.descriptor_type_index().0 == ty::HUB;
        let bytes = self.hub_descriptor.filter(|_| hub_descriptor_read)?;
        let n = bytes.len().min(data.len());
        data[..n].copy_from_slice(&bytes[..n]);
        Some(n)
    }

    fn data_out(&mut self, _ep: u8, _data: &[u8]) -> EpOut {
        EpOut::Nak
    }

    fn data_in(&mut self, _ep: u8, _out: &mut [u8]) -> EpIn {
        EpIn::Nak
    }

    fn reset(&mut self) {}
}
