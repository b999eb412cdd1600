//! The supervisor's policy: when to detach, wait, back off, restart, hold or escalate.
//!
//! This crate is the decision-making half of `task/jefe`. It is a pure state machine with no
//! syscalls, no allocation and no clock: the shell feeds it [`Event`]s (kernel fault
//! notifications, IPC and console requests, humility's `JEFE_EXTERNAL_*` requests) and timer
//! expiries, always with the current time in milliseconds since boot, and performs the
//! [`Action`]s it emits through an [`ActionSink`], in order: kernel detach and restart, notifying
//! dependents, pulsing peripheral resets through `sys`, injecting faults, resetting the system,
//! and writing [`Record`]s into a humility ring buffer. After every call the shell arms its
//! timer for [`Supervisor::next_deadline`] and calls [`Supervisor::on_timer`] when it fires.
//! Because nothing here touches hardware, every rule below is tested on the host.
//!
//! # The restart cycle
//!
//! Every restart, whatever triggered it (a fault, a watchdog expiry, a request over IPC, the
//! console or humility, or an escalation), runs the same steps (`doc/architecture.md` section 4):
//!
//! 1. tell every *live* dependent (a task whose [`Policy::depends_on`] names the provider and
//!    which is running, i.e. `Running` or `Detaching`) that the provider is going away;
//! 2. wait until each has acknowledged ([`Event::Ack`]) or [`Policy::detach_deadline_ms`]
//!    passes; the dependents that had not acknowledged are recorded as forced;
//! 3. kernel detach;
//! 4. reset the provider's peripherals;
//! 5. back off: `backoff_initial_ms`, doubling with each consecutive restart, capped at
//!    `backoff_max_ms`. A task that ran for a whole `intensity_window_ms` before this cycle
//!    began starts again from `backoff_initial_ms`: the window that decides "this is a crash
//!    loop" also decides "the crash loop is over", so the two limits cannot disagree;
//! 6. restart the task and tell its live dependents that the provider is back.
//!
//! Unloading is steps 1-4 followed by a hold; loading is step 6 alone.
//!
//! A task that faults is detached even when it will not be restarted (`RestartMode::Never`, or
//! held): a faulted task is stopped but still *attached*, so anything blocked sending to it or
//! awaiting its reply would wait forever. Detach wakes them with a code saying "unavailable".
//! A dependent blocked on a faulted provider cannot acknowledge (it only sees the notification
//! once unblocked), so a fault's cycle usually ends at the deadline with that dependent forced;
//! the deadline is what bounds it.
//!
//! Restart intensity (Erlang/OTP's `intensity`/`period`, `doc/lessons.md` 3): when a task would
//! restart *automatically* (after a fault or an exit) for the `intensity_restarts + 1`-th time
//! within `intensity_window_ms`, the restart is replaced by [`Policy::intensity_then`].
//! Requested restarts are deliberate and do not count; they still back off. An escalation
//! forgets the burst it answered, so the next one is counted afresh.
//!
//! # The idle task
//!
//! The kernel runs the idle task when nothing else is runnable, and fails (nothing runnable)
//! if it is not there. So the task whose policy says [`Policy::idle`] is never left detached:
//! every cycle of it ends in an immediate restart (no back-off; restart mode, hold disposition
//! and intensity escalation do not apply), and `Unload` and `Hold` of it (hence humility's
//! Fault, which holds first) are refused with [`Refusal::IdleTask`]. Nobody may depend on it
//! ([`ConfigError::DependsOnIdle`]), so its detach never waits: the supervisor, which is
//! running while it handles the event, detaches and restarts it in one step.
//!
//! # Per-task states
//!
//! - `Running`: started and supervised. The watchdog, if any, runs only here.
//! - `Detaching { cause, .. }`: dependents have been told; waiting for their acknowledgements
//!   or the deadline. The task itself may still be running (a requested restart or unload) or
//!   faulted. `cause` decides what follows the detach.
//! - `BackingOff { restart_at }`: detached and peripherals reset; restarts at `restart_at`.
//! - `Held(reason)`: detached and not restarting by itself. `Unloaded` needs a load or restart;
//!   `Stopped` (faulted or exited and not to be restarted) and `Escalated` also restart on
//!   release.
//!
//! Orthogonal to the state, each task has a *hold* disposition (humility's Hold): while set, a
//! fault or exit ends in `Held(Stopped)` instead of a restart. Explicit restarts and loads
//! ignore it; only [`Event::Release`] clears it.
//!
//! # State table
//!
//! "GoingAway*" and "Back*" mean one notification per live dependent. "Completion" is the
//! detach step (rows 15-21). Task 0, the supervisor, is never the subject of an action: events
//! naming it are refused (row 36), nobody may depend on it, and its own policy is ignored.
//!
//! | #  | State                      | Event                                   | Next state                     | Actions |
//! |----|----------------------------|-----------------------------------------|--------------------------------|---------|
//! | 1  | Running                    | `Faulted`                               | Detaching(Fault)               | `Fault`, `DetachStarted`, GoingAway* (origin: the pending injection's, else `Task`) |
//! | 2  | Running                    | `Exited`                                | Detaching(Exit)                | `DetachStarted`, GoingAway* |
//! | 3  | Running                    | `RestartRequest`                        | Detaching(Restart)             | `DetachStarted`, GoingAway* |
//! | 4  | Running                    | `Unload`                                | Detaching(Unload)              | `DetachStarted`, GoingAway* |
//! | 5  | Running                    | `InjectFault`                           | Running, injection pending     | `InjectFault` (none while one is already pending) |
//! | 6  | Running                    | timer: `now - last_checkin > watchdog_ms`, no injection pending, and not row 6a | Running, injection pending (origin `Watchdog`) | `WatchdogExpired`, `InjectFault` |
//! | 6a | Running                    | as row 6, the task busy and some rival running | Running, first look taken     | - |
//! | 6b | Running, first look taken  | timer: grace over, the task still busy, held no tick since, and a busy rival held ticks | Running, last check-in = now; the hog's injection pending (origin `Watchdog`) | `Starved { task, hog }`, `InjectFault` of the hog (none if one is pending) |
//! | 6c | Running, first look taken  | timer: grace over, not row 6b           | as row 6                       | as row 6 |
//! | 7  | any                        | `CheckIn`                               | unchanged, last check-in = now | - |
//! | 8  | Running, Detaching, Held   | `Hold`                                  | unchanged, hold set            | - |
//! | 9  | BackingOff                 | `Hold`                                  | Held(Stopped), hold set        | `Held` |
//! | 10 | Running, Detaching, BackingOff, Held(Unloaded) | `Release`           | unchanged, hold cleared        | - |
//! | 11 | Held(Stopped or Escalated) | `Release`                               | Running, hold cleared          | `Restart`, `Restarted`, Back* |
//! | 12 | Detaching                  | `Ack` from a pending dependent, others still pending | Detaching, one fewer pending | - |
//! | 13 | Detaching                  | last pending `Ack`, or no live dependents at all | completion            | completion |
//! | 14 | Detaching                  | timer: deadline reached                 | completion                     | `DeadlineExpired { dependents_forced }`, completion |
//! | 15 | completion, cause Unload   | -                                       | Held(Unloaded)                 | `Detach`, `ResetPeripherals`, `Detached`, `Held` |
//! | 16 | completion, cause Restart  | -                                       | BackingOff (Running if the delay is 0) | `Detach`, `ResetPeripherals`, `Detached`, `BackingOff` |
//! | 17 | completion, cause Fault or Exit, hold set or policy says no restart | - | Held(Stopped)            | `Detach`, `ResetPeripherals`, `Detached`, `Held` |
//! | 18 | completion, cause Fault or Exit, restart within intensity | -        | BackingOff                     | `Detach`, `ResetPeripherals`, `Detached`, `BackingOff` |
//! | 19 | completion, over intensity, `then = Hold` | -                        | Held(Escalated)                | `Detach`, `ResetPeripherals`, `Detached`, `Escalated`, `Held` |
//! | 20 | completion, over intensity, `then = RestartDependents` | -           | BackingOff; each Running dependent takes row 3 (origin `Escalation`) | `Detach`, `ResetPeripherals`, `Detached`, `Escalated`, `BackingOff`, then the dependents' row 3 |
//! | 21 | completion, over intensity, `then = Reset` | -                       | Held(Escalated)                | `Detach`, `ResetPeripherals`, `Detached`, `Escalated`, `ResetSystem`, `Held` |
//! | 22 | Detaching                  | `Faulted`                               | unchanged                      | `Fault` (counted) |
//! | 23 | Detaching                  | `Exited`                                | unchanged                      | - |
//! | 24 | Detaching(Unload)          | `Unload`                                | unchanged                      | refused `AlreadyUnloaded` |
//! | 25 | Detaching(other cause)     | `Unload`                                | Detaching(Unload)              | - |
//! | 26 | Detaching                  | `RestartRequest`                        | Detaching(Restart)             | - |
//! | 27 | BackingOff                 | timer: `restart_at` reached             | Running                        | `Restart`, `Restarted`, Back* |
//! | 28 | BackingOff                 | `RestartRequest`                        | Running (back-off cut short)   | `Restart`, `Restarted`, Back* |
//! | 29 | BackingOff                 | `Unload`                                | Held(Unloaded)                 | `Held` |
//! | 30 | Held                       | `Load` or `RestartRequest`              | Running                        | `Loaded`, `Restart`, `Restarted`, Back* |
//! | 31 | Held(Unloaded)             | `Unload`                                | unchanged                      | refused `AlreadyUnloaded` |
//! | 32 | Held(Stopped or Escalated) | `Unload`                                | Held(Unloaded)                 | `Held` |
//! | 33 | Running, Detaching, BackingOff | `Load`                              | unchanged                      | refused `NotHeld` |
//! | 34 | Detaching, BackingOff, Held | `InjectFault`                          | unchanged                      | refused `NotRunning` |
//! | 35 | BackingOff, Held           | `Faulted`, `Exited`                     | unchanged                      | refused `NotRunning` |
//! | 36 | any                        | any event naming task 0 or an index >= N | unchanged                     | refused `Supervisor` / `OutOfRange` |
//! | 37 | provider not awaiting that dependent | `Ack`                         | unchanged                      | refused `AckNotAwaited` (e.g. a late ack after the deadline) |
//! | 38 | any, the idle task         | `Unload`, `Hold`                        | unchanged                      | refused `IdleTask` |
//! | 39 | completion, the idle task  | -                                       | Running                        | `Detach`, `ResetPeripherals`, `Detached`, `Restart`, `Restarted` (replaces rows 15-21) |
//!
//! Completion also removes the detached task from every other provider's pending set: a
//! detached dependent can no longer acknowledge and no longer holds anything, so a provider
//! is never kept waiting by a dependent that is itself gone (row 13 may follow at once).
//! `ResetPeripherals` is only emitted when the task has peripherals to reset.
//! Every refusal is also recorded as `Record::Refused`.
//!
//! Consequences worth stating: a dependent that is itself detaching still receives and may
//! acknowledge "going away" (it is still running); two providers failing at once run two
//! independent cycles, and a dependent of both acknowledges each separately; in a chain
//! `a <- b <- c` (b depends on a, c on b) a restart of `a` notifies only `b`; `c` is involved
//! only if `b` itself restarts (for instance through `RestartDependents`).
//!
//! # Starvation
//!
//! A check-in proves that a task turns its loop; a missed one does not prove that the task is
//! at fault. A task that waits for nothing but the CPU (runnable, or blocked on the supervisor
//! alone) misses it just as well when more important tasks hold the CPU for the whole period,
//! and then faulting it helps nobody: the fault campaign found a server whose corrupted timer
//! deadline had it wake, check in and sleep in a loop for ever, starving every task below it
//! while its own check-ins kept its watchdog content (`doc/fault-campaign.md`).
//!
//! So a watchdog that expires on a busy task with *rivals* (tasks more important than it, by
//! [`Policy::priority`], in `Running`, other than the supervisor) takes a first look: it asks
//! the shell's [`CpuView`] for the ticks the task and each rival have held (the kernel counts,
//! at every SysTick, one for the task it interrupted). After a grace of the watchdog period,
//! at most 100 ms so that the 8-bit counts cannot wrap, it looks again. A task that has still
//! not checked in, is still busy and held no tick in between was starved: the busy rival that
//! held the most ticks in between (ties: the more important, then the lower index) is faulted
//! with origin `Watchdog`, and the starved task is given a new period. A rival that loops on
//! calls to the supervisor leaves most ticks to the supervisor, which works only for its
//! callers; so if no busy rival held a tick but the supervisor did, the most important busy
//! rival is taken. In every other case (no busy rival, or nobody held a tick) the task itself
//! is faulted, as row 6 does, only later by the grace. A check-in in between ends the matter.
//!
//! Equally important tasks do not starve each other (the kernel rotates them at every tick),
//! so only more important ones are rivals. A task blocked on anyone but the supervisor is not
//! starved but waiting, and row 6 applies to it at once.
//!
//! # Humility
//!
//! [`Supervisor::on_humility`] takes the raw `JEFE_EXTERNAL_REQUEST` and `TASKINDEX` words
//! (`doc/humility-contract.md` 6.1); `Ok` means "increment `REQUESTS`", `Err` "increment
//! `ERRORS`". Start = `RestartRequest` (restarts a running task, loads a held one); Hold =
//! set the hold disposition; Release = clear it and restart a task held at a fault (row 11);
//! Fault = Hold, then `InjectFault`, so the task ends in `Held(Stopped)` until released.
//! Unload and Load (Bulkhead's own values, never written by humility) are `Event::Unload` and
//! `Event::Load` with origin `Humility`.
#![no_std]
#![forbid(unsafe_code)]

