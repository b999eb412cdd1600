//! Event counters that humility reads from DWARF (`humility counters`).
//!
//! `#[derive(Count)]` on an event enum generates `<Enum>Counts`, a struct of one
//! `AtomicU32` per variant (doc/humility-contract.md 4.4), and an implementation of [`Count`].
//! [`counters!`] declares a static of that struct and [`count!`] bumps the counter of an
//! event's variant. Counters wrap at 2^32. Unlike ring buffer entries they never fall out,
//! so they answer "how often" long after the ring buffer has forgotten "when".
//!
//! ```
//! use counters::{Count, count, counters};
//!
//! #[derive(Count)]
//! enum Event {
//!     Started,
//!     Faulted(u16),
//! }
//!
//! counters!(Event);
//!
//! count!(Event::Faulted(3));
//! count!(Event::Faulted(4));
//! assert_eq!(__COUNTERS.faulted.load(core::sync::atomic::Ordering::Relaxed), 2);
//! assert_eq!(__COUNTERS.started.load(core::sync::atomic::Ordering::Relaxed), 0);
//! ```
#![no_std]

// The derive names `counters::Count`, which must resolve in this crate's own tests too.
extern crate self as counters;

pub use counters_derive::Count;

/// An event type with a counter per variant.
pub trait Count {
    /// The `<Enum>Counts` struct.
    type Counters: 'static;
    /// All counters at zero, to initialise a static.
    #[allow(clippy::declare_interior_mutable_const)] // Only ever copied into one static.
    const NEW_COUNTERS: Self::Counters;
    /// Adds one to the counter of `self`'s variant.
    fn count(&self, counters: &Self::Counters);
}

/// Declares `static NAME` (default `__COUNTERS`) holding the counters of an event type.
#[macro_export]
macro_rules! counters {
    ($event:ty) => {
        $crate::counters!(__COUNTERS, $event);
    };
    ($name:ident, $event:ty) => {
        static $name: <$event as $crate::Count>::Counters = <$event as $crate::Count>::NEW_COUNTERS;
    };
}

/// Counts one event in `NAME` (default `__COUNTERS`).
#[macro_export]
macro_rules! count {
    ($event:expr) => {
        $crate::count!(__COUNTERS, $event)
    };
    ($name:ident, $event:expr) => {
        $crate::Count::count(&$event, &$name)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::Ordering::Relaxed;

    #[allow(dead_code)] // Payloads exist to show they are ignored.
    #[derive(Count)]
    enum Event {
        Started,
        TaskFaulted(u16),
        Restarted { task: u16, after_ms: u32 },
        Type,
    }

    #[test]
    fn each_variant_has_its_own_counter() {
        counters!(EVENTS, Event);
        count!(EVENTS, Event::Started);
        count!(EVENTS, Event::TaskFaulted(1));
        count!(EVENTS, Event::TaskFaulted(2));
        count!(
            EVENTS,
            Event::Restarted {
                task: 1,
                after_ms: 5
            }
        );
        count!(EVENTS, Event::Type);
        assert_eq!(EVENTS.started.load(Relaxed), 1);
        assert_eq!(EVENTS.task_faulted.load(Relaxed), 2);
        assert_eq!(EVENTS.restarted.load(Relaxed), 1);
        assert_eq!(EVENTS.r#type.load(Relaxed), 1);
    }

    #[test]
    fn counters_wrap_instead_of_saturating_or_panicking() {
        counters!(EVENTS, Event);
        EVENTS.started.store(u32::MAX, Relaxed);
        count!(EVENTS, Event::Started);
        assert_eq!(EVENTS.started.load(Relaxed), 0);
    }

    #[test]
    fn an_enum_without_variants_has_no_counters() {
        #[allow(dead_code)] // Only its counters are of interest.
        #[derive(Count)]
        enum Never {}
        assert_eq!(core::mem::size_of::<NeverCounts>(), 0);
    }
}
