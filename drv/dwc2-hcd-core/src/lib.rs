//! DWC2 host-controller driver logic (slave/FIFO mode) for the STM32H7 OTG cores.
//!
//! What it is: everything `usb-hcd` does except IPC – core reset and host initialisation, the
//! root port, pipes and channels, transfers, error handling – as an event-driven state machine
//! generic over [`Dwc2Regs`] and [`Clock`]. Data moves only through [`TransferBuffers`], which
//! a task backs with lease borrows, so the driver never holds a pointer into client memory.
//!
//! Invariants:
//! * `GAHBCFG.DMAEN` stays 0: the core never masters the bus (doc/usb-host.md 5.3);
//! * HPRT is only written through [`hprt::without_w1c`], so a read-modify-write never clears
//!   a change bit by accident or disables the port (writing 1 to PENA disables it);
//! * one transfer per pipe; a channel is held only while a transfer segment runs on it;
//! * every submitted transfer completes exactly once (data or [`XferError`]); a disconnect or
//!   port disable completes all of them with `Disconnected`;
//! * bytes from the device are written only inside the submitted length; any excess is a
//!   `Babble` error, never an out-of-bounds write;
//! * it never parses descriptors: its only device-controlled inputs are handshakes, packet
//!   lengths and data bytes.
//!
//! Who talks to it: the future `usb-hcd` task (IPC shell: leases, IRQ notification, timer) and
//! host tests in `usb-stack-tests` (against `usb-model`).
//!
//! # Transfer life cycle (per pipe)
//!
//! | State | Event | Next |
//! |---|---|---|
//! | `Idle` | `submit` | `Pending` |
//! | `Pending` | `service`: channel free, frame due | `Active` (segment programmed) |
//! | `Active` | segment done, another segment (control stages, trailing ZLP) | `Active` |
//! | `Active` | last segment done | `Done(Ok(len))` |
//! | `Active` | NAK / retryable error, halted | `Pending` (now, next frame or next interval) |
//! | `Active` | STALL, babble, 3rd error, timeout, cancel → halted | `Done(Err)` |
//! | `Pending`/`Active` | disconnect, port disabled, `close_pipe` | `Done(Err(Disconnected / Canceled))` |
//! | `Done` | `take_completion` | `Idle` |
//!
//! # Channel interrupt decisions (one HCINT read)
//!
//! | Bits | Action |
//! |---|---|
//! | `ACK` | error count := 0; OUT: packet accounted, next packet pushed |
//! | `XFRC` | segment done: save DPID, next stage or complete |
//! | `STALL` | halt → `Stall` |
//! | `BBERR` | halt → `Babble` |
//! | `TXERR` / `DTERR` | count; halt → retry now, or `TransactionError`/`DataToggle` on the 3rd |
//! | `FRMOR` | halt → retry next frame |
//! | `NAK` | halt → retry (immediately for the first [`NAK_FAST_RETRIES`], then once per frame; periodic: next interval) |
//! | `CHH` alone | the halt requested above has happened: carry out its decision |
//!
//! Halting means `CHDIS|CHENA` and waiting for `CHH`, unless `CHH` is already set (periodic
//! NAK, disconnect), as the RM requires after STALL/TXERR/BBERR/DTERR in slave mode.
//!
//! # Periodic channels and frames
//!
//! A periodic (interrupt, isochronous) channel runs in the frame whose parity `ODDFRM` names,
//! which must be the next one: enabled once the frame has turned over, the channel has the
//! wrong parity. Register accesses can be slow (in a task, each one is an IPC round trip), so
//! reading `HFNUM` at an arbitrary moment and enabling a few accesses later can straddle a
//! frame boundary. Hence, as Linux's dwc2 driver does, periodic transfers are started only
//! from the start-of-frame interrupt (`SOF`, seen fresh: stale `SOF` status is cleared when
//! the interrupt is unmasked), with `HFNUM` read just before the enabling write: the whole
//! frame is left for the few accesses in between.
//!
//! A timeout never ends a transfer before its channel has had the frame it was scheduled in:
//! a poll with a timeout shorter than the time to its frame (a 1 ms poll of an interrupt
//! endpoint) still reaches the bus once, instead of being halted before its token is sent.
//! Slave-mode quirk: after each IN data packet of a multi-packet transfer the core dequeues the
//! channel; the driver writes `CHENA` again after draining the packet (doc/usb-host.md 1.6).
#![no_std]
#![forbid(unsafe_code)]

use dwc2_regs::{self as regs, Dwc2Regs, gint, grxsts, hcchar, hcint, hctsiz, hprt};
use usb_host_api::{Direction, SetupPacket};
pub use usb_host_api::{EpType, PipeId, PipeSpec, RootPort, Speed, XferError};

/// Pipes the driver can hold (16 channels are shared among them).
pub const MAX_PIPES: usize = 16;
/// NAKs retried at once before retries drop to one per frame.
pub const NAK_FAST_RETRIES: u32 = 3;
/// Consecutive transaction/toggle errors tolerated before a transfer fails.
pub const MAX_ERRORS: u8 = 3;

const RX_FIFO_WORDS: u32 = 256;
const NPTX_FIFO_WORDS: u32 = 128;
const PTX_FIFO_WORDS: u32 = 128;
const RESET_POLL_US: u32 = 10;
const RESET_TIMEOUT_US: u64 = 100_000;
const HOST_MODE_TIMEOUT_US: u64 = 50_000;
const CHANNEL_INTERRUPTS: u32 = hcint::XFRC
    | hcint::CHH
    | hcint::STALL
    | hcint::NAK
    | hcint::ACK
    | hcint::TXERR
    | hcint::BBERR
    | hcint::FRMOR
    | hcint::DTERR;

/// Monotonic time and short busy waits (the task's timer; the model's virtual clock in tests).
pub trait Clock {
    fn now_us(&self) -> u64;
    fn delay_us(&self, us: u32);
}

