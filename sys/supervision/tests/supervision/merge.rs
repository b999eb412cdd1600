//! `MergeDetach`: which detaches fold into restarts, and that effects keep their order.

use proptest::prelude::*;
use supervision::{Action, ActionSink, Event, MergeDetach, Record};

use crate::rig::{BASE, PANIC, Rig, effects};

fn merged(actions: &[Action]) -> Vec<Action> {
    let mut out = Vec::new();
    let mut sink = |a| out.push(a);
    {
        let mut merge = MergeDetach::new(&mut sink);
        for &a in actions {
            merge.act(a);
        }
    }
    out
}

const DETACHED: Action = Action::Record(Record::Detached { task: 1 });

#[test]
fn a_detach_then_the_same_restart_becomes_the_restart() {
    let input = [
        Action::Detach { task: 1 },
        DETACHED,
        Action::Restart { task: 1 },
    ];
    assert_eq!(merged(&input), [DETACHED, Action::Restart { task: 1 }]);
}

#[test]
fn a_detach_followed_by_anything_else_is_passed_on_first() {
    let reset = Action::ResetPeripherals { task: 1, mask: 1 };
    let input = [
        Action::Detach { task: 1 },
        reset,
        Action::Restart { task: 1 },
    ];
    assert_eq!(merged(&input), input);
    let input = [Action::Detach { task: 1 }, Action::Restart { task: 2 }];
    assert_eq!(merged(&input), input);
    let input = [
        Action::Detach { task: 1 },
        Action::Detach { task: 2 },
        Action::Restart { task: 2 },
    ];
    assert_eq!(
        merged(&input),
        [Action::Detach { task: 1 }, Action::Restart { task: 2 }]
    );
}

#[test]
fn a_detach_left_at_the_end_is_passed_on_when_dropped() {
    assert_eq!(
        merged(&[Action::Detach { task: 3 }, DETACHED]),
        [DETACHED, Action::Detach { task: 3 }]
    );
}

/// A sink that logs takes records through `record`, as jefe's shell does.
#[derive(Default)]
struct Split {
    acts: Vec<Action>,
    records: Vec<Record>,
}

impl ActionSink for Split {
    fn act(&mut self, action: Action) {
        self.acts.push(action);
    }

    fn record(&mut self, record: Record) {
        self.records.push(record);
    }
}

#[test]
fn a_record_reaches_the_inner_sinks_record_at_once_and_keeps_the_held_detach() {
    let mut split = Split::default();
    {
        let mut merge = MergeDetach::new(&mut split);
        merge.act(Action::Detach { task: 1 });
        merge.record(Record::Detached { task: 1 });
        merge.act(Action::Restart { task: 1 });
    }
    assert_eq!(split.records, [Record::Detached { task: 1 }]);
    assert_eq!(split.acts, [Action::Restart { task: 1 }]);
    // A sink that only acts gets the record as `Action::Record`, in its place.
    let mut out = Vec::new();
    {
        let mut sink = |a| out.push(a);
        let mut merge = MergeDetach::new(&mut sink);
        merge.act(Action::Detach { task: 1 });
        merge.record(Record::Detached { task: 1 });
        merge.act(Action::Restart { task: 1 });
    }
    assert_eq!(out, [DETACHED, Action::Restart { task: 1 }]);
}

#[test]
fn the_policy_hands_a_logging_sink_its_records_through_record() {
    let mut policies = [BASE; 2];
    policies[1].backoff_initial_ms = 0;
    policies[1].backoff_max_ms = 0;
    let as_actions = Rig::new(policies).fault(1);
    let mut rig = Rig::new(policies);
    let mut split = Split::default();
    let fault = Event::Faulted {
        task: 1,
        fault: PANIC,
    };
    assert_eq!(rig.sup.on_event(rig.now, fault, &mut split), Ok(()));
    let records: Vec<Record> = as_actions
        .iter()
        .filter_map(|a| match a {
            Action::Record(r) => Some(*r),
            _ => None,
        })
        .collect();
    assert!(!records.is_empty());
    assert_eq!(split.records, records);
    assert_eq!(split.acts, effects(&as_actions));
}

#[test]
fn a_zero_back_off_fault_cycle_costs_one_kernel_restart() {
    let mut policies = [BASE; 2];
    policies[1].backoff_initial_ms = 0;
    policies[1].backoff_max_ms = 0;
    let mut rig = Rig::new(policies);
    let actions = rig.fault(1);
    assert_eq!(
        effects(&actions),
        [Action::Detach { task: 1 }, Action::Restart { task: 1 }]
    );
    assert_eq!(effects(&merged(&actions)), [Action::Restart { task: 1 }]);
}

fn action() -> impl Strategy<Value = Action> {
    let task = 1usize..4;
    prop_oneof![
        task.clone().prop_map(|task| Action::Detach { task }),
        task.clone().prop_map(|task| Action::Restart { task }),
        task.clone()
            .prop_map(|task| Action::ResetPeripherals { task, mask: 1 }),
        task.clone().prop_map(|task| Action::InjectFault { task }),
        task.clone().prop_map(|dependent| Action::NotifyBack {
            dependent,
            provider: 0
        }),
        task.prop_map(|task| Action::Record(Record::Detached { task })),
    ]
}

proptest! {
    /// Merging only ever drops a `Detach` that the next effect, a restart of the same task,
    /// performs anyway; everything else comes out in the same order.
    #[test]
    fn merging_drops_only_detaches_a_restart_performs(actions in prop::collection::vec(action(), 0..40)) {
        let out = merged(&actions);
        let mut expected = Vec::new();
        let effects: Vec<_> = actions.iter().enumerate().filter(|(_, a)| !matches!(a, Action::Record(_))).collect();
        for (k, &(_, a)) in effects.iter().enumerate() {
            let folded = matches!((a, effects.get(k + 1)), (Action::Detach { task }, Some((_, Action::Restart { task: next }))) if task == next);
            if !folded {
                expected.push(*a);
            }
        }
        let out_effects: Vec<_> = out.iter().copied().filter(|a| !matches!(a, Action::Record(_))).collect();
        prop_assert_eq!(out_effects, expected);
        let records = |v: &[Action]| v.iter().copied().filter(|a| matches!(a, Action::Record(_))).collect::<Vec<_>>();
        prop_assert_eq!(records(&out), records(&actions));
    }
}
