//! The health checks, on snapshots read from the target: pure, so host tests pin each one.
//!
//! A snapshot is what humility's `tasks` and `counters jefe` show: every task's state and
//! generation from the kernel's task table, and jefe's per-task counters. Between two
//! snapshots every task must be unchanged, except the one task a cycle drove, whose changes
//! must be exactly the cycle's: one more restart (and one more fault when the cycle
//! injected one), one new generation, healthy again. Anything else is an anomaly, named in
//! the user's terms (hung, faulted, restarted, held, dependent did not let go, reset).

use std::fmt;

use crate::contract::TaskStatus;

/// jefe's counters for one task, as `humility counters jefe` shows `TASK_COUNTERS`: the
/// firmware's own struct, so a renamed counter breaks this build, not a test run.
pub use supervision::Counters;

/// The counter member names, in the order [`counters_from_members`] takes them.
pub const COUNTER_MEMBERS: [&str; 5] = [
    "faults",
    "restarts",
    "watchdog_expiries",
    "forced_detaches",
    "missed_acks",
];

pub fn counters_from_members(values: [u32; 5]) -> Counters {
    let [
        faults,
        restarts,
        watchdog_expiries,
        forced_detaches,
        missed_acks,
    ] = values;
    Counters {
        faults,
        restarts,
        watchdog_expiries,
        forced_detaches,
        missed_acks,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSnapshot {
    pub name: String,
    pub status: TaskStatus,
    /// `None` for a task jefe keeps no counters for (itself).
    pub counters: Option<Counters>,
}

impl TaskSnapshot {
    /// Running again: healthy and not stopped (held tasks are stopped).
    pub fn is_running(&self) -> bool {
        self.status.state == "Healthy" && self.status.detail != "Stopped"
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The kernel's `TICKS` (ms of virtual time since boot).
    pub ticks: u64,
    /// `KERNEL_EPITAPH` when `KERNEL_HAS_FAILED` is set.
    pub epitaph: Option<String>,
    pub tasks: Vec<TaskSnapshot>,
    /// The app's declared progress variables (`[tasks.X.restart-test] progress`), in order.
    pub progress: Vec<Progress>,
}

/// One declared progress variable and its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub task: String,
    pub variable: String,
    pub value: u32,
}

/// How a cycle drives its task, through `humility jefe`'s requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// `humility jefe -s`: restart the task.
    Restart,
    /// `humility jefe -f` then `-r`: inject a fault (jefe holds the task first), then release it.
    Fault,
    /// Unload (detach and hold), then load once detached: Bulkhead's own request words 5 and 6.
    UnloadLoad,
    /// The task is sent to `__bulkhead_stuck` (userlib), a loop in its own code, and spins
    /// from its next run on; its supervisor watchdog must catch it and restart it.
    Hang,
}

impl Trigger {
    pub fn parse(text: &str) -> Result<Trigger, String> {
        match text {
            "restart" => Ok(Trigger::Restart),
            "fault" => Ok(Trigger::Fault),
            "unload-load" => Ok(Trigger::UnloadLoad),
            "hang" => Ok(Trigger::Hang),
            other => Err(format!(
                "--trigger {other}: expected restart, fault, unload-load or hang"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Trigger::Restart => "restart",
            Trigger::Fault => "fault",
            Trigger::UnloadLoad => "unload-load",
            Trigger::Hang => "hang",
        }
    }

    /// The counters one cycle adds to the task it drives.
    fn expected_delta(self) -> Counters {
        let hang = u32::from(self == Trigger::Hang);
        Counters {
            // The watchdog ends a hang by injecting a fault.
            faults: u32::from(self == Trigger::Fault) + hang,
            restarts: 1,
            watchdog_expiries: hang,
            ..Counters::default()
        }
    }
}

/// Something that should not have happened, in the user's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// jefe counted neither `JEFE_EXTERNAL_REQUESTS` nor `ERRORS` within the timeout.
    NotAnswered {
        task: String,
        request: &'static str,
        waited_ms: u64,
    },
    /// jefe counted the request in `JEFE_EXTERNAL_ERRORS`.
    Refused { task: String, request: &'static str },
    /// The driven task was not running with a new generation within the recovery limit.
    DidNotComeBack {
        task: String,
        state: String,
        waited_ms: u64,
    },
    /// The driven task was not detached within the recovery limit after its unload.
    NotDetached {
        task: String,
        state: String,
        waited_ms: u64,
    },
    /// The driven task's generation moved by other than one.
    Generations {
        task: String,
        before: u32,
        after: u32,
    },
    /// A counter of the driven task moved by other than the cycle's amount.
    Counter {
        task: String,
        counter: &'static str,
        before: u32,
        after: u32,
        expected: u32,
    },
    /// A task's watchdog expired: it stopped checking in.
    Hung { task: String },
    /// A task that was not driven faulted.
    Faulted { task: String, fault: String },
    /// A task that was not driven restarted (new generation or restart count).
    Restarted {
        task: String,
        before: u32,
        after: u32,
    },
    /// A task that was running is stopped: the supervisor holds it (an escalation).
    Held { task: String },
    /// A dependent did not acknowledge a provider's going-away notice in time.
    DidNotLetGo { dependent: String, provider: String },
    /// The kernel's tick count went back: the system reset.
    Reset { before: u64, after: u64 },
    /// The kernel failed (`KERNEL_HAS_FAILED`).
    KernelFailed { epitaph: String },
    /// No `SysTick` for 10 s of real time: the system stopped ticking.
    Stalled,
    /// A declared progress variable did not change.
    NoProgress {
        task: String,
        variable: String,
        value: u32,
    },
    /// The driven task took longer than its declared `max-recovery-ms`.
    SlowRecovery { task: String, ms: u64, max_ms: u32 },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::NotAnswered {
                task,
                request,
                waited_ms,
            } => {
                write!(
                    f,
                    "{task}: jefe did not answer the {request} request within {waited_ms} ms"
                )
            }
            Anomaly::Refused { task, request } => {
                write!(f, "{task}: jefe refused the {request} request")
            }
            Anomaly::DidNotComeBack {
                task,
                state,
                waited_ms,
            } => {
                write!(
                    f,
                    "{task}: not running again {waited_ms} ms after the request (state: {state})"
                )
            }
            Anomaly::NotDetached {
                task,
                state,
                waited_ms,
            } => {
                write!(
                    f,
                    "{task}: not detached {waited_ms} ms after the unload request (state: {state})"
                )
            }
            Anomaly::Generations {
                task,
                before,
                after,
            } => {
                write!(
                    f,
                    "{task}: generation went {before} -> {after}, expected one restart"
                )
            }
            Anomaly::Counter {
                task,
                counter,
                before,
                after,
                expected,
            } => write!(
                f,
                "{task}: jefe's {counter} counter went {before} -> {after}, expected {}",
                before.wrapping_add(*expected)
            ),
            Anomaly::Hung { task } => write!(f, "{task}: hung (its watchdog expired)"),
            Anomaly::Faulted { task, fault } => {
                write!(f, "{task}: faulted ({fault}) though it was not driven")
            }
            Anomaly::Restarted {
                task,
                before,
                after,
            } => {
                write!(
                    f,
                    "{task}: restarted (generation {before} -> {after}) though it was not driven"
                )
            }
            Anomaly::Held { task } => write!(f, "{task}: held by the supervisor (stopped)"),
            Anomaly::DidNotLetGo {
                dependent,
                provider,
            } => {
                write!(
                    f,
                    "{dependent}: did not acknowledge {provider}'s going-away notice in time"
                )
            }
            Anomaly::Reset { before, after } => {
                write!(f, "the system reset (ticks {before} -> {after})")
            }
            Anomaly::KernelFailed { epitaph } => write!(f, "the kernel failed: {epitaph}"),
            Anomaly::Stalled => {
                write!(f, "the system stopped: no timer tick for 10 s of real time")
            }
            Anomaly::NoProgress {
                task,
                variable,
                value,
            } => {
                write!(f, "{task}: no progress: `{variable}` stayed at {value}")
            }
            Anomaly::SlowRecovery { task, ms, max_ms } => {
                write!(
                    f,
                    "{task}: took {ms} ms to run again, more than its max-recovery-ms = {max_ms}"
                )
            }
        }
    }
}

/// The kernel's generation field wraps at 64 (six bits of a task id).
const GENERATIONS: u32 = 64;

/// Anomalies between `before` and `after`, when `driven` (if any) went through one cycle of
/// `trigger` and every other task should be untouched.
pub fn compare(
    before: &Snapshot,
    after: &Snapshot,
    driven: Option<(usize, Trigger)>,
) -> Vec<Anomaly> {
    let mut found = Vec::new();
    if let Some(epitaph) = &after.epitaph {
        found.push(Anomaly::KernelFailed {
            epitaph: epitaph.clone(),
        });
    }
    if after.ticks < before.ticks {
        found.push(Anomaly::Reset {
            before: before.ticks,
            after: after.ticks,
        });
        return found;
    }
    for (index, (b, a)) in before.tasks.iter().zip(&after.tasks).enumerate() {
        let task = a.name.clone();
        let mut mine = Vec::new();
        let (bc, ac) = (
            b.counters.unwrap_or_default(),
            a.counters.unwrap_or_default(),
        );
        let hang_driven = driven == Some((index, Trigger::Hang));
        if ac.watchdog_expiries != bc.watchdog_expiries && !hang_driven {
            mine.push(Anomaly::Hung { task: task.clone() });
        }
        if ac.missed_acks != bc.missed_acks {
            // The provider that went away is the driven task when there is one.
            let provider = driven.map_or_else(
                || "a provider".to_owned(),
                |(d, _)| after.tasks[d].name.clone(),
            );
            mine.push(Anomaly::DidNotLetGo {
                dependent: task.clone(),
                provider,
            });
        }
        match driven {
            Some((d, trigger)) if d == index => {
                let want = trigger.expected_delta();
                for (counter, before, after, expected) in [
                    ("faults", bc.faults, ac.faults, want.faults),
                    ("restarts", bc.restarts, ac.restarts, want.restarts),
                    (
                        "watchdog_expiries",
                        bc.watchdog_expiries,
                        ac.watchdog_expiries,
                        want.watchdog_expiries,
                    ),
                ] {
                    if after.wrapping_sub(before) != expected {
                        mine.push(Anomaly::Counter {
                            task: task.clone(),
                            counter,
                            before,
                            after,
                            expected,
                        });
                    }
                }
                let (gb, ga) = (b.status.generation, a.status.generation);
                if ga != (gb + 1) % GENERATIONS {
                    mine.push(Anomaly::Generations {
                        task: task.clone(),
                        before: gb,
                        after: ga,
                    });
                }
                if !a.is_running() {
                    mine.push(stopped(a));
                }
            }
            _ => {
                if a.status.state == "Faulted" {
                    mine.push(Anomaly::Faulted {
                        task: task.clone(),
                        fault: a.status.detail.clone(),
                    });
                } else if ac.faults != bc.faults {
                    mine.push(Anomaly::Faulted {
                        task: task.clone(),
                        fault: "seen by jefe".into(),
                    });
                }
                if a.status.generation != b.status.generation || ac.restarts != bc.restarts {
                    mine.push(Anomaly::Restarted {
                        task: task.clone(),
                        before: b.status.generation,
                        after: a.status.generation,
                    });
                }
                if b.is_running() && !a.is_running() && a.status.state != "Faulted" {
                    mine.push(Anomaly::Held { task });
                }
            }
        }
        // A fault or hang explains the restarts and generations that follow it: report the
        // cause alone.
        if mine
            .iter()
            .any(|m| matches!(m, Anomaly::Hung { .. } | Anomaly::Faulted { .. }))
        {
            mine.retain(|m| {
                !matches!(
                    m,
                    Anomaly::Counter { .. }
                        | Anomaly::Generations { .. }
                        | Anomaly::Restarted { .. }
                )
            });
        }
        found.append(&mut mine);
    }
    for (b, a) in before.progress.iter().zip(&after.progress) {
        if a.value == b.value {
            found.push(Anomaly::NoProgress {
                task: a.task.clone(),
                variable: a.variable.clone(),
                value: a.value,
            });
        }
    }
    found
}

/// The anomaly for a driven task that is not running at the end of its cycle.
fn stopped(task: &TaskSnapshot) -> Anomaly {
    if task.status.state == "Faulted" {
        Anomaly::Faulted {
            task: task.name.clone(),
            fault: task.status.detail.clone(),
        }
    } else {
        Anomaly::Held {
            task: task.name.clone(),
        }
    }
}

/// A small seeded generator (SplitMix64): the same seed gives the same cycle instants on
/// every machine, which is what makes a reported seed reproduce a run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce5_e4b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// Minimum, median (the lower one of an even count) and maximum.
pub fn spread(values: &[u64]) -> Option<(u64, u64, u64)> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    Some((
        *sorted.first()?,
        sorted[(sorted.len() - 1) / 2],
        *sorted.last()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(
        name: &str,
        state: &str,
        detail: &str,
        generation: u32,
        counters: Counters,
    ) -> TaskSnapshot {
        TaskSnapshot {
            name: name.into(),
            status: TaskStatus {
                state: state.into(),
                detail: detail.into(),
                generation,
            },
            counters: Some(counters),
        }
    }

    fn snapshot(ticks: u64, tasks: Vec<TaskSnapshot>) -> Snapshot {
        Snapshot {
            ticks,
            epitaph: None,
            tasks,
            progress: Vec::new(),
        }
    }

    fn restarted(n: u32) -> Counters {
        Counters {
            restarts: n,
            ..Counters::default()
        }
    }

    /// driver (index 0) and a bystander (index 1), both running.
    fn calm(ticks: u64) -> Snapshot {
        snapshot(
            ticks,
            vec![
                task("driver", "Healthy", "InRecv", 3, restarted(3)),
                task("peer", "Healthy", "Runnable", 0, Counters::default()),
            ],
        )
    }

    #[test]
    fn a_clean_restart_cycle_has_no_anomaly() {
        let mut after = calm(200);
        after.tasks[0] = task("driver", "Healthy", "Runnable", 4, restarted(4));
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![]
        );
    }

    #[test]
    fn a_hang_cycle_expects_one_watchdog_expiry_fault_and_restart_and_no_hung_anomaly() {
        let caught = Counters {
            faults: 1,
            restarts: 4,
            watchdog_expiries: 1,
            ..Counters::default()
        };
        let mut after = calm(300);
        after.tasks[0] = task("driver", "Healthy", "InRecv", 4, caught);
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Hang))),
            vec![]
        );
        // The same counters after a plain restart are a hang nobody asked for.
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Hung {
                task: "driver".into()
            }]
        );
        // A hang the watchdog never saw (the task was restarted some other way) is counted.
        after.tasks[0] = task("driver", "Healthy", "InRecv", 4, restarted(4));
        let found = compare(&calm(100), &after, Some((0, Trigger::Hang)));
        assert!(
            found.contains(&Anomaly::Counter {
                task: "driver".into(),
                counter: "watchdog_expiries",
                before: 0,
                after: 0,
                expected: 1,
            }),
            "{found:?}"
        );
    }

    #[test]
    fn a_fault_cycle_expects_one_fault_and_one_restart() {
        let mut after = calm(200);
        after.tasks[0] = task(
            "driver",
            "Healthy",
            "InRecv",
            4,
            Counters {
                faults: 1,
                restarts: 4,
                ..Counters::default()
            },
        );
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Fault))),
            vec![]
        );
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Counter {
                task: "driver".into(),
                counter: "faults",
                before: 0,
                after: 1,
                expected: 0
            }]
        );
    }

    #[test]
    fn the_generation_wraps_at_64() {
        let mut before = calm(100);
        before.tasks[0].status.generation = 63;
        let mut after = calm(200);
        after.tasks[0] = task("driver", "Healthy", "InRecv", 0, restarted(4));
        assert_eq!(
            compare(&before, &after, Some((0, Trigger::Restart))),
            vec![]
        );
    }

    #[test]
    fn a_driven_task_restarted_twice_or_held_is_an_anomaly() {
        let mut twice = calm(200);
        twice.tasks[0] = task("driver", "Healthy", "InRecv", 5, restarted(5));
        let found = compare(&calm(100), &twice, Some((0, Trigger::Restart)));
        assert!(
            found.contains(&Anomaly::Generations {
                task: "driver".into(),
                before: 3,
                after: 5
            }),
            "{found:?}"
        );
        let mut held = calm(200);
        held.tasks[0] = task("driver", "Healthy", "Stopped", 4, restarted(4));
        assert_eq!(
            compare(&calm(100), &held, Some((0, Trigger::Restart))),
            vec![Anomaly::Held {
                task: "driver".into()
            }]
        );
    }

    #[test]
    fn a_bystander_fault_restart_or_hold_is_named() {
        let mut after = calm(200);
        after.tasks[0] = task("driver", "Healthy", "Runnable", 4, restarted(4));
        after.tasks[1] = task(
            "peer",
            "Faulted",
            "Panic",
            0,
            Counters {
                faults: 1,
                ..Counters::default()
            },
        );
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Faulted {
                task: "peer".into(),
                fault: "Panic".into()
            }]
        );
        after.tasks[1] = task(
            "peer",
            "Healthy",
            "Runnable",
            1,
            Counters {
                faults: 1,
                restarts: 1,
                ..Counters::default()
            },
        );
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Faulted {
                task: "peer".into(),
                fault: "seen by jefe".into()
            }]
        );
        after.tasks[1] = task("peer", "Healthy", "Runnable", 1, restarted(1));
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Restarted {
                task: "peer".into(),
                before: 0,
                after: 1
            }]
        );
        after.tasks[1] = task("peer", "Healthy", "Stopped", 0, Counters::default());
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Held {
                task: "peer".into()
            }]
        );
    }

    #[test]
    fn a_watchdog_expiry_is_a_hang_even_between_cycles() {
        let mut after = calm(300);
        after.tasks[0].counters = Some(Counters {
            watchdog_expiries: 1,
            ..restarted(3)
        });
        assert_eq!(
            compare(&calm(100), &after, None),
            vec![Anomaly::Hung {
                task: "driver".into()
            }]
        );
    }

    #[test]
    fn a_driven_task_that_hangs_after_coming_back_is_reported_as_hung_alone() {
        let mut after = calm(300);
        // Back, hung, caught by its watchdog (a fault), restarted again.
        after.tasks[0] = task(
            "driver",
            "Healthy",
            "Runnable",
            5,
            Counters {
                faults: 1,
                watchdog_expiries: 1,
                ..restarted(5)
            },
        );
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::Hung {
                task: "driver".into()
            }]
        );
    }

    #[test]
    fn a_missed_ack_names_the_dependent_and_the_provider() {
        let mut after = calm(200);
        after.tasks[0] = task("driver", "Healthy", "Runnable", 4, restarted(4));
        after.tasks[1].counters = Some(Counters {
            missed_acks: 1,
            ..Counters::default()
        });
        assert_eq!(
            compare(&calm(100), &after, Some((0, Trigger::Restart))),
            vec![Anomaly::DidNotLetGo {
                dependent: "peer".into(),
                provider: "driver".into()
            }]
        );
    }

    #[test]
    fn ticks_going_back_is_a_reset_and_an_epitaph_a_kernel_failure() {
        assert_eq!(
            compare(&calm(100), &calm(5), None),
            vec![Anomaly::Reset {
                before: 100,
                after: 5
            }]
        );
        let mut failed = calm(200);
        failed.epitaph = Some("BadTaskTable".into());
        assert_eq!(
            compare(&calm(100), &failed, None),
            vec![Anomaly::KernelFailed {
                epitaph: "BadTaskTable".into()
            }]
        );
    }

    #[test]
    fn a_declared_progress_variable_must_change() {
        let with = |ticks, value| Snapshot {
            progress: vec![Progress {
                task: "registry".into(),
                variable: "ACCEPTED".into(),
                value,
            }],
            ..calm(ticks)
        };
        assert_eq!(compare(&with(100, 7), &with(200, 9), None), vec![]);
        assert_eq!(
            compare(&with(100, 7), &with(200, 7), None),
            vec![Anomaly::NoProgress {
                task: "registry".into(),
                variable: "ACCEPTED".into(),
                value: 7
            }]
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_instants() {
        let draw = |seed| {
            let mut rng = Rng::new(seed);
            (0..8).map(|_| rng.between(1, 200)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|&v| (1..=200).contains(&v)));
    }

    #[test]
    fn spread_gives_min_lower_median_max() {
        assert_eq!(spread(&[5, 1, 9, 3]), Some((1, 3, 9)));
        assert_eq!(spread(&[4]), Some((4, 4, 4)));
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn triggers_parse_and_an_unknown_one_is_refused_with_the_choices() {
        assert_eq!(Trigger::parse("fault"), Ok(Trigger::Fault));
        assert_eq!(Trigger::parse("unload-load"), Ok(Trigger::UnloadLoad));
        assert_eq!(Trigger::parse("hang"), Ok(Trigger::Hang));
        assert!(
            Trigger::parse("bogus")
                .unwrap_err()
                .contains("expected restart, fault, unload-load or hang")
        );
    }
}
