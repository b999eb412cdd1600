//! A class driver's task says hello at every start (doc/usb-host.md 6.4): the core tells a
//! retried hello from a new incarnation, replaces the dead incarnation's bindings with
//! `resync` ones, blames the right device and quarantines it at the strike limit; each
//! driver pulls only its own binding events.

mod common;

use common::*;
use usb_class_cdc::CdcAcm;
use usb_core_logic::{
    BindingEvent, BindingId, CoreError, DriverKind, Hello, Incarnation, STRIKE_LIMIT, UnbindReason,
    UsbCore,
};
use usb_model::flash::{self, FlashFaults};
use usb_model::{SimDevice, hid, hub, serial};
use usb_proto::cdc::{DTR, RTS};
use usb_stack_tests::SimHost;

const MSC: DriverKind = DriverKind::MassStorage;

/// Incarnation `n` of a driver whose every earlier incarnation died by a fault.
fn after_faults(n: u32) -> Incarnation {
    Incarnation {
        restarts: n,
        faults: n,
    }
}

fn msc_events(core: &mut UsbCore) -> Vec<BindingEvent> {
    std::iter::from_fn(|| core.take_event_for(MSC)).collect()
}

fn msc_bindings(core: &UsbCore) -> Vec<BindingId> {
    core.bindings()
        .filter(|(_, d)| *d == MSC)
        .map(|(b, _)| b)
        .collect()
}

#[test]
fn first_and_repeated_hello_change_nothing() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |_, host, core| {
        enumerate_root(core, host);
        let b = binding(core, MSC);
        assert_eq!(core.driver_hello(host, MSC, after_faults(7)), Hello::First);
        assert_eq!(
            core.driver_hello(host, MSC, after_faults(7)),
            Hello::Repeated
        );
        assert!(core.port(host, b).is_ok(), "the binding survives both");
        assert_eq!(
            msc_events(core),
            [BindingEvent::Bound {
                binding: b,
                driver: MSC,
                resync: false
            }],
            "the first incarnation still learns of the binding made before its hello"
        );
    });
}

#[test]
fn hello_from_a_new_incarnation_rebinds_with_resync_and_the_driver_works_again() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |_, host, core| {
        core.driver_hello(host, MSC, after_faults(1));
        let (old, mut msc) = ready_msc(host, core);
        let device = core.binding_device(old).unwrap();
        core.binding_ready(old).unwrap();
        let data = pattern(4 * 512, 3);
        msc.write(&mut core.port(host, old).unwrap(), 2, &data)
            .unwrap();
        let old_pipes = core.binding_pipes(old).unwrap();

        assert_eq!(
            core.driver_hello(host, MSC, after_faults(2)),
            Hello::Restarted {
                rebound: 1,
                quarantined: 0,
                faulted: true
            }
        );
        assert_eq!(core.port(host, old).err(), Some(CoreError::Stale));
        let new = binding(core, MSC);
        assert_eq!(
            core.binding_device(new),
            Ok(device),
            "same device, no re-enumeration"
        );
        assert_eq!(core.binding_driver(new), Ok(MSC));
        assert_eq!(core.driver_incarnation(MSC), Some(2));
        assert_eq!(core.binding_pipes(old).err(), Some(CoreError::Stale));
        let new_pipes = core.binding_pipes(new).unwrap();
        let pairs = old_pipes.iter().flatten().zip(new_pipes.iter().flatten());
        assert_eq!(pairs.clone().count(), 2, "bulk IN and OUT: {new_pipes:?}");
        for ((ep, old_pipe), (new_ep, new_pipe)) in pairs {
            assert_eq!(ep, new_ep);
            assert_ne!(old_pipe, new_pipe, "{ep:?} gets a fresh pipe");
        }
        assert_eq!(
            msc_events(core),
            [
                BindingEvent::Unbound {
                    binding: old,
                    driver: MSC,
                    reason: UnbindReason::DriverRestarted
                },
                BindingEvent::Bound {
                    binding: new,
                    driver: MSC,
                    resync: true
                }
            ],
            "the old incarnation's unread Bound event is dropped"
        );
        let bound = bound(core, new);
        let mut msc = usb_class_msc::MassStorage::attach(&bound.config(), 0).unwrap();
        let mut port = core.port(host, new).unwrap();
        msc.bring_up(&mut port).unwrap();
        let mut back = vec![0u8; data.len()];
        msc.read(&mut port, 2, &mut back).unwrap();
        assert!(back == data, "data written before the restart reads back");
    });
}