mod merge;
mod supervisor;

pub use merge::MergeDetach;
pub use supervisor::{Supervisor, tasks_in};

use abi::FaultInfo;

/// How many automatic restarts per window [`Policy::intensity_restarts`] may allow: the
/// supervisor keeps that many restart times per task to judge the window exactly.
pub const MAX_INTENSITY_RESTARTS: u32 = 8;

/// When a task is restarted without anyone asking.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RestartMode {
    /// After a fault and after a normal exit (Erlang's `permanent`).
    Always,
    /// After a fault only; a normal exit leaves it held (Erlang's `transient`).
    OnFault,
    /// Never; after a fault or exit it stays held (Erlang's `temporary`).
    Never,
}

/// What replaces a restart once a task exceeds its restart intensity.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Escalation {
    /// Stop restarting; the task stays detached until released, loaded or restarted.
    Hold,
    /// Restart the task and also restart each running dependent through the full cycle.
    RestartDependents,
    /// Ask the shell to reset the system.
    Reset,
}

/// One task's supervision policy, from its `[tasks.*.supervision]` in `app.toml`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub restart: RestartMode,
    /// Bit `i` set: this task uses task `i` and is told before task `i` goes away.
    pub depends_on: u32,
    /// How long dependents get to acknowledge "provider going away" before detach is forced.
    pub detach_deadline_ms: u32,
    pub backoff_initial_ms: u32,
    pub backoff_max_ms: u32,
    /// More automatic restarts than this within `intensity_window_ms` escalate.
    pub intensity_restarts: u32,
    pub intensity_window_ms: u32,
    pub intensity_then: Escalation,
    /// The task must check in at least this often, or a fault is injected.
    pub watchdog_ms: Option<u32>,
    /// Opaque to this crate: the shell maps bits to peripherals that `sys` resets.
    pub reset_peripherals: u32,
    /// `app.toml`'s `start`: whether the kernel starts the task at boot. A task that does not
    /// start is `Held(Unloaded)` until it is loaded.
    pub start_at_boot: bool,
    /// The kernel's idle task (`app.toml` task `idle`): see "The idle task" in the crate docs.
    pub idle: bool,
    /// `app.toml`'s `priority` (0 most important): who can starve whom (crate docs,
    /// "Starvation").
    pub priority: u8,
}

