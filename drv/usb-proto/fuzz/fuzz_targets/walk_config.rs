//! Fuzz the configuration walker and every checked descriptor view with arbitrary bytes.
//! Invariants: no panic; a successful walk only yields ranges (and interface-fault offsets)
//! inside the validated blob.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usb_proto::Speed;
use usb_proto::descriptor::{DeviceDescriptor, HidDescriptor, HubDescriptor, StringDescriptor};
use usb_proto::walk::parse_configuration;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let speed = match selector % 3 {
        0 => Speed::Low,
        1 => Speed::Full,
        _ => Speed::High,
    };
    let first_total = if bytes.len() >= 4 && selector & 0x80 == 0 {
        u16::from_le_bytes([bytes[2], bytes[3]])
    } else {
        u16::from(selector)
    };
    if let Ok(config) = parse_configuration(bytes, first_total, speed) {
        for iface in config.interfaces() {
            assert!(iface.extra().end <= config.bytes().len());
            if let Some(fault) = iface.fault {
                assert!(usize::from(fault.offset) < config.bytes().len());
            }
            for raw in config.extra_descriptors(iface).flatten() {
                assert!(usize::from(raw.offset) + raw.bytes.len() <= config.bytes().len());
            }
        }
    }
    let _ = DeviceDescriptor::new_checked(bytes, speed);
    let _ = HidDescriptor::new_checked(bytes).map(|h| h.report_descriptor_length());
    let _ = HubDescriptor::new_checked(bytes).map(|h| h.num_ports());
    if let Ok(s) = StringDescriptor::new_checked(bytes) {
        let mut out = [0u8; 64];
        let _ = s.decode_lossy(&mut out);
    }
});
