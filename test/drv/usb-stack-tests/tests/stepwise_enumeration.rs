//! Enumeration driven step by step ([`EnumNext`]), as the `usb-core` task drives it: the
//! core answers other calls between the transfers of a device, holds address 0 while it
//! enumerates, and leaves nothing behind when an enumeration ends early.

mod common;

use common::*;
use usb_core_logic::{CoreError, DeviceId, EnumError, EnumNext, EnumStep, UsbCore};
use usb_host_api::{HostController, SetupPacket, XferError};
use usb_model::flash::{self, FlashFaults};
use usb_model::hid;
use usb_stack_tests::SimHost;

const KEYS: &[[u8; 8]] = &[[0, 0, 0x04, 0, 0, 0, 0, 0]];

/// Debounces, takes address 0 and resets the root port: what the task does before the
/// first transfer.
fn begin_root(core: &mut UsbCore, host: &mut SimHost<'_, '_>) -> EnumNext {
    assert!(core.root_wants_enumeration(host));
    host.idle_ms(100);
    let token = core.acquire_root_addr0().unwrap();
    let speed = host.reset_root_port().unwrap();
    core.begin_enumeration(host, token, speed)
}

/// Runs one step of `next` through the controller and returns the step after it, with
/// the request that was run.
fn step(
    core: &mut UsbCore,
    host: &mut SimHost<'_, '_>,
    next: EnumNext,
) -> (Option<SetupPacket>, EnumNext) {
    match next {
        EnumNext::Control {
            pipe,
            setup,
            timeout_ms,
        } => {
            let mut buf = [0u8; 256];
            let len = usize::from(setup.length);
            let result = host.control(pipe, &setup, &mut buf[..len], timeout_ms);
            let next = core.enumeration_transferred(host, result.map(|n| &buf[..n]));
            (Some(setup), next)
        }
        EnumNext::Wait { ms } => {
            host.idle_ms(ms);
            (None, core.enumeration_waited(host))
        }
        done => (None, done),
    }
}

#[test]
fn the_steps_are_the_standard_requests_in_order_and_other_calls_run_between_them() {
    let mut keyboard = hid::keyboard(KEYS);
    on_root_port(&mut keyboard, |_, host, core| {
        let mut next = begin_root(core, host);
        let mut requests = Vec::new();
        let mut waits = 0;
        let id = loop {
            // Between transfers the core is an ordinary server: the device is not in its
            // table yet, the root port asks for nothing, and address 0 is taken.
            assert_eq!(core.devices().count(), 0);
            assert!(core.enumerating());
            assert!(!core.root_wants_enumeration(host));
            assert_eq!(core.acquire_root_addr0(), Err(CoreError::AddressZeroBusy));
            if matches!(next, EnumNext::Wait { ms: 2 }) {
                waits += 1;
            }
            let (request, after) = step(core, host, next);
            requests.extend(request.map(|s| (s.request, s.value >> 8, s.length)));
            match after {
                EnumNext::Done(result) => break result.unwrap(),
                other => next = other,
            }
        };
        // GET_DESCRIPTOR (6) device (1) 8 and 18 bytes, SET_ADDRESS (5), configuration (2)
        // 9 bytes then wTotalLength, SET_CONFIGURATION (9).
        let total = requests[4].2;
        assert_eq!(
            requests,
            [
                (6, 1, 8),
                (5, 0, 0),
                (6, 1, 18),
                (6, 2, 9),
                (6, 2, total),
                (9, 0, 0)
            ]
        );
        assert_eq!(waits, 1, "one set-address recovery");
        assert!(!core.enumerating());
        assert_eq!(core.devices().collect::<Vec<_>>(), [id]);
        assert_eq!(core.device(id).unwrap().address, 1);
        assert!(core.acquire_root_addr0().is_ok(), "address 0 is free again");
    });
}

#[test]
fn a_failed_transfer_at_every_step_leaves_nothing_behind() {
    // Ends the enumeration with a timeout at step `fail_at`, then enumerates the same device
    // in full: it must get address 1 and the only slot, whatever the failed one took.
    for fail_at in 0..6 {
        let mut keyboard = hid::keyboard(KEYS);
        on_root_port(&mut keyboard, |model, host, core| {
            let mut next = begin_root(core, host);
            let mut transfers = 0;
            let error = loop {
                next = match next {
                    EnumNext::Control { .. } if transfers == fail_at => {
                        core.enumeration_transferred(host, Err(XferError::Timeout))
                    }
                    EnumNext::Done(result) => break result.unwrap_err(),
                    other => {
                        transfers += usize::from(matches!(other, EnumNext::Control { .. }));
                        step(core, host, other).1
                    }
                };
            };
            assert!(
                matches!(
                    error,
                    EnumError::Transfer {
                        error: XferError::Timeout,
                        ..
                    }
                ),
                "step {fail_at}: {error:?}"
            );
            assert!(!core.enumerating());
            assert_eq!(core.devices().count(), 0, "step {fail_at}");
            assert!(
                !core.root_wants_enumeration(host),
                "step {fail_at}: a failed device waits for its next connect change"
            );
            model.borrow_mut().detach();
            assert!(!core.root_wants_enumeration(host));
            model
                .borrow_mut()
                .attach(&mut *Box::leak(Box::new(hid::keyboard(KEYS))));
            let id = enumerate_root(core, host);
            assert_eq!(core.device(id).unwrap().address, 1, "step {fail_at}");
        });
    }
}

