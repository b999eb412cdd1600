//! Checked zero-copy views over standard and class descriptors.
//!
//! Each view is created by `new_checked`, which validates `bLength`, `bDescriptorType` and every
//! field whose value later sizes or indexes something (packet sizes, counts, intervals). After
//! that the accessors are infallible. A view never looks past its own `bLength`.

use crate::{EpAddr, EpType, Speed, le16};

/// `bDescriptorType` values (USB 2.0 table 9-5 and class specifications).
pub mod ty {
    pub const DEVICE: u8 = 0x01;
    pub const CONFIGURATION: u8 = 0x02;
    pub const STRING: u8 = 0x03;
    pub const INTERFACE: u8 = 0x04;
    pub const ENDPOINT: u8 = 0x05;
    pub const DEVICE_QUALIFIER: u8 = 0x06;
    pub const INTERFACE_ASSOCIATION: u8 = 0x0B;
    pub const HID: u8 = 0x21;
    pub const HID_REPORT: u8 = 0x22;
    pub const CS_INTERFACE: u8 = 0x24;
    pub const HUB: u8 = 0x29;
}

/// Why a single descriptor was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// The buffer is shorter than the descriptor's fixed part or its `bLength`.
    Truncated,
    /// `bLength` is not the value (or range) this descriptor type allows.
    BadLength,
    /// `bDescriptorType` is not the expected type.
    WrongType,
    /// `bMaxPacketSize0` is not 8, 16, 32 or 64 (or not 8 on a low-speed device).
    BadMaxPacketSize0,
    /// `bNumConfigurations` is 0.
    NoConfigurations,
    /// `wTotalLength` is smaller than the configuration descriptor itself.
    BadTotalLength,
    /// Endpoint number 0 in an endpoint descriptor.
    BadEndpointNumber,
    /// `wMaxPacketSize` is above the speed's limit, uses high-bandwidth bits below HS, or is 0
    /// where no bandwidth may be declined (anything but an isochronous endpoint of a default
    /// alternate setting; the walker checks the alternate setting).
    BadMaxPacketSize,
    /// `bInterval` is 0 for an interrupt endpoint.
    BadInterval,
    /// HID descriptor whose entries (as many as `bNumDescriptors` claims *and* `bLength`
    /// holds) include no report descriptor.
    BadHidDescriptor,
    /// Hub descriptor with zero ports or a length too short for its port bitmaps.
    BadHubPorts,
    /// IAD that groups zero interfaces.
    EmptyAssociation,
}

/// Validates the two-byte header shared by all descriptors and returns the descriptor bytes
/// (exactly `bLength` long).
fn checked_body(buf: &[u8], expected_type: u8, min_len: usize) -> Result<&[u8], DescriptorError> {
    if buf.len() < 2 {
        return Err(DescriptorError::Truncated);
    }
    let len = usize::from(buf[0]);
    if buf[1] != expected_type {
        return Err(DescriptorError::WrongType);
    }
    if len < min_len {
        return Err(DescriptorError::BadLength);
    }
    buf.get(..len).ok_or(DescriptorError::Truncated)
}

fn max_packet_size0_is_valid(mps: u8, speed: Speed) -> bool {
    match speed {
        Speed::Low => mps == 8,
        Speed::Full => matches!(mps, 8 | 16 | 32 | 64),
        Speed::High => mps == 64,
    }
}

/// The first 8 bytes of a device descriptor: what enumeration reads before it knows
/// `bMaxPacketSize0`.
#[derive(Clone, Copy, Debug)]
pub struct DevicePrefix<'a>(&'a [u8]);

impl<'a> DevicePrefix<'a> {
    pub const LEN: usize = 8;

    pub fn new_checked(buf: &'a [u8], speed: Speed) -> Result<Self, DescriptorError> {
        let prefix = buf.get(..Self::LEN).ok_or(DescriptorError::Truncated)?;
        if prefix[1] != ty::DEVICE {
            return Err(DescriptorError::WrongType);
        }
        if usize::from(prefix[0]) != DeviceDescriptor::LEN {
            return Err(DescriptorError::BadLength);
        }
        if !max_packet_size0_is_valid(prefix[7], speed) {
            return Err(DescriptorError::BadMaxPacketSize0);
        }
        Ok(DevicePrefix(prefix))
    }