/// Where transfer data lives: the client's leases in a task, plain slices in tests.
pub trait TransferBuffers {
    /// Copies `dst.len()` bytes of the OUT data of `pipe`'s transfer, starting at `offset`.
    fn read_out(&mut self, pipe: PipeId, offset: usize, dst: &mut [u8]) -> Result<(), BufferFault>;
    /// Stores IN data of `pipe`'s transfer at `offset`.
    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault>;
}

/// A buffer could not be accessed (the client died or its lease is too short).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferFault;

/// Why initialisation or a port operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HcdError {
    /// GSNPSID does not identify a DWC2 core.
    NotDwc2,
    /// The core did not become idle / leave reset / enter host mode in time.
    CoreTimeout,
    /// The FIFO layout does not fit the core's FIFO RAM.
    FifoTooSmall,
    NotConnected,
    /// The port did not come out of reset enabled.
    PortNotEnabled,
    /// The port reports high speed, which the FS PHY cannot do.
    UnsupportedSpeed,
    /// `GAHBCFG.DMAEN` reads 1 after initialisation: something turned buffer DMA on, and
    /// the core could master the bus (the slave-mode tripwire, doc/usb-host.md 5.3 item 1).
    DmaEnabled,
}

/// What the controller found at initialisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HcdInfo {
    pub channels: usize,
    pub fifo_words: u32,
}

/// Root-port events latched by [`Hcd::on_irq`] until [`Hcd::take_port_events`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortEvents {
    pub connect_changed: bool,
    pub disconnected: bool,
    /// The port was disabled by the hardware (babble, port error) while connected.
    pub disabled: bool,
}

/// A transfer request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Control transfer; data stage of `setup.length` bytes in `setup`'s direction.
    Control {
        setup: SetupPacket,
    },
    In {
        len: usize,
    },
    /// OUT; `zlp` adds a zero-length packet when `len` is a non-zero multiple of MPS.
    Out {
        len: usize,
        zlp: bool,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Setup,
    Data,
    Status,
    ZeroLength,
}

#[derive(Clone, Copy, Debug)]
struct Transfer {
    request: Request,
    stage: Stage,
    /// Bytes of the data stage moved so far.
    offset: usize,
    /// Next DPID of the current stage.
    pid: u32,
    deadline_us: u64,
    errors: u8,
    naks: u32,
    /// Frame before which the transfer must not start (NAK throttle, interrupt interval).
    not_before: Option<u16>,
    /// The device sent more than fits: finish with `Babble` once halted.
    overflow: bool,
}

impl Transfer {
    fn data_len(&self) -> usize {
        match self.request {
            Request::Control { setup } => usize::from(setup.length),
            Request::In { len } | Request::Out { len, .. } => len,
        }
    }

    fn data_direction(&self) -> Direction {
        match self.request {
            Request::Control { setup } => setup.direction(),
            Request::In { .. } => Direction::In,
            Request::Out { .. } => Direction::Out,
        }
    }

