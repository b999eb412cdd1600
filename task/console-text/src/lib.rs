//! What the supervisor's states, events and refusals mean, in words a firmware engineer
//! reads on the console. Task names come from the caller (`name(index)`), since only it
//! knows them (from `list_tasks`).
#![cfg_attr(not(test), no_std)]

pub mod line;

use core::fmt::{self, Write};

use abi::{FaultInfo, FaultSource, ReplyFaultReason, ResetReason};
use supervision::{Cause, Escalation, HoldReason, Origin, Record, Refusal, TaskState};

use jefe_api::{End, JefeError, LogEvent, Logged, TaskInfo};

/// A task name by index.
pub type Names<'a> = &'a dyn Fn(usize) -> &'a str;

pub fn origin(origin: Origin) -> &'static str {
    match origin {
        Origin::Task => "the task itself",
        Origin::Watchdog => "the watchdog",
        Origin::Ipc => "an IPC request",
        Origin::Console => "the console",
        Origin::Humility => "humility",
        Origin::Escalation => "its provider's escalation",
    }
}

fn cause(cause: Cause) -> &'static str {
    match cause {
        Cause::Fault => "fault",
        Cause::Exit => "exit",
        Cause::Restart => "restart",
        Cause::Unload => "unload",
    }
}

pub fn refusal(refusal: Refusal) -> &'static str {
    error(JefeError::from_refusal(refusal))
}

pub fn error(error: JefeError) -> &'static str {
    match error {
        JefeError::NoSuchTask => "no such task",
        JefeError::Supervisor => "the supervisor cannot be detached, unloaded or faulted",
        JefeError::NotHeld => "it is not unloaded or held",
        JefeError::AlreadyUnloaded => "it is already unloaded",
        JefeError::NotRunning => "it is not running",
        JefeError::AckNotAwaited => "that provider is not waiting for an acknowledgement",
        JefeError::IdleTask => {
            "the idle task cannot be unloaded or held: the kernel must always have it to run"
        }
    }
}

fn source(source: FaultSource) -> &'static str {
    match source {
        FaultSource::User => "by the task",
        FaultSource::Kernel => "by the kernel on the task's behalf",
    }
}

fn reply_fault(reason: ReplyFaultReason) -> &'static str {
    match reason {
        ReplyFaultReason::UndefinedOperation => "unknown operation",
        ReplyFaultReason::BadMessageSize => "bad message size",
        ReplyFaultReason::BadMessageContents => "bad message contents",
        ReplyFaultReason::BadLeases => "bad leases",
        ReplyFaultReason::ReplyBufferTooSmall => "reply buffer too small",
        ReplyFaultReason::AccessViolation => "caller not allowed",
    }
}

pub fn fault(out: &mut impl Write, fault: &FaultInfo, name: Names<'_>) -> fmt::Result {
    let address = |out: &mut dyn Write, a: Option<u32>| match a {
        Some(a) => write!(out, " at {a:#010x}"),
        None => Ok(()),
    };
    match *fault {
        FaultInfo::MemoryAccess {
            address: a,
            source: s,
        } => {
            out.write_str("memory access violation")?;
            address(out, a)?;
            write!(out, " {}", source(s))
        }
        FaultInfo::StackOverflow { address } => write!(out, "stack overflow at {address:#010x}"),
        FaultInfo::BusError {
            address: a,
            source: s,
        } => {
            out.write_str("bus error")?;
            address(out, a)?;
            write!(out, " {}", source(s))
        }
        FaultInfo::DivideByZero => out.write_str("divide by zero"),
        FaultInfo::IllegalText => out.write_str("executed non-executable memory"),
        FaultInfo::IllegalInstruction => out.write_str("illegal instruction"),
        FaultInfo::InvalidOperation(cfsr) => write!(out, "usage fault (CFSR {cfsr:#010x})"),
        FaultInfo::SyscallUsage(e) => write!(out, "syscall misuse ({e:?})"),
        FaultInfo::Panic => out.write_str("panicked"),
        FaultInfo::Injected(by) => write!(out, "fault injected by {}", name(by.index())),
        FaultInfo::FromServer(server, reason) => write!(
            out,
            "faulted by server {} ({})",
            name(server.index()),
            reply_fault(reason)
        ),
    }
}

/// The names of the tasks in `mask`, comma-separated, or "none".
pub fn task_list(out: &mut impl Write, mask: u32, name: Names<'_>) -> fmt::Result {
    if mask == 0 {
        return out.write_str("none");
    }
    let mut first = true;
    for task in (0..32).filter(|i| mask & (1 << i) != 0) {
        if !first {
            out.write_str(", ")?;
        }
        first = false;
        out.write_str(name(task))?;
    }
    Ok(())
}

