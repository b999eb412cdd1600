use super::*;
use crate::Direction;
use crate::descriptor::DescriptorError;
use proptest::prelude::*;
use std::vec::Vec;

/// A composite configuration (89 bytes): CDC-ACM (IAD, comm + data) and a mass-storage
/// interface.
fn composite() -> Vec<u8> {
    config_of(
        3,
        &[
            &[8, 0x0B, 0, 2, 2, 2, 0, 0],
            &[9, 4, 0, 0, 1, 2, 2, 0, 0],
            &[5, 0x24, 0x00, 0x10, 0x01],
            &[5, 0x24, 0x06, 0, 1],
            &[7, 5, 0x83, 3, 8, 0, 16],
            &[9, 4, 1, 0, 2, 0x0A, 0, 0, 0],
            &[7, 5, 0x81, 2, 64, 0, 0],
            &[7, 5, 0x01, 2, 64, 0, 0],
            &[9, 4, 2, 0, 2, 8, 6, 0x50, 0],
            &[7, 5, 0x82, 2, 64, 0, 0],
            &[7, 5, 0x02, 2, 64, 0, 0],
        ],
    )
}

/// Concatenates descriptors behind a configuration header with the right `wTotalLength`.
fn config_of(interfaces: u8, parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let total = (9 + body.len()) as u16;
    let [lo, hi] = total.to_le_bytes();
    [&[9, 2, lo, hi, interfaces, 1, 0, 0x80, 50][..], &body].concat()
}

fn parse(buf: &[u8]) -> Result<Configuration<'_>, WalkError> {
    parse_configuration(buf, u16::from_le_bytes([buf[2], buf[3]]), Speed::Full)
}

#[test]
fn composite_configuration_yields_functions_endpoints_and_class_descriptors() {
    let blob = composite();
    let config = parse(&blob).unwrap();
    assert_eq!(config.value, 1);
    let ifaces: Vec<_> = config.interfaces().collect();
    assert_eq!(ifaces.len(), 3);
    let comm = ifaces[0];
    assert_eq!(comm.function.map(|f| f.interface_count), Some(2));
    assert_eq!(ifaces[1].function, comm.function);
    assert_eq!(ifaces[2].function, None);
    assert_eq!(
        comm.endpoint(EpType::Interrupt, Direction::In)
            .unwrap()
            .interval,
        16
    );
    let cs: Vec<_> = config
        .extra_descriptors(comm)
        .map(|d| d.unwrap())
        .filter(|d| d.ty == crate::descriptor::ty::CS_INTERFACE)
        .map(|d| d.bytes[2])
        .collect();
    assert_eq!(cs, [0x00, 0x06]);
    let msc = ifaces[2];
    assert_eq!(
        msc.endpoint(EpType::Bulk, Direction::Out).unwrap().addr,
        EpAddr(0x02)
    );
}

#[test]
fn total_length_that_changed_between_reads_is_rejected() {
    let blob = composite();
    assert_eq!(
        parse_configuration(&blob, 9, Speed::Full).unwrap_err(),
        WalkError::TotalLengthChanged {
            first: 9,
            second: 89
        }
    );
}

#[test]
fn total_length_beyond_the_received_bytes_is_rejected() {
    let blob = composite();
    assert_eq!(
        parse(&blob[..60]).unwrap_err(),
        WalkError::Truncated {
            total: 89,
            received: 60
        }
    );
}

#[test]
fn trailing_bytes_after_total_length_are_ignored() {
    let mut long = [0xEEu8; 120];
    long[..89].copy_from_slice(&composite());
    assert_eq!(parse(&long).unwrap().bytes().len(), 89);
}

#[test]
fn zero_and_one_byte_lengths_stop_the_walk_with_an_error() {
    for bad in [0u8, 1] {
        let mut blob = composite();
        blob[17] = bad; // the CDC comm interface descriptor
        assert_eq!(
            parse(&blob).unwrap_err(),
            WalkError::ZeroLength { offset: 17 }
        );
    }
}

