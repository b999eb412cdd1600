//! `usb-hcd`: the USB host controller driver task (doc/usb-host.md 5.3 and 6).
//!
//! A thin IPC shell around `dwc2_hcd_core::Hcd`: it serves `idl/usb-hcd.idol`, keeps the
//! owner of every pipe (`usb_hcd_api::owners`), lends the caller's lease to the driver as
//! its `TransferBuffers`, and waits for completions. It parses no descriptors.
//!
//! Registers: with feature `sim`, `usb_sim_api::IpcRegs` to the model in `usb-sim`; the
//! STM32H7 image will choose `dwc2_regs::MmioRegs` the same way.
//!
//! Restart: the first thing an incarnation does is `Hcd::init`, which masks the core's
//! interrupt, soft-resets the core and flushes its FIFOs before anything is set up again
//! (the fence of doc/usb-host.md 5.3 item 4); pipe handles carry an epoch picked at start,
//! so handles of the previous incarnation are refused as stale. Callers blocked in a
//! transfer when the driver died are woken by the kernel with a dead code.
//!
//! Waiting: a transfer is served to completion before the next request is received, so at
//! most one transfer is pending at a time and the wait is in one place (`Server::run`).
//! The controller's interrupt is polled once per kernel tick there, since the model's
//! time only moves with the kernel's clock.
//!
//! Root-port events: between requests the driver looks at the controller every
//! `PORT_CHECK_MS` (its timer, re-armed after each request, since a transfer's waits use the
//! same timer) and posts `usb-core` its `port` notification (app.toml `notify`) once per
//! batch of connect, disconnect or port-disable events; the core then calls `root_port`,
//! which takes them. So a plug is seen within a few milliseconds instead of at the core's
//! next poll.
#![no_std]
#![no_main]

use counters::Count;
use dwc2_hcd_core::{BufferFault, Clock, Hcd, Request, TransferBuffers};
use idol_runtime::abi::{Incarnation, TaskId};
use idol_runtime::{Leased, Read, ReadWrite, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_hcd_api::owners::{MAX_PIPES, PipeOwners};
use usb_hcd_api::{HcdError, RootPortStatus, wire};
use usb_host_api::{PipeId, PipeSpec, SetupPacket};
use userlib::{
    RecvMessage, notify_bits, notify_target, sleep_for, sys_get_timer, sys_post,
    sys_refresh_incarnation, sys_set_timer, task_slot,
};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

const _: () = assert!(MAX_PIPES == dwc2_hcd_core::MAX_PIPES);

/// app.toml: `notifications = ["timer", "port-check"]`. The task's one timer serves both:
/// waits inside a request with `TIMER`, the root-port check between requests with
/// `PORT_CHECK`, so a check that fell due just before a request cannot end one of that
/// request's waits early (a port reset held too short).
const TIMER: u32 = 1 << 0;
const PORT_CHECK: u32 = 1 << 1;
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

#[cfg(feature = "sim")]
task_slot!(USB_SIM, "usb-sim");

#[cfg(feature = "sim")]
type Regs = usb_sim_api::IpcRegs;

#[cfg(feature = "sim")]
fn regs() -> Regs {
    usb_sim_api::IpcRegs::new(USB_SIM)
}

#[cfg(not(feature = "sim"))]
compile_error!("task-usb-hcd: only the `sim` register backend exists yet (enable feature `sim`)");

/// The kernel's clock; waits shorter than a tick sleep one tick.
struct KernelClock;

impl Clock for KernelClock {
    fn now_us(&self) -> u64 {
        sys_get_timer().now.saturating_mul(1000)
    }

    fn delay_us(&self, us: u32) {
        sleep_for(u64::from(us.div_ceil(1000)), TIMER);
    }
}

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
    ControllerReplaced,
}

counted_ringbuf!(Event, 32, Event::None);

