//! The supervisor's QEMU scenarios (`test/app/jefe-tests`, run by `cargo xtask test`).
//!
//! Each scenario drives jefe over its IPC interface (and the scenario tasks over raw IPC),
//! then checks what happened from three independent sides: jefe's event log (`read_log`,
//! with times), jefe's task table (`list_tasks`) and what the tasks themselves saw. Results
//! go to the console as `TEST <name> ok|FAIL <why>`; `restart_under_load_1000` is reported
//! by `hammer`, whose `hammer-done` notification ends the run with `TESTS DONE`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use abi::{FaultInfo, ReplyFaultReason};
use console_api::ConsoleClient;
use idol_runtime::CallError;
use idol_runtime::zerocopy::FromZeros;
use jefe_api::{JefeClient, JefeError, LogEntry, LogEvent, Logged, TaskInfo};
use jefe_test_api::dependent::{self as dop, Stats};
use jefe_test_api::{from_bytes, server, sys as sop, to_bytes};
use supervision::{Escalation, HoldReason, Record, TaskState};
use userlib::{
    Incarnation, PeerGone, ResetReason, TextBuf, peer_gone, sleep_for, sys_get_timer,
    sys_recv_notification, sys_refresh_incarnation, sys_send, sys_set_timer, task_slot,
};

task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(CRASHER, crasher);
task_slot!(INSTANT, instant);
task_slot!(PROVIDER, provider);
task_slot!(HUNG, hung);
task_slot!(STARVED, starved);
task_slot!(TARGET, target);
task_slot!(SYS, sys);
task_slot!(TIMED, timed);
task_slot!(DEP1, dep1);
task_slot!(DEP2, dep2);
task_slot!(DEP3, dep3);
task_slot!(DEP4, dep4);

/// app.toml: `notifications = ["timer", "hammer-done"]`.
const TIMER: u32 = 1 << 0;
const HAMMER_DONE: u32 = 1 << 1;

const DEPENDENTS: [Incarnation; 4] = [DEP1, DEP2, DEP3, DEP4];

/// app.toml policies the scenarios check against.
const CRASHER_BACKOFF_MS: [u32; 4] = [4, 8, 16, 32];
const PROVIDER_DEADLINE_MS: u32 = 30;
const RESTARTS_UNDER_LOAD: u32 = 1000;
/// task/jefe's `board::RESET_DEADLINE_MS`: how long jefe waits for `sys`.
const RESET_DEADLINE_MS: u32 = 20;

type Outcome = Result<(), Why>;

