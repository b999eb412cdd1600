//! Static ring buffers of recent events, decoded entirely on the host by `humility ringbuf`
//! from DWARF: the target carries no formatting code.
//!
//! ```
//! use ringbuf::{ringbuf, ringbuf_entry};
//!
//! #[derive(Copy, Clone, PartialEq)]
//! enum Trace {
//!     None,
//!     Received { op: u16 },
//! }
//!
//! ringbuf!(Trace, 16, Trace::None);
//!
//! ringbuf_entry!(Trace::Received { op: 1 });
//! ```
//!
//! # Layout (doc/humility-contract.md 4.2; do not rename a type or member)
//!
//! `ringbuf!` declares `static __RINGBUF` (or a given name) of type
//! `StaticCell<Ringbuf<T, N>>`: layout 3, a struct named exactly `StaticCell` whose `cell`
//! is core's `UnsafeCell`, holding layout 2, `Ringbuf { last: Option<usize>, buffer:
//! [RingbufEntry<T>; N] }`. Each entry is `{ line: u16, generation: u16, count: u16,
//! payload: T }`. `counted_ringbuf!` declares a `CountedRingbuf { ringbuf, counters }`
//! (layout 1), whose counters (see the `counters` crate) survive after entries are
//! overwritten. The payload must not contain `char` or unions: humility cannot decode them.
//!
//! # Recording
//!
//! - `last` is the newest entry's index; `None` until the first record.
//! - An entry with the same source line and an equal payload as the newest one increments
//!   its `count` (saturating) instead of taking a slot, so a loop logging the same event
//!   does not flush the history.
//! - Otherwise the next slot is overwritten and its `generation` incremented, wrapping past
//!   `u16::MAX` to 1: 0 marks a slot never written, which humility skips.
//! - `line` is `line!()` truncated to 16 bits.
//! - `ringbuf_entry_unique!` skips the comparison, for payloads that carry a sequence number
//!   of their own and so never equal the newest entry (debug builds assert it).
//!
//! # Concurrency
//!
//! A task is a single thread and interrupts never run task code (they become notifications
//! delivered by RECV), so recording needs no critical section. What remains is re-entrancy:
//! a payload's `PartialEq` could itself record into the same buffer. [`StaticCell`] therefore
//! holds a `borrowed` flag, and a record that finds it set is dropped rather than aliasing the
//! buffer. The flag is an atomic swap, which also keeps host tests sound when test threads
//! share a buffer.
//!
//! # Disabled
//!
//! With the `disabled` feature, `ringbuf!` declares a zero-sized [`Disabled`] static and
//! recording into it does nothing: no memory, no code beyond evaluating the payload
//! expression (which still type-checks). Counted ring buffers keep counting.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

pub use counters;
use counters::Count;

/// Interior mutability for a static ring buffer, named for humility's layout 3.
pub struct StaticCell<T> {
    borrowed: AtomicBool,
    cell: UnsafeCell<T>,
}

// SAFETY: the contents are only reached through `with`, which hands out one `&mut` at a time
// (guarded by the atomic `borrowed` flag), so sharing the cell between threads is no
// different from moving the value between them.
unsafe impl<T: Send> Sync for StaticCell<T> {}

impl<T> StaticCell<T> {
    pub const fn new(value: T) -> Self {
        StaticCell {
            borrowed: AtomicBool::new(false),
            cell: UnsafeCell::new(value),
        }
    }

    /// Runs `f` on the contents, or returns `None` without running it if they are already
    /// borrowed (a re-entrant call).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        if self.borrowed.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: the flag was clear and is now set by us, so no other reference to the
        // contents exists until we clear it below.
        let result = f(unsafe { &mut *self.cell.get() });
        self.borrowed.store(false, Ordering::Release);
        Some(result)
    }
}

/// One record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RingbufEntry<T> {
    pub line: u16,
    /// How many times this slot has been written; 0 = never.
    pub generation: u16,
    /// How many consecutive identical records this entry stands for.
    pub count: u16,
    pub payload: T,
}

