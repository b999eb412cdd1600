//! Whole-story scenarios: crash loops, dependents that cooperate or not, the watchdog,
//! unload/load, humility's requests, chains and simultaneous failures.

use supervision::Action::*;
use supervision::Record::*;
use supervision::{
    Action, Cause, ConfigError, Escalation, Event, HoldReason, HumilityRequest,
    MAX_INTENSITY_RESTARTS, Origin, Policy, Refusal, RestartMode, Supervisor, TaskState,
};

use crate::rig::{BASE, INJECTED, PANIC, Rig, bit, effects, records, untimed};

/// Faults `task` (which has no dependents) and lets the back-off run out, `times` times;
/// returns each back-off delay and the actions of the fault that did not back off, if any.
fn crash_loop<const N: usize>(
    rig: &mut Rig<N>,
    task: usize,
    times: usize,
) -> (Vec<u32>, Vec<Action>) {
    let mut delays = Vec::new();
    for _ in 0..times {
        let actions = rig.fault(task);
        match records(&actions).last() {
            Some(BackingOff { delay_ms, .. }) => delays.push(*delay_ms),
            _ => return (delays, actions),
        }
        assert!(effects(&rig.fire()).contains(&Restart { task }));
    }
    (delays, Vec::new())
}

const LOOPING: Policy = Policy {
    backoff_initial_ms: 10,
    backoff_max_ms: 80,
    intensity_restarts: MAX_INTENSITY_RESTARTS,
    intensity_window_ms: 60_000,
    ..BASE
};

#[test]
fn crash_loop_back_off_doubles_from_the_initial_delay_and_caps_at_the_maximum() {
    let mut rig = Rig::new([BASE, LOOPING]);
    let (delays, _) = crash_loop(&mut rig, 1, 8);
    assert_eq!(delays, [10, 20, 40, 80, 80, 80, 80, 80]);
    assert_eq!(rig.status(1).counters.restarts, 8);
    assert_eq!(rig.status(1).strikes, 8);
}

#[test]
fn crash_loop_beyond_intensity_holds_the_task() {
    let mut rig = Rig::new([BASE, LOOPING]);
    let (delays, last) = crash_loop(&mut rig, 1, 9);
    assert_eq!(delays.len(), MAX_INTENSITY_RESTARTS as usize);
    assert_eq!(
        effects(&last),
        [Detach { task: 1 }],
        "detached so nobody blocks on it, and nothing else"
    );
    assert_eq!(
        records(&last)[3..],
        [
            Escalated {
                task: 1,
                to: Escalation::Hold
            },
            Held {
                task: 1,
                reason: HoldReason::Escalated
            }
        ]
    );
    assert_eq!(rig.sup.next_deadline(), None);
}

#[test]
fn crash_loop_beyond_intensity_restarts_the_dependents_through_their_own_cycle() {
    let provider = Policy {
        intensity_then: Escalation::RestartDependents,
        ..LOOPING
    };
    let dependent = Policy {
        depends_on: bit(1),
        ..BASE
    };
    let grand_dependent = Policy {
        depends_on: bit(2),
        ..BASE
    };
    let mut rig = Rig::new([BASE, provider, dependent, grand_dependent]);
    let limit = MAX_INTENSITY_RESTARTS;
    for _ in 0..limit {
        rig.fault(1);
        rig.ack(2, 1);
        rig.fire();
    }
    rig.fault(1);
    let actions = rig.ack(2, 1);
    assert_eq!(
        effects(&actions),
        [
            Detach { task: 1 },
            NotifyGoingAway {
                dependent: 3,
                provider: 2
            }
        ],
        "the provider backs off; the dependent starts its own cycle, telling its dependent"
    );
    assert!(records(&actions).contains(&Escalated {
        task: 1,
        to: Escalation::RestartDependents
    }));
    rig.ack(3, 2);
    let restarted: Vec<_> = untimed(rig.advance_to(rig.now + 80))
        .into_iter()
        .filter(|a| matches!(a, Restart { .. } | NotifyBack { .. }))
        .collect();
    assert_eq!(
        restarted,
        [
            Restart { task: 2 },
            NotifyBack {
                dependent: 3,
                provider: 2
            },
            Restart { task: 1 },
            NotifyBack {
                dependent: 2,
                provider: 1
            },
        ]
    );
    assert_eq!(rig.status(1).counters.restarts, limit + 1);
}

