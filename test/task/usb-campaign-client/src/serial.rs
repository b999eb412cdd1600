//! Numbered, checksummed chunks through `usb-cdc` and the loopback serial adapter: write
//! one chunk, read until it is back, then the next. A chunk is
//! `[MAGIC, number (2 bytes, little-endian), length, payload, checksum]`, 6 to 69 bytes (so
//! some take two packets), its payload a function of its number and its checksum the sum of
//! the bytes before it.
//!
//! The oracle is what was written since the stream was last resynchronised:
//!
//! | Event | What the workload does |
//! |---|---|
//! | a call fails (a driver died, the port went stale) | *resynchronise*: the chunk in flight is abandoned, the port opened again (`resync serial`, once until a chunk goes out again); bytes of abandoned chunks may still come back |
//! | bytes arrive, not in sync | skip to the next chunk's header (its number is new, so no stale chunk has it); then in sync |
//! | bytes arrive, in sync | they must be the chunk's next bytes: otherwise `corrupt serial` and resynchronise |
//! | the whole chunk is back | checked; the next chunk |
//! | nothing more for [`IDLE_READS`] reads, and no call failed | the chunk's missing bytes are `lost serial N since T0` (T0: when it was written); resynchronise |
//!
//! A port that stays unopenable for `REPLUG_MS` (the core quarantined the adapter) is
//! replugged.

use usb_cdc_api::{PortHandle, UsbCdcClient};
use usb_sim_api::UsbSimClient;
use userlib::{sys_get_timer, sys_refresh_incarnation};

use crate::{Console, USB_CDC};

const MAGIC: u8 = 0xC5;
/// Header (magic, number, length) and checksum.
const OVERHEAD: usize = 5;
const MAX_PAYLOAD: usize = 64;
const MAX_CHUNK: usize = OVERHEAD + MAX_PAYLOAD;
/// The adapter's bulk packet, the most one read returns.
const PACKET: usize = 64;
/// Bytes kept while looking for a header: a chunk of stale bytes and the one awaited.
const RX: usize = 2 * MAX_CHUNK + PACKET;
/// Reads per round at most, so a round is bounded.
const READS_PER_ROUND: usize = 3;
/// Reads that return nothing before the chunk's missing bytes are lost: each waits 5 ms in
/// usb-cdc for a packet, so this is about 150 ms of rounds, while the adapter loops a
/// chunk back within a frame or two.
const IDLE_READS: u32 = 30;

pub struct Serial {
    port: Option<PortHandle>,
    since_port: u64,
    /// The chunk in flight, and when it was written.
    chunk: [u8; MAX_CHUNK],
    chunk_len: usize,
    written_at: Option<u64>,
    number: u16,
    /// Bytes read back since the chunk was written.
    rx: [u8; RX],
    rx_len: usize,
    in_sync: bool,
    /// No chunk went out since the last resynchronisation.
    failing: bool,
    idle_reads: u32,
    checked: u64,
}

impl Serial {
    pub fn new() -> Self {
        Serial {
            port: None,
            since_port: sys_get_timer().now,
            chunk: [0; MAX_CHUNK],
            chunk_len: 0,
            written_at: None,
            number: 0,
            rx: [0; RX],
            rx_len: 0,
            in_sync: false,
            failing: false,
            idle_reads: 0,
            checked: 0,
        }
    }

