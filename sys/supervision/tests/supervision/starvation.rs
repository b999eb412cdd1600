//! Rows 6a-6c: a watched task that misses its check-in while more important tasks hold the
//! CPU (crate docs, "Starvation").

use supervision::Action::*;
use supervision::Record::*;
use supervision::{Event, Policy, TaskState};

use crate::rig::{BASE, Rig};

const HIGH: usize = 1;
const HOG: usize = 2;
const WATCHED: usize = 3;
const EQUAL: usize = 4;
const LOW: usize = 5;

/// Priorities 1, 2, 3, 3, 4 below the supervisor; `WATCHED` checks in every 100 ms (or
/// `period`), everything else is unwatched and blocked until a test makes it busy.
fn rig(period: u32) -> Rig<6> {
    let at = |priority| Policy { priority, ..BASE };
    Rig::new([
        at(0),
        at(1),
        at(2),
        Policy {
            watchdog_ms: Some(period),
            ..at(3)
        },
        at(3),
        at(4),
    ])
}

/// The first look at 101: `WATCHED` busy, its rivals' ticks noted. Nothing is done yet.
fn first_look(rig: &mut Rig<6>) {
    rig.cpu.busy[WATCHED] = true;
    rig.cpu.ticks[WATCHED] = 7;
    rig.cpu.busy[HOG] = true;
    rig.cpu.ticks[HOG] = 200;
    assert_eq!(
        rig.advance_to(101),
        [],
        "a busy task with rivals gets a second look"
    );
    assert_eq!(rig.sup.next_deadline(), Some(201), "one period of grace");
}

/// The second look at 201 must blame a hog for `WATCHED`'s starvation: which one.
fn hog_at_201(rig: &mut Rig<6>) -> usize {
    match rig.advance_to(201).first() {
        Some(&(201, Record(Starved { task, hog }))) if task == WATCHED => hog,
        other => panic!("no Starved record for WATCHED at 201: {other:?}"),
    }
}

#[test]
fn row06b_the_rival_that_held_the_cpu_is_faulted_and_the_starved_task_spared() {
    let mut rig = rig(100);
    first_look(&mut rig);
    // 90 ticks later the hog's count has wrapped: the difference is what counts.
    rig.cpu.ticks[HOG] = 200u8.wrapping_add(90);
    assert_eq!(
        rig.advance_to(201),
        [
            (
                201,
                Record(Starved {
                    task: WATCHED,
                    hog: HOG
                })
            ),
            (201, InjectFault { task: HOG })
        ]
    );
    assert_eq!(rig.status(WATCHED).counters.watchdog_expiries, 1);
    assert_eq!(rig.status(HOG).counters.watchdog_expiries, 0);
    assert_eq!(rig.state(WATCHED), TaskState::Running);
    assert_eq!(
        rig.sup.next_deadline(),
        Some(302),
        "the starved task gets a whole period again"
    );
    // The hog's injected fault is handled like any other.
    let restart = rig.event(Event::Faulted {
        task: HOG,
        fault: crate::rig::INJECTED,
    });
    assert!(restart.contains(&Record(Fault {
        task: HOG,
        fault: crate::rig::INJECTED
    })));
}

#[test]
fn row06b_of_several_busy_rivals_the_one_that_held_the_most_ticks_is_faulted() {
    let mut rig = rig(100);
    rig.cpu.busy[HIGH] = true;
    rig.cpu.ticks[HIGH] = 50;
    first_look(&mut rig);
    rig.cpu.ticks[HIGH] = 60;
    rig.cpu.ticks[HOG] = 200u8.wrapping_add(80);
    assert_eq!(hog_at_201(&mut rig), HOG);

    // Now the more important one takes the CPU and the first one waits for it.
    let mut rig = self::rig(100);
    rig.cpu.busy[HIGH] = true;
    rig.cpu.ticks[HIGH] = 50;
    first_look(&mut rig);
    rig.cpu.ticks[HIGH] = 140;
    rig.cpu.ticks[HOG] = 201;
    assert_eq!(hog_at_201(&mut rig), HIGH);
}

/// The campaign's livelock: a server that checks in on every turn of a loop leaves most ticks
/// to the supervisor, which answers it; it may hold none itself.
#[test]
fn row06b_ticks_the_supervisor_held_are_laid_at_the_most_important_busy_rivals_door() {
    let mut rig = rig(100);
    rig.cpu.busy[HIGH] = true;
    first_look(&mut rig);
    rig.cpu.ticks[0] = 90;
    assert_eq!(hog_at_201(&mut rig), HIGH);

    // A rival that held ticks is still preferred to the supervisor's callers.
    let mut rig = self::rig(100);
    rig.cpu.busy[HIGH] = true;
    first_look(&mut rig);
    rig.cpu.ticks[0] = 90;
    rig.cpu.ticks[HOG] = 201;
    assert_eq!(hog_at_201(&mut rig), HOG);
}

