//! The corpus of real devices (`usb-corpus`) through the whole stack: every device's
//! descriptors parse at the speed they were captured and agree with what lsusb decoded;
//! each interface goes where it belongs; every low- and full-speed device enumerates through
//! the real controller driver against the model and gets exactly those bindings.

mod common;

use common::*;
use usb_class_hid::HidEvent;
use usb_core_logic::{DriverKind, InterfaceBinding, InterfacePlan, UsbCore, plan_bindings};
use usb_corpus::{CorpusDevice, DEVICES, EndpointFacts, InterfaceFacts, Speed};
use usb_model::flash::{self, FlashFaults};
use usb_model::{corpus, hid, serial};
use usb_proto::cdc::LineCoding;
use usb_proto::descriptor::{DeviceDescriptor, HubDescriptor};
use usb_proto::walk::{Configuration, parse_configuration};

/// What each interface (alternate setting 0) of each device must become, written from the
/// class triples lsusb printed and the match table's intent: boot HID to HID, SCSI/BOT mass
/// storage to MSC, CDC-ACM functions (with IAD, or tied by a Union descriptor) to CDC, hubs
/// to the hub driver, everything else to no driver with its class named.
const EXPECTED: [(&str, &[&str]); 28] = [
    (
        "0079_0011_dragonrise-usb-gamepad",
        &["0: no driver for class 0x03/0x00/0x00 (HID)"],
    ),
    (
        "03c3_1f01_zwo-efw-mini",
        &["0: no driver for class 0x03/0x00/0x00 (HID)"],
    ),
    (
        "0403_6001_ftdi-ft232r",
        &["0: no driver for class 0xff/0xff/0xff (vendor specific)"],
    ),
    (
        "045e_028e_xbox360-controller",
        &[
            "0: no driver for class 0xff/0x5d/0x01 (vendor specific)",
            "1: no driver for class 0xff/0x5d/0x03 (vendor specific)",
            "2: no driver for class 0xff/0x5d/0x02 (vendor specific)",
            "3: no driver for class 0xff/0xfd/0x13 (vendor specific)",
        ],
    ),
    ("046d_c016_logitech-optical-wheel-mouse", &["0: HID"]),
    (
        "046d_c52b_logitech-unifying-receiver",
        &[
            "0: HID",
            "1: HID",
            "2: no driver for class 0x03/0x00/0x00 (HID)",
        ],
    ),
    (
        "0483_5740_stm32-triple-cdc-no-iad",
        &[
            "0: CDC-ACM (function of interfaces 0-1)",
            "1: CDC-ACM (function of interfaces 0-1)",
            "2: CDC-ACM (function of interfaces 2-3)",
            "3: CDC-ACM (function of interfaces 2-3)",
            "4: CDC-ACM (function of interfaces 4-5)",
            "5: CDC-ACM (function of interfaces 4-5)",
        ],
    ),
    (
        "0483_5740_stm32-virtual-com-port",
        &[
            "0: CDC-ACM (function of interfaces 0-1)",
            "1: CDC-ACM (function of interfaces 0-1)",
        ],
    ),
    (
        "04d9_0163_tex-yoda2-keyboard-msc",
        &[
            "0: HID",
            "1: no driver for class 0x03/0x00/0x00 (HID)",
            "2: no driver for class 0x03/0x00/0x00 (HID)",
            "3: mass storage",
        ],
    ),
    (
        "04d9_a088_perixx-periboard-520",
        &["0: HID", "1: unusable: BadHidDescriptor at offset 43"],
    ),
    ("058f_6366_alcor-multi-flash-reader", &["0: mass storage"]),
    ("05e3_0610_genesys-usb2-hub", &["0: hub"]),
    (
        "067b_2303_prolific-pl2303",
        &["0: no driver for class 0xff/0x00/0x00 (vendor specific)"],
    ),
    ("0930_6545_kingston-datatraveler-102", &["0: mass storage"]),
    ("0a05_7211_micov-mw7211-fs-hub", &["0: hub"]),
    (
        "0a12_0001_csr-bluetooth-dongle",
        &[
            "0: no driver for class 0xe0/0x01/0x01 (wireless controller)",
            "1: no driver for class 0xe0/0x01/0x01 (wireless controller)",
        ],
    ),
    ("0aec_3050_neodio-nd3050-card-reader", &["0: mass storage"]),
    (
        "0d28_0204_microbit-daplink",
        &[
            "0: mass storage",
            "1: CDC-ACM (function of interfaces 1-2)",
            "2: CDC-ACM (function of interfaces 1-2)",
            "3: no driver for class 0x03/0x00/0x00 (HID)",
            "4: no driver for class 0xff/0x03/0x00 (vendor specific)",
            "5: no driver for class 0xff/0x00/0x00 (vendor specific)",
        ],
    ),
    (
        "0e8d_1887_hp-external-optical-drive",
        &["0: no driver for class 0x08/0x02/0x50 (mass storage)"],
    ),
    (
        "10c4_ea60_cp2102-uart-bridge",
        &["0: no driver for class 0xff/0x00/0x00 (vendor specific)"],
    ),
    (
        "16d0_0753_digispark",
        &["0: no driver for class 0x00/0x00/0x00 (unspecified)"],
    ),
    ("17ef_30f3_lenovo-dock-usb2-hub-mtt", &["0: hub"]),
    (
        "1a86_7523_ch340-serial",
        &["0: no driver for class 0xff/0x01/0x02 (vendor specific)"],
    ),
    (
        "1c4f_0026_sigma-keyboard-media",
        &["0: HID", "1: no driver for class 0x03/0x00/0x00 (HID)"],
    ),
    (
        "2341_0043_arduino-uno-r3",
        &[
            "0: CDC-ACM (function of interfaces 0-1)",
            "1: CDC-ACM (function of interfaces 0-1)",
        ],
    ),
    (
        "2e8a_0003_rp2040-bootrom-msc",
        &[
            "0: mass storage",
            "1: no driver for class 0xff/0x00/0x00 (vendor specific)",
        ],
    ),
    (
        "2e8a_000a_raspberry-pi-pico-cdc",
        &[
            "0: CDC-ACM (function of interfaces 0-1)",
            "1: CDC-ACM (function of interfaces 0-1)",
            "2: no driver for class 0xff/0x00/0x01 (vendor specific)",
        ],
    ),
    ("413c_2107_dell-kb212b-keyboard", &["0: HID"]),
];

