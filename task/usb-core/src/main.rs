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
//! * **Enumeration** (root port, attach, the steps of `EnumNext`): `enumeration.rs`.
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, ReadWrite, ReplyToken, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_core_api::{
    BindingHandle, BindingSummary, DeviceHandle, DeviceRecord, EventRecord, InterfaceRecord,
    PipeRecord, UsbCoreError,
};
use usb_core_logic::policy::MAX_CONTROL_DATA;
use usb_core_logic::{
    Addr0Token, BindingId, CONFIG_BUF, DriverKind, EnumError, Hello, Incarnation, MAX_BOUND_PIPES,
    UsbCore,
};
use usb_hcd_api::IpcHostController;
use usb_host_api::{ClassPort, Direction, EpAddr, SetupPacket};
use userlib::{
    Generation, RecvMessage, TaskId, sys_get_timer, sys_post, sys_refresh_incarnation,
    sys_set_timer, task_slot,
};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
include!(concat!(env!("OUT_DIR"), "/drivers.rs"));

mod enumeration;
use enumeration::{Enumerating, RootAttach, Waiter};

task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["timer", "port", "xfer"]`.
const TIMER_BIT: u32 = 1 << 0;
const PORT_BIT: u32 = 1 << 1;
/// `usb-hcd` ended a transfer this task began with `start_control`.
const XFER_BIT: u32 = 1 << 2;
/// Root-port poll period when `usb-hcd` posts nothing (the safety net, see the module doc).
const ROOT_POLL_MS: u64 = 1000;

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