#[test]
fn row06c_a_task_that_held_a_tick_during_the_grace_spins_and_is_faulted_itself() {
    let mut rig = rig(100);
    first_look(&mut rig);
    rig.cpu.ticks[WATCHED] = 8;
    rig.cpu.ticks[HOG] = 250;
    assert_eq!(
        rig.advance_to(201),
        [
            (201, Record(WatchdogExpired { task: WATCHED })),
            (201, InjectFault { task: WATCHED })
        ]
    );
    assert_eq!(rig.status(WATCHED).counters.watchdog_expiries, 1);
}

#[test]
fn row06c_without_a_rival_still_busy_that_held_ticks_the_task_itself_is_faulted() {
    let expired = [
        (201, Record(WatchdogExpired { task: WATCHED })),
        (201, InjectFault { task: WATCHED }),
    ];
    // The rival held ticks but is blocked now: nobody holds the CPU any more.
    let mut rig = rig(100);
    first_look(&mut rig);
    rig.cpu.ticks[HOG] = 250;
    rig.cpu.busy[HOG] = false;
    assert_eq!(rig.advance_to(201), expired);
    // Nobody held a tick: nothing says who took the CPU.
    let mut rig = self::rig(100);
    first_look(&mut rig);
    assert_eq!(rig.advance_to(201), expired);
    // The task no longer waits for the CPU: whatever it waits for, it did not check in.
    let mut rig = self::rig(100);
    first_look(&mut rig);
    rig.cpu.ticks[HOG] = 250;
    rig.cpu.busy[WATCHED] = false;
    assert_eq!(rig.advance_to(201), expired);
}

#[test]
fn row06_a_blocked_task_or_one_without_rivals_is_faulted_at_once() {
    let expired = [
        (101, Record(WatchdogExpired { task: WATCHED })),
        (101, InjectFault { task: WATCHED }),
    ];
    let mut rig = rig(100);
    rig.cpu.busy[HOG] = true;
    assert_eq!(rig.advance_to(101), expired, "blocked");

    // Busy, with only an equal and a less important task busy too; the more important
    // ones are held.
    let mut rig = self::rig(100);
    for task in [HIGH, HOG] {
        rig.unload(task);
    }
    rig.cpu.busy = [true; 32];
    assert_eq!(
        untimed_records(rig.advance_to(101)),
        [WatchdogExpired { task: WATCHED }],
        "equals are time-sliced and do not starve it; held tasks do not run"
    );
    let _ = (EQUAL, LOW);
}

#[test]
fn row07_a_check_in_during_the_grace_ends_the_matter() {
    let mut rig = rig(100);
    first_look(&mut rig);
    rig.now = 150;
    rig.event(Event::CheckIn { task: WATCHED });
    assert_eq!(rig.sup.next_deadline(), Some(251));
    rig.cpu.ticks[HOG] = 250;
    assert_eq!(rig.advance_to(250), []);
}

#[test]
fn the_grace_is_at_most_100_ms_so_that_tick_counts_cannot_wrap() {
    let mut rig = rig(1000);
    rig.cpu.busy[WATCHED] = true;
    rig.cpu.busy[HOG] = true;
    assert_eq!(rig.advance_to(1001), []);
    assert_eq!(rig.sup.next_deadline(), Some(1101));
}

#[test]
fn a_restart_forgets_the_first_look() {
    let mut rig = rig(100);
    first_look(&mut rig);
    rig.restart(WATCHED);
    let back = rig.advance_to(rig.now + 10);
    assert!(back.iter().any(|(_, a)| *a == Restart { task: WATCHED }));
    let restarted_at = back.last().map(|&(t, _)| t).unwrap();
    assert_eq!(rig.sup.next_deadline(), Some(restarted_at + 101));
}

fn untimed_records(actions: Vec<(u64, supervision::Action)>) -> Vec<supervision::Record> {
    actions
        .into_iter()
        .filter_map(|(_, a)| match a {
            Record(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// A first look notes its rivals' ticks afresh; one at the same instant as another task's
/// second look must come after it, or that second look finds the hog held nothing.
#[test]
fn a_first_look_at_the_instant_of_a_second_look_does_not_hide_the_hog() {
    const HOG: usize = 1;
    const FIRST: usize = 2;
    const SECOND: usize = 3;
    let watched = |priority| Policy {
        priority,
        watchdog_ms: Some(100),
        ..BASE
    };
    let mut rig = Rig::new([
        Policy {
            priority: 0,
            ..BASE
        },
        Policy {
            priority: 1,
            ..BASE
        },
        watched(3),
        watched(2),
    ]);
    rig.cpu.busy[..4].copy_from_slice(&[false, true, true, true]);
    rig.now = 100;
    rig.event(Event::CheckIn { task: FIRST });
    assert_eq!(rig.advance_to(101), [], "SECOND's first look");
    rig.cpu.ticks[HOG] = 100;
    assert_eq!(
        rig.advance_to(201),
        [
            (
                201,
                Record(Starved {
                    task: SECOND,
                    hog: HOG
                })
            ),
            (201, InjectFault { task: HOG })
        ],
        "FIRST's first look comes at 201 too, after SECOND's second"
    );
}
