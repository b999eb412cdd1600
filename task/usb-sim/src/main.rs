//! `usb-sim`: the DWC2 model and simulated USB devices as a task (doc/usb-host.md 4 and
//! 6.1), for QEMU and test images.
//!
//! It owns a `usb_model::Dwc2Model` and every simulated device, answers the register and
//! FIFO accesses of `usb-hcd` (which reaches it through `usb_sim_api::IpcRegs`), plugs and
//! unplugs devices by name, and reports statistics and the bus trace to tests.
//!
//! At start the device app.toml names (`[tasks.usb-sim.config] plugged-at-boot`, the hub
//! by default) is on the root port, and the devices `hub-ports` names (`hub-keyboard` and
//! `hub-serial` by default) are in the hub's ports, so an app such as qemu-m7 boots with a
//! topology to enumerate. A device in a hub port stays there: `plug` and `unplug` of its name
//! connect and disconnect that port.
//!
//! Time: model time follows the kernel clock. Before each request the model runs the bus
//! transactions due up to the kernel's current time and then idles up to it, so it never
//! runs ahead of the kernel by more than one transaction's duration (under 1 ms); between
//! requests nothing can observe it, so it does not need to run.
//!
//! Devices: the names of `usb_sim_api::devices` and of every `usb_corpus` device. Each
//! name is one device instance; the hub's downstream devices are instances of their own.
//! Malicious behaviours (`usb_model::faulty`) are switched on
//! by plugging one of the named malicious devices, each a well-behaved keyboard wrapped in
//! one `Fault`; with `flash-chaos` in app.toml the flash drive itself has bouts of them at
//! random moments, mid-transfer (`usb_model::chaos`, the USB fault campaign's).
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, Read, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_model::blocks::PatternStore;
use usb_model::chaos::Chaos;
use usb_model::corpus::{self, SimCorpus};
use usb_model::faulty::{Fault, Faulty};
use usb_model::flash::{self, FlashFaults};
use usb_model::{Dwc2Model, SimDevice, hid, hub, serial};
use usb_sim_api::{MAX_FIFO_WORDS, MAX_TRACE_ENTRIES, SimError, SimStats, TraceEntry, devices};
use userlib::{RecvMessage, sys_get_timer};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
include!(concat!(env!("OUT_DIR"), "/boot.rs"));

/// Keys the simulated keyboards press and release, once each, after configuration.
static KEY_SCRIPT: [[u8; 8]; 2] = [[0, 0, 0x04, 0, 0, 0, 0, 0], [0; 8]];
/// The typist's script, played over and over: A pressed, released, then eight idle reports.
static TYPIST_SCRIPT: [[u8; 8]; 10] = {
    let mut script = [[0; 8]; 10];
    script[0][2] = 0x04;
    script
};
static MOUSE_SCRIPT: [[u8; 4]; 1] = [[1, 5, 0xFB, 0]];
/// The simulated flash drive: 4096 blocks (2 MiB), kept by `usb_model::blocks::PatternStore`
/// in 8 KiB of block map and [`DISK_POOL`] blocks held verbatim: blocks the tests write
/// with `usb_model::blocks::generated` and zero blocks take no room, any other block
/// written takes a pool slot, and a write past the pool fails with a write error.
const DISK_BLOCKS: usize = 4096;
/// Blocks of arbitrary data the drive holds at once (24 KiB).
const DISK_POOL: usize = 48;
/// Room for the corpus devices; checked against `usb_corpus::DEVICES` at start.
const MAX_CORPUS: usize = 32;
/// Fixed (non-corpus) device names.
const FIXED: usize = 15;
/// The fixed devices' names, in table order; the hub first.
const FIXED_NAMES: [&str; FIXED] = [
    devices::HUB,
    devices::KEYBOARD,
    devices::MOUSE,
    devices::FLASH,
    devices::SERIAL,
    devices::HUB_KEYBOARD,
    devices::HUB_SERIAL,
    devices::STALL_STORM,
    devices::ENDLESS_NAK,
    devices::BAD_MAX_PACKET,
    devices::TYPIST,
    devices::BABBLE,
    devices::GROWING_CONFIG,
    devices::ZERO_LENGTH_DESCRIPTOR,
    devices::SEQUENCE_KEYBOARD,
];