/// A failure's explanation: a fixed text and up to two numbers.
struct Why(&'static str, Option<u32>, Option<u32>);

macro_rules! check {
    ($cond:expr, $why:expr) => {
        if !$cond {
            return Err(Why($why, None, None));
        }
    };
    ($cond:expr, $why:expr, $a:expr) => {
        if !$cond {
            return Err(Why($why, Some($a as u32), None));
        }
    };
    ($cond:expr, $why:expr, $a:expr, $b:expr) => {
        if !$cond {
            return Err(Why($why, Some($a as u32), Some($b as u32)));
        }
    };
}

fn say(args: core::fmt::Arguments<'_>) {
    let mut line = TextBuf::<200>::new();
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    let _ = ConsoleClient::new(CONSOLE).write(line.as_bytes());
}

fn report(name: &str, outcome: Outcome) {
    match outcome {
        Ok(()) => say(format_args!("TEST {name} ok")),
        Err(Why(why, None, _)) => say(format_args!("TEST {name} FAIL {why}")),
        Err(Why(why, Some(a), None)) => say(format_args!("TEST {name} FAIL {why} ({a})")),
        Err(Why(why, Some(a), Some(b))) => say(format_args!("TEST {name} FAIL {why} ({a}, {b})")),
    }
}

fn jefe() -> JefeClient {
    JefeClient::new(JEFE)
}

fn now() -> u64 {
    sys_get_timer().now
}

fn sleep_ms(ms: u64) {
    sleep_for(ms, TIMER);
}

fn status(task: Incarnation) -> TaskInfo {
    let mut info = [TaskInfo::new_zeroed()];
    let _ = jefe().list_tasks(task.index() as u16, &mut info);
    info[0]
}

/// Polls jefe every millisecond until `done(status)`, for at most `timeout_ms`.
fn wait_for(
    task: Incarnation,
    timeout_ms: u64,
    done: impl Fn(&TaskInfo) -> bool,
) -> Option<TaskInfo> {
    let deadline = now() + timeout_ms;
    loop {
        let info = status(task);
        if done(&info) {
            return Some(info);
        }
        if now() >= deadline {
            return None;
        }
        sleep_ms(1);
    }
}

/// Asks jefe to restart `task` and waits up to 1 s for its next incarnation to run.
fn restart_and_await(task: Incarnation, not_back: &'static str) -> Outcome {
    let before = status(task).incarnation;
    check!(
        jefe().restart(task.index() as u16).is_ok(),
        "restart refused"
    );
    check!(running_after(task, before, 1000).is_some(), not_back);
    Ok(())
}

fn running_after(task: Incarnation, incarnation: u32, timeout_ms: u64) -> Option<TaskInfo> {
    wait_for(task, timeout_ms, |i| {
        i.state() == Some(TaskState::Running) && i.incarnation > incarnation
    })
}

/// jefe's log after event `after`, oldest first.
struct Events {
    events: [Option<Logged>; 64],
    count: usize,
}

impl Events {
    fn since(after: u32) -> Events {
        let mut out = Events {
            events: [None; 64],
            count: 0,
        };
        let mut after = after;
        loop {
            let mut entries = [LogEntry::new_zeroed(); 16];
            let n = usize::from(jefe().read_log(after, &mut entries).unwrap_or(0));
            if n == 0 {
                return out;
            }
            for entry in &entries[..n] {
                after = entry.seq;
                if out.count < out.events.len() {
                    out.events[out.count] = entry.decode();
                    out.count += 1;
                }
            }
        }
    }

    /// The newest event's number: a mark to read from later.
    fn mark() -> u32 {
        let mut after = 0;
        loop {
            let mut entries = [LogEntry::new_zeroed(); 16];
            let n = usize::from(jefe().read_log(after, &mut entries).unwrap_or(0));
            if n == 0 {
                return after;
            }
            after = entries[n - 1].seq;
        }
    }

    /// The time and event of `task`'s first peripheral reset.
    fn peripheral_reset(&self, of: Incarnation) -> Option<(u32, LogEvent)> {
        self.events[..self.count]
            .iter()
            .flatten()
            .find_map(|l| match l.event {
                LogEvent::PeripheralsReset { task, .. }
                | LogEvent::PeripheralResetSkipped { task, .. }
                | LogEvent::PeripheralResetFailed { task, .. }
                | LogEvent::PeripheralResetUnanswered { task, .. }
                    if task == of.index() =>
                {
                    Some((l.time_ms, l.event))
                }
                _ => None,
            })
    }

    fn records(&self) -> impl Iterator<Item = (u32, Record)> + '_ {
        self.events[..self.count]
            .iter()
            .flatten()
            .filter_map(|l| match l.event {
                LogEvent::Supervisor(r) => Some((l.time_ms, r)),
                _ => None,
            })
    }
}

fn send(task: Incarnation, op: u16, message: &[u8], reply: &mut [u8]) -> u32 {
    sys_send(sys_refresh_incarnation(task), op, message, reply, &[]).0
}

fn dependent_stats(dep: Incarnation) -> Stats {
    let mut reply = [0u8; 32];
    send(dep, dop::STATS, &[], &mut reply);
    Stats::from_words(from_bytes::<8>(&reply))
}

fn set_modes(modes: [u32; 4]) {
    for (dep, mode) in DEPENDENTS.iter().zip(modes) {
        send(*dep, dop::SET_MODE, &mode.to_ne_bytes(), &mut []);
    }
}

/// Why the system last reset, from jefe's first event (`None`: not held, or not a boot).
fn boot_reason() -> Option<ResetReason> {
    let events = Events::since(0);
    match events.events[..events.count].iter().flatten().next() {
        Some(Logged {
            seq: 1,
            event: LogEvent::Booted { reason },
            ..
        }) => Some(*reason),
        _ => None,
    }
}

/// Last, since it resets the system: jefe spins (`inject_fault(0)` in the `test-spin`
/// build), stops feeding the hardware watchdog, and the watchdog resets the system. The
/// next boot reports the result ([`after_the_watchdog_reset`]).
fn make_jefe_spin() -> ! {
    say(format_args!(
        "jefe-tests: jefe spins now; the watchdog must reset the system"
    ));
    let _ = jefe().inject_fault(0);
    say(format_args!(
        "TEST jefe_stuck_is_reset_by_the_watchdog FAIL jefe answered instead of spinning"
    ));
    say(format_args!("TESTS DONE"));
    park()
}

