//! The supervisor's benchmarks, read by `cargo xtask bench` (`BENCH <key> <instructions>`
//! lines, then `BENCH DONE`).
//!
//! Time comes from `bench_api`'s clock, the shared CMSDK APB timer `timer0`: under
//! `-icount shift=0` a tick is 40 guest instructions. Every figure is the mean of
//! [`REPETITIONS`] runs, each started at a different phase of the tick
//! (`bench_api::dither`), which resolves below one tick.
//!
//! | Key | From | To |
//! |---|---|---|
//! | `restart_fault_to_running` | the faulting instruction in `server` | the first statement of the restarted `server`'s `main` |
//! | `restart_client_unblocked` | a client's call that makes `server` crash | the client woken with a dead code |
//! | `detach_with_dependents_4` | `restart(provider)` sent to jefe | the four dependents told, acknowledged, and `provider` detached |
//! | `unload_to_load_ready` | `unload(server)` sent to jefe | `load(server)` done and `server` back in its receive loop |
//!
//! A fault cannot time itself, so `restart_fault_to_running` is a difference: from a call
//! to the restarted server's first statement (which reads the clock, answered by `STARTED`),
//! less from a call to the point where `CRASH` would fault (`STAMP` reads the clock there).
//!
//! `server` and `provider` restart without back-off (`initial-ms = 0`, bounded by an
//! intensity limit), so the restart figures are the supervisor's own path.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use console_api::ConsoleClient;
use idol_runtime::zerocopy::FromZeros;
use jefe_api::{JefeClient, TaskInfo};
use jefe_test_api::server;
use supervision::TaskState;
use userlib::{
    Incarnation, TextBuf, peer_gone, sleep_for, sys_recv_notification, sys_send, task_slot,
};

task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(SERVER, server);
task_slot!(PROVIDER, provider);

/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
const REPETITIONS: u32 = 200;
/// Ticks from `earlier` (a `bench_api::now()` reading) to now.
fn since(earlier: u32) -> u64 {
    u64::from(bench_api::now().wrapping_sub(earlier))
}

fn say(args: core::fmt::Arguments<'_>) {
    let mut line = TextBuf::<96>::new();
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    let _ = ConsoleClient::new(CONSOLE).write(line.as_bytes());
}

fn report(key: &str, total_ticks: u64) {
    let reps = u64::from(REPETITIONS);
    let instructions = (total_ticks * bench_api::INSTRUCTIONS_PER_TICK + reps / 2) / reps;
    say(format_args!("BENCH {key} {instructions}"));
}

/// `server`'s `timer0` reading from operation `op` (`STAMP` or `STARTED`); `None` if the
/// call reached no live incarnation (`id` is refreshed).
fn stamp(id: &mut Incarnation, op: u16) -> Option<u32> {
    let mut reply = [0u8; 4];
    let (code, len) = sys_send(*id, op, &[], &mut reply, &[]);
    if let Some((_, current)) = peer_gone(*id, code, len) {
        *id = current;
        return None;
    }
    (code == 0 && len == 4).then(|| u32::from_ne_bytes(reply))
}

fn running(jefe: &JefeClient, task: Incarnation) -> bool {
    let mut info = [TaskInfo::new_zeroed()];
    jefe.list_tasks(task.index() as u16, &mut info).is_ok()
        && info[0].state() == Some(TaskState::Running)
}

/// Waits (sleeping, so lower-priority work such as rebinding finishes) until `task` runs.
fn settle(jefe: &JefeClient, task: Incarnation) {
    while !running(jefe, task) {
        sleep_for(1, TIMER);
    }
    sleep_for(2, TIMER);
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    bench_api::start_clock();
    let jefe = JefeClient::new(JEFE);
    let mut server = SERVER;
    sleep_for(10, TIMER);

    // From a call to the point where `CRASH` faults.
    let mut to_fault = 0;
    for rep in 0..REPETITIONS {
        bench_api::dither(rep);
        let start = bench_api::now();
        let Some(stamp) = stamp(&mut server, server::STAMP) else {
            panic!("STAMP not answered")
        };
        to_fault += u64::from(stamp.wrapping_sub(start));
    }

    let (mut to_main, mut unblocked) = (0, 0);
    for rep in 0..REPETITIONS {
        bench_api::dither(rep);
        let start = bench_api::now();
        let (code, second) = sys_send(server, server::CRASH, &[], &mut [], &[]);
        unblocked += since(start);
        let Some((_, current)) = peer_gone(server, code, second) else {
            panic!("CRASH returned code {code:#x}")
        };
        server = current;
        let started = loop {
            if let Some(started) = stamp(&mut server, server::STARTED) {
                break started;
            }
        };
        to_main += u64::from(started.wrapping_sub(start));
        settle(&jefe, SERVER);
    }
    report("restart_fault_to_running", to_main.saturating_sub(to_fault));
    report("restart_client_unblocked", unblocked);

    let mut detach = 0;
    for rep in 0..REPETITIONS {
        bench_api::dither(rep);
        let start = bench_api::now();
        let _ = jefe.restart(PROVIDER.index() as u16);
        detach += since(start);
        settle(&jefe, PROVIDER);
    }
    report("detach_with_dependents_4", detach);

    let mut reload = 0;
    for rep in 0..REPETITIONS {
        bench_api::dither(rep);
        let start = bench_api::now();
        let _ = jefe.unload(SERVER.index() as u16);
        let _ = jefe.load(SERVER.index() as u16);
        reload += since(start);
        settle(&jefe, SERVER);
    }
    report("unload_to_load_ready", reload);
    say(format_args!("BENCH DONE"));
    loop {
        sys_recv_notification(1 << 31);
    }
}