impl Policy {
    /// Back-off before the restart that follows `consecutive` earlier restarts in a row.
    /// That is `backoff_initial_ms * 2^consecutive`, at most `backoff_max_ms`, computed in
    /// 32 bits: the product reaches the cap exactly when `initial > max >> consecutive`.
    /// Every restart computes it (the u64 product took about forty instructions).
    pub(crate) fn backoff_delay(&self, consecutive: u32) -> u32 {
        let (initial, max) = (self.backoff_initial_ms, self.backoff_max_ms);
        if initial == 0 {
            0
        } else if consecutive >= 32 || initial > max >> consecutive {
            max
        } else {
            initial << consecutive
        }
    }

    /// Whether this policy restarts a task after a cycle that `cause` began by itself.
    pub(crate) fn restarts_after(&self, cause: Cause) -> bool {
        match self.restart {
            RestartMode::Always => true,
            RestartMode::OnFault => cause == Cause::Fault,
            RestartMode::Never => false,
        }
    }
}

/// A policy table the supervisor cannot run. Build-time checks ([`Supervisor::new`] is `const`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// `depends_on` names an index at or beyond the number of tasks.
    DependencyOutOfRange {
        task: usize,
    },
    /// The supervisor never goes away, so depending on it means nothing.
    DependsOnSupervisor {
        task: usize,
    },
    DependsOnItself {
        task: usize,
    },
    /// `intensity_restarts` above [`MAX_INTENSITY_RESTARTS`].
    IntensityTooLarge {
        task: usize,
    },
    /// `backoff_initial_ms` above `backoff_max_ms`.
    BackoffInverted {
        task: usize,
    },
    /// The idle task is restarted at once, never held, so there is nothing to wait for; and
    /// while it is detached waiting for acknowledgements the kernel may have nothing to run.
    DependsOnIdle {
        task: usize,
    },
}