/// The boot after [`make_jefe_spin`], which the kernel says the watchdog caused. (Any other
/// reason runs the scenarios again, where the first one reports it.)
fn after_the_watchdog_reset() -> ! {
    report("jefe_stuck_is_reset_by_the_watchdog", Ok(()));
    say(format_args!("TESTS DONE"));
    park()
}

fn park() -> ! {
    loop {
        sys_recv_notification(1 << 31);
    }
}

/// Five crashes in a row: backs off 4, 8, 16, 32 ms (each restart no earlier than its
/// back-off after the detach), and the fifth exceeds `intensity = { restarts = 4 }` and is
/// held, exactly once; `load` brings it back.
fn crash_loop_backs_off_then_escalates() -> Outcome {
    let mark = Events::mark();
    let first = status(CRASHER).incarnation;
    for crash in 0..5u32 {
        let code = send(CRASHER, server::CRASH, &[], &mut []);
        check!(
            PeerGone::from_code(code).is_some(),
            "the caller of a crashing server got no dead code",
            code
        );
        let expected = first + crash + 1;
        let settled = wait_for(CRASHER, 1000, |i| {
            i.state() == Some(TaskState::Held(HoldReason::Escalated))
                || (i.state() == Some(TaskState::Running) && i.incarnation == expected)
        });
        check!(
            settled.is_some(),
            "crasher neither restarted nor was held within 1 s",
            crash
        );
    }
    let info = status(CRASHER);
    check!(
        info.state() == Some(TaskState::Held(HoldReason::Escalated)),
        "crasher is not held after the fifth crash",
        info.state
    );
    let events = Events::since(mark);
    let mut backoffs = 0;
    let mut escalations = 0;
    let mut restarts = 0;
    let mut backoff_at = None;
    for (time, record) in events.records() {
        match record {
            Record::BackingOff { task, delay_ms } if task == CRASHER.index() => {
                check!(backoffs < 4, "more than four back-offs", backoffs + 1);
                check!(
                    delay_ms == CRASHER_BACKOFF_MS[backoffs],
                    "back-off is not as configured",
                    delay_ms,
                    CRASHER_BACKOFF_MS[backoffs]
                );
                backoff_at = Some((time, delay_ms));
                backoffs += 1;
            }
            Record::Restarted { task, .. } if task == CRASHER.index() => {
                let Some((at, delay)) = backoff_at.take() else {
                    return Err(Why("a restart without a back-off before it", None, None));
                };
                check!(
                    time >= at + delay,
                    "restarted before its back-off had passed",
                    time - at,
                    delay
                );
                restarts += 1;
            }
            Record::Escalated { task, to } if task == CRASHER.index() => {
                check!(
                    to == Escalation::Hold,
                    "escalated to something other than hold"
                );
                check!(
                    backoffs == 4,
                    "escalated after the wrong number of restarts",
                    backoffs
                );
                escalations += 1;
            }
            _ => {}
        }
    }
    check!(
        backoffs == 4 && restarts == 4,
        "wrong number of back-offs or restarts",
        backoffs,
        restarts
    );
    check!(escalations == 1, "escalated other than once", escalations);
    check!(
        jefe().load(CRASHER.index() as u16).is_ok(),
        "load of the held crasher was refused"
    );
    check!(
        running_after(CRASHER, info.incarnation, 500).is_some(),
        "crasher did not come back after load"
    );
    Ok(())
}

