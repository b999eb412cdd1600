//! End to end: the real controller driver, USB core and class drivers against the model and
//! its simulated devices.

mod common;

use common::*;
use usb_class_hid::{HidEvent, HidKind};
use usb_class_hub::HubEvent;
use usb_class_msc::MscError;
use usb_core_logic::{BindingEvent, CoreError, DriverKind};
use usb_host_api::{PortError, Speed, XferError};
use usb_model::flash::{self, FlashFaults};
use usb_model::{SimDevice, hid, hub, serial};
use usb_proto::cdc::LineCoding;
use usb_proto::msc::scsi;

const KEY_A: u8 = 0x04;
const KEY_B: u8 = 0x05;
const MIB: usize = 1 << 20;

fn key_script() -> [[u8; 8]; 4] {
    [
        [0, 0, KEY_A, 0, 0, 0, 0, 0],
        [0, 0, KEY_A, KEY_B, 0, 0, 0, 0],
        [0, 0, KEY_B, 0, 0, 0, 0, 0],
        [0; 8],
    ]
}

#[test]
fn low_speed_keyboard_enumerates_and_key_presses_arrive_as_events() {
    let script = key_script();
    let mut kbd = hid::keyboard(&script);
    on_root_port(&mut kbd, |_, host, core| {
        let device = enumerate_root(core, host);
        let info = core.device(device).unwrap();
        assert_eq!(
            (info.speed, info.vendor_id, info.product_id),
            (Speed::Low, 0x1209, 0x0001)
        );
        let b = binding(core, DriverKind::Hid);
        assert_eq!(
            core.take_event(),
            Some(BindingEvent::Bound {
                binding: b,
                driver: DriverKind::Hid,
                resync: false
            })
        );
        let (hid, events) = hid_events(core, host, b, 6);
        assert_eq!(hid.kind, HidKind::Keyboard);
        assert_eq!(
            events,
            [
                HidEvent::KeyDown(KEY_A),
                HidEvent::KeyDown(KEY_B),
                HidEvent::KeyUp(KEY_A),
                HidEvent::KeyUp(KEY_B)
            ]
        );
        hid.set_leds(&mut core.port(host, b).unwrap(), 0b010)
            .unwrap();
    });
    assert_eq!(kbd.function.leds, 0b010);
    assert_eq!(kbd.function.protocol, 0, "boot protocol selected");
}

/// A key pressed on demand (what `usb-sim`'s `press` does) goes out before the rest of the
/// script: down at the next poll, up at the one after; a mouse has no keys to press.
#[test]
fn a_key_pressed_on_demand_arrives_before_the_script() {
    let script = key_script();
    let mut kbd = hid::keyboard(&script);
    on_root_port(&mut kbd, |model, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        const KEY_Z: u8 = 0x1D;
        assert!(model.borrow_mut().root_device().unwrap().press_key(KEY_Z));
        let (_, events) = hid_events(core, host, b, 2);
        assert_eq!(events, [HidEvent::KeyDown(KEY_Z), HidEvent::KeyUp(KEY_Z)]);
        let (_, events) = hid_events(core, host, b, 1);
        assert_eq!(events, [HidEvent::KeyDown(KEY_A)], "then the script");
    });
    let mouse_script = [[0u8; 4]];
    let mut mouse = hid::mouse(&mouse_script);
    assert!(!mouse.press_key(0x05), "a mouse has no keys");
}

#[test]
fn full_speed_mouse_reports_motion() {
    let script = [[1u8, 5, 0xFB, 0]];
    let mut mouse = hid::mouse(&script);
    on_root_port(&mut mouse, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        let (hid, events) = hid_events(core, host, b, 2);
        assert_eq!(hid.kind, HidKind::Mouse);
        assert_eq!(
            events,
            [HidEvent::Motion {
                buttons: 1,
                dx: 5,
                dy: -5
            }]
        );
    });
}