    pub fn max_packet_size0(&self) -> u8 {
        self.0[7]
    }
}

/// Device descriptor (18 bytes).
#[derive(Clone, Copy, Debug)]
pub struct DeviceDescriptor<'a>(&'a [u8]);

impl<'a> DeviceDescriptor<'a> {
    pub const LEN: usize = 18;

    pub fn new_checked(buf: &'a [u8], speed: Speed) -> Result<Self, DescriptorError> {
        DevicePrefix::new_checked(buf, speed)?;
        let body = checked_body(buf, ty::DEVICE, Self::LEN)?;
        if body[17] == 0 {
            return Err(DescriptorError::NoConfigurations);
        }
        Ok(DeviceDescriptor(body))
    }

    pub fn usb_version(&self) -> u16 {
        le16(self.0, 2)
    }
    pub fn class(&self) -> u8 {
        self.0[4]
    }
    pub fn subclass(&self) -> u8 {
        self.0[5]
    }
    pub fn protocol(&self) -> u8 {
        self.0[6]
    }
    pub fn max_packet_size0(&self) -> u8 {
        self.0[7]
    }
    pub fn vendor_id(&self) -> u16 {
        le16(self.0, 8)
    }
    pub fn product_id(&self) -> u16 {
        le16(self.0, 10)
    }
    pub fn device_version(&self) -> u16 {
        le16(self.0, 12)
    }
    pub fn serial_number_index(&self) -> u8 {
        self.0[16]
    }
    pub fn num_configurations(&self) -> u8 {
        self.0[17]
    }
}

/// Configuration descriptor header (9 bytes); the interfaces that follow are walked by
/// [`crate::walk`].
#[derive(Clone, Copy, Debug)]
pub struct ConfigurationDescriptor<'a>(&'a [u8]);

impl<'a> ConfigurationDescriptor<'a> {
    pub const LEN: usize = 9;

    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::CONFIGURATION, Self::LEN)?;
        if body.len() != Self::LEN {
            return Err(DescriptorError::BadLength);
        }
        if usize::from(le16(body, 2)) < Self::LEN {
            return Err(DescriptorError::BadTotalLength);
        }
        Ok(ConfigurationDescriptor(body))
    }

    pub fn total_length(&self) -> u16 {
        le16(self.0, 2)
    }
    pub fn num_interfaces(&self) -> u8 {
        self.0[4]
    }
    pub fn configuration_value(&self) -> u8 {
        self.0[5]
    }
    pub fn attributes(&self) -> u8 {
        self.0[7]
    }
    pub fn max_power_ma(&self) -> u16 {
        u16::from(self.0[8]) * 2
    }
}

/// Interface descriptor (9 bytes).
#[derive(Clone, Copy, Debug)]
pub struct InterfaceDescriptor<'a>(&'a [u8]);

impl<'a> InterfaceDescriptor<'a> {
    pub const LEN: usize = 9;

    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::INTERFACE, Self::LEN)?;
        Ok(InterfaceDescriptor(body))
    }

    pub fn number(&self) -> u8 {
        self.0[2]
    }
    pub fn alternate_setting(&self) -> u8 {
        self.0[3]
    }
    pub fn num_endpoints(&self) -> u8 {
        self.0[4]
    }
    pub fn class(&self) -> u8 {
        self.0[5]
    }
    pub fn subclass(&self) -> u8 {
        self.0[6]
    }
    pub fn protocol(&self) -> u8 {
        self.0[7]
    }
}

/// Endpoint descriptor (7 bytes; audio-class 9-byte variants are accepted, extra bytes ignored).
///
/// `wMaxPacketSize` 0 is accepted for isochronous endpoints only: a default alternate setting
/// must not reserve isochronous bandwidth, and zero-size endpoints are how devices say so
/// (the walker refuses them outside alternate setting 0).
#[derive(Clone, Copy, Debug)]
pub struct EndpointDescriptor<'a>(&'a [u8]);

impl<'a> EndpointDescriptor<'a> {
    pub const LEN: usize = 7;

