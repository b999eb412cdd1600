//! Property tests: random policies, random interleavings of events and time, and a checker
//! that replays every action against the rules the shell relies on.

use proptest::prelude::*;
use supervision::{
    Action, Escalation, Event, Origin, Policy, Record, Refusal, RestartMode, Supervisor, TaskState,
};

use crate::rig::{FakeCpu, INJECTED, LivelockGuard, PANIC};

const N: usize = 6;

fn policy() -> impl Strategy<Value = Policy> {
    let modes = prop_oneof![
        Just(RestartMode::Always),
        Just(RestartMode::OnFault),
        Just(RestartMode::Never)
    ];
    let escalations = prop_oneof![
        Just(Escalation::Hold),
        Just(Escalation::RestartDependents),
        Just(Escalation::Reset)
    ];
    (
        (modes, 0u32..1 << N, 0u32..60, 0u32..20, 0u32..200),
        (
            0u32..=3,
            0u32..500,
            escalations,
            proptest::option::of(20u32..200),
            0u32..4,
            prop::bool::weighted(0.9),
            1u8..4,
        ),
    )
        .prop_map(|((restart, depends_on, deadline, initial, extra), rest)| {
            let (
                intensity_restarts,
                intensity_window_ms,
                intensity_then,
                watchdog_ms,
                reset,
                start,
                priority,
            ) = rest;
            Policy {
                restart,
                // Fixed up per task in `policies()`: no supervisor, no self.
                depends_on,
                detach_deadline_ms: deadline,
                backoff_initial_ms: initial,
                backoff_max_ms: initial + extra,
                intensity_restarts,
                intensity_window_ms,
                intensity_then,
                watchdog_ms,
                reset_peripherals: reset,
                start_at_boot: start,
                idle: false,
                priority,
            }
        })
}

fn policies() -> impl Strategy<Value = [Policy; N]> {
    proptest::array::uniform6(policy()).prop_map(|mut policies| {
        for (task, policy) in policies.iter_mut().enumerate() {
            policy.depends_on &= !(1 | 1 << task);
        }
        policies
    })
}

#[derive(Clone, Debug)]
enum Op {
    Advance(u16),
    /// Acknowledge one of the outstanding "going away" notifications, chosen by index.
    AckOutstanding(usize),
    Event(Event),
    /// The kernel's view of a task changes: busy or not, and ticks held so far.
    Cpu {
        task: usize,
        busy: bool,
        ticks: u8,
    },
}

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![
        Just(Origin::Ipc),
        Just(Origin::Console),
        Just(Origin::Humility)
    ]
}

/// Task indices including the supervisor and one out of range, to exercise refusals.
fn any_task() -> impl Strategy<Value = usize> {
    prop_oneof![9 => 1..N, 1 => Just(0), 1 => Just(N)]
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        3 => (any_task(), prop::bool::ANY).prop_map(|(task, panic)| Event::Faulted {
            task,
            fault: if panic { PANIC } else { INJECTED },
        }),
        1 => any_task().prop_map(|task| Event::Exited { task }),
        3 => any_task().prop_map(|task| Event::CheckIn { task }),
        1 => (any_task(), any_task()).prop_map(|(dependent, provider)| Event::Ack { dependent, provider }),
        3 => (any_task(), origin()).prop_map(|(task, origin)| Event::RestartRequest { task, origin }),
        1 => (any_task(), origin()).prop_map(|(task, origin)| Event::Unload { task, origin }),
        1 => (any_task(), origin()).prop_map(|(task, origin)| Event::Load { task, origin }),
        1 => any_task().prop_map(|task| Event::Hold { task }),
        1 => any_task().prop_map(|task| Event::Release { task }),
        1 => (any_task(), origin()).prop_map(|(task, origin)| Event::InjectFault { task, origin }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u16..120).prop_map(Op::Advance),
        3 => any::<usize>().prop_map(Op::AckOutstanding),
        6 => event().prop_map(Op::Event),
        2 => (1..N, prop::bool::ANY, any::<u8>())
            .prop_map(|(task, busy, ticks)| Op::Cpu { task, busy, ticks }),
    ]
}

/// One restart request for a random task, then up to two other random operations.
fn restart_under_load() -> impl Strategy<Value = Vec<Op>> {
    let request = (1..N, origin())
        .prop_map(|(task, origin)| Op::Event(Event::RestartRequest { task, origin }));
    (request, prop::collection::vec(op(), 0..3)).prop_map(|(request, mut load)| {
        load.insert(0, request);
        load
    })
}