#[test]
fn flash_drive_writes_and_reads_back_one_mebibyte() {
    let mut disk = vec![0u8; MIB + 64 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let data = pattern(MIB, 7);
    on_root_port(&mut drive, |_, host, core| {
        let (b, mut msc) = ready_msc(host, core);
        assert_eq!((msc.block_len, msc.blocks), (512, 2176));
        let mut port = core.port(host, b).unwrap();
        msc.write(&mut port, 16, &data).unwrap();
        let mut back = vec![0u8; MIB];
        msc.read(&mut port, 16, &mut back).unwrap();
        assert_eq!(checksum(&back), checksum(&data));
        assert!(back == data);
    });
    assert_eq!(
        checksum(&disk[16 * 512..16 * 512 + MIB]),
        checksum(&data),
        "the device holds what was written"
    );
}

#[test]
fn flash_drive_data_stall_is_cleared_and_reported_with_its_sense() {
    let mut disk = vec![0u8; 64 * 1024];
    // Command 1 INQUIRY, 2-4 TUR/REQUEST SENSE/TUR, 5 READ CAPACITY, 6 the READ below.
    let faults = FlashFaults {
        stall_data_in_at: Some(6),
        ..FlashFaults::default()
    };
    let mut drive = flash::flash_drive(&mut disk, faults);
    on_root_port(&mut drive, |model, host, core| {
        let (b, mut msc) = ready_msc(host, core);
        let mut port = core.port(host, b).unwrap();
        let mut block = [0u8; 512];
        let err = msc.read(&mut port, 0, &mut block).unwrap_err();
        assert!(
            matches!(err, MscError::CommandFailed(s) if s.key == scsi::MEDIUM_ERROR),
            "{err:?}"
        );
        msc.read(&mut port, 0, &mut block).unwrap();
        assert_eq!(model.borrow().stats().stalls, 1);
    });
}

#[test]
fn invalid_csw_triggers_bot_reset_recovery_and_the_next_command_works() {
    let mut disk = vec![0u8; 64 * 1024];
    let faults = FlashFaults {
        bad_csw_at: Some(6),
        ..FlashFaults::default()
    };
    let mut drive = flash::flash_drive(&mut disk, faults);
    on_root_port(&mut drive, |_, host, core| {
        let (b, mut msc) = ready_msc(host, core);
        let mut port = core.port(host, b).unwrap();
        let recoveries = msc.recoveries;
        let mut block = [0u8; 512];
        assert_eq!(msc.read(&mut port, 0, &mut block), Err(MscError::BadCsw));
        assert_eq!(msc.recoveries, recoveries + 1);
        msc.read(&mut port, 0, &mut block).unwrap();
    });
    assert_eq!(
        drive.function.resets, 2,
        "one at bring-up (dirty start), one after the bad CSW"
    );
}

#[test]
fn cdc_loopback_moves_64_kib_and_terminates_full_packets_with_zlp() {
    let mut serial = serial::serial();
    let coding = LineCoding {
        baud: 115_200,
        stop_bits: 0,
        parity: 0,
        data_bits: 8,
    };
    on_root_port(&mut serial, |_, host, core| {
        let (b, cdc) = ready_cdc(host, core);
        assert_eq!(cdc.data_interface, 1);
        let mut port = core.port(host, b).unwrap();
        cdc.set_line_coding(&mut port, coding).unwrap();
        assert_eq!(cdc.line_coding(&mut port).unwrap(), coding);
        cdc.set_control_lines(&mut port, true, false).unwrap();

        let data = pattern(64 * 1024, 3);
        let back: Vec<u8> = data
            .chunks(256)
            .flat_map(|chunk| echo(&cdc, &mut port, chunk))
            .collect();
        assert_eq!(checksum(&back), checksum(&data));
        let mut buf = [0u8; 64];
        assert_eq!(
            cdc.read(&mut port, &mut buf, 20),
            Ok(0),
            "nothing left: NAK until timeout"
        );
    });
    assert_eq!(
        serial.function.zero_length_packets, 256,
        "every 256-byte write ends with a ZLP"
    );
    assert_eq!(serial.function.coding, coding);
}

#[test]
fn the_typist_plays_its_script_again_where_the_keyboard_naks() {
    let script = [[0, 0, KEY_A, 0, 0, 0, 0, 0], [0; 8], [0; 8]];
    let mut typist = hid::typist(&script);
    on_root_port(&mut typist, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        let (_, events) = hid_events(core, host, b, 7);
        assert_eq!(
            events,
            [
                HidEvent::KeyDown(KEY_A),
                HidEvent::KeyUp(KEY_A),
                HidEvent::KeyDown(KEY_A),
                HidEvent::KeyUp(KEY_A),
                HidEvent::KeyDown(KEY_A),
            ],
            "an idle report changes nothing; the script starts over after its last"
        );
    });
    assert_eq!(typist.function.reports_sent(), 7);
    let mut keyboard = hid::keyboard(&script);
    on_root_port(&mut keyboard, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        let mut hid = hid_events(core, host, b, 3).0;
        let mut out = [HidEvent::KeyUp(0); usb_class_hid::MAX_EVENTS_PER_REPORT];
        assert_eq!(
            hid.poll(&mut core.port(host, b).unwrap(), 20, &mut out),
            Ok(0),
            "the plain keyboard NAKs once its script is played"
        );
    });
}

