//! Contracts between the layers of the USB host stack (doc/usb-host.md 6.2) in blocking form.
//!
//! What it is: the identifiers, error enums and the two service traits through which
//! `usb-core-logic` reaches the controller ([`HostController`]) and class drivers reach their
//! device ([`ClassPort`]). A Hubris task implements these with IPC; host tests implement them
//! over `dwc2-hcd-core` driving `usb-model`.
//!
//! Invariants the implementations must keep (and the tests check):
//! * every submitted transfer completes exactly once: with data, or with an [`XferError`];
//! * a [`PipeId`] names one incarnation of a pipe: once closed, its generation is dead and
//!   every use fails with [`XferError::BadPipe`];
//! * `transfer_in` never writes past the buffer it was given, whatever the device sends.
#![no_std]
#![forbid(unsafe_code)]

pub use usb_proto::setup::SetupPacket;
pub use usb_proto::{Direction, EpAddr, EpType, Speed};

/// Why a transfer did not complete normally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XferError {
    /// The endpoint answered STALL.
    Stall,
    /// The deadline passed (typically: the device NAKed throughout).
    Timeout,
    /// Three consecutive transactions failed (CRC, timeout, bit stuffing).
    TransactionError,
    /// The device sent more than the buffer or packet allows.
    Babble,
    /// Data-toggle errors persisted across retries.
    DataToggle,
    /// The device went away (or its port was disabled) while the transfer was pending.
    Disconnected,
    /// Cancelled by the owner or because its pipe was closed.
    Canceled,
    /// The pipe handle is stale or was never opened.
    BadPipe,
    /// The pipe already has a transfer in flight.
    Busy,
    /// No free pipe slot.
    NoResources,
    /// More data than one transfer can carry.
    TooLarge,
    /// The caller's buffer could not be read or written (a dead client's lease).
    BufferFault,
}

/// Generation-qualified pipe handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeId {
    pub index: u8,
    pub generation: u8,
}

/// What the controller needs to know about an endpoint; it never parses descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeSpec {
    pub address: u8,
    pub endpoint: EpAddr,
    pub ty: EpType,
    pub max_packet: u16,
    /// Polling interval in frames (interrupt endpoints).
    pub interval: u8,
    pub speed: Speed,
}

/// Root-port state as seen by the USB core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RootPort {
    pub connected: bool,
    pub enabled: bool,
    /// A connect or disconnect happened since the last query.
    pub connect_changed: bool,
}

/// Class drivers the USB core can bind a function to (each one task in the task design).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverKind {
    Hid,
    MassStorage,
    CdcAcm,
    Hub,
}

impl core::fmt::Display for DriverKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DriverKind::Hid => "HID",
            DriverKind::MassStorage => "mass storage",
            DriverKind::CdcAcm => "CDC-ACM",
            DriverKind::Hub => "hub",
        })
    }
}

/// The controller service the USB core uses (`usb-hcd` in the task design).
pub trait HostController {
    fn root_port(&mut self) -> RootPort;
    /// Resets the root port (hold, release, recovery) and returns the device speed.
    fn reset_root_port(&mut self) -> Result<Speed, XferError>;
    fn open_pipe(&mut self, spec: PipeSpec) -> Result<PipeId, XferError>;
    /// Opens a data pipe of a binding for the class driver `driver`, which will submit its
    /// transfers (in the task design the pipe is owned by that driver's task, so nobody
    /// else may use it). Where the core and the drivers share one caller (the host-test
    /// harness) this is `open_pipe`.
    fn open_driver_pipe(
        &mut self,
        _driver: DriverKind,
        spec: PipeSpec,
    ) -> Result<PipeId, XferError> {
        self.open_pipe(spec)
    }
    /// Points an EP0 pipe at a new address / packet size (after SET_ADDRESS).
    fn retarget_pipe(
        &mut self,
        pipe: PipeId,
        address: u8,
        max_packet: u16,
    ) -> Result<(), XferError>;
    /// Closes the pipe; an in-flight transfer completes with `Canceled`.
    fn close_pipe(&mut self, pipe: PipeId);
    /// Host toggle back to DATA0 (after CLEAR_FEATURE(HALT), SET_CONFIGURATION, SET_INTERFACE).
    fn reset_toggle(&mut self, pipe: PipeId) -> Result<(), XferError>;
    /// A control transfer; `data.len()` must equal `setup.length`.
    fn control(
        &mut self,
        pipe: PipeId,
        setup: &SetupPacket,
        data: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError>;
    fn transfer_in(
        &mut self,
        pipe: PipeId,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError>;
    /// Sends `data`, followed by a zero-length packet when `zlp` and `data` fills whole packets.
    fn transfer_out(
        &mut self,
        pipe: PipeId,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, XferError>;
    fn delay_ms(&mut self, ms: u32);
}

/// Why a class driver's request was not carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortError {
    Xfer(XferError),
    /// The EP0 policy forbids this request for this binding.
    Refused,
    /// The binding no longer exists (device gone, rebound or quarantined).
    Stale,
    /// The endpoint is not part of the binding.
    NoSuchEndpoint,
}

impl From<XferError> for PortError {
    fn from(e: XferError) -> Self {
        PortError::Xfer(e)
    }
}

/// What a class driver may do for one binding (one interface or IAD function of one device).
pub trait ClassPort {
    /// A control request on the device's EP0, subject to the core's EP0 policy.
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Result<usize, PortError>;
    fn transfer_in(
        &mut self,
        ep: EpAddr,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, PortError>;
    fn transfer_out(
        &mut self,
        ep: EpAddr,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, PortError>;
    /// CLEAR_FEATURE(ENDPOINT_HALT) on the device and a host toggle reset, in step.
    fn clear_halt(&mut self, ep: EpAddr) -> Result<(), PortError>;
    fn delay_ms(&mut self, ms: u32);
}
