//! Client of the USB CDC-ACM driver, `task/usb-cdc` (`idl/usb-cdc.idol`).
//!
//! A [`PortHandle`] names one binding of one incarnation of the driver (the core's binding
//! slot and generation; the core gives a binding a new generation when the driver restarts)
//! and the device the port is on. After an unplug or a driver restart the old handle fails
//! with [`SerialError::Stale`], and the application calls `open` again. A call in flight when
//! the driver dies ends with `CallError::Gone`.
#![no_std]

use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use usb_class_cdc::CdcError;
use usb_host_api::{PortError, XferError};
use usb_proto::cdc::LineCoding;

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why a serial-port operation failed.
    pub enum SerialError {
        /// The handle is from before an unplug or a restart of the driver.
        Stale = 1,
        /// No port at that index.
        NoPort = 2,
        /// The line coding is out of range (zero rate, stop bits > 2, parity > 4, data bits
        /// other than 5, 6, 7, 8 or 16), or the adapter reported such a one.
        BadLineCoding = 3,
        /// The read lease is shorter than one packet of the adapter's bulk IN endpoint.
        ShortLease = 4,
        /// The adapter did not take the bytes in time (its buffer stayed full).
        Timeout = 5,
        /// The adapter went away mid-transfer.
        Disconnected = 6,
        /// The bus transfer failed (stall, babble, refused request).
        Transport = 7,
    }
}

impl From<CdcError> for SerialError {
    fn from(e: CdcError) -> Self {
        match e {
            CdcError::InvalidLineCoding => SerialError::BadLineCoding,
            CdcError::Port(PortError::Stale) => SerialError::Stale,
            CdcError::Port(PortError::Xfer(XferError::Timeout)) => SerialError::Timeout,
            CdcError::Port(PortError::Xfer(XferError::Disconnected)) => SerialError::Disconnected,
            // Attach-time errors: a served port has passed them.
            CdcError::NotAcm | CdcError::NoDataInterface | CdcError::Port(_) => {
                SerialError::Transport
            }
        }
    }
}

/// One port: the core's binding slot and generation, and the device's, each with the core
/// incarnation (`epoch`) that gave it out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct PortHandle {
    pub binding_slot: u8,
    pub binding_generation: u16,
    pub binding_epoch: u32,
    pub device_slot: u8,
    pub device_generation: u16,
    pub device_epoch: u32,
}

/// A port's handle and the smallest lease a `read` takes (the bulk IN packet size).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct PortInfo {
    pub handle: PortHandle,
    pub read_len: u16,
}

/// The line coding on the wire (CDC 1.2 GET/SET_LINE_CODING fields).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct Coding {
    pub baud: u32,
    /// 0 = 1 stop bit, 1 = 1.5, 2 = 2.
    pub stop_bits: u8,
    /// 0 none, 1 odd, 2 even, 3 mark, 4 space.
    pub parity: u8,
    pub data_bits: u8,
}

impl From<LineCoding> for Coding {
    fn from(c: LineCoding) -> Self {
        Coding {
            baud: c.baud,
            stop_bits: c.stop_bits,
            parity: c.parity,
            data_bits: c.data_bits,
        }
    }
}

impl From<Coding> for LineCoding {
    fn from(c: Coding) -> Self {
        LineCoding {
            baud: c.baud,
            stop_bits: c.stop_bits,
            parity: c.parity,
            data_bits: c.data_bits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_binding_is_a_stale_handle_and_bus_faults_are_not() {
        assert_eq!(
            SerialError::from(CdcError::Port(PortError::Stale)),
            SerialError::Stale
        );
        assert_eq!(
            SerialError::from(CdcError::Port(PortError::Xfer(XferError::Disconnected))),
            SerialError::Disconnected
        );
        assert_eq!(
            SerialError::from(CdcError::Port(PortError::Xfer(XferError::Timeout))),
            SerialError::Timeout
        );
        assert_eq!(
            SerialError::from(CdcError::Port(PortError::Xfer(XferError::Stall))),
            SerialError::Transport
        );
        assert_eq!(
            SerialError::from(CdcError::InvalidLineCoding),
            SerialError::BadLineCoding
        );
    }

    #[test]
    fn the_line_coding_survives_the_wire_form() {
        let coding = LineCoding {
            baud: 115_200,
            stop_bits: 2,
            parity: 1,
            data_bits: 7,
        };
        assert_eq!(LineCoding::from(Coding::from(coding)), coding);
    }
}
