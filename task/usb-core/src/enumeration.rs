//! The root port's attach and the enumeration in progress, for the core's `Server`.
//!
//! **Enumeration never blocks the core** (doc/usb-host.md 2.2): the logic crate's
//! [`EnumNext`] machine says what each step needs; the core starts each control transfer
//! with `usb-hcd`'s `start_control`, goes back to serving its clients, and takes the result
//! with `finish_control` when `usb-hcd` posts `xfer` (or at a slow poll, should `usb-hcd`
//! die meanwhile). Debounce and set-address recovery are timer deadlines. A device that
//! NAKs until every timeout costs the core nothing but its own steps. The root port's
//! reset is timed by the core too (`begin_root_reset`, `end_root_reset`). A hub driver's
//! `attach_child` is deferred: it is answered when its child's enumeration ends. What
//! still waits inside one call: the EP0 requests class drivers make through `control` on
//! devices already configured, and a hub's port reset, which the hub driver times.
//!
//! | Enumeration state | Event | Next |
//! |---|---|---|
//! | idle | root connect (`root_wants_enumeration`) | debouncing, 100 ms |
//! | debouncing | deadline, still connected, address 0 free | resetting: `begin_root_reset`, 50 ms |
//! | debouncing | deadline, address 0 taken by a hub's child | debouncing, 10 ms more |
//! | resetting | deadline | recovering: `end_root_reset` gives the speed, 10 ms |
//! | recovering | deadline | the first step |
//! | idle | `attach_child` with the hub's address-0 token | the first step (caller waits) |
//! | transfer | `xfer` (or poll) and `finish_control` has the result | the next step |
//! | wait | deadline | the next step |
//! | any step | `Done` | idle; root: traced; child: the hub driver's call answered |

use idol_runtime::{CallError, ReplyToken};
use ringbuf::ringbuf_entry;
use usb_core_api::{DeviceHandle, UsbCoreError};
use usb_core_logic::{Addr0Token, DeviceId, EnumError, EnumNext};
use usb_hcd_api::{HcdError, MAX_STARTED_CONTROL, call_error};
use usb_host_api::{HostController, PipeId, Speed, XferError};
use userlib::sys_get_timer;

use crate::{__RINGBUF, Server, Trace, UsbCoreOperation, op};

/// Attach debounce (TATTDB, doc/usb-host.md 2.2 step 1).
const ATTACH_DEBOUNCE_MS: u64 = 100;
/// Root-port reset hold time (TDRSTR) and reset recovery (TRSTRCY), doc/usb-host.md 1.5.
const ROOT_RESET_MS: u64 = 50;
const RESET_RECOVERY_MS: u64 = 10;
/// How soon a debounced root device tries again for address 0 a hub's child holds.
const ADDR0_RETRY_MS: u64 = 10;
/// How often a started transfer is asked for without an `xfer` post (`usb-hcd` may die
/// between ending the transfer and posting).
const XFER_POLL_MS: u64 = 100;

/// Who waits for the enumeration in progress.
pub(crate) enum Waiter {
    Root,
    /// A hub driver blocked in `attach_child` for the device on `port`.
    Child {
        port: u8,
        reply: ReplyToken<DeviceHandle, UsbCoreError>,
    },
}

/// What the enumeration in progress waits for.
enum Awaiting {
    /// `usb-hcd` to end the transfer started on `pipe`.
    Transfer { pipe: PipeId, next_poll: u64 },
    /// The kernel clock to reach `until`.
    Deadline { until: u64 },
}

pub(crate) struct Enumerating {
    waiter: Waiter,
    awaiting: Awaiting,
}

/// The root port's device before its enumeration begins.
pub(crate) enum RootAttach {
    Idle,
    /// Connected: enumerated once the debounce ends at `until`.
    Debouncing {
        until: u64,
    },
    /// Address 0 taken and the port held in reset until `until`.
    Resetting {
        until: u64,
        token: Addr0Token,
    },
    /// Out of reset at `speed`; the first request goes at `until`.
    Recovering {
        until: u64,
        token: Addr0Token,
        speed: Speed,
    },
}

