//! `usb_msc_read_instr_per_kib_one_task`: the same READ workload as
//! `usb_msc_read_instr_per_kib`, with the application, `usb-msc`'s logic
//! (`usb_class_msc`), `usb-core`'s (`usb_core_logic`) and `usb-hcd`'s (`dwc2_hcd_core`)
//! linked into this one task, which drives the same `usb-sim` through the same register
//! IPC (`usb_sim_api::IpcRegs`). What differs from the stack of tasks is only the task
//! boundaries: the figure over this one is their cost.
//!
//! The stack's tasks are unloaded first (jefe `unload`), so nothing else touches the
//! controller; this task then initialises it afresh, as a restarted `usb-hcd` would.
//! Waiting is as in `usb-hcd`: a transfer in flight is looked at once per kernel tick.

use dwc2_hcd_core::{BufferFault, Clock, Hcd, Request, TransferBuffers};
use usb_class_msc::MassStorage;
use usb_core_logic::{CONFIG_BUF, DriverKind, UsbCore};
use usb_host_api::{HostController, PipeId, PipeSpec, RootPort, SetupPacket, Speed, XferError};
use usb_proto::walk::parse_configuration;
use usb_sim_api::IpcRegs;
use userlib::{sleep_for, sys_get_timer};

use super::{TIMER, USB_SIM};

/// Root-port reset hold time and recovery (doc/usb-host.md 1.5), as `usb-hcd` waits them.
const ROOT_RESET_MS: u32 = 50;
const RESET_RECOVERY_MS: u32 = 10;
/// The drive must be enumerated within this (virtual time).
const ENUMERATED_WITHIN_MS: u64 = 2000;

struct KernelClock;

impl Clock for KernelClock {
    fn now_us(&self) -> u64 {
        sys_get_timer().now.saturating_mul(1000)
    }

    fn delay_us(&self, us: u32) {
        sleep_for(u64::from(us.div_ceil(1000)), TIMER);
    }
}

/// The buffer of the one transfer in flight.
enum Buffer<'a> {
    None,
    In(PipeId, &'a mut [u8]),
    Out(PipeId, &'a [u8]),
}

impl TransferBuffers for Buffer<'_> {
    fn read_out(&mut self, pipe: PipeId, offset: usize, dst: &mut [u8]) -> Result<(), BufferFault> {
        match self {
            Buffer::Out(owner, data) if *owner == pipe => {
                let src = data.get(offset..offset + dst.len()).ok_or(BufferFault)?;
                dst.copy_from_slice(src);
                Ok(())
            }
            _ => Err(BufferFault),
        }
    }

    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault> {
        match self {
            Buffer::In(owner, data) if *owner == pipe => {
                let dst = data
                    .get_mut(offset..offset + src.len())
                    .ok_or(BufferFault)?;
                dst.copy_from_slice(src);
                Ok(())
            }
            _ => Err(BufferFault),
        }
    }
}

/// `HostController` over the controller logic in this task.
struct LinkedHost {
    hcd: Hcd<IpcRegs, KernelClock>,
}

impl LinkedHost {
    fn run(
        &mut self,
        pipe: PipeId,
        request: Request,
        mut buffer: Buffer<'_>,
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        self.hcd.submit(pipe, request, timeout_ms)?;
        self.hcd.service(&mut buffer);
        loop {
            if let Some(result) = self.hcd.take_completion(pipe) {
                return result;
            }
            sleep_for(1, TIMER);
            self.hcd.on_irq(&mut buffer);
            self.hcd.service(&mut buffer);
        }
    }
}

impl HostController for LinkedHost {
    fn root_port(&mut self) -> RootPort {
        self.hcd.on_irq(&mut Buffer::None);
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
        self.delay_ms(ROOT_RESET_MS);
        let speed = self
            .hcd
            .port_reset_end()
            .map_err(|_| XferError::Disconnected)?;
        self.delay_ms(RESET_RECOVERY_MS);
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
        let buffer = match setup.direction() {
            usb_host_api::Direction::In => Buffer::In(pipe, data),
            usb_host_api::Direction::Out => Buffer::Out(pipe, data),
        };
        self.run(pipe, Request::Control { setup: *setup }, buffer, timeout_ms)
    }

    fn transfer_in(
        &mut self,
        pipe: PipeId,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, XferError> {
        let len = buf.len();
        self.run(pipe, Request::In { len }, Buffer::In(pipe, buf), timeout_ms)
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
            Buffer::Out(pipe, data),
            timeout_ms,
        )
    }

    fn delay_ms(&mut self, ms: u32) {
        sleep_for(u64::from(ms), TIMER);
    }
}

/// The linked stack with the flash drive enumerated, bound and brought up, or why not.
pub struct LinkedStack {
    host: LinkedHost,
    core: UsbCore,
    msc: MassStorage,
    binding: usb_core_logic::BindingId,
}

impl LinkedStack {
    /// Initialises the controller (the drive is on the root port), enumerates the drive
    /// and brings mass storage up on it.
    pub fn start() -> Result<Self, &'static str> {
        let mut host = LinkedHost {
            hcd: Hcd::new(IpcRegs::new(USB_SIM), KernelClock),
        };
        host.hcd.init().map_err(
            |_| "the linked controller driver could not initialise usb-sim's controller",
        )?;
        let mut core = UsbCore::new();
        let give_up = sys_get_timer().now + ENUMERATED_WITHIN_MS;
        loop {
            match core.poll_root(&mut host) {
                Some(Ok(_)) => break,
                Some(Err(_)) => return Err("the linked core failed to enumerate the flash drive"),
                None if sys_get_timer().now >= give_up => {
                    return Err("the linked core never saw the flash drive connect");
                }
                None => sleep_for(5, TIMER),
            }
        }
        let binding = core
            .bindings()
            .find(|(_, driver)| *driver == DriverKind::MassStorage)
            .map(|(b, _)| b)
            .ok_or("the linked core bound no mass-storage driver to the drive")?;
        let mut blob = [0u8; CONFIG_BUF];
        let info = core
            .binding_info(binding, &mut blob)
            .map_err(|_| "the linked core lost the drive's binding")?;
        let config =
            parse_configuration(&blob[..info.config_len], info.config_len as u16, info.speed)
                .map_err(|_| "the drive's configuration does not walk")?;
        let mut msc = MassStorage::attach(&config, info.first_interface)
            .map_err(|_| "mass storage does not attach to the drive")?;
        let mut port = core
            .port(&mut host, binding)
            .map_err(|_| "the linked core refuses the drive's port")?;
        msc.bring_up(&mut port)
            .map_err(|_| "mass storage bring-up failed on the drive")?;
        Ok(LinkedStack {
            host,
            core,
            msc,
            binding,
        })
    }

    /// Reads whole blocks from `lba` into `buf`.
    pub fn read(&mut self, lba: u32, buf: &mut [u8]) -> Result<(), &'static str> {
        let mut port = self
            .core
            .port(&mut self.host, self.binding)
            .map_err(|_| "the linked core refuses the drive's port")?;
        self.msc
            .read(&mut port, lba, buf)
            .map_err(|_| "a READ through the linked stack failed")
    }

    pub fn blocks(&self) -> u32 {
        self.msc.blocks
    }
}
