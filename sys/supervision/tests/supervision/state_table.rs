//! One test per row of the state table in the crate docs, in row order.
//!
//! The topology: task 1 is a provider with one peripheral to reset, tasks 2 and 3 depend on
//! it, task 4 stands alone.

use supervision::Action::*;
use supervision::Record::*;
use supervision::{
    Cause, Escalation, Event, HoldReason, Origin, Policy, Refusal, RestartMode, TaskState,
};

use crate::rig::{BASE, INJECTED, PANIC, Rig, bit, effects, records, untimed};

const PROVIDER: usize = 1;
const DEP_A: usize = 2;
const DEP_B: usize = 3;
const ALONE: usize = 4;
const DEPENDENTS: u32 = bit(DEP_A) | bit(DEP_B);

fn rig_with(alone: Policy) -> Rig<5> {
    let dependent = Policy {
        depends_on: bit(PROVIDER),
        ..BASE
    };
    Rig::new([
        BASE,
        Policy {
            reset_peripherals: 0b1,
            ..BASE
        },
        dependent,
        dependent,
        alone,
    ])
}

fn rig() -> Rig<5> {
    rig_with(BASE)
}

/// Drives `ALONE` (no dependents) to `BackingOff` through a fault.
fn backing_off(rig: &mut Rig<5>) {
    rig.fault(ALONE);
    assert!(matches!(rig.state(ALONE), TaskState::BackingOff { .. }));
}

/// Drives `ALONE` to `Held(Stopped)`: hold it, then let it fault.
fn held_stopped(rig: &mut Rig<5>) {
    rig.event(Event::Hold { task: ALONE });
    rig.fault(ALONE);
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Stopped));
}

fn detaching(cause: Cause, origin: Origin, deadline: u64, pending: u32) -> TaskState {
    TaskState::Detaching {
        cause,
        origin,
        deadline,
        pending,
    }
}

#[test]
fn row01_fault_records_it_and_tells_live_dependents_the_provider_is_going_away() {
    let mut rig = rig();
    rig.now = 7;
    let actions = rig.fault(PROVIDER);
    assert_eq!(
        actions,
        [
            Record(Fault {
                task: PROVIDER,
                fault: PANIC
            }),
            Record(DetachStarted {
                task: PROVIDER,
                cause: Cause::Fault,
                origin: Origin::Task,
                dependents: DEPENDENTS,
            }),
            NotifyGoingAway {
                dependent: DEP_A,
                provider: PROVIDER
            },
            NotifyGoingAway {
                dependent: DEP_B,
                provider: PROVIDER
            },
        ]
    );
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Fault, Origin::Task, 57, DEPENDENTS)
    );
    let status = rig.status(PROVIDER);
    assert_eq!(
        (status.counters.faults, status.last_fault),
        (1, Some(PANIC))
    );
}

#[test]
fn row02_exit_starts_a_detach_caused_by_the_task_itself() {
    let mut rig = rig();
    let actions = rig.event(Event::Exited { task: PROVIDER });
    assert_eq!(
        records(&actions),
        [DetachStarted {
            task: PROVIDER,
            cause: Cause::Exit,
            origin: Origin::Task,
            dependents: DEPENDENTS
        }]
    );
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Exit, Origin::Task, 50, DEPENDENTS)
    );
    assert_eq!(rig.status(PROVIDER).counters.faults, 0);
}

#[test]
fn row03_restart_request_starts_a_detach_with_the_requester_as_origin() {
    let mut rig = rig();
    let actions = rig.restart(PROVIDER);
    assert_eq!(
        effects(&actions),
        [
            NotifyGoingAway {
                dependent: DEP_A,
                provider: PROVIDER
            },
            NotifyGoingAway {
                dependent: DEP_B,
                provider: PROVIDER
            },
        ]
    );
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Restart, Origin::Ipc, 50, DEPENDENTS)
    );
}

#[test]
fn row04_unload_starts_a_detach_that_will_end_in_a_hold() {
    let mut rig = rig();
    rig.unload(PROVIDER);
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Unload, Origin::Console, 50, DEPENDENTS)
    );
}