impl RootAttach {
    fn deadline(&self) -> Option<u64> {
        match self {
            RootAttach::Idle => None,
            RootAttach::Debouncing { until }
            | RootAttach::Resetting { until, .. }
            | RootAttach::Recovering { until, .. } => Some(*until),
        }
    }
}

impl Server {
    /// Follows the root port: drops the tree of a device that left, and starts the debounce
    /// of one that arrived.
    pub(crate) fn poll_root(&mut self) {
        if self.core.root_wants_enumeration(&mut self.hc) && matches!(self.root, RootAttach::Idle) {
            self.root = RootAttach::Debouncing {
                until: sys_get_timer().now + ATTACH_DEBOUNCE_MS,
            };
        }
        self.notify_drivers();
    }

    /// The root port's deadline passed at `now`: the debounce ended (take address 0 and
    /// begin the reset), the reset's hold time did (end it), or its recovery did (begin).
    fn root_step(&mut self, now: u64) {
        match core::mem::replace(&mut self.root, RootAttach::Idle) {
            RootAttach::Idle => {}
            RootAttach::Debouncing { .. } => {
                if !self.hc.root_port().connected {
                    return;
                }
                let Ok(token) = self.core.acquire_root_addr0() else {
                    self.root = RootAttach::Debouncing {
                        until: now + ADDR0_RETRY_MS,
                    };
                    return;
                };
                match self.hc.client().begin_root_reset() {
                    Ok(()) => {
                        self.root = RootAttach::Resetting {
                            until: now + ROOT_RESET_MS,
                            token,
                        }
                    }
                    Err(e) => self.root_reset_failed(token, call_error(e)),
                }
            }
            RootAttach::Resetting { token, .. } => {
                let speed = self.hc.client().end_root_reset().map_err(call_error);
                match speed
                    .and_then(|s| usb_hcd_api::wire::speed(s).ok_or(XferError::TransactionError))
                {
                    Ok(speed) => {
                        self.root = RootAttach::Recovering {
                            until: now + RESET_RECOVERY_MS,
                            token,
                            speed,
                        }
                    }
                    Err(e) => self.root_reset_failed(token, e),
                }
            }
            RootAttach::Recovering { token, speed, .. } => {
                let next = self.core.begin_enumeration(&mut self.hc, token, speed);
                self.drive(Waiter::Root, next);
            }
        }
    }

    fn root_reset_failed(&mut self, token: Addr0Token, error: XferError) {
        let result = self.core.root_reset_failed(token, error);
        self.report(Waiter::Root, result);
    }

    /// Runs the enumeration's steps until one has to wait, or it is done.
    pub(crate) fn drive(&mut self, waiter: Waiter, mut next: EnumNext) {
        loop {
            next = match next {
                EnumNext::Control {
                    pipe,
                    setup,
                    timeout_ms,
                } => {
                    let started = self.hc.handle(pipe).and_then(|handle| {
                        self.hc
                            .client()
                            .start_control(handle, setup.to_bytes(), timeout_ms)
                            .map_err(call_error)
                    });
                    match started {
                        Ok(()) => {
                            let next_poll = sys_get_timer().now + XFER_POLL_MS;
                            self.enumerating = Some(Enumerating {
                                waiter,
                                awaiting: Awaiting::Transfer { pipe, next_poll },
                            });
                            return;
                        }
                        Err(e) => self.core.enumeration_transferred(&mut self.hc, Err(e)),
                    }
                }
                EnumNext::Wait { ms } => {
                    let until = sys_get_timer().now + u64::from(ms);
                    self.enumerating = Some(Enumerating {
                        waiter,
                        awaiting: Awaiting::Deadline { until },
                    });
                    return;
                }
                EnumNext::Done(result) => return self.report(waiter, result),
            };
        }
    }

