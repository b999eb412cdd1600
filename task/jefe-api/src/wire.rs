//! Wire forms of a task's status and of logged events: flat `#[repr(C)]` structs of
//! integers (lease elements, which either side may fill with any bytes), with one encoding
//! and one checked decoding each, so an entry a newer jefe writes that this side does not
//! know decodes to `None` rather than to something wrong.

use abi::{FaultInfo, ResetReason};
use supervision::{
    Cause, Counters, Escalation, HoldReason, Origin, Record, Refusal, TaskRecord, TaskState,
};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

/// Task names longer than this are cut in [`TaskInfo::name`] (the jefe build refuses them).
pub const TASK_NAME_LEN: usize = 16;

/// One enum of the policy crate as a `u8` on the wire, both ways.
macro_rules! wire_enum {
    ($ty:ident, $to:ident, $from:ident { $($variant:ident = $n:literal),+ $(,)? }) => {
        pub(crate) const fn $to(value: $ty) -> u8 {
            match value {
                $($ty::$variant => $n,)+
            }
        }

        pub(crate) const fn $from(n: u8) -> Option<$ty> {
            match n {
                $($n => Some($ty::$variant),)+
                _ => None,
            }
        }
    };
}

wire_enum!(Cause, cause_code, cause_from { Fault = 0, Exit = 1, Restart = 2, Unload = 3 });
wire_enum!(Origin, origin_code, origin_from {
    Task = 0, Watchdog = 1, Ipc = 2, Console = 3, Humility = 4, Escalation = 5,
});
wire_enum!(HoldReason, hold_code, hold_from { Unloaded = 0, Stopped = 1, Escalated = 2 });
wire_enum!(Escalation, escalation_code, escalation_from {
    Hold = 0, RestartDependents = 1, Reset = 2,
});
wire_enum!(Refusal, refusal_code, refusal_from {
    Supervisor = 0, OutOfRange = 1, NotHeld = 2, AlreadyUnloaded = 3, NotRunning = 4,
    AckNotAwaited = 5, UnknownRequest = 6, IdleTask = 7,
});

/// `TaskInfo::state`: the task's place in the restart cycle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum StateCode {
    Running = 0,
    /// `detail` is the [`Cause`], `origin` who started it.
    Detaching = 1,
    BackingOff = 2,
    /// `detail` is the [`HoldReason`].
    Held = 3,
}

/// One task's status, as `list_tasks` reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct TaskInfo {
    /// The app.toml name, NUL-padded.
    pub name: [u8; TASK_NAME_LEN],
    /// A [`StateCode`].
    pub state: u8,
    /// Detaching: the cause; held: the reason.
    pub detail: u8,
    /// Detaching: who started the cycle.
    pub origin: u8,
    /// 1 if automatic restarts are held (humility's Hold).
    pub hold: u8,
    /// Which start of the task this is (or was, while it is detached): 1 for the start at
    /// boot, one more per supervised start.
    pub incarnation: u32,
    pub restarts: u32,
    pub faults: u32,
    pub watchdog_expiries: u32,
    pub forced_detaches: u32,
    pub missed_acks: u32,
    /// Automatic restarts within the current intensity window.
    pub strikes: u32,
    pub next_backoff_ms: u32,
    /// Detaching: until the deadline; backing off: until the restart.
    pub due_in_ms: u32,
    /// Detaching: the dependents that have not acknowledged yet.
    pub pending: u32,
    /// `FaultInfo::encode` of the last fault; all zero if none.
    pub last_fault: [u32; 3],
}

