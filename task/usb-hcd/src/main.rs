//! `usb-hcd`: the USB host controller driver task (doc/usb-host.md 5.3 and 6).
//!
//! A thin IPC shell around `dwc2_hcd_core::Hcd`: it serves `idl/usb-hcd.idol`, keeps the
//! owner of every pipe (`usb_hcd_api::owners`), lends the caller's lease to the driver as
//! its `TransferBuffers`, and waits for completions. It parses no descriptors.
//!
//! Registers: with feature `sim`, `usb_sim_api::IpcRegs` to the model in `usb-sim`, which
//! posts nothing: pending transfers are serviced at every kernel tick. With feature `mmio`
//! (the STM32H7 boards), `dwc2_regs::MmioRegs` over OTG2's window, which app.toml maps into
//! this task as one MPU region (`uses = ["otg2"]`), and the core's interrupt routed to this
//! task as its `otg` notification (`interrupts = { "otg2.irq" = "otg" }`), re-enabled after
//! each service. There `sys` clocks the core, and switches VBUS on only after this
//! incarnation's init (and off, when jefe pulses the core's reset before a restart); the
//! slave-mode tripwire (`GAHBCFG.DMAEN` reads 0) is checked at start and at every
//! interrupt, and a tripped one is a panic, so the supervisor resets the core.
//!
//! Restart: the first thing an incarnation does is `Hcd::init`, which masks the core's
//! interrupt, soft-resets the core and flushes its FIFOs before anything is set up again
//! (the fence of doc/usb-host.md 5.3 item 4); pipe handles carry an epoch, this task's own
//! kernel restart count, so handles of the previous incarnation are refused as stale. Callers blocked in a
//! transfer when the driver died are woken by the kernel with a dead code.
//!
//! Waiting: transfers are deferred (`deferred: true` in the `.idol`): the driver keeps each
//! caller's reply token and lease in `pending`, one per pipe, and goes back to receiving,
//! so a device that NAKs until its timeout holds up only the task that called for it. While
//! anything is pending, the controller is serviced at every kernel tick (the model's time
//! only moves with the kernel's clock); each transfer that ends answers its token. The USB
//! core's enumeration transfers are started with `start_control` instead: the core is not
//! blocked at all, the IN data wait in `Staging` and the core is posted its `xfer`
//! notification, then takes them with `finish_control`.
//!
//! Clients that die: the kernel posts `client-gone` when a task that uses this driver is
//! detached; the driver then cancels the transfers of callers that are no longer current
//! (an interrupt-IN pipe of a dead class driver stops being polled at once) and closes every
//! pipe whose owner has ended.
//!
//! Root-port events: between requests the driver looks at the controller every
//! `PORT_CHECK_MS` (its timer, armed again after a request whenever the deadline changed or a
//! wait inside the request used the same timer) and posts `usb-core` its `port` notification
//! (app.toml `notify`) once per batch of connect, disconnect or port-disable events; the core
//! then calls `root_port`, which takes them. So a plug is seen within a few milliseconds instead of at the core's
//! next poll.
//!
//! Over-current (doc/usb-host.md 1.12, `usb_hcd_api::power`): at each look, an over-current
//! the port reported switches VBUS off for a rest, then on again; the third within ten
//! seconds leaves it off until `power_on`. Each is recorded here and told to the console,
//! in images that have one (app.toml `notify = { console = ["usb-power"] }`).
#![no_std]
#![no_main]

use core::convert::Infallible;

