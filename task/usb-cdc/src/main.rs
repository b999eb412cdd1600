//! The USB CDC-ACM class-driver task (doc/usb-host.md 3.3, 6.1-6.4): one
//! `usb_class_cdc::CdcAcm` per bound serial adapter, each driven through an
//! `usb_core_api::IpcClassPort` (EP0 via `usb-core`, bulk transfers straight to `usb-hcd` on
//! pipes this task owns), served to applications as serial ports (`idl/usb-cdc.idol`).
//!
//! | Event | What the task does |
//! |---|---|
//! | start (first or after a restart) | `hello` to the core; a restart makes the core rebind with `resync` and notify |
//! | `usb` notification | pull events: `Bound` -> `CdcAcm::attach` and `bring_up` (clear-halt on both bulk endpoints, DTR and RTS on: the resync), `ready`; `Unbound` -> forget the port |
//! | the core restarted (`Gone`) | every port is forgotten; `hello` again |
//! | `write` | one bus transfer of the whole lease; returns when the adapter took every byte, or fails after its timeout |
//! | `read` | at most one bulk IN packet, waiting `READ_WAIT_MS` for it; 0 bytes if none came |
//!
//! Reads do not wait for data: a blocked read would hold the whole server (every port and
//! every other client) while the adapter NAKs, so a client that wants to wait polls `read`.
//! A read is one packet so that a wait that ends never strands bytes already received.
//!
//! A port handle is the binding's slot and generation plus the device's, so a handle from
//! before an unplug or a restart of this task fails as `Stale`: the core gave the binding a
//! new generation.
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, Read, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_cdc_api::{Coding, PortHandle, PortInfo, SerialError};
use usb_class_cdc::{CdcAcm, CdcError};
use usb_core_api::driver::{self, Bindings, Change, Served};
use usb_core_api::{BindingHandle, DeviceHandle, IpcClassPort, UsbCoreClient};
use usb_hcd_api::{MAX_TRANSFER, UsbHcdClient};
use userlib::{RecvMessage, task_slot};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