#[test]
fn row05_inject_fault_asks_the_kernel_once_and_the_fault_carries_the_requester() {
    let mut rig = rig();
    let inject = Event::InjectFault {
        task: ALONE,
        origin: Origin::Console,
    };
    assert_eq!(rig.event(inject), [InjectFault { task: ALONE }]);
    assert_eq!(
        rig.event(inject),
        [],
        "no second injection while one is pending"
    );
    assert_eq!(rig.state(ALONE), TaskState::Running);
    let actions = rig.event(Event::Faulted {
        task: ALONE,
        fault: INJECTED,
    });
    assert!(records(&actions).contains(&DetachStarted {
        task: ALONE,
        cause: Cause::Fault,
        origin: Origin::Console,
        dependents: 0,
    }));
}

#[test]
fn row06_watchdog_expires_one_millisecond_after_the_period_and_injects_a_fault() {
    let mut rig = rig_with(Policy {
        watchdog_ms: Some(100),
        ..BASE
    });
    rig.now = 60;
    rig.event(Event::CheckIn { task: ALONE });
    assert_eq!(rig.sup.next_deadline(), Some(161));
    assert_eq!(rig.advance_to(160), []);
    assert_eq!(
        rig.advance_to(161),
        [
            (161, Record(WatchdogExpired { task: ALONE })),
            (161, InjectFault { task: ALONE })
        ]
    );
    assert_eq!(rig.status(ALONE).counters.watchdog_expiries, 1);
    assert_eq!(
        rig.sup.next_deadline(),
        None,
        "disarmed until the injected fault arrives"
    );
}

#[test]
fn row07_check_in_is_accepted_in_every_state_and_only_postpones_a_running_watchdog() {
    let mut rig = rig_with(Policy {
        watchdog_ms: Some(100),
        ..BASE
    });
    rig.now = 90;
    assert_eq!(rig.event(Event::CheckIn { task: ALONE }), []);
    assert_eq!(rig.sup.next_deadline(), Some(191));
    rig.event(Event::Unload {
        task: ALONE,
        origin: Origin::Ipc,
    });
    assert_eq!(rig.event(Event::CheckIn { task: ALONE }), []);
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Unloaded));
    assert_eq!(rig.sup.next_deadline(), None);
}

#[test]
fn row08_hold_sets_the_disposition_without_changing_state() {
    let mut rig = rig();
    assert_eq!(rig.event(Event::Hold { task: ALONE }), []);
    rig.fault(PROVIDER);
    assert_eq!(rig.event(Event::Hold { task: PROVIDER }), []);
    rig.unload(DEP_A);
    assert_eq!(rig.event(Event::Hold { task: DEP_A }), []);
    for (task, state) in [
        (ALONE, TaskState::Running),
        (
            PROVIDER,
            detaching(Cause::Fault, Origin::Task, 50, DEPENDENTS & !bit(DEP_A)),
        ),
        (DEP_A, TaskState::Held(HoldReason::Unloaded)),
    ] {
        assert_eq!(
            (rig.state(task), rig.status(task).hold),
            (state, true),
            "task {task}"
        );
    }
}

#[test]
fn row09_hold_cancels_a_pending_back_off() {
    let mut rig = rig();
    backing_off(&mut rig);
    let actions = rig.event(Event::Hold { task: ALONE });
    assert_eq!(
        actions,
        [Record(Held {
            task: ALONE,
            reason: HoldReason::Stopped
        })]
    );
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Stopped));
    assert_eq!(rig.sup.next_deadline(), None);
}

#[test]
fn row10_release_clears_the_disposition_and_restarts_nothing_that_is_not_held_at_a_fault() {
    let mut rig = rig();
    rig.event(Event::Hold { task: ALONE });
    assert_eq!(rig.event(Event::Release { task: ALONE }), []);
    assert_eq!(
        (rig.state(ALONE), rig.status(ALONE).hold),
        (TaskState::Running, false)
    );
    rig.unload(ALONE);
    rig.event(Event::Hold { task: ALONE });
    assert_eq!(rig.event(Event::Release { task: ALONE }), []);
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Unloaded));
    assert!(!rig.status(ALONE).hold);
}