use counters::Count;
use dwc2_hcd_core::{Hcd, Request};
use idol_runtime::abi::{Incarnation, TaskId};
use idol_runtime::{Leased, ReplyToken, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_hcd_api::owners::{MAX_PIPES, PipeOwners};
use usb_hcd_api::power::{OverCurrentGuard, Verdict};
use usb_hcd_api::{HcdError, MAX_STARTED_CONTROL, PowerStatus, RootPortStatus, wire};
use usb_host_api::{Direction, PipeId, PipeSpec, SetupPacket, XferError};
#[cfg(feature = "sim")]
use userlib::task_slot;
use userlib::{
    RecvMessage, incarnation_is_current, notify_bits, notify_target, optional_notify, sys_post,
    sys_refresh_incarnation,
};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

const _: () = assert!(MAX_PIPES == dwc2_hcd_core::MAX_PIPES);

/// app.toml: `notifications = ["timer", "port-check", "client-gone"]` (and `"otg"` with
/// feature `mmio`, the core's interrupt). The task's one timer
/// serves two: waits inside a request with `TIMER`, the service of pending transfers and the
/// root-port check between requests with `PORT_CHECK`, so a check that fell due just before
/// a request cannot end one of that request's waits early (a port reset held too short).
const TIMER: u32 = 1 << 0;
const PORT_CHECK: u32 = 1 << 1;
/// app.toml `client-gone`: a task that uses this driver was detached.
const CLIENT_GONE: u32 = 1 << 2;
/// app.toml (feature `mmio`): `interrupts = { "otg2.irq" = "otg" }`.
#[cfg(feature = "mmio")]
const OTG_IRQ: u32 = 1 << 3;
/// app.toml (feature `mmio`): `sys` posts `over-current` when the VBUS switch's flag
/// signals (the OTG_FS core has no over-current input on the H7).
#[cfg(feature = "mmio")]
const OVER_CURRENT: u32 = 1 << 4;
/// What the server loop wakes for besides messages.
#[cfg(feature = "mmio")]
const NOTIFICATIONS: u32 = PORT_CHECK | CLIENT_GONE | OTG_IRQ | OVER_CURRENT;
#[cfg(not(feature = "mmio"))]
const NOTIFICATIONS: u32 = PORT_CHECK | CLIENT_GONE;
/// Root-port reset hold time (TDRSTR, 50 ms) and reset recovery (TRSTRCY, 10 ms),
/// doc/usb-host.md 1.5.
const ROOT_RESET_MS: u64 = 50;
const RESET_RECOVERY_MS: u64 = 10;
/// Between failed initialisations (the simulator may be restarting).
const INIT_RETRY_MS: u64 = 10;
/// Between looks at the root port while no request is being served.
const PORT_CHECK_MS: u64 = 5;

notify_target!(USB_CORE, "usb-core");
notify_bits!(CORE_PORT, "usb-core", ["port"]);
notify_bits!(CORE_XFER, "usb-core", ["xfer"]);
// Images with a console tell it of every over-current (app.toml `notify`); it asks
// `power_status` and says what happened to VBUS.
optional_notify!(POWER_WATCHER, "console", ["usb-power"]);

#[cfg(feature = "sim")]
task_slot!(USB_SIM, "usb-sim");

#[cfg(feature = "sim")]
type Regs = usb_sim_api::IpcRegs;

#[cfg(feature = "sim")]
fn regs() -> Regs {
    usb_sim_api::IpcRegs::new(USB_SIM)
}

#[cfg(all(feature = "sim", feature = "mmio"))]
compile_error!("task-usb-hcd: features `sim` and `mmio` are two register backends; choose one");

#[cfg(not(any(feature = "sim", feature = "mmio")))]
compile_error!("task-usb-hcd: choose a register backend: feature `sim` (QEMU) or `mmio` (STM32H7)");

#[cfg(feature = "mmio")]
type Regs = dwc2_regs::MmioRegs;

#[cfg(feature = "mmio")]
use board::regs;

#[cfg(feature = "mmio")]
mod board;
mod clock;
mod pending;

use clock::KernelClock;
use pending::{Buffers, Pending, Staging};

/// What `usb-hcd` did, for `humility ringbuf usb-hcd` and `humility counters usb-hcd`.
#[derive(Copy, Clone, PartialEq, Count)]
enum Event {
    None,
    /// This incarnation fenced and initialised the controller.
    Initialised {
        channels: u8,
        epoch: u16,
    },
    InitFailed,
    /// Root-port events were latched and `usb-core` was posted.
    PortEventsAnnounced,
    PortReset {
        speed: u8,
    },
    PortResetFailed,
    Opened {
        pipe: u8,
        owner: u16,
    },
    Closed {
        pipe: u8,
    },
    /// A call named a pipe of another task incarnation.
    NotOwner {
        pipe: u8,
        caller: u16,
    },
    TransferFailed {
        pipe: u8,
        error: u8,
    },
    /// usb-sim restarted under this incarnation: the controller is a new one.
    #[cfg(feature = "sim")]
    ControllerReplaced,
    /// `GAHBCFG.DMAEN` read 1 (the slave-mode tripwire): this incarnation stops.
    DmaTripwire,
    /// The owner of this pipe was detached: the pipe was closed.
    ClientGone {
        pipe: u8,
    },
    /// The root port reported over-current: VBUS is off for a rest (`total` since this
    /// incarnation started).
    OverCurrent {
        total: u16,
    },
    /// The rest after an over-current ended: VBUS is on again.
    PowerRestored,
    /// Too many over-currents: VBUS stays off until `power_on`.
    PowerCutOff {
        strikes: u8,
    },
    /// `power_on` powered a port that was off.
    PowerOnRequested,
}

counted_ringbuf!(Event, 32, Event::None);

struct Server {
    hcd: Hcd<Regs, KernelClock>,
    owners: PipeOwners,
    /// The transfer in flight on each pipe, by `PipeId::index`.
    pending: [Option<(PipeId, Pending)>; MAX_PIPES],
    staging: Staging,
    /// When the root port is next looked at (kernel ticks).
    next_port_check: u64,
    /// What over-currents did to the port's power.
    power: OverCurrentGuard,
    /// `sys` posted `over-current` since the last look.
    #[cfg(feature = "mmio")]
    flag_raised: bool,
    /// The simulator incarnation whose controller this incarnation initialised.
    #[cfg(feature = "sim")]
    controller: Incarnation,
}

fn op<E: Into<HcdError>>(e: E) -> RequestError<HcdError> {
    RequestError::Op(e.into())
}

impl Server {
    /// Checks that `caller` owns `handle`, recording refusals of a foreign pipe.
    fn pipe(&self, handle: u32, caller: Incarnation) -> Result<PipeId, RequestError<HcdError>> {
        self.owners.check(handle, caller).map_err(|e| {
            if e == HcdError::NotOwner {
                ringbuf_entry!(Event::NotOwner {
                    pipe: handle as u8,
                    caller: caller.id.0,
                });
            }
            RequestError::Op(e)
        })
    }

    /// Submits a transfer for `pending`'s caller, or answers it at once with the refusal.
    fn submit(&mut self, pipe: PipeId, request: Request, timeout_ms: u32, pending: Pending) {
        if let Err(e) = self.hcd.submit(pipe, request, timeout_ms) {
            pending.answer(Err(e));
            return;
        }
        self.pending[usize::from(pipe.index)] = Some((pipe, pending));
        self.service(false);
    }

    /// Moves every pending transfer on (after the controller's interrupt, if `irq`) and
    /// answers those that ended.
    fn service(&mut self, irq: bool) {
        let mut bufs = Buffers {
            pending: &self.pending,
            staging: &mut self.staging.data,
        };
        if irq {
            self.hcd.on_irq(&mut bufs);
        }
        self.hcd.service(&mut bufs);
        for index in 0..MAX_PIPES {
            let Some((pipe, _)) = self.pending[index] else {
                continue;
            };
            if let Some(result) = self.hcd.take_completion(pipe)
                && let Some((_, pending)) = self.pending[index].take()
            {
                self.ended(pipe, pending, result);
            }
        }
    }

    fn ended(&mut self, pipe: PipeId, pending: Pending, result: Result<usize, XferError>) {
        if let Err(e) = result {
            ringbuf_entry!(Event::TransferFailed {
                pipe: pipe.index,
                error: HcdError::from(e) as u8,
            });
        }
        if matches!(pending, Pending::Started) && self.staging.pipe == Some(pipe) {
            self.staging.result = Some(result);
            let _ = sys_post(self.staging.owner, CORE_XFER);
        }
        pending.answer(result);
    }

    fn any_pending(&self) -> bool {
        self.pending.iter().any(Option::is_some)
    }

    /// Closes `pipe`: its transfer in flight ends with `Canceled`.
    fn close(&mut self, pipe: PipeId) {
        self.hcd.close_pipe(pipe);
        self.forget(pipe, XferError::Canceled);
        ringbuf_entry!(Event::Closed { pipe: pipe.index });
    }

    /// Ends `pipe`'s transfer in flight (the pipe stays open) and answers it `Canceled`.
    fn abort(&mut self, pipe: PipeId) {
        self.hcd.cancel(pipe);
        let _ = self.hcd.take_completion(pipe);
        self.forget(pipe, XferError::Canceled);
    }

    /// Answers and forgets `pipe`'s pending transfer, if it has one.
    fn forget(&mut self, pipe: PipeId, error: XferError) {
        let slot = &mut self.pending[usize::from(pipe.index)];
        if slot.as_ref().is_some_and(|(id, _)| *id == pipe)
            && let Some((_, pending)) = slot.take()
        {
            pending.answer(Err(error));
        }
        if self.staging.pipe == Some(pipe) {
            self.staging.pipe = None;
            self.staging.result = None;
        }
    }

    /// A client was detached: transfers of callers that ended are canceled, and the pipes
    /// of owners that ended are closed.
    fn clients_gone(&mut self) {
        for index in 0..MAX_PIPES {
            if let Some((pipe, pending)) = &self.pending[index]
                && !pending.caller_current()
            {
                let pipe = *pipe;
                self.abort(pipe);
            }
        }
        let mut closed = [None; MAX_PIPES];
        let mut n = 0;
        self.owners.release_if(
            |owner| !incarnation_is_current(owner),
            |pipe| {
                closed[n] = Some(pipe);
                n += 1;
            },
        );
        for pipe in closed.into_iter().flatten() {
            ringbuf_entry!(Event::ClientGone { pipe: pipe.index });
            self.close(pipe);
        }
    }

    fn open(
        &mut self,
        owner: Incarnation,
        spec: Result<PipeSpec, HcdError>,
    ) -> Result<u32, RequestError<HcdError>> {
        let pipe = self.hcd.open_pipe(spec.map_err(op)?).map_err(op)?;
        ringbuf_entry!(Event::Opened {
            pipe: pipe.index,
            owner: owner.id.0,
        });
        Ok(self.owners.adopt(pipe, owner))
    }

    /// Services the controller (unless `serviced`: the caller just did, at tick `now`) and
    /// posts `usb-core` if root-port events are waiting for it.
    fn check_port(&mut self, now: u64, serviced: bool) {
        self.next_port_check = now + PORT_CHECK_MS;
        #[cfg(feature = "sim")]
        self.check_controller();
        if !serviced {
            self.service(true);
        }
        self.check_power(now);
        if self.hcd.port_events_to_announce() {
            ringbuf_entry!(Event::PortEventsAnnounced);
            let _ = sys_post(sys_refresh_incarnation(USB_CORE), CORE_PORT);
        }
    }

    /// Acts on an over-current the port reported (doc/usb-host.md 1.12): VBUS off for a
    /// rest, or for good after too many; and powers a rested port again.
    fn check_power(&mut self, now: u64) {
        #[cfg(feature = "mmio")]
        let reported = self.hcd.take_over_current()
            | (core::mem::take(&mut self.flag_raised) && board::over_current());
        #[cfg(not(feature = "mmio"))]
        let reported = self.hcd.take_over_current();
        if reported {
            let verdict = self.power.over_current(now);
            let status = self.power.status(now);
            match verdict {
                Verdict::Ignored => return,
                Verdict::RestUntil(_) => ringbuf_entry!(Event::OverCurrent {
                    total: status.total as u16,
                }),
                Verdict::CutOff => ringbuf_entry!(Event::PowerCutOff {
                    strikes: status.strikes,
                }),
            }
            self.switch_power(false);
            if let Some((watcher, bits)) = POWER_WATCHER {
                let _ = sys_post(sys_refresh_incarnation(watcher), bits);
            }
        } else if self.power.rest_over(now) {
            ringbuf_entry!(Event::PowerRestored);
            self.switch_power(true);
        }
    }

    fn switch_power(&mut self, on: bool) {
        self.hcd.port_power(on);
        #[cfg(feature = "mmio")]
        board::vbus(on);
    }

    /// A restart of usb-sim replaces the controller (as swapping the silicon would): every
    /// pipe, channel and port state this incarnation holds describes the old one, and its
    /// held transfers will never complete. The clean way back is the tested one: this task
    /// faults, the supervisor restarts it, the kernel wakes every client blocked on it with
    /// a dead code, and the new incarnation initialises the new controller (which tells
    /// usb-core to enumerate again).
    #[cfg(feature = "sim")]
    fn check_controller(&self) {
        if sys_refresh_incarnation(USB_SIM) != self.controller {
            ringbuf_entry!(Event::ControllerReplaced);
            panic!("usb-sim restarted: the controller under this driver is a new one");
        }
    }
}

impl InOrderUsbHcdImpl for Server {
    fn root_port(&mut self, _: &RecvMessage) -> Result<RootPortStatus, RequestError<Infallible>> {
        self.service(true);
        let events = self.hcd.take_port_events();
        let mut status = RootPortStatus::from(self.hcd.root_port());
        status.connect_changed = events.connect_changed || events.disconnected;
        Ok(status)
    }

    fn reset_root_port(&mut self, msg: &RecvMessage) -> Result<u8, RequestError<HcdError>> {
        self.begin_root_reset(msg)?;
        self.hcd.clock().sleep_ms(ROOT_RESET_MS);
        let speed = self.end_root_reset(msg)?;
        self.hcd.clock().sleep_ms(RESET_RECOVERY_MS);
        Ok(speed)
    }

    fn begin_root_reset(&mut self, _: &RecvMessage) -> Result<(), RequestError<HcdError>> {
        self.hcd.port_reset_begin().map_err(|_| {
            ringbuf_entry!(Event::PortResetFailed);
            RequestError::Op(HcdError::Disconnected)
        })
    }

    fn end_root_reset(&mut self, _: &RecvMessage) -> Result<u8, RequestError<HcdError>> {
        match self.hcd.port_reset_end() {
            Ok(speed) => {
                let speed = wire::speed_code(speed);
                ringbuf_entry!(Event::PortReset { speed });
                Ok(speed)
            }
            Err(_) => {
                ringbuf_entry!(Event::PortResetFailed);
                Err(RequestError::Op(HcdError::Disconnected))
            }
        }
    }

    fn open_pipe(
        &mut self,
        msg: &RecvMessage,
        address: u8,
        endpoint: u8,
        ep_type: u8,
        max_packet: u16,
        interval: u8,
        speed: u8,
    ) -> Result<u32, RequestError<HcdError>> {
        let spec = wire::pipe_spec(address, endpoint, ep_type, max_packet, interval, speed);
        self.open(msg.sender, spec)
    }

    fn open_pipe_for(
        &mut self,
        _: &RecvMessage,
        owner: u16,
        address: u8,
        endpoint: u8,
        ep_type: u8,
        max_packet: u16,
        interval: u8,
        speed: u8,
    ) -> Result<u32, RequestError<HcdError>> {
        let owner = TaskId(owner);
        if owner.index() >= hubris_num_tasks::NUM_TASKS {
            return Err(RequestError::Op(HcdError::BadArgument));
        }
        // The owner must be named by its current generation: a pipe for an incarnation
        // that is already gone would never be closed by its owner.
        let current = sys_refresh_incarnation(owner);
        if current.id != owner {
            return Err(RequestError::Op(HcdError::BadArgument));
        }
        let spec = wire::pipe_spec(address, endpoint, ep_type, max_packet, interval, speed);
        self.open(current, spec)
    }

    fn retarget_pipe(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        address: u8,
        max_packet: u16,
    ) -> Result<(), RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        self.hcd
            .retarget_pipe(pipe, address, max_packet)
            .map_err(op)
    }

    fn close_pipe(&mut self, msg: &RecvMessage, pipe: u32) -> Result<(), RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        self.close(pipe);
        self.owners.release(pipe);
        Ok(())
    }

    fn close_pipes_of(
        &mut self,
        _: &RecvMessage,
        owner: u16,
    ) -> Result<u32, RequestError<Infallible>> {
        let mut closed = [None; MAX_PIPES];
        let mut n = 0;
        let count = self.owners.release_all_of(usize::from(owner), |pipe| {
            closed[n] = Some(pipe);
            n += 1;
        });
        for pipe in closed.into_iter().flatten() {
            self.close(pipe);
        }
        Ok(count)
    }

    fn reset_toggle(&mut self, msg: &RecvMessage, pipe: u32) -> Result<(), RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        self.hcd.reset_toggle(pipe).map_err(op)
    }

    fn control(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        setup: [u8; 8],
        timeout_ms: u32,
        reply: ReplyToken<u32, HcdError, UsbHcdControlLeases>,
    ) {
        let pipe = match self.pipe(pipe, msg.sender) {
            Ok(pipe) => pipe,
            Err(e) => return reply.answer(Err(e)),
        };
        let setup = SetupPacket::parse(&setup);
        if reply.leases().data.len() < usize::from(setup.length) {
            return reply.reply_err(HcdError::ShortLease);
        }
        self.submit(
            pipe,
            Request::Control { setup },
            timeout_ms,
            Pending::Control(reply),
        );
    }

    fn transfer_in(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        timeout_ms: u32,
        reply: ReplyToken<u32, HcdError, UsbHcdTransferInLeases>,
    ) {
        let pipe = match self.pipe(pipe, msg.sender) {
            Ok(pipe) => pipe,
            Err(e) => return reply.answer(Err(e)),
        };
        let len = reply.leases().buf.len();
        self.submit(pipe, Request::In { len }, timeout_ms, Pending::In(reply));
    }

    fn transfer_out(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        zlp: bool,
        timeout_ms: u32,
        reply: ReplyToken<u32, HcdError, UsbHcdTransferOutLeases>,
    ) {
        let pipe = match self.pipe(pipe, msg.sender) {
            Ok(pipe) => pipe,
            Err(e) => return reply.answer(Err(e)),
        };
        let len = reply.leases().data.len();
        self.submit(
            pipe,
            Request::Out { len, zlp },
            timeout_ms,
            Pending::Out(reply),
        );
    }

    fn start_control(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        setup: [u8; 8],
        timeout_ms: u32,
    ) -> Result<(), RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        let setup = SetupPacket::parse(&setup);
        if usize::from(setup.length) > MAX_STARTED_CONTROL {
            return Err(RequestError::Op(HcdError::TooLarge));
        }
        if setup.direction() == Direction::Out && setup.length != 0 {
            return Err(RequestError::Op(HcdError::BadArgument));
        }
        if let Some(started) = self.staging.pipe {
            if self.staging.owner == msg.sender && self.staging.result.is_none() {
                return Err(RequestError::Op(HcdError::Busy));
            }
            // Its result was not taken, or a previous incarnation of the caller started it:
            // the caller has moved on.
            self.abort(started);
        }
        self.hcd
            .submit(pipe, Request::Control { setup }, timeout_ms)
            .map_err(op)?;
        self.staging.pipe = Some(pipe);
        self.staging.owner = msg.sender;
        self.staging.result = None;
        self.pending[usize::from(pipe.index)] = Some((pipe, Pending::Started));
        self.service(false);
        Ok(())
    }

    fn finish_control(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        data: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        if self.staging.pipe != Some(pipe) || self.staging.owner != msg.sender {
            return Err(RequestError::Op(HcdError::BadArgument));
        }
        let result = self
            .staging
            .result
            .ok_or(RequestError::Op(HcdError::Pending))?;
        self.staging.pipe = None;
        self.staging.result = None;
        let n = result.map_err(op)?;
        let bytes = self
            .staging
            .data
            .get(..n)
            .ok_or(RequestError::Op(HcdError::BufferFault))?;
        if data.len() < n {
            return Err(RequestError::Op(HcdError::ShortLease));
        }
        data.write_range(0, bytes)?;
        Ok(n as u32)
    }

    fn close_pipe_for(&mut self, _: &RecvMessage, pipe: u32) -> Result<(), RequestError<HcdError>> {
        let pipe = self.owners.live(pipe).map_err(RequestError::Op)?;
        self.close(pipe);
        self.owners.release(pipe);
        Ok(())
    }

    fn power_status(&mut self, _: &RecvMessage) -> Result<PowerStatus, RequestError<Infallible>> {
        Ok(self.power.status(self.hcd.clock().now_ticks()))
    }

    fn power_on(&mut self, _: &RecvMessage) -> Result<bool, RequestError<Infallible>> {
        let was_off = self.power.power_on();
        if was_off {
            ringbuf_entry!(Event::PowerOnRequested);
            self.switch_power(true);
        }
        Ok(was_off)
    }

    fn notification_mask(&self) -> u32 {
        NOTIFICATIONS
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & PORT_CHECK != 0 {
            self.hcd.clock().fired();
        }
        if bits & CLIENT_GONE != 0 {
            self.clients_gone();
        }
        #[cfg(feature = "mmio")]
        if bits & OVER_CURRENT != 0 {
            self.flag_raised = true;
            let now = self.hcd.clock().now_ticks();
            self.check_port(now, false);
        }
        #[cfg(feature = "mmio")]
        if bits & OTG_IRQ != 0 {
            tripwire(&self.hcd);
            let now = self.hcd.clock().now_ticks();
            self.check_port(now, false);
            userlib::sys_irq_control(OTG_IRQ, true, false);
        }
        // A service reads the clock; otherwise it is read here.
        let serviced = self.any_pending();
        let now = if serviced {
            self.service(true);
            self.hcd.clock().last_tick()
        } else {
            self.hcd.clock().now_ticks()
        };
        if now >= self.next_port_check {
            self.check_port(now, serviced);
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/own_index.rs"));

/// The slave-mode tripwire (doc/usb-host.md 5.3 item 1): buffer DMA on means the core could
/// write anywhere it reaches, so this incarnation stops at once; the supervisor pulses the
/// core's reset (`reset-peripherals`) before the next one fences and initialises it.
fn tripwire(hcd: &Hcd<Regs, KernelClock>) {
    if !hcd.slave_mode_intact() {
        ringbuf_entry!(Event::DmaTripwire);
        panic!("GAHBCFG.DMAEN reads 1: the OTG core could master the bus");
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    #[cfg(feature = "sim")]
    let controller = sys_refresh_incarnation(USB_SIM);
    let mut hcd = Hcd::new(regs(), KernelClock::new());
    let info = loop {
        match hcd.init() {
            Ok(info) => break info,
            Err(dwc2_hcd_core::HcdError::DmaEnabled) => tripwire(&hcd),
            Err(_) => {
                ringbuf_entry!(Event::InitFailed);
                hcd.clock().sleep_ms(INIT_RETRY_MS);
            }
        }
    };
    // The kernel's restart count of this task: handles of the previous incarnation (and of
    // every one less than 65536 restarts back) carry another epoch and are refused.
    let epoch = userlib::sys_refresh_incarnation(userlib::TaskId::for_index_and_gen(
        OWN_INDEX,
        userlib::Generation(0),
    ))
    .generation as u16;
    ringbuf_entry!(Event::Initialised {
        channels: info.channels as u8,
        epoch,
    });
    #[cfg(feature = "mmio")]
    {
        board::vbus(true);
        // Whatever the previous incarnation left pending was fenced by the init.
        userlib::sys_irq_control(OTG_IRQ, true, true);
    }
    let mut server = Server {
        hcd,
        owners: PipeOwners::new(epoch),
        pending: [const { None }; MAX_PIPES],
        staging: Staging {
            pipe: None,
            owner: Incarnation::new(OWN_INDEX, 0),
            result: None,
            data: [0; MAX_STARTED_CONTROL],
        },
        next_port_check: 0,
        power: OverCurrentGuard::new(),
        #[cfg(feature = "mmio")]
        flag_raised: false,
        #[cfg(feature = "sim")]
        controller,
    };
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        // Pending transfers are serviced at the tick after the last reading of the clock
        // (at once, if a tick has passed since: a request that read no clock may leave an
        // old reading); a port check already due fires at once, so a stream of requests
        // cannot starve either. `arm` sets the timer again only if the deadline changed or a
        // request's wait (port reset, the driver's own delays) used the timer meanwhile.
        let clock = server.hcd.clock();
        let wake = if server.any_pending() {
            clock.last_tick() + 1
        } else {
            server.next_port_check
        };
        clock.arm(wake);
        dispatch(&mut buffer, &mut server);
    }
}