#[test]
fn an_empty_cdc_write_sends_nothing_and_the_next_bytes_still_loop_back() {
    let mut serial = serial::serial();
    on_root_port(&mut serial, |_, host, core| {
        let (b, cdc) = ready_cdc(host, core);
        let mut port = core.port(host, b).unwrap();
        cdc.bring_up(&mut port).unwrap();
        assert_eq!(cdc.write(&mut port, &[]), Ok(0));
        let data = pattern(64, 6);
        assert_eq!(echo(&cdc, &mut port, &data), data);
    });
    assert_eq!(
        serial.function.zero_length_packets, 1,
        "only the 64-byte write's ZLP: the empty write put nothing on the bus"
    );
}

#[test]
fn two_devices_behind_the_hub_enumerate_and_work() {
    let script = key_script();
    let mut kbd = hid::keyboard(&script);
    let mut disk = vec![0u8; 64 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut hub = hub::hub([
        Some(&mut kbd as &mut dyn SimDevice),
        None,
        Some(&mut drive),
        None,
    ]);
    on_root_port(&mut hub, |model, host, core| {
        let (hub_binding, mut hub_driver, children) = enumerate_hub_tree(core, host);
        assert_eq!(hub_driver.ports, 4);
        let attached: Vec<_> = children
            .iter()
            .map(|&(p, id)| (p, core.device(id).unwrap()))
            .collect();
        assert_eq!(attached.len(), 2);
        assert_eq!(
            (attached[0].0, attached[0].1.speed, attached[0].1.tier),
            (1, Speed::Low, 1)
        );
        assert_eq!((attached[1].0, attached[1].1.speed), (3, Speed::Full));
        // Each names the hub it is behind and its port there, what the console's tree shows.
        let hub_address = core
            .devices()
            .filter_map(|id| core.device(id).ok())
            .find(|d| d.tier == 0)
            .unwrap()
            .address;
        for (port, info) in &attached {
            assert_eq!((info.parent_address, info.port), (hub_address, *port));
        }

        let kb = binding(core, DriverKind::Hid);
        assert_eq!(hid_events(core, host, kb, 6).1.len(), 4);

        let mb = binding(core, DriverKind::MassStorage);
        let bound = bound(core, mb);
        let mut msc = usb_class_msc::MassStorage::attach(&bound.config(), 0).unwrap();
        let mut port = core.port(host, mb).unwrap();
        msc.bring_up(&mut port).unwrap();
        let data = pattern(8 * 512, 11);
        msc.write(&mut port, 3, &data).unwrap();
        let mut back = vec![0u8; data.len()];
        msc.read(&mut port, 3, &mut back).unwrap();
        assert!(back == data);

        // Unplug the keyboard from port 1: the core drops it, its binding goes stale.
        assert!(
            model
                .borrow_mut()
                .root_device()
                .unwrap()
                .set_port_connected(1, false)
        );
        let event = hub_driver
            .poll(&mut core.port(host, hub_binding).unwrap(), 50)
            .unwrap();
        assert_eq!(event, Some(HubEvent::Disconnected(1)));
        core.hub_port_detached(host, hub_binding, 1).unwrap();
        assert_eq!(core.port(host, kb).err(), Some(CoreError::Stale));
        assert!(core.port(host, mb).is_ok());
    });
}

#[test]
fn unplug_mid_transfer_fails_the_transfer_and_stales_every_handle() {
    let mut disk = vec![0u8; 256 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |model, host, core| {
        let (b, mut msc) = ready_msc(host, core);
        let device = core.binding_device(b).unwrap();
        model.borrow_mut().unplug_after_transactions(100);
        let mut buf = vec![0u8; 64 * 512];
        let err = msc
            .read(&mut core.port(host, b).unwrap(), 0, &mut buf)
            .unwrap_err();
        assert_eq!(
            err,
            MscError::Port(PortError::Xfer(XferError::Disconnected))
        );
        assert_eq!(core.poll_root(host), None);
        assert_eq!(
            core.take_event(),
            Some(BindingEvent::Bound {
                binding: b,
                driver: DriverKind::MassStorage,
                resync: false
            })
        );
        assert!(
            matches!(core.take_event(), Some(BindingEvent::Unbound { binding, .. }) if binding == b)
        );
        assert_eq!(core.device(device), Err(CoreError::Stale));
        assert_eq!(core.port(host, b).err(), Some(CoreError::Stale));
    });
}
