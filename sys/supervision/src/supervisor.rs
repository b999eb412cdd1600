//! The state machine itself. Row numbers refer to the state table in the crate docs.

mod starvation;

use abi::FaultInfo;

use crate::{
    Action, ActionSink, Cause, ConfigError, Counters, CpuView, Escalation, Event, HoldReason,
    HumilityRequest, MAX_INTENSITY_RESTARTS, Origin, Policy, Record, Refusal, TaskRecord,
    TaskState,
};

/// An empty slot in a task's list of recent automatic restarts.
const NO_RESTART: u64 = u64::MAX;

/// Whether time `t` lies in the `window_ms` up to and including `now`.
fn within(t: u64, now: u64, window_ms: u32) -> bool {
    t <= now && now - t < u64::from(window_ms)
}

/// What the supervisor remembers about one task.
#[derive(Copy, Clone)]
struct Slot {
    state: TaskState,
    hold: bool,
    /// A fault we asked the kernel to inject and that has not been reported yet; its origin
    /// becomes the origin of the cycle the fault starts.
    injection: Option<Origin>,
    started_at: u64,
    last_checkin: u64,
    /// Set while a watched task that missed its check-in waits for its second look.
    first_look: Option<starvation::FirstLook>,
    /// Ticks this task had held at the latest first look that counted it as a rival.
    ticks_seen: u8,
    /// Restarts in a row without a stable run in between: the back-off exponent.
    consecutive: u32,
    /// Times of the latest automatic restarts, a ring of `NO_RESTART` or times.
    recent: [u64; MAX_INTENSITY_RESTARTS as usize],
    recent_next: usize,
    last_fault: Option<FaultInfo>,
    counters: Counters,
}

impl Slot {
    /// A task the kernel started at boot (time 0).
    const BOOTED: Slot = Slot {
        state: TaskState::Running,
        hold: false,
        injection: None,
        started_at: 0,
        last_checkin: 0,
        first_look: None,
        ticks_seen: 0,
        consecutive: 0,
        recent: [NO_RESTART; MAX_INTENSITY_RESTARTS as usize],
        recent_next: 0,
        last_fault: None,
        counters: Counters {
            faults: 0,
            restarts: 0,
            watchdog_expiries: 0,
            forced_detaches: 0,
            missed_acks: 0,
        },
    };

    /// Automatic restarts less than `window_ms` ago: times `t` with `now - window_ms < t <=
    /// now` (an empty slot, `NO_RESTART`, is never `<= now`).
    fn strikes(&self, now: u64, window_ms: u32) -> u32 {
        self.recent
            .iter()
            .map(|&t| u32::from(within(t, now, window_ms)))
            .sum()
    }

    /// Whether `policy.intensity_restarts` automatic restarts already happened within the
    /// window, i.e. `strikes >= intensity_restarts`, in constant time: the ring holds restart
    /// times in order, so that many fall in the window exactly when the one that many
    /// restarts back does.
    fn over_intensity(&self, now: u64, policy: &Policy) -> bool {
        let k = policy.intensity_restarts as usize;
        if k == 0 {
            return true;
        }
        let len = self.recent.len();
        within(
            self.recent[(self.recent_next + len - k) % len],
            now,
            policy.intensity_window_ms,
        )
    }

    fn remember_restart(&mut self, now: u64) {
        self.recent[self.recent_next] = now;
        self.recent_next = (self.recent_next + 1) % self.recent.len();
    }

    fn is_live(&self) -> bool {
        matches!(self.state, TaskState::Running | TaskState::Detaching { .. })
    }
}

/// The supervision state of `N` tasks; index 0 is the supervisor itself. `N <= 32`, because
/// task sets are `u32` masks.
pub struct Supervisor<const N: usize> {
    policies: &'static [Policy; N],
    /// `dependents[p]`: mask of the tasks whose `depends_on` names `p`.
    dependents: [u32; N],
    /// Mask of the tasks with a watchdog.
    watched: u32,
    /// Mask of the tasks `Detaching` or `BackingOff`: with the watched ones, the only tasks
    /// that can have a deadline, so scans look at these alone.
    timed: u32,
    tasks: [Slot; N],
}