/// Who or what started a cycle.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The task itself: it faulted or exited.
    Task,
    Watchdog,
    Ipc,
    Console,
    Humility,
    /// A provider exceeded its restart intensity with `Escalation::RestartDependents`.
    Escalation,
}

/// Why a task is being detached; decides what follows the detach.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    Fault,
    Exit,
    Restart,
    Unload,
}

/// Why a detached task is not restarting by itself.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// Unloaded, or never started at boot: only a load or restart brings it back.
    Unloaded,
    /// Faulted or exited and not restarted (policy or hold disposition): release restarts it.
    Stopped,
    /// Exceeded its restart intensity: release restarts it.
    Escalated,
}

/// A task's place in the restart cycle (see the state table in the crate docs).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    Running,
    Detaching {
        cause: Cause,
        origin: Origin,
        /// Detach is forced at this time.
        deadline: u64,
        /// Dependents that have not acknowledged yet.
        pending: u32,
    },
    BackingOff {
        restart_at: u64,
    },
    Held(HoldReason),
}

/// Something that happened, as the shell learned it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The kernel reported a fault (fault notification + `FindFaultedTask`).
    Faulted {
        task: usize,
        fault: FaultInfo,
    },
    /// The task asked to end normally.
    Exited {
        task: usize,
    },
    /// Watchdog check-in.
    CheckIn {
        task: usize,
    },
    /// `dependent` has let go of `provider` after being told it is going away.
    Ack {
        dependent: usize,
        provider: usize,
    },
    RestartRequest {
        task: usize,
        origin: Origin,
    },
    Unload {
        task: usize,
        origin: Origin,
    },
    Load {
        task: usize,
        origin: Origin,
    },
    /// Do not restart this task automatically.
    Hold {
        task: usize,
    },
    /// Allow automatic restarts again, restarting the task if it is held at a fault.
    Release {
        task: usize,
    },
    InjectFault {
        task: usize,
        origin: Origin,
    },
}

