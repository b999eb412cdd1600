//! The idle task is never left detached: every cycle ends in an immediate restart, and it
//! cannot be unloaded, held or depended on (crate docs, "The idle task").

use supervision::{
    Action, ConfigError, Escalation, Event, HumilityRequest, Origin, Policy, Record, Refusal,
    RestartMode, Supervisor, TaskState,
};

use crate::rig::{BASE, PANIC, Rig, bit, effects, records};

const IDLE: usize = 2;
const OTHER: usize = 1;

/// Idle with a policy that would back off, hold after an exit and escalate to a hold, which
/// is what must not happen to it.
const IDLE_POLICY: Policy = Policy {
    restart: RestartMode::Never,
    backoff_initial_ms: 10,
    intensity_restarts: 1,
    intensity_window_ms: 10_000,
    intensity_then: Escalation::Hold,
    idle: true,
    ..BASE
};

fn rig() -> Rig<3> {
    Rig::new([BASE, BASE, IDLE_POLICY])
}

/// What a cycle of idle must do at once: detach and restart it, with nothing in between (no
/// back-off, no hold, no escalation) and nothing else done to the kernel.
fn restarted_at_once(actions: &[Action]) -> bool {
    effects(actions)
        == [
            Action::Detach { task: IDLE },
            Action::Restart { task: IDLE },
        ]
        && records(actions).iter().all(|r| {
            !matches!(
                r,
                Record::BackingOff { .. } | Record::Held { .. } | Record::Escalated { .. }
            )
        })
}

#[test]
fn idle_is_restarted_at_once_after_a_fault_an_exit_or_a_request() {
    let mut rig = rig();
    for (round, event) in [
        Event::Faulted {
            task: IDLE,
            fault: PANIC,
        },
        Event::Exited { task: IDLE },
        Event::RestartRequest {
            task: IDLE,
            origin: Origin::Humility,
        },
        Event::Faulted {
            task: IDLE,
            fault: PANIC,
        },
    ]
    .into_iter()
    .enumerate()
    {
        let actions = rig.event(event);
        assert!(restarted_at_once(&actions), "{event:?}: {actions:?}");
        assert_eq!(rig.state(IDLE), TaskState::Running, "{event:?}");
        assert_eq!(rig.status(IDLE).counters.restarts, round as u32 + 1);
        assert_eq!(rig.sup.next_deadline(), None, "nothing left pending");
    }
    assert_eq!(
        rig.state(OTHER),
        TaskState::Running,
        "the other task is untouched"
    );
}

#[test]
fn idle_cannot_be_unloaded_or_held() {
    let mut rig = rig();
    rig.refused(
        Event::Unload {
            task: IDLE,
            origin: Origin::Console,
        },
        Refusal::IdleTask,
    );
    rig.refused(Event::Hold { task: IDLE }, Refusal::IdleTask);
    let mut actions = Vec::new();
    let result = rig.sup.on_humility(
        rig.now,
        HumilityRequest::Fault as u32,
        IDLE as u32,
        &mut |a| actions.push(a),
    );
    assert_eq!(result, Err(Refusal::IdleTask));
    assert_eq!(
        effects(&actions),
        [],
        "humility's fault holds first, so nothing is injected"
    );
    assert_eq!(rig.state(IDLE), TaskState::Running);
    assert!(!rig.status(IDLE).hold);
    // Other tasks are unaffected by the rule.
    rig.unload(OTHER);
    assert!(matches!(rig.state(OTHER), TaskState::Held(_)));
}

#[test]
fn nobody_may_depend_on_idle() {
    static POLICIES: [Policy; 3] = [
        BASE,
        Policy {
            depends_on: bit(IDLE),
            ..BASE
        },
        IDLE_POLICY,
    ];
    assert!(matches!(
        Supervisor::new(&POLICIES),
        Err(ConfigError::DependsOnIdle { task: OTHER })
    ));
}
