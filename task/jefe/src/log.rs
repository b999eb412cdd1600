//! The supervisor's event log: a humility-readable ring buffer (`humility ringbuf jefe`)
//! of numbered, timed events, which is also what `read_log` (the console's `log`) serves.
//!
//! A fault that the policy answers with an immediate restart logs five events in one
//! wake-up (the fault, the detach starting and done, the restart, and why the task came
//! back). Each ring-buffer write costs tens of instructions on the path from the fault to
//! the restarted task running, so such a cycle is kept aside while it grows and written as
//! one [`Entry::FaultCycle`] holding all five; anything else that is logged, or the end of
//! the wake-up ([`Log::flush`]), first writes what was kept as the separate events it
//! stands for. Readers never see the difference: [`Log::for_each_after`] gives a cycle back
//! as its five numbered events, and humility shows every field of it.

use abi::FaultInfo;
use jefe_api::{End, LogEvent, Logged};
use ringbuf::{ringbuf, ringbuf_entry_unique};
use supervision::{Cause, Origin, Record};

/// Enough for a few full restart cycles (each is about seven events, or one entry).
const ENTRIES: usize = 64;

/// One ring-buffer slot.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Entry {
    Event(Logged),
    /// Events `seq` to `seq + 4`, all at `time_ms`: `Fault`, `DetachStarted` (cause fault),
    /// `Detached`, `Restarted` and `Reincarnated` after that fault.
    FaultCycle(FaultCycle),
}

/// A fault answered by an immediate restart, in one wake-up.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct FaultCycle {
    pub seq: u32,
    pub time_ms: u32,
    pub task: usize,
    pub fault: FaultInfo,
    /// Who caused the fault (the task itself, or an injection's origin).
    pub origin: Origin,
    /// Dependents told of the detach.
    pub dependents: u32,
    /// The policy's restart count (`Restarted`).
    pub count: u32,
    /// The incarnation it runs as now (`Reincarnated`).
    pub incarnation: u32,
}

/// How many events a [`FaultCycle`] stands for.
const CYCLE_EVENTS: u32 = 5;

ringbuf!(
    Entry,
    ENTRIES,
    Entry::Event(Logged {
        seq: 0,
        time_ms: 0,
        event: LogEvent::Supervisor(Record::Detached { task: 0 }),
    })
);

impl FaultCycle {
    /// Event `i` (0 to 4) of the cycle, numbered.
    fn event(&self, i: u32) -> Logged {
        let task = self.task;
        let event = match i {
            0 => LogEvent::Supervisor(Record::Fault {
                task,
                fault: self.fault,
            }),
            1 => LogEvent::Supervisor(Record::DetachStarted {
                task,
                cause: Cause::Fault,
                origin: self.origin,
                dependents: self.dependents,
            }),
            2 => LogEvent::Supervisor(Record::Detached { task }),
            3 => LogEvent::Supervisor(Record::Restarted {
                task,
                count: self.count,
            }),
            _ => LogEvent::Reincarnated {
                task,
                incarnation: self.incarnation,
                after: End::Fault(self.fault),
            },
        };
        Logged {
            seq: self.seq + i,
            time_ms: self.time_ms,
            event,
        }
    }
}

/// Numbers the events; the ring buffer holds them.
pub struct Log {
    next_seq: u32,
    /// A fault cycle being kept aside (its `seq` is given when it is written), filled in
    /// place as its events arrive.
    cycle: FaultCycle,
    /// How many of the cycle's events have arrived (0: none kept).
    steps: u32,
}

impl Log {
    pub const fn new() -> Self {
        Log {
            next_seq: 1,
            cycle: FaultCycle {
                seq: 0,
                time_ms: 0,
                task: 0,
                fault: FaultInfo::Panic,
                origin: Origin::Task,
                dependents: 0,
                count: 0,
                incarnation: 0,
            },
            steps: 0,
        }
    }

    /// Logs a decision of the policy.
    pub fn supervisor(&mut self, now: u64, record: &Record) {
        let time_ms = now as u32;
        if self.steps != 0 && self.cycle.time_ms == time_ms && self.continues(record) {
            self.steps += 1;
            return;
        }
        self.flush();
        if let Record::Fault { task, fault } = *record {
            let c = &mut self.cycle;
            (c.time_ms, c.task, c.fault) = (time_ms, task, fault);
            self.steps = 1;
            return;
        }
        self.write(time_ms, LogEvent::Supervisor(*record));
    }

    /// Logs that `task` runs again as `incarnation`, after `after`.
    pub fn reincarnated(&mut self, now: u64, task: usize, incarnation: u32, after: End) {
        let time_ms = now as u32;
        if self.steps == CYCLE_EVENTS - 1
            && self.cycle.time_ms == time_ms
            && self.cycle.task == task
            && after == End::Fault(self.cycle.fault)
        {
            self.steps = 0;
            self.cycle.incarnation = incarnation;
            self.cycle.seq = self.take_seq(CYCLE_EVENTS);
            ringbuf_entry_unique!(Entry::FaultCycle(self.cycle));
            return;
        }
        self.record(
            now,
            LogEvent::Reincarnated {
                task,
                incarnation,
                after,
            },
        );
    }

    /// Logs a step only the shell knows about.
    pub fn record(&mut self, now: u64, event: LogEvent) {
        self.flush();
        self.write(now as u32, event);
    }

    /// Writes a cycle kept aside as the separate events that arrived so far. Called at the
    /// end of every wake-up, so that nothing is held while jefe waits.
    pub fn flush(&mut self) {
        let steps = core::mem::take(&mut self.steps);
        for i in 0..steps {
            let event = self.cycle.event(i).event;
            self.write(self.cycle.time_ms, event);
        }
    }

    /// Whether `record` is the cycle's next step (steps 1 to 3: the detach starting and done,
    /// the restart), filling in what it says if so.
    fn continues(&mut self, record: &Record) -> bool {
        let c = &mut self.cycle;
        match (self.steps, record) {
            (
                1,
                &Record::DetachStarted {
                    task,
                    cause: Cause::Fault,
                    origin,
                    dependents,
                },
            ) if task == c.task => {
                (c.origin, c.dependents) = (origin, dependents);
                true
            }
            (2, &Record::Detached { task }) => task == c.task,
            (3, &Record::Restarted { task, count }) if task == c.task => {
                c.count = count;
                true
            }
            _ => false,
        }
    }

    fn take_seq(&mut self, n: u32) -> u32 {
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(n);
        seq
    }

    // Out of line: inlined into its callers, the ring-buffer write moved its entry through
    // the library `memcpy` (about 65 instructions a write), which slowed every unload and
    // detach by hundreds of instructions (bench-client README, stop 31).
    #[inline(never)]
    fn write(&mut self, time_ms: u32, event: LogEvent) {
        let seq = self.take_seq(1);
        ringbuf_entry_unique!(Entry::Event(Logged {
            seq,
            time_ms,
            event
        }));
    }

    /// Calls `f` with every event written whose number is after `after`, oldest first.
    pub fn for_each_after(after: u32, mut f: impl FnMut(&Logged)) {
        let _ = __RINGBUF.with(|ring| {
            for entry in ring.entries() {
                match entry.payload {
                    Entry::Event(logged) if logged.seq > after => f(&logged),
                    Entry::Event(_) => {}
                    Entry::FaultCycle(cycle) => {
                        for i in 0..CYCLE_EVENTS {
                            let logged = cycle.event(i);
                            if logged.seq > after {
                                f(&logged);
                            }
                        }
                    }
                }
            }
        });
    }
}
