//! Real USB devices as test data: the descriptors of 28 devices (keyboards, mice, a Unifying
//! receiver, gamepads, flash drives, card readers, an optical drive, CDC-ACM boards, a
//! composite DAPLink, vendor serial chips, hubs and some odd ones), rebuilt byte for byte from
//! `lsusb -v` dumps their owners published. The crate README says where they come from.
//!
//! What it is: a `no_std` table, [`DEVICES`], compiled from `devices/*.json` by `build.rs`, and
//! [`find`] to look a device up by name. Each entry carries the exact device and configuration
//! descriptor bytes, the hub descriptor where lsusb printed one, the speed the device ran at
//! when it was captured, and the interface/endpoint facts as lsusb decoded them - independent
//! of our parser, so tests can hold `usb-proto`'s summary against them.
//!
//! Invariants (checked by `build.rs`, which refuses a bad file by name and key): the device
//! descriptor is 18 bytes; the configuration is exactly `wTotalLength` bytes; every device's
//! lsusb source text is present beside it.
//!
//! Who uses it: `usb-model`'s corpus device (which presents any entry on the simulated bus),
//! the corpus tests in `usb-stack-tests`, and later a `plug NAME` command in QEMU.
#![no_std]
#![forbid(unsafe_code)]

pub use usb_proto::{EpType, Speed};

/// One endpoint as lsusb decoded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointFacts {
    pub address: u8,
    pub ty: EpType,
    /// The raw `wMaxPacketSize` (high-bandwidth bits included).
    pub max_packet: u16,
    pub interval: u8,
}

/// One interface setting as lsusb decoded it, in descriptor order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceFacts {
    pub number: u8,
    pub alternate: u8,
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    pub endpoints: &'static [EndpointFacts],
}

/// One real device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorpusDevice {
    /// `VID_PID_short-name`, the file stem in `devices/`.
    pub name: &'static str,
    /// Product name as published.
    pub product: &'static str,
    pub vendor_id: u16,
    pub product_id: u16,
    /// The speed the device ran at when captured; its configuration is the one for that speed.
    pub speed: Speed,
    pub device: [u8; 18],
    pub configuration: &'static [u8],
    /// The class hub descriptor (type 0x29), for hubs whose dump printed it.
    pub hub_descriptor: Option<&'static [u8]>,
    /// Where the dump was published.
    pub source: &'static str,
    pub interfaces: &'static [InterfaceFacts],
}

impl CorpusDevice {
    /// The name without its `VID_PID_` prefix (unique: two devices share 0483:5740).
    pub fn short_name(&self) -> &'static str {
        self.name.get(10..).unwrap_or(self.name)
    }
}

/// Every corpus device, sorted by name.
pub static DEVICES: &[CorpusDevice] = include!(concat!(env!("OUT_DIR"), "/devices.rs"));

/// The device called `name`: its full name (`0a12_0001_csr-bluetooth-dongle`) or its short
/// name (`csr-bluetooth-dongle`).
pub fn find(name: &str) -> Option<&'static CorpusDevice> {
    DEVICES
        .iter()
        .find(|d| d.name == name || d.short_name() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_is_found_by_full_and_short_name() {
        assert_eq!(DEVICES.len(), 28);
        for device in DEVICES {
            assert_eq!(find(device.name), Some(device));
            assert_eq!(find(device.short_name()), Some(device), "{}", device.name);
        }
    }

    #[test]
    fn unknown_and_partial_names_find_nothing() {
        assert_eq!(find("no-such-device"), None);
        assert_eq!(find("csr-bluetooth"), None);
        assert_eq!(find(""), None);
    }

    #[test]
    fn table_holds_the_published_bytes() {
        let csr = find("csr-bluetooth-dongle").unwrap();
        assert_eq!((csr.vendor_id, csr.product_id), (0x0a12, 0x0001));
        assert_eq!(csr.speed, Speed::Full);
        assert_eq!(csr.configuration.len(), 108);
        assert_eq!(&csr.device[..4], &[0x12, 0x01, 0x10, 0x01]);
        let hub = find("lenovo-dock-usb2-hub-mtt").unwrap();
        assert_eq!(
            hub.hub_descriptor,
            Some(&[0x09, 0x29, 0x04, 0xe9, 0x00, 0xaf, 0x64, 0x0a, 0xff][..])
        );
    }
}
