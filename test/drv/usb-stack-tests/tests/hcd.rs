//! The controller driver against the model, below the USB core: register-level behaviour,
//! transfers, error handling.

use std::cell::RefCell;
use usb_host_api::{EpAddr, EpType, HostController, PipeSpec, SetupPacket, Speed, XferError};
use usb_model::{BusEvent, Dwc2Model, Handshake, InReply, Pid, hid};
use usb_proto::descriptor::ty;
use usb_stack_tests::{SimHost, ep0_spec};

/// A keyboard on the root port (its script empty: its interrupt endpoint NAKs).
fn with_keyboard(test: impl FnOnce(&RefCell<Dwc2Model<'_>>, &mut SimHost<'_, '_>)) {
    with_scripted_keyboard(&[], 0, test);
}

/// A keyboard sending `script` on the root port, driven with `latency_us` per register access.
fn with_scripted_keyboard(
    script: &[[u8; 8]],
    latency_us: u64,
    test: impl FnOnce(&RefCell<Dwc2Model<'_>>, &mut SimHost<'_, '_>),
) {
    let mut kbd = hid::keyboard(script);
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut kbd);
    let mut host = SimHost::with_register_latency(&model, latency_us);
    test(&model, &mut host);
    assert_eq!(model.borrow().violations().collect::<Vec<_>>(), []);
}

#[test]
fn keyboard_answers_the_first_device_descriptor_read() {
    with_keyboard(|_, host| {
        host.delay_ms(100);
        assert!(host.root_port().connected);
        assert_eq!(host.reset_root_port(), Ok(Speed::Low));
        let ep0 = host.open_pipe(ep0_spec(Speed::Low)).unwrap();
        let mut buf = [0u8; 18];
        let n = host
            .control(
                ep0,
                &SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18),
                &mut buf,
                500,
            )
            .unwrap();
        assert_eq!(n, 18);
        assert_eq!(buf[1], ty::DEVICE);
    });
}

#[test]
fn trace_shows_the_reset_the_setup_and_the_toggles_of_a_descriptor_read() {
    with_keyboard(|model, host| {
        host.delay_ms(100);
        let from = model.borrow().trace_count();
        assert_eq!(host.reset_root_port(), Ok(Speed::Low));
        let ep0 = host.open_pipe(ep0_spec(Speed::Low)).unwrap();
        let setup = SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18);
        let mut buf = [0u8; 18];
        assert_eq!(host.control(ep0, &setup, &mut buf, 500), Ok(18));
        let model = model.borrow();
        let events: Vec<BusEvent> = model.trace(from).map(|(_, e)| e).collect();
        // 18 bytes at 8 per packet: DATA1, DATA0, DATA1 (data stage), then a zero-length
        // OUT with DATA1 (status stage).
        let data = |pid, len| BusEvent::In {
            address: 0,
            endpoint: 0,
            reply: InReply::Data { len, pid },
        };
        assert_eq!(
            events,
            [
                BusEvent::Reset,
                BusEvent::Setup {
                    address: 0,
                    setup: setup.to_bytes(),
                    handshake: Handshake::Ack
                },
                data(Pid::Data1, 8),
                data(Pid::Data0, 8),
                data(Pid::Data1, 2),
                BusEvent::Out {
                    address: 0,
                    endpoint: 0,
                    pid: Pid::Data1,
                    len: 0,
                    handshake: Handshake::Ack
                },
            ]
        );
        assert_eq!(model.stats().bus_resets, 1);
        assert_eq!(model.trace(0).count(), model.trace_count() as usize);
    });
}

#[test]
fn control_transfer_to_an_absent_address_fails_after_three_transaction_errors() {
    with_keyboard(|model, host| {
        host.delay_ms(100);
        host.reset_root_port().unwrap();
        let ep0 = host
            .open_pipe(PipeSpec {
                address: 9,
                ..ep0_spec(Speed::Low)
            })
            .unwrap();
        let mut buf = [0u8; 8];
        let r = host.control(
            ep0,
            &SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 8),
            &mut buf,
            500,
        );
        assert_eq!(r, Err(XferError::TransactionError));
        assert_eq!(model.borrow().stats().errors, 3);
    });
}

