//! Configuration errors: every one names the file, and where it applies the task and the key.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem in an `app.toml`, board or chip file.
///
/// Displayed as `FILE[:LINE:COL]: [task "NAME": ][KEY: ]PROBLEM`, for example
/// `app/qemu-m7/app.toml: task "ping": task-slots: unknown task "pong2"`.
#[derive(Debug)]
pub struct ConfigError {
    pub file: PathBuf,
    /// The `[tasks.<name>]` table the problem is in, if any.
    pub task: Option<String>,
    /// The key at fault, relative to the task table (or to the document when `task` is `None`),
    /// dotted for nested keys (`supervision.backoff`). Empty for whole-document problems.
    pub key: String,
    pub problem: Problem,
}

/// What is wrong. Values are quoted as they appear in the file.
#[derive(Debug)]
pub enum Problem {
    /// The file could not be read.
    Io(std::io::Error),
    /// Not valid TOML.
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Valid TOML that does not fit the schema: a missing required key, an unknown key or a
    /// value of the wrong type (the message comes from the TOML deserializer).
    Schema {
        line: usize,
        column: usize,
        message: String,
    },
    /// A name that is not lower-case ASCII letters, digits, `-` and `_`.
    BadName(String),
    /// Task names humility reserves (`doc/humility-contract.md` 1.3).
    ReservedTaskName(String),
    UnsupportedTarget(String),
    /// A board or chip (`what`) whose file does not exist; the name is the file's stem.
    NoSuchFile {
        what: &'static str,
        expected: PathBuf,
    },
    /// A `crate` that is not a package of the workspace.
    MissingCrate(String),
    TooManyTasks {
        count: usize,
    },
    TooManyNotifications {
        count: usize,
    },
    Duplicate(String),
    UnknownTask(String),
    SlotIsSelf,
    /// A task sends to a task that is less important (a higher priority number) than itself.
    PriorityInversion {
        sender_priority: u8,
        target: String,
        target_priority: u8,
    },
    /// Task index 0, the supervisor, must have priority 0.
    SupervisorPriority {
        task: String,
        priority: u8,
    },
    /// Only the supervisor may have priority 0.
    SharesSupervisorPriority {
        supervisor: String,
    },
    NoIdleTask,
    /// `[kernel.fault-inject]` refused; the message names the app, task, key or value.
    FaultInject(String),
    /// `idle` must be strictly less important than every other task.
    IdleNotLowest {
        idle_priority: u8,
        other: String,
        other_priority: u8,
    },
    /// The supervisor's notification bit 0 is the kernel's fault notification.
    SupervisorFaultBit {
        found: Option<String>,
    },
    UnknownPeripheral {
        name: String,
        chip: String,
    },
    PeripheralTaken {
        peripheral: String,
        owner: String,
    },
    /// Flash, RAM and the peripherals in `uses` need one MPU region each.
    TooManyRegions {
        needed: usize,
        available: usize,
    },
    /// An interrupt that does not resolve; the key is the interrupt's name or number.
    UnknownInterrupt(String),
    UnknownNotification(String),
    /// A `notify` key naming the task itself, which may always post to itself.
    NotifySelf(String),
    /// A `notify` entry with an empty list of notifications.
    NoNotificationsNamed,
    /// A `notify` value naming a notification the target task does not declare.
    NotTargetNotification {
        target: String,
        name: String,
        known: Vec<String>,
    },
    /// `client-gone` names a notification that already means something else.
    ClientGoneShared {
        notification: String,
        other: String,
    },
    IrqTaken {
        irq: u32,
        owner: String,
    },
    /// Stack sizes must be non-zero multiples of 8 (AAPCS stack alignment).
    BadStackSize(u32),
    /// A RAM budget that cannot even hold the stack.
    BudgetBelowStack {
        budget: u32,
        stack: u32,
    },
    /// Supervision settings on the supervisor itself, whose faults `[kernel]` handles.
    SupervisorSupervised,
    /// A `kipc` entry that names no kernel IPC operation.
    UnknownKipcOperation(String),
    /// `kipc` on the supervisor, which is always granted every operation.
    SupervisorKipc,
    /// `reply-deadline-ms` on the supervisor: the kernel would fault it, which resets or
    /// halts the system; its hardware watchdog bounds it instead.
    SupervisorReplyDeadline,
    /// `reply-deadline-ms` above what the kernel's 16-bit record of a wait can time.
    ReplyDeadlineTooLong(u32),
    DependencyCycle(Vec<String>),
    /// `depends-on` names the idle task, which the supervisor never leaves detached.
    DependsOnIdle,
    ZeroDuration,
    /// A `restart-test.progress` entry that is not a variable name.
    NotAVariable(String),
    DeadlineNotBelowWatchdog {
        deadline_ms: u32,
        watchdog_ms: u32,
    },
    /// `backoff.initial-ms = 0` without an `intensity` limit.
    ImmediateRestartUnbounded,
    BackoffInverted {
        initial_ms: u32,
        max_ms: u32,
    },
    ZeroRestarts,
    /// `reset-peripherals` may only name peripherals the task itself `uses`.
    ResetsForeignPeripheral(String),
    /// A chip's memory or peripheral the MPU cannot describe, or one that overlaps another.
    BadRegion {
        address: u32,
        size: u32,
        reason: &'static str,
    },
    RegionOverlap {
        other: String,
    },
    MissingMemory(&'static str),
    /// A `ram-memory` (the kernel's or a task's) names no RAM of the chip, or (the kernel's)
    /// one too small for `kernel.ram`.
    RamMemory {
        name: String,
        why: &'static str,
    },
    TooFewMpuRegions {
        chip: u8,
        kernel: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Problem::Syntax { line, column, .. } | Problem::Schema { line, column, .. } =
            &self.problem
        {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": ")?;
        if let Some(task) = &self.task {
            write!(f, "task \"{task}\": ")?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        write!(f, "{}", self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Builds errors for one file and, optionally, one task.
#[derive(Copy, Clone)]
pub(super) struct Blame<'a> {
    pub file: &'a Path,
    pub task: Option<&'a str>,
}

impl Blame<'_> {
    pub fn error(self, key: &str, problem: Problem) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            task: self.task.map(str::to_owned),
            key: key.to_owned(),
            problem,
        }
    }

    /// Errors inside `[tasks.<task>]` of the same file.
    pub fn task<'b>(&'b self, task: &'b str) -> Blame<'b> {
        Blame {
            file: self.file,
            task: Some(task),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Io(e) => write!(f, "cannot read: {e}"),
            Problem::Syntax { message, .. } => write!(f, "TOML syntax error: {message}"),
            Problem::Schema { message, .. } => write!(f, "{message}"),
            Problem::BadName(name) => write!(
                f,
                "\"{name}\" is not a valid name (use lower-case ASCII letters, digits, '-' and '_', \
                 starting with a letter)"
            ),
            Problem::ReservedTaskName(name) => {
                write!(
                    f,
                    "\"{name}\" is reserved by humility and cannot name a task"
                )
            }
            Problem::UnsupportedTarget(target) => write!(
                f,
                "unsupported target \"{target}\" (Bulkhead builds for {})",
                super::TARGET
            ),
            Problem::NoSuchFile { what, expected } => {
                let name = expected.file_stem().unwrap_or_default().to_string_lossy();
                write!(
                    f,
                    "unknown {what} \"{name}\" (no file {})",
                    expected.display()
                )
            }
            Problem::MissingCrate(name) => {
                write!(
                    f,
                    "missing crate: no package named \"{name}\" in the workspace"
                )
            }
            Problem::TooManyTasks { count } => {
                write!(
                    f,
                    "{count} tasks; at most 32 are supported (send masks are 32 bits)"
                )
            }
            Problem::TooManyNotifications { count } => {
                write!(
                    f,
                    "{count} notifications; at most 32 fit in the notification word"
                )
            }
            Problem::Duplicate(value) => write!(f, "\"{value}\" is listed more than once"),
            Problem::UnknownTask(name) => write!(f, "unknown task \"{name}\""),
            Problem::SlotIsSelf => {
                write!(f, "a task cannot list itself (it would block on itself)")
            }
            Problem::PriorityInversion {
                sender_priority,
                target,
                target_priority,
            } => write!(
                f,
                "priority inversion: this task (priority {sender_priority}) would send to \"{target}\" \
                 (priority {target_priority}), which is less important; a task may only send to \
                 tasks of equal or more important (lower-numbered) priority"
            ),
            Problem::SupervisorPriority { task, priority } => write!(
                f,
                "task index 0 (\"{task}\") is the supervisor and must have priority 0, not {priority}"
            ),
            Problem::SharesSupervisorPriority { supervisor } => write!(
                f,
                "priority 0 is reserved for the supervisor (\"{supervisor}\")"
            ),
            Problem::NoIdleTask => write!(f, "no task named \"idle\"; an idle task is required"),
            Problem::IdleNotLowest {
                idle_priority,
                other,
                other_priority,
            } => write!(
                f,
                "\"idle\" (priority {idle_priority}) must be strictly less important than every other \
                 task, but \"{other}\" has priority {other_priority}"
            ),
            Problem::SupervisorFaultBit { found } => {
                write!(
                    f,
                    "the supervisor's notification bit 0 must be named \"fault\" (the kernel posts it when a task faults)"
                )?;
                match found {
                    Some(name) => write!(f, ", found \"{name}\""),
                    None => write!(f, ", found no notifications"),
                }
            }
            Problem::UnknownPeripheral { name, chip } => {
                write!(f, "unknown peripheral \"{name}\" (not in chip \"{chip}\")")
            }
            Problem::PeripheralTaken { peripheral, owner } => {
                write!(
                    f,
                    "peripheral \"{peripheral}\" is already used by task \"{owner}\""
                )
            }
            Problem::TooManyRegions { needed, available } => write!(
                f,
                "needs {needed} MPU regions (flash, RAM and one per peripheral) but a task has {available}"
            ),
            Problem::UnknownInterrupt(reason) => write!(f, "unknown interrupt: {reason}"),
            Problem::UnknownNotification(name) => {
                write!(f, "\"{name}\" is not one of this task's notifications")
            }
            Problem::NotifySelf(name) => write!(
                f,
                "\"{name}\" is this task, which may always post to itself; list only other tasks"
            ),
            Problem::NoNotificationsNamed => write!(
                f,
                "names no notification; list the target's notifications this task may raise"
            ),
            Problem::NotTargetNotification {
                target,
                name,
                known,
            } => {
                write!(
                    f,
                    "\"{name}\" is not one of task \"{target}\"'s notifications"
                )?;
                if known.is_empty() {
                    write!(f, " (it declares none)")
                } else {
                    write!(f, " (it has: {})", known.join(", "))
                }
            }
            Problem::ClientGoneShared {
                notification,
                other,
            } => write!(
                f,
                "\"{notification}\" is also {other}; the client-gone notification must mean \
                 nothing else (a server that sees it scans its clients)"
            ),
            Problem::IrqTaken { irq, owner } => {
                write!(f, "IRQ {irq} is already mapped (by task \"{owner}\")")
            }
            Problem::BadStackSize(size) => {
                write!(f, "stack size {size} must be a non-zero multiple of 8")
            }
            Problem::BudgetBelowStack { budget, stack } => {
                write!(f, "RAM budget {budget} cannot hold the {stack}-byte stack")
            }
            Problem::UnknownKipcOperation(name) => {
                let known: Vec<&str> = abi::Kipcnum::ALL.iter().map(|op| op.name()).collect();
                write!(
                    f,
                    "unknown kernel IPC operation \"{name}\" (known: {})",
                    known.join(", ")
                )
            }
            Problem::SupervisorReplyDeadline => write!(
                f,
                "the supervisor cannot have a reply deadline (missing it would fault the supervisor); \
                 the hardware watchdog bounds it"
            ),
            Problem::ReplyDeadlineTooLong(ms) => write!(
                f,
                "{ms} ms is longer than the kernel can time (at most {} ms)",
                crate::app::MAX_REPLY_DEADLINE_MS
            ),
            Problem::SupervisorKipc => {
                write!(
                    f,
                    "the supervisor is always granted every kernel IPC operation; remove the key"
                )
            }
            Problem::SupervisorSupervised => write!(
                f,
                "the supervisor cannot be supervised; its faults are handled by [kernel] \
                 on-supervisor-fault"
            ),
            Problem::DependencyCycle(path) => {
                write!(f, "dependency cycle: {}", path.join(" -> "))
            }
            Problem::DependsOnIdle => f.write_str(
                "\"idle\" is restarted at once whenever it stops and cannot be unloaded, so there \
                 is nothing to depend on",
            ),
            Problem::ZeroDuration => write!(f, "must be at least 1 ms"),
            Problem::NotAVariable(name) => write!(
                f,
                "\"{name}\" is not a variable name (ASCII letters, digits and `_`, not starting with a digit)"
            ),
            Problem::DeadlineNotBelowWatchdog {
                deadline_ms,
                watchdog_ms,
            } => write!(
                f,
                "detach deadline {deadline_ms} ms must be shorter than the task's watchdog-ms \
                 ({watchdog_ms} ms)"
            ),
            Problem::ImmediateRestartUnbounded => f.write_str(
                "0 (restart at once) needs an `intensity` limit, or a crash loop never stops",
            ),
            Problem::BackoffInverted { initial_ms, max_ms } => {
                write!(
                    f,
                    "initial-ms ({initial_ms}) is greater than max-ms ({max_ms})"
                )
            }
            Problem::ZeroRestarts => write!(f, "restarts must be at least 1"),
            Problem::FaultInject(message) => f.write_str(message),
            Problem::ResetsForeignPeripheral(name) => write!(
                f,
                "\"{name}\" is not in this task's `uses`; a task can only have its own peripherals reset"
            ),
            Problem::BadRegion {
                address,
                size,
                reason,
            } => {
                write!(f, "region {address:#010x} + {size:#x} {reason}")
            }
            Problem::RegionOverlap { other } => write!(f, "overlaps \"{other}\""),
            Problem::MissingMemory(name) => write!(f, "no memory named \"{name}\""),
            Problem::RamMemory { name, why } => write!(f, "\"{name}\" {why}"),
            Problem::TooFewMpuRegions { chip, kernel } => write!(
                f,
                "the chip has {chip} MPU regions but the kernel programs {kernel} per task"
            ),
        }
    }
}