impl TaskInfo {
    pub fn new(name: &str, record: &TaskRecord, incarnation: u32, now: u64) -> Self {
        let mut info = TaskInfo::new_zeroed();
        let n = name.len().min(TASK_NAME_LEN);
        info.name[..n].copy_from_slice(&name.as_bytes()[..n]);
        let due = |at: u64| at.saturating_sub(now).min(u64::from(u32::MAX)) as u32;
        (info.state, info.detail, info.origin) = match record.state {
            TaskState::Running => (StateCode::Running as u8, 0, 0),
            TaskState::Detaching {
                cause,
                origin,
                deadline,
                pending,
            } => {
                info.due_in_ms = due(deadline);
                info.pending = pending;
                (
                    StateCode::Detaching as u8,
                    cause_code(cause),
                    origin_code(origin),
                )
            }
            TaskState::BackingOff { restart_at } => {
                info.due_in_ms = due(restart_at);
                (StateCode::BackingOff as u8, 0, 0)
            }
            TaskState::Held(reason) => (StateCode::Held as u8, hold_code(reason), 0),
        };
        info.hold = u8::from(record.hold);
        info.incarnation = incarnation;
        let Counters {
            faults,
            restarts,
            watchdog_expiries,
            forced_detaches,
            missed_acks,
        } = record.counters;
        info.restarts = restarts;
        info.faults = faults;
        info.watchdog_expiries = watchdog_expiries;
        info.forced_detaches = forced_detaches;
        info.missed_acks = missed_acks;
        info.strikes = record.strikes;
        info.next_backoff_ms = record.next_backoff_ms;
        info.last_fault = record.last_fault.map_or([0; 3], |f| f.encode());
        info
    }

    /// The name, without padding (`"?"` if it is not UTF-8).
    pub fn name(&self) -> &str {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(TASK_NAME_LEN);
        core::str::from_utf8(&self.name[..len]).unwrap_or("?")
    }

    pub fn state_code(&self) -> Option<StateCode> {
        Some(match self.state {
            0 => StateCode::Running,
            1 => StateCode::Detaching,
            2 => StateCode::BackingOff,
            3 => StateCode::Held,
            _ => return None,
        })
    }

    /// The state, with times relative to now (`deadline` and `restart_at` are `due_in_ms`).
    pub fn state(&self) -> Option<TaskState> {
        let due = u64::from(self.due_in_ms);
        Some(match self.state_code()? {
            StateCode::Running => TaskState::Running,
            StateCode::Detaching => TaskState::Detaching {
                cause: cause_from(self.detail)?,
                origin: origin_from(self.origin)?,
                deadline: due,
                pending: self.pending,
            },
            StateCode::BackingOff => TaskState::BackingOff { restart_at: due },
            StateCode::Held => TaskState::Held(hold_from(self.detail)?),
        })
    }

    pub fn last_fault(&self) -> Option<FaultInfo> {
        FaultInfo::decode(self.last_fault)
    }
}

/// Something jefe logged: a decision of the policy, or a step only the shell knows about.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    Supervisor(Record),
    /// The task's `reset-peripherals` (bit i = the i-th name) were pulsed through `sys`.
    PeripheralsReset {
        task: usize,
        mask: u32,
    },
    /// The board has no `sys` task, so the peripherals could not be reset.
    PeripheralResetSkipped {
        task: usize,
        mask: u32,
    },
    /// `sys` refused or failed a reset of these peripherals.
    PeripheralResetFailed {
        task: usize,
        mask: u32,
    },
    /// `sys` did not finish the reset by jefe's deadline: jefe faulted it and restarted
    /// the task without the reset (`reset::Work`'s protocol).
    PeripheralResetUnanswered {
        task: usize,
        mask: u32,
    },
    /// jefe started; the system had last reset for `reason` (logged first after boot).
    Booted {
        reason: ResetReason,
    },
    /// The task runs again as kernel incarnation `incarnation` (its restart count), and
    /// why: the one line a reader of the log needs about a restart.
    Reincarnated {
        task: usize,
        incarnation: u32,
        after: End,
    },
}

/// How a task's previous incarnation ended, as jefe saw it before restarting the task.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum End {
    /// It faulted (on its own, or by an injected fault).
    Fault(FaultInfo),
    /// It was detached for `cause` (a requested restart, an exit) at `origin`'s request.
    Detached { cause: Cause, origin: Origin },
    /// It was unloaded and is now loaded again at `origin`'s request.
    Loaded(Origin),
}

/// A numbered, timed [`LogEvent`]: the payload of jefe's ring buffer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Logged {
    /// 1 for the first event since boot, then one more per event.
    pub seq: u32,
    /// Milliseconds since boot.
    pub time_ms: u32,
    pub event: LogEvent,
}

