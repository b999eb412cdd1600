//! The model's register semantics, driven by raw register accesses: these are the hardware
//! behaviours the driver must cope with (doc/usb-host.md 1.5, 1.6, 4.3).

use dwc2_regs::{self as regs, gint, hcchar, hcint, hctsiz, hprt};
use usb_model::{Dwc2Model, Violation, hid};
use usb_proto::descriptor::ty;
use usb_proto::setup::SetupPacket;

/// A powered, reset, enabled low-speed port with a keyboard behind it.
fn enabled_keyboard_port(model: &mut Dwc2Model<'_>) {
    model.write(regs::HPRT, hprt::PPWR);
    model.write(regs::HPRT, hprt::PPWR | hprt::PRST);
    model.advance(50_000);
    model.write(regs::HPRT, hprt::PPWR);
    model.write(regs::HCFG, regs::hcfg::FSLSPCS_6MHZ);
    model.write(regs::HFIR, regs::hfir::LOW_SPEED);
    model.write(regs::GRXFSIZ, 256);
    model.write(regs::HNPTXFSIZ, (128 << 16) | 256);
    model.write(regs::HPTXFSIZ, (128 << 16) | 384);
}

fn control_channel(dir_in: bool) -> u32 {
    8 | (hcchar::EPTYP_CONTROL << hcchar::EPTYP_SHIFT)
        | hcchar::LSDEV
        | if dir_in { hcchar::EPDIR_IN } else { 0 }
}

fn send_setup(model: &mut Dwc2Model<'_>, setup: SetupPacket) {
    model.write(regs::hctsiz(0), hctsiz::new(8, 1, hctsiz::SETUP));
    model.write(regs::hcchar(0), control_channel(false) | hcchar::CHENA);
    let bytes = setup.to_bytes();
    model.write(
        regs::fifo(0),
        u32::from_le_bytes(bytes[..4].try_into().unwrap()),
    );
    model.write(
        regs::fifo(0),
        u32::from_le_bytes(bytes[4..].try_into().unwrap()),
    );
    while model.step() {}
    assert_eq!(
        model.read(regs::hcint(0)) & (hcint::XFRC | hcint::CHH),
        hcint::XFRC | hcint::CHH
    );
    model.write(regs::hcint(0), hcint::ALL);
}

/// Pops RX entries; returns the data packets' byte counts.
fn drain(model: &mut Dwc2Model<'_>) -> Vec<usize> {
    let mut packets = Vec::new();
    while model.read(regs::GINTSTS) & gint::RXFLVL != 0 {
        let status = model.read(regs::GRXSTSP);
        let count = regs::grxsts::byte_count(status);
        for _ in 0..count.div_ceil(4) {
            model.read(regs::fifo(0));
        }
        if regs::grxsts::packet_status(status) == regs::grxsts::PKTSTS_IN_DATA {
            packets.push(count);
        }
    }
    packets
}

#[test]
fn connect_sets_w1c_change_bits_that_a_naive_read_modify_write_turns_into_a_port_disable() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut model = Dwc2Model::new();
    model.attach(&mut kbd);
    enabled_keyboard_port(&mut model);
    let v = model.read(regs::HPRT);
    assert_eq!(
        v & (hprt::PCSTS | hprt::PCDET | hprt::PENA | hprt::PENCHNG),
        hprt::PCSTS | hprt::PCDET | hprt::PENA | hprt::PENCHNG
    );
    assert_ne!(model.read(regs::GINTSTS) & gint::HPRTINT, 0);

    // Correct: write back without the W1C bits, plus the ones being acknowledged.
    model.write(
        regs::HPRT,
        hprt::without_w1c(v) | hprt::PCDET | hprt::PENCHNG,
    );
    let v = model.read(regs::HPRT);
    assert_eq!(v & (hprt::PCDET | hprt::PENCHNG), 0);
    assert_ne!(v & hprt::PENA, 0);
    assert_eq!(model.violation_count(), 0);

    // Naive: writing the value read back (PENA = 1) disables the port.
    model.write(regs::HPRT, v);
    assert_eq!(model.read(regs::HPRT) & hprt::PENA, 0);
    assert_eq!(
        model.violations().collect::<Vec<_>>(),
        [Violation::PortEnableWritten]
    );
}