/// Whether `name` is one of [`FIXED_NAMES`] (what the build's checks of app.toml ask).
const fn is_fixed_device(name: &str) -> bool {
    let mut i = 0;
    while i < FIXED {
        if bytes_equal(FIXED_NAMES[i].as_bytes(), name.as_bytes()) {
            return true;
        }
        i += 1;
    }
    false
}

const fn bytes_equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
const LONGEST_NAME: usize = 64;

type Infallible = core::convert::Infallible;

/// A bench event, for `humility ringbuf usb-sim`.
#[derive(Copy, Clone, PartialEq, Count)]
enum Event {
    None,
    /// Device number `device` (in table order) plugged into the root port.
    Plugged {
        device: u8,
    },
    Unplugged {
        device: u8,
    },
    /// An over-current load put on the root port, or taken away.
    OverCurrent {
        on: bool,
    },
    /// A device in a hub port connected to or disconnected from it.
    HubPort {
        port: u8,
        connected: bool,
    },
    /// A plug or unplug naming no device (or not the plugged one).
    Refused {
        error: u8,
    },
    /// The model recorded its `count`-th programming-rule violation.
    Violation {
        count: u32,
    },
}

counted_ringbuf!(Event, 16, Event::None);

struct Sim<'d> {
    model: Dwc2Model<'d>,
    /// Name and device of each bench slot; `None` while plugged (the model holds it).
    table: [(&'static str, Option<&'d mut dyn SimDevice>); FIXED + MAX_CORPUS],
    plugged: Option<usize>,
    violations_seen: usize,
}

impl<'d> Sim<'d> {
    /// Runs the model up to the kernel's current time.
    fn catch_up(&mut self) {
        let target = sys_get_timer().now.saturating_mul(1000);
        while self.model.now_us() < target {
            if !self.model.step() {
                self.model.idle_until(target);
            }
        }
        let count = self.model.violation_count();
        if count > self.violations_seen {
            self.violations_seen = count;
            ringbuf_entry!(Event::Violation {
                count: count as u32
            });
        }
    }

    fn find(&self, name: &Leased<Read, [u8]>) -> Result<usize, RequestError<SimError>> {
        let mut buf = [0u8; LONGEST_NAME];
        let name_bytes = &mut buf[..name.len()];
        name.read_range(0, name_bytes)?;
        self.table
            .iter()
            .position(|(n, _)| n.as_bytes() == name_bytes)
            .ok_or_else(|| Self::refused(SimError::UnknownDevice))
    }

    /// Connects (or disconnects) the hub port of the device `name` names, if that device
    /// is in a hub port (app.toml `hub-ports`): `None` when it is not, so the caller looks
    /// in the table.
    fn hub_port(
        &mut self,
        name: &Leased<Read, [u8]>,
        connected: bool,
    ) -> Option<Result<(), RequestError<SimError>>> {
        let mut buf = [0u8; LONGEST_NAME];
        let name_bytes = &mut buf[..name.len()];
        if let Err(e) = name.read_range(0, name_bytes) {
            return Some(Err(e.into()));
        }
        let index = HUB_PORTS_AT_BOOT
            .iter()
            .position(|n| n.as_bytes() == name_bytes)?;
        let port = index as u8 + 1;
        let hub_plugged = self
            .plugged
            .is_some_and(|i| self.table[i].0 == devices::HUB);
        let done = hub_plugged
            && self
                .model
                .root_device()
                .is_some_and(|hub| hub.set_port_connected(port, connected));
        Some(if done {
            ringbuf_entry!(Event::HubPort { port, connected });
            Ok(())
        } else {
            Err(Self::refused(SimError::NotPlugged))
        })
    }

    fn unplug_current(&mut self) {
        if let Some(i) = self.plugged.take() {
            self.table[i].1 = self.model.detach();
            ringbuf_entry!(Event::Unplugged { device: i as u8 });
        }
    }

    fn refused(error: SimError) -> RequestError<SimError> {
        ringbuf_entry!(Event::Refused { error: error as u8 });
        RequestError::Op(error)
    }
}