#[test]
fn the_first_failure_names_its_step() {
    let mut keyboard = hid::keyboard(KEYS);
    on_root_port(&mut keyboard, |_, host, core| {
        let next = begin_root(core, host);
        assert!(matches!(next, EnumNext::Control { .. }));
        let next = core.enumeration_transferred(host, Err(XferError::Stall));
        assert_eq!(
            next,
            EnumNext::Done(Err(EnumError::Transfer {
                step: EnumStep::DevicePrefix,
                error: XferError::Stall
            }))
        );
    });
}

#[test]
fn an_aborted_enumeration_frees_its_address_and_address_zero() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |_, host, core| {
        let next = begin_root(core, host);
        let (_, next) = step(core, host, next);
        let (_, next) = step(core, host, next);
        assert_eq!(next, EnumNext::Wait { ms: 2 }, "SET_ADDRESS done");
        assert_eq!(core.abort_enumeration(host), Some(EnumError::NotConnected));
        assert_eq!(core.abort_enumeration(host), None, "nothing left to abort");
        assert_eq!(
            core.enumeration_waited(host),
            EnumNext::Done(Err(EnumError::NotConnected)),
            "a late report of an aborted enumeration changes nothing"
        );
        assert!(core.acquire_root_addr0().is_ok());
    });
}

#[test]
fn a_replug_while_the_root_device_enumerates_is_enumerated_again() {
    let mut keyboard = hid::keyboard(KEYS);
    on_root_port(&mut keyboard, |model, host, core| {
        let next = begin_root(core, host);
        // The device goes and comes back before its first transfer is reported.
        let device = model.borrow_mut().detach().unwrap();
        assert!(!core.root_wants_enumeration(host));
        model.borrow_mut().attach(device);
        assert!(
            !core.root_wants_enumeration(host),
            "not while the old attempt is running"
        );
        let EnumNext::Control { .. } = next else {
            panic!("{next:?}")
        };
        let done = core.enumeration_transferred(host, Err(XferError::Disconnected));
        assert!(matches!(done, EnumNext::Done(Err(_))), "{done:?}");
        assert!(
            core.root_wants_enumeration(host),
            "the failure belongs to the device that left, not to the one now plugged"
        );
        let id: DeviceId = enumerate_root(core, host);
        assert_eq!(core.device(id).unwrap().address, 1);
    });
}

#[test]
fn a_child_whose_hub_left_during_its_enumeration_is_not_entered() {
    use usb_core_logic::DriverKind;
    use usb_model::{SimDevice, hub};
    let mut keyboard = hid::keyboard(KEYS);
    let mut hub = hub::hub([Some(&mut keyboard as &mut dyn SimDevice), None, None, None]);
    on_root_port(&mut hub, |model, host, core| {
        enumerate_root(core, host);
        let hub_binding = common::binding(core, DriverKind::Hub);
        let hub_bound = bound(core, hub_binding);
        let mut driver = usb_class_hub::HubDriver::attach(
            &mut core.port(host, hub_binding).unwrap(),
            &hub_bound.config(),
            0,
        )
        .unwrap();
        let port = loop {
            let event = driver
                .poll(&mut core.port(host, hub_binding).unwrap(), 50)
                .unwrap();
            if let Some(usb_class_hub::HubEvent::Connected(p)) = event {
                break p;
            }
        };
        let token = core.acquire_addr0(hub_binding, port).unwrap();
        let speed = driver
            .reset_port(&mut core.port(host, hub_binding).unwrap(), port)
            .unwrap();
        let mut next = core.begin_enumeration(host, token, speed);
        // Every step but SET_CONFIGURATION (request 9) runs on the bus.
        loop {
            match next {
                EnumNext::Control { setup, .. } if setup.request == 9 => break,
                EnumNext::Done(result) => panic!("ended early: {result:?}"),
                other => next = step(core, host, other).1,
            }
        }
        // The hub leaves before the last step is reported: its subtree goes, and the child
        // that was nearly configured must not enter the table under a hub that is gone.
        model.borrow_mut().detach();
        assert!(!core.root_wants_enumeration(host));
        assert_eq!(core.devices().count(), 0);
        assert_eq!(
            core.enumeration_transferred(host, Ok(&[])),
            EnumNext::Done(Err(EnumError::NotConnected))
        );
        assert_eq!(core.devices().count(), 0);
        assert!(core.acquire_root_addr0().is_ok());
    });
}

#[test]
fn a_device_that_leaves_during_the_root_reset_is_retried_when_one_comes_back() {
    let mut keyboard = hid::keyboard(KEYS);
    on_root_port(&mut keyboard, |model, host, core| {
        assert!(core.root_wants_enumeration(host));
        let token = core.acquire_root_addr0().unwrap();
        // The token is out (the task is resetting the port) when the device is swapped for
        // another: the reset fails for the one that left, and the port's only change event
        // is seen while the token is out.
        let device = model.borrow_mut().detach().unwrap();
        model.borrow_mut().attach(device);
        assert!(
            !core.root_wants_enumeration(host),
            "not while the token is out"
        );
        assert!(
            core.root_reset_failed(token, XferError::Disconnected)
                .is_err()
        );
        assert!(
            core.root_wants_enumeration(host),
            "the failed reset was the departed device's, not the new one's"
        );
        enumerate_root(core, host);
    });
}