/// Indices of the set bits of a task mask, lowest first.
pub fn tasks_in(mut mask: u32) -> impl Iterator<Item = usize> {
    core::iter::from_fn(move || {
        let task = mask.trailing_zeros() as usize;
        mask &= mask.wrapping_sub(1);
        (task < 32).then_some(task)
    })
}

impl<const N: usize> Supervisor<N> {
    /// Checks the policy table and starts with every task that starts at boot `Running` since
    /// time 0, the others `Held(Unloaded)`. Being `const`, a table can be checked at build
    /// time: `const S: Supervisor<N> = match Supervisor::new(&POLICIES) { Ok(s) => s, .. }`.
    pub const fn new(policies: &'static [Policy; N]) -> Result<Self, ConfigError> {
        const { assert!(N >= 1 && N <= 32, "between 1 and 32 tasks") };
        let in_range = u32::MAX >> (32 - N);
        let mut dependents = [0u32; N];
        let mut watched = 0;
        let mut tasks = [Slot::BOOTED; N];
        let mut task = 1;
        while task < N {
            let policy = &policies[task];
            if policy.depends_on & !in_range != 0 {
                return Err(ConfigError::DependencyOutOfRange { task });
            }
            if policy.depends_on & 1 != 0 {
                return Err(ConfigError::DependsOnSupervisor { task });
            }
            if policy.depends_on & (1 << task) != 0 {
                return Err(ConfigError::DependsOnItself { task });
            }
            if policy.intensity_restarts > MAX_INTENSITY_RESTARTS {
                return Err(ConfigError::IntensityTooLarge { task });
            }
            if policy.backoff_initial_ms > policy.backoff_max_ms {
                return Err(ConfigError::BackoffInverted { task });
            }
            let mut provider = 1;
            while provider < N {
                if policy.depends_on & (1 << provider) != 0 {
                    if policies[provider].idle {
                        return Err(ConfigError::DependsOnIdle { task });
                    }
                    dependents[provider] |= 1 << task;
                }
                provider += 1;
            }
            if policy.watchdog_ms.is_some() {
                watched |= 1 << task;
            }
            if !policy.start_at_boot {
                tasks[task].state = TaskState::Held(HoldReason::Unloaded);
            }
            task += 1;
        }
        Ok(Supervisor {
            policies,
            dependents,
            watched,
            timed: 0,
            tasks,
        })
    }

    /// Handles one event. A refusal changes nothing and is also recorded.
    pub fn on_event(
        &mut self,
        now: u64,
        event: Event,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        let result = self.apply(now, event, out);
        if let Err(reason) = result {
            out.record(Record::Refused {
                task: event.subject(),
                reason,
            });
        }
        self.settle(now, out);
        result
    }

    /// Handles a `humility jefe` request from the raw `JEFE_EXTERNAL_REQUEST` and `TASKINDEX`
    /// words. `Ok`: the shell increments `REQUESTS`; `Err`: `ERRORS`.
    pub fn on_humility(
        &mut self,
        now: u64,
        request: u32,
        task: u32,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        let task = task as usize;
        let Some(request) = HumilityRequest::from_u32(request) else {
            let reason = Refusal::UnknownRequest;
            out.record(Record::Refused { task, reason });
            return Err(reason);
        };
        let origin = Origin::Humility;
        match request {
            HumilityRequest::Start => {
                self.on_event(now, Event::RestartRequest { task, origin }, out)
            }
            HumilityRequest::Hold => self.on_event(now, Event::Hold { task }, out),
            HumilityRequest::Release => self.on_event(now, Event::Release { task }, out),
            // As in Hubris: hold first, so the injected fault is not followed by a restart.
            HumilityRequest::Fault => {
                self.on_event(now, Event::Hold { task }, out)?;
                self.on_event(now, Event::InjectFault { task, origin }, out)
            }
            HumilityRequest::Unload => self.on_event(now, Event::Unload { task, origin }, out),
            HumilityRequest::Load => self.on_event(now, Event::Load { task, origin }, out),
        }
    }

