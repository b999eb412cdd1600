//! The behavioural DWC2 host controller: register side effects, FIFOs, the channel engine,
//! the frame timer, the root-port state machine and programming-rule assertions.
//!
//! Time is virtual. [`Dwc2Model::step`] runs at most one bus transaction and advances time by
//! its duration; [`Dwc2Model::idle_until`] jumps to the next frame. Per frame, enabled periodic
//! channels whose `ODDFRM` matches the frame parity go first, then non-periodic channels
//! round-robin, within a ~950 µs budget. A non-periodic channel that was NAKed is retried in
//! the next frame (real cores retry sooner; the driver halts NAKed channels anyway).
//!
//! Root port (HPRT):
//!
//! | Event | Effect |
//! |---|---|
//! | device attached while `PPWR` | `PCSTS`, `PCDET` |
//! | `PRST` 1 → 0 (held ≥ 10 ms, else a violation) | device bus reset, `PENA`, `PENCHNG`, `PSPD` |
//! | write with `PENA` = 1 | port disabled **and** a violation (a read-modify-write bug) |
//! | device detached | `PCSTS`/`PENA` drop, `PCDET`, `PENCHNG`, `GINTSTS.DISCINT`; enabled channels halt with `TXERR` |
//! | IN packet longer than MPS (babble) | channel `BBERR`, port disabled (`PENCHNG`) |
//! | over-current load while `PPWR` ([`Dwc2Model::set_over_current`]) | `POCA`, `POCCHNG`; the device loses power (as detached, but still plugged) |
//! | `PPWR` 1 → 0 with `POCA` set, or the load removed | `POCA` drops, `POCCHNG`; a device still plugged connects again once powered |
//!
//! Channel n (HCCHAR/HCTSIZ/HCINT):
//!
//! | Outcome of a transaction | HCINT | Channel after |
//! |---|---|---|
//! | SETUP/OUT ACK, last packet | `ACK`, `XFRC`, `CHH` | disabled |
//! | OUT ACK, more packets | `ACK` | enabled, waits for the next packet in the FIFO |
//! | IN data, more packets | `ACK`; RX status 2 + data | enabled but **dequeued until CHENA is written again** (slave-mode quirk) |
//! | IN data, short or last | `ACK`; RX status 2 + data, then status 3 | `XFRC`+`CHH` when status 3 is popped |
//! | NAK, non-periodic | `NAK` (OUT packet discarded) | enabled, retried next frame |
//! | NAK, periodic | `NAK`, `CHH` | disabled |
//! | STALL / no response / babble / toggle mismatch | `STALL` / `TXERR` / `BBERR` / `DTERR` | enabled, **must be halted** (CHDIS) before reuse |
//! | `CHDIS`+`CHENA` written | `CHH` | disabled |
//!
//! Programming rules checked (each breach is recorded as a [`Violation`], never a panic):
//! re-enabling a channel that must first be halted, rewriting an enabled channel, `PKTCNT` 0,
//! MPS 0 or above the speed's limit, `XFRSIZ` > `PKTCNT`·MPS, SETUP PID on a non-control
//! channel, a periodic channel enabled for the wrong frame parity, pushing into a full FIFO,
//! halting an idle channel, a too-short port reset, writing HPRT.PENA, more than one device
//! answering at address 0, and a FIFO layout beyond the 952-word RAM.

use crate::device::{Handshake, InReply, MAX_BUS_PACKET, Pid, SimDevice};
use dwc2_regs::{self as regs, gint, grstctl, hcchar, hcint, hctsiz, hprt};
use usb_proto::Speed;

/// A breach of the DWC2 programming rules by the driver under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Violation {
    EnableWhileHaltRequired { channel: u8 },
    RewriteWhileEnabled { channel: u8 },
    ZeroPacketCount { channel: u8 },
    BadMaxPacket { channel: u8 },
    SizeExceedsPackets { channel: u8 },
    SetupPidOnNonControl { channel: u8 },
    WrongFrameParity { channel: u8 },
    TxFifoOverflow { channel: u8 },
    HaltOfIdleChannel { channel: u8 },
    RxDataNotDrained,
    RxFifoUnderflow,
    PortResetTooShort { held_us: u64 },
    PortEnableWritten,
    SeveralDevicesAtAddressZero,
    FifoLayout,
}

/// Counters for figures and oracles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Port resets that reached a device (bus resets on the wire).
    pub bus_resets: u64,
    pub transactions: u64,
    pub setups: u64,
    pub naks: u64,
    pub stalls: u64,
    pub errors: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

const MAX_RECORDED: usize = 8;
/// Bus events [`Dwc2Model::trace`] keeps (the most recent ones).
pub const TRACE_LEN: usize = 64;

/// What the bus saw, in order: the oracle of system tests (resets, addresses, toggles).
/// NAKed transactions are only counted ([`BusStats::naks`]): a polled endpoint would
/// otherwise flush the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BusEvent {
    /// A port reset reached the device.
    Reset,
    /// A SETUP packet to `address` and the device's handshake.
    Setup {
        address: u8,
        setup: [u8; 8],
        handshake: Handshake,
    },
    /// An OUT data packet sent with `pid`.
    Out {
        address: u8,
        endpoint: u8,
        pid: Pid,
        len: usize,
        handshake: Handshake,
    },
    /// An IN transaction: the device's answer.
    In {
        address: u8,
        endpoint: u8,
        reply: InReply,
    },
}
const FRAME_US: u64 = 1000;
const FRAME_BUDGET_US: u64 = 950;
const RX_CAPACITY: usize = 1024;
const FIFO_RAM_WORDS: u32 = 952;
const REQUEST_QUEUE_DEPTH: u32 = 8;
const CSRST_READS: u8 = 2;
const CMOD_DELAY_US: u64 = 25_000;
const MIN_RESET_US: u64 = 10_000;

