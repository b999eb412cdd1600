//! Client of the USB host controller driver, `task/usb-hcd` (`idl/usb-hcd.idol`,
//! doc/usb-host.md 6.2).
//!
//! What it is: the generated [`UsbHcdClient`]; the wire forms the interface carries
//! ([`HcdError`], [`RootPortStatus`], speeds and endpoint types as `u8`, pipe handles as
//! `u32`, see [`wire`]); the server's table of who owns which pipe ([`owners`]), kept here
//! so it is host-tested; and [`IpcHostController`], `usb_host_api::HostController` over the
//! client, so `usb-core-logic` runs unchanged in the `usb-core` task.
//!
//! Invariants:
//! * a pipe handle names one pipe of one incarnation of the driver: after the driver
//!   restarts, or the pipe is closed, the handle is refused as stale (`BadPipe`);
//! * a pipe is owned by exactly one task incarnation; any other caller gets `NotOwner`;
//! * bad values from a client (an unknown speed, a short lease) are answered with an error
//!   code, never with a fault of the server.
#![no_std]

pub mod owners;
pub mod power;
pub mod wire;

pub use power::PowerStatus;

use idol_runtime::CallError;
use idol_runtime::abi::{Incarnation, TaskId};
use idol_runtime::zerocopy::{Immutable, IntoBytes, KnownLayout, TryFromBytes};
use usb_host_api::{
    DriverKind, HostController, PipeId, PipeSpec, RootPort, SetupPacket, Speed, XferError,
};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

/// The longest data lease of `control`, `transfer_in` and `transfer_out` (their `max_len`).
pub const MAX_TRANSFER: usize = 4096;
/// The most IN data a `start_control` transfer may carry (`finish_control`'s `max_len`).
pub const MAX_STARTED_CONTROL: usize = 256;

idol_runtime::error_enum! {
    /// Why a request to the controller driver failed: `usb_host_api::XferError` on the wire,
    /// plus the refusals of the IPC layer.
    pub enum HcdError {
        Stall = 1,
        Timeout = 2,
        TransactionError = 3,
        Babble = 4,
        DataToggle = 5,
        Disconnected = 6,
        Canceled = 7,
        /// The pipe handle is stale (closed, or from an earlier incarnation of the driver).
        BadPipe = 8,
        Busy = 9,
        NoResources = 10,
        TooLarge = 11,
        BufferFault = 12,
        /// The pipe belongs to another task incarnation.
        NotOwner = 13,
        /// An argument is out of range (an unknown speed or endpoint type, or an owner that
        /// names no task).
        BadArgument = 14,
        /// The control data lease is shorter than the setup packet's wLength.
        ShortLease = 15,
        /// The transfer `start_control` began has not ended yet.
        Pending = 16,
    }
}

impl From<XferError> for HcdError {
    fn from(e: XferError) -> Self {
        match e {
            XferError::Stall => HcdError::Stall,
            XferError::Timeout => HcdError::Timeout,
            XferError::TransactionError => HcdError::TransactionError,
            XferError::Babble => HcdError::Babble,
            XferError::DataToggle => HcdError::DataToggle,
            XferError::Disconnected => HcdError::Disconnected,
            XferError::Canceled => HcdError::Canceled,
            XferError::BadPipe => HcdError::BadPipe,
            XferError::Busy => HcdError::Busy,
            XferError::NoResources => HcdError::NoResources,
            XferError::TooLarge => HcdError::TooLarge,
            XferError::BufferFault => HcdError::BufferFault,
        }
    }
}

impl HcdError {
    /// The `XferError` a `HostController` user sees. The IPC refusals fold into the nearest
    /// transfer error: a pipe the caller may not use is as unusable as a stale one, a bad
    /// argument is a request the controller cannot carry, a short lease a buffer it cannot
    /// fill.
    pub fn to_xfer(self) -> XferError {
        match self {
            HcdError::Stall => XferError::Stall,
            HcdError::Timeout => XferError::Timeout,
            HcdError::TransactionError => XferError::TransactionError,
            HcdError::Babble => XferError::Babble,
            HcdError::DataToggle => XferError::DataToggle,
            HcdError::Disconnected => XferError::Disconnected,
            HcdError::Canceled => XferError::Canceled,
            HcdError::BadPipe | HcdError::NotOwner => XferError::BadPipe,
            HcdError::Busy | HcdError::Pending => XferError::Busy,
            HcdError::NoResources => XferError::NoResources,
            HcdError::TooLarge | HcdError::BadArgument => XferError::TooLarge,
            HcdError::BufferFault | HcdError::ShortLease => XferError::BufferFault,
        }
    }
}

/// The root port as `root_port` reports it.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct RootPortStatus {
    pub connected: bool,
    pub enabled: bool,
    /// A connect or disconnect happened since the previous `root_port`.
    pub connect_changed: bool,
}

impl From<RootPort> for RootPortStatus {
    fn from(p: RootPort) -> Self {
        RootPortStatus {
            connected: p.connected,
            enabled: p.enabled,
            connect_changed: p.connect_changed,
        }
    }
}

