use super::*;
use core::sync::atomic::Ordering::Relaxed;

#[derive(Copy, Clone, Debug, PartialEq, counters::Count)]
enum Event {
    None,
    Tick(u32),
}

fn lines_and_payloads<const N: usize>(ring: &Ringbuf<Event, N>) -> ([u16; N], [Event; N], usize) {
    let mut lines = [0; N];
    let mut payloads = [Event::None; N];
    let mut n = 0;
    for entry in ring.entries() {
        lines[n] = entry.line;
        payloads[n] = entry.payload;
        n += 1;
    }
    (lines, payloads, n)
}

#[test]
fn empty_ring_has_no_entries() {
    let ring = Ringbuf::<Event, 4>::new(Event::None);
    assert_eq!(ring.last, None);
    assert_eq!(ring.entries().count(), 0);
}

#[test]
fn wrap_around_keeps_the_newest_entries_oldest_first() {
    let mut ring = Ringbuf::<Event, 3>::new(Event::None);
    for i in 0..5 {
        ring.record(10 + i as u16, Event::Tick(i));
    }
    let (lines, payloads, n) = lines_and_payloads(&ring);
    assert_eq!(n, 3);
    assert_eq!(lines, [12, 13, 14]);
    assert_eq!(payloads, [Event::Tick(2), Event::Tick(3), Event::Tick(4)]);
    assert_eq!(ring.last, Some(1));
    let generations: [u16; 3] = core::array::from_fn(|i| ring.buffer[i].generation);
    assert_eq!(generations, [2, 2, 1], "slots 0 and 1 were written twice");
}

#[test]
fn identical_consecutive_entries_are_counted_not_stored() {
    let mut ring = Ringbuf::<Event, 4>::new(Event::None);
    ring.record(7, Event::Tick(1));
    ring.record(7, Event::Tick(1));
    ring.record(7, Event::Tick(1));
    ring.record(8, Event::Tick(1)); // Same payload, other line: a new entry.
    ring.record(8, Event::Tick(2)); // Same line, other payload: a new entry.
    ring.record(7, Event::Tick(1)); // Equal to an older entry but not the newest.
    let counts: [u16; 4] = core::array::from_fn(|i| ring.buffer[i].count);
    assert_eq!(counts, [3, 1, 1, 1]);
    assert_eq!(ring.entries().count(), 4);
}

#[test]
fn unique_records_take_a_slot_each_and_wrap_like_any_other() {
    let mut ring = Ringbuf::<Event, 3>::new(Event::None);
    ring.record_unique(7, Event::Tick(1));
    ring.record_unique(7, Event::Tick(2)); // Same line, the next number: its own slot.
    ring.record(7, Event::Tick(2)); // The counting record still sees it as the newest.
    for i in 3..5 {
        ring.record_unique(8, Event::Tick(i));
    }
    let (lines, payloads, n) = lines_and_payloads(&ring);
    assert_eq!(n, 3);
    assert_eq!(lines, [7, 8, 8]);
    assert_eq!(payloads, [Event::Tick(2), Event::Tick(3), Event::Tick(4)]);
    let counts: [u16; 3] = core::array::from_fn(|i| ring.buffer[i].count);
    let generations: [u16; 3] = core::array::from_fn(|i| ring.buffer[i].generation);
    assert_eq!(counts, [1, 2, 1], "slot 1 holds Tick(2), recorded twice");
    assert_eq!(generations, [2, 1, 1], "slot 0 was written twice");
    assert_eq!(ring.last, Some(0));
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "record_unique: the payload equals the newest entry (line 7)")]
fn unique_record_equal_to_the_newest_is_a_broken_promise() {
    let mut ring = Ringbuf::<Event, 4>::new(Event::None);
    ring.record_unique(7, Event::Tick(1));
    ring.record_unique(7, Event::Tick(1));
}

#[test]
fn repeat_count_saturates() {
    let mut ring = Ringbuf::<Event, 2>::new(Event::None);
    for _ in 0..u32::from(u16::MAX) + 10 {
        ring.record(1, Event::Tick(0));
    }
    assert_eq!(ring.buffer[0].count, u16::MAX);
    assert_eq!(ring.last, Some(0));
}

#[test]
fn generation_skips_zero_when_it_wraps() {
    let mut ring = Ringbuf::<Event, 1>::new(Event::None);
    ring.buffer[0].generation = u16::MAX - 1;
    ring.record(1, Event::Tick(1));
    assert_eq!(ring.buffer[0].generation, u16::MAX);
    ring.record(1, Event::Tick(2));
    assert_eq!(ring.buffer[0].generation, 1, "0 would mark the slot empty");
    ring.record(1, Event::Tick(3));
    assert_eq!(ring.buffer[0].generation, 2);
}

#[test]
fn zero_length_ring_records_nothing() {
    let mut ring = Ringbuf::<Event, 0>::new(Event::None);
    ring.record(1, Event::Tick(1));
    assert_eq!(ring.last, None);
}

#[test]
fn re_entrant_records_are_dropped() {
    static CELL: StaticCell<Ringbuf<Event, 4>> = StaticCell::new(Ringbuf::new(Event::None));
    let outer = CELL.with(|ring| {
        ring.record(1, Event::Tick(1));
        assert!(CELL.with(|_| ()).is_none(), "inner borrow must be refused");
    });
    assert!(outer.is_some());
    assert_eq!(CELL.with(|ring| ring.entries().count()), Some(1));
}

#[cfg(not(feature = "disabled"))]
#[test]
fn macros_record_the_source_line() {
    ringbuf!(Event, 8, Event::None);
    let mut line = 0;
    for _ in 0..2 {
        line = line!() + 1;
        ringbuf_entry!(Event::Tick(5));
    }
    let newest = __RINGBUF
        .with(|ring| *ring.entries().last().unwrap())
        .unwrap();
    assert_eq!(
        newest,
        RingbufEntry {
            line: line as u16,
            generation: 1,
            count: 2,
            payload: Event::Tick(5)
        }
    );
}

#[cfg(not(feature = "disabled"))]
#[test]
fn unique_macro_records_the_source_line_in_a_slot_of_its_own() {
    ringbuf!(Event, 8, Event::None);
    let mut line = 0;
    for i in 0..2 {
        line = line!() + 1;
        ringbuf_entry_unique!(Event::Tick(i));
    }
    let (n, newest) = __RINGBUF
        .with(|ring| (ring.entries().count(), *ring.entries().last().unwrap()))
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        newest,
        RingbufEntry {
            line: line as u16,
            generation: 1,
            count: 1,
            payload: Event::Tick(1)
        }
    );
}

#[test]
fn counted_ring_counts_every_record_by_variant() {
    counted_ringbuf!(COUNTED, Event, 2, Event::None);
    for i in 0..4 {
        ringbuf_entry!(COUNTED, Event::Tick(i));
    }
    ringbuf_entry_unique!(COUNTED, Event::Tick(4));
    ringbuf_entry!(COUNTED, Event::None);
    assert_eq!(
        COUNTED.counters.tick.load(Relaxed),
        5,
        "totals outlive overwritten entries"
    );
    assert_eq!(COUNTED.counters.none.load(Relaxed), 1);
    #[cfg(not(feature = "disabled"))]
    assert_eq!(COUNTED.ringbuf.with(|ring| ring.entries().count()), Some(2));
}

#[cfg(feature = "disabled")]
#[test]
fn disabled_ring_occupies_no_memory() {
    ringbuf!(Event, 64, Event::None);
    ringbuf_entry!(Event::Tick(1));
    assert_eq!(core::mem::size_of_val(&__RINGBUF), 0);
}
