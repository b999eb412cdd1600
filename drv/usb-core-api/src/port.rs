//! [`IpcClassPort`]: a class driver's view of one binding, over IPC.

use idol_runtime::CallError;
use usb_hcd_api::{UsbHcdClient, call_error};
use usb_host_api::{ClassPort, EpAddr, PortError, SetupPacket};

use crate::{BindingHandle, BindingSummary, UsbCoreClient, UsbCoreError};

/// `ClassPort` for one binding: EP0 through `usb-core` (policy-checked there), data transfers
/// directly to `usb-hcd` on the pipes the core opened for the calling task.
pub struct IpcClassPort<'a> {
    core: &'a UsbCoreClient,
    hcd: &'a UsbHcdClient,
    binding: BindingHandle,
    summary: BindingSummary,
    /// Notification bit of the caller's timer, for `delay_ms`.
    timer_bit: u32,
}

impl<'a> IpcClassPort<'a> {
    /// The port of `binding`, whose pipes `summary` (its `binding_info`) lists.
    pub fn new(
        core: &'a UsbCoreClient,
        hcd: &'a UsbHcdClient,
        binding: BindingHandle,
        summary: &BindingSummary,
        timer_bit: u32,
    ) -> Self {
        IpcClassPort {
            core,
            hcd,
            binding,
            summary: *summary,
            timer_bit,
        }
    }

    fn pipe(&self, ep: EpAddr) -> Result<u32, PortError> {
        self.summary.pipe(ep).ok_or(PortError::NoSuchEndpoint)
    }
}

/// A core that died took every binding with it: the binding is stale.
fn core_error(e: CallError<UsbCoreError>) -> PortError {
    match e {
        CallError::Op(e) => e.to_port(),
        CallError::Gone(_) => PortError::Stale,
        CallError::BadReply | CallError::Unanswered | CallError::Refused(_) => {
            PortError::Xfer(usb_host_api::XferError::TransactionError)
        }
    }
}

impl ClassPort for IpcClassPort<'_> {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Result<usize, PortError> {
        self.core
            .control(self.binding, setup.to_bytes(), data)
            .map(usize::from)
            .map_err(core_error)
    }

    fn transfer_in(
        &mut self,
        ep: EpAddr,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, PortError> {
        let pipe = self.pipe(ep)?;
        self.hcd
            .transfer_in(pipe, timeout_ms, buf)
            .map(|n| n as usize)
            .map_err(|e| PortError::Xfer(call_error(e)))
    }

    fn transfer_out(
        &mut self,
        ep: EpAddr,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, PortError> {
        let pipe = self.pipe(ep)?;
        self.hcd
            .transfer_out(pipe, zlp, timeout_ms, data)
            .map(|n| n as usize)
            .map_err(|e| PortError::Xfer(call_error(e)))
    }

    /// The core clears the device's halt on EP0; the host toggle is reset here, because
    /// only the pipe's owner may touch the pipe.
    fn clear_halt(&mut self, ep: EpAddr) -> Result<(), PortError> {
        let pipe = self.pipe(ep)?;
        self.core
            .clear_halt(self.binding, ep.0)
            .map_err(core_error)?;
        self.hcd
            .reset_toggle(pipe)
            .map_err(|e| PortError::Xfer(call_error(e)))
    }

    fn delay_ms(&mut self, ms: u32) {
        idol_runtime::userlib::sleep_for(u64::from(ms), self.timer_bit);
    }
}