/// Replays actions against the rules, as the shell and the kernel would see them.
struct Checker {
    policies: [Policy; N],
    sup: Supervisor<N>,
    now: u64,
    /// Detached (or never started) and not restarted since.
    detached: [bool; N],
    /// Latest time each provider must be detached by, once a dependent was told.
    detach_by: [Option<u64>; N],
    outstanding: Vec<(usize, usize)>,
    restarts: [u32; N],
    /// Faulted by an injection, not yet reported. A field, not a local of `check`: reporting
    /// one may detach another (an escalation), and that one is then never reported.
    injected: Vec<usize>,
    cpu: FakeCpu,
}

impl Checker {
    fn new(policies: [Policy; N]) -> Self {
        let table = Box::leak(Box::new(policies));
        Checker {
            policies,
            sup: Supervisor::new(table).expect("generated policies are valid"),
            now: 0,
            detached: policies.map(|p| !p.start_at_boot),
            detach_by: [None; N],
            outstanding: Vec::new(),
            restarts: [0; N],
            injected: Vec::new(),
            cpu: FakeCpu::default(),
        }
    }

    fn run(&mut self, op: Op) {
        match op {
            Op::Advance(ms) => self.advance_to(self.now + u64::from(ms)),
            Op::AckOutstanding(pick) => {
                if !self.outstanding.is_empty() {
                    let (dependent, provider) =
                        self.outstanding.remove(pick % self.outstanding.len());
                    // Entries leave `outstanding` when either side is detached, so the
                    // provider is still waiting for exactly this acknowledgement.
                    let ack = Event::Ack {
                        dependent,
                        provider,
                    };
                    assert_eq!(self.event(ack), Ok(()), "outstanding {ack:?} refused");
                }
            }
            Op::Cpu { task, busy, ticks } => {
                self.cpu.busy[task] = busy;
                self.cpu.ticks[task] = ticks;
            }
            Op::Event(event) => {
                let result = self.event(event);
                if let Event::RestartRequest { task, .. } = event
                    && (1..N).contains(&task)
                {
                    assert_eq!(result, Ok(()), "restart requests are always accepted");
                }
            }
        }
    }

    /// Fires every timer due up to `t`, punctually.
    fn advance_to(&mut self, t: u64) {
        let mut guard = LivelockGuard::default();
        while let Some(due) = self.sup.next_deadline().filter(|&due| due <= t) {
            self.now = self.now.max(due);
            guard.fired_at(self.now, &self.sup);
            let mut actions = Vec::new();
            self.sup
                .on_timer(self.now, &mut self.cpu, &mut |a| actions.push(a));
            self.check(&actions);
        }
        self.now = t;
    }

    fn event(&mut self, event: Event) -> Result<(), Refusal> {
        let mut actions = Vec::new();
        let result = self.sup.on_event(self.now, event, &mut |a| actions.push(a));
        if let (
            Event::Ack {
                dependent,
                provider,
            },
            Ok(()),
        ) = (event, result)
        {
            self.outstanding
                .retain(|&entry| entry != (dependent, provider));
        }
        self.check(&actions);
        result
    }