/// A [`Logged`] on the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct LogEntry {
    pub seq: u32,
    pub time_ms: u32,
    pub kind: u8,
    pub task: u8,
    /// Cause, hold reason, escalation or refusal, by kind.
    pub code: u8,
    pub origin: u8,
    /// Dependents mask, forced mask, delay, restart count or peripheral mask, by kind.
    pub value: u32,
    pub fault: [u32; 3],
}

mod kind {
    pub const FAULT: u8 = 1;
    pub const DETACH_STARTED: u8 = 2;
    pub const DEADLINE_EXPIRED: u8 = 3;
    pub const DETACHED: u8 = 4;
    pub const BACKING_OFF: u8 = 5;
    pub const ESCALATED: u8 = 6;
    pub const RESTARTED: u8 = 7;
    pub const HELD: u8 = 8;
    pub const LOADED: u8 = 9;
    pub const WATCHDOG_EXPIRED: u8 = 10;
    pub const REFUSED: u8 = 11;
    pub const PERIPHERALS_RESET: u8 = 12;
    pub const PERIPHERAL_RESET_SKIPPED: u8 = 13;
    pub const PERIPHERAL_RESET_FAILED: u8 = 14;
    pub const PERIPHERAL_RESET_UNANSWERED: u8 = 15;
    pub const BOOTED: u8 = 16;
    pub const REINCARNATED: u8 = 17;
    pub const STARVED: u8 = 18;
}

/// [`super::End`] in `LogEntry::code`: the fault, a detach (plus its cause code), a load.
mod end {
    pub const FAULT: u8 = 0;
    pub const DETACHED: u8 = 1;
    pub const LOADED: u8 = 8;
}

impl From<&Logged> for LogEntry {
    fn from(logged: &Logged) -> Self {
        let mut e = LogEntry::new_zeroed();
        e.seq = logged.seq;
        e.time_ms = logged.time_ms;
        let (kind, task) = match logged.event {
            LogEvent::Supervisor(record) => match record {
                Record::Fault { task, fault } => {
                    e.fault = fault.encode();
                    (kind::FAULT, task)
                }
                Record::DetachStarted {
                    task,
                    cause,
                    origin,
                    dependents,
                } => {
                    e.code = cause_code(cause);
                    e.origin = origin_code(origin);
                    e.value = dependents;
                    (kind::DETACH_STARTED, task)
                }
                Record::DeadlineExpired {
                    provider,
                    dependents_forced,
                } => {
                    e.value = dependents_forced;
                    (kind::DEADLINE_EXPIRED, provider)
                }
                Record::Detached { task } => (kind::DETACHED, task),
                Record::BackingOff { task, delay_ms } => {
                    e.value = delay_ms;
                    (kind::BACKING_OFF, task)
                }
                Record::Escalated { task, to } => {
                    e.code = escalation_code(to);
                    (kind::ESCALATED, task)
                }
                Record::Restarted { task, count } => {
                    e.value = count;
                    (kind::RESTARTED, task)
                }
                Record::Held { task, reason } => {
                    e.code = hold_code(reason);
                    (kind::HELD, task)
                }
                Record::Loaded { task, origin } => {
                    e.origin = origin_code(origin);
                    (kind::LOADED, task)
                }
                Record::WatchdogExpired { task } => (kind::WATCHDOG_EXPIRED, task),
                Record::Starved { task, hog } => {
                    e.value = hog as u32;
                    (kind::STARVED, task)
                }
                Record::Refused { task, reason } => {
                    e.code = refusal_code(reason);
                    (kind::REFUSED, task)
                }
            },
            LogEvent::PeripheralsReset { task, mask } => {
                e.value = mask;
                (kind::PERIPHERALS_RESET, task)
            }
            LogEvent::PeripheralResetSkipped { task, mask } => {
                e.value = mask;
                (kind::PERIPHERAL_RESET_SKIPPED, task)
            }
            LogEvent::PeripheralResetFailed { task, mask } => {
                e.value = mask;
                (kind::PERIPHERAL_RESET_FAILED, task)
            }
            LogEvent::PeripheralResetUnanswered { task, mask } => {
                e.value = mask;
                (kind::PERIPHERAL_RESET_UNANSWERED, task)
            }
            LogEvent::Booted { reason } => {
                e.value = reason as u32;
                (kind::BOOTED, 0)
            }
            LogEvent::Reincarnated {
                task,
                incarnation,
                after,
            } => {
                e.value = incarnation;
                match after {
                    End::Fault(fault) => {
                        e.code = end::FAULT;
                        e.fault = fault.encode();
                    }
                    End::Detached { cause, origin } => {
                        e.code = end::DETACHED + cause_code(cause);
                        e.origin = origin_code(origin);
                    }
                    End::Loaded(origin) => {
                        e.code = end::LOADED;
                        e.origin = origin_code(origin);
                    }
                }
                (kind::REINCARNATED, task)
            }
        };
        e.kind = kind;
        // Refusals may name any index a caller sent; keep it recognisably out of range.
        e.task = u8::try_from(task).unwrap_or(u8::MAX);
        e
    }
}

