//! The USB hub class-driver task (doc/usb-host.md 3.4, 6.1-6.4): one
//! `usb_class_hub::HubDriver` per bound hub, driven through an `usb_core_api::IpcClassPort`.
//! The core enumerates the devices behind a hub; this task tells it when and where.
//!
//! | Event | What the task does |
//! |---|---|
//! | start (first or after a restart) | `hello` to the core; a restart makes the core rebind the hub with `resync` |
//! | `usb` notification | pull events: `Bound` -> `HubDriver::attach` (powers only unpowered ports), `ready`, then reconcile |
//! | reconcile (after each bring-up) | per port: `check_port` (status, change bits cleared) against the core's `hub_ports`; a device the core knows that is gone or was replugged is detached; a connected port the core has no device for is queued for attachment |
//! | timer | poll each hub's status-change endpoint; connect -> queue the port; disconnect -> `detach_child`; then attach queued ports |
//! | attach a port | `acquire_address_zero`, port reset, `attach_child` with the speed; `AddressZeroBusy` leaves it queued for the next tick |
//!
//! Restart semantics (6.4): the devices behind a hub keep their addresses and bindings,
//! because the hub keeps its ports powered and the new incarnation neither re-powers nor
//! resets a port whose device the core still has. A device unplugged (or swapped) while no
//! hub driver ran leaves the hub's connection-change bit set, which the reconcile finds.
//!
//! The task serves no interface to applications: what it knows is the core's tree. Built
//! `watched`, it checks in with the supervisor at every poll (app.toml's `watchdog-ms`).
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::CallError;
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_class_hub::{HubDriver, HubError, HubEvent};
use usb_core_api::driver::{self, Bindings, Change, Served};
use usb_core_api::{IpcClassPort, UsbCoreClient, UsbCoreError};
use usb_hcd_api::UsbHcdClient;
use usb_hcd_api::wire::speed_code;
use userlib::{sys_get_timer, sys_recv_notification, sys_set_timer, task_slot};

