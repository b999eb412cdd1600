//! The USB mass-storage class-driver task (doc/usb-host.md 3.2, 6.1-6.4): one
//! `usb_class_msc::MassStorage` per bound drive, each driven through an
//! `usb_core_api::IpcClassPort` (EP0 via `usb-core`, bulk transfers straight to `usb-hcd` on
//! pipes this task owns), served to applications as block devices (`idl/usb-msc.idol`).
//!
//! | Event | What the task does |
//! |---|---|
//! | start (first or after a restart) | `hello` to the core with the first event pull, retried every 10 ms from the timer while the core does not answer (clients get `NoDisk` meanwhile, not a wait); a restart makes the core rebind with `resync` and notify |
//! | `usb` notification | pull events: `Bound` -> read the binding, bring the drive up, `ready`; `Unbound` -> forget the disk |
//! | bring-up | the transport starts dirty, so the first command is BOT reset recovery (clear-halt on both bulk endpoints included): the resync of a restarted driver |
//! | the core restarted (`Gone`) | every disk is forgotten; `hello` again, as at start |
//! | `read` / `write` | in chunks of one `usb-hcd` transfer (4 KiB), copied between the lease and the bus |
//!
//! A disk handle is the binding's slot and generation, so a handle from before an unplug or
//! a restart of this task fails as `Stale`: the core gave the binding a new generation.
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, Read, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_class_msc::{MassStorage, MscError};
use usb_core_api::driver::{self, Bindings, Change};
use usb_core_api::{BindingHandle, IpcClassPort, UsbCoreClient};
use usb_hcd_api::{MAX_TRANSFER, UsbHcdClient};
use usb_msc_api::{DiskError, DiskHandle, DiskInfo};
use userlib::{RecvMessage, task_slot};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

task_slot!(USB_CORE, "usb-core");
task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["usb", "timer"]`.
const USB_BIT: u32 = 1 << 0;
const TIMER_BIT: u32 = 1 << 1;
const MAX_DISKS: usize = 2;
/// Bytes moved per bus transfer: the largest `usb-hcd` lease, a whole number of blocks for
/// every block length a disk may have (512..=4096).
const CHUNK: usize = MAX_TRANSFER;

#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    /// This incarnation began (its hello to the core is `Binding(Change::Hello)`).
    Started,
    Binding(Change<MscError>),
    Failed {
        lba: u32,
        error: MscError,
    },
}

counted_ringbuf!(Trace, 32, Trace::None);

struct Server {
    core: UsbCoreClient,
    hcd: UsbHcdClient,
    disks: Bindings<MassStorage, MAX_DISKS>,
}

impl Server {
    fn pull_events(&mut self) {
        self.disks.pull_events(
            &self.core,
            &self.hcd,
            TIMER_BIT,
            |port, config, interface| {
                let mut msc = MassStorage::attach(config, interface)?;
                msc.bring_up(port)?;
                Ok(msc)
            },
            |change| ringbuf_entry!(Trace::Binding(change)),
        );
    }

    /// Runs `step` on each chunk of `len` bytes from block `lba` on, after checking the
    /// whole range: a request past the end fails before any block moves.
    fn chunks(
        &mut self,
        handle: DiskHandle,
        lba: u32,
        len: usize,
        mut step: impl FnMut(
            &mut MassStorage,
            &mut IpcClassPort<'_>,
            u32,
            usize,
            usize,
        ) -> Result<(), RequestError<DiskError>>,
    ) -> Result<(), RequestError<DiskError>> {
        let disk = self
            .disks
            .find_mut(binding_of(handle))
            .ok_or(RequestError::Op(DiskError::Stale))?;
        let msc = &mut disk.state;
        msc.check_range(lba, len)
            .map_err(|e| RequestError::Op(e.into()))?;
        let block = msc.block_len as usize;
        let mut port = IpcClassPort::new(
            &self.core,
            &self.hcd,
            disk.binding,
            &disk.summary,
            TIMER_BIT,
        );
        let mut at = 0;
        while at < len {
            let n = CHUNK.min(len - at);
            // check_range bounded lba + len / block by the disk's u32 block count.
            let chunk_lba = lba + (at / block) as u32;
            step(msc, &mut port, chunk_lba, at, n)?;
            at += n;
        }
        Ok(())
    }
}

/// The binding a disk handle names.
fn binding_of(handle: DiskHandle) -> BindingHandle {
    BindingHandle {
        slot: handle.slot,
        generation: handle.generation,
        epoch: handle.epoch,
    }
}

fn failed(lba: u32, error: MscError) -> RequestError<DiskError> {
    ringbuf_entry!(Trace::Failed { lba, error });
    RequestError::Op(error.into())
}

impl InOrderUsbMscImpl for Server {
    fn disk(&mut self, _: &RecvMessage, index: u8) -> Result<DiskInfo, RequestError<DiskError>> {
        let disk = self
            .disks
            .iter()
            .nth(usize::from(index))
            .ok_or(RequestError::Op(DiskError::NoDisk))?;
        Ok(DiskInfo {
            blocks: disk.state.blocks,
            block_len: disk.state.block_len,
            handle: DiskHandle {
                slot: disk.binding.slot,
                generation: disk.binding.generation,
                epoch: disk.binding.epoch,
            },
        })
    }

    fn read(
        &mut self,
        _: &RecvMessage,
        disk: DiskHandle,
        lba: u32,
        data: Leased<Write, [u8]>,
    ) -> Result<(), RequestError<DiskError>> {
        let mut buffer = [0u8; CHUNK];
        self.chunks(disk, lba, data.len(), |msc, port, chunk_lba, at, n| {
            msc.read(port, chunk_lba, &mut buffer[..n])
                .map_err(|e| failed(chunk_lba, e))?;
            Ok(data.write_range(at, &buffer[..n])?)
        })
    }

    fn write(
        &mut self,
        _: &RecvMessage,
        disk: DiskHandle,
        lba: u32,
        data: Leased<Read, [u8]>,
    ) -> Result<(), RequestError<DiskError>> {
        let mut buffer = [0u8; CHUNK];
        self.chunks(disk, lba, data.len(), |msc, port, chunk_lba, at, n| {
            data.read_range(at, &mut buffer[..n])?;
            msc.write(port, chunk_lba, &buffer[..n])
                .map_err(|e| failed(chunk_lba, e))
        })
    }

    fn sync(&mut self, _: &RecvMessage, disk: DiskHandle) -> Result<(), RequestError<DiskError>> {
        self.disks
            .find_mut(binding_of(disk))
            .map(|_| ())
            .ok_or(RequestError::Op(DiskError::Stale))
    }

    fn notification_mask(&self) -> u32 {
        self.disks.notification_mask(USB_BIT, TIMER_BIT)
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
        disks: Bindings::new(),
    };
    ringbuf_entry!(Trace::Started);
    server.pull_events();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        server.disks.arm_hello_retry(TIMER_BIT);
        dispatch(&mut buffer, &mut server);
    }
}
