//! The supervisor (task 0): the thin shell around the `supervision` policy.
//!
//! Jefe is an Idol server (`idl/jefe.idol`) that also receives two notifications: the
//! kernel's fault bit (bit 0) and its `timer`. Every wake-up turns what happened into
//! `supervision::Event`s, with the time, and performs the `Action`s that come back, in order:
//!
//! | Action | Done as |
//! |---|---|
//! | `NotifyGoingAway` / `NotifyBack` | `sys_post` of the dependent's `provider-going` / `provider-back` bit |
//! | `Detach` | kernel IPC `DetachTask`; when the same task's `Restart` follows at once, left to `RestartTask`, which detaches first (`supervision::MergeDetach`) |
//! | `ResetPeripherals` | asked of the board's reset server `sys` with a deadline (`board.rs`); logged as skipped where there is none |
//! | `Restart` | kernel IPC `RestartTask` (start) |
//! | `InjectFault` | kernel IPC `FaultTask`: the task faults with `Injected(jefe)` and comes back as a fault |
//! | `ResetSystem` | kernel IPC `Reset` |
//! | `Record` | the ring buffer (`log.rs`), which the console reads with `read_log` |
//!
//! Every turn of the loop also feeds the hardware watchdog, if the app has one
//! (`watchdog.rs`): a jefe that stops turning gets the system reset.
//!
//! Triggers: faults (fault notification, then `NextFault`), watchdog
//! expiries and back-off and detach deadlines (the timer, armed for the policy's next
//! deadline), IPC (`restart`, `unload`, `load`, `inject_fault`, `check_in`, `ack_detach`;
//! calls from the console task are recorded as the console's), and humility's
//! `JEFE_EXTERNAL_*` words (`external.rs`), looked at on every wake-up and at least every
//! 100 ms. All of them go through the same policy, so every restart runs the same cycle.
//!
//! Only the tasks app.toml lists may ask for a restart, unload, load or injected fault
//! (`control-callers`, `inject-fault-callers`): every watched task can send to jefe, to
//! check in. The generated stub reply-faults anyone else with `AccessViolation` before the
//! policy sees the request (`build_util::supervisor::ALLOW_LISTS`).
//!
//! Jefe never blocks on anyone it supervises: it only posts notifications and replies. The
//! one thing it waits for, `sys` resetting peripherals, it waits for with a deadline after
//! which `sys` is treated as faulted (`board.rs`), so no other task can stall it.
#![no_std]
#![no_main]

mod board;
mod cpu;
mod external;
mod log;
mod watchdog;

use core::sync::atomic::{AtomicU32, Ordering};

use idol_runtime::{Leased, RequestError, Write};
use jefe_api::{End, JefeError, LogEntry, LogEvent, TaskInfo};
use supervision::{
    Action, ConfigError, Event, MergeDetach, Origin, Refusal, Supervisor, TaskState, tasks_in,
};
use userlib::{
    FAULT_NOTIFICATION, Generation, RecvMessage, ResetReason, TaskId, kipc, sys_get_timer,
    sys_post, sys_refresh_incarnation, sys_set_timer,
};

include!(concat!(env!("OUT_DIR"), "/supervisor_table.rs"));
include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

// `userlib::check_in` sends this number without the stub.
const _: () = assert!(JefeOperation::CheckIn as u16 == userlib::CHECK_IN_OPERATION);

/// How often humility's request words are looked at when nothing else wakes jefe.
const HUMILITY_POLL_MS: u64 = 100;

/// The policy, checked at compile time: an inconsistent table is a build error here.
const INITIAL: Supervisor<NUM_TASKS> = match Supervisor::new(&POLICIES) {
    Ok(supervisor) => supervisor,
    Err(ConfigError::DependencyOutOfRange { .. }) => panic!("a depends-on names no task"),
    Err(ConfigError::DependsOnSupervisor { .. }) => panic!("a task depends on the supervisor"),
    Err(ConfigError::DependsOnItself { .. }) => panic!("a task depends on itself"),
    Err(ConfigError::IntensityTooLarge { .. }) => {
        panic!("intensity.restarts exceeds supervision::MAX_INTENSITY_RESTARTS")
    }
    Err(ConfigError::BackoffInverted { .. }) => panic!("backoff.initial-ms exceeds max-ms"),
    Err(ConfigError::DependsOnIdle { .. }) => panic!("a task depends on the idle task"),
};

/// One task's supervision counters (`humility counters`; members of [`PerTaskCounts`]).
pub struct TaskEventCounts {
    pub faults: AtomicU32,
    pub restarts: AtomicU32,
    pub watchdog_expiries: AtomicU32,
    pub forced_detaches: AtomicU32,
    pub missed_acks: AtomicU32,
}