    /// Direction and byte count of the current stage.
    fn segment(&self) -> (Direction, usize) {
        match self.stage {
            Stage::Setup => (Direction::Out, SetupPacket::LEN),
            Stage::Data => (self.data_direction(), self.data_len() - self.offset),
            Stage::Status => match self.data_direction() {
                Direction::In if self.data_len() > 0 => (Direction::Out, 0),
                _ => (Direction::In, 0),
            },
            Stage::ZeroLength => (Direction::Out, 0),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Xfer {
    Idle,
    Pending(Transfer),
    Active(Transfer, u8),
    Done(Result<usize, XferError>),
}

#[derive(Clone, Copy, Debug)]
struct Pipe {
    spec: PipeSpec,
    toggle: u32,
    xfer: Xfer,
}

#[derive(Clone, Copy, Debug)]
struct PipeSlot {
    generation: u8,
    pipe: Option<Pipe>,
}

/// What to do once a halt requested on a channel has taken effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfterHalt {
    Retry { wait_frames: u16 },
    Finish(Result<usize, XferError>),
}

#[derive(Clone, Copy, Debug)]
struct ChannelSlot {
    pipe: Option<u8>,
    after_halt: Option<AfterHalt>,
    /// OUT bytes pushed but not yet acknowledged.
    in_flight: usize,
    /// An OUT packet waits for TX FIFO space.
    push_pending: bool,
    /// Aborted while enabled: unusable until its CHH arrives.
    draining: bool,
    /// The frame in which the programmed transaction is due: until it is over, the transfer
    /// does not time out.
    due_frame: u16,
}

impl ChannelSlot {
    fn is_free(&self) -> bool {
        self.pipe.is_none() && !self.draining
    }
}

const FREE_CHANNEL: ChannelSlot = ChannelSlot {
    pipe: None,
    after_halt: None,
    in_flight: 0,
    push_pending: false,
    draining: false,
    due_frame: 0,
};

/// The driver. Create with [`Hcd::new`], then [`Hcd::init`].
pub struct Hcd<R, C> {
    regs: R,
    clock: C,
    channel_count: usize,
    channels: [ChannelSlot; regs::MAX_CHANNELS],
    pipes: [PipeSlot; MAX_PIPES],
    events: PortEvents,
    /// The latched `events` were reported by [`Hcd::port_events_to_announce`].
    events_announced: bool,
    /// `HPRT.POCA` rose since [`Hcd::take_over_current`]: the port's driver decides what
    /// becomes of its power.
    over_current: bool,
    /// What this driver last wrote to `GINTMSK`, which only it writes: every interrupt
    /// service reads the mask, and a register read is an IPC to the model in QEMU.
    gintmsk: u32,
}

fn frame_reached(now: u16, due: u16) -> bool {
    now.wrapping_sub(due) & 0x3FFF < 0x2000
}

impl<R: Dwc2Regs, C: Clock> Hcd<R, C> {
    pub fn new(regs: R, clock: C) -> Self {
        Hcd {
            regs,
            clock,
            channel_count: 0,
            channels: [FREE_CHANNEL; regs::MAX_CHANNELS],
            pipes: [PipeSlot {
                generation: 0,
                pipe: None,
            }; MAX_PIPES],
            events: PortEvents::default(),
            events_announced: false,
            over_current: false,
            gintmsk: 0,
        }
    }

    pub fn regs(&self) -> &R {
        &self.regs
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The slave-mode tripwire (doc/usb-host.md 5.3 item 1): whether `GAHBCFG.DMAEN` still
    /// reads 0. This driver never sets it, and the MPU cannot withhold the bit (it shares a
    /// granule with registers written at run time), so `usb-hcd` checks it at start (in
    /// [`Hcd::init`]) and at every interrupt, and stops (a fault, so the supervisor pulses
    /// the core's reset before the restart) if it ever reads 1.
    pub fn slave_mode_intact(&self) -> bool {
        self.regs.read(regs::GAHBCFG) & regs::gahbcfg::DMAEN == 0
    }

    fn wait_until(
        &self,
        timeout_us: u64,
        mut done: impl FnMut(&R) -> bool,
    ) -> Result<(), HcdError> {
        let deadline = self.clock.now_us() + timeout_us;
        while !done(&self.regs) {
            if self.clock.now_us() >= deadline {
                return Err(HcdError::CoreTimeout);
            }
            self.clock.delay_us(RESET_POLL_US);
        }
        Ok(())
    }

    /// Core reset and host initialisation (doc/usb-host.md 1.4 steps 4-16), then port power on.
    /// Safe to call again at any time (a restarted driver must): every pipe is closed, so old
    /// handles go stale, and the core reset fences the hardware before anything is reused.
    pub fn init(&mut self) -> Result<HcdInfo, HcdError> {
        for i in 0..MAX_PIPES {
            let id = self.id_of(i);
            self.close_pipe(id);
        }
        self.channels = [FREE_CHANNEL; regs::MAX_CHANNELS];
        let r = &self.regs;
        if !regs::identity::is_dwc2(r.read(regs::GSNPSID)) {
            return Err(HcdError::NotDwc2);
        }
        let channel_count = regs::identity::channels(r.read(regs::GHWCFG2)).min(regs::MAX_CHANNELS);
        let fifo_words = regs::identity::fifo_words(r.read(regs::GHWCFG3));
        if RX_FIFO_WORDS + NPTX_FIFO_WORDS + PTX_FIFO_WORDS > fifo_words {
            return Err(HcdError::FifoTooSmall);
        }
        r.write(regs::GAHBCFG, 0);
        r.modify(regs::GUSBCFG, 0, regs::gusbcfg::PHYSEL);
        r.modify(regs::GCCFG, regs::gccfg::VBDEN, regs::gccfg::PWRDWN);

        self.wait_until(RESET_TIMEOUT_US, |r| {
            r.read(regs::GRSTCTL) & regs::grstctl::AHBIDL != 0
        })?;
        self.regs.write(regs::GRSTCTL, regs::grstctl::CSRST);
        self.wait_until(RESET_TIMEOUT_US, |r| {
            r.read(regs::GRSTCTL) & regs::grstctl::CSRST == 0
        })?;
        self.wait_until(RESET_TIMEOUT_US, |r| {
            r.read(regs::GRSTCTL) & regs::grstctl::AHBIDL != 0
        })?;

        let r = &self.regs;
        r.modify(
            regs::GUSBCFG,
            regs::gusbcfg::TRDT_MASK | regs::gusbcfg::TOCAL_MASK | regs::gusbcfg::FDMOD,
            (6 << regs::gusbcfg::TRDT_SHIFT) | 7 | regs::gusbcfg::PHYSEL | regs::gusbcfg::FHMOD,
        );
        r.write(regs::PCGCCTL, 0);
        self.flush_fifos()?;
        self.regs.write(regs::GINTSTS, 0xFFFF_FFFF);
        self.set_gintmsk(0);
        self.wait_until(HOST_MODE_TIMEOUT_US, |r| {
            r.read(regs::GINTSTS) & gint::CMOD != 0
        })?;

        let r = &self.regs;
        r.modify(regs::GCCFG, regs::gccfg::VBDEN, regs::gccfg::PWRDWN);
        r.write(regs::HCFG, regs::hcfg::FSLSS | regs::hcfg::FSLSPCS_48MHZ);
        r.write(regs::HFIR, regs::hfir::FULL_SPEED | regs::hfir::RLDCTRL);
        r.write(regs::GRXFSIZ, RX_FIFO_WORDS);
        r.write(regs::HNPTXFSIZ, (NPTX_FIFO_WORDS << 16) | RX_FIFO_WORDS);
        r.write(
            regs::HPTXFSIZ,
            (PTX_FIFO_WORDS << 16) | (RX_FIFO_WORDS + NPTX_FIFO_WORDS),
        );
        r.write(regs::HAINTMSK, 0);
        r.write(regs::HPRT, hprt::W1C & !hprt::PENA);
        r.write(regs::HPRT, hprt::PPWR);
        self.set_gintmsk(gint::RXFLVL | gint::HPRTINT | gint::HCINT | gint::DISCINT);
        self.regs.write(regs::GAHBCFG, regs::gahbcfg::GINT);
        if !self.slave_mode_intact() {
            self.regs.write(regs::GAHBCFG, 0);
            return Err(HcdError::DmaEnabled);
        }

        self.channel_count = channel_count;
        // A (re)initialised controller has reset the port: whatever a client enumerated
        // through an earlier init (an earlier incarnation of the driver task) is gone, even
        // if the device never left the port and so raised no connect interrupt.
        self.events = PortEvents {
            connect_changed: true,
            ..PortEvents::default()
        };
        self.events_announced = false;
        self.over_current = false;
        Ok(HcdInfo {
            channels: channel_count,
            fifo_words,
        })
    }

    fn flush_fifos(&self) -> Result<(), HcdError> {
        use regs::grstctl::{RXFFLSH, TXFFLSH, TXFNUM_ALL};
        self.regs.write(regs::GRSTCTL, TXFFLSH | TXFNUM_ALL);
        self.wait_until(RESET_TIMEOUT_US, |r| r.read(regs::GRSTCTL) & TXFFLSH == 0)?;
        self.regs.write(regs::GRSTCTL, RXFFLSH);
        self.wait_until(RESET_TIMEOUT_US, |r| r.read(regs::GRSTCTL) & RXFFLSH == 0)
    }

    // ---------------------------------------------------------------- root port

    fn write_hprt(&self, set: u32, clear: u32) {
        let value = hprt::without_w1c(self.regs.read(regs::HPRT));
        self.regs.write(regs::HPRT, (value & !clear) | set);
    }

    pub fn root_port(&self) -> RootPort {
        let v = self.regs.read(regs::HPRT);
        RootPort {
            connected: v & hprt::PCSTS != 0,
            enabled: v & hprt::PENA != 0,
            connect_changed: self.events.connect_changed,
        }
    }

    pub fn take_port_events(&mut self) -> PortEvents {
        self.events_announced = false;
        core::mem::take(&mut self.events)
    }

    /// True once for each batch of port events latched since the last
    /// [`Hcd::take_port_events`]: a task posts the client that takes them (the USB core) when
    /// this says so, so the client learns of a connect or disconnect without polling, and is
    /// posted once however many times the task looks before the client comes to take them.
    pub fn port_events_to_announce(&mut self) -> bool {
        let announce = self.events != PortEvents::default() && !self.events_announced;
        self.events_announced |= announce;
        announce
    }

    /// Whether the port reported over-current since the last call (and forgets it).
    pub fn take_over_current(&mut self) -> bool {
        core::mem::take(&mut self.over_current)
    }

    /// Switches the port's power (`HPRT.PPWR`) on or off. Off ends every transfer with
    /// `Disconnected`: no device on the port has power.
    pub fn port_power(&mut self, on: bool) {
        if on {
            self.write_hprt(hprt::PPWR, 0);
        } else {
            self.write_hprt(0, hprt::PPWR);
            self.abort_all(XferError::Disconnected);
        }
    }

    /// Asserts port reset; the caller holds it ≥ 50 ms (TDRSTR) before [`Hcd::port_reset_end`].
    pub fn port_reset_begin(&mut self) -> Result<(), HcdError> {
        if self.regs.read(regs::HPRT) & hprt::PCSTS == 0 {
            return Err(HcdError::NotConnected);
        }
        self.write_hprt(hprt::PRST, 0);
        Ok(())
    }

    /// Releases port reset, reads the speed and programs the PHY clock for it.
    pub fn port_reset_end(&mut self) -> Result<Speed, HcdError> {
        self.write_hprt(0, hprt::PRST);
        let v = self.regs.read(regs::HPRT);
        if v & hprt::PENA == 0 {
            return Err(HcdError::PortNotEnabled);
        }
        let (speed, clock, interval) = match (v & hprt::PSPD_MASK) >> hprt::PSPD_SHIFT {
            hprt::PSPD_LOW => (Speed::Low, regs::hcfg::FSLSPCS_6MHZ, regs::hfir::LOW_SPEED),
            hprt::PSPD_FULL => (
                Speed::Full,
                regs::hcfg::FSLSPCS_48MHZ,
                regs::hfir::FULL_SPEED,
            ),
            _ => return Err(HcdError::UnsupportedSpeed),
        };
        self.regs
            .modify(regs::HCFG, regs::hcfg::FSLSPCS_MASK, clock);
        self.regs.write(regs::HFIR, interval | regs::hfir::RLDCTRL);
        Ok(speed)
    }

    fn set_gintmsk(&mut self, mask: u32) {
        self.regs.write(regs::GINTMSK, mask);
        self.gintmsk = mask;
    }

    fn frame(&self) -> u16 {
        regs::hfnum::frame(self.regs.read(regs::HFNUM))
    }

    // ---------------------------------------------------------------- pipes

    fn slot(&self, id: PipeId) -> Result<usize, XferError> {
        let i = usize::from(id.index);
        match self.pipes.get(i) {
            Some(slot) if slot.generation == id.generation && slot.pipe.is_some() => Ok(i),
            _ => Err(XferError::BadPipe),
        }
    }

    fn pipe_mut(&mut self, id: PipeId) -> Result<&mut Pipe, XferError> {
        let i = self.slot(id)?;
        self.pipes[i].pipe.as_mut().ok_or(XferError::BadPipe)
    }

    fn id_of(&self, index: usize) -> PipeId {
        PipeId {
            index: index as u8,
            generation: self.pipes[index].generation,
        }
    }

    pub fn open_pipe(&mut self, spec: PipeSpec) -> Result<PipeId, XferError> {
        let limit = spec.speed.max_packet_limit(spec.ty);
        if spec.max_packet == 0 || spec.max_packet > limit || spec.speed == Speed::High {
            return Err(XferError::TooLarge);
        }
        let index = self
            .pipes
            .iter()
            .position(|s| s.pipe.is_none())
            .ok_or(XferError::NoResources)?;
        self.pipes[index].pipe = Some(Pipe {
            spec,
            toggle: hctsiz::DATA0,
            xfer: Xfer::Idle,
        });
        Ok(self.id_of(index))
    }

    pub fn retarget_pipe(
        &mut self,
        id: PipeId,
        address: u8,
        max_packet: u16,
    ) -> Result<(), XferError> {
        let pipe = self.pipe_mut(id)?;
        if !matches!(pipe.xfer, Xfer::Idle) {
            return Err(XferError::Busy);
        }
        if max_packet == 0 || max_packet > pipe.spec.speed.max_packet_limit(pipe.spec.ty) {
            return Err(XferError::TooLarge);
        }
        pipe.spec.address = address;
        pipe.spec.max_packet = max_packet;
        Ok(())
    }

    /// Closes the pipe; an in-flight transfer is aborted (its result is dropped with the pipe).
    pub fn close_pipe(&mut self, id: PipeId) {
        if let Ok(i) = self.slot(id) {
            self.abort_pipe(i, XferError::Canceled);
            self.pipes[i].pipe = None;
            self.pipes[i].generation = self.pipes[i].generation.wrapping_add(1);
        }
    }

    /// Closes every pipe of the device at `address` (unplug behind a hub).
    pub fn close_device(&mut self, address: u8) {
        for i in 0..MAX_PIPES {
            if self.pipes[i]
                .pipe
                .is_some_and(|p| p.spec.address == address)
            {
                let id = self.id_of(i);
                self.close_pipe(id);
            }
        }
    }

    pub fn reset_toggle(&mut self, id: PipeId) -> Result<(), XferError> {
        self.pipe_mut(id)?.toggle = hctsiz::DATA0;
        Ok(())
    }

    /// Queues a transfer; it starts in [`Hcd::service`].
    pub fn submit(
        &mut self,
        id: PipeId,
        request: Request,
        timeout_ms: u32,
    ) -> Result<(), XferError> {
        let deadline_us = self.clock.now_us() + u64::from(timeout_ms) * 1000;
        let connected = self.regs.read(regs::HPRT) & hprt::PENA != 0;
        let pipe = self.pipe_mut(id)?;
        if !matches!(pipe.xfer, Xfer::Idle) {
            return Err(XferError::Busy);
        }
        let mps = usize::from(pipe.spec.max_packet);
        let (len, stage, pid) = match request {
            Request::Control { setup } => (usize::from(setup.length), Stage::Setup, hctsiz::SETUP),
            Request::In { len } | Request::Out { len, .. } => (len, Stage::Data, pipe.toggle),
        };
        if len.div_ceil(mps) > hctsiz::MAX_PACKETS as usize || len > hctsiz::XFRSIZ_MASK as usize {
            return Err(XferError::TooLarge);
        }
        if !connected {
            return Err(XferError::Disconnected);
        }
        pipe.xfer = Xfer::Pending(Transfer {
            request,
            stage,
            offset: 0,
            pid,
            deadline_us,
            errors: 0,
            naks: 0,
            not_before: None,
            overflow: false,
        });
        Ok(())
    }

    /// The result of `id`'s transfer once it is done; the pipe is then idle again.
    pub fn take_completion(&mut self, id: PipeId) -> Option<Result<usize, XferError>> {
        let pipe = self.pipe_mut(id).ok()?;
        match pipe.xfer {
            Xfer::Done(result) => {
                pipe.xfer = Xfer::Idle;
                Some(result)
            }
            _ => None,
        }
    }

    /// Cancels `id`'s transfer; it completes with `Canceled` (after the channel halts).
    pub fn cancel(&mut self, id: PipeId) {
        if let Ok(i) = self.slot(id) {
            self.abort_pipe(i, XferError::Canceled);
        }
    }

    // ---------------------------------------------------------------- scheduling

    /// Starts due transfers and enforces deadlines. Call after `on_irq`, on timer ticks and
    /// after `submit`.
    pub fn service(&mut self, bufs: &mut impl TransferBuffers) {
        let now = self.clock.now_us();
        let mut frame = None;
        for i in 0..MAX_PIPES {
            let Some(pipe) = self.pipes[i].pipe else {
                continue;
            };
            match pipe.xfer {
                Xfer::Pending(t) if now >= t.deadline_us => self.finish(i, Err(XferError::Timeout)),
                Xfer::Active(t, ch) if now >= t.deadline_us => {
                    let frame = *frame.get_or_insert_with(|| self.frame());
                    let due = self.channels[usize::from(ch)].due_frame;
                    if frame_reached(frame, due.wrapping_add(1) & 0x3FFF) {
                        self.halt(ch, AfterHalt::Finish(Err(XferError::Timeout)), 0);
                    }
                }
                _ => {}
            }
        }
        self.start_pending(bufs, false);
    }

    /// Starts the transfers that are due; periodic ones only when `at_sof` (see the module
    /// doc: the frame must not turn over while one is programmed).
    fn start_pending(&mut self, bufs: &mut impl TransferBuffers, at_sof: bool) {
        let frame = self.frame();
        let mut waiting_for_frame = false;
        for i in 0..MAX_PIPES {
            let Some(Pipe {
                xfer: Xfer::Pending(t),
                spec,
                ..
            }) = self.pipes[i].pipe
            else {
                continue;
            };
            let frame_due = t.not_before.is_none_or(|due| frame_reached(frame, due));
            if !frame_due || (spec.ty.is_periodic() && !at_sof) {
                waiting_for_frame = true;
                continue;
            }
            let Some(ch) = (0..self.channel_count).find(|&c| self.channels[c].is_free()) else {
                return;
            };
            self.channels[ch] = ChannelSlot {
                pipe: Some(i as u8),
                ..FREE_CHANNEL
            };
            self.set_xfer(i, Xfer::Active(t, ch as u8));
            self.program(ch as u8, bufs);
        }
        // SOF wakes the task each frame only while something waits for a frame. Its status
        // is cleared as it is unmasked, so the next SOF seen marks a frame's start.
        let mask = self.gintmsk;
        let wanted = if waiting_for_frame {
            mask | gint::SOF
        } else {
            mask & !gint::SOF
        };
        if wanted != mask {
            if waiting_for_frame {
                self.regs.write(regs::GINTSTS, gint::SOF);
            }
            self.set_gintmsk(wanted);
        }
    }

    fn set_xfer(&mut self, i: usize, xfer: Xfer) {
        if let Some(pipe) = self.pipes[i].pipe.as_mut() {
            pipe.xfer = xfer;
        }
    }

    fn active(&self, ch: u8) -> Option<(usize, Pipe, Transfer)> {
        let i = usize::from(self.channels[usize::from(ch)].pipe?);
        let pipe = self.pipes[i].pipe?;
        match pipe.xfer {
            Xfer::Active(t, c) if c == ch => Some((i, pipe, t)),
            _ => None,
        }
    }

    fn update_transfer(&mut self, ch: u8, t: Transfer) {
        if let Some((i, _, _)) = self.active(ch) {
            self.set_xfer(i, Xfer::Active(t, ch));
        }
    }

    /// Programs the current segment of the channel's transfer and enables the channel.
    fn program(&mut self, ch: u8, bufs: &mut impl TransferBuffers) {
        let Some((_, pipe, t)) = self.active(ch) else {
            return;
        };
        let spec = pipe.spec;
        let mps = u32::from(spec.max_packet);
        let (dir, bytes) = t.segment();
        let packets = (bytes as u32).div_ceil(mps).max(1);
        // IN: the buffer reserved is whole packets; excess beyond the request is caught on
        // arrival and never stored.
        let size = if dir == Direction::In {
            packets * mps
        } else {
            bytes as u32
        };
        let ep_type = match spec.ty {
            EpType::Control => hcchar::EPTYP_CONTROL,
            EpType::Bulk => hcchar::EPTYP_BULK,
            EpType::Interrupt => hcchar::EPTYP_INTERRUPT,
            EpType::Isochronous => hcchar::EPTYP_ISOCHRONOUS,
        };
        let mut value = mps
            | (u32::from(spec.endpoint.number()) << hcchar::EPNUM_SHIFT)
            | (ep_type << hcchar::EPTYP_SHIFT)
            | (u32::from(spec.address) << hcchar::DAD_SHIFT);
        if dir == Direction::In {
            value |= hcchar::EPDIR_IN;
        }
        if spec.speed == Speed::Low {
            value |= hcchar::LSDEV;
        }
        let r = &self.regs;
        r.write(regs::hcint(ch), 0xFFFF_FFFF);
        r.write(regs::hcintmsk(ch), CHANNEL_INTERRUPTS);
        r.modify(regs::HAINTMSK, 0, 1 << ch);
        r.write(regs::hctsiz(ch), hctsiz::new(size, packets, t.pid));
        r.write(regs::hcchar(ch), value);
        // The frame is read as late as possible: just before the write that enables.
        let frame = self.frame();
        let mut due_frame = frame;
        if spec.ty.is_periodic() {
            due_frame = frame.wrapping_add(1) & 0x3FFF;
            if frame.is_multiple_of(2) {
                value |= hcchar::ODDFRM;
            }
        }
        self.channels[usize::from(ch)].due_frame = due_frame;
        self.regs.write(regs::hcchar(ch), value | hcchar::CHENA);
        if dir == Direction::Out {
            self.push_packet(ch, bufs);
        }
    }

    /// Pushes the next OUT packet of the channel into its TX FIFO, if there is room.
    fn push_packet(&mut self, ch: u8, bufs: &mut impl TransferBuffers) {
        let Some((i, pipe, t)) = self.active(ch) else {
            return;
        };
        let (_, remaining) = t.segment();
        let len = remaining.min(usize::from(pipe.spec.max_packet));
        if len == 0 {
            return;
        }
        let status_reg = if pipe.spec.ty.is_periodic() {
            regs::HPTXSTS
        } else {
            regs::HNPTXSTS
        };
        let status = self.regs.read(status_reg);
        let words = len.div_ceil(4);
        if (regs::txsts::free_words(status) as usize) < words
            || regs::txsts::free_requests(status) == 0
        {
            self.channels[usize::from(ch)].push_pending = true;
            let empty = if pipe.spec.ty.is_periodic() {
                gint::PTXFE
            } else {
                gint::NPTXFE
            };
            self.set_gintmsk(self.gintmsk | empty);
            return;
        }
        let mut bytes = [0u8; 64];
        let fetched = match (t.stage, t.request) {
            (Stage::Setup, Request::Control { setup }) => {
                bytes[..8].copy_from_slice(&setup.to_bytes());
                Ok(())
            }
            _ => bufs.read_out(self.id_of(i), t.offset, &mut bytes[..len]),
        };
        if fetched.is_err() {
            self.halt(ch, AfterHalt::Finish(Err(XferError::BufferFault)), 0);
            return;
        }
        let mut packet = [0u32; 16];
        for (word, chunk) in packet.iter_mut().zip(bytes[..len].chunks(4)) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            *word = u32::from_le_bytes(w);
        }
        self.regs.fifo_write(ch, &packet[..words]);
        let slot = &mut self.channels[usize::from(ch)];
        slot.in_flight = len;
        slot.push_pending = false;
    }

    // ---------------------------------------------------------------- interrupts

    /// Handles everything the controller signals. Returns after the interrupt line is quiet
    /// (or after a bounded number of rounds).
    pub fn on_irq(&mut self, bufs: &mut impl TransferBuffers) {
        let mut at_sof = false;
        for _ in 0..16 {
            let pending = self.regs.read(regs::GINTSTS) & self.gintmsk;
            if pending == 0 {
                break;
            }
            if pending & gint::RXFLVL != 0 {
                self.drain_rx(bufs);
            }
            if pending & gint::HCINT != 0 {
                let haint = self.regs.read(regs::HAINT);
                for ch in 0..self.channel_count as u8 {
                    if haint & (1 << ch) != 0 {
                        self.channel_interrupt(ch, bufs);
                    }
                }
            }
            if pending & gint::HPRTINT != 0 {
                self.port_interrupt();
            }
            if pending & gint::DISCINT != 0 {
                self.regs.write(regs::GINTSTS, gint::DISCINT);
                self.events.disconnected = true;
                self.abort_all(XferError::Disconnected);
            }
            if pending & gint::SOF != 0 {
                self.regs.write(regs::GINTSTS, gint::SOF);
                at_sof = true;
            }
            if pending & (gint::NPTXFE | gint::PTXFE) != 0 {
                self.set_gintmsk(self.gintmsk & !(gint::NPTXFE | gint::PTXFE));
                for ch in 0..self.channel_count as u8 {
                    if self.channels[usize::from(ch)].push_pending {
                        self.push_packet(ch, bufs);
                    }
                }
            }
        }
        self.start_pending(bufs, at_sof);
    }

    fn port_interrupt(&mut self) {
        let v = self.regs.read(regs::HPRT);
        let ack = v & (hprt::PCDET | hprt::PENCHNG | hprt::POCCHNG);
        self.regs.write(regs::HPRT, hprt::without_w1c(v) | ack);
        if v & hprt::PCDET != 0 {
            self.events.connect_changed = true;
        }
        // POCCHNG also marks the flag's fall (power switched off, load removed).
        if v & hprt::POCCHNG != 0 && v & hprt::POCA != 0 {
            self.over_current = true;
        }
        if v & hprt::PENCHNG != 0 && v & hprt::PENA == 0 {
            if v & hprt::PCSTS != 0 {
                self.events.disabled = true;
            }
            self.abort_all(XferError::Disconnected);
        }
    }

    fn drain_rx(&mut self, bufs: &mut impl TransferBuffers) {
        while self.regs.read(regs::GINTSTS) & gint::RXFLVL != 0 {
            let status = self.regs.read(regs::GRXSTSP);
            let count = grxsts::byte_count(status);
            let mut words = [0u32; 16];
            let mut bytes = [0u8; 64];
            let mut kept = 0;
            // Drain every data word, even of an oversized packet; keep at most 64 bytes.
            for chunk_start in (0..count.div_ceil(4)).step_by(words.len()) {
                let n = (count.div_ceil(4) - chunk_start).min(words.len());
                self.regs.fifo_read(&mut words[..n]);
                for w in &words[..n] {
                    for b in w.to_le_bytes() {
                        if kept < bytes.len() {
                            bytes[kept] = b;
                            kept += 1;
                        }
                    }
                }
            }
            if grxsts::packet_status(status) == grxsts::PKTSTS_IN_DATA {
                let ch = grxsts::channel(status);
                self.receive(ch, &bytes[..count.min(kept)], count, bufs);
            }
        }
    }

    /// One IN data packet of `count` bytes (`data` holds the first ≤ 64) arrived on `ch`.
    fn receive(&mut self, ch: u8, data: &[u8], count: usize, bufs: &mut impl TransferBuffers) {
        let Some((i, pipe, mut t)) = self.active(ch) else {
            return;
        };
        let (_, room) = t.segment();
        let n = count.min(room).min(data.len());
        if n > 0 && bufs.write_in(self.id_of(i), t.offset, &data[..n]).is_err() {
            self.halt(ch, AfterHalt::Finish(Err(XferError::BufferFault)), 0);
            return;
        }
        t.offset += n;
        t.overflow |= count > room;
        self.update_transfer(ch, t);
        let full_packet = count == usize::from(pipe.spec.max_packet);
        let halting = self.channels[usize::from(ch)].after_halt.is_some();
        if t.overflow {
            self.halt(ch, AfterHalt::Finish(Err(XferError::Babble)), 0);
        } else if full_packet && t.offset < t.data_len() && !halting {
            // Slave-mode quirk: re-queue the channel for the next IN token.
            let value = self.regs.read(regs::hcchar(ch));
            if value & hcchar::CHENA != 0 {
                self.regs
                    .write(regs::hcchar(ch), (value & !hcchar::CHDIS) | hcchar::CHENA);
            }
        }
    }

    fn channel_interrupt(&mut self, ch: u8, bufs: &mut impl TransferBuffers) {
        // `HCINTMSKn` holds `CHANNEL_INTERRUPTS` from the channel's first programming on,
        // and a channel raises no `HAINT` bit before it: not read back.
        let bits = self.regs.read(regs::hcint(ch)) & CHANNEL_INTERRUPTS;
        self.regs.write(regs::hcint(ch), bits);
        let Some((_, pipe, mut t)) = self.active(ch) else {
            // A channel whose transfer was aborted: it is free once halted.
            if bits & hcint::CHH != 0 {
                self.release_channel(ch);
            }
            return;
        };
        let periodic = pipe.spec.ty.is_periodic();
        if bits & hcint::ACK != 0 {
            t.errors = 0;
            let slot = &mut self.channels[usize::from(ch)];
            t.offset += core::mem::take(&mut slot.in_flight);
            if t.stage == Stage::Setup {
                t.offset = 0;
            }
            self.update_transfer(ch, t);
            if bits & hcint::XFRC == 0 && t.segment().0 == Direction::Out {
                self.push_packet(ch, bufs);
            }
        }
        let retry_error = |t: &mut Transfer, fatal: XferError| {
            t.errors += 1;
            if t.errors >= MAX_ERRORS {
                AfterHalt::Finish(Err(fatal))
            } else {
                AfterHalt::Retry { wait_frames: 0 }
            }
        };
        let decision = if bits & hcint::XFRC != 0 {
            return self.segment_done(ch, bufs);
        } else if bits & hcint::STALL != 0 {
            AfterHalt::Finish(Err(XferError::Stall))
        } else if bits & hcint::BBERR != 0 {
            AfterHalt::Finish(Err(XferError::Babble))
        } else if bits & hcint::TXERR != 0 {
            retry_error(&mut t, XferError::TransactionError)
        } else if bits & hcint::DTERR != 0 {
            retry_error(&mut t, XferError::DataToggle)
        } else if bits & hcint::FRMOR != 0 {
            AfterHalt::Retry { wait_frames: 1 }
        } else if bits & hcint::NAK != 0 {
            t.naks += 1;
            let wait = if periodic {
                u16::from(pipe.spec.interval.max(1))
            } else {
                u16::from(t.naks > NAK_FAST_RETRIES)
            };
            AfterHalt::Retry { wait_frames: wait }
        } else if bits & hcint::CHH != 0 {
            return self.halted(ch, bufs);
        } else {
            return;
        };
        self.update_transfer(ch, t);
        self.halt(ch, decision, bits);
    }

    /// Requests a halt (unless `bits` shows the channel already halted) and remembers what to
    /// do once it has. The first decision wins: a later error cannot override a cancel.
    fn halt(&mut self, ch: u8, decision: AfterHalt, bits: u32) {
        let slot = &mut self.channels[usize::from(ch)];
        if slot.after_halt.is_none() {
            slot.after_halt = Some(decision);
        }
        let value = self.regs.read(regs::hcchar(ch));
        if bits & hcint::CHH != 0 || value & hcchar::CHENA == 0 {
            self.halted_now(ch);
        } else if value & hcchar::CHDIS == 0 {
            self.regs
                .write(regs::hcchar(ch), value | hcchar::CHDIS | hcchar::CHENA);
        }
    }

    fn halted(&mut self, ch: u8, bufs: &mut impl TransferBuffers) {
        self.halted_now(ch);
        self.start_pending(bufs, false);
    }

    /// The channel has stopped: carry out the recorded decision and free the channel.
    fn halted_now(&mut self, ch: u8) {
        let decision = self.channels[usize::from(ch)].after_halt.take();
        let Some((i, pipe, mut t)) = self.active(ch) else {
            self.release_channel(ch);
            return;
        };
        t.pid = hctsiz::pid(self.regs.read(regs::hctsiz(ch)));
        self.release_channel(ch);
        match decision {
            Some(AfterHalt::Retry { wait_frames }) => {
                let frame = self.frame();
                t.not_before = (wait_frames > 0).then(|| frame.wrapping_add(wait_frames) & 0x3FFF);
                self.set_xfer(i, Xfer::Pending(t));
            }
            Some(AfterHalt::Finish(result)) => {
                self.save_toggle(i, &pipe, &t);
                self.finish(i, result);
            }
            None => self.set_xfer(i, Xfer::Pending(t)),
        }
    }

    fn release_channel(&mut self, ch: u8) {
        self.channels[usize::from(ch)] = FREE_CHANNEL;
        self.regs.modify(regs::HAINTMSK, 1 << ch, 0);
    }

    fn save_toggle(&mut self, i: usize, pipe: &Pipe, t: &Transfer) {
        if pipe.spec.ty != EpType::Control
            && matches!(t.stage, Stage::Data | Stage::ZeroLength)
            && let Some(p) = self.pipes[i].pipe.as_mut()
        {
            p.toggle = t.pid;
        }
    }

    fn segment_done(&mut self, ch: u8, bufs: &mut impl TransferBuffers) {
        let Some((i, pipe, mut t)) = self.active(ch) else {
            return;
        };
        t.pid = hctsiz::pid(self.regs.read(regs::hctsiz(ch)));
        let mps = usize::from(pipe.spec.max_packet);
        let next = match (t.request, t.stage) {
            (Request::Control { setup }, Stage::Setup) => Some(if setup.length > 0 {
                Stage::Data
            } else {
                Stage::Status
            }),
            (Request::Control { .. }, Stage::Data) => Some(Stage::Status),
            (Request::Out { len, zlp: true }, Stage::Data) if len > 0 && len % mps == 0 => {
                Some(Stage::ZeroLength)
            }
            _ => None,
        };
        if t.overflow {
            self.release_channel(ch);
            return self.finish(i, Err(XferError::Babble));
        }
        match next {
            Some(stage) => {
                t.stage = stage;
                if pipe.spec.ty == EpType::Control {
                    t.pid = hctsiz::DATA1;
                }
                self.channels[usize::from(ch)] = ChannelSlot {
                    pipe: Some(i as u8),
                    ..FREE_CHANNEL
                };
                self.set_xfer(i, Xfer::Active(t, ch));
                self.program(ch, bufs);
            }
            None => {
                self.release_channel(ch);
                self.save_toggle(i, &pipe, &t);
                self.finish(i, Ok(t.offset));
            }
        }
    }

    fn finish(&mut self, i: usize, result: Result<usize, XferError>) {
        self.set_xfer(i, Xfer::Done(result));
    }

    /// Aborts pipe `i`'s transfer with `error` (halting its channel if one is running).
    fn abort_pipe(&mut self, i: usize, error: XferError) {
        let Some(pipe) = self.pipes[i].pipe else {
            return;
        };
        match pipe.xfer {
            Xfer::Pending(_) => self.finish(i, Err(error)),
            Xfer::Active(t, ch) => {
                let decided = self.channels[usize::from(ch)].after_halt;
                let value = self.regs.read(regs::hcchar(ch));
                if value & hcchar::CHENA != 0 && value & hcchar::CHDIS == 0 {
                    self.regs
                        .write(regs::hcchar(ch), value | hcchar::CHDIS | hcchar::CHENA);
                }
                if value & hcchar::CHENA == 0 {
                    self.release_channel(ch);
                } else {
                    // Reserved until its CHH arrives (HAINTMSK stays set to see it).
                    self.channels[usize::from(ch)] = ChannelSlot {
                        draining: true,
                        ..FREE_CHANNEL
                    };
                }
                self.save_toggle(i, &pipe, &t);
                let result = match decided {
                    Some(AfterHalt::Finish(r)) => r,
                    _ => Err(error),
                };
                self.finish(i, result);
            }
            Xfer::Idle | Xfer::Done(_) => {}
        }
    }

    fn abort_all(&mut self, error: XferError) {
        for i in 0..MAX_PIPES {
            self.abort_pipe(i, error);
        }
    }
}
