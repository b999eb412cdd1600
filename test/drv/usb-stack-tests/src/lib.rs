//! Test harness: the real controller driver (`dwc2-hcd-core`) driving the behavioural model
//! (`usb-model`), exposed as the blocking [`HostController`] the USB core uses.
//!
//! What it is: [`SimHost`] plays the part of the `usb-hcd` task – it owns the driver, turns
//! each blocking request into `submit` + an event loop (`model.step` → interrupt line →
//! `on_irq` → `service`) and lends the caller's buffer to the driver as the "lease".
//!
//! Register latency: by default a register access takes no model time, as if the driver
//! ran infinitely fast. [`SimHost::with_register_latency`] makes every access cost model
//! time (transactions run meanwhile, as on a real bus), which is what a driver sees when
//! each access is an IPC round trip to another task (`usb-hcd` over `usb-sim`): races
//! between reading the frame number and acting on it show up there.
//!
//! Invariants checked on every request: the transfer completes (the driver never loses one);
//! model time is bounded by the request's timeout plus a margin. Tests additionally assert
//! that the model recorded no programming-rule violations.
//!
//! Who uses it: the end-to-end tests in `tests/` and the MSC figures example.
#![no_std]

use core::cell::RefCell;
use dwc2_hcd_core::{BufferFault, Clock, Hcd, Request, TransferBuffers};
use usb_host_api::{HostController, PipeId, PipeSpec, RootPort, SetupPacket, Speed, XferError};
use usb_model::Dwc2Model;

/// Root-port reset hold time (TDRSTR) and recovery (TRSTRCY), doc/usb-host.md 1.5.
const ROOT_RESET_MS: u32 = 50;
const RESET_RECOVERY_MS: u32 = 10;
/// Model time a request may run beyond its own timeout before the harness calls it lost.
const LOST_TRANSFER_MARGIN_US: u64 = 1_000_000;

/// Address 0's EP0 at `speed`, with the 8-byte packets every device accepts before its
/// device descriptor is read.
pub fn ep0_spec(speed: Speed) -> PipeSpec {
    PipeSpec {
        address: 0,
        endpoint: usb_host_api::EpAddr(0),
        ty: usb_host_api::EpType::Control,
        max_packet: 8,
        interval: 0,
        speed,
    }
}

/// The model's virtual clock; busy waits advance it.
pub struct ModelClock<'m, 'd>(&'m RefCell<Dwc2Model<'d>>);

impl Clock for ModelClock<'_, '_> {
    fn now_us(&self) -> u64 {
        self.0.borrow().now_us()
    }
    fn delay_us(&self, us: u32) {
        self.0.borrow_mut().advance(u64::from(us));
    }
}

/// The buffer of the one transfer in flight, as the driver sees a lease.
enum Lease<'a> {
    None,
    In(PipeId, &'a mut [u8]),
    Out(PipeId, &'a [u8]),
}

impl TransferBuffers for Lease<'_> {
    fn read_out(&mut self, pipe: PipeId, offset: usize, dst: &mut [u8]) -> Result<(), BufferFault> {
        match self {
            Lease::Out(owner, data) if *owner == pipe => {
                let src = data.get(offset..offset + dst.len()).ok_or(BufferFault)?;
                dst.copy_from_slice(src);
                Ok(())
            }
            _ => Err(BufferFault),
        }
    }

    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault> {
        match self {
            Lease::In(owner, buf) if *owner == pipe => {
                let dst = buf.get_mut(offset..offset + src.len()).ok_or(BufferFault)?;
                dst.copy_from_slice(src);
                Ok(())
            }
            _ => Err(BufferFault),
        }
    }
}

/// The model's registers; each access first lets `latency_us` of model time pass.
pub struct LaggingRegs<'m, 'd> {
    model: &'m RefCell<Dwc2Model<'d>>,
    latency_us: u64,
}

impl dwc2_regs::Dwc2Regs for LaggingRegs<'_, '_> {
    fn read(&self, offset: u32) -> u32 {
        let mut model = self.model.borrow_mut();
        model.advance(self.latency_us);
        model.read(offset)
    }
    fn write(&self, offset: u32, value: u32) {
        let mut model = self.model.borrow_mut();
        model.advance(self.latency_us);
        model.write(offset, value)
    }
}

pub type SimHcd<'m, 'd> = Hcd<LaggingRegs<'m, 'd>, ModelClock<'m, 'd>>;

/// The controller driver running against the model.
pub struct SimHost<'m, 'd> {
    model: &'m RefCell<Dwc2Model<'d>>,
    hcd: SimHcd<'m, 'd>,
    /// Interrupt services performed (a rough measure of driver work).
    pub irqs: u64,
}

impl<'m, 'd> SimHost<'m, 'd> {
    /// Initialises the driver (core reset, host mode, port power).
    pub fn new(model: &'m RefCell<Dwc2Model<'d>>) -> Self {
        Self::with_register_latency(model, 0)
    }