impl Event {
    /// The task a refusal of this event is recorded against.
    pub fn subject(&self) -> usize {
        match *self {
            Event::Faulted { task, .. }
            | Event::Exited { task }
            | Event::CheckIn { task }
            | Event::RestartRequest { task, .. }
            | Event::Unload { task, .. }
            | Event::Load { task, .. }
            | Event::Hold { task }
            | Event::Release { task }
            | Event::InjectFault { task, .. } => task,
            Event::Ack { dependent, .. } => dependent,
        }
    }
}

/// What the shell must do, in the order emitted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Post the "provider going away" notification; the dependent answers with an ack.
    NotifyGoingAway { dependent: usize, provider: usize },
    /// Post the "provider back" notification: refresh task ids and rebind.
    NotifyBack { dependent: usize, provider: usize },
    /// Kernel IPC `DetachTask`.
    Detach { task: usize },
    /// Pulse the resets of these peripherals through `sys`.
    ResetPeripherals { task: usize, mask: u32 },
    /// Kernel IPC `RestartTask` with start = 1.
    Restart { task: usize },
    /// Kernel IPC `FaultTask`; the fault comes back as [`Event::Faulted`].
    InjectFault { task: usize },
    /// Kernel IPC `Reset`.
    ResetSystem,
    /// Append to the supervisor's ring buffer.
    Record(Record),
}