impl InOrderUsbSimImpl for Sim<'_> {
    fn read(&mut self, _: &RecvMessage, offset: u32) -> Result<u32, RequestError<Infallible>> {
        self.catch_up();
        Ok(self.model.read(offset))
    }

    fn write(
        &mut self,
        _: &RecvMessage,
        offset: u32,
        value: u32,
    ) -> Result<(), RequestError<Infallible>> {
        self.catch_up();
        self.model.write(offset, value);
        Ok(())
    }

    fn fifo_read(
        &mut self,
        _: &RecvMessage,
        words: Leased<Write, [u32]>,
    ) -> Result<(), RequestError<Infallible>> {
        self.catch_up();
        let mut buf = [0u32; MAX_FIFO_WORDS];
        let out = &mut buf[..words.len()];
        for w in out.iter_mut() {
            *w = self.model.read(dwc2_regs::fifo(0));
        }
        words.write_range(0, out)?;
        Ok(())
    }

    fn fifo_write(
        &mut self,
        _: &RecvMessage,
        channel: u8,
        words: Leased<Read, [u32]>,
    ) -> Result<(), RequestError<Infallible>> {
        self.catch_up();
        let mut buf = [0u32; MAX_FIFO_WORDS];
        let src = &mut buf[..words.len()];
        words.read_range(0, src)?;
        for &w in src.iter() {
            self.model.write(dwc2_regs::fifo(channel), w);
        }
        Ok(())
    }

    fn plug(
        &mut self,
        _: &RecvMessage,
        name: Leased<Read, [u8]>,
    ) -> Result<(), RequestError<SimError>> {
        self.catch_up();
        if let Some(done) = self.hub_port(&name, true) {
            return done;
        }
        let i = self.find(&name)?;
        self.unplug_current();
        let device = self.table[i]
            .1
            .take()
            .ok_or_else(|| Self::refused(SimError::NotPlugged))?;
        self.model.attach(device);
        self.plugged = Some(i);
        ringbuf_entry!(Event::Plugged { device: i as u8 });
        Ok(())
    }

    fn unplug(
        &mut self,
        _: &RecvMessage,
        name: Leased<Read, [u8]>,
    ) -> Result<(), RequestError<SimError>> {
        self.catch_up();
        if let Some(done) = self.hub_port(&name, false) {
            return done;
        }
        let i = self.find(&name)?;
        if self.plugged != Some(i) {
            return Err(Self::refused(SimError::NotPlugged));
        }
        self.unplug_current();
        Ok(())
    }

    fn press(&mut self, _: &RecvMessage, usage: u8) -> Result<(), RequestError<SimError>> {
        self.catch_up();
        if self
            .model
            .root_device()
            .is_some_and(|device| device.press_key(usage))
        {
            Ok(())
        } else {
            Err(Self::refused(SimError::NoKeys))
        }
    }

    fn over_current(&mut self, _: &RecvMessage, on: bool) -> Result<(), RequestError<Infallible>> {
        self.catch_up();
        self.model.set_over_current(on);
        ringbuf_entry!(Event::OverCurrent { on });
        Ok(())
    }

    fn stats(&mut self, _: &RecvMessage) -> Result<SimStats, RequestError<Infallible>> {
        self.catch_up();
        let s = self.model.stats();
        Ok(SimStats {
            bus_resets: s.bus_resets as u32,
            transactions: s.transactions as u32,
            setups: s.setups as u32,
            naks: s.naks as u32,
            stalls: s.stalls as u32,
            errors: s.errors as u32,
            violations: self.model.violation_count() as u32,
            trace_count: self.model.trace_count() as u32,
            now_us: self.model.now_us(),
        })
    }

    fn trace(
        &mut self,
        _: &RecvMessage,
        from: u32,
        entries: Leased<Write, [TraceEntry]>,
    ) -> Result<u32, RequestError<Infallible>> {
        self.catch_up();
        let mut buf = [TraceEntry::default(); MAX_TRACE_ENTRIES];
        let mut n = 0;
        for (slot, (seq, event)) in buf[..entries.len()]
            .iter_mut()
            .zip(self.model.trace(u64::from(from)))
        {
            *slot = TraceEntry::from_event(seq, &event);
            n += 1;
        }
        entries.write_range(0, &buf[..n])?;
        Ok(n as u32)
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    assert!(
        usb_corpus::DEVICES.len() <= MAX_CORPUS,
        "usb-sim: MAX_CORPUS is below the corpus size"
    );
    let mut disk_map = [0u16; DISK_BLOCKS];
    let mut disk_pool = [[0u8; flash::BLOCK_LEN]; DISK_POOL];
    let mut disk = PatternStore::new(&mut disk_map, &mut disk_pool);
    let mut keyboard = hid::keyboard(&KEY_SCRIPT);
    let mut mouse = hid::mouse(&MOUSE_SCRIPT);
    let mut plain_flash = flash::flash_drive_on(&mut disk, FlashFaults::default());
    let mut chaotic_flash;
    let flash_drive: &mut dyn SimDevice = match FLASH_CHAOS {
        Some(schedule) => {
            chaotic_flash = Chaos::new(&mut plain_flash, schedule);
            &mut chaotic_flash
        }
        None => &mut plain_flash,
    };
    let mut serial = serial::serial();
    let mut hub_keyboard = hid::keyboard(&KEY_SCRIPT);
    let mut hub_serial = serial::serial();
    let mut stall_inner = hid::keyboard(&KEY_SCRIPT);
    let mut stall_storm = Faulty::new(&mut stall_inner, Fault::StallStorm);
    let mut nak_inner = hid::keyboard(&KEY_SCRIPT);
    let mut endless_nak = Faulty::new(&mut nak_inner, Fault::EndlessNak { ep: 0 });
    let mut mps_inner = hid::keyboard(&KEY_SCRIPT);
    let mut bad_mps = Faulty::new(
        &mut mps_inner,
        Fault::PatchDescriptor {
            descriptor: usb_proto::descriptor::ty::DEVICE,
            offset: 7,
            value: 9,
        },
    );
    let mut babble_inner = hid::keyboard(&KEY_SCRIPT);
    let mut babble = Faulty::new(&mut babble_inner, Fault::Babble { ep: 1, len: 100 });
    let mut growing_inner = hid::keyboard(&KEY_SCRIPT);
    let mut growing = Faulty::new(&mut growing_inner, Fault::GrowingTotalLength { delta: 16 });
    let mut zero_inner = hid::keyboard(&KEY_SCRIPT);
    let mut zero_length = Faulty::new(
        &mut zero_inner,
        Fault::PatchDescriptor {
            descriptor: usb_proto::descriptor::ty::CONFIGURATION,
            offset: 0,
            value: 0,
        },
    );
    let mut typist = hid::typist(&TYPIST_SCRIPT);
    let mut sequence_keyboard = hid::sequence_keyboard();
    let mut corpus: [Option<SimCorpus>; MAX_CORPUS] =
        core::array::from_fn(|i| usb_corpus::DEVICES.get(i).map(corpus::device));
    let mut table: [(&'static str, Option<&mut dyn SimDevice>); FIXED + MAX_CORPUS] =
        [const { ("", None) }; FIXED + MAX_CORPUS];
    // Every fixed device but the hub (FIXED_NAMES[0]), which is built from the table below.
    let fixed: [&mut dyn SimDevice; FIXED - 1] = [
        &mut keyboard,
        &mut mouse,
        flash_drive,
        &mut serial,
        &mut hub_keyboard,
        &mut hub_serial,
        &mut stall_storm,
        &mut endless_nak,
        &mut bad_mps,
        &mut typist,
        &mut babble,
        &mut growing,
        &mut zero_length,
        &mut sequence_keyboard,
    ];
    for (slot, (name, device)) in table[1..]
        .iter_mut()
        .zip(FIXED_NAMES[1..].iter().zip(fixed))
    {
        *slot = (name, Some(device));
    }
    for (slot, (facts, device)) in table[FIXED..]
        .iter_mut()
        .zip(usb_corpus::DEVICES.iter().zip(corpus.iter_mut()))
    {
        *slot = (facts.name, device.as_mut().map(|d| d as &mut dyn SimDevice));
    }
    // The hub's ports take their devices out of the table: each lives in its port.
    let mut in_ports: [Option<&mut dyn SimDevice>; hub::PORTS] = Default::default();
    for (port, name) in in_ports.iter_mut().zip(HUB_PORTS_AT_BOOT) {
        *port = table
            .iter_mut()
            .find(|(n, _)| *n == name)
            .and_then(|(_, device)| device.take());
    }
    let mut hub = hub::hub(in_ports);
    table[0] = (devices::HUB, Some(&mut hub));
    let mut sim = Sim {
        model: Dwc2Model::new(),
        table,
        plugged: None,
        violations_seen: 0,
    };
    let boot = sim
        .table
        .iter()
        .position(|(name, _)| *name == PLUGGED_AT_BOOT)
        .unwrap_or_else(|| {
            panic!("usb-sim: app.toml {PLUGGED_AT_BOOT_KEY}: no device named {PLUGGED_AT_BOOT:?}")
        });
    sim.model.attach(
        sim.table[boot]
            .1
            .take()
            .expect("every device is in its slot at start"),
    );
    sim.plugged = Some(boot);
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut sim);
    }
}