#[test]
fn row11_release_restarts_a_task_held_at_a_fault_and_tells_its_dependents() {
    let mut rig = rig();
    rig.event(Event::Hold { task: PROVIDER });
    rig.fault(PROVIDER);
    rig.ack(DEP_A, PROVIDER);
    rig.ack(DEP_B, PROVIDER);
    assert_eq!(rig.state(PROVIDER), TaskState::Held(HoldReason::Stopped));
    let actions = rig.event(Event::Release { task: PROVIDER });
    assert_eq!(
        actions,
        [
            Restart { task: PROVIDER },
            Record(Restarted {
                task: PROVIDER,
                count: 1
            }),
            NotifyBack {
                dependent: DEP_A,
                provider: PROVIDER
            },
            NotifyBack {
                dependent: DEP_B,
                provider: PROVIDER
            },
        ]
    );
    assert_eq!(
        (rig.state(PROVIDER), rig.status(PROVIDER).hold),
        (TaskState::Running, false)
    );
}

#[test]
fn row12_ack_from_one_dependent_leaves_the_provider_waiting_for_the_other() {
    let mut rig = rig();
    rig.fault(PROVIDER);
    assert_eq!(rig.ack(DEP_B, PROVIDER), []);
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Fault, Origin::Task, 50, bit(DEP_A))
    );
}

#[test]
fn row13_last_ack_detaches_at_once_and_a_task_without_dependents_detaches_immediately() {
    let mut rig = rig();
    rig.fault(PROVIDER);
    rig.ack(DEP_B, PROVIDER);
    assert_eq!(
        rig.ack(DEP_A, PROVIDER),
        [
            Detach { task: PROVIDER },
            ResetPeripherals {
                task: PROVIDER,
                mask: 0b1
            },
            Record(Detached { task: PROVIDER }),
            Record(BackingOff {
                task: PROVIDER,
                delay_ms: 10
            }),
        ]
    );
    assert_eq!(
        effects(&rig.fault(ALONE)),
        [Detach { task: ALONE }],
        "no dependents, no peripherals: straight to detach"
    );
}

#[test]
fn row14_deadline_forces_the_detach_and_counts_who_was_late() {
    let mut rig = rig();
    rig.fault(PROVIDER);
    rig.ack(DEP_A, PROVIDER);
    assert_eq!(rig.advance_to(49), []);
    let actions = untimed(rig.advance_to(50));
    assert_eq!(
        actions[..3],
        [
            Record(DeadlineExpired {
                provider: PROVIDER,
                dependents_forced: bit(DEP_B)
            }),
            Detach { task: PROVIDER },
            ResetPeripherals {
                task: PROVIDER,
                mask: 0b1
            },
        ]
    );
    assert_eq!(rig.status(PROVIDER).counters.forced_detaches, 1);
    assert_eq!(rig.status(DEP_B).counters.missed_acks, 1);
    assert_eq!(rig.status(DEP_A).counters.missed_acks, 0);
}

#[test]
fn row15_unload_ends_detached_and_held_as_unloaded() {
    let mut rig = rig();
    let actions = rig.unload(ALONE);
    assert_eq!(
        actions[1..],
        [
            Detach { task: ALONE },
            Record(Detached { task: ALONE }),
            Record(Held {
                task: ALONE,
                reason: HoldReason::Unloaded
            }),
        ]
    );
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Unloaded));
}

#[test]
fn row16_requested_restart_backs_off_and_a_zero_back_off_restarts_at_once() {
    let mut rig = rig_with(Policy {
        backoff_initial_ms: 0,
        backoff_max_ms: 0,
        ..BASE
    });
    rig.restart(PROVIDER);
    rig.ack(DEP_A, PROVIDER);
    rig.ack(DEP_B, PROVIDER);
    assert_eq!(
        rig.state(PROVIDER),
        TaskState::BackingOff { restart_at: 10 }
    );
    let actions = rig.restart(ALONE);
    assert_eq!(
        effects(&actions),
        [Detach { task: ALONE }, Restart { task: ALONE }]
    );
    assert_eq!(rig.state(ALONE), TaskState::Running);
}