    /// Like [`SimHost::new`], with every register access taking `latency_us` of model time.
    pub fn with_register_latency(model: &'m RefCell<Dwc2Model<'d>>, latency_us: u64) -> Self {
        let regs = LaggingRegs { model, latency_us };
        let mut hcd = Hcd::new(regs, ModelClock(model));
        hcd.init().expect("controller initialisation");
        SimHost {
            model,
            hcd,
            irqs: 0,
        }
    }

    pub fn model(&self) -> &'m RefCell<Dwc2Model<'d>> {
        self.model
    }

    pub fn hcd(&mut self) -> &mut SimHcd<'m, 'd> {
        &mut self.hcd
    }

    fn now_us(&self) -> u64 {
        self.model.borrow().now_us()
    }

    /// One turn of the event loop: a bus transaction (or idle time up to `limit_us`), then
    /// interrupt service and scheduling.
    fn turn(&mut self, lease: &mut Lease<'_>, limit_us: u64) {
        let progressed = self.model.borrow_mut().step();
        if !progressed {
            self.model.borrow_mut().idle_until(limit_us);
        }
        if self.model.borrow().irq_pending() {
            self.irqs += 1;
            self.hcd.on_irq(lease);
        }
        self.hcd.service(lease);
    }

    fn run(
        &mut self,
        pipe: PipeId,
        request: Request,
        mut lease: Lease<'_>,
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        self.hcd.submit(pipe, request, timeout_ms)?;
        let give_up = self.now_us() + u64::from(timeout_ms) * 1000 + LOST_TRANSFER_MARGIN_US;
        self.hcd.service(&mut lease);
        loop {
            if let Some(result) = self.hcd.take_completion(pipe) {
                return result;
            }
            assert!(
                self.now_us() < give_up,
                "transfer on {pipe:?} never completed"
            );
            self.turn(&mut lease, u64::MAX);
        }
    }

    /// Lets `ms` of virtual time pass while servicing the controller.
    pub fn idle_ms(&mut self, ms: u32) {
        let until = self.now_us() + u64::from(ms) * 1000;
        while self.now_us() < until {
            self.turn(&mut Lease::None, until);
        }
    }
}

impl HostController for SimHost<'_, '_> {
    fn root_port(&mut self) -> RootPort {
        self.idle_ms(0);
        if self.model.borrow().irq_pending() {
            self.hcd.on_irq(&mut Lease::None);
        }
        let events = self.hcd.take_port_events();
        RootPort {
            connect_changed: events.connect_changed || events.disconnected,
            ..self.hcd.root_port()
        }
    }

    fn reset_root_port(&mut self) -> Result<Speed, XferError> {
        self.hcd
            .port_reset_begin()
            .map_err(|_| XferError::Disconnected)?;
        self.idle_ms(ROOT_RESET_MS);
        let speed = self
            .hcd
            .port_reset_end()
            .map_err(|_| XferError::Disconnected)?;
        self.idle_ms(RESET_RECOVERY_MS);
        Ok(speed)
    }

    fn open_pipe(&mut self, spec: PipeSpec) -> Result<PipeId, XferError> {
        self.hcd.open_pipe(spec)
    }

    fn retarget_pipe(
        &mut self,
        pipe: PipeId,
        address: u8,
        max_packet: u16,
    ) -> Result<(), XferError> {
        self.hcd.retarget_pipe(pipe, address, max_packet)
    }

    fn close_pipe(&mut self, pipe: PipeId) {
        self.hcd.close_pipe(pipe);
        self.hcd.take_completion(pipe);
    }

    fn reset_toggle(&mut self, pipe: PipeId) -> Result<(), XferError> {
        self.hcd.reset_toggle(pipe)
    }

    fn control(
        &mut self,
        pipe: PipeId,
        setup: &SetupPacket,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        let data = data
            .get_mut(..usize::from(setup.length))
            .ok_or(XferError::TooLarge)?;
        let lease = match setup.direction() {
            usb_host_api::Direction::In => Lease::In(pipe, data),
            usb_host_api::Direction::Out => Lease::Out(pipe, data),
        };
        self.run(pipe, Request::Control { setup: *setup }, lease, timeout_ms)
    }

    fn transfer_in(
        &mut self,
        pipe: PipeId,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        let len = buf.len();
        self.run(pipe, Request::In { len }, Lease::In(pipe, buf), timeout_ms)
    }

    fn transfer_out(
        &mut self,
        pipe: PipeId,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        let len = data.len();
        self.run(
            pipe,
            Request::Out { len, zlp },
            Lease::Out(pipe, data),
            timeout_ms,
        )
    }

    fn delay_ms(&mut self, ms: u32) {
        self.idle_ms(ms);
    }
}