impl Default for TaskEventCounts {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskEventCounts {
    pub const fn new() -> Self {
        TaskEventCounts {
            faults: AtomicU32::new(0),
            restarts: AtomicU32::new(0),
            watchdog_expiries: AtomicU32::new(0),
            forced_detaches: AtomicU32::new(0),
            missed_acks: AtomicU32::new(0),
        }
    }

    fn store(&self, c: &supervision::Counters) {
        self.faults.store(c.faults, Ordering::Relaxed);
        self.restarts.store(c.restarts, Ordering::Relaxed);
        self.watchdog_expiries
            .store(c.watchdog_expiries, Ordering::Relaxed);
        self.forced_detaches
            .store(c.forced_detaches, Ordering::Relaxed);
        self.missed_acks.store(c.missed_acks, Ordering::Relaxed);
    }
}

static TASK_COUNTERS: PerTaskCounts = PerTaskCounts::new();

/// Task `task`'s bit in a task mask; none for an index beyond the mask (a refused request
/// may name any index).
fn bit(task: usize) -> u32 {
    u32::try_from(task)
        .ok()
        .and_then(|t| 1u32.checked_shl(t))
        .unwrap_or(0)
}

/// The side-effect half: performs actions and remembers what the kernel already told us.
struct Shell {
    /// The time of this wake-up, read from the kernel at most once per wake-up.
    now: Option<u64>,
    /// The time the running policy call was made at (`now`, read once for the call), which
    /// its records are logged with.
    at: u64,
    /// Tasks whose current fault the policy has been given (a faulted task stays faulted
    /// in the kernel until it is restarted).
    faults_reported: u32,
    /// Tasks whose counters may have changed since they were last published.
    counters_dirty: u32,
    /// A fault was injected: the kernel faulted a task synchronously, to be collected now.
    injected: bool,
    /// The deadline the kernel timer is armed for (0: not armed).
    armed: u64,
    log: log::Log,
    /// How each task's current incarnation ended, from the records on its way to a
    /// restart, so the restart's log line can say why in plain words.
    ended: [Option<End>; NUM_TASKS],
}

impl Shell {
    fn now(&mut self) -> u64 {
        *self.now.get_or_insert_with(|| sys_get_timer().now)
    }

    /// Keeps how `task`'s incarnation ended (its fault, a requested detach, a load), for
    /// the restart's log line.
    fn note_end(&mut self, task: usize, end: End) {
        if let Some(slot) = self.ended.get_mut(task) {
            *slot = Some(end);
        }
    }
}

impl supervision::ActionSink for Shell {
    /// Logs a record of the policy, and keeps what it says about how its task's incarnation
    /// ended and whose counters changed. One `match` for all of it: a restart logs four
    /// records inside the window from the fault to the task running again.
    fn record(&mut self, record: supervision::Record) {
        use supervision::Record as R;
        let task = match record {
            R::DeadlineExpired {
                provider,
                dependents_forced,
            } => {
                // A deadline's record also changes the forced dependents' `missed_acks`.
                self.counters_dirty |= dependents_forced;
                provider
            }
            R::Fault { task, fault } => {
                self.note_end(task, End::Fault(fault));
                task
            }
            // A fault comes first and wins over the detach it causes.
            R::DetachStarted {
                task,
                cause,
                origin,
                ..
            } => {
                if !matches!(self.ended.get(task), Some(Some(End::Fault(_)))) {
                    self.note_end(task, End::Detached { cause, origin });
                }
                task
            }
            R::Loaded { task, origin } => {
                self.note_end(task, End::Loaded(origin));
                task
            }
            R::Detached { task }
            | R::BackingOff { task, .. }
            | R::Escalated { task, .. }
            | R::Restarted { task, .. }
            | R::Held { task, .. }
            | R::WatchdogExpired { task }
            | R::Starved { task, .. }
            | R::Refused { task, .. } => task,
        };
        // Counters change with recorded events only.
        self.counters_dirty |= bit(task);
        let now = self.at;
        self.log.supervisor(now, &record);
        if let R::Restarted { task, count } = record
            && let Some(after) = self.ended.get_mut(task).and_then(Option::take)
        {
            // Numbered as `tasks` and the console's `restart` number it.
            let incarnation = count + u32::from(POLICIES[task].start_at_boot);
            self.log.reincarnated(now, task, incarnation, after);
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::NotifyGoingAway {
                dependent,
                provider: _,
            } => {
                post(dependent, PROVIDER_GOING[dependent]);
            }
            Action::NotifyBack {
                dependent,
                provider: _,
            } => post(dependent, PROVIDER_BACK[dependent]),
            Action::Detach { task } => kipc::detach_task(task),
            Action::ResetPeripherals { task, mask } => {
                let event = board::reset_peripherals(task, mask);
                // The wait used the timer and took time: re-arm it, and read the clock anew.
                self.armed = 0;
                self.now = None;
                let now = self.now();
                self.at = now;
                self.log.record(now, event);
            }
            Action::Restart { task } => {
                self.faults_reported &= !bit(task);
                kipc::restart_task(task, true);
            }
            Action::InjectFault { task } => {
                kipc::fault_task(task);
                self.injected = true;
            }
            Action::ResetSystem => kipc::system_reset(),
            Action::Record(record) => self.record(record),
        }
    }
}

/// Posts `bits` to the current incarnation of `task`. A task that is gone has nothing to be
/// told, so a dead code is ignored.
fn post(task: usize, bits: u32) {
    let id = sys_refresh_incarnation(TaskId::for_index_and_gen(task, Generation(0)));
    let _ = sys_post(id, bits);
}

struct Jefe {
    supervisor: Supervisor<NUM_TASKS>,
    shell: Shell,
}

impl Jefe {
    /// One call into the policy, with the shell performing its actions. The kernel's
    /// `RestartTask` detaches a task that is still attached, so a detach right before the
    /// same task's restart is left to it (`MergeDetach`).
    fn policy<R>(
        &mut self,
        call: impl FnOnce(&mut Supervisor<NUM_TASKS>, u64, &mut MergeDetach<Shell>) -> R,
    ) -> R {
        let now = self.shell.now();
        self.shell.at = now;
        let result = call(
            &mut self.supervisor,
            now,
            &mut MergeDetach::new(&mut self.shell),
        );
        // An injection takes effect at once; handle its fault in the same wake-up.
        if core::mem::take(&mut self.shell.injected) {
            self.collect_faults(1);
        }
        result
    }