/// `instant` restarts without back-off: the caller blocked on its crash is woken with
/// "restarted" and the new generation (jefe's detach and restart are one kernel call, so the
/// task is back by the time the caller runs), an immediate call with the refreshed id
/// reaches the new incarnation, and the log still shows the whole cycle.
fn zero_back_off_restart_wakes_the_caller_with_restarted() -> Outcome {
    let mark = Events::mark();
    let before = status(INSTANT).incarnation;
    let id = sys_refresh_incarnation(INSTANT);
    let (code, second) = sys_send(id, server::CRASH, &[], &mut [], &[]);
    let next = Incarnation::new(INSTANT.index(), id.generation.wrapping_add(1));
    check!(
        peer_gone(id, code, second) == Some((PeerGone::Restarted(next.id.generation()), next)),
        "the caller did not get \"restarted\" with the next incarnation",
        code
    );
    let id = next;
    let mut reply = [0u8; 8];
    let (code, len) = sys_send(id, server::PING, &7u32.to_ne_bytes(), &mut reply, &[]);
    check!(
        code == 0 && len == 8,
        "an immediate call to the new incarnation failed",
        code,
        len
    );
    check!(
        from_bytes::<2>(&reply)[0] == 7,
        "the new incarnation answered wrongly"
    );
    let info = status(INSTANT);
    check!(
        info.state() == Some(TaskState::Running) && info.incarnation == before + 1,
        "instant is not running its next incarnation",
        info.incarnation,
        before
    );
    let events = Events::since(mark);
    let mut seen = [false; 4];
    for (_, record) in events.records() {
        match record {
            Record::Fault {
                task,
                fault: FaultInfo::DivideByZero,
            } if task == INSTANT.index() => seen[0] = true,
            Record::DetachStarted { task, .. } if task == INSTANT.index() => seen[1] = seen[0],
            Record::Detached { task } if task == INSTANT.index() => seen[2] = seen[1],
            Record::Restarted { task, .. } if task == INSTANT.index() => seen[3] = seen[2],
            Record::BackingOff { task, .. } if task == INSTANT.index() => {
                return Err(Why(
                    "a back-off was recorded for a task without one",
                    None,
                    None,
                ));
            }
            _ => {}
        }
    }
    check!(
        seen == [true; 4],
        "the log lacks fault, detach started, detached, restarted in order"
    );
    Ok(())
}

/// A requested restart of `provider` with four acknowledging dependents: each is told,
/// acknowledges while the provider is still the incarnation it bound to (so before the
/// detach), no deadline expires, and each rebinds to the new incarnation.
fn acknowledging_dependents_let_go_then_rebind() -> Outcome {
    set_modes([dop::ACKNOWLEDGE; 4]);
    let mark = Events::mark();
    restart_and_await(PROVIDER, "provider did not restart within 1 s")?;
    sleep_ms(20);
    for (i, dep) in DEPENDENTS.iter().enumerate() {
        let s = dependent_stats(*dep);
        check!(
            s.notices == 1 && s.acks == 1,
            "a dependent was not told once or did not acknowledge",
            i + 1,
            s.acks
        );
        check!(
            s.let_go_in_time == 1,
            "a dependent let go only after the detach",
            i + 1
        );
        check!(
            s.rebinds == 1 && s.failures == 0,
            "a dependent did not rebind",
            i + 1,
            s.failures
        );
    }
    let events = Events::since(mark);
    let mut told = 0;
    for (_, record) in events.records() {
        match record {
            Record::DetachStarted {
                task, dependents, ..
            } if task == PROVIDER.index() => told = dependents,
            Record::DeadlineExpired { provider, .. } if provider == PROVIDER.index() => {
                return Err(Why(
                    "the deadline expired although every dependent acknowledged",
                    None,
                    None,
                ));
            }
            _ => {}
        }
    }
    let all = DEPENDENTS.iter().fold(0u32, |m, d| m | 1 << d.index());
    check!(told == all, "not every dependent was told", told, all);
    Ok(())
}

/// `dep4` ignores the notice: the provider is detached at the deadline anyway (not earlier,
/// not much later), `dep4` is recorded as forced, its stale id gets a dead code instead of
/// blocking, and it rebinds like the others.
fn ignoring_dependent_is_revoked_at_the_deadline() -> Outcome {
    set_modes([
        dop::ACKNOWLEDGE,
        dop::ACKNOWLEDGE,
        dop::ACKNOWLEDGE,
        dop::IGNORE,
    ]);
    let mark = Events::mark();
    restart_and_await(PROVIDER, "provider did not restart within 1 s")?;
    sleep_ms(20);
    let events = Events::since(mark);
    let (mut started, mut forced, mut detached) = (None, None, None);
    for (time, record) in events.records() {
        match record {
            Record::DetachStarted { task, .. } if task == PROVIDER.index() => started = Some(time),
            Record::DeadlineExpired {
                provider,
                dependents_forced,
            } if provider == PROVIDER.index() => forced = Some(dependents_forced),
            Record::Detached { task } if task == PROVIDER.index() => detached = Some(time),
            _ => {}
        }
    }
    let (Some(started), Some(detached)) = (started, detached) else {
        return Err(Why("no detach of the provider was logged", None, None));
    };
    check!(
        forced == Some(1 << DEP4.index()),
        "the forced dependents are not exactly dep4",
        forced.unwrap_or(0)
    );
    let waited = detached - started;
    check!(
        (PROVIDER_DEADLINE_MS..=PROVIDER_DEADLINE_MS + 5).contains(&waited),
        "detach not at the deadline",
        waited,
        PROVIDER_DEADLINE_MS
    );
    let s = dependent_stats(DEP4);
    check!(
        s.notices == 1 && s.acks == 0,
        "dep4 acknowledged although told to ignore",
        s.acks
    );
    check!(
        s.revoked == 1,
        "dep4's stale id did not end with a dead code",
        s.revoked,
        s.failures
    );
    check!(s.rebinds == 1, "dep4 did not rebind", s.rebinds);
    for dep in &DEPENDENTS[..3] {
        let s = dependent_stats(*dep);
        check!(
            s.acks == 1 && s.rebinds == 1,
            "an acknowledging dependent was disturbed",
            dep.index()
        );
    }
    check!(
        status(DEP4).missed_acks >= 1,
        "jefe did not count dep4's missed acknowledgement"
    );
    Ok(())
}