/// Enumerates the keyboard and opens a pipe to its interrupt endpoint.
fn keyboard_interrupt_pipe(host: &mut SimHost<'_, '_>) -> usb_host_api::PipeId {
    let mut core = usb_core_logic::UsbCore::new();
    let device = match core.poll_root(host) {
        Some(Ok(d)) => d,
        other => panic!("{other:?}"),
    };
    let address = core.device(device).unwrap().address;
    let spec = PipeSpec {
        address,
        endpoint: EpAddr(0x81),
        ty: EpType::Interrupt,
        max_packet: 8,
        interval: 10,
        speed: Speed::Low,
    };
    host.open_pipe(spec).unwrap()
}

#[test]
fn interrupt_endpoint_is_polled_once_per_interval() {
    with_keyboard(|model, host| {
        let pipe = keyboard_interrupt_pipe(host);
        let naks_before = model.borrow().stats().naks;
        let mut buf = [0u8; 8];
        assert_eq!(
            host.transfer_in(pipe, &mut buf, 200),
            Err(XferError::Timeout)
        );
        let polls = model.borrow().stats().naks - naks_before;
        assert!(
            (19..=21).contains(&polls),
            "{polls} polls in 200 ms at bInterval 10"
        );
    });
}

#[test]
fn cancelled_transfer_completes_as_canceled_and_frees_its_channel() {
    with_keyboard(|_, host| {
        let pipe = keyboard_interrupt_pipe(host);
        host.hcd()
            .submit(pipe, dwc2_hcd_core::Request::In { len: 8 }, 1000)
            .unwrap();
        host.idle_ms(35);
        assert_eq!(host.hcd().take_completion(pipe), None);
        host.hcd().cancel(pipe);
        host.idle_ms(2);
        assert_eq!(
            host.hcd().take_completion(pipe),
            Some(Err(XferError::Canceled))
        );
        let mut buf = [0u8; 8];
        assert_eq!(
            host.transfer_in(pipe, &mut buf, 30),
            Err(XferError::Timeout),
            "the pipe is usable again"
        );
        host.close_pipe(pipe);
        assert_eq!(
            host.transfer_in(pipe, &mut buf, 30),
            Err(XferError::BadPipe),
            "a closed pipe's handle is stale"
        );
    });
}

/// `usb-hid`'s way of polling (a 1 ms transfer every 10 ms) with register accesses as slow as
/// IPC round trips, over a range of access costs: every poll reaches the bus before it times
/// out (the key press and release arrive), and no periodic channel is enabled for a frame
/// that has already begun (no violation, checked by `with_scripted_keyboard`).
#[test]
fn one_ms_interrupt_polls_over_slow_registers_reach_the_bus_with_the_right_frame_parity() {
    let press_a = [0, 0, 0x04, 0, 0, 0, 0, 0];
    for latency_us in [30, 40, 50, 60, 70] {
        with_scripted_keyboard(&[press_a, [0; 8]], latency_us, |model, host| {
            let pipe = keyboard_interrupt_pipe(host);
            let naks_before = model.borrow().stats().naks;
            let mut reports = Vec::new();
            for _ in 0..50 {
                let mut buf = [0u8; 8];
                match host.transfer_in(pipe, &mut buf, 1) {
                    Ok(n) => reports.push(buf[..n].to_vec()),
                    Err(e) => assert_eq!(e, XferError::Timeout, "at {latency_us} us per access"),
                }
                host.idle_ms(10);
            }
            assert_eq!(
                reports,
                [press_a.to_vec(), vec![0; 8]],
                "reports at {latency_us} us per access"
            );
            assert!(
                model.borrow().stats().naks - naks_before >= 40,
                "at {latency_us} us per access, the polls without a report did not reach the bus"
            );
        });
    }
}