#[test]
fn crash_loop_beyond_intensity_with_reset_asks_for_one_system_reset() {
    let mut rig = Rig::new([
        BASE,
        Policy {
            intensity_then: Escalation::Reset,
            ..LOOPING
        },
    ]);
    let (_, last) = crash_loop(&mut rig, 1, 9);
    assert_eq!(effects(&last), [Detach { task: 1 }, ResetSystem]);
    assert_eq!(rig.state(1), TaskState::Held(HoldReason::Escalated));
}

#[test]
fn faults_spread_wider_than_the_window_never_escalate() {
    let policy = Policy {
        intensity_restarts: 1,
        intensity_window_ms: 1000,
        ..BASE
    };
    let mut rig = Rig::new([BASE, policy]);
    for _ in 0..5 {
        rig.fault(1);
        rig.fire();
        rig.advance_to(rig.now + 1000);
    }
    assert_eq!(rig.status(1).counters.restarts, 5);
    assert_eq!(rig.state(1), TaskState::Running);
}

#[test]
fn back_off_starts_over_after_a_run_as_long_as_the_window() {
    let policy = Policy {
        intensity_window_ms: 1000,
        ..LOOPING
    };
    let mut rig = Rig::new([BASE, policy]);
    let (delays, _) = crash_loop(&mut rig, 1, 3);
    assert_eq!(delays, [10, 20, 40]);
    assert_eq!(rig.status(1).next_backoff_ms, 80);
    rig.advance_to(rig.now + 999);
    let (delays, _) = crash_loop(&mut rig, 1, 1);
    assert_eq!(delays, [80], "999 ms is not stable yet");
    rig.advance_to(rig.now + 1000);
    let (delays, _) = crash_loop(&mut rig, 1, 1);
    assert_eq!(delays, [10]);
}

#[test]
fn requested_restarts_back_off_but_never_escalate() {
    let policy = Policy {
        intensity_restarts: 1,
        ..BASE
    };
    let mut rig = Rig::new([BASE, policy]);
    for _ in 0..20 {
        rig.restart(1);
        rig.fire();
    }
    assert_eq!(rig.state(1), TaskState::Running);
    assert_eq!(
        (rig.status(1).strikes, rig.status(1).counters.restarts),
        (0, 20)
    );
    assert_eq!(rig.status(1).next_backoff_ms, 5000);
}

#[test]
fn acknowledging_dependents_let_the_detach_happen_before_the_deadline_and_hear_back_after_restart()
{
    let dependent = Policy {
        depends_on: bit(1),
        ..BASE
    };
    let mut rig = Rig::new([BASE, BASE, dependent, dependent]);
    rig.fault(1);
    rig.now = 5;
    assert_eq!(effects(&rig.ack(3, 1)), []);
    rig.now = 12;
    assert_eq!(
        effects(&rig.ack(2, 1)),
        [Detach { task: 1 }],
        "at 12, before the deadline of 50"
    );
    assert_eq!(
        rig.advance_to(100)
            .into_iter()
            .filter(|(_, a)| !matches!(a, Action::Record(_)))
            .collect::<Vec<_>>(),
        [
            (22, Restart { task: 1 }),
            (
                22,
                NotifyBack {
                    dependent: 2,
                    provider: 1
                }
            ),
            (
                22,
                NotifyBack {
                    dependent: 3,
                    provider: 1
                }
            ),
        ]
    );
    assert_eq!(rig.status(1).counters.forced_detaches, 0);
}

#[test]
fn ignoring_dependent_is_forced_exactly_at_the_deadline_and_recorded() {
    let dependent = Policy {
        depends_on: bit(1),
        ..BASE
    };
    let provider = Policy {
        detach_deadline_ms: 30,
        reset_peripherals: 0b110,
        ..BASE
    };
    let mut rig = Rig::new([BASE, provider, dependent, dependent]);
    rig.now = 100;
    rig.fault(1);
    rig.ack(2, 1);
    let detach: Vec<_> = rig.advance_to(1000).into_iter().take(4).collect();
    assert_eq!(
        detach,
        [
            (
                130,
                Action::Record(DeadlineExpired {
                    provider: 1,
                    dependents_forced: bit(3)
                })
            ),
            (130, Detach { task: 1 }),
            (
                130,
                ResetPeripherals {
                    task: 1,
                    mask: 0b110
                }
            ),
            (130, Action::Record(Detached { task: 1 })),
        ]
    );
    assert_eq!(rig.status(3).counters.missed_acks, 1);
}