    fn event(&mut self, event: Event) -> Result<(), Refusal> {
        self.policy(|s, now, shell| s.on_event(now, event, shell))
    }

    /// Feeds the policy every fault it has not seen yet, looking from task `start` on.
    fn collect_faults(&mut self, start: usize) {
        let mut next = Some(start);
        while let Some(start) = next {
            let Some(found) = kipc::next_fault(start) else {
                break;
            };
            next = found.next;
            // The wake-up's time, if not read yet: the report carries it, which saves the
            // policy's GET_TIMER on the restart path.
            self.shell.now.get_or_insert(found.now);
            if self.shell.faults_reported & bit(found.task) != 0 {
                continue;
            }
            self.shell.faults_reported |= bit(found.task);
            let event = Event::Faulted {
                task: found.task,
                fault: found.fault,
            };
            // A fault injected while handling this one is collected inside `policy`; this
            // scan then goes on from `next`, skipping what that one reported.
            let _ = self.policy(|s, now, shell| s.on_event(now, event, shell));
        }
    }

    /// After every wake-up: the hardware watchdog, humility's request, the counters, the
    /// next deadline.
    fn settle(&mut self) {
        watchdog::feed();
        external::poll(|request, task| {
            self.policy(|s, now, shell| s.on_humility(now, request, task, shell))
                .is_ok()
        });
        let dirty = core::mem::take(&mut self.shell.counters_dirty);
        for task in tasks_in(dirty) {
            if let (Some(counts), Some(counters)) =
                (TASK_COUNTERS.get(task), self.supervisor.counters(task))
            {
                counts.store(counters);
            }
        }
        let now = self.shell.now();
        let poll = now + HUMILITY_POLL_MS;
        let deadline = self
            .supervisor
            .next_deadline()
            .map_or(poll, |d| d.min(poll));
        // A timer still to fire no later than needed serves as it is: waking early is
        // harmless (nothing is due, the timer is re-armed), and it saves a syscall on
        // most wake-ups.
        if self.shell.armed <= now || deadline < self.shell.armed {
            sys_set_timer(Some(deadline), TIMER_NOTIFICATION);
            self.shell.armed = deadline;
        }
        self.shell.log.flush();
        self.shell.now = None;
    }

    fn request(&mut self, event: Event) -> Result<(), RequestError<JefeError>> {
        self.event(event)
            .map_err(|r| RequestError::Op(JefeError::from_refusal(r)))
    }
}

/// Who a request came from, as the log records it.
fn origin(msg: &RecvMessage) -> Origin {
    if Some(msg.sender.index()) == CONSOLE {
        Origin::Console
    } else {
        Origin::Ipc
    }
}

impl InOrderJefeImpl for Jefe {
    fn task_count(
        &mut self,
        _: &RecvMessage,
    ) -> Result<u16, RequestError<core::convert::Infallible>> {
        Ok(NUM_TASKS as u16)
    }

