//! CDC-ACM driver logic.
//!
//! What it is: the logic of the `usb-cdc` task for one binding (a communication interface
//! plus its data interface).
//!
//! Invariants:
//! * the data interface is taken from the Union functional descriptor, else from the IAD, and
//!   is only accepted if it exists in the same configuration with class 0x0A and a bulk pair
//!   (doc/usb-host.md 3.3: don't trust bDataInterface/Union indices);
//! * a write whose length is a non-zero multiple of the bulk OUT packet size is followed by a
//!   zero-length packet, so the device sees the end of the transfer; an empty write puts
//!   nothing on the bus;
//! * a read returns one bulk IN packet (≤ the buffer); "no data in time" is `Ok(0)`, not an
//!   error (NAK is flow control);
//! * [`CdcAcm::bring_up`] is the same at first bind and after a driver restart: clear-halt
//!   on both bulk endpoints (the new incarnation's pipes start at DATA0, the device's toggles
//!   may not), then DTR and RTS on. It never drops DTR (a drop resets some boards) and leaves
//!   the line coding to the device, which keeps it across a driver restart
//!   (doc/usb-host.md 3.3 and 6.4).
//!
//! Who talks to it: the `usb-cdc` task and the end-to-end tests.
#![no_std]
#![forbid(unsafe_code)]

use usb_host_api::{ClassPort, Direction, EpAddr, EpType, PortError, XferError};
use usb_proto::cdc::{self, LineCoding};
use usb_proto::walk::{Configuration, InterfaceInfo};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CdcError {
    NotAcm,
    /// No usable data interface (missing, wrong class, or no bulk pair).
    NoDataInterface,
    InvalidLineCoding,
    Port(PortError),
}

impl From<PortError> for CdcError {
    fn from(e: PortError) -> Self {
        CdcError::Port(e)
    }
}

const WRITE_TIMEOUT_MS: u32 = 1000;

pub struct CdcAcm {
    comm_interface: u8,
    pub data_interface: u8,
    bulk_in: EpAddr,
    bulk_in_packet: usize,
    bulk_out: EpAddr,
}

fn data_interface_of(config: &Configuration<'_>, comm: &InterfaceInfo) -> Option<u8> {
    match cdc::union_of(config, comm) {
        Some(u) if u.control == comm.number => Some(u.subordinate),
        Some(_) => None,
        None => comm
            .function
            .filter(|f| f.interface_count >= 2)
            .map(|_| comm.number + 1),
    }
}

impl CdcAcm {
    pub fn attach(config: &Configuration<'_>, interface: u8) -> Result<Self, CdcError> {
        let comm = config
            .interfaces()
            .find(|i| i.number == interface && i.alternate == 0)
            .filter(|i| i.class == cdc::CLASS_COMM && i.subclass == cdc::SUBCLASS_ACM)
            .ok_or(CdcError::NotAcm)?;
        let data_number = data_interface_of(config, comm).ok_or(CdcError::NoDataInterface)?;
        let data = config
            .interfaces()
            .find(|i| i.number == data_number && i.class == cdc::CLASS_DATA)
            .ok_or(CdcError::NoDataInterface)?;
        let bulk_in = data
            .endpoint(EpType::Bulk, Direction::In)
            .ok_or(CdcError::NoDataInterface)?;
        let bulk_out = data
            .endpoint(EpType::Bulk, Direction::Out)
            .ok_or(CdcError::NoDataInterface)?;
        Ok(CdcAcm {
            comm_interface: interface,
            data_interface: data_number,
            bulk_in: bulk_in.addr,
            bulk_in_packet: usize::from(bulk_in.max_packet_size),
            bulk_out: bulk_out.addr,
        })
    }

    /// The bulk IN packet size: a read buffer shorter than this cannot take a full packet.
    pub fn read_len(&self) -> usize {
        self.bulk_in_packet
    }

    /// Puts the device's bulk toggles in step with freshly opened pipes and raises DTR and
    /// RTS: the first bring-up and the resynchronisation of a restarted driver alike.
    pub fn bring_up(&self, port: &mut impl ClassPort) -> Result<(), CdcError> {
        port.clear_halt(self.bulk_in)?;
        port.clear_halt(self.bulk_out)?;
        self.set_control_lines(port, true, true)
    }

    pub fn set_line_coding(
        &self,
        port: &mut impl ClassPort,
        coding: LineCoding,
    ) -> Result<(), CdcError> {
        if !coding.is_valid() {
            return Err(CdcError::InvalidLineCoding);
        }
        port.control(
            &cdc::set_line_coding(self.comm_interface),
            &mut coding.to_bytes(),
        )?;
        Ok(())
    }

    pub fn line_coding(&self, port: &mut impl ClassPort) -> Result<LineCoding, CdcError> {
        let mut bytes = [0u8; LineCoding::LEN];
        let n = port.control(&cdc::get_line_coding(self.comm_interface), &mut bytes)?;
        LineCoding::parse(&bytes[..n]).ok_or(CdcError::InvalidLineCoding)
    }

    pub fn set_control_lines(
        &self,
        port: &mut impl ClassPort,
        dtr: bool,
        rts: bool,
    ) -> Result<(), CdcError> {
        let lines = if dtr { cdc::DTR } else { 0 } | if rts { cdc::RTS } else { 0 };
        port.control(
            &cdc::set_control_line_state(self.comm_interface, lines),
            &mut [],
        )?;
        Ok(())
    }

    /// Writes all of `data` (ZLP-terminated when it fills whole packets). Nothing is a no-op:
    /// a lone ZLP would reach the device as an (empty) transfer it did not ask for.
    pub fn write(&self, port: &mut impl ClassPort, data: &[u8]) -> Result<usize, CdcError> {
        if data.is_empty() {
            return Ok(0);
        }
        Ok(port.transfer_out(self.bulk_out, data, true, WRITE_TIMEOUT_MS)?)
    }

    /// Reads at most one packet that arrives within `timeout_ms` (0 bytes if nothing did).
    /// One packet per read, so a timeout can never strand bytes already received.
    pub fn read(
        &self,
        port: &mut impl ClassPort,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, CdcError> {
        let len = buf.len().min(self.bulk_in_packet);
        match port.transfer_in(self.bulk_in, &mut buf[..len], timeout_ms) {
            Err(PortError::Xfer(XferError::Timeout)) => Ok(0),
            other => Ok(other?),
        }
    }
}