/// `hung` stops checking in: within its 50 ms watchdog period (plus a tick) jefe records the
/// expiry, injects a fault naming itself, and the fault is handled like any other.
fn hung_task_is_caught_by_its_watchdog() -> Outcome {
    let mark = Events::mark();
    let before = status(HUNG).incarnation;
    check!(
        send(HUNG, server::HANG, &[], &mut []) == 0,
        "hung did not take the hang request"
    );
    let hung_at = now();
    check!(
        running_after(HUNG, before, 1000).is_some(),
        "hung was not restarted within 1 s"
    );
    let events = Events::since(mark);
    let (mut expired, mut injected) = (None, false);
    for (time, record) in events.records() {
        match record {
            Record::WatchdogExpired { task } if task == HUNG.index() => expired = Some(time),
            Record::Fault {
                task,
                fault: FaultInfo::Injected(by),
            } if task == HUNG.index() => injected = by.index() == 0 && expired.is_some(),
            _ => {}
        }
    }
    let Some(expired) = expired else {
        return Err(Why("no watchdog expiry was logged", None, None));
    };
    let after = u64::from(expired).saturating_sub(hung_at);
    check!(after <= 50 + 12, "the watchdog fired late", after);
    check!(
        injected,
        "the expiry was not followed by a fault injected by jefe"
    );
    check!(
        status(HUNG).watchdog_expiries == 1,
        "jefe did not count the expiry",
        status(HUNG).watchdog_expiries
    );
    Ok(())
}

/// `hung` hogs the CPU and keeps checking in (`HOG`), so `starved`, below it, cannot run.
/// `starved`'s watchdog expires 51 ms later, jefe looks again one period (50 ms) on, sees that
/// `starved` held no tick while `hung` held them, and faults `hung`: `Starved` is logged, the
/// fault is jefe's, and `starved` lives on in the same incarnation. This task, below both,
/// runs again only once `hung` is gone.
fn a_task_starving_a_watched_one_is_faulted_not_the_starved_one() -> Outcome {
    let mark = Events::mark();
    let (hog_before, starved_before) = (status(HUNG), status(STARVED));
    let hog_at = now();
    check!(
        send(HUNG, server::HOG, &[], &mut []) == 0,
        "hung did not take the hog request"
    );
    let back = now();
    check!(
        running_after(HUNG, hog_before.incarnation, 1000).is_some(),
        "hung was not restarted within 1 s"
    );
    let events = Events::since(mark);
    let (mut starved_at, mut injected, mut expired) = (None, false, false);
    for (time, record) in events.records() {
        match record {
            Record::Starved { task, hog } if task == STARVED.index() && hog == HUNG.index() => {
                starved_at = Some(time)
            }
            Record::Fault {
                task,
                fault: FaultInfo::Injected(by),
            } if task == HUNG.index() => injected = by.index() == 0 && starved_at.is_some(),
            Record::WatchdogExpired { .. } | Record::Fault { .. } => expired = true,
            _ => {}
        }
    }
    let Some(starved_at) = starved_at else {
        return Err(Why("no Starved record names starved and hung", None, None));
    };
    check!(!expired, "another watchdog expired or another task faulted");
    check!(injected, "Starved was not followed by jefe's fault of hung");
    // `starved` last checked in at most 10 ms before the hog began; its first look comes
    // 51 ms after that check-in, the second 50 ms later.
    let after = u64::from(starved_at).saturating_sub(hog_at);
    check!(
        after >= 91,
        "jefe blamed hung before its second look",
        after
    );
    check!(after <= 101 + 12, "jefe blamed hung late", after);
    check!(
        back.saturating_sub(hog_at) >= after,
        "this task ran while hung hogged the CPU",
        back.saturating_sub(hog_at)
    );
    let starved = status(STARVED);
    check!(
        starved.incarnation == starved_before.incarnation,
        "the starved task was restarted",
        starved.incarnation
    );
    check!(
        starved.watchdog_expiries == starved_before.watchdog_expiries + 1,
        "jefe did not count starved's expiry",
        starved.watchdog_expiries
    );
    check!(
        status(HUNG).watchdog_expiries == hog_before.watchdog_expiries,
        "hung's own watchdog was counted",
        status(HUNG).watchdog_expiries
    );
    Ok(())
}