#[test]
fn watchdog_expiry_injects_a_fault_that_is_then_handled_like_any_fault() {
    let mut rig = Rig::new([
        BASE,
        Policy {
            watchdog_ms: Some(100),
            ..BASE
        },
    ]);
    rig.advance_to(50);
    rig.event(Event::CheckIn { task: 1 });
    let expiry = rig.advance_to(151);
    assert_eq!(
        expiry,
        [
            (151, Action::Record(WatchdogExpired { task: 1 })),
            (151, InjectFault { task: 1 })
        ]
    );
    rig.now = 152;
    let actions = rig.event(Event::Faulted {
        task: 1,
        fault: INJECTED,
    });
    assert_eq!(
        records(&actions)[..2],
        [
            Fault {
                task: 1,
                fault: INJECTED
            },
            DetachStarted {
                task: 1,
                cause: Cause::Fault,
                origin: Origin::Watchdog,
                dependents: 0
            },
        ]
    );
    assert!(effects(&rig.fire()).contains(&Restart { task: 1 }));
    assert_eq!(
        rig.sup.next_deadline(),
        Some(162 + 101),
        "re-armed from the restart"
    );
    let counters = rig.status(1).counters;
    assert_eq!(
        (
            counters.watchdog_expiries,
            counters.faults,
            counters.restarts
        ),
        (1, 1, 1)
    );
}

#[test]
fn unload_then_load_detaches_holds_and_brings_the_task_back_for_its_dependents() {
    let dependent = Policy {
        depends_on: bit(1),
        ..BASE
    };
    let mut rig = Rig::new([
        BASE,
        Policy {
            reset_peripherals: 1,
            ..BASE
        },
        dependent,
    ]);
    rig.unload(1);
    let unloaded = rig.ack(2, 1);
    assert_eq!(
        effects(&unloaded),
        [Detach { task: 1 }, ResetPeripherals { task: 1, mask: 1 }]
    );
    assert_eq!(rig.state(1), TaskState::Held(HoldReason::Unloaded));
    assert_eq!(
        rig.sup.next_deadline(),
        None,
        "nothing brings it back by itself"
    );
    rig.now = 10_000;
    let loaded = rig.event(Event::Load {
        task: 1,
        origin: Origin::Console,
    });
    assert_eq!(
        effects(&loaded),
        [
            Restart { task: 1 },
            NotifyBack {
                dependent: 2,
                provider: 1
            }
        ]
    );
    rig.refused(
        Event::Load {
            task: 1,
            origin: Origin::Console,
        },
        Refusal::NotHeld,
    );
}

#[test]
fn humility_hold_then_fault_stays_held_until_release_restarts_it() {
    let mut rig = Rig::new([
        BASE,
        Policy {
            restart: RestartMode::Always,
            ..BASE
        },
    ]);
    let mut actions = Vec::new();
    let hold = rig.sup.on_humility(0, 2, 1, &mut |a| actions.push(a));
    assert_eq!((hold, actions.len()), (Ok(()), 0));
    assert!(rig.status(1).hold);
    rig.fault(1);
    assert_eq!(rig.state(1), TaskState::Held(HoldReason::Stopped));
    let release = rig.sup.on_humility(0, 3, 1, &mut |a| actions.push(a));
    assert_eq!(release, Ok(()));
    assert_eq!(effects(&actions), [Restart { task: 1 }]);
    assert!(!rig.status(1).hold);
}

#[test]
fn humility_fault_holds_injects_and_leaves_the_task_held_at_its_fault() {
    let mut rig = Rig::new([BASE, BASE]);
    let mut actions = Vec::new();
    assert_eq!(
        rig.sup.on_humility(0, 4, 1, &mut |a| actions.push(a)),
        Ok(())
    );
    assert_eq!(actions, [InjectFault { task: 1 }]);
    let handled = rig.event(Event::Faulted {
        task: 1,
        fault: INJECTED,
    });
    assert!(records(&handled).contains(&DetachStarted {
        task: 1,
        cause: Cause::Fault,
        origin: Origin::Humility,
        dependents: 0,
    }));
    assert_eq!(rig.state(1), TaskState::Held(HoldReason::Stopped));
    let mut again = Vec::new();
    assert_eq!(
        rig.sup.on_humility(0, 4, 1, &mut |a| again.push(a)),
        Err(Refusal::NotRunning),
        "humility counts an error: nothing is running to fault"
    );
}

