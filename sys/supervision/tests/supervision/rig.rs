//! A fake shell: feeds events, fires timers exactly when due, and keeps what came out.

use abi::{FaultInfo, TaskId};
use supervision::{
    Action, CpuUse, CpuView, Escalation, Event, Origin, Policy, Record, Refusal, RestartMode,
    Supervisor, TaskRecord, TaskState,
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
    idle: false,
    priority: 3,
};

pub const PANIC: FaultInfo = FaultInfo::Panic;
/// What the kernel reports for a fault the supervisor (task 0) injected.
pub const INJECTED: FaultInfo = FaultInfo::Injected(TaskId(0));

pub const fn bit(task: usize) -> u32 {
    1 << task
}

/// The kernel's scheduler as the tests set it: every task blocked, holding no tick, unless a
/// test says otherwise.
#[derive(Default)]
pub struct FakeCpu {
    pub busy: [bool; 32],
    pub ticks: [u8; 32],
}

impl CpuView for FakeCpu {
    fn cpu_use(&mut self, task: usize) -> CpuUse {
        CpuUse {
            busy: self.busy[task],
            ticks_held: self.ticks[task],
        }
    }
}

pub struct Rig<const N: usize> {
    pub sup: Supervisor<N>,
    pub now: u64,
    pub cpu: FakeCpu,
}

impl<const N: usize> Rig<N> {
    /// `policies[0]` is the supervisor's and is ignored, so any value does.
    pub fn new(policies: [Policy; N]) -> Self {
        let policies = Box::leak(Box::new(policies));
        Rig {
            sup: Supervisor::new(policies).expect("valid policies"),
            now: 0,
            cpu: FakeCpu::default(),
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
        let mut guard = LivelockGuard::default();
        while let Some(due) = self.sup.next_deadline().filter(|&due| due <= t) {
            self.now = self.now.max(due);
            guard.fired_at(self.now, &self.sup);
            let now = self.now;
            self.sup
                .on_timer(now, &mut self.cpu, &mut |a| actions.push((now, a)));
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

/// Timer firings allowed at one instant. A healthy supervisor serves a due deadline and
/// moves on; even a crash loop with zero back-off re-arms a watchdog or a later timer after
/// a few firings per task. Far more than that at one instant is a deadline that stays due
/// however often it is served, which would otherwise spin the test forever.
pub const FIRINGS_PER_INSTANT: u32 = 1000;

/// Counts timer firings per instant for the rig's time loops and fails the test, naming
/// the instant and the deadline, when time stops moving (see [`FIRINGS_PER_INSTANT`]).
#[derive(Default)]
pub struct LivelockGuard {
    instant: u64,
    firings: u32,
}

impl LivelockGuard {
    /// Call once per firing, with the time of the firing.
    pub fn fired_at<const N: usize>(&mut self, now: u64, sup: &Supervisor<N>) {
        if now != self.instant || self.firings == 0 {
            self.instant = now;
            self.firings = 0;
        }
        self.firings += 1;
        assert!(
            self.firings <= FIRINGS_PER_INSTANT,
            "livelock: the supervisor's timer fired {} times at t = {now} ms and time never moved on \
             (next deadline still {:?}); a served deadline is not being cleared or pushed back",
            self.firings,
            sup.next_deadline(),
        );
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

#[test]
fn timers_served_at_one_instant_up_to_the_limit_pass() {
    let rig = Rig::new([BASE; 2]);
    let mut guard = LivelockGuard::default();
    for _ in 0..FIRINGS_PER_INSTANT {
        guard.fired_at(7, &rig.sup);
    }
    // Time moving on starts the count again.
    for _ in 0..FIRINGS_PER_INSTANT {
        guard.fired_at(8, &rig.sup);
    }
}

#[test]
#[should_panic(expected = "livelock: the supervisor's timer fired 1001 times at t = 7 ms")]
fn a_deadline_that_stays_due_fails_the_test_instead_of_hanging_it() {
    let rig = Rig::new([BASE; 2]);
    let mut guard = LivelockGuard::default();
    for _ in 0..=FIRINGS_PER_INSTANT {
        guard.fired_at(7, &rig.sup);
    }
}