#[test]
fn row17_fault_or_exit_that_policy_or_hold_does_not_restart_ends_held_stopped() {
    for (policy, event, hold) in [
        (
            Policy {
                restart: RestartMode::Never,
                ..BASE
            },
            Event::Faulted {
                task: ALONE,
                fault: PANIC,
            },
            false,
        ),
        (
            Policy {
                restart: RestartMode::Never,
                ..BASE
            },
            Event::Exited { task: ALONE },
            false,
        ),
        (BASE, Event::Exited { task: ALONE }, false),
        (
            Policy {
                restart: RestartMode::Always,
                ..BASE
            },
            Event::Faulted {
                task: ALONE,
                fault: PANIC,
            },
            true,
        ),
    ] {
        let mut rig = rig_with(policy);
        if hold {
            rig.event(Event::Hold { task: ALONE });
        }
        let actions = rig.event(event);
        assert_eq!(
            effects(&actions),
            [Detach { task: ALONE }],
            "{policy:?} {event:?}"
        );
        assert_eq!(
            rig.state(ALONE),
            TaskState::Held(HoldReason::Stopped),
            "{policy:?} {event:?}"
        );
    }
}

#[test]
fn row18_fault_or_exit_within_intensity_backs_off_and_counts_a_strike() {
    for (restart, event) in [
        (
            RestartMode::OnFault,
            Event::Faulted {
                task: ALONE,
                fault: PANIC,
            },
        ),
        (RestartMode::Always, Event::Exited { task: ALONE }),
    ] {
        let mut rig = rig_with(Policy { restart, ..BASE });
        let actions = rig.event(event);
        assert_eq!(
            records(&actions).last(),
            Some(&BackingOff {
                task: ALONE,
                delay_ms: 10
            })
        );
        assert_eq!(rig.state(ALONE), TaskState::BackingOff { restart_at: 10 });
        assert_eq!(rig.status(ALONE).strikes, 1);
    }
}

/// Faults `ALONE` twice with an intensity of one restart; returns the second fault's actions.
fn exceed_intensity(then: Escalation) -> (Rig<5>, Vec<supervision::Action>) {
    let mut rig = rig_with(Policy {
        intensity_restarts: 1,
        intensity_then: then,
        ..BASE
    });
    rig.fault(ALONE);
    rig.fire();
    let actions = rig.fault(ALONE);
    (rig, actions)
}

#[test]
fn row19_over_intensity_with_hold_escalates_to_held_escalated() {
    let (rig, actions) = exceed_intensity(Escalation::Hold);
    assert_eq!(
        records(&actions)[3..],
        [
            Escalated {
                task: ALONE,
                to: Escalation::Hold
            },
            Held {
                task: ALONE,
                reason: HoldReason::Escalated
            },
        ]
    );
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Escalated));
    assert_eq!(
        rig.status(ALONE).strikes,
        0,
        "the escalation answered the burst"
    );
}

#[test]
fn row20_over_intensity_with_restart_dependents_restarts_the_provider_and_its_running_dependents() {
    let dependent = Policy {
        depends_on: bit(PROVIDER),
        ..BASE
    };
    let provider = Policy {
        intensity_restarts: 1,
        intensity_then: Escalation::RestartDependents,
        ..BASE
    };
    let mut rig = Rig::new([BASE, provider, dependent, dependent]);
    rig.fault(PROVIDER);
    rig.ack(DEP_A, PROVIDER);
    rig.ack(DEP_B, PROVIDER);
    rig.fire();
    rig.unload(DEP_B);
    rig.fault(PROVIDER);
    let actions = rig.ack(DEP_A, PROVIDER);
    assert_eq!(
        records(&actions),
        [
            Detached { task: PROVIDER },
            Escalated {
                task: PROVIDER,
                to: Escalation::RestartDependents
            },
            BackingOff {
                task: PROVIDER,
                delay_ms: 20
            },
            DetachStarted {
                task: DEP_A,
                cause: Cause::Restart,
                origin: Origin::Escalation,
                dependents: 0
            },
            Detached { task: DEP_A },
            BackingOff {
                task: DEP_A,
                delay_ms: 10
            },
        ]
    );
    assert_eq!(
        rig.state(DEP_B),
        TaskState::Held(HoldReason::Unloaded),
        "held dependents stay held"
    );
}

#[test]
fn row21_over_intensity_with_reset_asks_for_a_system_reset() {
    let (rig, actions) = exceed_intensity(Escalation::Reset);
    assert_eq!(effects(&actions), [Detach { task: ALONE }, ResetSystem]);
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Escalated));
}

