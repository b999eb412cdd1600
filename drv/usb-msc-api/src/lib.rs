//! Client of the USB mass-storage driver, `task/usb-msc` (`idl/usb-msc.idol`).
//!
//! A [`DiskHandle`] names one binding of one incarnation of the driver (the core's binding
//! slot and generation): after an unplug or a driver restart the old handle fails with
//! [`DiskError::Stale`], and the application asks `disk` for the new one. A call in flight
//! when the driver dies ends with `CallError::Gone`.
#![no_std]

use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use usb_class_msc::MscError;
use usb_host_api::{PortError, XferError};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why a disk operation failed.
    pub enum DiskError {
        /// The handle is from before an unplug or a restart of the driver.
        Stale = 1,
        /// No disk at that index.
        NoDisk = 2,
        /// The blocks are past the end of the disk.
        OutOfRange = 3,
        /// The lease is not a whole number of blocks.
        BadLength = 4,
        /// The device reported a failed command (its sense data is in the driver's ring buffer).
        Medium = 5,
        /// The transport broke (bad status, phase error, refused command); the next command
        /// starts with reset recovery.
        Transport = 6,
        /// The device did not answer in time.
        Timeout = 7,
        /// The device went away mid-command.
        Disconnected = 8,
        /// The device never became ready, or reported an impossible capacity.
        NotReady = 9,
    }
}

impl From<MscError> for DiskError {
    fn from(e: MscError) -> Self {
        match e {
            MscError::OutOfRange => DiskError::OutOfRange,
            MscError::BadLength => DiskError::BadLength,
            MscError::CommandFailed(_) | MscError::SenseUnavailable => DiskError::Medium,
            MscError::CbwRejected | MscError::BadCsw | MscError::PhaseError => DiskError::Transport,
            MscError::NeverReady
            | MscError::BadCapacity
            | MscError::NotBulkOnly
            | MscError::MissingEndpoint => DiskError::NotReady,
            MscError::Port(PortError::Stale) => DiskError::Stale,
            MscError::Port(PortError::Xfer(XferError::Timeout)) => DiskError::Timeout,
            MscError::Port(PortError::Xfer(XferError::Disconnected)) => DiskError::Disconnected,
            MscError::Port(_) => DiskError::Transport,
        }
    }
}

/// One disk: the core's binding slot and generation, and the core incarnation (`epoch`)
/// that bound it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct DiskHandle {
    pub slot: u8,
    pub generation: u16,
    pub epoch: u32,
}

/// A disk's handle and capacity.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct DiskInfo {
    pub blocks: u32,
    pub block_len: u32,
    pub handle: DiskHandle,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_binding_is_a_stale_handle_and_transport_faults_are_not() {
        assert_eq!(
            DiskError::from(MscError::Port(PortError::Stale)),
            DiskError::Stale
        );
        assert_eq!(
            DiskError::from(MscError::Port(PortError::Xfer(XferError::Disconnected))),
            DiskError::Disconnected
        );
        assert_eq!(DiskError::from(MscError::PhaseError), DiskError::Transport);
        assert_eq!(
            DiskError::from(MscError::Port(PortError::Xfer(XferError::Stall))),
            DiskError::Transport
        );
        assert_eq!(DiskError::from(MscError::OutOfRange), DiskError::OutOfRange);
    }
}