    /// The transfer the enumeration waits for may have ended: take its result if it has.
    pub(crate) fn transfer_ended(&mut self) {
        let Some(Enumerating {
            awaiting: Awaiting::Transfer { pipe, .. },
            ..
        }) = self.enumerating
        else {
            return;
        };
        let mut data = [0u8; MAX_STARTED_CONTROL];
        let result = match self.hc.handle(pipe) {
            Ok(handle) => match self.hc.client().finish_control(handle, &mut data[..]) {
                Err(CallError::Op(HcdError::Pending)) => {
                    if let Some(e) = self.enumerating.as_mut() {
                        e.awaiting = Awaiting::Transfer {
                            pipe,
                            next_poll: sys_get_timer().now + XFER_POLL_MS,
                        };
                    }
                    return;
                }
                Ok(n) => Ok(n as usize),
                Err(e) => Err(call_error(e)),
            },
            Err(e) => Err(e),
        };
        let Some(Enumerating { waiter, .. }) = self.enumerating.take() else {
            return;
        };
        let received = result.map(|n| &data[..n.min(MAX_STARTED_CONTROL)]);
        let next = self.core.enumeration_transferred(&mut self.hc, received);
        self.drive(waiter, next);
    }

    /// Timer work at `now`: debounce, the enumeration's deadline or its transfer poll.
    pub(crate) fn tick(&mut self, now: u64) {
        if self.root.deadline().is_some_and(|until| now >= until) && self.enumerating.is_none() {
            self.root_step(now);
        }
        match self.enumerating {
            Some(Enumerating {
                awaiting: Awaiting::Deadline { until },
                ..
            }) if now >= until => {
                if let Some(Enumerating { waiter, .. }) = self.enumerating.take() {
                    let next = self.core.enumeration_waited(&mut self.hc);
                    self.drive(waiter, next);
                }
            }
            Some(Enumerating {
                awaiting: Awaiting::Transfer { next_poll, .. },
                ..
            }) if now >= next_poll => self.transfer_ended(),
            _ => {}
        }
    }

    /// When the timer must next fire.
    pub(crate) fn next_deadline(&self) -> u64 {
        let mut wake = self.next_root_poll;
        // The root port's steps wait for a child's enumeration to end (address 0 is one
        // device's), so its deadline counts only when none runs: a past deadline would
        // otherwise wake the core at once, again and again.
        if let Some(until) = self.root.deadline()
            && self.enumerating.is_none()
        {
            wake = wake.min(until);
        }
        match self.enumerating {
            Some(Enumerating {
                awaiting: Awaiting::Deadline { until },
                ..
            }) => wake.min(until),
            Some(Enumerating {
                awaiting: Awaiting::Transfer { next_poll, .. },
                ..
            }) => wake.min(next_poll),
            None => wake,
        }
    }

    /// The enumeration ended: trace it and answer whoever waits.
    fn report(&mut self, waiter: Waiter, result: Result<DeviceId, EnumError>) {
        match (waiter, result) {
            (
                Waiter::Root,
                Ok(DeviceId {
                    slot, generation, ..
                }),
            ) => ringbuf_entry!(Trace::Enumerated { slot, generation }),
            (Waiter::Root, Err(e)) => ringbuf_entry!(Trace::EnumerationFailed(e)),
            (Waiter::Child { port, reply }, Ok(device)) => {
                ringbuf_entry!(Trace::ChildEnumerated {
                    port,
                    slot: device.slot,
                    generation: device.generation
                });
                reply.reply(device.into());
            }
            (Waiter::Child { port, reply }, Err(error)) => {
                ringbuf_entry!(Trace::ChildFailed { port, error });
                reply.answer(Err(op(
                    UsbCoreOperation::AttachChild,
                    UsbCoreError::EnumerationFailed,
                )));
            }
        }
        self.notify_drivers();
    }
}