impl LogEntry {
    /// The event, or `None` for a kind or code this side does not know.
    pub fn decode(&self) -> Option<Logged> {
        let task = usize::from(self.task);
        let value = self.value;
        let record = |r| Some(LogEvent::Supervisor(r));
        let event = match self.kind {
            kind::FAULT => record(Record::Fault {
                task,
                fault: FaultInfo::decode(self.fault)?,
            }),
            kind::DETACH_STARTED => record(Record::DetachStarted {
                task,
                cause: cause_from(self.code)?,
                origin: origin_from(self.origin)?,
                dependents: value,
            }),
            kind::DEADLINE_EXPIRED => record(Record::DeadlineExpired {
                provider: task,
                dependents_forced: value,
            }),
            kind::DETACHED => record(Record::Detached { task }),
            kind::BACKING_OFF => record(Record::BackingOff {
                task,
                delay_ms: value,
            }),
            kind::ESCALATED => record(Record::Escalated {
                task,
                to: escalation_from(self.code)?,
            }),
            kind::RESTARTED => record(Record::Restarted { task, count: value }),
            kind::HELD => record(Record::Held {
                task,
                reason: hold_from(self.code)?,
            }),
            kind::LOADED => record(Record::Loaded {
                task,
                origin: origin_from(self.origin)?,
            }),
            kind::WATCHDOG_EXPIRED => record(Record::WatchdogExpired { task }),
            kind::STARVED => record(Record::Starved {
                task,
                hog: value as usize,
            }),
            kind::REFUSED => record(Record::Refused {
                task,
                reason: refusal_from(self.code)?,
            }),
            kind::PERIPHERALS_RESET => Some(LogEvent::PeripheralsReset { task, mask: value }),
            kind::PERIPHERAL_RESET_SKIPPED => {
                Some(LogEvent::PeripheralResetSkipped { task, mask: value })
            }
            kind::PERIPHERAL_RESET_FAILED => {
                Some(LogEvent::PeripheralResetFailed { task, mask: value })
            }
            kind::PERIPHERAL_RESET_UNANSWERED => {
                Some(LogEvent::PeripheralResetUnanswered { task, mask: value })
            }
            kind::BOOTED => Some(LogEvent::Booted {
                reason: ResetReason::from_u32(value)?,
            }),
            kind::REINCARNATED => Some(LogEvent::Reincarnated {
                task,
                incarnation: value,
                after: match self.code {
                    end::FAULT => End::Fault(FaultInfo::decode(self.fault)?),
                    end::LOADED => End::Loaded(origin_from(self.origin)?),
                    code => End::Detached {
                        cause: cause_from(code.checked_sub(end::DETACHED)?)?,
                        origin: origin_from(self.origin)?,
                    },
                },
            }),
            _ => None,
        }?;
        Some(Logged {
            seq: self.seq,
            time_ms: self.time_ms,
            event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::{FaultSource, TaskId};

    fn round_trip(event: LogEvent) {
        let logged = Logged {
            seq: 7,
            time_ms: 1234,
            event,
        };
        assert_eq!(LogEntry::from(&logged).decode(), Some(logged), "{event:?}");
    }

    #[test]
    fn every_log_event_survives_the_wire() {
        let fault = FaultInfo::MemoryAccess {
            address: Some(0x2000_0000),
            source: FaultSource::User,
        };
        let records = [
            Record::Fault { task: 3, fault },
            Record::Fault {
                task: 3,
                fault: FaultInfo::Injected(TaskId(0)),
            },
            Record::DetachStarted {
                task: 2,
                cause: Cause::Unload,
                origin: Origin::Console,
                dependents: 0b1100,
            },
            Record::DeadlineExpired {
                provider: 2,
                dependents_forced: 0b1000,
            },
            Record::Detached { task: 2 },
            Record::BackingOff {
                task: 2,
                delay_ms: 80,
            },
            Record::Escalated {
                task: 2,
                to: Escalation::RestartDependents,
            },
            Record::Restarted { task: 2, count: 9 },
            Record::Held {
                task: 2,
                reason: HoldReason::Escalated,
            },
            Record::Loaded {
                task: 2,
                origin: Origin::Humility,
            },
            Record::WatchdogExpired { task: 5 },
            Record::Starved { task: 5, hog: 2 },
            Record::Refused {
                task: 0,
                reason: Refusal::Supervisor,
            },
        ];
        for record in records {
            round_trip(LogEvent::Supervisor(record));
        }
        round_trip(LogEvent::PeripheralsReset { task: 4, mask: 3 });
        round_trip(LogEvent::PeripheralResetSkipped { task: 4, mask: 1 });
        round_trip(LogEvent::PeripheralResetFailed { task: 4, mask: 2 });
        round_trip(LogEvent::PeripheralResetUnanswered { task: 4, mask: 1 });
        round_trip(LogEvent::Booted {
            reason: ResetReason::PowerOn,
        });
        round_trip(LogEvent::Booted {
            reason: ResetReason::Requested,
        });
        for after in [
            End::Fault(fault),
            End::Fault(FaultInfo::Panic),
            End::Detached {
                cause: Cause::Restart,
                origin: Origin::Console,
            },
            End::Detached {
                cause: Cause::Exit,
                origin: Origin::Task,
            },
            End::Loaded(Origin::Humility),
        ] {
            round_trip(LogEvent::Reincarnated {
                task: 6,
                incarnation: 41,
                after,
            });
        }
    }

    #[test]
    fn unknown_kinds_and_codes_do_not_decode() {
        let mut e = LogEntry::new_zeroed();
        assert_eq!(e.decode(), None);
        e.kind = kind::HELD;
        e.code = 99;
        assert_eq!(e.decode(), None);
    }

    #[test]
    fn task_info_carries_state_and_counters() {
        let record = TaskRecord {
            state: TaskState::Detaching {
                cause: Cause::Restart,
                origin: Origin::Ipc,
                deadline: 150,
                pending: 0b110,
            },
            hold: true,
            last_fault: Some(FaultInfo::DivideByZero),
            counters: Counters {
                faults: 1,
                restarts: 2,
                watchdog_expiries: 3,
                forced_detaches: 4,
                missed_acks: 5,
            },
            strikes: 1,
            next_backoff_ms: 40,
        };
        let info = TaskInfo::new("pong", &record, 3, 100);
        assert_eq!(info.name(), "pong");
        assert_eq!(
            info.state(),
            Some(TaskState::Detaching {
                cause: Cause::Restart,
                origin: Origin::Ipc,
                deadline: 50,
                pending: 0b110,
            })
        );
        assert_eq!(info.last_fault(), Some(FaultInfo::DivideByZero));
        assert_eq!((info.restarts, info.missed_acks, info.hold), (2, 5, 1));
        let held = TaskRecord {
            state: TaskState::Held(HoldReason::Unloaded),
            last_fault: None,
            ..record
        };
        let info = TaskInfo::new("a-name-longer-than-sixteen", &held, 1, 0);
        assert_eq!(info.name(), "a-name-longer-th");
        assert_eq!(info.state(), Some(TaskState::Held(HoldReason::Unloaded)));
        assert_eq!(info.last_fault(), None);
    }
}