    pub fn new_checked(buf: &'a [u8], speed: Speed) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::ENDPOINT, Self::LEN)?;
        let view = EndpointDescriptor(body);
        if view.address().number() == 0 {
            return Err(DescriptorError::BadEndpointNumber);
        }
        let raw_mps = le16(body, 4);
        let mps = raw_mps & 0x07FF;
        let high_bandwidth = raw_mps & 0x1800 != 0;
        let over_limit = mps > speed.max_packet_limit(view.ep_type());
        let zero_not_allowed = mps == 0 && view.ep_type() != EpType::Isochronous;
        if zero_not_allowed
            || over_limit
            || (high_bandwidth && speed != Speed::High)
            || raw_mps & 0xE000 != 0
        {
            return Err(DescriptorError::BadMaxPacketSize);
        }
        if view.ep_type() == EpType::Interrupt && view.interval() == 0 {
            return Err(DescriptorError::BadInterval);
        }
        Ok(view)
    }

    pub fn address(&self) -> EpAddr {
        EpAddr(self.0[2])
    }
    pub fn ep_type(&self) -> EpType {
        EpType::from_attributes(self.0[3])
    }
    pub fn max_packet_size(&self) -> u16 {
        le16(self.0, 4) & 0x07FF
    }
    pub fn interval(&self) -> u8 {
        self.0[6]
    }
}

/// Interface association descriptor (8 bytes).
#[derive(Clone, Copy, Debug)]
pub struct InterfaceAssociation<'a>(&'a [u8]);

impl<'a> InterfaceAssociation<'a> {
    pub const LEN: usize = 8;

    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::INTERFACE_ASSOCIATION, Self::LEN)?;
        if body[3] == 0 {
            return Err(DescriptorError::EmptyAssociation);
        }
        Ok(InterfaceAssociation(body))
    }

    pub fn first_interface(&self) -> u8 {
        self.0[2]
    }
    pub fn interface_count(&self) -> u8 {
        self.0[3]
    }
    pub fn function_class(&self) -> u8 {
        self.0[4]
    }
}

/// HID class descriptor (6 bytes + 3 per listed class descriptor).
///
/// Read as a tolerant host reads it: the entries are the first `bNumDescriptors` 3-byte
/// (type, length) pairs that fit inside `bLength`; a count larger than the room is cut down,
/// bytes after the counted entries are ignored. The descriptor is refused only when those
/// entries name no report descriptor, because without its length the interface cannot be
/// driven.
#[derive(Clone, Copy, Debug)]
pub struct HidDescriptor<'a> {
    body: &'a [u8],
    report_length: u16,
}

impl<'a> HidDescriptor<'a> {
    pub const MIN_LEN: usize = 9;
    const ENTRIES_AT: usize = 6;

    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::HID, Self::MIN_LEN)?;
        let room = (body.len() - Self::ENTRIES_AT) / 3;
        let listed = usize::from(body[5]).min(room);
        let entries = &body[Self::ENTRIES_AT..Self::ENTRIES_AT + 3 * listed];
        let report_length = entries
            .chunks_exact(3)
            .find(|entry| entry[0] == ty::HID_REPORT)
            .map(|entry| u16::from_le_bytes([entry[1], entry[2]]))
            .ok_or(DescriptorError::BadHidDescriptor)?;
        Ok(HidDescriptor {
            body,
            report_length,
        })
    }

    pub fn hid_version(&self) -> u16 {
        le16(self.body, 2)
    }
    pub fn country_code(&self) -> u8 {
        self.body[4]
    }
    /// `wDescriptorLength` of the first report descriptor among the counted entries.
    pub fn report_descriptor_length(&self) -> u16 {
        self.report_length
    }
}

/// Hub class descriptor (type 0x29).
#[derive(Clone, Copy, Debug)]
pub struct HubDescriptor<'a>(&'a [u8]);