impl From<RootPortStatus> for RootPort {
    fn from(p: RootPortStatus) -> Self {
        RootPort {
            connected: p.connected,
            enabled: p.enabled,
            connect_changed: p.connect_changed,
        }
    }
}

/// What a failed call means to a `HostController` user. A driver that died or was
/// restarted has lost every pipe and the port state with it: that is a disconnect.
pub fn call_error(e: CallError<HcdError>) -> XferError {
    match e {
        CallError::Op(e) => e.to_xfer(),
        CallError::Gone(_) => XferError::Disconnected,
        CallError::BadReply | CallError::Unanswered | CallError::Refused(_) => {
            XferError::TransactionError
        }
    }
}

/// The wire handles behind the `PipeId`s an [`IpcHostController`] has handed out.
///
/// `PipeId` has no room for the driver's epoch, so the client keeps the full handles and
/// issues its own generations: a slot reused by a restarted driver gets a new generation
/// here too, and a `PipeId` from before the restart is refused as stale without a call.
pub struct ClientPipes {
    slots: [(u8, Option<u32>); owners::MAX_PIPES],
}

impl ClientPipes {
    pub const fn new() -> Self {
        ClientPipes {
            slots: [(0, None); owners::MAX_PIPES],
        }
    }

    /// Records the handle of a pipe just opened; a slot index the driver cannot have issued
    /// is a bad reply.
    pub fn insert(&mut self, handle: u32) -> Result<PipeId, XferError> {
        let index = wire::PipeHandle::from_raw(handle).pipe.index;
        let slot = self
            .slots
            .get_mut(usize::from(index))
            .ok_or(XferError::TransactionError)?;
        slot.0 = slot.0.wrapping_add(1);
        slot.1 = Some(handle);
        Ok(PipeId {
            index,
            generation: slot.0,
        })
    }

    pub fn get(&self, pipe: PipeId) -> Result<u32, XferError> {
        match self.slots.get(usize::from(pipe.index)) {
            Some(&(generation, Some(handle))) if generation == pipe.generation => Ok(handle),
            _ => Err(XferError::BadPipe),
        }
    }

    pub fn remove(&mut self, pipe: PipeId) -> Option<u32> {
        let handle = self.get(pipe).ok()?;
        self.slots[usize::from(pipe.index)].1 = None;
        Some(handle)
    }
}

impl Default for ClientPipes {
    fn default() -> Self {
        Self::new()
    }
}

/// `usb_host_api::HostController` over IPC to `usb-hcd`. Pipes it opens are owned by the
/// calling task's current incarnation, except a binding's data pipes
/// ([`HostController::open_driver_pipe`]), which are owned by the class driver's task that
/// [`IpcHostController::with_driver_tasks`] names.
pub struct IpcHostController {
    hcd: UsbHcdClient,
    pipes: ClientPipes,
    /// Notification bit for the kernel timer of [`HostController::delay_ms`].
    timer_bit: u32,
    /// The current incarnation of the task serving a class driver, if the image has one.
    driver_task: fn(DriverKind) -> Option<TaskId>,
}

impl IpcHostController {
    /// A controller reached through the `usb-hcd` task `hcd`; `timer_bit` is a notification
    /// bit of the calling task used for nothing but `delay_ms`.
    pub const fn new(hcd: Incarnation, timer_bit: u32) -> Self {
        IpcHostController {
            hcd: UsbHcdClient::new(hcd),
            pipes: ClientPipes::new(),
            timer_bit,
            driver_task: |_| None,
        }
    }

    /// The same controller, opening each binding's data pipes for the task `driver_task`
    /// names (the USB core's class-driver tasks); without it `open_driver_pipe` fails with
    /// `NoResources`, as no task could use the pipe.
    pub const fn with_driver_tasks(self, driver_task: fn(DriverKind) -> Option<TaskId>) -> Self {
        IpcHostController {
            driver_task,
            ..self
        }
    }

    /// The raw `usb-hcd` handle of `pipe`: what the owner of a driver pipe passes to
    /// `usb-hcd` itself.
    pub fn handle(&self, pipe: PipeId) -> Result<u32, XferError> {
        self.pipes.get(pipe)
    }

    /// The client, for the operations `HostController` does not have.
    pub fn client(&self) -> &UsbHcdClient {
        &self.hcd
    }
}

impl HostController for IpcHostController {
    /// A driver that cannot be reached reports a disconnect that is also a change, so the
    /// core drops its device tree and enumerates again once the driver is back.
    fn root_port(&mut self) -> RootPort {
        self.hcd
            .root_port()
            .map(RootPort::from)
            .unwrap_or(RootPort {
                connected: false,
                enabled: false,
                connect_changed: true,
            })
    }

    fn reset_root_port(&mut self) -> Result<Speed, XferError> {
        let speed = self.hcd.reset_root_port().map_err(call_error)?;
        wire::speed(speed).ok_or(XferError::TransactionError)
    }