    fn list_tasks(
        &mut self,
        _: &RecvMessage,
        first: u16,
        tasks: Leased<Write, [TaskInfo]>,
    ) -> Result<u16, RequestError<core::convert::Infallible>> {
        let now = self.shell.now();
        let mut written = 0;
        for (slot, task) in (usize::from(first)..NUM_TASKS)
            .take(tasks.len())
            .enumerate()
        {
            let Some(record) = self.supervisor.status(task, now) else {
                break;
            };
            // Counted by jefe: the kernel's generation wraps at 64.
            let incarnation = record.counters.restarts + u32::from(POLICIES[task].start_at_boot);
            tasks.write_at(
                slot,
                &TaskInfo::new(TASK_NAMES[task], &record, incarnation, now),
            )?;
            written += 1;
        }
        Ok(written)
    }

    fn restart(&mut self, msg: &RecvMessage, task: u16) -> Result<(), RequestError<JefeError>> {
        let origin = origin(msg);
        self.request(Event::RestartRequest {
            task: task.into(),
            origin,
        })
    }

    fn unload(&mut self, msg: &RecvMessage, task: u16) -> Result<(), RequestError<JefeError>> {
        let origin = origin(msg);
        self.request(Event::Unload {
            task: task.into(),
            origin,
        })
    }

    fn load(&mut self, msg: &RecvMessage, task: u16) -> Result<(), RequestError<JefeError>> {
        let origin = origin(msg);
        self.request(Event::Load {
            task: task.into(),
            origin,
        })
    }

    fn inject_fault(
        &mut self,
        msg: &RecvMessage,
        task: u16,
    ) -> Result<(), RequestError<JefeError>> {
        // Test images only: jefe "faulting itself" spins, so the hardware watchdog is seen
        // to reset a stuck supervisor.
        #[cfg(feature = "test-spin")]
        if task == 0 {
            loop {
                core::hint::spin_loop();
            }
        }
        let origin = origin(msg);
        self.request(Event::InjectFault {
            task: task.into(),
            origin,
        })
    }

    fn check_in(
        &mut self,
        msg: &RecvMessage,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        // Only a task index the kernel delivered can arrive here, so this cannot be refused.
        let _ = self.event(Event::CheckIn {
            task: msg.sender.index(),
        });
        Ok(())
    }

    fn ack_detach(
        &mut self,
        msg: &RecvMessage,
        provider: u16,
    ) -> Result<(), RequestError<JefeError>> {
        self.request(Event::Ack {
            dependent: msg.sender.index(),
            provider: provider.into(),
        })
    }

    fn detach_notices(
        &mut self,
        msg: &RecvMessage,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        let caller = bit(msg.sender.index());
        let now = self.shell.now();
        let waiting = (1..NUM_TASKS).filter(|&p| {
            matches!(
                self.supervisor.status(p, now).map(|r| r.state),
                Some(TaskState::Detaching { pending, .. }) if pending & caller != 0
            )
        });
        Ok(waiting.fold(0, |mask, p| mask | bit(p)))
    }

    fn read_log(
        &mut self,
        _: &RecvMessage,
        after: u32,
        entries: Leased<Write, [LogEntry]>,
    ) -> Result<u16, RequestError<core::convert::Infallible>> {
        let mut written = 0;
        let mut failed = None;
        log::Log::for_each_after(after, |logged| {
            if written >= entries.len() || failed.is_some() {
                return;
            }
            match entries.write_at(written, &LogEntry::from(logged)) {
                Ok(()) => written += 1,
                Err(e) => failed = Some(e),
            }
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        Ok(written as u16)
    }

    fn notification_mask(&self) -> u32 {
        FAULT_NOTIFICATION | TIMER_NOTIFICATION
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & FAULT_NOTIFICATION != 0 {
            self.collect_faults(1);
        }
        if bits & TIMER_NOTIFICATION != 0 {
            self.policy(|s, now, shell| s.on_timer(now, &mut cpu::Kernel, shell));
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut jefe = Jefe {
        supervisor: INITIAL,
        shell: Shell {
            now: None,
            at: 0,
            faults_reported: 0,
            counters_dirty: 0,
            injected: false,
            armed: 0,
            log: log::Log::new(),
            ended: [None; NUM_TASKS],
        },
    };
    // First in the log, so the console's boot line and humility see why the system reset.
    let reason = kipc::read_reset_reason().unwrap_or(ResetReason::Unrecorded);
    let now = jefe.shell.now();
    jefe.shell.log.record(now, LogEvent::Booted { reason });
    watchdog::start();
    external::set_ready();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        jefe.settle();
        dispatch(&mut buffer, &mut jefe);
    }
}
