//! The transfers in flight, who waits for each, and their buffers as the controller driver
//! reaches them.

use dwc2_hcd_core::{BufferFault, TransferBuffers};
use idol_runtime::ReplyToken;
use idol_runtime::abi::Incarnation;
use usb_hcd_api::owners::MAX_PIPES;
use usb_hcd_api::{HcdError, MAX_STARTED_CONTROL};
use usb_host_api::{PipeId, XferError};
use userlib::incarnation_is_current;

use crate::{UsbHcdControlLeases, UsbHcdTransferInLeases, UsbHcdTransferOutLeases, op};

/// A transfer in flight and who waits for it: a caller blocked in `control`,
/// `transfer_in` or `transfer_out` (its token holds its lease), or the USB core's
/// `start_control`, whose data wait in [`Staging`].
pub(crate) enum Pending {
    Control(ReplyToken<u32, HcdError, UsbHcdControlLeases>),
    In(ReplyToken<u32, HcdError, UsbHcdTransferInLeases>),
    Out(ReplyToken<u32, HcdError, UsbHcdTransferOutLeases>),
    Started,
}

impl Pending {
    /// Answers the caller with the transfer's result (a `Started` result is kept instead).
    pub(crate) fn answer(self, result: Result<usize, XferError>) {
        let result = result.map(|n| n as u32).map_err(op);
        match self {
            Pending::Control(token) => token.answer(result),
            Pending::In(token) => token.answer(result),
            Pending::Out(token) => token.answer(result),
            Pending::Started => {}
        }
    }

    /// The caller, if it is still waiting as the incarnation that called.
    pub(crate) fn caller_current(&self) -> bool {
        match self {
            Pending::Control(token) => incarnation_is_current(token.caller()),
            Pending::In(token) => incarnation_is_current(token.caller()),
            Pending::Out(token) => incarnation_is_current(token.caller()),
            Pending::Started => true,
        }
    }
}

/// The one `start_control` transfer: its pipe, the task to post, its IN data and, once it
/// has ended, its result.
pub(crate) struct Staging {
    pub(crate) pipe: Option<PipeId>,
    pub(crate) owner: Incarnation,
    pub(crate) result: Option<Result<usize, XferError>>,
    pub(crate) data: [u8; MAX_STARTED_CONTROL],
}

/// The pending transfers' buffers, as the controller driver reaches them: each pipe's
/// caller lease, or the staging buffer.
pub(crate) struct Buffers<'a> {
    pub(crate) pending: &'a [Option<(PipeId, Pending)>; MAX_PIPES],
    pub(crate) staging: &'a mut [u8; MAX_STARTED_CONTROL],
}

impl Buffers<'_> {
    fn of(&self, pipe: PipeId) -> Option<&Pending> {
        match self.pending.get(usize::from(pipe.index)) {
            Some(Some((id, pending))) if *id == pipe => Some(pending),
            _ => None,
        }
    }
}

impl TransferBuffers for Buffers<'_> {
    fn read_out(&mut self, pipe: PipeId, offset: usize, dst: &mut [u8]) -> Result<(), BufferFault> {
        match self.of(pipe) {
            Some(Pending::Out(token)) => token.leases().data.read_range(offset, dst),
            Some(Pending::Control(token)) => token.leases().data.read_range(offset, dst),
            _ => return Err(BufferFault),
        }
        .map_err(|_| BufferFault)
    }

    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault> {
        match self.of(pipe) {
            Some(Pending::In(token)) => token.leases().buf.write_range(offset, src),
            Some(Pending::Control(token)) => token.leases().data.write_range(offset, src),
            Some(Pending::Started) => {
                let end = offset.checked_add(src.len()).ok_or(BufferFault)?;
                self.staging
                    .get_mut(offset..end)
                    .ok_or(BufferFault)?
                    .copy_from_slice(src);
                return Ok(());
            }
            _ => return Err(BufferFault),
        }
        .map_err(|_| BufferFault)
    }
}