/// A ring-buffer entry. Integers and enums only: humility decodes these from DWARF.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Record {
    Fault {
        task: usize,
        fault: FaultInfo,
    },
    DetachStarted {
        task: usize,
        cause: Cause,
        origin: Origin,
        dependents: u32,
    },
    DeadlineExpired {
        provider: usize,
        dependents_forced: u32,
    },
    Detached {
        task: usize,
    },
    BackingOff {
        task: usize,
        delay_ms: u32,
    },
    Escalated {
        task: usize,
        to: Escalation,
    },
    Restarted {
        task: usize,
        count: u32,
    },
    /// Includes unloads (`reason: Unloaded`).
    Held {
        task: usize,
        reason: HoldReason,
    },
    Loaded {
        task: usize,
        origin: Origin,
    },
    WatchdogExpired {
        task: usize,
    },
    /// `task`'s watchdog expired while `hog`, more important, held the CPU it waited for:
    /// `hog` is faulted (crate docs, "Starvation").
    Starved {
        task: usize,
        hog: usize,
    },
    Refused {
        task: usize,
        reason: Refusal,
    },
}

/// Why an event was refused. Refusals change nothing but are recorded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Task 0 is the supervisor itself.
    Supervisor,
    OutOfRange,
    /// Load of a task that is not held.
    NotHeld,
    AlreadyUnloaded,
    /// Fault, exit or injection for a task not in `Running` (nothing of it is running, or it
    /// is already being detached).
    NotRunning,
    /// The provider is not waiting for this dependent (a late or spurious ack).
    AckNotAwaited,
    /// Unload or hold of the idle task: the kernel must always have it to run.
    IdleTask,
    /// Not one of humility's request numbers.
    UnknownRequest,
}