#[test]
fn row22_fault_while_detaching_is_recorded_and_counted_but_changes_nothing() {
    let mut rig = rig();
    rig.unload(PROVIDER);
    let before = rig.state(PROVIDER);
    assert_eq!(
        rig.fault(PROVIDER),
        [Record(Fault {
            task: PROVIDER,
            fault: PANIC
        })]
    );
    assert_eq!(rig.state(PROVIDER), before);
    assert_eq!(rig.status(PROVIDER).counters.faults, 1);
}

#[test]
fn row23_exit_while_detaching_changes_nothing() {
    let mut rig = rig();
    rig.restart(PROVIDER);
    let before = rig.state(PROVIDER);
    assert_eq!(rig.event(Event::Exited { task: PROVIDER }), []);
    assert_eq!(rig.state(PROVIDER), before);
}

#[test]
fn row24_unload_while_already_unloading_is_refused() {
    let mut rig = rig();
    rig.unload(PROVIDER);
    rig.refused(
        Event::Unload {
            task: PROVIDER,
            origin: Origin::Ipc,
        },
        Refusal::AlreadyUnloaded,
    );
}

#[test]
fn row25_unload_while_detaching_for_another_reason_turns_the_cycle_into_an_unload() {
    let mut rig = rig();
    rig.fault(PROVIDER);
    assert_eq!(rig.unload(PROVIDER), []);
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Unload, Origin::Console, 50, DEPENDENTS)
    );
    rig.fire();
    assert_eq!(rig.state(PROVIDER), TaskState::Held(HoldReason::Unloaded));
}

#[test]
fn row26_restart_request_while_detaching_turns_the_cycle_into_a_restart() {
    let mut rig = rig();
    rig.unload(PROVIDER);
    assert_eq!(rig.restart(PROVIDER), []);
    assert_eq!(
        rig.state(PROVIDER),
        detaching(Cause::Restart, Origin::Ipc, 50, DEPENDENTS)
    );
    rig.fire();
    assert!(matches!(rig.state(PROVIDER), TaskState::BackingOff { .. }));
}

#[test]
fn row27_back_off_expiry_restarts_and_tells_live_dependents_the_provider_is_back() {
    let mut rig = rig();
    rig.fault(PROVIDER);
    rig.ack(DEP_A, PROVIDER);
    rig.ack(DEP_B, PROVIDER);
    rig.unload(DEP_B);
    assert_eq!(rig.advance_to(9), []);
    assert_eq!(
        rig.advance_to(10),
        [
            (10, Restart { task: PROVIDER }),
            (
                10,
                Record(Restarted {
                    task: PROVIDER,
                    count: 1
                })
            ),
            (
                10,
                NotifyBack {
                    dependent: DEP_A,
                    provider: PROVIDER
                }
            ),
        ]
    );
    assert_eq!(rig.state(PROVIDER), TaskState::Running);
}

#[test]
fn row28_restart_request_while_backing_off_restarts_at_once() {
    let mut rig = rig();
    backing_off(&mut rig);
    rig.now = 3;
    assert_eq!(effects(&rig.restart(ALONE)), [Restart { task: ALONE }]);
    assert_eq!(rig.state(ALONE), TaskState::Running);
    assert_eq!(rig.sup.next_deadline(), None);
}

#[test]
fn row29_unload_while_backing_off_holds_without_a_second_detach() {
    let mut rig = rig();
    backing_off(&mut rig);
    assert_eq!(
        rig.unload(ALONE),
        [Record(Held {
            task: ALONE,
            reason: HoldReason::Unloaded
        })]
    );
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Unloaded));
}

#[test]
fn row30_load_or_restart_of_a_held_task_starts_it_without_back_off() {
    let not_booted = Policy {
        start_at_boot: false,
        ..BASE
    };
    let mut rig = rig_with(not_booted);
    assert_eq!(
        rig.state(ALONE),
        TaskState::Held(HoldReason::Unloaded),
        "never started at boot"
    );
    let actions = rig.event(Event::Load {
        task: ALONE,
        origin: Origin::Console,
    });
    assert_eq!(
        actions,
        [
            Record(Loaded {
                task: ALONE,
                origin: Origin::Console
            }),
            Restart { task: ALONE },
            Record(Restarted {
                task: ALONE,
                count: 1
            }),
        ]
    );
    held_stopped(&mut rig);
    assert_eq!(effects(&rig.restart(ALONE)), [Restart { task: ALONE }]);
    assert_eq!(rig.state(ALONE), TaskState::Running);
}