task_slot!(USB_CORE, "usb-core");
task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["usb", "timer"]`.
const USB_BIT: u32 = 1 << 0;
const TIMER_BIT: u32 = 1 << 1;
const MAX_HUBS: usize = 2;
const POLL_MS: u64 = 20;
/// The status-change endpoint answers NAK while nothing changed; a wait of one or two of
/// its intervals is enough to catch a change that is already latched.
const POLL_TIMEOUT_MS: u32 = 20;

#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    /// This incarnation began (its hello to the core is `Binding(Change::Hello)`).
    Started,
    Binding(Change<HubError>),
    Reconciled {
        slot: u8,
        kept: u8,
        detached: u8,
        queued: u8,
    },
    Attached {
        port: u8,
        slot: u8,
    },
    AttachFailed {
        port: u8,
        error: UsbCoreError,
    },
    ResetFailed {
        port: u8,
        error: HubError,
    },
    Detached(u8),
    DetachFailed {
        port: u8,
        error: UsbCoreError,
    },
    OverCurrent(u8),
    PollFailed {
        slot: u8,
        error: HubError,
    },
}

counted_ringbuf!(Trace, 32, Trace::None);

/// One bound hub.
struct Hub {
    driver: HubDriver,
    /// Whether its ports were checked against the core's tree since the bring-up.
    reconciled: bool,
    /// Connected ports waiting for the address-0 token (bit n: port n).
    queued: u8,
}

fn core_code(e: CallError<UsbCoreError>) -> UsbCoreError {
    match e {
        CallError::Op(e) => e,
        // A core that died took the tree with it; its successor rebinds the hub.
        _ => UsbCoreError::Stale,
    }
}

/// Detaches the device behind `port`, tracing the outcome.
fn detach(core: &UsbCoreClient, hub: &Served<Hub>, port: u8) {
    match core.detach_child(hub.binding, port) {
        Ok(()) => ringbuf_entry!(Trace::Detached(port)),
        Err(e) => ringbuf_entry!(Trace::DetachFailed {
            port,
            error: core_code(e)
        }),
    }
}

/// Checks every port of `hub` against the core's tree (see the module doc).
fn reconcile(core: &UsbCoreClient, hcd: &UsbHcdClient, hub: &mut Served<Hub>) {
    // A hub the core no longer has: its unbind event follows.
    let Ok(known) = core.hub_ports(hub.binding) else {
        return;
    };
    let (mut kept, mut detached) = (0u8, 0u8);
    let mut port = IpcClassPort::new(core, hcd, hub.binding, &hub.summary, TIMER_BIT);
    for p in 1..=hub.state.driver.ports {
        let check = match hub.state.driver.check_port(&mut port, p) {
            Ok(check) => check,
            Err(error) => {
                ringbuf_entry!(Trace::PollFailed {
                    slot: hub.binding.slot,
                    error
                });
                return;
            }
        };
        let bit = 1u8 << p;
        let had = known & bit != 0;
        if had && (!check.connected || check.connection_changed) {
            detach(core, hub, p);
            detached |= bit;
        } else if had {
            kept |= bit;
        }
        if check.connected && (!had || check.connection_changed) {
            hub.state.queued |= bit;
        }
        if check.over_current {
            ringbuf_entry!(Trace::OverCurrent(p));
        }
    }
    hub.state.reconciled = true;
    ringbuf_entry!(Trace::Reconciled {
        slot: hub.binding.slot,
        kept,
        detached,
        queued: hub.state.queued,
    });
}

/// Attaches the queued ports of `hub`, one at a time under the address-0 token.
fn attach_queued(core: &UsbCoreClient, hcd: &UsbHcdClient, hub: &mut Served<Hub>) {
    while hub.state.queued != 0 {
        let p = hub.state.queued.trailing_zeros() as u8;
        match core.acquire_address_zero(hub.binding, p) {
            Ok(()) => {}
            // Another port (of this hub or another) is at address 0: next tick.
            Err(CallError::Op(UsbCoreError::AddressZeroBusy)) => return,
            Err(e) => {
                ringbuf_entry!(Trace::AttachFailed {
                    port: p,
                    error: core_code(e)
                });
                return;
            }
        }
        hub.state.queued &= !(1 << p);
        let mut port = IpcClassPort::new(core, hcd, hub.binding, &hub.summary, TIMER_BIT);
        let speed = match hub.state.driver.reset_port(&mut port, p) {
            Ok(speed) => speed,
            Err(error) => {
                // The device left during the reset or the port would not enable; a new
                // connection sets the change bit again.
                let _ = core.release_address_zero(hub.binding);
                ringbuf_entry!(Trace::ResetFailed { port: p, error });
                continue;
            }
        };
        match core.attach_child(hub.binding, p, speed_code(speed)) {
            Ok(device) => ringbuf_entry!(Trace::Attached {
                port: p,
                slot: device.slot
            }),
            Err(e) => ringbuf_entry!(Trace::AttachFailed {
                port: p,
                error: core_code(e)
            }),
        }
    }
}

struct Server {
    core: UsbCoreClient,
    hcd: UsbHcdClient,
    hubs: Bindings<Hub, MAX_HUBS>,
}

impl Server {
    fn pull_events(&mut self) {
        self.hubs.pull_events(
            &self.core,
            &self.hcd,
            TIMER_BIT,
            |port, config, interface| {
                Ok(Hub {
                    driver: HubDriver::attach(port, config, interface)?,
                    reconciled: false,
                    queued: 0,
                })
            },
            |change| ringbuf_entry!(Trace::Binding(change)),
        );
        let Server { core, hcd, hubs } = self;
        for hub in hubs.iter_mut().filter(|h| !h.state.reconciled) {
            reconcile(core, hcd, hub);
            attach_queued(core, hcd, hub);
        }
    }

    fn poll(&mut self) {
        let Server { core, hcd, hubs } = self;
        for hub in hubs.iter_mut() {
            if !hub.state.reconciled {
                reconcile(core, hcd, hub);
            }
            let mut port = IpcClassPort::new(core, hcd, hub.binding, &hub.summary, TIMER_BIT);
            match hub.state.driver.poll(&mut port, POLL_TIMEOUT_MS) {
                Ok(Some(HubEvent::Connected(p))) => {
                    // A replug: whatever the core had there left first.
                    if core
                        .hub_ports(hub.binding)
                        .is_ok_and(|known| known & 1 << p != 0)
                    {
                        detach(core, hub, p);
                    }
                    hub.state.queued |= 1 << p;
                }
                Ok(Some(HubEvent::Disconnected(p))) => {
                    hub.state.queued &= !(1 << p);
                    detach(core, hub, p);
                }
                Ok(Some(HubEvent::OverCurrent(p))) => ringbuf_entry!(Trace::OverCurrent(p)),
                Ok(None) => {}
                // An unplug or rebind arrives as an event; until then the hub is skipped.
                Err(error) => ringbuf_entry!(Trace::PollFailed {
                    slot: hub.binding.slot,
                    error
                }),
            }
            attach_queued(core, hcd, hub);
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let (core, hcd) = driver::start(USB_CORE, USB_HCD);
    let mut server = Server {
        core,
        hcd,
        hubs: Bindings::new(),
    };
    ringbuf_entry!(Trace::Started);
    server.pull_events();
    let mut next_poll = sys_get_timer().now + POLL_MS;
    loop {
        // Re-armed before every wait, whatever woke the task: a bring-up or a port reset
        // sleeps on the same timer (`delay_ms`), and a poll timer it consumed would
        // otherwise be lost, and with it every later poll of the hubs.
        sys_set_timer(Some(next_poll), TIMER_BIT);
        let bits = sys_recv_notification(USB_BIT | TIMER_BIT);
        if bits & USB_BIT != 0 || server.hubs.needs_hello() {
            server.pull_events();
        }
        if sys_get_timer().now >= next_poll {
            // The hub's driver serves no client, so no reply deadline catches it spinning
            // (starving every task below it); the watchdog does.
            #[cfg(feature = "watched")]
            userlib::check_in();
            server.poll();
            next_poll = sys_get_timer().now + POLL_MS;
        }
    }
}
