//! A fake shell: feeds events, fires timers exactly when due, and keeps what came out.

use abi::{FaultInfo, TaskId};
use supervision::{
    Action, Escalation, Event, Origin, Policy, Record, Refusal, RestartMode, Supervisor,
    TaskRecord, TaskState,
};

/// The policy of `doc/architecture.md`'s example (section 4), with no dependencies.
pub const BASE: Policy = Policy {
    restart: RestartMode::OnFault,
    depends_on: 0,
    detach_deadline_ms: 50,
    backoff_initial_ms: 10,
    backoff_max_ms: 5000,
    intensity_restarts: 5,
    intensity_window_ms: 10_000,
    intensity_then: Escalation::Hold,
    watchdog_ms: None,
    reset_peripherals: 0,
    start_at_boot: true,
};

pub const PANIC: FaultInfo = FaultInfo::Panic;
/// What the kernel reports for a fault the supervisor (task 0) injected.
pub const INJECTED: FaultInfo = FaultInfo::Injected(TaskId(0));

pub const fn bit(task: usize) -> u32 {
    1 << task
}

pub struct Rig<const N: usize> {
    pub sup: Supervisor<N>,
    pub now: u64,
}

impl<const N: usize> Rig<N> {
    /// `policies[0]` is the supervisor's and is ignored, so any value does.
    pub fn new(policies: [Policy; N]) -> Self {
        let policies = Box::leak(Box::new(policies));
        Rig {
            sup: Supervisor::new(policies).expect("valid policies"),
            now: 0,
        }
    }

    pub fn try_event(&mut self, event: Event) -> (Result<(), Refusal>, Vec<Action>) {
        let mut actions = Vec::new();
        let result = self.sup.on_event(self.now, event, &mut |a| actions.push(a));
        (result, actions)
    }

    /// Sends an event that must be accepted; returns its actions.
    pub fn event(&mut self, event: Event) -> Vec<Action> {
        let (result, actions) = self.try_event(event);
        assert_eq!(result, Ok(()), "{event:?} refused");
        actions
    }

    /// Sends an event that must be refused for `reason`; checks the refusal is recorded alone.
    pub fn refused(&mut self, event: Event, reason: Refusal) {
        let before = self.sup.status(event.subject(), self.now);
        let (result, actions) = self.try_event(event);
        assert_eq!(result, Err(reason));
        let task = event.subject();
        assert_eq!(actions, [Action::Record(Record::Refused { task, reason })]);
        assert_eq!(
            self.sup.status(task, self.now),
            before,
            "a refusal changes nothing"
        );
    }

    pub fn fault(&mut self, task: usize) -> Vec<Action> {
        self.event(Event::Faulted { task, fault: PANIC })
    }

    pub fn restart(&mut self, task: usize) -> Vec<Action> {
        self.event(Event::RestartRequest {
            task,
            origin: Origin::Ipc,
        })
    }

    pub fn unload(&mut self, task: usize) -> Vec<Action> {
        self.event(Event::Unload {
            task,
            origin: Origin::Console,
        })
    }

    pub fn ack(&mut self, dependent: usize, provider: usize) -> Vec<Action> {
        self.event(Event::Ack {
            dependent,
            provider,
        })
    }

    /// Moves time to `t`, firing the timer at every deadline on the way, as a punctual shell
    /// would. Returns the actions with the time each was emitted.
    pub fn advance_to(&mut self, t: u64) -> Vec<(u64, Action)> {
        let mut actions = Vec::new();
        while let Some(due) = self.sup.next_deadline().filter(|&due| due <= t) {
            self.now = self.now.max(due);
            let now = self.now;
            self.sup.on_timer(now, &mut |a| actions.push((now, a)));
        }
        self.now = t;
        actions
    }

    /// Advances to the next deadline and returns its actions.
    pub fn fire(&mut self) -> Vec<Action> {
        let due = self.sup.next_deadline().expect("something pending");
        untimed(self.advance_to(due))
    }

    pub fn status(&self, task: usize) -> TaskRecord {
        self.sup.status(task, self.now).expect("task in range")
    }

    pub fn state(&self, task: usize) -> TaskState {
        self.status(task).state
    }
}

pub fn records(actions: &[Action]) -> Vec<Record> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(r) => Some(*r),
            _ => None,
        })
        .collect()
}

/// The actions that are not records: what the shell actually does.
pub fn effects(actions: &[Action]) -> Vec<Action> {
    actions
        .iter()
        .copied()
        .filter(|a| !matches!(a, Action::Record(_)))
        .collect()
}

/// Drops the emission times of `advance_to`'s actions.
pub fn untimed(actions: Vec<(u64, Action)>) -> Vec<Action> {
    actions.into_iter().map(|(_, a)| a).collect()
}