/// The state column of `tasks`: "running", "unloaded", "backing off 40 ms", ...
pub fn state(out: &mut impl Write, info: &TaskInfo) -> fmt::Result {
    match info.state() {
        Some(TaskState::Running) => out.write_str("running")?,
        Some(TaskState::Detaching { cause: c, .. }) => write!(out, "detaching ({})", cause(c))?,
        Some(TaskState::BackingOff { restart_at }) => write!(out, "backing off {restart_at} ms")?,
        Some(TaskState::Held(HoldReason::Unloaded)) => out.write_str("unloaded")?,
        Some(TaskState::Held(HoldReason::Stopped)) => out.write_str("stopped")?,
        Some(TaskState::Held(HoldReason::Escalated)) => out.write_str("escalated")?,
        None => out.write_str("?")?,
    }
    if info.hold != 0 {
        out.write_str(" (hold)")?;
    }
    Ok(())
}

/// Why the system last reset, as the boot record says it.
pub fn reset_reason(reason: ResetReason) -> &'static str {
    match reason {
        ResetReason::PowerOn => "last reset: power-on",
        ResetReason::Unrecorded => {
            "last reset: unrecorded, while running (watchdog, reset pin or debugger)"
        }
        ResetReason::KernelFailure => "last reset: kernel failure",
        ResetReason::SupervisorFault => "last reset: the supervisor faulted",
        ResetReason::Requested => "last reset: requested (supervisor policy or humility)",
        ResetReason::Watchdog => "last reset: watchdog (the supervisor stopped feeding it)",
        ResetReason::Pin => "last reset: reset pin (button or debugger)",
        ResetReason::BrownOut => "last reset: brown-out (the supply dipped)",
    }
}