    /// Handles every deadline, back-off and watchdog due at `now`. `cpu` is asked only about
    /// a watched task whose check-in is overdue, and the tasks more important than it.
    pub fn on_timer(&mut self, now: u64, cpu: &mut impl CpuView, out: &mut impl ActionSink) {
        // Second looks first: a first look notes its rivals' ticks afresh, which must not
        // hide from a second look at the same instant what they held since its own first look.
        for second_looks in [true, false] {
            for task in tasks_in(self.timed | self.watched) {
                if self.due_at(task).is_none_or(|due| due > now) {
                    continue;
                }
                let second_look = self.tasks[task].first_look.is_some();
                match self.tasks[task].state {
                    TaskState::BackingOff { .. } if second_looks => self.start(task, now, out),
                    TaskState::Running if second_look == second_looks => {
                        self.watchdog_due(task, now, cpu, out)
                    }
                    // Deadlines are handled by `settle`, with acknowledgements.
                    _ => {}
                }
            }
        }
        self.settle(now, out);
    }

    /// When [`Supervisor::on_timer`] must next run, if anything is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        tasks_in(self.timed | self.watched)
            .filter_map(|task| self.due_at(task))
            .min()
    }

    /// A task's counters; `None` for an index out of range.
    pub fn counters(&self, task: usize) -> Option<&Counters> {
        self.tasks.get(task).map(|slot| &slot.counters)
    }

    /// A task's status; `None` for an index out of range.
    pub fn status(&self, task: usize, now: u64) -> Option<TaskRecord> {
        let slot = self.tasks.get(task)?;
        let policy = &self.policies[task];
        Some(TaskRecord {
            state: slot.state,
            hold: slot.hold,
            last_fault: slot.last_fault,
            counters: slot.counters,
            strikes: slot.strikes(now, policy.intensity_window_ms),
            next_backoff_ms: policy.backoff_delay(slot.consecutive),
        })
    }

    fn apply(&mut self, now: u64, event: Event, out: &mut impl ActionSink) -> Result<(), Refusal> {
        match event {
            Event::Faulted { task, fault } => self.faulted(self.check(task)?, now, fault, out),
            Event::Exited { task } => self.exited(self.check(task)?, now, out),
            Event::CheckIn { task } => {
                // Row 7: harmless in any state; only `Running` watches it.
                let slot = &mut self.tasks[self.check(task)?];
                slot.last_checkin = now;
                slot.first_look = None;
                Ok(())
            }
            Event::Ack {
                dependent,
                provider,
            } => self.acknowledged(self.check(dependent)?, self.check(provider)?),
            Event::RestartRequest { task, origin } => {
                self.restart_requested(self.check(task)?, origin, now, out);
                Ok(())
            }
            Event::Unload { task, origin } => {
                self.unload(self.check_not_idle(task)?, origin, now, out)
            }
            Event::Load { task, origin } => self.load(self.check(task)?, origin, now, out),
            Event::Hold { task } => {
                self.hold_disposition(self.check_not_idle(task)?, out);
                Ok(())
            }
            Event::Release { task } => {
                self.release(self.check(task)?, now, out);
                Ok(())
            }
            Event::InjectFault { task, origin } => self.inject(self.check(task)?, origin, out),
        }
    }

    /// Row 36: the supervisor and out-of-range indices are never acted on.
    fn check(&self, task: usize) -> Result<usize, Refusal> {
        match task {
            0 => Err(Refusal::Supervisor),
            t if t >= N => Err(Refusal::OutOfRange),
            t => Ok(t),
        }
    }

    /// [`Supervisor::check`], and the idle task may not be unloaded or held (crate docs).
    fn check_not_idle(&self, task: usize) -> Result<usize, Refusal> {
        let task = self.check(task)?;
        if self.policies[task].idle {
            return Err(Refusal::IdleTask);
        }
        Ok(task)
    }

    fn due_at(&self, task: usize) -> Option<u64> {
        let slot = &self.tasks[task];
        match slot.state {
            TaskState::Detaching { deadline, .. } => Some(deadline),
            TaskState::BackingOff { restart_at } => Some(restart_at),
            TaskState::Running if slot.injection.is_none() => self.policies[task]
                .watchdog_ms
                .map(|period| slot.watchdog_due_at(period)),
            TaskState::Running | TaskState::Held(_) => None,
        }
    }

    /// Mask of the tasks whose slot satisfies `pred`.
    fn tasks_where(&self, pred: impl Fn(&Slot) -> bool) -> u32 {
        let matching = self.tasks.iter().enumerate().filter(|(_, slot)| pred(slot));
        matching.fold(0, |mask, (task, _)| mask | 1 << task)
    }

    /// Mask of `task`'s dependents that are running, and so can be told things and can
    /// acknowledge. Most tasks have none, so the scan is skipped for them.
    fn live_dependents(&self, task: usize) -> u32 {
        match self.dependents[task] {
            0 => 0,
            dependents => dependents & self.tasks_where(Slot::is_live),
        }
    }

    fn faulted(
        &mut self,
        task: usize,
        now: u64,
        fault: FaultInfo,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        match self.tasks[task].state {
            TaskState::Running => {
                self.note_fault(task, fault, out);
                let origin = self.tasks[task].injection.unwrap_or(Origin::Task);
                self.begin_detach(task, Cause::Fault, origin, now, out);
                Ok(())
            }
            // Row 22: already on its way out; the cycle continues as planned.
            TaskState::Detaching { .. } => {
                self.note_fault(task, fault, out);
                Ok(())
            }
            TaskState::BackingOff { .. } | TaskState::Held(_) => Err(Refusal::NotRunning),
        }
    }

    fn note_fault(&mut self, task: usize, fault: FaultInfo, out: &mut impl ActionSink) {
        let slot = &mut self.tasks[task];
        slot.counters.faults = slot.counters.faults.saturating_add(1);
        slot.last_fault = Some(fault);
        out.record(Record::Fault { task, fault });
    }

    fn exited(&mut self, task: usize, now: u64, out: &mut impl ActionSink) -> Result<(), Refusal> {
        match self.tasks[task].state {
            TaskState::Running => {
                self.begin_detach(task, Cause::Exit, Origin::Task, now, out);
                Ok(())
            }
            TaskState::Detaching { .. } => Ok(()),
            TaskState::BackingOff { .. } | TaskState::Held(_) => Err(Refusal::NotRunning),
        }
    }

    fn acknowledged(&mut self, dependent: usize, provider: usize) -> Result<(), Refusal> {
        match &mut self.tasks[provider].state {
            TaskState::Detaching { pending, .. } if *pending & (1 << dependent) != 0 => {
                *pending &= !(1 << dependent);
                Ok(())
            }
            _ => Err(Refusal::AckNotAwaited),
        }
    }

    fn restart_requested(
        &mut self,
        task: usize,
        origin: Origin,
        now: u64,
        out: &mut impl ActionSink,
    ) {
        match &mut self.tasks[task].state {
            TaskState::Running => self.begin_detach(task, Cause::Restart, origin, now, out),
            TaskState::Detaching {
                cause,
                origin: started_by,
                ..
            } => {
                *cause = Cause::Restart;
                *started_by = origin;
            }
            TaskState::BackingOff { .. } => self.start(task, now, out),
            TaskState::Held(_) => self.load_held(task, origin, now, out),
        }
    }

    fn unload(
        &mut self,
        task: usize,
        origin: Origin,
        now: u64,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        match &mut self.tasks[task].state {
            TaskState::Running => self.begin_detach(task, Cause::Unload, origin, now, out),
            TaskState::Detaching {
                cause: Cause::Unload,
                ..
            }
            | TaskState::Held(HoldReason::Unloaded) => return Err(Refusal::AlreadyUnloaded),
            TaskState::Detaching {
                cause,
                origin: started_by,
                ..
            } => {
                *cause = Cause::Unload;
                *started_by = origin;
            }
            TaskState::BackingOff { .. } | TaskState::Held(_) => {
                self.hold(task, HoldReason::Unloaded, out)
            }
        }
        Ok(())
    }

    fn load(
        &mut self,
        task: usize,
        origin: Origin,
        now: u64,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        match self.tasks[task].state {
            TaskState::Held(_) => {
                self.load_held(task, origin, now, out);
                Ok(())
            }
            _ => Err(Refusal::NotHeld),
        }
    }

    /// Row 30: step 6 alone.
    fn load_held(&mut self, task: usize, origin: Origin, now: u64, out: &mut impl ActionSink) {
        out.record(Record::Loaded { task, origin });
        self.start(task, now, out);
    }

    fn hold_disposition(&mut self, task: usize, out: &mut impl ActionSink) {
        self.tasks[task].hold = true;
        // Row 9: a pending back-off is an automatic restart, which hold forbids.
        if let TaskState::BackingOff { .. } = self.tasks[task].state {
            self.hold(task, HoldReason::Stopped, out);
        }
    }

    fn release(&mut self, task: usize, now: u64, out: &mut impl ActionSink) {
        self.tasks[task].hold = false;
        if let TaskState::Held(HoldReason::Stopped | HoldReason::Escalated) = self.tasks[task].state
        {
            self.start(task, now, out);
        }
    }

    fn inject(
        &mut self,
        task: usize,
        origin: Origin,
        out: &mut impl ActionSink,
    ) -> Result<(), Refusal> {
        let slot = &mut self.tasks[task];
        match slot.state {
            TaskState::Running => {
                // One injection at a time: the kernel faults the task once, and the origin
                // of the first request is the one the fault is attributed to.
                if slot.injection.is_none() {
                    slot.injection = Some(origin);
                    out.act(Action::InjectFault { task });
                }
                Ok(())
            }
            _ => Err(Refusal::NotRunning),
        }
    }

    /// Row 6.
    fn expire_watchdog(&mut self, task: usize, out: &mut impl ActionSink) {
        let slot = &mut self.tasks[task];
        slot.counters.watchdog_expiries = slot.counters.watchdog_expiries.saturating_add(1);
        slot.injection = Some(Origin::Watchdog);
        out.record(Record::WatchdogExpired { task });
        out.act(Action::InjectFault { task });
    }

    /// Steps 1 and 2 begin: rows 1-4.
    fn begin_detach(
        &mut self,
        task: usize,
        cause: Cause,
        origin: Origin,
        now: u64,
        out: &mut impl ActionSink,
    ) {
        let pending = self.live_dependents(task);
        out.record(Record::DetachStarted {
            task,
            cause,
            origin,
            dependents: pending,
        });
        for dependent in tasks_in(pending) {
            out.act(Action::NotifyGoingAway {
                dependent,
                provider: task,
            });
        }
        let policy = &self.policies[task];
        let slot = &mut self.tasks[task];
        if now.saturating_sub(slot.started_at) >= u64::from(policy.intensity_window_ms) {
            slot.consecutive = 0;
        }
        slot.injection = None;
        let deadline = now.saturating_add(u64::from(policy.detach_deadline_ms));
        self.set_state(
            task,
            TaskState::Detaching {
                cause,
                origin,
                deadline,
                pending,
            },
        );
    }

    /// Completes every detach that is ready (rows 13 and 14). Loops because a completion can
    /// make another ready: the detached task leaves other pending sets, and escalation can
    /// start cycles with no one to wait for. It ends: completions only start new cycles
    /// through `RestartDependents`, whose cycles are requested restarts and never escalate.
    fn settle(&mut self, now: u64, out: &mut impl ActionSink) {
        while let Some((task, cause, forced)) = self.ready_detach(now) {
            self.complete_detach(task, cause, forced, now, out);
        }
    }

    fn ready_detach(&self, now: u64) -> Option<(usize, Cause, u32)> {
        tasks_in(self.timed).find_map(|task| match self.tasks[task].state {
            TaskState::Detaching {
                cause,
                deadline,
                pending,
                ..
            } if pending == 0 || deadline <= now => Some((task, cause, pending)),
            _ => None,
        })
    }

    /// Steps 3 and 4, then rows 15-21 by cause.
    fn complete_detach(
        &mut self,
        task: usize,
        cause: Cause,
        forced: u32,
        now: u64,
        out: &mut impl ActionSink,
    ) {
        if forced != 0 {
            out.record(Record::DeadlineExpired {
                provider: task,
                dependents_forced: forced,
            });
            let counters = &mut self.tasks[task].counters;
            counters.forced_detaches = counters.forced_detaches.saturating_add(1);
            for dependent in tasks_in(forced) {
                let counters = &mut self.tasks[dependent].counters;
                counters.missed_acks = counters.missed_acks.saturating_add(1);
            }
        }
        out.act(Action::Detach { task });
        let mask = self.policies[task].reset_peripherals;
        if mask != 0 {
            out.act(Action::ResetPeripherals { task, mask });
        }
        out.record(Record::Detached { task });
        for other in tasks_in(self.timed) {
            if let TaskState::Detaching { pending, .. } = &mut self.tasks[other].state {
                *pending &= !(1 << task);
            }
        }
        if self.policies[task].idle {
            // Never left detached: the kernel may have nothing else to run (crate docs).
            return self.start(task, now, out);
        }
        match cause {
            Cause::Unload => self.hold(task, HoldReason::Unloaded, out),
            Cause::Restart => self.back_off(task, now, out),
            Cause::Fault | Cause::Exit => self.restart_automatically(task, cause, now, out),
        }
    }

    /// Rows 17-21.
    fn restart_automatically(
        &mut self,
        task: usize,
        cause: Cause,
        now: u64,
        out: &mut impl ActionSink,
    ) {
        let policy = &self.policies[task];
        let slot = &mut self.tasks[task];
        if slot.hold || !policy.restarts_after(cause) {
            self.hold(task, HoldReason::Stopped, out);
        } else if slot.over_intensity(now, policy) {
            self.escalate(task, now, out);
        } else {
            slot.remember_restart(now);
            self.back_off(task, now, out);
        }
    }

    fn escalate(&mut self, task: usize, now: u64, out: &mut impl ActionSink) {
        let to = self.policies[task].intensity_then;
        out.record(Record::Escalated { task, to });
        self.tasks[task].recent = [NO_RESTART; MAX_INTENSITY_RESTARTS as usize];
        match to {
            Escalation::Hold => self.hold(task, HoldReason::Escalated, out),
            Escalation::RestartDependents => {
                self.back_off(task, now, out);
                // Only running ones: a dependent already on its way out, backing off or
                // held is not brought back by its provider's trouble.
                let running = self.tasks_where(|slot| slot.state == TaskState::Running);
                for dependent in tasks_in(self.dependents[task] & running) {
                    self.begin_detach(dependent, Cause::Restart, Origin::Escalation, now, out);
                }
            }
            Escalation::Reset => {
                out.act(Action::ResetSystem);
                self.hold(task, HoldReason::Escalated, out);
            }
        }
    }

    /// Step 5.
    fn back_off(&mut self, task: usize, now: u64, out: &mut impl ActionSink) {
        let slot = &mut self.tasks[task];
        let delay_ms = self.policies[task].backoff_delay(slot.consecutive);
        slot.consecutive = slot.consecutive.saturating_add(1);
        if delay_ms == 0 {
            self.start(task, now, out);
        } else {
            let restart_at = now.saturating_add(u64::from(delay_ms));
            self.set_state(task, TaskState::BackingOff { restart_at });
            out.record(Record::BackingOff { task, delay_ms });
        }
    }

    /// Step 6.
    fn start(&mut self, task: usize, now: u64, out: &mut impl ActionSink) {
        self.set_state(task, TaskState::Running);
        let slot = &mut self.tasks[task];
        slot.started_at = now;
        slot.last_checkin = now;
        slot.first_look = None;
        slot.injection = None;
        slot.counters.restarts = slot.counters.restarts.saturating_add(1);
        let count = slot.counters.restarts;
        out.act(Action::Restart { task });
        out.record(Record::Restarted { task, count });
        for dependent in tasks_in(self.live_dependents(task)) {
            out.act(Action::NotifyBack {
                dependent,
                provider: task,
            });
        }
    }

    fn hold(&mut self, task: usize, reason: HoldReason, out: &mut impl ActionSink) {
        self.set_state(task, TaskState::Held(reason));
        out.record(Record::Held { task, reason });
    }

    /// Every state change goes through here, to keep `timed` true.
    fn set_state(&mut self, task: usize, state: TaskState) {
        self.tasks[task].state = state;
        match state {
            TaskState::Detaching { .. } | TaskState::BackingOff { .. } => self.timed |= 1 << task,
            TaskState::Running | TaskState::Held(_) => self.timed &= !(1 << task),
        }
    }
}