#[test]
fn length_running_past_the_end_is_an_overrun() {
    let mut blob = composite();
    blob[82] = 20; // last endpoint claims 20 bytes, 7 remain
    assert_eq!(parse(&blob).unwrap_err(), WalkError::Overrun { offset: 82 });
}

#[test]
fn interface_with_fewer_endpoints_than_declared_is_rejected() {
    let mut blob = composite();
    blob[21] = 2; // comm interface declares 2 endpoints, has 1
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::EndpointCountMismatch { interface: 0 }
    );
}

#[test]
fn interface_with_more_endpoints_than_declared_is_rejected() {
    let mut blob = composite();
    blob[70] = 1; // MSC interface declares 1 endpoint, has 2
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::EndpointCountMismatch { interface: 2 }
    );
}

#[test]
fn endpoint_before_any_interface_is_an_orphan() {
    let blob: [u8; 16] = [9, 2, 16, 0, 0, 1, 0, 0x80, 50, 7, 5, 0x81, 2, 64, 0, 0];
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::OrphanEndpoint { offset: 9 }
    );
}

#[test]
fn association_past_the_interface_count_is_rejected() {
    let mut blob = composite();
    blob[11] = 2; // IAD now claims interfaces 2..4 of 3

    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::BadAssociation { first: 2 }
    );
}

#[test]
fn declared_interface_count_must_match() {
    let mut blob = composite();
    blob[4] = 4;
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::InterfaceCountMismatch {
            declared: 4,
            found: 3
        }
    );
}

#[test]
fn bad_endpoint_fields_name_their_offset() {
    let mut blob = composite();
    blob[86] = 0; // MSC bulk OUT wMaxPacketSize = 0
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::Descriptor {
            offset: 82,
            error: crate::descriptor::DescriptorError::BadMaxPacketSize
        }
    );
}

#[test]
fn duplicate_endpoint_address_is_rejected() {
    let mut blob = composite();
    blob[84] = 0x82;
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::DuplicateEndpoint { interface: 2 }
    );
}

#[test]
fn too_many_interface_settings_are_refused() {
    let mut blob = [0u8; 9 + 9 * 9];
    blob[..9].copy_from_slice(&[9, 2, 90, 0, 1, 1, 0, 0x80, 50]);
    for alt in 0..9u8 {
        let at = 9 + 9 * usize::from(alt);
        blob[at..at + 9].copy_from_slice(&[9, 4, 0, alt, 0, 0xFF, 0, 0, 0]);
    }
    assert_eq!(parse(&blob).unwrap_err(), WalkError::TooManyInterfaces);
}

#[test]
fn too_many_endpoints_in_one_interface_are_refused() {
    let blob: [u8; 18] = [9, 2, 18, 0, 1, 1, 0, 0x80, 50, 9, 4, 0, 0, 5, 0xFF, 0, 0, 0];
    assert_eq!(
        parse(&blob).unwrap_err(),
        WalkError::TooManyEndpoints { interface: 0 }
    );
}

#[test]
fn zero_size_isochronous_endpoints_are_legal_in_alternate_setting_0_only() {
    // CSR Bluetooth dongle (0a12:0001): interface 1 alt 0 declines bandwidth, alt 1 asks for it.
    let alt0 = config_of(
        1,
        &[
            &[9, 4, 1, 0, 2, 0xE0, 1, 1, 0],
            &[7, 5, 0x83, 1, 0, 0, 1],
            &[7, 5, 0x03, 1, 0, 0, 1],
            &[9, 4, 1, 1, 2, 0xE0, 1, 1, 0],
            &[7, 5, 0x83, 1, 9, 0, 1],
            &[7, 5, 0x03, 1, 9, 0, 1],
        ],
    );
    let config = parse(&alt0).unwrap();
    let sizes: Vec<_> = config
        .interfaces()
        .flat_map(|i| i.endpoints().map(|e| (i.alternate, e.max_packet_size)))
        .collect();
    assert_eq!(sizes, [(0, 0), (0, 0), (1, 9), (1, 9)]);

    let mut alt1_zero = alt0.clone();
    alt1_zero[9 + 23 + 9 + 4] = 0; // alt 1, first endpoint: wMaxPacketSize 9 -> 0
    assert_eq!(
        parse(&alt1_zero).unwrap_err(),
        WalkError::Descriptor {
            offset: 9 + 23 + 9,
            error: DescriptorError::BadMaxPacketSize
        }
    );
}

