//! The USB mass-storage class-driver task (doc/usb-host.md 3.2, 6.1-6.4): one
//! `usb_class_msc::MassStorage` per bound drive, each driven through an
//! `usb_core_api::IpcClassPort` (EP0 via `usb-core`, bulk transfers straight to `usb-hcd` on
//! pipes this task owns), served to applications as block devices (`idl/usb-msc.idol`).
//!
//! | Event | What the task does |
//! |---|---|
//! | start (first or after a restart) | `hello` to the core; a restart makes the core rebind with `resync` and notify |
//! | `usb` notification | pull events: `Bound` -> read the binding, bring the drive up, `ready`; `Unbound` -> forget the disk |
//! | bring-up | the transport starts dirty, so the first command is BOT reset recovery (clear-halt on both bulk endpoints included): the resync of a restarted driver |
//! | the core restarted (`Gone`) | every disk is forgotten; `hello` again |
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
use usb_core_api::{BindingHandle, BindingSummary, IpcClassPort, UsbCoreClient};
use usb_core_logic::{BindingEvent, CONFIG_BUF};
use usb_hcd_api::{MAX_TRANSFER, UsbHcdClient};
use usb_host_api::PortError;
use usb_msc_api::{DiskError, DiskHandle, DiskInfo};
use usb_proto::walk::parse_configuration;
use userlib::{Generation, RecvMessage, TaskId, sleep_for};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

/// `task_slot!` takes an identifier, which cannot spell these names.
const USB_CORE: TaskId = TaskId::for_index_and_gen(
    userlib::slot_index(env!("BULKHEAD_TASK_SLOTS"), "usb-core"),
    Generation(0),
);
const USB_HCD: TaskId = TaskId::for_index_and_gen(
    userlib::slot_index(env!("BULKHEAD_TASK_SLOTS"), "usb-hcd"),
    Generation(0),
);

/// Notification bits: app.toml `notifications = ["usb", "timer"]`.
const USB_BIT: u32 = 1 << 0;
const TIMER_BIT: u32 = 1 << 1;
const MAX_DISKS: usize = 2;
/// Bytes moved per bus transfer: the largest `usb-hcd` lease, a whole number of blocks for
/// every block length a disk may have (512..=4096).
const CHUNK: usize = MAX_TRANSFER;
/// Wait before saying hello again to a core that is restarting.
const HELLO_RETRY_MS: u64 = 10;

#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    Hello,
    Attached {
        slot: u8,
        generation: u8,
        resync: bool,
        blocks: u32,
    },
    AttachFailed {
        slot: u8,
        generation: u8,
        error: MscError,
    },
    Detached {
        slot: u8,
        generation: u8,
    },
    CoreGone,
    Failed {
        lba: u32,
        error: MscError,
    },
}

counted_ringbuf!(Trace, 32, Trace::None);

struct Disk {
    binding: BindingHandle,
    summary: BindingSummary,
    msc: MassStorage,
}

struct Server {
    core: UsbCoreClient,
    hcd: UsbHcdClient,
    disks: [Option<Disk>; MAX_DISKS],
}

impl Server {
    /// Says hello until the core answers: it may be restarting.
    fn hello(&mut self) {
        while self.core.hello().is_err() {
            sleep_for(HELLO_RETRY_MS, TIMER_BIT);
        }
        ringbuf_entry!(Trace::Hello);
    }

    fn pull_events(&mut self) {
        loop {
            let event = match self.core.next_event() {
                Ok(record) => record.event(),
                Err(_) => {
                    // The core restarted (or never heard our hello): every binding is gone.
                    ringbuf_entry!(Trace::CoreGone);
                    self.disks = [const { None }; MAX_DISKS];
                    self.hello();
                    continue;
                }
            };
            match event {
                None => return,
                Some(BindingEvent::Bound {
                    binding, resync, ..
                }) => self.attach(binding.into(), resync),
                Some(BindingEvent::Unbound { binding, .. }) => {
                    let handle = BindingHandle::from(binding);
                    for slot in self.disks.iter_mut() {
                        if slot.as_ref().is_some_and(|d| d.binding == handle) {
                            *slot = None;
                            ringbuf_entry!(Trace::Detached {
                                slot: handle.slot,
                                generation: handle.generation
                            });
                        }
                    }
                }
            }
        }
    }