    fn check(&mut self, actions: &[Action]) {
        let mut restarted_here = [false; N];
        for &action in actions {
            match action {
                Action::Detach { task } => {
                    assert_ne!(task, 0);
                    assert!(
                        !self.detached[task],
                        "task {task} detached twice in one cycle"
                    );
                    self.detached[task] = true;
                    if let Some(by) = self.detach_by[task].take() {
                        assert!(
                            self.now <= by,
                            "task {task} detached at {} after its deadline {by}",
                            self.now
                        );
                    }
                    self.outstanding.retain(|&(d, p)| p != task && d != task);
                    // Detached before the kernel reported the injected fault: it never will.
                    self.injected.retain(|&t| t != task);
                }
                Action::Restart { task } => {
                    assert_ne!(task, 0);
                    assert!(
                        self.detached[task],
                        "task {task} restarted without a detach"
                    );
                    self.detached[task] = false;
                    restarted_here[task] = true;
                    self.restarts[task] += 1;
                }
                Action::NotifyGoingAway {
                    dependent,
                    provider,
                } => {
                    assert_ne!(dependent, 0);
                    assert!(!self.detached[provider] && !self.detached[dependent]);
                    assert_ne!(self.policies[dependent].depends_on & 1 << provider, 0);
                    let by = self.now + u64::from(self.policies[provider].detach_deadline_ms);
                    assert!(self.detach_by[provider].is_none_or(|earlier| earlier == by));
                    self.detach_by[provider] = Some(by);
                    self.outstanding.push((dependent, provider));
                }
                Action::NotifyBack {
                    dependent,
                    provider,
                } => {
                    assert_ne!(dependent, 0);
                    assert!(
                        restarted_here[provider],
                        "provider {provider} back without a restart"
                    );
                    assert!(!self.detached[dependent]);
                }
                Action::ResetPeripherals { task, mask } => {
                    assert_ne!(task, 0);
                    assert!(
                        self.detached[task],
                        "peripherals reset under a running task {task}"
                    );
                    assert_eq!(mask, self.policies[task].reset_peripherals);
                }
                Action::InjectFault { task } => {
                    assert!(task != 0 && !self.detached[task]);
                    self.injected.push(task);
                }
                Action::Record(Record::Starved { task, hog }) => {
                    assert!(hog != 0 && hog != task && !self.detached[hog]);
                    assert!(
                        self.policies[hog].priority < self.policies[task].priority,
                        "task {task} starved by {hog}, which is not more important"
                    );
                    assert!(self.cpu.busy[task] && self.cpu.busy[hog]);
                }
                Action::ResetSystem | Action::Record(_) => {}
            }
        }
        // The kernel faults the task at once and the supervisor hears of it straight away.
        // In the order they were injected, as the shell's scan finds them.
        while !self.injected.is_empty() {
            let task = self.injected.remove(0);
            self.event(Event::Faulted {
                task,
                fault: INJECTED,
            })
            .expect("injected into a running task");
        }
    }

    /// Lets every pending deadline and back-off run out with every task checking in, as healthy
    /// tasks do, then checks that nothing was left half-way.
    fn quiesce(&mut self) {
        for _ in 0..100 {
            for task in 1..N {
                self.event(Event::CheckIn { task })
                    .expect("check-ins are always accepted");
            }
            self.advance_to(self.now + 10);
        }
        assert_eq!(
            self.detach_by, [None; N],
            "every notified provider was detached"
        );
        for task in 1..N {
            let status = self.sup.status(task, self.now).unwrap();
            let held = matches!(status.state, TaskState::Held(_));
            assert!(
                held || status.state == TaskState::Running,
                "task {task}: {:?}",
                status.state
            );
            assert_eq!(self.detached[task], held, "task {task}");
            assert_eq!(status.counters.restarts, self.restarts[task], "task {task}");
        }
    }
}

/// Two watchdogs expire in one timer pass and the first fault escalates to its dependents,
/// detaching the second task before its own injected fault is reported: the kernel never
/// reports that fault (the task was stopped), so the checker must not either.
#[test]
fn an_injection_overtaken_by_an_escalation_is_never_reported() {
    let quiet = Policy {
        restart: RestartMode::Always,
        depends_on: 0,
        detach_deadline_ms: 0,
        backoff_initial_ms: 10,
        backoff_max_ms: 10,
        intensity_restarts: 3,
        intensity_window_ms: 100,
        intensity_then: Escalation::Hold,
        watchdog_ms: None,
        reset_peripherals: 0,
        start_at_boot: true,
        idle: false,
        priority: 2,
    };
    let provider = Policy {
        intensity_restarts: 0,
        intensity_then: Escalation::RestartDependents,
        watchdog_ms: Some(50),
        ..quiet
    };
    let dependent = Policy {
        depends_on: 1 << 1,
        watchdog_ms: Some(50),
        ..quiet
    };
    let mut checker = Checker::new([quiet, provider, dependent, quiet, quiet, quiet]);
    checker.run(Op::Advance(60));
    checker.quiesce();
}

proptest! {
    #[test]
    fn random_interleavings_keep_the_restart_cycle_rules(
        policies in policies(),
        ops in prop::collection::vec(op(), 1..300),
    ) {
        let mut checker = Checker::new(policies);
        for op in ops {
            checker.run(op);
        }
        checker.quiesce();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn a_thousand_restart_requests_under_load_keep_the_restart_cycle_rules(
        policies in policies(),
        batches in prop::collection::vec(restart_under_load(), 1000),
    ) {
        let mut checker = Checker::new(policies);
        for op in batches.into_iter().flatten() {
            checker.run(op);
        }
        checker.quiesce();
    }
}