/// One logged event as a sentence, prefixed with its time: `[  12.345] pong: ...`.
pub fn event(out: &mut impl Write, logged: &Logged, name: Names<'_>) -> fmt::Result {
    let (s, ms) = (logged.time_ms / 1000, logged.time_ms % 1000);
    write!(out, "[{s:5}.{ms:03}] ")?;
    let record = match logged.event {
        LogEvent::Supervisor(record) => record,
        LogEvent::PeripheralsReset { task, mask } => {
            return write!(
                out,
                "{}: peripherals reset through sys (mask {mask:#x})",
                name(task)
            );
        }
        LogEvent::PeripheralResetSkipped { task, mask } => {
            return write!(
                out,
                "{}: no sys task on this board; peripheral reset skipped (mask {mask:#x})",
                name(task)
            );
        }
        LogEvent::PeripheralResetFailed { task, mask } => {
            return write!(
                out,
                "{}: sys failed to reset peripherals (mask {mask:#x})",
                name(task)
            );
        }
        LogEvent::Booted { reason } => return write!(out, "system up; {}", reset_reason(reason)),
        LogEvent::Reincarnated {
            task,
            incarnation,
            after,
        } => {
            write!(out, "{} ", name(task))?;
            match after {
                End::Fault(f) => {
                    out.write_str("restarted after a fault: ")?;
                    fault(out, &f, name)?;
                }
                End::Detached {
                    cause: Cause::Restart,
                    origin: o,
                } => write!(out, "restarted on request of {}", origin(o))?,
                End::Detached {
                    cause: Cause::Exit, ..
                } => out.write_str("restarted after it exited")?,
                End::Detached {
                    cause: Cause::Fault,
                    origin: o,
                } => write!(out, "restarted after a fault injected by {}", origin(o))?,
                End::Detached {
                    cause: Cause::Unload,
                    origin: o,
                } => write!(out, "restarted after an unload by {}", origin(o))?,
                End::Loaded(o) => write!(out, "loaded again by {}", origin(o))?,
            }
            return write!(out, " (incarnation {incarnation})");
        }
        LogEvent::PeripheralResetUnanswered { task, mask } => {
            return write!(
                out,
                "{}: sys did not reset peripherals in time (mask {mask:#x}); sys faulted, restart goes on",
                name(task)
            );
        }
    };
    match record {
        Record::Fault { task, fault: f } => {
            write!(out, "{}: faulted: ", name(task))?;
            fault(out, &f, name)
        }
        Record::DetachStarted {
            task,
            cause,
            origin: o,
            dependents,
        } => {
            write!(out, "{}: ", name(task))?;
            match (cause, o) {
                (Cause::Fault, Origin::Task) => out.write_str("detaching after its fault")?,
                (Cause::Fault, o) => {
                    write!(out, "detaching after a fault injected by {}", origin(o))?
                }
                (Cause::Exit, _) => out.write_str("detaching after it exited")?,
                (Cause::Restart, o) => write!(out, "restart requested by {}", origin(o))?,
                (Cause::Unload, o) => write!(out, "unload requested by {}", origin(o))?,
            }
            if dependents == 0 {
                return out.write_str("; no dependents to tell");
            }
            out.write_str("; telling dependents: ")?;
            task_list(out, dependents, name)
        }
        Record::DeadlineExpired {
            provider,
            dependents_forced,
        } => {
            write!(
                out,
                "{}: detach deadline passed without acknowledgement from ",
                name(provider)
            )?;
            task_list(out, dependents_forced, name)?;
            out.write_str("; detaching anyway")
        }
        Record::Detached { task } => write!(
            out,
            "{}: detached (callers get \"unavailable\", leases revoked)",
            name(task)
        ),
        Record::BackingOff { task, delay_ms } => {
            write!(
                out,
                "{}: backing off {delay_ms} ms before restarting",
                name(task)
            )
        }
        Record::Escalated { task, to } => {
            write!(out, "{}: restart intensity exceeded; ", name(task))?;
            out.write_str(match to {
                Escalation::Hold => "holding it stopped",
                Escalation::RestartDependents => "restarting its dependents too",
                Escalation::Reset => "resetting the system",
            })
        }
        Record::Restarted { task, count } => {
            write!(out, "{}: started (supervised start #{count})", name(task))
        }
        Record::Held { task, reason } => write!(
            out,
            "{}: {}",
            name(task),
            match reason {
                HoldReason::Unloaded => "unloaded (stays stopped until loaded)",
                HoldReason::Stopped => "stopped and held (not restarting)",
                HoldReason::Escalated => "held after escalation",
            }
        ),
        Record::Loaded { task, origin: o } => {
            write!(out, "{}: loaded by {}", name(task), origin(o))
        }
        Record::WatchdogExpired { task } => write!(
            out,
            "{}: watchdog expired (no check-in in time); faulting it",
            name(task)
        ),
        Record::Starved { task, hog } => write!(
            out,
            "{}: watchdog expired while {}, more important, held the CPU; faulting {}",
            name(task),
            name(hog),
            name(hog)
        ),
        Record::Refused { task, reason } => {
            write!(out, "request for task {task} refused: {}", refusal(reason))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::TaskId;

    struct Line {
        buf: [u8; 160],
        len: usize,
    }

    impl Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len + s.len();
            self.buf
                .get_mut(self.len..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }

    const NAMES: [&str; 4] = ["jefe", "console", "pong", "ping"];

    fn say(f: impl FnOnce(&mut Line, Names<'_>) -> fmt::Result) -> Line {
        let mut line = Line {
            buf: [0; 160],
            len: 0,
        };
        let name = |i: usize| NAMES.get(i).copied().unwrap_or("?");
        f(&mut line, &name).expect("fits");
        line
    }

    fn text(line: &Line) -> &str {
        core::str::from_utf8(&line.buf[..line.len]).unwrap()
    }

    #[test]
    fn events_read_as_sentences() {
        let logged = Logged {
            seq: 1,
            time_ms: 12_345,
            event: LogEvent::Supervisor(Record::DetachStarted {
                task: 2,
                cause: Cause::Restart,
                origin: Origin::Console,
                dependents: 0b1000,
            }),
        };
        let line = say(|out, name| event(out, &logged, name));
        assert_eq!(
            text(&line),
            "[   12.345] pong: restart requested by the console; telling dependents: ping"
        );
    }

    #[test]
    fn restarts_say_why_and_which_incarnation() {
        let cases = [
            (
                End::Fault(FaultInfo::Panic),
                "[    0.250] pong restarted after a fault: panicked (incarnation 3)",
            ),
            (
                End::Fault(FaultInfo::Injected(TaskId(0))),
                "[    0.250] pong restarted after a fault: fault injected by jefe (incarnation 3)",
            ),
            (
                End::Detached {
                    cause: Cause::Restart,
                    origin: Origin::Console,
                },
                "[    0.250] pong restarted on request of the console (incarnation 3)",
            ),
            (
                End::Loaded(Origin::Humility),
                "[    0.250] pong loaded again by humility (incarnation 3)",
            ),
        ];
        for (after, want) in cases {
            let logged = Logged {
                seq: 9,
                time_ms: 250,
                event: LogEvent::Reincarnated {
                    task: 2,
                    incarnation: 3,
                    after,
                },
            };
            let line = say(|out, name| event(out, &logged, name));
            assert_eq!(text(&line), want);
        }
    }

    #[test]
    fn boot_names_the_last_reset() {
        let logged = Logged {
            seq: 1,
            time_ms: 0,
            event: LogEvent::Booted {
                reason: ResetReason::KernelFailure,
            },
        };
        let line = say(|out, name| event(out, &logged, name));
        assert_eq!(
            text(&line),
            "[    0.000] system up; last reset: kernel failure"
        );
    }

    #[test]
    fn injected_faults_name_the_injector() {
        let line = say(|out, name| fault(out, &FaultInfo::Injected(TaskId(0)), name));
        assert_eq!(text(&line), "fault injected by jefe");
    }
}
