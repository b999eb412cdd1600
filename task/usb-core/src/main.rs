//! The USB core task (doc/usb-host.md 6.1-6.4): `usb_core_logic::UsbCore` over
//! `usb_hcd_api::IpcHostController`, serving `idl/usb-core.idol` to the class-driver tasks
//! (and to the console and tests).
//!
//! A thin shell: enumeration, binding, the EP0 policy, strikes and quarantine are the logic
//! crate's. What the shell adds is who is who, and the side effects only a task can have:
//!
//! * **Which task serves which driver** comes from app.toml (`build.rs`: `DRIVER_TASKS`).
//!   A binding may be used only by the current incarnation of its driver's task, the one
//!   that last said `hello`; any other caller gets `NotOwner`, `NotADriver` or `Stale`.
//! * **Pipes**: a binding's data pipes are opened in `usb-hcd` *for* the driver's task
//!   (`open_pipe_for`), so its transfers go to `usb-hcd` directly and nobody else may use
//!   them; EP0 stays the core's.
//! * **Driver restarts** (6.4): a `hello` from a new incarnation closes every pipe the old one
//!   owned in `usb-hcd` (`close_pipes_of`), then the logic rebinds with `resync` on pipes the
//!   new incarnation owns. No bus reset. The death is a strike (quarantine at the limit)
//!   only if it was a fault: the core asks the kernel (kipc `read-fault-count`, granted in
//!   app.toml) how many of the driver's incarnations faulted, so a restart the supervisor
//!   was asked for (console `restart`, `humility jefe -s`, an unload and load) strikes
//!   nothing, however often it happens.
//! * **Own restart**: a new incarnation starts with an empty device table, so it closes
//!   every pipe a previous incarnation opened for the drivers (`close_pipes_of`: transfers
//!   in flight on them end with a code), hands out ids that carry its own full
//!   restart count as their epoch (ids of every earlier incarnation are `Stale`, see
//!   `UsbCore::for_incarnation`), and enumerates the connected device again, starting
//!   with a bus reset. Each driver learns of it at its next `next_event` (refused until it
//!   says hello again), drops every binding and takes the new ones.
//! * **Notifications**: whenever events for a driver are queued, its task gets its `usb`
//!   notification and pulls them with `next_event` (servers never call less important tasks).
//! * **Root port**: the core polls the root port when `usb-hcd` posts its `port`
//!   notification (on connect, disconnect and port disable). A slow poll every
//!   `ROOT_POLL_MS` stays as a safety net: a post is a bit, not a queue, and one can be lost
//!   (`usb-hcd` dying between latching an event and posting it); the cost is one IPC a
//!   second.
//!
//! * **Enumeration never blocks the core** (doc/usb-host.md 2.2): the logic crate's
//!   [`EnumNext`] machine says what each step needs; the core starts each control transfer
//!   with `usb-hcd`'s `start_control`, goes back to serving its clients, and takes the result
//!   with `finish_control` when `usb-hcd` posts `xfer` (or at a slow poll, should `usb-hcd`
//!   die meanwhile). Debounce and set-address recovery are timer deadlines. A device that
//!   NAKs until every timeout costs the core nothing but its own steps. The root port's
//!   reset is timed by the core too (`begin_root_reset`, `end_root_reset`). A hub driver's
//!   `attach_child` is deferred: it is answered when its child's enumeration ends. What
//!   still waits inside one call: the EP0 requests class drivers make through `control` on
//!   devices already configured, and a hub's port reset, which the hub driver times.
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
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::CallError;
use idol_runtime::{Leased, ReadWrite, ReplyToken, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_core_api::{
    BindingHandle, BindingSummary, DeviceHandle, DeviceRecord, EventRecord, InterfaceRecord,
    PipeRecord, UsbCoreError,
};
use usb_core_logic::policy::MAX_CONTROL_DATA;
use usb_core_logic::{
    Addr0Token, BindingId, CONFIG_BUF, DeviceId, DriverKind, EnumError, EnumNext, Hello,
    Incarnation, MAX_BOUND_PIPES, UsbCore,
};
use usb_hcd_api::{HcdError, IpcHostController, MAX_STARTED_CONTROL, call_error};
use usb_host_api::{
    ClassPort, Direction, EpAddr, HostController, PipeId, SetupPacket, Speed, XferError,
};
use userlib::{
    Generation, RecvMessage, TaskId, sys_get_timer, sys_post, sys_refresh_incarnation,
    sys_set_timer, task_slot,
};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
include!(concat!(env!("OUT_DIR"), "/drivers.rs"));

task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["timer", "port", "xfer"]`.
const TIMER_BIT: u32 = 1 << 0;
const PORT_BIT: u32 = 1 << 1;
/// `usb-hcd` ended a transfer this task began with `start_control`.
const XFER_BIT: u32 = 1 << 2;
/// Root-port poll period when `usb-hcd` posts nothing (the safety net, see the module doc).
const ROOT_POLL_MS: u64 = 1000;
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

/// What the core did, for `humility ringbuf usb-core`; the counters count each kind.
#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    Enumerated {
        slot: u8,
        generation: u16,
    },
    EnumerationFailed(EnumError),
    /// A device behind a hub port, enumerated (or not) for the hub driver.
    ChildEnumerated {
        port: u8,
        slot: u8,
        generation: u16,
    },
    ChildFailed {
        port: u8,
        error: EnumError,
    },
    ChildDetached {
        port: u8,
    },
    Hello {
        driver: DriverKind,
        generation: u32,
        outcome: Hello,
    },
    Refused {
        operation: u16,
        error: UsbCoreError,
    },
}

counted_ringbuf!(Trace, 32, Trace::None);

fn driver_of(task: TaskId) -> Option<(DriverKind, usize)> {
    DRIVER_TASKS
        .iter()
        .find(|(_, index, _)| *index == task.index())
        .map(|&(kind, index, _)| (kind, index))
}

/// The current incarnation of `driver`'s task: the owner of the pipes opened for it.
fn driver_task(driver: DriverKind) -> Option<TaskId> {
    DRIVER_TASKS
        .iter()
        .find(|(kind, _, _)| *kind == driver)
        .map(|&(_, index, _)| {
            sys_refresh_incarnation(TaskId::for_index_and_gen(index, Generation(0))).id
        })
}

fn op(operation: UsbCoreOperation, e: impl Into<UsbCoreError>) -> RequestError<UsbCoreError> {
    let error = e.into();
    ringbuf_entry!(Trace::Refused {
        operation: operation as u16,
        error
    });
    RequestError::Op(error)
}

/// Who waits for the enumeration in progress.
enum Waiter {
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

struct Enumerating {
    waiter: Waiter,
    awaiting: Awaiting,
}

/// The root port's device before its enumeration begins.
enum RootAttach {
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

struct Server {
    core: UsbCore,
    hc: IpcHostController,
    /// The address-0 token a hub driver holds, for which hub binding and port.
    addr0: Option<(BindingId, u8, Addr0Token)>,
    root: RootAttach,
    enumerating: Option<Enumerating>,
    /// When the root port is next polled without a `port` post (the safety net).
    next_root_poll: u64,
}

impl Server {
    /// The driver the caller serves, if the caller is its current incarnation (it said
    /// `hello` since it started).
    fn calling_driver(
        &self,
        operation: UsbCoreOperation,
        msg: &RecvMessage,
    ) -> Result<DriverKind, RequestError<UsbCoreError>> {
        let (driver, _) =
            driver_of(msg.sender.id).ok_or_else(|| op(operation, UsbCoreError::NotADriver))?;
        if self.core.driver_incarnation(driver) != Some(msg.sender.generation) {
            return Err(op(operation, UsbCoreError::Stale));
        }
        Ok(driver)
    }

    /// `binding`, if the caller's driver serves it.
    fn callers_binding(
        &self,
        operation: UsbCoreOperation,
        msg: &RecvMessage,
        binding: BindingHandle,
    ) -> Result<BindingId, RequestError<UsbCoreError>> {
        let driver = self.calling_driver(operation, msg)?;
        let id = BindingId::from(binding);
        let serving = self.core.binding_driver(id).map_err(|e| op(operation, e))?;
        if serving != driver {
            return Err(op(operation, UsbCoreError::NotOwner));
        }
        Ok(id)
    }

    /// Follows the root port: drops the tree of a device that left, and starts the debounce
    /// of one that arrived.
    fn poll_root(&mut self) {
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
    fn drive(&mut self, waiter: Waiter, mut next: EnumNext) {
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
    fn transfer_ended(&mut self) {
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
    fn tick(&mut self, now: u64) {
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
    fn next_deadline(&self) -> u64 {
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

    /// Posts `usb` to every driver task with events waiting. A driver that is down gets
    /// nothing now; its `hello` at restart tells it to pull.
    fn notify_drivers(&self) {
        for &(driver, index, bit) in DRIVER_TASKS {
            if self.core.has_events_for(driver) {
                let task = sys_refresh_incarnation(TaskId::for_index_and_gen(index, Generation(0)));
                let _ = sys_post(task, bit);
            }
        }
    }
}

impl InOrderUsbCoreImpl for Server {
    fn hello(&mut self, msg: &RecvMessage) -> Result<(), RequestError<UsbCoreError>> {
        let (driver, index) = driver_of(msg.sender.id)
            .ok_or_else(|| op(UsbCoreOperation::Hello, UsbCoreError::NotADriver))?;
        let generation = msg.sender.generation;
        // Whether the caller's predecessors died by a fault or on request decides the
        // strikes; the kernel's count of faulted incarnations tells, long after the fault
        // record itself is gone.
        let (restarts, faults) = userlib::kipc::read_fault_count(index);
        if restarts != generation {
            // Restarted again since it sent: its successor's hello is the one to count.
            return Err(op(UsbCoreOperation::Hello, UsbCoreError::Stale));
        }
        if self
            .core
            .driver_incarnation(driver)
            .is_some_and(|seen| seen != generation)
        {
            // The old incarnation's transfers end with its pipes, before the rebind below
            // opens new ones for the caller. A core that cannot reach usb-hcd learns it at
            // the rebind, which then fails and leaves the binding to the next root poll.
            let _ = self.hc.client().close_pipes_of(index as u16);
        }
        if driver == DriverKind::Hub
            && let Some((_, _, token)) = self.addr0.take()
        {
            // The hub driver died between a port reset and the child's enumeration: the
            // device at address 0 is enumerated when its successor finds the port again.
            self.core.release_addr0(token);
        }
        let incarnation = Incarnation { restarts, faults };
        let outcome = self.core.driver_hello(&mut self.hc, driver, incarnation);
        ringbuf_entry!(Trace::Hello {
            driver,
            generation,
            outcome
        });
        self.notify_drivers();
        Ok(())
    }

    fn next_event(&mut self, msg: &RecvMessage) -> Result<EventRecord, RequestError<UsbCoreError>> {
        let driver = self.calling_driver(UsbCoreOperation::NextEvent, msg)?;
        Ok(EventRecord::new(self.core.take_event_for(driver)))
    }

    fn binding_info(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        descriptors: Leased<Write, [u8]>,
    ) -> Result<BindingSummary, RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::BindingInfo;
        let id = self.callers_binding(operation, msg, binding)?;
        let mut blob = [0u8; CONFIG_BUF];
        let info = self
            .core
            .binding_info(id, &mut blob)
            .map_err(|e| op(operation, e))?;
        if descriptors.len() < info.config_len {
            return Err(op(operation, UsbCoreError::BufferTooSmall));
        }
        descriptors.write_range(0, &blob[..info.config_len])?;
        let device = self.core.binding_device(id).map_err(|e| op(operation, e))?;
        let pipes = self.core.binding_pipes(id).map_err(|e| op(operation, e))?;
        let mut records = [PipeRecord::NONE; MAX_BOUND_PIPES];
        for (record, (ep, pipe)) in records.iter_mut().zip(pipes.iter().flatten()) {
            let handle = self.hc.handle(*pipe).map_err(|e| op(operation, e))?;
            *record = PipeRecord {
                handle,
                endpoint: ep.0,
            };
        }
        Ok(BindingSummary::new(&info, device, records))
    }

    fn ready(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
    ) -> Result<(), RequestError<UsbCoreError>> {
        let id = self.callers_binding(UsbCoreOperation::Ready, msg, binding)?;
        self.core
            .binding_ready(id)
            .map_err(|e| op(UsbCoreOperation::Ready, e))
    }

    fn control(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        setup: [u8; 8],
        data: Leased<ReadWrite, [u8]>,
    ) -> Result<u16, RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::Control;
        let id = self.callers_binding(operation, msg, binding)?;
        let setup = SetupPacket::parse(&setup);
        let len = usize::from(setup.length);
        if setup.length > MAX_CONTROL_DATA || len > data.len() {
            return Err(op(operation, UsbCoreError::BadLength));
        }
        let mut buffer = [0u8; MAX_CONTROL_DATA as usize];
        let buffer = &mut buffer[..len];
        let inbound = setup.direction() == Direction::In;
        if !inbound {
            data.read_range(0, buffer)?;
        }
        let n = self
            .core
            .port(&mut self.hc, id)
            .map_err(|e| op(operation, e))?
            .control(&setup, buffer)
            .map_err(|e| op(operation, e))?;
        if inbound {
            data.write_range(0, &buffer[..n])?;
        }
        // At most MAX_CONTROL_DATA bytes.
        Ok(n as u16)
    }

    fn clear_halt(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        endpoint: u8,
    ) -> Result<(), RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::ClearHalt;
        let id = self.callers_binding(operation, msg, binding)?;
        self.core
            .port(&mut self.hc, id)
            .map_err(|e| op(operation, e))?
            .clear_device_halt(EpAddr(endpoint))
            .map(|_| ())
            .map_err(|e| op(operation, e))
    }

    fn hub_ports(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
    ) -> Result<u8, RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::HubPorts;
        let id = self.callers_binding(operation, msg, binding)?;
        self.core.hub_ports(id).map_err(|e| op(operation, e))
    }

    fn acquire_address_zero(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        port: u8,
    ) -> Result<(), RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::AcquireAddressZero;
        let id = self.callers_binding(operation, msg, binding)?;
        let token = self
            .core
            .acquire_addr0(id, port)
            .map_err(|e| op(operation, e))?;
        self.addr0 = Some((id, port, token));
        Ok(())
    }

    fn release_address_zero(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
    ) -> Result<(), RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::ReleaseAddressZero;
        let id = self.callers_binding(operation, msg, binding)?;
        if self.addr0.as_ref().is_some_and(|(held, _, _)| *held == id)
            && let Some((_, _, token)) = self.addr0.take()
        {
            self.core.release_addr0(token);
        }
        Ok(())
    }

    fn attach_child(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        port: u8,
        speed: u8,
        reply: ReplyToken<DeviceHandle, UsbCoreError>,
    ) {
        let operation = UsbCoreOperation::AttachChild;
        let id = match self.callers_binding(operation, msg, binding) {
            Ok(id) => id,
            Err(e) => return reply.answer(Err(e)),
        };
        let holds_port = self
            .addr0
            .as_ref()
            .is_some_and(|(held, p, _)| *held == id && *p == port);
        let token = match self.addr0.take() {
            Some((_, _, token)) if holds_port && self.enumerating.is_none() => token,
            other => {
                self.addr0 = other;
                return reply.answer(Err(op(operation, UsbCoreError::NoAddressZero)));
            }
        };
        let Some(speed) = usb_hcd_api::wire::speed(speed) else {
            self.core.release_addr0(token);
            return reply.answer(Err(op(operation, UsbCoreError::BadLength)));
        };
        let next = self.core.begin_enumeration(&mut self.hc, token, speed);
        self.drive(Waiter::Child { port, reply }, next);
    }

    fn detach_child(
        &mut self,
        msg: &RecvMessage,
        binding: BindingHandle,
        port: u8,
    ) -> Result<(), RequestError<UsbCoreError>> {
        let operation = UsbCoreOperation::DetachChild;
        let id = self.callers_binding(operation, msg, binding)?;
        self.core
            .hub_port_detached(&mut self.hc, id, port)
            .map_err(|e| op(operation, e))?;
        ringbuf_entry!(Trace::ChildDetached { port });
        self.notify_drivers();
        Ok(())
    }

    fn devices(
        &mut self,
        _: &RecvMessage,
        first: u8,
        out: Leased<Write, [DeviceRecord]>,
    ) -> Result<u8, RequestError<core::convert::Infallible>> {
        let mut written = 0;
        let live = self.core.devices().filter(|id| id.slot >= first);
        for (at, id) in (0..out.len()).zip(live) {
            // A live id always has its info.
            if let Ok(info) = self.core.device(id) {
                out.write_at(at, &DeviceRecord::new(id, &info))?;
                written += 1;
            }
        }
        Ok(written)
    }

    fn interface_plan(
        &mut self,
        _: &RecvMessage,
        device: DeviceHandle,
        out: Leased<Write, [InterfaceRecord]>,
    ) -> Result<u8, RequestError<UsbCoreError>> {
        let plans = self
            .core
            .interface_plan(device.into())
            .map_err(|e| op(UsbCoreOperation::InterfacePlan, e))?;
        let mut written = 0;
        for (at, plan) in (0..out.len()).zip(plans.iter().flatten()) {
            let record = InterfaceRecord::new(plan, |d| self.core.driver_incarnation(d));
            out.write_at(at, &record)?;
            written += 1;
        }
        Ok(written)
    }

    fn notification_mask(&self) -> u32 {
        TIMER_BIT | PORT_BIT | XFER_BIT
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & XFER_BIT != 0 {
            self.transfer_ended();
        }
        let now = sys_get_timer().now;
        if bits & PORT_BIT != 0 || now >= self.next_root_poll {
            self.next_root_poll = now + ROOT_POLL_MS;
            self.poll_root();
        }
        self.tick(now);
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut server = Server {
        // Ids carry this incarnation (the kernel's restart count of this task), so none
        // equals an id the previous incarnation gave out.
        core: UsbCore::for_incarnation(
            sys_refresh_incarnation(TaskId::for_index_and_gen(OWN_INDEX, Generation(0))).generation,
        ),
        // usb-hcd may have restarted before this incarnation: name its current one.
        hc: IpcHostController::new(sys_refresh_incarnation(USB_HCD), TIMER_BIT)
            .with_driver_tasks(driver_task),
        addr0: None,
        root: RootAttach::Idle,
        enumerating: None,
        next_root_poll: sys_get_timer().now + ROOT_POLL_MS,
    };
    // Pipes a previous incarnation opened for the drivers name devices this one has not
    // enumerated: they go before anything is bound again.
    for &(_, index, _) in DRIVER_TASKS {
        let _ = server.hc.client().close_pipes_of(index as u16);
    }
    server.poll_root();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        // Re-armed before every receive: a call may have ended an enumeration (so a root
        // deadline counts again) or slept on the timer (`delay_ms`).
        sys_set_timer(Some(server.next_deadline()), TIMER_BIT);
        dispatch(&mut buffer, &mut server);
    }
}