#[derive(Clone, Copy)]
struct Channel {
    hcchar: u32,
    hctsiz: u32,
    hcint: u32,
    hcintmsk: u32,
    /// Scheduled: false after each IN data packet until CHENA is written again.
    queued: bool,
    /// STALL/TXERR/BBERR/DTERR seen: only a halt may follow.
    halt_required: bool,
    /// Frame in which a non-periodic NAK or a periodic transaction happened.
    blocked_frame: Option<u16>,
    tx: [u8; 64],
    tx_fill: usize,
    committed: Option<usize>,
}

impl Channel {
    const IDLE: Channel = Channel {
        hcchar: 0,
        hctsiz: 0,
        hcint: 0,
        hcintmsk: 0,
        queued: false,
        halt_required: false,
        blocked_frame: None,
        tx: [0; 64],
        tx_fill: 0,
        committed: None,
    };

    fn enabled(&self) -> bool {
        self.hcchar & hcchar::CHENA != 0
    }
    fn is_in(&self) -> bool {
        self.hcchar & hcchar::EPDIR_IN != 0
    }
    fn is_periodic(&self) -> bool {
        matches!(
            hcchar::ep_type(self.hcchar),
            hcchar::EPTYP_INTERRUPT | hcchar::EPTYP_ISOCHRONOUS
        )
    }
    fn mps(&self) -> usize {
        hcchar::max_packet(self.hcchar) as usize
    }
    fn next_out_len(&self) -> usize {
        (hctsiz::bytes(self.hctsiz) as usize).min(self.mps())
    }
    fn disable(&mut self, bits: u32) {
        self.hcchar &= !(hcchar::CHENA | hcchar::CHDIS);
        self.hcint |= bits;
        self.queued = false;
        self.halt_required = false;
        self.tx_fill = 0;
        self.committed = None;
    }
    /// Consumes one packet of `len` bytes: PKTCNT−1, XFRSIZ−len, toggle flipped.
    fn advance(&mut self, len: usize) {
        let bytes = hctsiz::bytes(self.hctsiz).saturating_sub(len as u32);
        let packets = hctsiz::packets(self.hctsiz).saturating_sub(1);
        let pid = match hctsiz::pid(self.hctsiz) {
            hctsiz::DATA0 => hctsiz::DATA1,
            _ => hctsiz::DATA0,
        };
        self.hctsiz = hctsiz::new(bytes, packets, pid);
    }
}

struct RxFifo {
    words: [u32; RX_CAPACITY],
    head: usize,
    len: usize,
    /// Data words that belong to the last popped status entry.
    unread_data: usize,
}

impl RxFifo {
    fn push(&mut self, word: u32) {
        self.words[(self.head + self.len) % RX_CAPACITY] = word;
        self.len += 1;
    }
    fn pop(&mut self) -> Option<u32> {
        (self.len > 0).then(|| {
            let w = self.words[self.head];
            self.head = (self.head + 1) % RX_CAPACITY;
            self.len -= 1;
            w
        })
    }
    fn peek(&self) -> Option<u32> {
        (self.len > 0).then(|| self.words[self.head])
    }
    fn clear(&mut self) {
        self.len = 0;
        self.unread_data = 0;
    }
}

/// Outcome of one transaction, computed while the device is borrowed.
enum Outcome {
    Out(Handshake, usize),
    In(InReply),
    Disabled,
}

/// The model. `'d` is the lifetime of the simulated devices, which the caller owns.
pub struct Dwc2Model<'d> {
    now_us: u64,
    frame: u16,
    next_frame_us: u64,
    frame_used_us: u64,
    gahbcfg: u32,
    gusbcfg: u32,
    grstctl_reads: u8,
    gintsts: u32,
    gintmsk: u32,
    grxfsiz: u32,
    hnptxfsiz: u32,
    hptxfsiz: u32,
    gccfg: u32,
    hcfg: u32,
    hfir: u32,
    haintmsk: u32,
    hprt: u32,
    cmod_at_us: Option<u64>,
    reset_started_us: u64,
    channels: [Channel; regs::MAX_CHANNELS],
    rx: RxFifo,
    round_robin: usize,
    root: Option<&'d mut dyn SimDevice>,
    unplug_after: Option<u64>,
    /// The device the scripted unplug removed, kept for [`Dwc2Model::replug`].
    unplugged: Option<&'d mut dyn SimDevice>,
    /// A load on the port draws more than the VBUS switch allows (a short, a broken
    /// device): while the port is powered the switch limits the current, the controller
    /// reports over-current and the device is without power.
    overloaded: bool,
    stats: BusStats,
    violations: [Option<Violation>; MAX_RECORDED],
    violation_count: usize,
    trace: [Option<BusEvent>; TRACE_LEN],
    /// Events recorded so far; event `n` sits at `trace[n % TRACE_LEN]` while it is kept.
    trace_count: u64,
}