/// `N` records, the newest at `last`.
pub struct Ringbuf<T, const N: usize> {
    last: Option<usize>,
    buffer: [RingbufEntry<T>; N],
}

impl<T: Copy + PartialEq, const N: usize> Ringbuf<T, N> {
    /// An empty ring; `init` fills the unused payloads.
    pub const fn new(init: T) -> Self {
        Ringbuf {
            last: None,
            buffer: [RingbufEntry {
                line: 0,
                generation: 0,
                count: 0,
                payload: init,
            }; N],
        }
    }

    /// Records `payload` from source line `line`.
    pub fn record(&mut self, line: u16, payload: T) {
        if let Some(newest) = self.last.and_then(|i| self.buffer.get_mut(i))
            && newest.line == line
            && newest.payload == payload
        {
            newest.count = newest.count.saturating_add(1);
            return;
        }
        self.push(line, payload);
    }

    /// Records `payload` in a slot of its own, without comparing it with the newest entry:
    /// for payloads that can never equal it (each carries its own sequence number), where
    /// the comparison is pure cost. Debug builds check that promise.
    pub fn record_unique(&mut self, line: u16, payload: T) {
        debug_assert!(
            self.last
                .and_then(|i| self.buffer.get(i))
                .is_none_or(|newest| newest.line != line || newest.payload != payload),
            "record_unique: the payload equals the newest entry (line {line})"
        );
        self.push(line, payload);
    }

    #[inline(always)]
    fn push(&mut self, line: u16, payload: T) {
        // Compare-and-reset rather than `%`: Cortex-M division is slow.
        let next = match self.last {
            Some(i) if i + 1 < N => i + 1,
            _ => 0,
        };
        if let Some(slot) = self.buffer.get_mut(next) {
            let generation = match slot.generation.wrapping_add(1) {
                0 => 1,
                g => g,
            };
            *slot = RingbufEntry {
                line,
                generation,
                count: 1,
                payload,
            };
            self.last = Some(next);
        }
    }

    /// The written entries, oldest first, as humility prints them.
    pub fn entries(&self) -> impl Iterator<Item = &RingbufEntry<T>> {
        let start = self.last.map_or(0, |i| i + 1);
        (0..N)
            .map(move |i| &self.buffer[(start + i) % N])
            .filter(|entry| entry.generation != 0)
    }
}

/// A ring buffer plus per-variant counters of everything ever recorded (layout 1).
pub struct CountedRingbuf<T: Count, const N: usize> {
    #[cfg(not(feature = "disabled"))]
    pub ringbuf: StaticCell<Ringbuf<T, N>>,
    pub counters: T::Counters,
}

impl<T: Count + Copy + PartialEq, const N: usize> CountedRingbuf<T, N> {
    pub const fn new(init: T) -> Self {
        #[cfg(feature = "disabled")]
        let _ = init;
        CountedRingbuf {
            #[cfg(not(feature = "disabled"))]
            ringbuf: StaticCell::new(Ringbuf::new(init)),
            counters: T::NEW_COUNTERS,
        }
    }
}

/// What `ringbuf!` declares when ring buffers are compiled out.
pub struct Disabled;

/// Something `ringbuf_entry!` and `ringbuf_entry_unique!` can record into.
pub trait RecordEntry<T> {
    fn record_entry(&self, line: u16, payload: T);
    /// As [`Ringbuf::record_unique`].
    fn record_unique_entry(&self, line: u16, payload: T);
}

impl<T: Copy + PartialEq, const N: usize> RecordEntry<T> for StaticCell<Ringbuf<T, N>> {
    fn record_entry(&self, line: u16, payload: T) {
        // A re-entrant record is dropped: see the module docs.
        let _ = self.with(|ring| ring.record(line, payload));
    }

