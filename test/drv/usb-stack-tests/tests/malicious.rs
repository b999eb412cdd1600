//! Malicious and broken devices (doc/usb-host.md 4.7): each must end in a clean, typed error or
//! in quarantine – never a panic, an out-of-bounds access or a driver that misprograms the
//! controller (the model's violation list stays empty, checked by `on_root_port`).

mod common;

use common::*;
use proptest::prelude::*;
use usb_class_msc::{MassStorage, MscError};
use usb_core_logic::{
    BindingEvent, CoreError, DriverKind, EnumError, EnumStep, FaultOutcome, UnbindReason,
};
use usb_host_api::{PortError, XferError};
use usb_model::faulty::{Chameleon, Fault, Faulty};
use usb_model::flash::{self, FlashFaults};
use usb_model::hid;
use usb_proto::descriptor::{DescriptorError, ty};
use usb_proto::walk::WalkError;

/// Enumerates a flash drive wrapped in `fault` and returns the outcome.
fn enumerate_faulty_flash(fault: Fault) -> Result<(), EnumError> {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut faulty = Faulty::new(&mut drive, fault);
    on_root_port(&mut faulty, |_, host, core| {
        let result = core.poll_root(host).expect("a device is connected");
        if result.is_err() {
            assert_eq!(core.devices().count(), 0, "a failed device keeps no slot");
            assert_eq!(core.bindings().count(), 0);
            assert_eq!(
                core.poll_root(host),
                None,
                "no retry until the device is re-plugged"
            );
        }
        result.map(|_| ())
    })
}

/// Brings up the mass-storage driver on a flash drive wrapped in `fault`.
fn bring_up_faulty_flash(fault: Fault) -> Result<(), MscError> {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut faulty = Faulty::new(&mut drive, fault);
    on_root_port(&mut faulty, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::MassStorage);
        let bound = bound(core, b);
        let mut msc = MassStorage::attach(&bound.config(), 0).unwrap();
        msc.bring_up(&mut core.port(host, b).unwrap())
    })
}

fn patch(descriptor: u8, offset: usize, value: u8) -> Fault {
    Fault::PatchDescriptor {
        descriptor,
        offset,
        value,
    }
}

fn walk_error(e: WalkError) -> Result<(), EnumError> {
    Err(EnumError::Configuration(e))
}

fn failed_at(step: EnumStep, error: XferError) -> Result<(), EnumError> {
    Err(EnumError::Transfer { step, error })
}

#[test]
fn device_descriptor_with_lying_length_is_rejected() {
    let r = enumerate_faulty_flash(patch(ty::DEVICE, 0, 17));
    assert_eq!(
        r,
        Err(EnumError::DeviceDescriptor(DescriptorError::BadLength))
    );
}

#[test]
fn zero_max_packet_size0_is_rejected_before_it_sizes_anything() {
    let r = enumerate_faulty_flash(patch(ty::DEVICE, 7, 0));
    assert_eq!(
        r,
        Err(EnumError::DeviceDescriptor(
            DescriptorError::BadMaxPacketSize0
        ))
    );
}

#[test]
fn zero_length_descriptor_in_the_configuration_is_rejected() {
    assert_eq!(
        enumerate_faulty_flash(patch(ty::CONFIGURATION, 9, 0)),
        walk_error(WalkError::ZeroLength { offset: 9 })
    );
}

#[test]
fn descriptor_running_past_total_length_is_rejected() {
    assert_eq!(
        enumerate_faulty_flash(patch(ty::CONFIGURATION, 25, 200)),
        walk_error(WalkError::Overrun { offset: 25 })
    );
}

#[test]
fn total_length_that_grows_between_reads_is_rejected() {
    let r = enumerate_faulty_flash(Fault::GrowingTotalLength { delta: 16 });
    assert_eq!(
        r,
        walk_error(WalkError::TotalLengthChanged {
            first: 32,
            second: 48
        })
    );
}

#[test]
fn huge_total_length_is_refused_before_the_full_read() {
    assert_eq!(
        enumerate_faulty_flash(patch(ty::CONFIGURATION, 3, 0xFF)),
        Err(EnumError::ConfigurationTooLarge(0xFF20))
    );
}

#[test]
fn interface_claiming_too_many_endpoints_is_rejected() {
    let r = enumerate_faulty_flash(patch(ty::CONFIGURATION, 13, 9));
    assert_eq!(r, walk_error(WalkError::TooManyEndpoints { interface: 0 }));
}

#[test]
fn endless_nak_on_ep0_times_out() {
    assert_eq!(
        enumerate_faulty_flash(Fault::EndlessNak { ep: 0 }),
        failed_at(EnumStep::DevicePrefix, XferError::Timeout)
    );
}

#[test]
fn stall_storm_fails_the_first_request() {
    assert_eq!(
        enumerate_faulty_flash(Fault::StallStorm),
        failed_at(EnumStep::DevicePrefix, XferError::Stall)
    );
}