/// Unload `provider`: dependents let go, it is held, and calls to it fail at once with
/// "unavailable" (1000 calls within a few ticks, none blocks); `load` starts it again and
/// the dependents rebind. A second unload and a load of a running task are refused.
fn unload_then_load_clients_fail_promptly() -> Outcome {
    set_modes([dop::ACKNOWLEDGE; 4]);
    let index = PROVIDER.index() as u16;
    let before = status(PROVIDER).incarnation;
    check!(jefe().unload(index).is_ok(), "unload refused");
    let held = wait_for(PROVIDER, 1000, |i| {
        i.state() == Some(TaskState::Held(HoldReason::Unloaded))
    });
    check!(held.is_some(), "provider was not unloaded within 1 s");
    check!(
        jefe().unload(index) == Err(CallError::Op(JefeError::AlreadyUnloaded)),
        "a second unload was not refused"
    );
    let start = now();
    for _ in 0..1000 {
        let mut reply = [0u8; 8];
        let code = send(PROVIDER, server::PING, &0u32.to_ne_bytes(), &mut reply);
        check!(
            matches!(PeerGone::from_code(code), Some(PeerGone::Unavailable(_))),
            "a call to the unloaded provider did not fail with unavailable",
            code
        );
    }
    let took = now() - start;
    check!(took <= 20, "calls to the unloaded provider were slow", took);
    for dep in DEPENDENTS {
        let s = dependent_stats(dep);
        check!(
            s.acks == 1 && s.rebinds == 0,
            "a dependent was not told of the unload, or rebound early",
            dep.index()
        );
    }
    check!(jefe().load(index).is_ok(), "load refused");
    let loaded = running_after(PROVIDER, before, 1000);
    check!(loaded.is_some(), "provider did not start after load");
    check!(
        jefe().load(index) == Err(CallError::Op(JefeError::NotHeld)),
        "a load of a running task was not refused"
    );
    let mut reply = [0u8; 8];
    check!(
        send(PROVIDER, server::PING, &0u32.to_ne_bytes(), &mut reply) == 0,
        "the loaded provider does not answer"
    );
    sleep_ms(20);
    for dep in DEPENDENTS {
        check!(
            dependent_stats(dep).rebinds == 1,
            "a dependent did not rebind after the load",
            dep.index()
        );
    }
    Ok(())
}

/// `timed`'s timer1 registers as its current incarnation found them: `[ctrl, reload, value]`.
fn timer_at_start() -> Option<[u32; 3]> {
    let mut reply = [0u8; 12];
    (send(TIMED, server::TIMER_AT_START, &[], &mut reply) == 0).then(|| from_bytes::<3>(&reply))
}

/// A restart of `timed`, which left timer1 running: `sys` resets the timer between the
/// detach and the restart, so the new incarnation finds every register at its reset value,
/// and the log says the reset was done, before the restart.
fn restarted_task_finds_its_peripheral_reset() -> Outcome {
    let running = timer_at_start();
    check!(running.is_some(), "timed does not answer");
    let mark = Events::mark();
    restart_and_await(TIMED, "timed did not restart within 1 s")?;
    let Some([ctrl, reload, value]) = timer_at_start() else {
        return Err(Why("the restarted timed does not answer", None, None));
    };
    check!(
        ctrl == 0 && reload == 0,
        "the restarted task found timer1 not reset (ctrl, reload)",
        ctrl,
        reload
    );
    check!(
        value == 0,
        "the restarted task found timer1 counting",
        value
    );
    let events = Events::since(mark);
    let reset = events.peripheral_reset(TIMED);
    let expected = LogEvent::PeripheralsReset {
        task: TIMED.index(),
        mask: 1,
    };
    check!(
        reset.map(|(_, e)| e) == Some(expected),
        "the log does not say timer1 was reset through sys"
    );
    let restarted = events.records().find_map(|(time, r)| {
        matches!(r, Record::Restarted { task, .. } if task == TIMED.index()).then_some(time)
    });
    check!(
        restarted >= reset.map(|(time, _)| time),
        "the restart was logged before the reset"
    );
    Ok(())
}

