//! The EP0 policy (doc/usb-host.md 6.2): which control requests a class driver may send through
//! the core for one binding. Pure function of the request and the binding, so every row of the
//! table is a unit test.
//!
//! | Request | Allowed when |
//! |---|---|
//! | SET_ADDRESS, SET_CONFIGURATION, SET_INTERFACE, SET_FEATURE(device), SET/CLEAR_FEATURE(endpoint) | never (the core owns them; halts go through `clear_halt`) |
//! | standard GET_DESCRIPTOR / GET_STATUS to the device | always |
//! | standard GET_DESCRIPTOR to an interface (HID report descriptor) | interface in the binding |
//! | any request to an interface | `wIndex` low byte names an interface of the binding |
//! | any request to an endpoint | `wIndex` low byte names an endpoint of the binding |
//! | class/vendor request to the device or "other" | the binding drives the whole device (hub) |
//! | data stage longer than [`MAX_CONTROL_DATA`] | never |

use usb_proto::setup::{Recipient, RequestType, SetupPacket, request};

/// Longest data stage the core stages through its own buffer.
pub const MAX_CONTROL_DATA: u16 = 512;

/// What the policy needs to know about a binding.
pub trait BindingScope {
    fn has_interface(&self, number: u8) -> bool;
    fn has_endpoint(&self, address: u8) -> bool;
    fn owns_device(&self) -> bool;
}

pub fn control_allowed(scope: &impl BindingScope, setup: &SetupPacket) -> bool {
    if setup.length > MAX_CONTROL_DATA {
        return false;
    }
    let target = setup.index as u8;
    let standard = setup.request_type() == RequestType::Standard;
    match setup.recipient() {
        Recipient::Device if standard => {
            matches!(setup.request, request::GET_DESCRIPTOR | request::GET_STATUS)
        }
        Recipient::Interface if standard => {
            scope.has_interface(target)
                && matches!(
                    setup.request,
                    request::GET_DESCRIPTOR | request::GET_STATUS | request::GET_INTERFACE
                )
        }
        Recipient::Endpoint if standard => {
            scope.has_endpoint(target) && setup.request == request::GET_STATUS
        }
        Recipient::Interface => scope.has_interface(target),
        Recipient::Endpoint => scope.has_endpoint(target),
        Recipient::Device | Recipient::Other => scope.owns_device(),
        Recipient::Reserved => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usb_proto::EpAddr;
    use usb_proto::descriptor::ty;
    use usb_proto::{hid, hub, msc};

    struct Scope {
        interface: u8,
        endpoint: u8,
        whole_device: bool,
    }

    impl BindingScope for Scope {
        fn has_interface(&self, number: u8) -> bool {
            number == self.interface
        }
        fn has_endpoint(&self, address: u8) -> bool {
            address == self.endpoint
        }
        fn owns_device(&self) -> bool {
            self.whole_device
        }
    }

    const MSC: Scope = Scope {
        interface: 2,
        endpoint: 0x81,
        whole_device: false,
    };
    const HUB: Scope = Scope {
        interface: 0,
        endpoint: 0x81,
        whole_device: true,
    };

    #[test]
    fn core_owned_standard_requests_are_refused() {
        for setup in [
            SetupPacket::set_address(5),
            SetupPacket::set_configuration(1),
            SetupPacket::set_interface(2, 1),
            SetupPacket::clear_endpoint_halt(EpAddr(0x81)),
        ] {
            assert!(!control_allowed(&MSC, &setup), "{setup:?}");
            assert!(!control_allowed(&HUB, &setup), "{setup:?}");
        }
    }

    #[test]
    fn descriptor_reads_from_the_device_are_allowed() {
        assert!(control_allowed(
            &MSC,
            &SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18)
        ));
    }

    #[test]
    fn interface_requests_must_name_an_interface_of_the_binding() {
        assert!(control_allowed(&MSC, &msc::get_max_lun(2)));
        assert!(!control_allowed(&MSC, &msc::get_max_lun(0)));
        assert!(!control_allowed(&MSC, &hid::set_idle(0, 0)));
    }

    #[test]
    fn class_requests_to_the_device_or_ports_need_a_whole_device_binding() {
        assert!(control_allowed(&HUB, &hub::get_port_status(1)));
        assert!(control_allowed(&HUB, &hub::get_hub_descriptor(9)));
        assert!(!control_allowed(&MSC, &hub::get_port_status(1)));
        assert!(!control_allowed(
            &MSC,
            &hub::set_port_feature(1, hub::feature::PORT_RESET)
        ));
    }

    #[test]
    fn oversized_data_stages_are_refused() {
        assert!(!control_allowed(
            &MSC,
            &SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 4096)
        ));
    }
}