fn expected(device: &CorpusDevice) -> &'static [&'static str] {
    EXPECTED
        .iter()
        .find(|(name, _)| *name == device.name)
        .map(|(_, plan)| *plan)
        .unwrap_or_else(|| panic!("{}: no expected bindings written down", device.name))
}

fn parse(device: &CorpusDevice) -> Configuration<'static> {
    let total = u16::from_le_bytes([device.configuration[2], device.configuration[3]]);
    parse_configuration(device.configuration, total, device.speed)
        .unwrap_or_else(|e| panic!("{}: configuration refused: {e:?}", device.name))
}

fn rendered(plan: &[Option<InterfacePlan>]) -> Vec<String> {
    plan.iter().flatten().map(|p| p.to_string()).collect()
}

/// Our summary in lsusb's terms, to compare with the facts lsusb decoded.
fn summary(config: &Configuration<'_>) -> Vec<InterfaceFacts> {
    config
        .interfaces()
        .map(|i| InterfaceFacts {
            number: i.number,
            alternate: i.alternate,
            class: i.class,
            subclass: i.subclass,
            protocol: i.protocol,
            endpoints: i
                .endpoints()
                .map(|e| EndpointFacts {
                    address: e.addr.0,
                    ty: e.ty,
                    max_packet: e.max_packet_size,
                    interval: e.interval,
                })
                .collect::<Vec<_>>()
                .leak(),
        })
        .collect()
}

#[test]
fn expected_table_names_every_corpus_device_once() {
    let mut names: Vec<_> = EXPECTED.iter().map(|(name, _)| *name).collect();
    names.sort();
    names.dedup();
    let corpus: Vec<_> = DEVICES.iter().map(|d| d.name).collect();
    assert_eq!(names, corpus);
}

#[test]
fn every_device_parses_at_its_captured_speed_and_agrees_with_lsusb() {
    for device in DEVICES {
        let desc = DeviceDescriptor::new_checked(&device.device, device.speed)
            .unwrap_or_else(|e| panic!("{}: device descriptor refused: {e:?}", device.name));
        assert_eq!(
            (
                desc.vendor_id(),
                desc.product_id(),
                desc.num_configurations()
            ),
            (device.vendor_id, device.product_id, 1),
            "{}",
            device.name
        );
        let config = parse(device);
        assert_eq!(config.bytes(), device.configuration, "{}", device.name);
        assert_eq!(summary(&config), device.interfaces, "{}", device.name);
        if let Some(hub) = device.hub_descriptor {
            let hub = HubDescriptor::new_checked(hub)
                .unwrap_or_else(|e| panic!("{}: hub descriptor refused: {e:?}", device.name));
            assert_eq!(hub.num_ports(), 4, "{}", device.name);
        }
    }
}

#[test]
fn every_interface_of_every_device_goes_where_it_belongs() {
    for device in DEVICES {
        let plan = plan_bindings(&parse(device));
        assert_eq!(rendered(&plan), expected(device), "{}", device.name);
    }
}

/// The functions a device's plan gives a driver, as (driver, first interface).
fn planned_functions(plan: &[Option<InterfacePlan>]) -> Vec<(DriverKind, u8)> {
    let mut functions: Vec<_> = plan
        .iter()
        .flatten()
        .filter_map(|p| match p.binding {
            InterfaceBinding::Driver {
                driver,
                first_interface,
                ..
            } => Some((driver, first_interface)),
            _ => None,
        })
        .collect();
    functions.dedup();
    functions
}

fn bound_functions(core: &UsbCore) -> Vec<(DriverKind, u8)> {
    core.bindings()
        .map(|(b, driver)| (driver, bound(core, b).interface()))
        .collect()
}