impl Default for Dwc2Model<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'d> Dwc2Model<'d> {
    pub fn new() -> Self {
        let mut model = Dwc2Model {
            now_us: 0,
            frame: 0,
            next_frame_us: FRAME_US,
            frame_used_us: 0,
            gahbcfg: 0,
            gusbcfg: 0,
            grstctl_reads: 0,
            gintsts: 0,
            gintmsk: 0,
            grxfsiz: 0,
            hnptxfsiz: 0,
            hptxfsiz: 0,
            gccfg: 0,
            hcfg: 0,
            hfir: 0,
            haintmsk: 0,
            hprt: 0,
            cmod_at_us: None,
            reset_started_us: 0,
            channels: [Channel::IDLE; regs::MAX_CHANNELS],
            rx: RxFifo {
                words: [0; RX_CAPACITY],
                head: 0,
                len: 0,
                unread_data: 0,
            },
            round_robin: 0,
            root: None,
            unplug_after: None,
            unplugged: None,
            overloaded: false,
            stats: BusStats::default(),
            violations: [None; MAX_RECORDED],
            violation_count: 0,
            trace: [None; TRACE_LEN],
            trace_count: 0,
        };
        model.core_reset();
        model
    }

    /// CSRST: every CSR back to its reset value; the port loses power.
    fn core_reset(&mut self) {
        self.gahbcfg = 0;
        self.gusbcfg = 0x0000_1400;
        self.gintsts = 0;
        self.gintmsk = 0;
        self.grxfsiz = 0x200;
        self.hnptxfsiz = 0x0200_0200;
        self.hptxfsiz = 0x0200_0400;
        self.hcfg = 0;
        self.hfir = 0xEA60;
        self.haintmsk = 0;
        self.hprt = 0;
        self.cmod_at_us = None;
        self.channels = [Channel::IDLE; regs::MAX_CHANNELS];
        self.rx.clear();
    }

    fn violation(&mut self, v: Violation) {
        if let Some(slot) = self.violations.get_mut(self.violation_count) {
            *slot = Some(v);
        }
        self.violation_count += 1;
    }