/// The data lease of the one transfer in flight, as the driver's buffers.
enum Lease<'a> {
    None,
    In(PipeId, &'a Leased<Write, [u8]>),
    Out(PipeId, &'a Leased<Read, [u8]>),
    Control(PipeId, &'a Leased<ReadWrite, [u8]>),
}

impl TransferBuffers for Lease<'_> {
    fn read_out(&mut self, pipe: PipeId, offset: usize, dst: &mut [u8]) -> Result<(), BufferFault> {
        match self {
            Lease::Out(owner, lease) if *owner == pipe => lease.read_range(offset, dst),
            Lease::Control(owner, lease) if *owner == pipe => lease.read_range(offset, dst),
            _ => return Err(BufferFault),
        }
        .map_err(|_| BufferFault)
    }

    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault> {
        match self {
            Lease::In(owner, lease) if *owner == pipe => lease.write_range(offset, src),
            Lease::Control(owner, lease) if *owner == pipe => lease.write_range(offset, src),
            _ => return Err(BufferFault),
        }
        .map_err(|_| BufferFault)
    }
}

struct Server {
    hcd: Hcd<Regs, KernelClock>,
    owners: PipeOwners,
    /// When the root port is next looked at (kernel ticks).
    next_port_check: u64,
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

    /// Runs one transfer to completion: the single place where the driver waits.
    fn run(
        &mut self,
        pipe: PipeId,
        request: Request,
        mut lease: Lease<'_>,
        timeout_ms: u32,
    ) -> Result<u32, RequestError<HcdError>> {
        self.hcd.submit(pipe, request, timeout_ms).map_err(op)?;
        self.hcd.service(&mut lease);
        let result = loop {
            if let Some(result) = self.hcd.take_completion(pipe) {
                break result;
            }
            sleep_for(1, TIMER);
            self.hcd.on_irq(&mut lease);
            self.hcd.service(&mut lease);
        };
        result.map(|n| n as u32).map_err(|e| {
            ringbuf_entry!(Event::TransferFailed {
                pipe: pipe.index,
                error: HcdError::from(e) as u8,
            });
            op(e)
        })
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

    /// Services the controller and posts `usb-core` if root-port events are waiting for it.
    fn check_port(&mut self) {
        self.next_port_check = sys_get_timer().now + PORT_CHECK_MS;
        #[cfg(feature = "sim")]
        self.check_controller();
        self.hcd.on_irq(&mut Lease::None);
        if self.hcd.port_events_to_announce() {
            ringbuf_entry!(Event::PortEventsAnnounced);
            let _ = sys_post(sys_refresh_incarnation(USB_CORE), CORE_PORT);
        }
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

    fn close(hcd: &mut Hcd<Regs, KernelClock>, pipe: PipeId) {
        hcd.close_pipe(pipe);
        ringbuf_entry!(Event::Closed { pipe: pipe.index });
    }
}

impl InOrderUsbHcdImpl for Server {
    fn root_port(
        &mut self,
        _: &RecvMessage,
    ) -> Result<RootPortStatus, RequestError<core::convert::Infallible>> {
        self.hcd.on_irq(&mut Lease::None);
        let events = self.hcd.take_port_events();
        let mut status = RootPortStatus::from(self.hcd.root_port());
        status.connect_changed = events.connect_changed || events.disconnected;
        Ok(status)
    }

    fn reset_root_port(&mut self, _: &RecvMessage) -> Result<u8, RequestError<HcdError>> {
        let result = self.hcd.port_reset_begin().and_then(|()| {
            sleep_for(ROOT_RESET_MS, TIMER);
            self.hcd.port_reset_end()
        });
        match result {
            Ok(speed) => {
                sleep_for(RESET_RECOVERY_MS, TIMER);
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
        Self::close(&mut self.hcd, pipe);
        self.owners.release(pipe);
        Ok(())
    }

    fn close_pipes_of(
        &mut self,
        _: &RecvMessage,
        owner: u16,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        let hcd = &mut self.hcd;
        Ok(self
            .owners
            .release_all_of(usize::from(owner), |pipe| Self::close(hcd, pipe)))
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
        data: Leased<ReadWrite, [u8]>,
    ) -> Result<u32, RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        let setup = SetupPacket::parse(&setup);
        if data.len() < usize::from(setup.length) {
            return Err(RequestError::Op(HcdError::ShortLease));
        }
        self.run(
            pipe,
            Request::Control { setup },
            Lease::Control(pipe, &data),
            timeout_ms,
        )
    }

    fn transfer_in(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        timeout_ms: u32,
        buf: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        let len = buf.len();
        self.run(pipe, Request::In { len }, Lease::In(pipe, &buf), timeout_ms)
    }

    fn transfer_out(
        &mut self,
        msg: &RecvMessage,
        pipe: u32,
        zlp: bool,
        timeout_ms: u32,
        data: Leased<Read, [u8]>,
    ) -> Result<u32, RequestError<HcdError>> {
        let pipe = self.pipe(pipe, msg.sender)?;
        let len = data.len();
        self.run(
            pipe,
            Request::Out { len, zlp },
            Lease::Out(pipe, &data),
            timeout_ms,
        )
    }

    fn close_pipe_for(&mut self, _: &RecvMessage, pipe: u32) -> Result<(), RequestError<HcdError>> {
        let pipe = self.owners.live(pipe).map_err(RequestError::Op)?;
        Self::close(&mut self.hcd, pipe);
        self.owners.release(pipe);
        Ok(())
    }

    fn notification_mask(&self) -> u32 {
        PORT_CHECK
    }

    fn handle_notification(&mut self, _bits: u32) {
        self.check_port();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    #[cfg(feature = "sim")]
    let controller = sys_refresh_incarnation(USB_SIM);
    let mut hcd = Hcd::new(regs(), KernelClock);
    let info = loop {
        match hcd.init() {
            Ok(info) => break info,
            Err(_) => {
                ringbuf_entry!(Event::InitFailed);
                sleep_for(INIT_RETRY_MS, TIMER);
            }
        }
    };
    let epoch = sys_get_timer().now as u16;
    ringbuf_entry!(Event::Initialised {
        channels: info.channels as u8,
        epoch,
    });
    let mut server = Server {
        hcd,
        owners: PipeOwners::new(epoch),
        next_port_check: 0,
        #[cfg(feature = "sim")]
        controller,
    };
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        // Re-armed each time: a request's waits (transfers, port reset) reuse the timer. A
        // check already due fires at once, so a stream of requests cannot starve it.
        sys_set_timer(Some(server.next_port_check), PORT_CHECK);
        dispatch(&mut buffer, &mut server);
    }
}