    pub fn step(&mut self, console: &Console<'_>, sim: &UsbSimClient) {
        let cdc = UsbCdcClient::new(sys_refresh_incarnation(USB_CDC));
        let Some(port) = self.port else {
            match cdc.open(0) {
                Ok(info) if usize::from(info.read_len) <= PACKET => {
                    self.port = Some(info.handle);
                }
                _ => crate::replug_if_missing(sim, b"serial", &mut self.since_port),
            }
            return;
        };
        let Some(written_at) = self.written_at else {
            self.number = self.number.wrapping_add(1);
            self.chunk_len = chunk(self.number, &mut self.chunk);
            match cdc.write(port, &self.chunk[..self.chunk_len]) {
                Ok(n) if usize::from(n) == self.chunk_len => {
                    self.failing = false;
                    self.written_at = Some(sys_get_timer().now);
                    self.rx_len = 0;
                    self.idle_reads = 0;
                }
                _ => self.resync(console),
            }
            return;
        };
        let mut packet = [0u8; PACKET];
        for _ in 0..READS_PER_ROUND {
            let n = match cdc.read(port, &mut packet) {
                Ok(n) => usize::from(n).min(PACKET),
                Err(_) => return self.resync(console),
            };
            if n == 0 {
                self.idle_reads += 1;
                if self.idle_reads >= IDLE_READS {
                    let missing = self.chunk_len - self.matched();
                    console.lost(b"serial", missing as u64, written_at);
                    self.written_at = None;
                    self.in_sync = false;
                }
                return;
            }
            self.idle_reads = 0;
            if self.receive(&packet[..n], console) {
                return;
            }
        }
    }

    /// Takes `bytes` read back; true when the chunk in flight is done with (checked or
    /// abandoned).
    fn receive(&mut self, bytes: &[u8], console: &Console<'_>) -> bool {
        let room = RX - self.rx_len;
        if bytes.len() > room {
            // Only stale bytes without the header fill the buffer: keep the newest.
            self.rx.copy_within(bytes.len() - room..self.rx_len, 0);
            self.rx_len -= bytes.len() - room;
        }
        self.rx[self.rx_len..self.rx_len + bytes.len()].copy_from_slice(bytes);
        self.rx_len += bytes.len();
        if !self.in_sync {
            let header = &self.chunk[..3];
            match self.rx[..self.rx_len].windows(3).position(|w| w == header) {
                Some(at) => {
                    self.rx.copy_within(at..self.rx_len, 0);
                    self.rx_len -= at;
                    self.in_sync = true;
                }
                None => return false,
            }
        }
        let got = &self.rx[..self.rx_len];
        if got.len() > self.chunk_len || got != &self.chunk[..got.len()] {
            console.report(b"campaign: corrupt serial round ", u64::from(self.number));
            self.written_at = None;
            self.in_sync = false;
            return true;
        }
        if got.len() == self.chunk_len {
            self.written_at = None;
            self.checked += self.chunk_len as u64;
            let before = self.checked - self.chunk_len as u64;
            console.count(b"campaign: serial checked ", 4096, before, self.checked);
            return true;
        }
        false
    }

    /// Bytes of the chunk in flight read back so far.
    fn matched(&self) -> usize {
        if self.in_sync { self.rx_len } else { 0 }
    }

    /// After a failed call: the chunk in flight is abandoned, the port opened again, and
    /// the stream in sync again at the next chunk's header. Reported once until a chunk
    /// goes out again: a driver whose corrupted code fails every call (until its restart
    /// puts the code back) would otherwise fill the console.
    fn resync(&mut self, console: &Console<'_>) {
        if !self.failing {
            console.report(b"campaign: resync serial round ", u64::from(self.number));
        }
        self.failing = true;
        self.port = None;
        self.since_port = sys_get_timer().now;
        self.written_at = None;
        self.in_sync = false;
    }
}

/// Writes chunk `number` into `out`; returns its length.
fn chunk(number: u16, out: &mut [u8; MAX_CHUNK]) -> usize {
    let len = 1 + usize::from(number) % MAX_PAYLOAD;
    let [lo, hi] = number.to_le_bytes();
    out[..4].copy_from_slice(&[MAGIC, lo, hi, len as u8]);
    for (i, b) in out[4..4 + len].iter_mut().enumerate() {
        *b = (usize::from(number).wrapping_mul(31) ^ i.wrapping_mul(7)) as u8;
    }
    let sum = out[..4 + len].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    out[4 + len] = sum;
    4 + len + 1
}