/// A plug, then an unplug, are each announced once (what `usb-hcd` posts the core for), and
/// nothing is announced again until the core has taken the events.
#[test]
fn root_port_events_are_announced_once_until_taken() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let model = RefCell::new(Dwc2Model::new());
    let mut host = SimHost::new(&model);
    // A fresh controller is news to its client, which takes it.
    assert!(host.hcd().port_events_to_announce());
    assert!(host.root_port().connect_changed);
    host.idle_ms(10);
    assert!(
        !host.hcd().port_events_to_announce(),
        "an empty port announced an event"
    );
    model.borrow_mut().attach(&mut kbd);
    host.idle_ms(10);
    assert!(
        host.hcd().port_events_to_announce(),
        "the plug is not announced"
    );
    host.idle_ms(10);
    assert!(
        !host.hcd().port_events_to_announce(),
        "the same plug is announced twice"
    );
    assert!(host.root_port().connect_changed);
    assert!(
        !host.hcd().port_events_to_announce(),
        "events already taken are announced"
    );
    assert_eq!(host.reset_root_port(), Ok(Speed::Low));
    host.root_port();
    model.borrow_mut().detach();
    host.idle_ms(10);
    assert!(
        host.hcd().port_events_to_announce(),
        "the unplug is not announced"
    );
    assert_eq!(model.borrow().violations().collect::<Vec<_>>(), []);
}

/// A restarted controller driver initialises the controller again while the device stays on
/// the port, so no connect interrupt comes; the init itself must be a connect change, or the
/// core keeps a device (and bindings) that the new controller incarnation never enumerated.
#[test]
fn a_reinitialised_controller_reports_a_connect_change_for_a_device_that_never_left() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut kbd);
    let mut host = SimHost::new(&model);
    host.idle_ms(10);
    host.root_port();
    assert_eq!(host.reset_root_port(), Ok(Speed::Low));
    host.idle_ms(10);
    assert!(!host.root_port().connect_changed, "nothing happened since");
    host.hcd().init().expect("init again");
    assert!(
        host.hcd().port_events_to_announce(),
        "the re-init is not announced"
    );
    let port = host.root_port();
    assert!(port.connected && port.connect_changed, "{port:?}");
}

#[test]
fn over_current_is_reported_once_and_power_off_ends_the_transfer_in_flight() {
    with_keyboard(|model, host| {
        host.delay_ms(100);
        assert_eq!(host.reset_root_port(), Ok(Speed::Low));
        assert!(!host.hcd().take_over_current());

        model.borrow_mut().set_over_current(true);
        host.idle_ms(1);
        assert!(host.hcd().take_over_current(), "over-current not seen");
        assert!(!host.hcd().take_over_current(), "reported twice");
        assert!(!host.root_port().connected, "the device still has power");

        // Power off: the flag falls, which is no new over-current.
        host.hcd().port_power(false);
        host.idle_ms(1);
        assert!(
            !host.hcd().take_over_current(),
            "the flag's fall was an over-current"
        );
        // Power on with the load still there: reported again.
        host.hcd().port_power(true);
        host.idle_ms(1);
        assert!(host.hcd().take_over_current());
        host.hcd().port_power(false);
        model.borrow_mut().set_over_current(false);
        host.hcd().port_power(true);
        host.delay_ms(100);
        assert!(host.root_port().connected, "the device did not come back");
        assert!(!host.hcd().take_over_current());
        assert_eq!(host.reset_root_port(), Ok(Speed::Low));

        // A transfer submitted and not yet ended ends when the port loses power.
        let pipe = host.hcd().open_pipe(ep0_spec(Speed::Low)).unwrap();
        let setup = SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18);
        host.hcd()
            .submit(pipe, dwc2_hcd_core::Request::Control { setup }, 1000)
            .unwrap();
        assert_eq!(host.hcd().take_completion(pipe), None);
        host.hcd().port_power(false);
        assert_eq!(
            host.hcd().take_completion(pipe),
            Some(Err(XferError::Disconnected))
        );
    });
}
