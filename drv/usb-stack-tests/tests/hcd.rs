//! The controller driver against the model, below the USB core: register-level behaviour,
//! transfers, error handling.

use std::cell::RefCell;
use usb_host_api::{EpAddr, EpType, HostController, PipeSpec, SetupPacket, Speed, XferError};
use usb_model::{Dwc2Model, hid};
use usb_proto::descriptor::ty;
use usb_stack_tests::SimHost;

fn ep0_spec(speed: Speed) -> PipeSpec {
    PipeSpec {
        address: 0,
        endpoint: EpAddr(0),
        ty: EpType::Control,
        max_packet: 8,
        interval: 0,
        speed,
    }
}

/// A keyboard on the root port (its script empty: its interrupt endpoint NAKs).
fn with_keyboard(test: impl FnOnce(&RefCell<Dwc2Model<'_>>, &mut SimHost<'_, '_>)) {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut kbd);
    let mut host = SimHost::new(&model);
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