    /// Programming-rule breaches so far (the first few are kept).
    pub fn violations(&self) -> impl Iterator<Item = Violation> + '_ {
        self.violations.iter().flatten().copied()
    }

    pub fn violation_count(&self) -> usize {
        self.violation_count
    }

    pub fn stats(&self) -> BusStats {
        self.stats
    }

    /// Number of bus events recorded since the model was made (the next event's number).
    pub fn trace_count(&self) -> u64 {
        self.trace_count
    }

    /// The kept bus events numbered `from` and later, with their numbers; older ones have
    /// been overwritten (the first number returned tells).
    pub fn trace(&self, from: u64) -> impl Iterator<Item = (u64, BusEvent)> + '_ {
        let oldest = self.trace_count.saturating_sub(TRACE_LEN as u64);
        (from.max(oldest)..self.trace_count)
            .filter_map(|n| Some((n, self.trace[(n % TRACE_LEN as u64) as usize]?)))
    }

    fn record(&mut self, event: BusEvent) {
        self.trace[(self.trace_count % TRACE_LEN as u64) as usize] = Some(event);
        self.trace_count += 1;
    }

    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Level of the controller's interrupt line.
    pub fn irq_pending(&self) -> bool {
        self.gahbcfg & regs::gahbcfg::GINT != 0 && self.gintsts() & self.gintmsk != 0
    }

    /// Plugs `device` into the root port.
    pub fn attach(&mut self, device: &'d mut dyn SimDevice) {
        self.root = Some(device);
        if self.port_powered() {
            self.hprt |= hprt::PCSTS | hprt::PCDET;
        }
    }

    /// Unplugs the root-port device and hands it back.
    pub fn detach(&mut self) -> Option<&'d mut dyn SimDevice> {
        self.disconnect();
        self.root.take()
    }

    /// Unplugs the root device just before the `n`-th transaction from now.
    pub fn unplug_after_transactions(&mut self, n: u64) {
        self.unplug_after = Some(self.stats.transactions + n);
    }

    /// Plugs the device removed by [`Dwc2Model::unplug_after_transactions`] back in.
    pub fn replug(&mut self) -> bool {
        match self.unplugged.take() {
            Some(device) => {
                self.attach(device);
                true
            }
            None => false,
        }
    }

    /// The device on the root port (to plug devices into a simulated hub, for example).
    pub fn root_device(&mut self) -> Option<&mut (dyn SimDevice + 'd)> {
        self.root.as_deref_mut()
    }

    /// Whether the port's device has power: VBUS on and not limited by an over-current.
    fn port_powered(&self) -> bool {
        self.hprt & (hprt::PPWR | hprt::POCA) == hprt::PPWR
    }

    /// Puts an over-current load on the port (`true`) or takes it away.
    pub fn set_over_current(&mut self, overloaded: bool) {
        self.overloaded = overloaded;
        self.update_over_current();
    }

    /// `POCA` follows the load while the port is powered; each change sets `POCCHNG`. The
    /// device loses power when it rises and connects again when it falls.
    fn update_over_current(&mut self) {
        let active = self.overloaded && self.hprt & hprt::PPWR != 0;
        if active == (self.hprt & hprt::POCA != 0) {
            return;
        }
        self.hprt ^= hprt::POCA;
        self.hprt |= hprt::POCCHNG;
        if active {
            self.disconnect();
        } else if self.port_powered() && self.root.is_some() {
            self.hprt |= hprt::PCSTS | hprt::PCDET;
        }
    }

    fn disconnect(&mut self) {
        if self.hprt & hprt::PCSTS == 0 {
            return;
        }
        if self.hprt & hprt::PENA != 0 {
            self.hprt |= hprt::PENCHNG;
        }
        self.hprt &= !(hprt::PCSTS | hprt::PENA | hprt::PSPD_MASK);
        self.hprt |= hprt::PCDET;
        self.gintsts |= gint::DISCINT;
        for ch in self.channels.iter_mut().filter(|c| c.enabled()) {
            ch.disable(hcint::TXERR | hcint::CHH);
        }
    }

    fn gintsts(&self) -> u32 {
        let mut v = self.gintsts & !gint::READ_ONLY;
        if self.cmod_at_us.is_some_and(|t| self.now_us >= t) {
            v |= gint::CMOD;
        }
        if self.rx.len > 0 {
            v |= gint::RXFLVL;
        }
        if self.nptx_free_words() * 2 >= self.hnptxfsiz >> 16 {
            v |= gint::NPTXFE;
        }
        if self.hprt & (hprt::PCDET | hprt::PENCHNG | hprt::POCCHNG) != 0 {
            v |= gint::HPRTINT;
        }
        if self.haint() != 0 {
            v |= gint::HCINT;
        }
        v
    }

    fn haint(&self) -> u32 {
        let mut v = 0;
        for (n, ch) in self.channels.iter().enumerate() {
            if ch.hcint & ch.hcintmsk != 0 {
                v |= 1 << n;
            }
        }
        v & self.haintmsk
    }

    fn tx_words_in_use(&self, periodic: bool) -> (u32, u32) {
        let mut words = 0;
        let mut requests = 0;
        for ch in self
            .channels
            .iter()
            .filter(|c| c.is_periodic() == periodic && c.enabled())
        {
            words += ch.tx_fill.div_ceil(4) as u32;
            if let Some(len) = ch.committed {
                words += len.div_ceil(4) as u32;
                requests += 1;
            }
        }
        (words, requests)
    }

    fn nptx_free_words(&self) -> u32 {
        (self.hnptxfsiz >> 16).saturating_sub(self.tx_words_in_use(false).0)
    }

    fn tx_status(&self, periodic: bool) -> u32 {
        let depth = if periodic {
            self.hptxfsiz >> 16
        } else {
            self.hnptxfsiz >> 16
        };
        let (words, requests) = self.tx_words_in_use(periodic);
        (depth.saturating_sub(words) & 0xFFFF)
            | (REQUEST_QUEUE_DEPTH.saturating_sub(requests) << 16)
    }

    pub fn read(&mut self, offset: u32) -> u32 {
        if let Some((n, reg)) = regs::channel_register(offset) {
            let ch = &self.channels[usize::from(n)];
            return match reg {
                r if r == regs::hcchar(0) => ch.hcchar,
                r if r == regs::hcint(0) => ch.hcint,
                r if r == regs::hcintmsk(0) => ch.hcintmsk,
                r if r == regs::hctsiz(0) => ch.hctsiz,
                _ => 0,
            };
        }
        if offset >= regs::fifo(0) {
            return self.pop_rx_data();
        }
        match offset {
            regs::GAHBCFG => self.gahbcfg,
            regs::GUSBCFG => self.gusbcfg,
            regs::GRSTCTL => {
                self.grstctl_reads = self.grstctl_reads.saturating_sub(1);
                let busy = if self.grstctl_reads > 0 {
                    grstctl::CSRST
                } else {
                    0
                };
                grstctl::AHBIDL | busy
            }
            regs::GINTSTS => self.gintsts(),
            regs::GINTMSK => self.gintmsk,
            regs::GRXSTSR => self.rx.peek().unwrap_or(0),
            regs::GRXSTSP => self.pop_rx_status(),
            regs::GRXFSIZ => self.grxfsiz,
            regs::HNPTXFSIZ => self.hnptxfsiz,
            regs::HNPTXSTS => self.tx_status(false),
            regs::HPTXSTS => self.tx_status(true),
            regs::HPTXFSIZ => self.hptxfsiz,
            regs::GCCFG => self.gccfg,
            regs::CID => regs::identity::CID,
            regs::GSNPSID => regs::identity::GSNPSID,
            regs::GHWCFG2 => regs::identity::GHWCFG2,
            regs::GHWCFG3 => regs::identity::GHWCFG3,
            regs::GHWCFG4 => regs::identity::GHWCFG4,
            regs::HCFG => self.hcfg,
            regs::HFIR => self.hfir,
            regs::HFNUM => {
                let remaining = self.next_frame_us.saturating_sub(self.now_us) * 12;
                u32::from(self.frame) | ((remaining as u32 & 0xFFFF) << 16)
            }
            regs::HAINT => self.haint(),
            regs::HAINTMSK => self.haintmsk,
            regs::HPRT => self.hprt,
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u32) {
        if let Some((n, reg)) = regs::channel_register(offset) {
            return self.write_channel(n, reg, value);
        }
        if offset >= regs::fifo(0) {
            let n = ((offset - regs::fifo(0)) / 0x1000) as u8;
            return self.push_tx(n, value);
        }
        match offset {
            regs::GAHBCFG => self.gahbcfg = value,
            regs::GUSBCFG => {
                if value & regs::gusbcfg::FHMOD != 0 && self.gusbcfg & regs::gusbcfg::FHMOD == 0 {
                    self.cmod_at_us = Some(self.now_us + CMOD_DELAY_US);
                }
                self.gusbcfg = value;
            }
            regs::GRSTCTL => {
                if value & grstctl::CSRST != 0 {
                    self.disconnect();
                    self.core_reset();
                    self.grstctl_reads = CSRST_READS;
                }
                if value & grstctl::RXFFLSH != 0 {
                    self.rx.clear();
                }
            }
            regs::GINTSTS => self.gintsts &= !(value & !gint::READ_ONLY),
            regs::GINTMSK => self.gintmsk = value,
            regs::GRXFSIZ => self.grxfsiz = value & 0xFFFF,
            regs::HNPTXFSIZ => self.hnptxfsiz = value,
            regs::HPTXFSIZ => {
                self.hptxfsiz = value;
                self.check_fifo_layout();
            }
            regs::GCCFG => self.gccfg = value,
            regs::HCFG => self.hcfg = value,
            regs::HFIR => self.hfir = value,
            regs::HAINTMSK => self.haintmsk = value,
            regs::HPRT => self.write_hprt(value),
            _ => {}
        }
    }

    fn check_fifo_layout(&mut self) {
        let rx = self.grxfsiz;
        let (np_start, np_depth) = (self.hnptxfsiz & 0xFFFF, self.hnptxfsiz >> 16);
        let (p_start, p_depth) = (self.hptxfsiz & 0xFFFF, self.hptxfsiz >> 16);
        let ordered = np_start >= rx && p_start >= np_start + np_depth;
        if !ordered || p_start + p_depth > FIFO_RAM_WORDS || rx as usize > RX_CAPACITY {
            self.violation(Violation::FifoLayout);
        }
    }

    fn write_hprt(&mut self, value: u32) {
        if value & hprt::PENA != 0 {
            self.violation(Violation::PortEnableWritten);
            self.hprt &= !hprt::PENA;
        }
        self.hprt &= !(value & (hprt::PCDET | hprt::PENCHNG | hprt::POCCHNG));
        let was_powered = self.hprt & hprt::PPWR != 0;
        let powered = value & hprt::PPWR != 0;
        if powered && !was_powered {
            self.hprt |= hprt::PPWR;
            if self.root.is_some() && !self.overloaded {
                self.hprt |= hprt::PCSTS | hprt::PCDET;
            }
        } else if !powered && was_powered {
            self.disconnect();
            self.hprt &= !hprt::PPWR;
        }
        self.update_over_current();
        let was_resetting = self.hprt & hprt::PRST != 0;
        let resetting = value & hprt::PRST != 0;
        if resetting && !was_resetting {
            self.hprt = (self.hprt | hprt::PRST) & !hprt::PENA;
            self.reset_started_us = self.now_us;
        } else if !resetting && was_resetting {
            self.hprt &= !hprt::PRST;
            self.finish_port_reset();
        }
    }

    fn finish_port_reset(&mut self) {
        let held_us = self.now_us - self.reset_started_us;
        if held_us < MIN_RESET_US {
            self.violation(Violation::PortResetTooShort { held_us });
        }
        if self.hprt & hprt::PCSTS == 0 {
            return;
        }
        if let Some(dev) = self.root.as_deref_mut() {
            dev.bus_reset();
            let speed = match dev.speed() {
                Speed::Low => hprt::PSPD_LOW,
                _ => hprt::PSPD_FULL,
            };
            self.hprt = (self.hprt & !hprt::PSPD_MASK)
                | hprt::PENA
                | hprt::PENCHNG
                | (speed << hprt::PSPD_SHIFT);
            self.stats.bus_resets += 1;
            self.record(BusEvent::Reset);
        }
    }

    fn write_channel(&mut self, n: u8, reg: u32, value: u32) {
        let ch = &mut self.channels[usize::from(n)];
        match reg {
            r if r == regs::hcint(0) => ch.hcint &= !value,
            r if r == regs::hcintmsk(0) => ch.hcintmsk = value,
            r if r == regs::hctsiz(0) => {
                if ch.enabled() {
                    self.violation(Violation::RewriteWhileEnabled { channel: n });
                } else {
                    ch.hctsiz = value;
                }
            }
            r if r == regs::hcchar(0) => self.write_hcchar(n, value),
            _ => {}
        }
    }

    fn write_hcchar(&mut self, n: u8, value: u32) {
        let frame = self.frame;
        let ch = &mut self.channels[usize::from(n)];
        let fields = !(hcchar::CHENA | hcchar::CHDIS | hcchar::ODDFRM);
        let (halt, enable) = (value & hcchar::CHDIS != 0, value & hcchar::CHENA != 0);
        if halt {
            if ch.enabled() {
                ch.disable(hcint::CHH);
            } else {
                self.violation(Violation::HaltOfIdleChannel { channel: n });
            }
            return;
        }
        if ch.enabled() {
            let requeue =
                enable && ch.is_in() && !ch.queued && (value & fields) == (ch.hcchar & fields);
            if ch.halt_required {
                self.violation(Violation::EnableWhileHaltRequired { channel: n });
            } else if requeue {
                ch.queued = true;
            } else {
                self.violation(Violation::RewriteWhileEnabled { channel: n });
            }
            return;
        }
        ch.hcchar = value;
        if !enable {
            return;
        }
        let problem = Self::enable_problem(ch, frame, self.hprt);
        if let Some(v) = problem {
            ch.hcchar &= !hcchar::CHENA;
            self.violation(v(n));
            return;
        }
        ch.queued = true;
        ch.halt_required = false;
        ch.blocked_frame = None;
        ch.tx_fill = 0;
        ch.committed = (!ch.is_in() && hctsiz::bytes(ch.hctsiz) == 0).then_some(0);
    }

    fn enable_problem(ch: &Channel, frame: u16, port: u32) -> Option<fn(u8) -> Violation> {
        let low_speed_port = (port & hprt::PSPD_MASK) >> hprt::PSPD_SHIFT == hprt::PSPD_LOW;
        let limit = if ch.hcchar & hcchar::LSDEV != 0 || low_speed_port {
            8
        } else {
            64
        };
        let packets = hctsiz::packets(ch.hctsiz);
        let is_setup = hctsiz::pid(ch.hctsiz) == hctsiz::SETUP;
        let odd = ch.hcchar & hcchar::ODDFRM != 0;
        if ch.mps() == 0 || ch.mps() > limit {
            Some(|channel| Violation::BadMaxPacket { channel })
        } else if packets == 0 {
            Some(|channel| Violation::ZeroPacketCount { channel })
        } else if hctsiz::bytes(ch.hctsiz) > packets * ch.mps() as u32 {
            Some(|channel| Violation::SizeExceedsPackets { channel })
        } else if is_setup && hcchar::ep_type(ch.hcchar) != hcchar::EPTYP_CONTROL {
            Some(|channel| Violation::SetupPidOnNonControl { channel })
        } else if ch.is_periodic() && odd != frame.is_multiple_of(2) {
            Some(|channel| Violation::WrongFrameParity { channel })
        } else {
            None
        }
    }

    fn push_tx(&mut self, n: u8, word: u32) {
        let periodic = self.channels[usize::from(n)].is_periodic();
        let (free_words, free_requests) = {
            let s = self.tx_status(periodic);
            (regs::txsts::free_words(s), regs::txsts::free_requests(s))
        };
        let ch = &mut self.channels[usize::from(n)];
        if !ch.enabled()
            || ch.is_in()
            || ch.committed.is_some()
            || free_words == 0
            || free_requests == 0
        {
            self.violation(Violation::TxFifoOverflow { channel: n });
            return;
        }
        let expected = ch.next_out_len();
        let at = ch.tx_fill;
        for (i, b) in word.to_le_bytes().into_iter().enumerate() {
            if let Some(slot) = ch.tx.get_mut(at + i) {
                *slot = b;
            }
        }
        ch.tx_fill = (at + 4).min(ch.tx.len());
        if ch.tx_fill >= expected {
            ch.committed = Some(expected);
            ch.tx_fill = 0;
        }
    }

    fn pop_rx_status(&mut self) -> u32 {
        if self.rx.unread_data > 0 {
            self.violation(Violation::RxDataNotDrained);
            for _ in 0..self.rx.unread_data {
                self.rx.pop();
            }
            self.rx.unread_data = 0;
        }
        let Some(status) = self.rx.pop() else {
            self.violation(Violation::RxFifoUnderflow);
            return 0;
        };
        self.rx.unread_data = regs::grxsts::byte_count(status).div_ceil(4);
        let n = usize::from(regs::grxsts::channel(status));
        if regs::grxsts::packet_status(status) == regs::grxsts::PKTSTS_IN_COMPLETE {
            let ch = &mut self.channels[n];
            if ch.enabled() {
                ch.disable(hcint::XFRC | hcint::CHH);
            }
        }
        status
    }

    fn pop_rx_data(&mut self) -> u32 {
        if self.rx.unread_data == 0 {
            self.violation(Violation::RxFifoUnderflow);
            return 0;
        }
        self.rx.unread_data -= 1;
        self.rx.pop().unwrap_or(0)
    }

    fn rx_free_words(&self) -> usize {
        (self.grxfsiz as usize)
            .min(RX_CAPACITY)
            .saturating_sub(self.rx.len)
    }

    /// Nothing can happen before the next frame: moves time there, but not past `limit_us`.
    pub fn idle_until(&mut self, limit_us: u64) {
        self.now_us = self.now_us.max(limit_us.min(self.next_frame_us));
        self.roll_frames();
    }

    /// Advances virtual time by `us`, running transactions on the way (no interrupt service:
    /// for busy-wait delays of a driver that is not servicing the controller).
    pub fn advance(&mut self, us: u64) {
        let until = self.now_us + us;
        while self.now_us < until {
            if !self.step() {
                self.idle_until(until);
            }
        }
    }

    fn roll_frames(&mut self) {
        while self.now_us >= self.next_frame_us {
            self.frame = self.frame.wrapping_add(1) & 0x3FFF;
            self.next_frame_us += FRAME_US;
            self.frame_used_us = 0;
            self.gintsts |= gint::SOF;
            if self.hprt & hprt::PENA != 0
                && let Some(dev) = self.root.as_deref_mut()
            {
                dev.frame_tick();
            }
        }
    }

    /// Runs one transaction if a channel is ready in the current frame. Returns false when
    /// nothing could run before the next frame.
    pub fn step(&mut self) -> bool {
        self.roll_frames();
        let Some(n) = self.pick_channel() else {
            return false;
        };
        if self
            .unplug_after
            .is_some_and(|at| self.stats.transactions >= at)
        {
            self.unplug_after = None;
            self.unplugged = self.detach();
            return true;
        }
        let cost = self.transact(n);
        self.frame_used_us += cost;
        self.now_us += cost;
        true
    }

    fn ready(&self, ch: &Channel) -> bool {
        let data_ready = if ch.is_in() {
            self.rx_free_words() > ch.mps().div_ceil(4) + 1
        } else {
            ch.committed.is_some()
        };
        ch.enabled()
            && ch.queued
            && !ch.halt_required
            && data_ready
            && ch.blocked_frame != Some(self.frame)
    }

    fn pick_channel(&mut self) -> Option<usize> {
        if self.frame_used_us >= FRAME_BUDGET_US {
            return None;
        }
        let odd_frame = self.frame % 2 == 1;
        let periodic = self.channels.iter().position(|ch| {
            ch.is_periodic() && (ch.hcchar & hcchar::ODDFRM != 0) == odd_frame && self.ready(ch)
        });
        if periodic.is_some() {
            return periodic;
        }
        let count = self.channels.len();
        let found = (0..count)
            .map(|i| (self.round_robin + i) % count)
            .find(|&i| !self.channels[i].is_periodic() && self.ready(&self.channels[i]))?;
        self.round_robin = (found + 1) % count;
        Some(found)
    }

    fn cost_us(&self, bytes: usize, low_speed: bool) -> u64 {
        let full = ((bytes as u64 + 10) * 2).div_ceil(3);
        if low_speed { full * 8 } else { full }
    }

    fn port_clock_matches(&self, root_speed: Speed) -> bool {
        let pcs = self.hcfg & regs::hcfg::FSLSPCS_MASK;
        match root_speed {
            Speed::Low => {
                pcs == regs::hcfg::FSLSPCS_6MHZ && self.hfir & 0xFFFF == regs::hfir::LOW_SPEED
            }
            _ => pcs == regs::hcfg::FSLSPCS_48MHZ && self.hfir & 0xFFFF == regs::hfir::FULL_SPEED,
        }
    }

    /// Runs channel `n`'s next transaction against the addressed device.
    fn transact(&mut self, n: usize) -> u64 {
        self.stats.transactions += 1;
        let ch = self.channels[n];
        let address = hcchar::address(ch.hcchar);
        let ep = hcchar::endpoint(ch.hcchar);
        let pid = if hctsiz::pid(ch.hctsiz) == hctsiz::DATA1 {
            Pid::Data1
        } else {
            Pid::Data0
        };
        let is_setup = hctsiz::pid(ch.hctsiz) == hctsiz::SETUP;
        let lsdev = ch.hcchar & hcchar::LSDEV != 0;
        let port_up = self.hprt & (hprt::PENA | hprt::PPWR) == (hprt::PENA | hprt::PPWR);
        let root_speed = self.root.as_deref().map(|d| d.speed());
        let clock_ok = root_speed.is_some_and(|s| self.port_clock_matches(s));
        if address == 0 && self.root.as_deref().is_some_and(|d| d.responders(0) > 1) {
            self.violation(Violation::SeveralDevicesAtAddressZero);
        }
        let mut packet = [0u8; MAX_BUS_PACKET];
        let out_len = ch.committed.unwrap_or(0);
        let device = if port_up && clock_ok {
            self.root.as_deref_mut().and_then(|r| r.route(address))
        } else {
            None
        };
        let outcome = match device {
            None => Outcome::Disabled,
            Some(dev) if (dev.speed() == Speed::Low) != lsdev && root_speed != Some(Speed::Low) => {
                Outcome::Disabled
            }
            Some(dev) if is_setup => {
                let mut setup = [0u8; 8];
                setup.copy_from_slice(&ch.tx[..8]);
                Outcome::Out(
                    if out_len == 8 {
                        dev.setup(&setup)
                    } else {
                        Handshake::Silent
                    },
                    8,
                )
            }
            Some(dev) if ch.is_in() => Outcome::In(dev.data_in(ep, &mut packet)),
            Some(dev) => Outcome::Out(dev.data_out(ep, pid, &ch.tx[..out_len]), out_len),
        };
        let low_speed = lsdev || root_speed == Some(Speed::Low);
        let event = match outcome {
            Outcome::Out(Handshake::Nak, _) | Outcome::In(InReply::Nak) | Outcome::Disabled => None,
            Outcome::Out(handshake, _) if is_setup => {
                let mut setup = [0u8; 8];
                setup.copy_from_slice(&ch.tx[..8]);
                Some(BusEvent::Setup {
                    address,
                    setup,
                    handshake,
                })
            }
            Outcome::Out(handshake, len) => Some(BusEvent::Out {
                address,
                endpoint: ep,
                pid,
                len,
                handshake,
            }),
            Outcome::In(reply) => Some(BusEvent::In {
                address,
                endpoint: ep,
                reply,
            }),
        };
        if let Some(event) = event {
            self.record(event);
        }
        match outcome {
            Outcome::Disabled => {
                self.finish_error(n, hcint::TXERR);
                self.cost_us(0, low_speed)
            }
            Outcome::Out(handshake, len) => {
                self.finish_out(n, handshake, len, is_setup);
                self.cost_us(len, low_speed)
            }
            Outcome::In(reply) => {
                let len = match reply {
                    InReply::Data { len, .. } => len,
                    _ => 0,
                };
                self.finish_in(n, reply, &packet[..len.min(MAX_BUS_PACKET)]);
                self.cost_us(len, low_speed)
            }
        }
    }

    fn finish_error(&mut self, n: usize, bits: u32) {
        self.stats.errors += 1;
        let ch = &mut self.channels[n];
        ch.hcint |= bits;
        ch.halt_required = true;
    }

    fn finish_nak(&mut self, n: usize) {
        self.stats.naks += 1;
        let frame = self.frame;
        let ch = &mut self.channels[n];
        if ch.is_periodic() {
            ch.disable(hcint::NAK | hcint::CHH);
        } else {
            ch.hcint |= hcint::NAK;
            ch.blocked_frame = Some(frame);
            if !ch.is_in() {
                ch.committed = None;
            }
        }
    }

    fn finish_out(&mut self, n: usize, handshake: Handshake, len: usize, is_setup: bool) {
        match handshake {
            Handshake::Ack => {
                self.stats.bytes_out += len as u64;
                self.stats.setups += u64::from(is_setup);
                let frame = self.frame;
                let ch = &mut self.channels[n];
                ch.advance(len);
                ch.committed = None;
                ch.hcint |= hcint::ACK;
                if ch.is_periodic() {
                    ch.blocked_frame = Some(frame);
                }
                if hctsiz::packets(ch.hctsiz) == 0 {
                    ch.disable(hcint::XFRC | hcint::CHH);
                } else if hctsiz::bytes(ch.hctsiz) == 0 {
                    ch.committed = Some(0);
                }
            }
            Handshake::Nak => self.finish_nak(n),
            Handshake::Stall => {
                self.stats.stalls += 1;
                self.finish_error(n, hcint::STALL);
            }
            Handshake::Silent => self.finish_error(n, hcint::TXERR),
        }
    }

    fn finish_in(&mut self, n: usize, reply: InReply, data: &[u8]) {
        let (len, pid) = match reply {
            InReply::Data { len, pid } => (len, pid),
            InReply::Nak => return self.finish_nak(n),
            InReply::Stall => {
                self.stats.stalls += 1;
                return self.finish_error(n, hcint::STALL);
            }
            InReply::Silent => return self.finish_error(n, hcint::TXERR),
        };
        let ch = self.channels[n];
        if len > ch.mps() {
            // Babble past the packet: the port is disabled as after a frame babble.
            self.hprt = (self.hprt & !hprt::PENA) | hprt::PENCHNG;
            return self.finish_error(n, hcint::BBERR);
        }
        if len > hctsiz::bytes(ch.hctsiz) as usize {
            return self.finish_error(n, hcint::BBERR);
        }
        let expected = if hctsiz::pid(ch.hctsiz) == hctsiz::DATA1 {
            Pid::Data1
        } else {
            Pid::Data0
        };
        if pid != expected {
            return self.finish_error(n, hcint::DTERR);
        }
        self.stats.bytes_in += len as u64;
        let dpid = hctsiz::pid(ch.hctsiz);
        let status = n as u32
            | ((len as u32) << regs::grxsts::BCNT_SHIFT)
            | (dpid << regs::grxsts::DPID_SHIFT)
            | (regs::grxsts::PKTSTS_IN_DATA << regs::grxsts::PKTSTS_SHIFT);
        self.rx.push(status);
        for chunk in data.chunks(4) {
            let mut w = [0u8; 4];
            w[..chunk.len()].copy_from_slice(chunk);
            self.rx.push(u32::from_le_bytes(w));
        }
        let frame = self.frame;
        let ch = &mut self.channels[n];
        ch.advance(len);
        ch.hcint |= hcint::ACK;
        if ch.is_periodic() {
            ch.blocked_frame = Some(frame);
        }
        ch.queued = false;
        if len < ch.mps() || hctsiz::packets(ch.hctsiz) == 0 {
            let done = n as u32 | (regs::grxsts::PKTSTS_IN_COMPLETE << regs::grxsts::PKTSTS_SHIFT);
            self.rx.push(done);
        }
    }
}

/// [`dwc2_regs::Dwc2Regs`] over a shared model: how driver code under test reaches it.
pub struct ModelRegs<'m, 'd>(pub &'m core::cell::RefCell<Dwc2Model<'d>>);

impl dwc2_regs::Dwc2Regs for ModelRegs<'_, '_> {
    fn read(&self, offset: u32) -> u32 {
        self.0.borrow_mut().read(offset)
    }
    fn write(&self, offset: u32, value: u32) {
        self.0.borrow_mut().write(offset, value)
    }
}