#[test]
fn humility_start_restarts_a_running_task_and_loads_a_held_one() {
    let mut rig = Rig::new([BASE, BASE]);
    let mut actions = Vec::new();
    assert_eq!(
        rig.sup.on_humility(0, 1, 1, &mut |a| actions.push(a)),
        Ok(())
    );
    assert!(records(&actions).contains(&DetachStarted {
        task: 1,
        cause: Cause::Restart,
        origin: Origin::Humility,
        dependents: 0,
    }));
    rig.unload(1);
    actions.clear();
    assert_eq!(
        rig.sup.on_humility(0, 1, 1, &mut |a| actions.push(a)),
        Ok(())
    );
    assert_eq!(effects(&actions), [Restart { task: 1 }]);
    assert_eq!(
        records(&actions)[0],
        Loaded {
            task: 1,
            origin: Origin::Humility
        }
    );
}

#[test]
fn external_unload_then_load_holds_the_task_unloaded_then_starts_it() {
    let mut rig = Rig::new([BASE, BASE]);
    let mut actions = Vec::new();
    assert_eq!(
        rig.sup
            .on_humility(0, HumilityRequest::Unload as u32, 1, &mut |a| actions
                .push(a)),
        Ok(())
    );
    assert!(records(&actions).contains(&DetachStarted {
        task: 1,
        cause: Cause::Unload,
        origin: Origin::Humility,
        dependents: 0,
    }));
    assert_eq!(rig.state(1), TaskState::Held(HoldReason::Unloaded));
    actions.clear();
    assert_eq!(
        rig.sup
            .on_humility(0, HumilityRequest::Unload as u32, 1, &mut |a| actions
                .push(a)),
        Err(Refusal::AlreadyUnloaded)
    );
    actions.clear();
    assert_eq!(
        rig.sup
            .on_humility(0, HumilityRequest::Load as u32, 1, &mut |a| actions.push(a)),
        Ok(())
    );
    assert_eq!(effects(&actions), [Restart { task: 1 }]);
    assert_eq!(
        records(&actions)[0],
        Loaded {
            task: 1,
            origin: Origin::Humility
        }
    );
    assert_eq!(
        rig.sup
            .on_humility(0, HumilityRequest::Load as u32, 1, &mut |_| {}),
        Err(Refusal::NotHeld),
        "a running task cannot be loaded"
    );
}

#[test]
fn humility_unknown_request_or_supervisor_index_counts_as_an_error() {
    let mut rig = Rig::new([BASE, BASE]);
    for (request, task, reason) in [
        (0, 1, Refusal::UnknownRequest),
        (7, 1, Refusal::UnknownRequest),
        (1, 0, Refusal::Supervisor),
        (4, 0, Refusal::Supervisor),
        (2, 9, Refusal::OutOfRange),
    ] {
        let mut actions = Vec::new();
        assert_eq!(
            rig.sup
                .on_humility(0, request, task, &mut |a| actions.push(a)),
            Err(reason)
        );
        assert_eq!(
            actions,
            [Action::Record(Refused {
                task: task as usize,
                reason
            })]
        );
    }
}

/// 1 <- 2 <- 3: task 2 depends on 1, task 3 on 2.
fn chain() -> Rig<4> {
    let on = |provider| Policy {
        depends_on: bit(provider),
        ..BASE
    };
    Rig::new([BASE, BASE, on(1), on(2)])
}

#[test]
fn chain_restart_of_the_root_involves_only_its_direct_dependent() {
    let mut rig = chain();
    assert_eq!(
        effects(&rig.fault(1)),
        [NotifyGoingAway {
            dependent: 2,
            provider: 1
        }]
    );
    rig.ack(2, 1);
    let back = effects(&rig.fire());
    assert_eq!(
        back,
        [
            Restart { task: 1 },
            NotifyBack {
                dependent: 2,
                provider: 1
            }
        ]
    );
    assert_eq!(rig.state(3), TaskState::Running);
}