task_slot!(USB_CORE, "usb-core");
task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["usb", "timer"]`.
const USB_BIT: u32 = 1 << 0;
const TIMER_BIT: u32 = 1 << 1;
const MAX_PORTS: usize = 2;
/// How long a read waits for the adapter's first packet.
const READ_WAIT_MS: u32 = 5;
/// The largest read lease (`idl/usb-cdc.idol`): a high-speed bulk packet.
const MAX_READ: usize = 512;

/// The operation that failed, in the ring buffer.
#[derive(Copy, Clone, PartialEq)]
enum Op {
    Write,
    Read,
    SetLineCoding,
    LineCoding,
}

#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    /// This incarnation began (its hello to the core is `Binding(Change::Hello)`).
    Started,
    Binding(Change<CdcError>),
    Failed {
        op: Op,
        error: CdcError,
    },
}

counted_ringbuf!(Trace, 32, Trace::None);

struct Server {
    core: UsbCoreClient,
    hcd: UsbHcdClient,
    ports: Bindings<CdcAcm, MAX_PORTS>,
}

fn handle_of(served: &Served<CdcAcm>) -> PortHandle {
    PortHandle {
        binding_slot: served.binding.slot,
        binding_generation: served.binding.generation,
        binding_epoch: served.binding.epoch,
        device_slot: served.summary.device.slot,
        device_generation: served.summary.device.generation,
        device_epoch: served.summary.device.epoch,
    }
}

impl Server {
    fn pull_events(&mut self) {
        self.ports.pull_events(
            &self.core,
            &self.hcd,
            TIMER_BIT,
            |port, config, interface| {
                let cdc = CdcAcm::attach(config, interface)?;
                cdc.bring_up(port)?;
                Ok(cdc)
            },
            |change| ringbuf_entry!(Trace::Binding(change)),
        );
    }

    /// Runs `step` on the port `handle` names, with its bus port; a handle whose binding or
    /// device is no longer served is `Stale`.
    fn on_port<T>(
        &self,
        handle: PortHandle,
        step: impl FnOnce(&CdcAcm, &mut IpcClassPort<'_>) -> Result<T, RequestError<SerialError>>,
    ) -> Result<T, RequestError<SerialError>> {
        let binding = BindingHandle {
            slot: handle.binding_slot,
            generation: handle.binding_generation,
            epoch: handle.binding_epoch,
        };
        let device = DeviceHandle {
            slot: handle.device_slot,
            generation: handle.device_generation,
            epoch: handle.device_epoch,
        };
        let served = self
            .ports
            .iter()
            .find(|s| s.binding == binding && s.summary.device == device)
            .ok_or(RequestError::Op(SerialError::Stale))?;
        let mut port = served.port(&self.core, &self.hcd, TIMER_BIT);
        step(&served.state, &mut port)
    }
}

/// A class error of `op`, traced and turned into the client's code.
fn failed(op: Op, error: CdcError) -> RequestError<SerialError> {
    ringbuf_entry!(Trace::Failed { op, error });
    RequestError::Op(error.into())
}

impl InOrderUsbCdcImpl for Server {
    fn open(&mut self, _: &RecvMessage, index: u8) -> Result<PortInfo, RequestError<SerialError>> {
        let served = self
            .ports
            .iter()
            .nth(usize::from(index))
            .ok_or(RequestError::Op(SerialError::NoPort))?;
        Ok(PortInfo {
            handle: handle_of(served),
            // A packet size from a validated endpoint descriptor: at most 1024.
            read_len: served.state.read_len() as u16,
        })
    }

    fn write(
        &mut self,
        _: &RecvMessage,
        port: PortHandle,
        data: Leased<Read, [u8]>,
    ) -> Result<u16, RequestError<SerialError>> {
        self.on_port(port, |cdc, bus| {
            let mut buffer = [0u8; MAX_TRANSFER];
            let bytes = &mut buffer[..data.len()];
            data.read_range(0, bytes)?;
            // At most MAX_TRANSFER (the lease's max_len).
            let n = cdc.write(bus, bytes).map_err(|e| failed(Op::Write, e))?;
            Ok(n as u16)
        })
    }

    fn read(
        &mut self,
        _: &RecvMessage,
        port: PortHandle,
        data: Leased<Write, [u8]>,
    ) -> Result<u16, RequestError<SerialError>> {
        self.on_port(port, |cdc, bus| {
            if data.len() < cdc.read_len() {
                return Err(RequestError::Op(SerialError::ShortLease));
            }
            let mut buffer = [0u8; MAX_READ];
            let n = cdc
                .read(bus, &mut buffer[..data.len()], READ_WAIT_MS)
                .map_err(|e| failed(Op::Read, e))?;
            data.write_range(0, &buffer[..n])?;
            // At most one packet.
            Ok(n as u16)
        })
    }

    fn set_line_coding(
        &mut self,
        _: &RecvMessage,
        port: PortHandle,
        coding: Coding,
    ) -> Result<(), RequestError<SerialError>> {
        self.on_port(port, |cdc, bus| {
            cdc.set_line_coding(bus, coding.into())
                .map_err(|e| failed(Op::SetLineCoding, e))
        })
    }

    fn line_coding(
        &mut self,
        _: &RecvMessage,
        port: PortHandle,
    ) -> Result<Coding, RequestError<SerialError>> {
        self.on_port(port, |cdc, bus| {
            cdc.line_coding(bus)
                .map(Coding::from)
                .map_err(|e| failed(Op::LineCoding, e))
        })
    }

    fn notification_mask(&self) -> u32 {
        self.ports.notification_mask(USB_BIT, TIMER_BIT)
    }

    fn handle_notification(&mut self, _bits: u32) {
        self.pull_events();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let (core, hcd) = driver::start(USB_CORE, USB_HCD);
    let mut server = Server {
        core,
        hcd,
        ports: Bindings::new(),
    };
    ringbuf_entry!(Trace::Started);
    server.pull_events();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        server.ports.arm_hello_retry(TIMER_BIT);
        dispatch(&mut buffer, &mut server);
    }
}