    fn attach(&mut self, binding: BindingHandle, resync: bool) {
        let (slot, generation) = (binding.slot, binding.generation);
        match self.bring_up(binding) {
            Ok(disk) => {
                ringbuf_entry!(Trace::Attached {
                    slot,
                    generation,
                    resync,
                    blocks: disk.msc.blocks
                });
                // From here a death of this task is not blamed on this drive alone.
                let _ = self.core.ready(binding);
                if let Some(free) = self.disks.iter_mut().find(|d| d.is_none()) {
                    *free = Some(disk);
                }
            }
            Err(error) => ringbuf_entry!(Trace::AttachFailed {
                slot,
                generation,
                error
            }),
        }
    }

    fn bring_up(&self, binding: BindingHandle) -> Result<Disk, MscError> {
        let mut blob = [0u8; CONFIG_BUF];
        let summary = self
            .core
            .binding_info(binding, &mut blob)
            // The binding went between the event and this call, or the core did.
            .map_err(|_| MscError::Port(PortError::Stale))?;
        let len = usize::from(summary.config_len).min(CONFIG_BUF);
        let speed = summary.speed().ok_or(MscError::NotBulkOnly)?;
        let config = parse_configuration(&blob[..len], len as u16, speed)
            .map_err(|_| MscError::NotBulkOnly)?;
        let mut msc = MassStorage::attach(&config, summary.first_interface)?;
        let mut port = IpcClassPort::new(&self.core, &self.hcd, binding, &summary, TIMER_BIT);
        msc.bring_up(&mut port)?;
        Ok(Disk {
            binding,
            summary,
            msc,
        })
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
        let (core, hcd) = (&self.core, &self.hcd);
        let disk = find_disk(&mut self.disks, handle)?;
        disk.msc
            .check_range(lba, len)
            .map_err(|e| RequestError::Op(e.into()))?;
        let block = disk.msc.block_len as usize;
        let mut port = IpcClassPort::new(core, hcd, disk.binding, &disk.summary, TIMER_BIT);
        let mut at = 0;
        while at < len {
            let n = CHUNK.min(len - at);
            // check_range bounded lba + len / block by the disk's u32 block count.
            let chunk_lba = lba + (at / block) as u32;
            step(&mut disk.msc, &mut port, chunk_lba, at, n)?;
            at += n;
        }
        Ok(())
    }
}

/// The disk `handle` names, if its binding is still one this task serves.
fn find_disk(
    disks: &mut [Option<Disk>],
    handle: DiskHandle,
) -> Result<&mut Disk, RequestError<DiskError>> {
    let binding = BindingHandle {
        slot: handle.slot,
        generation: handle.generation,
    };
    disks
        .iter_mut()
        .flatten()
        .find(|d| d.binding == binding)
        .ok_or(RequestError::Op(DiskError::Stale))
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
            .flatten()
            .nth(usize::from(index))
            .ok_or(RequestError::Op(DiskError::NoDisk))?;
        Ok(DiskInfo {
            blocks: disk.msc.blocks,
            block_len: disk.msc.block_len,
            handle: DiskHandle {
                slot: disk.binding.slot,
                generation: disk.binding.generation,
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
        find_disk(&mut self.disks, disk).map(|_| ())
    }

    fn notification_mask(&self) -> u32 {
        USB_BIT
    }

    fn handle_notification(&mut self, _bits: u32) {
        self.pull_events();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut server = Server {
        core: UsbCoreClient::new(USB_CORE),
        hcd: UsbHcdClient::new(USB_HCD),
        disks: [const { None }; MAX_DISKS],
    };
    server.hello();
    server.pull_events();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut server);
    }
}