#[test]
fn chain_middle_task_mid_detach_can_still_acknowledge_its_own_provider() {
    let mut rig = chain();
    rig.restart(2);
    assert_eq!(
        effects(&rig.fault(1)),
        [NotifyGoingAway {
            dependent: 2,
            provider: 1
        }]
    );
    assert_eq!(effects(&rig.ack(2, 1)), [Detach { task: 1 }]);
    assert!(
        matches!(rig.state(2), TaskState::Detaching { .. }),
        "still waiting for task 3"
    );
}

#[test]
fn chain_middle_task_detached_first_stops_its_provider_waiting_for_it() {
    let mut rig = chain();
    rig.restart(2);
    rig.fault(1);
    let actions = rig.ack(3, 2);
    assert_eq!(
        effects(&actions),
        [Detach { task: 2 }, Detach { task: 1 }],
        "a detached dependent cannot acknowledge, so task 1 no longer waits for it"
    );
    assert_eq!(rig.status(1).counters.forced_detaches, 0);
    let restarts: Vec<_> = effects(&untimed(rig.advance_to(100)))
        .into_iter()
        .filter(|a| !matches!(a, NotifyGoingAway { .. }))
        .collect();
    assert_eq!(
        restarts,
        [
            Restart { task: 1 },
            Restart { task: 2 },
            NotifyBack {
                dependent: 3,
                provider: 2
            },
        ],
        "both back at 10; task 2 was not live when task 1 came back, and looks it up as it starts"
    );
}

#[test]
fn two_providers_failing_at_once_run_independent_cycles_acknowledged_separately() {
    let both = Policy {
        depends_on: bit(1) | bit(2),
        ..BASE
    };
    let mut rig = Rig::new([
        BASE,
        BASE,
        Policy {
            detach_deadline_ms: 80,
            ..BASE
        },
        both,
    ]);
    rig.fault(1);
    rig.fault(2);
    assert_eq!(effects(&rig.ack(3, 2)), [Detach { task: 2 }]);
    assert!(matches!(rig.state(1), TaskState::Detaching { pending, .. } if pending == bit(3)));
    let forced = rig.advance_to(50);
    assert!(forced.contains(&(
        50,
        Action::Record(DeadlineExpired {
            provider: 1,
            dependents_forced: bit(3)
        })
    )));
    assert_eq!(rig.status(3).counters.missed_acks, 1);
}

#[test]
fn policy_tables_that_cannot_work_are_rejected() {
    let check = |policy: Policy| Supervisor::new(Box::leak(Box::new([BASE, policy, BASE]))).err();
    assert_eq!(
        check(Policy {
            depends_on: bit(3),
            ..BASE
        }),
        Some(ConfigError::DependencyOutOfRange { task: 1 })
    );
    assert_eq!(
        check(Policy {
            depends_on: bit(0),
            ..BASE
        }),
        Some(ConfigError::DependsOnSupervisor { task: 1 })
    );
    assert_eq!(
        check(Policy {
            depends_on: bit(1),
            ..BASE
        }),
        Some(ConfigError::DependsOnItself { task: 1 })
    );
    assert_eq!(
        check(Policy {
            intensity_restarts: MAX_INTENSITY_RESTARTS + 1,
            ..BASE
        }),
        Some(ConfigError::IntensityTooLarge { task: 1 })
    );
    assert_eq!(
        check(Policy {
            backoff_initial_ms: 11,
            backoff_max_ms: 10,
            ..BASE
        }),
        Some(ConfigError::BackoffInverted { task: 1 })
    );
    assert_eq!(
        check(Policy {
            depends_on: bit(2),
            ..BASE
        }),
        None
    );
}

#[test]
fn policy_table_is_checked_at_compile_time_and_the_supervisors_own_policy_is_ignored() {
    static POLICIES: [Policy; 3] = [
        Policy {
            depends_on: u32::MAX,
            ..BASE
        },
        BASE,
        Policy {
            depends_on: bit(1),
            ..BASE
        },
    ];
    const SUPERVISOR: Supervisor<3> = match Supervisor::new(&POLICIES) {
        Ok(s) => s,
        Err(_) => panic!("bad policy table"),
    };
    let mut sup = SUPERVISOR;
    let mut actions = Vec::new();
    sup.on_event(
        0,
        Event::Faulted {
            task: 1,
            fault: PANIC,
        },
        &mut |a| actions.push(a),
    )
    .unwrap();
    assert_eq!(
        effects(&actions),
        [NotifyGoingAway {
            dependent: 2,
            provider: 1
        }]
    );
}