impl<'a> HubDescriptor<'a> {
    pub const MIN_LEN: usize = 9;
    /// Ports a USB 2.0 hub may have (`bNbrPorts` is a byte, bitmaps carry bit 0 for the hub).
    pub const MAX_PORTS: u8 = 127;

    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::HUB, Self::MIN_LEN)?;
        let ports = body[2];
        if ports == 0 || ports > Self::MAX_PORTS {
            return Err(DescriptorError::BadHubPorts);
        }
        // DeviceRemovable and PortPwrCtrlMask each hold one bit per port plus bit 0.
        let bitmap_bytes = usize::from(ports) / 8 + 1;
        if body.len() < 7 + 2 * bitmap_bytes {
            return Err(DescriptorError::BadHubPorts);
        }
        Ok(HubDescriptor(body))
    }

    pub fn num_ports(&self) -> u8 {
        self.0[2]
    }
    pub fn characteristics(&self) -> u16 {
        le16(self.0, 3)
    }
    pub fn power_on_to_good_ms(&self) -> u16 {
        u16::from(self.0[5]) * 2
    }
}

/// String descriptor: UTF-16LE code units after the header.
#[derive(Clone, Copy, Debug)]
pub struct StringDescriptor<'a>(&'a [u8]);

impl<'a> StringDescriptor<'a> {
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DescriptorError> {
        let body = checked_body(buf, ty::STRING, 2)?;
        if body.len() % 2 != 0 {
            return Err(DescriptorError::BadLength);
        }
        Ok(StringDescriptor(body))
    }