#[test]
fn descriptor_type_0x21_in_a_vendor_interface_is_not_read_as_hid() {
    // Xbox 360 controller (045e:028e) interface 0: a 17-byte vendor descriptor of type 0x21.
    let blob = config_of(
        1,
        &[
            &[9, 4, 0, 0, 2, 0xFF, 0x5D, 1, 0],
            &[
                17, 0x21, 0, 1, 1, 0x25, 0x81, 0x14, 0, 0, 0, 0, 0x13, 1, 8, 0, 0,
            ],
            &[7, 5, 0x81, 3, 32, 0, 4],
            &[7, 5, 0x01, 3, 32, 0, 8],
        ],
    );
    let config = parse(&blob).unwrap();
    let iface = config.interfaces().next().unwrap();
    assert_eq!((iface.fault, iface.hid_report_length), (None, None));
    let extra: Vec<_> = config
        .extra_descriptors(iface)
        .map(|d| d.unwrap().ty)
        .collect();
    assert_eq!(
        extra,
        [0x21, 5, 5],
        "the vendor descriptor stays in the extra bytes"
    );
}

#[test]
fn malformed_hid_descriptor_makes_only_its_interface_unusable() {
    // Perixx Periboard-520 (04d9:a088): the boot keyboard is fine, interface 1's HID
    // descriptor counts zero entries.
    let blob = config_of(
        2,
        &[
            &[9, 4, 0, 0, 1, 3, 1, 1, 0],
            &[9, 0x21, 0x11, 1, 0, 1, 0x22, 0x3E, 0],
            &[7, 5, 0x81, 3, 8, 0, 10],
            &[9, 4, 1, 0, 1, 3, 0, 0, 0],
            &[9, 0x21, 0x11, 1, 0, 0, 0x22, 0xAE, 0],
            &[7, 5, 0x82, 3, 8, 0, 10],
        ],
    );
    let config = parse_configuration(&blob, 59, Speed::Low).unwrap();
    let ifaces: Vec<_> = config.interfaces().collect();
    assert_eq!(
        (ifaces[0].fault, ifaces[0].hid_report_length),
        (None, Some(0x3E))
    );
    assert_eq!(
        ifaces[1].fault,
        Some(InterfaceFault {
            offset: 9 + 25 + 9,
            error: DescriptorError::BadHidDescriptor
        })
    );
    assert_eq!(ifaces[1].hid_report_length, None);
    assert_eq!(
        ifaces[1].endpoints().count(),
        1,
        "its endpoints are still checked"
    );
}

fn check_summary_invariants(config: &Configuration<'_>) {
    for iface in config.interfaces() {
        assert!(iface.endpoints().count() <= MAX_ENDPOINTS);
        assert!(iface.extra().end <= config.bytes().len());
        for raw in config.extra_descriptors(iface) {
            let raw = raw.unwrap();
            assert!(usize::from(raw.offset) + raw.bytes.len() <= config.bytes().len());
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), first in any::<u16>()) {
        if let Ok(config) = parse_configuration(&bytes, first, Speed::Full) {
            check_summary_invariants(&config);
        }
    }

    #[test]
    fn mutated_valid_configurations_parse_or_fail_cleanly(
        edits in proptest::collection::vec((0usize..89, any::<u8>()), 1..6),
        cut in 0usize..=89,
    ) {
        let mut blob = composite();
        for (at, value) in edits {
            blob[at] = value;
        }
        let first = u16::from_le_bytes([blob[2], blob[3]]);
        if let Ok(config) = parse_configuration(&blob[..cut], first, Speed::Full) {
            check_summary_invariants(&config);
        }
    }

    #[test]
    fn descriptor_iterator_terminates_within_half_the_length(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let steps = DescriptorIter::new(&bytes, 0).count();
        prop_assert!(steps <= bytes.len() / 2 + 1);
    }
}
