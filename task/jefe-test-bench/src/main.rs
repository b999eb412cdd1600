//! The supervisor's benchmarks, read by `cargo xtask bench` (`BENCH <key> <instructions>`
//! lines, then `BENCH DONE`).
//!
//! Time comes from the CMSDK APB timer `timer0` (CTRL +0x0 bit 0 enable, VALUE +0x4
//! counting down, RELOAD +0x8), which QEMU clocks at 25 MHz. Under `-icount shift=0` a guest
//! instruction takes 1 ns, so a tick is 40 instructions; every figure is the mean of
//! [`REPETITIONS`] runs, which resolves below one tick.
//!
//! | Key | From | To |
//! |---|---|---|
//! | `restart_fault_to_running` | a client's call that makes `server` crash | `server` answering again, less one call's round trip |
//! | `restart_client_unblocked` | the same call | the client woken with a dead code |
//! | `detach_with_dependents_4` | `restart(provider)` sent to jefe | the four dependents told, acknowledged, and `provider` detached |
//! | `unload_to_load_ready` | `unload(server)` sent to jefe | `load(server)` done and `server` back in its receive loop |
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
use userlib::*;

task_slot!(JEFE, jefe);
task_slot!(CONSOLE, console);
task_slot!(SERVER, server);
task_slot!(PROVIDER, provider);

/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
const REPETITIONS: u64 = 200;
/// QEMU's 25 MHz APB clock under `-icount shift=0` (1 ns per instruction).
const INSTRUCTIONS_PER_TICK: u64 = 40;

/// `timer0`, free-running from `u32::MAX` down.
struct Timer0;

impl Timer0 {
    const BASE: usize = 0x4000_0000;
    const CTRL: usize = 0x0;
    const VALUE: usize = 0x4;
    const RELOAD: usize = 0x8;

    fn start() -> Timer0 {
        // SAFETY: app.toml maps timer0 to this task only; these are its registers.
        unsafe {
            core::ptr::write_volatile((Self::BASE + Self::RELOAD) as *mut u32, u32::MAX);
            core::ptr::write_volatile((Self::BASE + Self::VALUE) as *mut u32, u32::MAX);
            core::ptr::write_volatile((Self::BASE + Self::CTRL) as *mut u32, 1);
        }
        Timer0
    }

    fn now(&self) -> u32 {
        // SAFETY: as in `start`.
        unsafe { core::ptr::read_volatile((Self::BASE + Self::VALUE) as *const u32) }
    }

    /// Ticks from `earlier` to now (the counter counts down).
    fn since(&self, earlier: u32) -> u64 {
        u64::from(earlier.wrapping_sub(self.now()))
    }
}

fn say(args: core::fmt::Arguments<'_>) {
    let mut line = TextBuf::<96>::new();
    let _ = line.write_fmt(args);
    let _ = line.write_str("\n");
    let _ = ConsoleClient::new(CONSOLE).write(line.as_bytes());
}

fn report(key: &str, total_ticks: u64) {
    let instructions = (total_ticks * INSTRUCTIONS_PER_TICK + REPETITIONS / 2) / REPETITIONS;
    say(format_args!("BENCH {key} {instructions}"));
}

fn ping(id: &mut TaskId) -> bool {
    let mut reply = [0u8; 8];
    let (code, _) = sys_send(*id, server::PING, &0u32.to_ne_bytes(), &mut reply, &[]);
    if let Some(gone) = PeerGone::from_code(code) {
        *id = refresh_after(*id, gone);
        return false;
    }
    code == 0
}

fn running(jefe: &JefeClient, task: TaskId) -> bool {
    let mut info = [TaskInfo::new_zeroed()];
    jefe.list_tasks(task.index() as u16, &mut info).is_ok() && info[0].state() == Some(TaskState::Running)
}

/// Waits (sleeping, so lower-priority work such as rebinding finishes) until `task` runs.
fn settle(jefe: &JefeClient, task: TaskId) {
    while !running(jefe, task) {
        sleep_for(1, TIMER);
    }
    sleep_for(2, TIMER);
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let timer = Timer0::start();
    let jefe = JefeClient::new(JEFE);
    let mut server = SERVER;
    sleep_for(10, TIMER);

    // One call's round trip, taken out of `restart_fault_to_running`.
    let start = timer.now();
    for _ in 0..REPETITIONS {
        ping(&mut server);
    }
    let round_trip = timer.since(start);

    let (mut to_running, mut unblocked) = (0, 0);
    for _ in 0..REPETITIONS {
        let start = timer.now();
        let (code, _) = sys_send(server, server::CRASH, &[], &mut [], &[]);
        unblocked += timer.since(start);
        if let Some(gone) = PeerGone::from_code(code) {
            server = refresh_after(server, gone);
        }
        while !ping(&mut server) {}
        to_running += timer.since(start);
        settle(&jefe, SERVER);
    }
    report("restart_fault_to_running", to_running.saturating_sub(round_trip));
    report("restart_client_unblocked", unblocked);

    let mut detach = 0;
    for _ in 0..REPETITIONS {
        let start = timer.now();
        let _ = jefe.restart(PROVIDER.index() as u16);
        detach += timer.since(start);
        settle(&jefe, PROVIDER);
    }
    report("detach_with_dependents_4", detach);

    let mut reload = 0;
    for _ in 0..REPETITIONS {
        let start = timer.now();
        let _ = jefe.unload(SERVER.index() as u16);
        let _ = jefe.load(SERVER.index() as u16);
        reload += timer.since(start);
        settle(&jefe, SERVER);
    }
    report("unload_to_load_ready", reload);
    say(format_args!("BENCH DONE"));
    loop {
        sys_recv_notification(1 << 31);
    }
}