    /// Code units; for string index 0 these are LANGIDs.
    pub fn units(&self) -> impl Iterator<Item = u16> + 'a {
        self.0[2..]
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
    }

    /// Decodes into `out` as UTF-8, replacing invalid UTF-16 and stopping when `out` is full.
    /// Returns the number of bytes written.
    pub fn decode_lossy(&self, out: &mut [u8]) -> usize {
        let mut written = 0;
        for c in char::decode_utf16(self.units()) {
            let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
            if written + c.len_utf8() > out.len() {
                break;
            }
            written += c.encode_utf8(&mut out[written..]).len();
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEYBOARD_DEVICE: [u8; 18] = [
        18, 1, 0x10, 0x01, 0, 0, 0, 8, 0x34, 0x12, 0x01, 0x00, 0x00, 0x01, 1, 2, 0, 1,
    ];

    #[test]
    fn device_descriptor_fields_are_read_little_endian() {
        let dev = DeviceDescriptor::new_checked(&KEYBOARD_DEVICE, Speed::Low).unwrap();
        assert_eq!(dev.vendor_id(), 0x1234);
        assert_eq!(dev.product_id(), 0x0001);
        assert_eq!(dev.max_packet_size0(), 8);
        assert_eq!(dev.num_configurations(), 1);
    }

    #[test]
    fn device_prefix_rejects_max_packet_size0_outside_the_allowed_set() {
        for bad in [0u8, 9, 255, 128] {
            let mut d = KEYBOARD_DEVICE;
            d[7] = bad;
            assert_eq!(
                DevicePrefix::new_checked(&d, Speed::Full).unwrap_err(),
                DescriptorError::BadMaxPacketSize0
            );
        }
        let mut d = KEYBOARD_DEVICE;
        d[7] = 64;
        assert_eq!(
            DevicePrefix::new_checked(&d, Speed::Low).unwrap_err(),
            DescriptorError::BadMaxPacketSize0
        );
    }

    #[test]
    fn device_descriptor_with_wrong_length_or_no_configuration_is_rejected() {
        let mut d = KEYBOARD_DEVICE;
        d[0] = 17;
        assert_eq!(
            DeviceDescriptor::new_checked(&d, Speed::Low).unwrap_err(),
            DescriptorError::BadLength
        );
        let mut d = KEYBOARD_DEVICE;
        d[17] = 0;
        assert_eq!(
            DeviceDescriptor::new_checked(&d, Speed::Low).unwrap_err(),
            DescriptorError::NoConfigurations
        );
        assert_eq!(
            DeviceDescriptor::new_checked(&KEYBOARD_DEVICE[..12], Speed::Low).unwrap_err(),
            DescriptorError::Truncated
        );
    }

    #[test]
    fn zero_size_isochronous_endpoint_is_accepted_by_the_view() {
        // CSR Bluetooth dongle (0a12:0001), interface 1 alternate setting 0.
        let zero_bandwidth = [7, 5, 0x83, 1, 0, 0, 1];
        let view = EndpointDescriptor::new_checked(&zero_bandwidth, Speed::Full).unwrap();
        assert_eq!(
            (view.ep_type(), view.max_packet_size()),
            (EpType::Isochronous, 0)
        );
    }

    #[test]
    fn endpoint_descriptor_rejects_zero_and_oversized_packets_and_zero_interval() {
        let ok = [7, 5, 0x81, 3, 8, 0, 10];
        assert!(EndpointDescriptor::new_checked(&ok, Speed::Low).is_ok());
        let cases: [([u8; 7], DescriptorError); 6] = [
            (
                [7, 5, 0x80, 3, 8, 0, 10],
                DescriptorError::BadEndpointNumber,
            ),
            ([7, 5, 0x81, 3, 0, 0, 10], DescriptorError::BadMaxPacketSize),
            ([7, 5, 0x81, 2, 0, 0, 0], DescriptorError::BadMaxPacketSize),
            (
                [7, 5, 0x81, 3, 16, 0, 10],
                DescriptorError::BadMaxPacketSize,
            ),
            (
                [7, 5, 0x81, 3, 8, 0x08, 10],
                DescriptorError::BadMaxPacketSize,
            ),
            ([7, 5, 0x81, 3, 8, 0, 0], DescriptorError::BadInterval),
        ];
        for (bytes, err) in cases {
            assert_eq!(
                EndpointDescriptor::new_checked(&bytes, Speed::Low).unwrap_err(),
                err
            );
        }
    }

    #[test]
    fn hub_descriptor_needs_ports_and_room_for_both_bitmaps() {
        let ok = [9, 0x29, 4, 0, 0, 50, 0, 0, 0xFF];
        assert_eq!(HubDescriptor::new_checked(&ok).unwrap().num_ports(), 4);
        let zero_ports = [9, 0x29, 0, 0, 0, 50, 0, 0, 0xFF];
        assert_eq!(
            HubDescriptor::new_checked(&zero_ports).unwrap_err(),
            DescriptorError::BadHubPorts
        );
        let too_many = [9, 0x29, 20, 0, 0, 50, 0, 0, 0xFF];
        assert_eq!(
            HubDescriptor::new_checked(&too_many).unwrap_err(),
            DescriptorError::BadHubPorts
        );
    }

    #[test]
    fn string_descriptor_decodes_utf16_and_stops_at_the_output_size() {
        let s = [8, 3, b'a', 0, b'b', 0, 0x00, 0xD8];
        let view = StringDescriptor::new_checked(&s).unwrap();
        let mut out = [0u8; 16];
        let n = view.decode_lossy(&mut out);
        assert_eq!(&out[..n], "ab\u{FFFD}".as_bytes());
        let mut small = [0u8; 3];
        assert_eq!(view.decode_lossy(&mut small), 2);
        assert_eq!(
            StringDescriptor::new_checked(&[7, 3, 0, 0, 0, 0, 0]).unwrap_err(),
            DescriptorError::BadLength
        );
    }

    #[test]
    fn hid_descriptor_finds_the_report_descriptor_length() {
        let hid = [9, 0x21, 0x11, 0x01, 0, 1, 0x22, 63, 0];
        assert_eq!(
            HidDescriptor::new_checked(&hid)
                .unwrap()
                .report_descriptor_length(),
            63
        );
    }

    #[test]
    fn hid_descriptor_claiming_more_entries_than_fit_uses_those_that_fit() {
        // ZWO EFW mini (03c3:1f01): two entries claimed, bLength 9 holds one.
        let zwo = [9, 0x21, 0x01, 0x01, 0, 2, 0x22, 0x44, 0];
        assert_eq!(
            HidDescriptor::new_checked(&zwo)
                .unwrap()
                .report_descriptor_length(),
            0x44
        );
    }

    #[test]
    fn hid_descriptor_without_a_counted_report_entry_is_refused() {
        // Perixx Periboard-520 (04d9:a088) interface 1: zero entries, then three stray bytes
        // that look like a report entry but are not counted.
        let perixx = [9, 0x21, 0x11, 0x01, 0, 0, 0x22, 0xAE, 0];
        let physical_only = [9, 0x21, 0x11, 0x01, 0, 1, 0x23, 10, 0];
        for bytes in [perixx, physical_only] {
            assert_eq!(
                HidDescriptor::new_checked(&bytes).unwrap_err(),
                DescriptorError::BadHidDescriptor,
                "{bytes:02x?}"
            );
        }
    }
}
