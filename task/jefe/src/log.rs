//! The supervisor's event log: a humility-readable ring buffer (`humility ringbuf jefe`)
//! of numbered, timed events, which is also what `read_log` (the console's `log`) serves.

use jefe_api::{LogEvent, Logged};
use ringbuf::{ringbuf, ringbuf_entry};
use supervision::Record;

/// Enough for a few full restart cycles (each is about seven events).
const ENTRIES: usize = 64;

ringbuf!(
    Logged,
    ENTRIES,
    Logged {
        seq: 0,
        time_ms: 0,
        event: LogEvent::Supervisor(Record::Detached { task: 0 }),
    }
);

/// Numbers the events; the ring buffer holds them.
pub struct Log {
    next_seq: u32,
}

impl Log {
    pub const fn new() -> Self {
        Log { next_seq: 1 }
    }

    pub fn record(&mut self, now: u64, event: LogEvent) {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        ringbuf_entry!(Logged {
            seq,
            time_ms: now as u32,
            event
        });
    }

    /// Calls `f` with every event still held whose number is after `after`, oldest first.
    pub fn for_each_after(after: u32, mut f: impl FnMut(&Logged)) {
        let _ = __RINGBUF.with(|ring| {
            for entry in ring.entries().filter(|e| e.payload.seq > after) {
                f(&entry.payload);
            }
        });
    }
}