#[test]
fn multi_packet_in_stalls_after_one_packet_until_chena_is_written_again() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut model = Dwc2Model::new();
    model.attach(&mut kbd);
    enabled_keyboard_port(&mut model);
    send_setup(
        &mut model,
        SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18),
    );

    model.write(regs::hctsiz(0), hctsiz::new(24, 3, hctsiz::DATA1));
    model.write(regs::hcchar(0), control_channel(true) | hcchar::CHENA);
    while model.step() {}
    model.advance(5_000);
    assert_eq!(drain(&mut model), [8], "dequeued after the first packet");
    assert_eq!(hctsiz::packets(model.read(regs::hctsiz(0))), 2);

    for expected in [8usize, 2] {
        model.write(regs::hcchar(0), control_channel(true) | hcchar::CHENA);
        model.advance(5_000);
        assert_eq!(drain(&mut model), [expected]);
    }
    assert_eq!(
        model.read(regs::hcint(0)) & (hcint::XFRC | hcint::CHH),
        hcint::XFRC | hcint::CHH
    );
    assert_eq!(model.violation_count(), 0);
}

#[test]
fn reenabling_a_stalled_channel_without_halting_it_is_a_violation() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut model = Dwc2Model::new();
    model.attach(&mut kbd);
    enabled_keyboard_port(&mut model);
    // Unknown request: the keyboard STALLs the data stage.
    send_setup(&mut model, SetupPacket::get_descriptor(0x42, 0, 0, 8));
    model.write(regs::hctsiz(0), hctsiz::new(8, 1, hctsiz::DATA1));
    model.write(regs::hcchar(0), control_channel(true) | hcchar::CHENA);
    model.advance(2_000);
    assert_ne!(model.read(regs::hcint(0)) & hcint::STALL, 0);
    model.write(regs::hcchar(0), control_channel(true) | hcchar::CHENA);
    assert_eq!(
        model.violations().collect::<Vec<_>>(),
        [Violation::EnableWhileHaltRequired { channel: 0 }]
    );
    model.write(
        regs::hcchar(0),
        control_channel(true) | hcchar::CHENA | hcchar::CHDIS,
    );
    assert_ne!(model.read(regs::hcint(0)) & hcint::CHH, 0);
}

#[test]
fn port_reset_shorter_than_10_ms_is_flagged() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut model = Dwc2Model::new();
    model.attach(&mut kbd);
    model.write(regs::HPRT, hprt::PPWR);
    model.write(regs::HPRT, hprt::PPWR | hprt::PRST);
    model.advance(2_000);
    model.write(regs::HPRT, hprt::PPWR);
    assert_eq!(
        model.violations().collect::<Vec<_>>(),
        [Violation::PortResetTooShort { held_us: 2_000 }]
    );
}

#[test]
fn an_over_current_load_cuts_the_device_off_until_power_is_cycled_without_it() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut model = Dwc2Model::new();
    model.attach(&mut kbd);
    enabled_keyboard_port(&mut model);
    let ack = |model: &mut Dwc2Model<'_>| {
        let v = model.read(regs::HPRT);
        model.write(
            regs::HPRT,
            hprt::without_w1c(v) | (v & hprt::W1C & !hprt::PENA),
        );
    };
    ack(&mut model);

    model.set_over_current(true);
    let v = model.read(regs::HPRT);
    assert_eq!(
        v & (hprt::POCA | hprt::POCCHNG | hprt::PCSTS | hprt::PENA),
        hprt::POCA | hprt::POCCHNG,
        "over-current: flagged, and the device has lost power"
    );
    assert_ne!(model.read(regs::GINTSTS) & gint::HPRTINT, 0);
    ack(&mut model);
    assert_eq!(model.read(regs::HPRT) & hprt::POCCHNG, 0);

    // Power off: the switch no longer limits anything, the flag drops.
    model.write(regs::HPRT, 0);
    assert_eq!(
        model.read(regs::HPRT) & (hprt::POCA | hprt::POCCHNG),
        hprt::POCCHNG
    );
    ack(&mut model);
    // Power on with the load still there: over-current again, at once, no connect.
    model.write(regs::HPRT, hprt::PPWR);
    assert_eq!(
        model.read(regs::HPRT) & (hprt::POCA | hprt::POCCHNG | hprt::PCSTS),
        hprt::POCA | hprt::POCCHNG
    );
    ack(&mut model);
    // The load goes away while powered: the device has power and connects again.
    model.set_over_current(false);
    let v = model.read(regs::HPRT);
    assert_eq!(
        v & (hprt::POCA | hprt::POCCHNG | hprt::PCSTS | hprt::PCDET),
        hprt::POCCHNG | hprt::PCSTS | hprt::PCDET
    );
    assert_eq!(model.violation_count(), 0);
}

#[test]
fn an_over_current_load_on_an_unpowered_port_is_not_reported() {
    let mut model = Dwc2Model::new();
    model.set_over_current(true);
    assert_eq!(model.read(regs::HPRT) & (hprt::POCA | hprt::POCCHNG), 0);
    model.set_over_current(false);
    assert_eq!(model.read(regs::HPRT) & (hprt::POCA | hprt::POCCHNG), 0);
}