#[test]
fn a_restarted_cdc_driver_resyncs_the_bulk_toggles_and_keeps_dtr_up() {
    const CDC: DriverKind = DriverKind::CdcAcm;
    let mut adapter = serial::serial();
    on_root_port(&mut adapter, |_, host, core| {
        core.driver_hello(host, CDC, after_faults(1));
        let (old, cdc) = ready_cdc(host, core);
        cdc.bring_up(&mut core.port(host, old).unwrap()).unwrap();
        core.binding_ready(old).unwrap();
        // One packet each way: the device's bulk toggles are now DATA1, where the next
        // incarnation's fresh pipes start at DATA0.
        let data = pattern(30, 4);
        assert_eq!(echo(&cdc, &mut core.port(host, old).unwrap(), &data), data);

        core.driver_hello(host, CDC, after_faults(2));
        let new = binding(core, CDC);
        assert_ne!(new, old);
        let bound = bound(core, new);
        let cdc = CdcAcm::attach(&bound.config(), bound.interface()).unwrap();
        let mut port = core.port(host, new).unwrap();
        cdc.bring_up(&mut port).unwrap();
        let data = pattern(30, 5);
        assert_eq!(
            echo(&cdc, &mut port, &data),
            data,
            "the restarted driver's first bytes loop back"
        );
    });
    assert_eq!(
        adapter.function.lines,
        DTR | RTS,
        "DTR and RTS stay up across the restart"
    );
}

#[test]
fn driver_dying_on_every_bind_gets_the_device_quarantined_at_the_strike_limit() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |_, host, core| {
        let device = enumerate_root(core, host);
        core.driver_hello(host, MSC, after_faults(0));
        for incarnation in 1..STRIKE_LIMIT {
            assert_eq!(
                core.driver_hello(host, MSC, after_faults(u32::from(incarnation))),
                Hello::Restarted {
                    rebound: 1,
                    quarantined: 0,
                    faulted: true
                },
                "restart {incarnation} is below the limit"
            );
        }
        assert_eq!(
            core.driver_hello(host, MSC, after_faults(u32::from(STRIKE_LIMIT))),
            Hello::Restarted {
                rebound: 0,
                quarantined: 1,
                faulted: true
            }
        );
        assert!(core.device(device).unwrap().quarantined);
        assert_eq!(msc_bindings(core), []);
    });
}

#[test]
fn restarts_on_request_strike_nothing_and_only_faults_count_toward_quarantine() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |_, host, core| {
        let device = enumerate_root(core, host);
        let mut now = Incarnation {
            restarts: 0,
            faults: 0,
        };
        core.driver_hello(host, MSC, now);
        let mut hello = |core: &mut UsbCore, faulted: bool| {
            now.restarts += 1;
            now.faults += u32::from(faulted);
            // Each incarnation brings its binding up before it dies: as under load.
            core.binding_ready(binding(core, MSC)).unwrap();
            core.driver_hello(host, MSC, now)
        };
        for restart in 0..200 {
            assert_eq!(
                hello(core, false),
                Hello::Restarted {
                    rebound: 1,
                    quarantined: 0,
                    faulted: false
                },
                "requested restart {restart}"
            );
        }
        assert!(!core.device(device).unwrap().quarantined);
        // Faults among requested restarts: the strikes are the faults', and add up.
        for fault in 1..STRIKE_LIMIT {
            assert!(matches!(
                hello(core, true),
                Hello::Restarted { rebound: 1, .. }
            ));
            assert!(matches!(
                hello(core, false),
                Hello::Restarted { rebound: 1, .. }
            ));
            assert!(
                !core.device(device).unwrap().quarantined,
                "{fault} faults are below the limit"
            );
        }
        // Several incarnations died between two hellos, one of them by a fault: a strike.
        now.restarts += 2;
        now.faults += 1;
        core.binding_ready(binding(core, MSC)).unwrap();
        assert_eq!(
            core.driver_hello(host, MSC, now),
            Hello::Restarted {
                rebound: 0,
                quarantined: 1,
                faulted: true
            }
        );
        assert!(core.device(device).unwrap().quarantined);
    });
}