/// `sys` takes the work of `timed`'s reset and then spins: jefe stops waiting at its
/// deadline, faults `sys` itself (fault `Injected` by jefe), restarts `timed` anyway and
/// logs the reset as unanswered; `sys` is restarted by its own policy (the next scenario
/// checks it serves again).
fn hung_sys_does_not_stall_jefe() -> Outcome {
    check!(
        send(
            SYS,
            sop::SET_MODE,
            &sop::HANG_MID_RESET.to_ne_bytes(),
            &mut []
        ) == 0,
        "sys did not take the mode"
    );
    let mark = Events::mark();
    let sys_before = status(SYS).incarnation;
    let asked = now();
    restart_and_await(TIMED, "timed was not restarted within 1 s")?;
    check!(
        running_after(SYS, sys_before, 1000).is_some(),
        "sys was not restarted within 1 s"
    );
    let events = Events::since(mark);
    let Some((time, event)) = events.peripheral_reset(TIMED) else {
        return Err(Why("no peripheral reset of timed was logged", None, None));
    };
    check!(
        event
            == LogEvent::PeripheralResetUnanswered {
                task: TIMED.index(),
                mask: 1
            },
        "the reset was not logged as unanswered"
    );
    let waited = u64::from(time).saturating_sub(asked);
    check!(
        waited <= u64::from(RESET_DEADLINE_MS) + 5,
        "jefe waited for sys past its deadline",
        waited,
        RESET_DEADLINE_MS
    );
    let faulted = events.records().any(|(_, r)| {
        matches!(r, Record::Fault { task, fault: FaultInfo::Injected(by) } if task == SYS.index() && by.index() == 0)
    });
    check!(faulted, "jefe did not fault the hung sys");
    check!(
        jefe().task_count().is_ok(),
        "jefe does not answer after the hang"
    );
    Ok(())
}

/// Requests jefe must refuse, with the reason.
fn refusals_name_their_reason() -> Outcome {
    check!(
        jefe().restart(0) == Err(CallError::Op(JefeError::Supervisor)),
        "restarting jefe was not refused"
    );
    check!(
        jefe().unload(0) == Err(CallError::Op(JefeError::Supervisor)),
        "unloading jefe was not refused"
    );
    check!(
        jefe().restart(200) == Err(CallError::Op(JefeError::NoSuchTask)),
        "an unknown task was not refused"
    );
    check!(
        jefe().ack_detach(PROVIDER.index() as u16) == Err(CallError::Op(JefeError::AckNotAwaited)),
        "an unsolicited ack was not refused"
    );
    Ok(())
}

/// Has `hung`, which may send to jefe (to check in) but is not in `control-callers`, ask
/// jefe for `request` of `instant`, and checks the refusal: jefe reply-faults `hung` with
/// `AccessViolation` before its policy sees the request, so `hung`'s caller (this task) gets
/// a dead code and `hung` comes back as after any fault.
fn ask_through_hung(request: u32, what: &'static str) -> Outcome {
    let mark = Events::mark();
    let before = status(HUNG).incarnation;
    let message = to_bytes::<2, 8>([request, INSTANT.index() as u32]);
    let code = send(HUNG, server::ASK_JEFE, &message, &mut []);
    check!(PeerGone::from_code(code).is_some(), what, code);
    check!(
        running_after(HUNG, before, 1000).is_some(),
        "hung was not restarted within 1 s after its refusal"
    );
    let refused = Events::since(mark).records().any(|(_, r)| {
        matches!(r, Record::Fault {
            task,
            fault: FaultInfo::FromServer(by, ReplyFaultReason::AccessViolation),
        } if task == HUNG.index() && by.index() == 0)
    });
    check!(
        refused,
        "hung's fault was not jefe's AccessViolation reply-fault"
    );
    Ok(())
}