    fn open_pipe(&mut self, spec: PipeSpec) -> Result<PipeId, XferError> {
        let handle = self
            .hcd
            .open_pipe(
                spec.address,
                spec.endpoint.0,
                wire::ep_type_code(spec.ty),
                spec.max_packet,
                spec.interval,
                wire::speed_code(spec.speed),
            )
            .map_err(call_error)?;
        self.pipes.insert(handle)
    }

    fn open_driver_pipe(
        &mut self,
        driver: DriverKind,
        spec: PipeSpec,
    ) -> Result<PipeId, XferError> {
        let owner = (self.driver_task)(driver).ok_or(XferError::NoResources)?;
        let handle = self
            .hcd
            .open_pipe_for(
                owner.0,
                spec.address,
                spec.endpoint.0,
                wire::ep_type_code(spec.ty),
                spec.max_packet,
                spec.interval,
                wire::speed_code(spec.speed),
            )
            .map_err(call_error)?;
        self.pipes.insert(handle)
    }

    fn retarget_pipe(
        &mut self,
        pipe: PipeId,
        address: u8,
        max_packet: u16,
    ) -> Result<(), XferError> {
        self.hcd
            .retarget_pipe(self.pipes.get(pipe)?, address, max_packet)
            .map_err(call_error)
    }

    /// Errors are dropped: a pipe that is already stale, or a driver that is gone, leaves
    /// nothing to close. A pipe opened for a class driver is the driver's, so the core
    /// closes it with `close_pipe_for` (when its device goes away: no pipe outlives it).
    fn close_pipe(&mut self, pipe: PipeId) {
        if let Some(handle) = self.pipes.remove(pipe)
            && self.hcd.close_pipe(handle) == Err(CallError::Op(HcdError::NotOwner))
        {
            let _ = self.hcd.close_pipe_for(handle);
        }
    }

    fn reset_toggle(&mut self, pipe: PipeId) -> Result<(), XferError> {
        self.hcd
            .reset_toggle(self.pipes.get(pipe)?)
            .map_err(call_error)
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
            .filter(|d| d.len() <= MAX_TRANSFER)
            .ok_or(XferError::TooLarge)?;
        let handle = self.pipes.get(pipe)?;
        self.hcd
            .control(handle, setup.to_bytes(), timeout_ms, data)
            .map(|n| n as usize)
            .map_err(call_error)
    }

    fn transfer_in(
        &mut self,
        pipe: PipeId,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        if buf.len() > MAX_TRANSFER {
            return Err(XferError::TooLarge);
        }
        let handle = self.pipes.get(pipe)?;
        self.hcd
            .transfer_in(handle, timeout_ms, buf)
            .map(|n| n as usize)
            .map_err(call_error)
    }

    fn transfer_out(
        &mut self,
        pipe: PipeId,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        if data.len() > MAX_TRANSFER {
            return Err(XferError::TooLarge);
        }
        let handle = self.pipes.get(pipe)?;
        self.hcd
            .transfer_out(handle, zlp, timeout_ms, data)
            .map(|n| n as usize)
            .map_err(call_error)
    }

    fn delay_ms(&mut self, ms: u32) {
        idol_runtime::userlib::sleep_for(u64::from(ms), self.timer_bit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wire::PipeHandle;

    fn handle(epoch: u16, index: u8, generation: u8) -> u32 {
        PipeHandle {
            epoch,
            pipe: PipeId { index, generation },
        }
        .raw()
    }

    #[test]
    fn pipe_from_before_a_driver_restart_is_stale_even_when_its_slot_is_reissued() {
        let mut pipes = ClientPipes::new();
        let old = pipes.insert(handle(1, 4, 0)).unwrap();
        assert_eq!(pipes.get(old), Ok(handle(1, 4, 0)));
        // The restarted driver (epoch 2) hands out the same slot and generation.
        let new = pipes.insert(handle(2, 4, 0)).unwrap();
        assert_ne!(old, new);
        assert_eq!(pipes.get(old), Err(XferError::BadPipe));
        assert_eq!(pipes.get(new), Ok(handle(2, 4, 0)));
    }

    #[test]
    fn removed_pipe_is_stale_and_out_of_range_slot_is_a_bad_reply() {
        let mut pipes = ClientPipes::new();
        let p = pipes.insert(handle(1, 15, 3)).unwrap();
        assert_eq!(pipes.remove(p), Some(handle(1, 15, 3)));
        assert_eq!(pipes.remove(p), None);
        assert_eq!(pipes.get(p), Err(XferError::BadPipe));
        assert_eq!(
            pipes.insert(handle(1, owners::MAX_PIPES as u8, 0)),
            Err(XferError::TransactionError)
        );
    }

    #[test]
    fn every_transfer_error_survives_the_wire() {
        use XferError::*;
        for e in [
            Stall,
            Timeout,
            TransactionError,
            Babble,
            DataToggle,
            Disconnected,
            Canceled,
            BadPipe,
            Busy,
            NoResources,
            TooLarge,
            BufferFault,
        ] {
            assert_eq!(HcdError::from(e).to_xfer(), e);
        }
        assert_eq!(HcdError::NotOwner.to_xfer(), BadPipe);
        assert_eq!(HcdError::ShortLease.to_xfer(), BufferFault);
    }
}