#[test]
fn a_death_during_bring_up_is_blamed_on_that_device_alone() {
    let mut good_disk = vec![0u8; 16 * 1024];
    let mut bad_disk = vec![0u8; 16 * 1024];
    let mut good = flash::flash_drive(&mut good_disk, FlashFaults::default());
    let mut bad = flash::flash_drive(&mut bad_disk, FlashFaults::default());
    let mut hub = hub::hub([
        Some(&mut good as &mut dyn SimDevice),
        Some(&mut bad),
        None,
        None,
    ]);
    on_root_port(&mut hub, |_, host, core| {
        let (_, _, children) = enumerate_hub_tree(core, host);
        let [(_, good_device), (_, bad_device)] = children[..] else {
            panic!("two drives expected, got {children:?}")
        };
        core.driver_hello(host, MSC, after_faults(0));
        for incarnation in 1..=u32::from(STRIKE_LIMIT) {
            // The driver brings the good drive up each time, then dies on the bad one.
            let good_binding = msc_bindings(core)
                .into_iter()
                .find(|b| core.binding_device(*b) == Ok(good_device))
                .expect("the good drive stays bound");
            core.binding_ready(good_binding).unwrap();
            core.driver_hello(host, MSC, after_faults(incarnation));
        }
        assert!(core.device(bad_device).unwrap().quarantined);
        assert!(!core.device(good_device).unwrap().quarantined);
        let left = msc_bindings(core);
        assert_eq!(left.len(), 1);
        assert_eq!(core.binding_device(left[0]), Ok(good_device));
    });
}

#[test]
fn each_driver_pulls_only_its_own_events() {
    let script = [[0u8; 8]];
    let mut kbd = hid::keyboard(&script);
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut hub = hub::hub([
        Some(&mut kbd as &mut dyn SimDevice),
        Some(&mut drive),
        None,
        None,
    ]);
    on_root_port(&mut hub, |_, host, core| {
        enumerate_hub_tree(core, host);
        let hid = binding(core, DriverKind::Hid);
        let msc = binding(core, MSC);
        assert!(core.has_events_for(MSC) && core.has_events_for(DriverKind::Hid));
        assert!(!core.has_events_for(DriverKind::CdcAcm));
        assert_eq!(
            msc_events(core),
            [BindingEvent::Bound {
                binding: msc,
                driver: MSC,
                resync: false
            }]
        );
        assert_eq!(
            core.take_event_for(DriverKind::Hid),
            Some(BindingEvent::Bound {
                binding: hid,
                driver: DriverKind::Hid,
                resync: false
            }),
            "the keyboard's event was queued before the drive's and is still there"
        );
        assert_eq!(core.take_event_for(DriverKind::Hid), None);
        assert!(!core.has_events_for(DriverKind::Hid) && !core.has_events_for(MSC));
    });
}

/// Every restarted core (a new `usb-core` incarnation) enumerates the same drive again and
/// hands out the same slots and reuse counts as the first did: only the epoch tells them
/// apart. Across 300 incarnations (past the 8 that three bits of a generation could name,
/// and the 256 of a byte), the first incarnation's ids stay stale, and each incarnation's
/// own ids work.
#[test]
fn ids_from_a_previous_core_incarnation_are_stale_in_every_later_one() {
    let mut disk = vec![0u8; 16 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    on_root_port(&mut drive, |model, host, core| {
        let first_device = enumerate_root(core, host);
        let first_binding = binding(core, MSC);
        let mut previous = (first_device, first_binding);
        for restarts in 1..=300u32 {
            // A controller initialised afresh each time, so the old incarnations' pipes do
            // not use up the controller's.
            let host = &mut SimHost::new(model);
            let mut next = UsbCore::for_incarnation(restarts);
            let device = enumerate_root(&mut next, host);
            let bound = binding(&next, MSC);
            assert_eq!(
                (device.slot, device.generation),
                (first_device.slot, first_device.generation),
                "incarnation {restarts} reuses the first one's slot and reuse count"
            );
            for (old_device, old_binding) in [(first_device, first_binding), previous] {
                assert_eq!(
                    next.device(old_device).err(),
                    Some(CoreError::Stale),
                    "incarnation {restarts} takes {old_device:?} for {device:?}"
                );
                assert!(
                    next.port(host, old_binding).is_err(),
                    "incarnation {restarts} serves {old_binding:?} as {bound:?}"
                );
            }
            assert!(next.device(device).is_ok());
            assert!(next.port(host, bound).is_ok());
            previous = (device, bound);
        }
    });
}
