//! The 8-byte SETUP packet (USB 2.0 9.3) and builders for the standard requests.

use crate::{Direction, EpAddr, le16};

/// `bmRequestType` bits 6:5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    Standard,
    Class,
    Vendor,
    Reserved,
}

/// `bmRequestType` bits 4:0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    Device,
    Interface,
    Endpoint,
    Other,
    Reserved,
}

/// Standard request codes (`bRequest`, USB 2.0 table 9-4).
pub mod request {
    pub const GET_STATUS: u8 = 0;
    pub const CLEAR_FEATURE: u8 = 1;
    pub const SET_FEATURE: u8 = 3;
    pub const SET_ADDRESS: u8 = 5;
    pub const GET_DESCRIPTOR: u8 = 6;
    pub const SET_DESCRIPTOR: u8 = 7;
    pub const GET_CONFIGURATION: u8 = 8;
    pub const SET_CONFIGURATION: u8 = 9;
    pub const GET_INTERFACE: u8 = 10;
    pub const SET_INTERFACE: u8 = 11;
}

/// Standard feature selectors.
pub mod feature {
    pub const ENDPOINT_HALT: u16 = 0;
    pub const DEVICE_REMOTE_WAKEUP: u16 = 1;
    pub const TEST_MODE: u16 = 2;
}

/// A decoded SETUP packet. Every 8-byte array is a syntactically valid packet, so parsing
/// cannot fail; what a packet is *allowed* to do is the USB core's policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SetupPacket {
    pub request_type: u8,
    pub request: u8,
    pub value: u16,
    pub index: u16,
    pub length: u16,
}

impl SetupPacket {
    pub const LEN: usize = 8;

    pub fn new(
        dir: Direction,
        ty: RequestType,
        recipient: Recipient,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Self {
        let dir_bit = if dir == Direction::In { 0x80 } else { 0 };
        let ty_bits = match ty {
            RequestType::Standard => 0,
            RequestType::Class => 1,
            RequestType::Vendor => 2,
            RequestType::Reserved => 3,
        } << 5;
        let recipient_bits = match recipient {
            Recipient::Device => 0,
            Recipient::Interface => 1,
            Recipient::Endpoint => 2,
            Recipient::Other => 3,
            Recipient::Reserved => 31,
        };
        SetupPacket {
            request_type: dir_bit | ty_bits | recipient_bits,
            request,
            value,
            index,
            length,
        }
    }

    pub fn parse(bytes: &[u8; 8]) -> Self {
        SetupPacket {
            request_type: bytes[0],
            request: bytes[1],
            value: le16(bytes, 2),
            index: le16(bytes, 4),
            length: le16(bytes, 6),
        }
    }

    pub fn to_bytes(&self) -> [u8; 8] {
        let [v0, v1] = self.value.to_le_bytes();
        let [i0, i1] = self.index.to_le_bytes();
        let [l0, l1] = self.length.to_le_bytes();
        [self.request_type, self.request, v0, v1, i0, i1, l0, l1]
    }

    pub fn direction(&self) -> Direction {
        Direction::from_bit7(self.request_type)
    }

    pub fn request_type(&self) -> RequestType {
        match (self.request_type >> 5) & 0b11 {
            0 => RequestType::Standard,
            1 => RequestType::Class,
            2 => RequestType::Vendor,
            _ => RequestType::Reserved,
        }
    }

    pub fn recipient(&self) -> Recipient {
        match self.request_type & 0x1F {
            0 => Recipient::Device,
            1 => Recipient::Interface,
            2 => Recipient::Endpoint,
            3 => Recipient::Other,
            _ => Recipient::Reserved,
        }
    }

    /// `(descriptor type, index)` of a GET_DESCRIPTOR request.
    pub fn descriptor_type_index(&self) -> (u8, u8) {
        let [index, ty] = self.value.to_le_bytes();
        (ty, index)
    }

    pub fn is_standard(&self, request: u8) -> bool {
        self.request_type() == RequestType::Standard && self.request == request
    }

    pub fn get_descriptor(ty: u8, index: u8, language: u16, length: u16) -> Self {
        Self::new(
            Direction::In,
            RequestType::Standard,
            Recipient::Device,
            request::GET_DESCRIPTOR,
            u16::from_le_bytes([index, ty]),
            language,
            length,
        )
    }

    /// GET_DESCRIPTOR addressed to an interface (HID report descriptors).
    pub fn get_interface_descriptor(ty: u8, index: u8, interface: u8, length: u16) -> Self {
        SetupPacket {
            request_type: 0x81,
            ..Self::get_descriptor(ty, index, u16::from(interface), length)
        }
    }

    pub fn set_address(address: u8) -> Self {
        Self::standard_out(
            Recipient::Device,
            request::SET_ADDRESS,
            u16::from(address),
            0,
        )
    }

    pub fn set_configuration(value: u8) -> Self {
        Self::standard_out(
            Recipient::Device,
            request::SET_CONFIGURATION,
            u16::from(value),
            0,
        )
    }

    pub fn set_interface(interface: u8, alternate: u8) -> Self {
        Self::standard_out(
            Recipient::Interface,
            request::SET_INTERFACE,
            u16::from(alternate),
            u16::from(interface),
        )
    }

    pub fn clear_endpoint_halt(ep: EpAddr) -> Self {
        Self::standard_out(
            Recipient::Endpoint,
            request::CLEAR_FEATURE,
            feature::ENDPOINT_HALT,
            u16::from(ep.0),
        )
    }

    pub fn get_status(recipient: Recipient, index: u16) -> Self {
        Self::new(
            Direction::In,
            RequestType::Standard,
            recipient,
            request::GET_STATUS,
            0,
            index,
            2,
        )
    }

    fn standard_out(recipient: Recipient, request: u8, value: u16, index: u16) -> Self {
        Self::new(
            Direction::Out,
            RequestType::Standard,
            recipient,
            request,
            value,
            index,
            0,
        )
    }

    /// A class request with no data stage or an OUT data stage of `length` bytes.
    pub fn class_out(
        recipient: Recipient,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Self {
        Self::new(
            Direction::Out,
            RequestType::Class,
            recipient,
            request,
            value,
            index,
            length,
        )
    }

    /// A class request with an IN data stage of `length` bytes.
    pub fn class_in(
        recipient: Recipient,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
    ) -> Self {
        Self::new(
            Direction::In,
            RequestType::Class,
            recipient,
            request,
            value,
            index,
            length,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::ty;

    #[test]
    fn get_device_descriptor_encodes_as_the_spec_example() {
        let setup = SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18);
        assert_eq!(setup.to_bytes(), [0x80, 6, 0, 1, 0, 0, 18, 0]);
    }

    #[test]
    fn parse_inverts_to_bytes() {
        let setup = SetupPacket::clear_endpoint_halt(EpAddr(0x81));
        assert_eq!(SetupPacket::parse(&setup.to_bytes()), setup);
        assert_eq!(setup.recipient(), Recipient::Endpoint);
        assert_eq!(setup.direction(), Direction::Out);
        assert!(setup.is_standard(request::CLEAR_FEATURE));
    }

    #[test]
    fn class_requests_carry_type_and_recipient_bits() {
        let setup = SetupPacket::class_in(Recipient::Other, 0, 0, 3, 4);
        assert_eq!(setup.request_type, 0xA3);
        assert_eq!(setup.request_type(), RequestType::Class);
    }
}