#[test]
fn row31_unload_of_an_unloaded_task_is_refused() {
    let mut rig = rig();
    rig.unload(ALONE);
    rig.refused(
        Event::Unload {
            task: ALONE,
            origin: Origin::Ipc,
        },
        Refusal::AlreadyUnloaded,
    );
}

#[test]
fn row32_unload_of_a_task_held_at_a_fault_makes_release_no_longer_restart_it() {
    let mut rig = rig();
    held_stopped(&mut rig);
    assert_eq!(
        rig.unload(ALONE),
        [Record(Held {
            task: ALONE,
            reason: HoldReason::Unloaded
        })]
    );
    assert_eq!(rig.event(Event::Release { task: ALONE }), []);
    assert_eq!(rig.state(ALONE), TaskState::Held(HoldReason::Unloaded));
}

#[test]
fn row33_load_of_a_task_that_is_not_held_is_refused() {
    let mut rig = rig();
    let load = |task| Event::Load {
        task,
        origin: Origin::Ipc,
    };
    rig.refused(load(ALONE), Refusal::NotHeld);
    rig.fault(PROVIDER);
    rig.refused(load(PROVIDER), Refusal::NotHeld);
    backing_off(&mut rig);
    rig.refused(load(ALONE), Refusal::NotHeld);
}

#[test]
fn row34_inject_fault_into_a_task_that_is_not_running_is_refused() {
    let mut rig = rig();
    let inject = |task| Event::InjectFault {
        task,
        origin: Origin::Ipc,
    };
    rig.restart(PROVIDER);
    rig.refused(inject(PROVIDER), Refusal::NotRunning);
    backing_off(&mut rig);
    rig.refused(inject(ALONE), Refusal::NotRunning);
    rig.unload(DEP_A);
    rig.refused(inject(DEP_A), Refusal::NotRunning);
}

#[test]
fn row35_fault_or_exit_of_a_detached_task_is_refused() {
    let mut rig = rig();
    backing_off(&mut rig);
    rig.refused(
        Event::Faulted {
            task: ALONE,
            fault: PANIC,
        },
        Refusal::NotRunning,
    );
    rig.refused(Event::Exited { task: ALONE }, Refusal::NotRunning);
    rig.unload(DEP_A);
    rig.refused(
        Event::Faulted {
            task: DEP_A,
            fault: PANIC,
        },
        Refusal::NotRunning,
    );
    rig.refused(Event::Exited { task: DEP_A }, Refusal::NotRunning);
}

#[test]
fn row36_every_event_naming_the_supervisor_or_a_missing_task_is_refused() {
    let mut rig = rig();
    let origin = Origin::Humility;
    for (task, reason) in [(0, Refusal::Supervisor), (5, Refusal::OutOfRange)] {
        for event in [
            Event::Faulted { task, fault: PANIC },
            Event::Exited { task },
            Event::CheckIn { task },
            Event::Ack {
                dependent: task,
                provider: PROVIDER,
            },
            Event::RestartRequest { task, origin },
            Event::Unload { task, origin },
            Event::Load { task, origin },
            Event::Hold { task },
            Event::Release { task },
            Event::InjectFault { task, origin },
        ] {
            rig.refused(event, reason);
        }
    }
    rig.fault(PROVIDER);
    let (result, _) = rig.try_event(Event::Ack {
        dependent: DEP_A,
        provider: 0,
    });
    assert_eq!(result, Err(Refusal::Supervisor));
}

#[test]
fn row37_ack_that_no_provider_awaits_is_refused() {
    let mut rig = rig();
    rig.refused(
        Event::Ack {
            dependent: DEP_A,
            provider: PROVIDER,
        },
        Refusal::AckNotAwaited,
    );
    rig.fault(PROVIDER);
    rig.advance_to(50);
    rig.refused(
        Event::Ack {
            dependent: DEP_A,
            provider: PROVIDER,
        },
        Refusal::AckNotAwaited,
    );
    rig.refused(
        Event::Ack {
            dependent: ALONE,
            provider: PROVIDER,
        },
        Refusal::AckNotAwaited,
    );
}