/// A task not in `control-callers` may not restart, unload or load anyone: each request is
/// refused and the task it names is left as it was (running, then held).
fn unlisted_caller_cannot_restart_unload_or_load() -> Outcome {
    let before = status(INSTANT);
    check!(
        before.state() == Some(TaskState::Running),
        "instant is not running before the scenario",
        before.state
    );
    ask_through_hung(server::RESTART, "jefe did not refuse hung's restart")?;
    ask_through_hung(server::UNLOAD, "jefe did not refuse hung's unload")?;
    let after = status(INSTANT);
    check!(
        after.state() == Some(TaskState::Running) && after.incarnation == before.incarnation,
        "instant was disturbed by a refused restart or unload",
        after.incarnation,
        before.incarnation
    );
    let index = INSTANT.index() as u16;
    check!(jefe().unload(index).is_ok(), "the driver's unload refused");
    let held = |i: &TaskInfo| i.state() == Some(TaskState::Held(HoldReason::Unloaded));
    check!(
        wait_for(INSTANT, 1000, held).is_some(),
        "instant was not unloaded within 1 s"
    );
    ask_through_hung(server::LOAD, "jefe did not refuse hung's load")?;
    check!(
        held(&status(INSTANT)),
        "instant was loaded by a refused load",
        status(INSTANT).state
    );
    check!(jefe().load(index).is_ok(), "the driver's load refused");
    check!(
        running_after(INSTANT, before.incarnation, 1000).is_some(),
        "instant did not come back after the driver's load"
    );
    Ok(())
}

/// Restarts `target` 1000 times while `hammer` calls it; `hammer` reports the outcome.
fn restart_target_under_load() {
    let index = TARGET.index() as u16;
    for n in 0..RESTARTS_UNDER_LOAD {
        let before = status(TARGET).incarnation;
        if jefe().restart(index).is_err() || running_after(TARGET, before, 1000).is_none() {
            say(format_args!(
                "TEST restart_under_load_1000 FAIL restart {n} did not complete within 1 s"
            ));
            return;
        }
    }
    sys_set_timer(Some(now() + 5000), TIMER);
    if sys_recv_notification(HAMMER_DONE | TIMER) & HAMMER_DONE == 0 {
        say(format_args!(
            "TEST restart_under_load_1000 FAIL the hammering client did not finish (a call hung?)"
        ));
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    say(format_args!("jefe-tests: driver up"));
    // Let every task reach its first receive.
    sleep_ms(20);
    let reason = boot_reason();
    if reason == Some(ResetReason::Watchdog) {
        after_the_watchdog_reset();
    }
    // QEMU's fresh boot: the kernel found no reset record in its no-init RAM.
    let power_on = if reason == Some(ResetReason::PowerOn) {
        Ok(())
    } else {
        Err(Why(
            "jefe's first event is not a boot after power-on",
            reason.map(|r| r as u32),
            None,
        ))
    };
    report("first_event_is_the_boot_with_its_reset_reason", power_on);
    report(
        "crash_loop_backs_off_then_escalates",
        crash_loop_backs_off_then_escalates(),
    );
    report(
        "zero_back_off_restart_wakes_the_caller_with_restarted",
        zero_back_off_restart_wakes_the_caller_with_restarted(),
    );
    report(
        "acknowledging_dependents_let_go_then_rebind",
        acknowledging_dependents_let_go_then_rebind(),
    );
    report(
        "ignoring_dependent_is_revoked_at_the_deadline",
        ignoring_dependent_is_revoked_at_the_deadline(),
    );
    report(
        "hung_task_is_caught_by_its_watchdog",
        hung_task_is_caught_by_its_watchdog(),
    );
    report(
        "a_task_starving_a_watched_one_is_faulted_not_the_starved_one",
        a_task_starving_a_watched_one_is_faulted_not_the_starved_one(),
    );
    report(
        "unload_then_load_clients_fail_promptly",
        unload_then_load_clients_fail_promptly(),
    );
    report("refusals_name_their_reason", refusals_name_their_reason());
    report(
        "unlisted_caller_cannot_restart_unload_or_load",
        unlisted_caller_cannot_restart_unload_or_load(),
    );
    report(
        "restarted_task_finds_its_peripheral_reset",
        restarted_task_finds_its_peripheral_reset(),
    );
    report(
        "hung_sys_does_not_stall_jefe",
        hung_sys_does_not_stall_jefe(),
    );
    report(
        "restarted_sys_serves_the_next_reset",
        restarted_task_finds_its_peripheral_reset(),
    );
    restart_target_under_load();
    make_jefe_spin()
}