    fn record_unique_entry(&self, line: u16, payload: T) {
        let _ = self.with(|ring| ring.record_unique(line, payload));
    }
}

impl<T: Count + Copy + PartialEq, const N: usize> RecordEntry<T> for CountedRingbuf<T, N> {
    fn record_entry(&self, line: u16, payload: T) {
        payload.count(&self.counters);
        #[cfg(not(feature = "disabled"))]
        self.ringbuf.record_entry(line, payload);
        #[cfg(feature = "disabled")]
        let _ = line;
    }

    fn record_unique_entry(&self, line: u16, payload: T) {
        payload.count(&self.counters);
        #[cfg(not(feature = "disabled"))]
        self.ringbuf.record_unique_entry(line, payload);
        #[cfg(feature = "disabled")]
        let _ = line;
    }
}

impl<T> RecordEntry<T> for Disabled {
    fn record_entry(&self, _line: u16, _payload: T) {}
    fn record_unique_entry(&self, _line: u16, _payload: T) {}
}

/// Declares a ring buffer: `ringbuf!(Payload, N, init)` (as `__RINGBUF`) or
/// `ringbuf!(NAME, Payload, N, init)`. One unnamed buffer per module.
#[cfg(not(feature = "disabled"))]
#[macro_export]
macro_rules! ringbuf {
    ($payload:ty, $n:expr, $init:expr) => {
        $crate::ringbuf!(__RINGBUF, $payload, $n, $init);
    };
    ($name:ident, $payload:ty, $n:expr, $init:expr) => {
        static $name: $crate::StaticCell<$crate::Ringbuf<$payload, { $n }>> =
            $crate::StaticCell::new($crate::Ringbuf::new($init));
    };
}

/// Declares a ring buffer: compiled out by the `disabled` feature.
#[cfg(feature = "disabled")]
#[macro_export]
macro_rules! ringbuf {
    ($payload:ty, $n:expr, $init:expr) => {
        $crate::ringbuf!(__RINGBUF, $payload, $n, $init);
    };
    ($name:ident, $payload:ty, $n:expr, $init:expr) => {
        static $name: $crate::Disabled = $crate::Disabled;
    };
}

/// Declares a counted ring buffer: `counted_ringbuf!(Event, N, init)` (as `__RINGBUF`) or
/// `counted_ringbuf!(NAME, Event, N, init)`, where `Event` derives `counters::Count`.
#[macro_export]
macro_rules! counted_ringbuf {
    ($payload:ty, $n:expr, $init:expr) => {
        $crate::counted_ringbuf!(__RINGBUF, $payload, $n, $init);
    };
    ($name:ident, $payload:ty, $n:expr, $init:expr) => {
        static $name: $crate::CountedRingbuf<$payload, { $n }> = $crate::CountedRingbuf::new($init);
    };
}

/// Records a payload with the current source line: `ringbuf_entry!(payload)` into
/// `__RINGBUF`, or `ringbuf_entry!(NAME, payload)`. The payload is evaluated before the
/// buffer is touched.
#[macro_export]
macro_rules! ringbuf_entry {
    ($payload:expr) => {
        $crate::ringbuf_entry!(__RINGBUF, $payload)
    };
    ($name:ident, $payload:expr) => {{
        let payload = $payload;
        $crate::RecordEntry::record_entry(&$name, line!() as u16, payload);
    }};
}

/// As `ringbuf_entry!`, for a payload that never equals the newest entry (it carries a
/// sequence number of its own): the entry takes a slot without being compared, which debug
/// builds check.
#[macro_export]
macro_rules! ringbuf_entry_unique {
    ($payload:expr) => {
        $crate::ringbuf_entry_unique!(__RINGBUF, $payload)
    };
    ($name:ident, $payload:expr) => {{
        let payload = $payload;
        $crate::RecordEntry::record_unique_entry(&$name, line!() as u16, payload);
    }};
}

#[cfg(test)]
mod tests;