#[test]
fn every_low_and_full_speed_device_enumerates_through_the_model_and_binds() {
    let mut enumerated = 0;
    for device in DEVICES.iter().filter(|d| d.speed != Speed::High) {
        let mut sim = corpus::device(device);
        on_root_port(&mut sim, |_, host, core| {
            let id = enumerate_root(core, host);
            let info = core.device(id).unwrap();
            assert_eq!(
                (info.speed, info.vendor_id, info.product_id),
                (device.speed, device.vendor_id, device.product_id),
                "{}",
                device.name
            );
            let plan = core.interface_plan(id).unwrap();
            assert_eq!(rendered(&plan), expected(device), "{}", device.name);
            assert_eq!(
                bound_functions(core),
                planned_functions(&plan),
                "{}: every planned function is bound, nothing else",
                device.name
            );
        });
        assert_eq!(sim.configuration(), 1, "{}: configured", device.name);
        enumerated += 1;
    }
    assert_eq!(enumerated, 23, "6 low-speed and 17 full-speed devices");
}

#[test]
fn dell_keyboard_descriptors_drive_the_boot_keyboard_driver() {
    let script = [[0, 0, 0x04, 0, 0, 0, 0, 0], [0; 8]];
    let dell = usb_corpus::find("dell-kb212b-keyboard").unwrap();
    let mut sim = corpus::with_function(dell, hid::keyboard_function(&script));
    on_root_port(&mut sim, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        let (_, events) = hid_events(core, host, b, 3);
        assert_eq!(events, [HidEvent::KeyDown(0x04), HidEvent::KeyUp(0x04)]);
    });
}

#[test]
fn cdc_acm_without_iad_is_bound_with_its_data_interface_and_loops_back() {
    // ST's VCP ties interface 0 to interface 1 with a Union descriptor only.
    let vcp = usb_corpus::find("stm32-virtual-com-port").unwrap();
    let mut sim = corpus::with_function(vcp, serial::loopback_function());
    on_root_port(&mut sim, |_, host, core| {
        let (b, cdc) = ready_cdc(host, core);
        assert_eq!(cdc.data_interface, 1);
        let mut port = core.port(host, b).unwrap();
        let coding = LineCoding {
            baud: 115_200,
            stop_bits: 0,
            parity: 0,
            data_bits: 8,
        };
        cdc.set_line_coding(&mut port, coding).unwrap();
        cdc.set_control_lines(&mut port, true, false).unwrap();
        let data = pattern(200, 5);
        let back = echo(&cdc, &mut port, &data);
        assert_eq!(back, data);
    });
}

#[test]
fn zero_size_endpoints_of_a_bound_interface_get_no_pipe_and_the_rest_still_works() {
    // A boot keyboard whose default setting also lists an isochronous endpoint of size 0
    // (declining bandwidth, as the CSR dongle does): legal, so the interface binds, and the
    // zero-size endpoint, which can carry nothing, must not stop its pipes from opening.
    let dell = usb_corpus::find("dell-kb212b-keyboard").unwrap();
    let configuration: &'static [u8] = [
        &[9, 2, 41, 0, 1, 1, 0, 0xA0, 50][..],
        &[9, 4, 0, 0, 2, 3, 1, 1, 0],
        &[9, 0x21, 0x11, 1, 0, 1, 0x22, 63, 0],
        &[7, 5, 0x81, 3, 8, 0, 10],
        &[7, 5, 0x82, 1, 0, 0, 1],
    ]
    .concat()
    .leak();
    let odd: &'static CorpusDevice = Box::leak(Box::new(CorpusDevice {
        configuration,
        ..*dell
    }));
    let script = [[0, 0, 0x05, 0, 0, 0, 0, 0]];
    let mut sim = corpus::with_function(odd, hid::keyboard_function(&script));
    on_root_port(&mut sim, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        let (_, events) = hid_events(core, host, b, 2);
        assert_eq!(events, [HidEvent::KeyDown(0x05)]);
    });
}

#[test]
fn rp2040_boot_rom_descriptors_drive_the_mass_storage_driver() {
    // Its first interface is Bulk-Only SCSI on endpoints 0x81/0x02; its second, vendor
    // (PICOBOOT), stays without a driver.
    let rp2040 = usb_corpus::find("rp2040-bootrom-msc").unwrap();
    let mut disk = vec![0u8; 64 * 1024];
    let mut sim = corpus::with_function(
        rp2040,
        flash::bot_function(&mut disk, FlashFaults::default()),
    );
    let data = pattern(4096, 11);
    on_root_port(&mut sim, |_, host, core| {
        let (b, mut msc) = ready_msc(host, core);
        assert_eq!((msc.block_len, msc.blocks), (512, 128));
        let mut port = core.port(host, b).unwrap();
        msc.write(&mut port, 8, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        msc.read(&mut port, 8, &mut back).unwrap();
        assert_eq!(back, data);
    });
    assert_eq!(&disk[8 * 512..8 * 512 + data.len()], &data[..]);
}