/// What the kernel says of a task's use of the CPU (kernel IPC `read_task_status`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CpuUse {
    /// Runnable, or blocked on the supervisor alone (sending to it or awaiting its reply,
    /// which it gives at once): the task waits for nothing but the CPU.
    pub busy: bool,
    /// Ticks at which the task held the CPU, modulo 256.
    pub ticks_held: u8,
}

/// The shell's window on the kernel's scheduler, for [`Supervisor::on_timer`].
pub trait CpuView {
    fn cpu_use(&mut self, task: usize) -> CpuUse;
}

/// Per-task event counters, for humility and the console.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub faults: u32,
    pub restarts: u32,
    pub watchdog_expiries: u32,
    /// Detaches of this task that hit the deadline with dependents still pending.
    pub forced_detaches: u32,
    /// Times this task, as a dependent, failed to acknowledge before a deadline.
    pub missed_acks: u32,
}

/// A task's supervision status, as [`Supervisor::status`] reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    pub state: TaskState,
    /// Humility's Hold disposition: no automatic restart.
    pub hold: bool,
    pub last_fault: Option<FaultInfo>,
    pub counters: Counters,
    /// Automatic restarts within the current intensity window.
    pub strikes: u32,
    /// The back-off the next restart would wait.
    pub next_backoff_ms: u32,
}

/// Where the supervisor's actions go. Closures taking an [`Action`] are sinks.
pub trait ActionSink {
    fn act(&mut self, action: Action);

    /// [`Action::Record`]. The policy emits its records through this, in their place among
    /// its other actions, so a sink that logs can take them without matching every action
    /// (jefe's shell does: four records sit inside every restart's window).
    fn record(&mut self, record: Record) {
        self.act(Action::Record(record));
    }
}

impl<F: FnMut(Action)> ActionSink for F {
    fn act(&mut self, action: Action) {
        self(action)
    }
}

/// `JEFE_EXTERNAL_REQUEST` values: 1-4 are what `humility jefe` writes; 5 and 6 are
/// Bulkhead's own, written only by `cargo xtask restart-test --trigger unload-load` (humility
/// never writes them, so its protocol is unchanged).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum HumilityRequest {
    Start = 1,
    Hold = 2,
    Release = 3,
    Fault = 4,
    Unload = 5,
    Load = 6,
}

impl HumilityRequest {
    pub const fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            1 => HumilityRequest::Start,
            2 => HumilityRequest::Hold,
            3 => HumilityRequest::Release,
            4 => HumilityRequest::Fault,
            5 => HumilityRequest::Unload,
            6 => HumilityRequest::Load,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Escalation, Policy, RestartMode};

    /// The definition: the u64 product, saturating, then the cap.
    fn reference(initial: u32, max: u32, consecutive: u32) -> u32 {
        let factor = 1u64.checked_shl(consecutive).unwrap_or(u64::MAX);
        (u64::from(initial).saturating_mul(factor)).min(u64::from(max)) as u32
    }

    #[test]
    fn backoff_delay_is_the_capped_doubling_at_every_edge() {
        let values = [
            0,
            1,
            2,
            3,
            7,
            10,
            11,
            80,
            5000,
            (1 << 31) - 1,
            1 << 31,
            u32::MAX - 1,
            u32::MAX,
        ];
        for initial in values {
            for max in values {
                let policy = Policy {
                    restart: RestartMode::Always,
                    depends_on: 0,
                    detach_deadline_ms: 0,
                    backoff_initial_ms: initial,
                    backoff_max_ms: max,
                    intensity_restarts: 0,
                    intensity_window_ms: 0,
                    intensity_then: Escalation::Hold,
                    watchdog_ms: None,
                    reset_peripherals: 0,
                    start_at_boot: true,
                    idle: false,
                    priority: 0,
                };
                for consecutive in 0..=70 {
                    assert_eq!(
                        policy.backoff_delay(consecutive),
                        reference(initial, max, consecutive),
                        "initial {initial}, max {max}, after {consecutive} restarts"
                    );
                }
            }
        }
    }
}
