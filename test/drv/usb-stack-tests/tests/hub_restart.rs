//! A restart of the hub driver (doc/usb-host.md 6.4): the devices behind the hub keep their
//! addresses and bindings, and a device unplugged while no hub driver ran is noticed when
//! the new one reconciles the hub's ports with the core's tree.

mod common;

use common::*;
use usb_class_hub::{HubDriver, PortCheck};
use usb_core_logic::{CoreError, DriverKind, Incarnation, UsbCore};
use usb_model::flash::{self, FlashFaults};
use usb_model::{SimDevice, hid, hub};
use usb_stack_tests::SimHost;

const KEYS: [[u8; 8]; 1] = [[0; 8]];

fn incarnation(restarts: u32) -> Incarnation {
    Incarnation {
        restarts,
        faults: 0,
    }
}

/// The hub driver's new incarnation: hello to the core, then attach to the `resync`
/// binding the core gave it.
fn restart_hub_driver(
    core: &mut UsbCore,
    host: &mut SimHost<'_, '_>,
    restarts: u32,
) -> (usb_core_logic::BindingId, HubDriver) {
    core.driver_hello(host, DriverKind::Hub, incarnation(restarts));
    let hub_binding = binding(core, DriverKind::Hub);
    let hub_bound = bound(core, hub_binding);
    let driver = HubDriver::attach(
        &mut core.port(host, hub_binding).unwrap(),
        &hub_bound.config(),
        0,
    )
    .unwrap();
    (hub_binding, driver)
}

#[test]
fn hub_driver_restart_keeps_children_and_notices_an_unplug_made_while_it_was_down() {
    let mut kbd = hid::keyboard(&KEYS);
    let mut disk = vec![0u8; 64 * 1024];
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let mut hub = hub::hub([
        Some(&mut kbd as &mut dyn SimDevice),
        None,
        Some(&mut drive),
        None,
    ]);
    on_root_port(&mut hub, |model, host, core| {
        core.driver_hello(host, DriverKind::Hub, incarnation(0));
        let (first_hub, _, children) = enumerate_hub_tree(core, host);
        assert_eq!(children.iter().map(|c| c.0).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(core.hub_ports(first_hub), Ok(0b1010));
        let addresses: Vec<u8> = children
            .iter()
            .map(|(_, id)| core.device(*id).unwrap().address)
            .collect();
        let kb = binding(core, DriverKind::Hid);
        let mb = binding(core, DriverKind::MassStorage);
        let resets = model.borrow().stats().bus_resets;

        // Restart: the new driver finds the ports powered and their devices where they were.
        let (hub_binding, mut driver) = restart_hub_driver(core, host, 1);
        assert_ne!(hub_binding, first_hub, "the hub binding is a resync one");
        for p in 1..=driver.ports {
            let check = driver
                .check_port(&mut core.port(host, hub_binding).unwrap(), p)
                .unwrap();
            assert_eq!(
                check,
                PortCheck {
                    connected: p == 1 || p == 3,
                    connection_changed: false,
                    over_current: false,
                },
                "port {p} after the hub driver's restart"
            );
        }
        assert_eq!(core.hub_ports(hub_binding), Ok(0b1010));
        for ((_, id), address) in children.iter().zip(&addresses) {
            assert_eq!(core.device(*id).map(|d| d.address), Ok(*address));
        }
        assert!(core.port(host, kb).is_ok() && core.port(host, mb).is_ok());
        assert_eq!(
            model.borrow().stats().bus_resets,
            resets,
            "no device was reset"
        );

        // The keyboard leaves while no hub driver runs; the next one finds out.
        assert!(
            model
                .borrow_mut()
                .root_device()
                .unwrap()
                .set_port_connected(1, false)
        );
        let (hub_binding, mut driver) = restart_hub_driver(core, host, 2);
        let check = driver
            .check_port(&mut core.port(host, hub_binding).unwrap(), 1)
            .unwrap();
        assert!(!check.connected && check.connection_changed, "{check:?}");
        core.hub_port_detached(host, hub_binding, 1).unwrap();
        assert_eq!(core.port(host, kb).err(), Some(CoreError::Stale));
        assert_eq!(core.hub_ports(hub_binding), Ok(0b1000));
        assert!(core.port(host, mb).is_ok(), "the drive stays bound");
    });
}
