//! The hub half of the `usb-tests` suite: `usb-hub` as a task over `usb-core`, with the
//! simulator's hub on the root port (a keyboard in port 1, a serial adapter in port 2), and
//! its restart semantics (doc/usb-host.md 6.4): the devices behind the hub keep their
//! addresses and bindings across a restart of `usb-hub`, and a device unplugged while no hub
//! driver ran is noticed once one runs again.
//!
//! | behaviour | test |
//! |---|---|
//! | `usb-hub` faulted and restarted: the keyboard and the serial adapter behind the hub keep their DeviceIds and bindings, no bus reset or SET_ADDRESS, the adapter's old port handle still loops back | `usb_hub_restart_keeps_the_devices_behind_it` |
//! | the keyboard unplugged from its hub port while `usb-hub` is detached: still in the tree until `usb-hub` runs again, then gone; the adapter untouched; plugged back, enumerated again | `hub_port_unplugged_while_usb_hub_is_down_is_noticed_after_it_returns` |

use super::class::{cdc, core, device, loop_back, not_enumerated_again, plug, within};
use super::*;
use idol_runtime::zerocopy::FromZeros;
use usb_cdc_api::PortInfo;
use usb_core_api::{DeviceRecord, Driver, InterfaceRecord};
use usb_test_api::pattern;
use userlib::{sleep_for, sys_refresh_incarnation};

const SERIAL_VID_PID: (u16, u16) = (0x1209, 0x0003);
const HUB_VID_PID: (u16, u16) = (0x1209, 0x0005);
/// After the new `usb-hub` said hello: its bring-up and reconcile of four ports, a few
/// control requests each.
const SETTLE_MS: u64 = 300;
/// How long the keyboard stays unplugged with no hub driver running.
const DOWN_MS: u64 = 300;

pub const TESTS: &[Test] = &[
    (
        "usb_hub_restart_keeps_the_devices_behind_it",
        usb_hub_restart_keeps_the_devices_behind_it,
    ),
    (
        "hub_port_unplugged_while_usb_hub_is_down_is_noticed_after_it_returns",
        hub_port_unplugged_while_usb_hub_is_down_is_noticed_after_it_returns,
    ),
];

/// Plugs the hub and waits until both devices behind it are enumerated and the serial
/// adapter is served.
fn hub_with_children() -> Result<PortInfo, &'static str> {
    plug(devices::HUB)?;
    within(|| {
        device(KEYBOARD_VID_PID).ok()?;
        cdc().open(0).ok()
    })
    .ok_or("usb-hub never had the devices behind the hub enumerated and served")
}

/// The incarnation of `usb-hub` that serves the hub, as the core knows it.
fn hub_driver_incarnation() -> Option<u32> {
    let hub = device(HUB_VID_PID).ok()?;
    let mut plan = [InterfaceRecord::new_zeroed(); 8];
    let n = core().interface_plan(hub.handle, &mut plan).ok()?;
    plan[..usize::from(n)]
        .iter()
        .find(|i| i.driver == Driver::Hub as u8 && i.driver_seen == 1)
        .map(|i| i.driver_incarnation)
}

/// Waits until usb-hub's current incarnation has said hello to the core, then for its
/// bring-up and reconcile.
fn hub_driver_back() -> Outcome {
    let now = sys_refresh_incarnation(USB_HUB).generation;
    within(|| (hub_driver_incarnation()? == now).then_some(()))
        .ok_or("the new usb-hub never said hello to usb-core")?;
    sleep_for(SETTLE_MS, TIMER);
    Ok(())
}

fn behind_the_hub(record: &DeviceRecord) -> Outcome {
    check!(record.tier == 1, "a device of the hub is not behind it");
    Ok(())
}

fn usb_hub_restart_keeps_the_devices_behind_it() -> Outcome {
    let port = hub_with_children()?;
    let keyboard = device(KEYBOARD_VID_PID)?;
    let adapter = device(SERIAL_VID_PID)?;
    behind_the_hub(&keyboard)?;
    behind_the_hub(&adapter)?;
    let mut data = [0u8; 30];
    pattern(&mut data, 3);
    loop_back(port, &data)?;
    let before = stats()?;

    let hub_index = USB_HUB.index() as u32;
    let _ = runner().inject(hub_index);
    let _ = runner().restart(hub_index);
    hub_driver_back()?;

    not_enumerated_again(&keyboard, &before)?;
    not_enumerated_again(&adapter, &before)?;
    check!(
        { device(KEYBOARD_VID_PID)?.address } == { keyboard.address } && {
            device(SERIAL_VID_PID)?.address
        } == { adapter.address },
        "a device behind the hub changed its address"
    );
    let again = cdc()
        .open(0)
        .map_err(|_| "usb-cdc no longer serves the adapter behind the hub")?;
    check!(
        { again.handle } == { port.handle },
        "the adapter's binding changed across a restart of usb-hub"
    );
    loop_back(port, &data)?;
    no_violation()
}

fn hub_port_unplugged_while_usb_hub_is_down_is_noticed_after_it_returns() -> Outcome {
    let port = hub_with_children()?;
    let adapter = device(SERIAL_VID_PID)?;
    let hub_index = USB_HUB.index() as u32;
    let _ = runner().detach(hub_index);
    sim()
        .unplug(devices::HUB_KEYBOARD.as_bytes())
        .map_err(|_| "usb-sim: unplug of the hub's keyboard failed")?;
    sleep_for(DOWN_MS, TIMER);
    check!(
        device(KEYBOARD_VID_PID).is_ok(),
        "the keyboard left the tree while no hub driver ran"
    );

    let _ = runner().restart(hub_index);
    within(|| device(KEYBOARD_VID_PID).is_err().then_some(()))
        .ok_or("the restarted usb-hub never noticed the keyboard's unplug")?;
    check!(
        { device(SERIAL_VID_PID)?.handle } == { adapter.handle },
        "the serial adapter was enumerated again"
    );
    let mut data = [0u8; 30];
    pattern(&mut data, 4);
    loop_back(port, &data)?;

    sim()
        .plug(devices::HUB_KEYBOARD.as_bytes())
        .map_err(|_| "usb-sim: plug of the hub's keyboard failed")?;
    let back = within(|| device(KEYBOARD_VID_PID).ok())
        .ok_or("the keyboard plugged back into its hub port was never enumerated")?;
    behind_the_hub(&back)?;
    no_violation()
}