#[test]
fn babble_on_ep0_fails_with_babble() {
    let r = enumerate_faulty_flash(Fault::Babble { ep: 0, len: 100 });
    assert_eq!(r, failed_at(EnumStep::DevicePrefix, XferError::Babble));
}

#[test]
fn bulk_babble_fails_the_command() {
    let r = bring_up_faulty_flash(Fault::Babble { ep: 1, len: 200 });
    assert_eq!(r, Err(MscError::Port(PortError::Xfer(XferError::Babble))));
}

#[test]
fn endless_nak_on_bulk_in_times_out() {
    let r = bring_up_faulty_flash(Fault::EndlessNak { ep: 1 });
    assert_eq!(r, Err(MscError::Port(PortError::Xfer(XferError::Timeout))));
}

#[test]
fn disconnect_during_enumeration_leaks_no_address() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |model, host, core| {
        model.borrow_mut().unplug_after_transactions(6);
        let result = core.poll_root(host).unwrap();
        assert!(
            matches!(
                result,
                Err(EnumError::Transfer {
                    error: XferError::Disconnected,
                    ..
                })
            ),
            "{result:?}"
        );
        assert_eq!(core.poll_root(host), None);
        assert!(model.borrow_mut().replug());
        let id = enumerate_root(core, host);
        assert_eq!(
            core.device(id).unwrap().address,
            1,
            "the failed attempt's address was released"
        );
    });
}

#[test]
fn driver_that_keeps_crashing_gets_its_device_quarantined_until_replug() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |model, host, core| {
        let device = enumerate_root(core, host);
        let first = binding(core, DriverKind::MassStorage);
        let Ok(FaultOutcome::Rebound(second)) = core.report_driver_fault(host, first) else {
            panic!("rebind expected")
        };
        assert_ne!(first, second);
        assert_eq!(core.port(host, first).err(), Some(CoreError::Stale));
        let Ok(FaultOutcome::Rebound(third)) = core.report_driver_fault(host, second) else {
            panic!("rebind expected")
        };
        // The rebound driver resynchronises: its first command runs reset recovery.
        let bound = bound(core, third);
        let mut msc = MassStorage::attach(&bound.config(), 0).unwrap();
        msc.bring_up(&mut core.port(host, third).unwrap()).unwrap();
        assert_eq!(
            core.report_driver_fault(host, third),
            Ok(FaultOutcome::Quarantined)
        );
        assert!(core.device(device).unwrap().quarantined);
        assert_eq!(core.bindings().count(), 0);
        let events: Vec<_> = std::iter::from_fn(|| core.take_event()).collect();
        assert!(matches!(
            events.last(),
            Some(BindingEvent::Unbound {
                reason: UnbindReason::Quarantined,
                ..
            })
        ));
        assert_eq!(
            core.poll_root(host),
            None,
            "a quarantined device is not re-enumerated while attached"
        );

        let dev = model.borrow_mut().detach().unwrap();
        assert_eq!(core.poll_root(host), None);
        model.borrow_mut().attach(dev);
        let again = enumerate_root(core, host);
        assert!(!core.device(again).unwrap().quarantined);
        assert_eq!(
            core.device(again).unwrap().address,
            1,
            "the quarantined device's address was released"
        );
        binding(core, DriverKind::MassStorage);
    });
}

#[test]
fn device_that_reenumerates_with_new_descriptors_is_a_new_device() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut chameleon = Chameleon::new(&mut kbd, &mut drive);
    on_root_port(&mut chameleon, |model, host, core| {
        let first = enumerate_root(core, host);
        let hid_binding = binding(core, DriverKind::Hid);
        assert_eq!(core.device(first).unwrap().product_id, 0x0001);
        let dev = model.borrow_mut().detach().unwrap();
        model.borrow_mut().attach(dev);
        let second = enumerate_root(core, host);
        assert_ne!(first, second);
        assert_eq!(core.device(first), Err(CoreError::Stale));
        assert_eq!(core.port(host, hid_binding).err(), Some(CoreError::Stale));
        assert_eq!(core.device(second).unwrap().product_id, 0x0004);
        binding(core, DriverKind::MassStorage);
    });
}

#[test]
fn only_hub_bindings_may_take_address_zero() {
    let script = [[0u8; 8]; 0];
    let mut kbd = hid::keyboard(&script);
    on_root_port(&mut kbd, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, DriverKind::Hid);
        assert_eq!(core.acquire_addr0(b, 1), Err(CoreError::NotAHub));
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random single-byte lies anywhere in the device or configuration descriptor: the stack
    /// either enumerates or fails with a typed error, and never misprograms the controller.
    #[test]
    fn random_descriptor_lies_end_cleanly(descriptor in prop_oneof![Just(ty::DEVICE), Just(ty::CONFIGURATION)], offset in 0usize..32, value in any::<u8>()) {
        let _ = enumerate_faulty_flash(patch(descriptor, offset, value));
    }
}
