//! The supervisor's benchmarks, read by `cargo xtask bench` (`BENCH <key> <instructions>`
//! lines, then `BENCH DONE`).
//!
//! Time comes from the CMSDK APB timer `timer0` (CTRL +0x0 bit 0 enable, VALUE +0x4
//! counting down, RELOAD +0x8), which QEMU clocks at 25 MHz. Under `-icount shift=0` a guest
//! instruction takes 1 ns, so a tick is 40 instructions; every figure is the mean of
//! [`REPETITIONS`] runs, each started at a different phase of the tick ([`dither`]), which
//! resolves below one tick.
//!
//! | Key | From | To |
//! |---|---|---|
//! | `restart_fault_to_running` | the faulting instruction in `server` | the first statement of the restarted `server`'s `main` |
//! | `restart_client_unblocked` | a client's call that makes `server` crash | the client woken with a dead code |
//!
//! A fault cannot time itself, so `restart_fault_to_running` is a difference: from a call
//! to the restarted server's first statement (which reads `timer0`, answered by `STARTED`),
//! less from a call to the point where `CRASH` would fault (`STAMP` reads `timer0` there).
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

/// A delay of `3 * (rep % 40 + 1)` instructions, so that successive repetitions start at
/// every phase of the timer's 40-instruction tick (3 and 40 are coprime): the sleeps
/// between them are whole milliseconds, which would otherwise lock every start to the same
/// phase and bias the mean by up to a tick.
fn dither(rep: u64) {
    let n = (rep % 40) as u32 + 1;
    // SAFETY: a register countdown; no memory, no stack.
    unsafe {
        core::arch::asm!("2:", "subs {n}, {n}, #1", "nop", "bne 2b", n = inout(reg) n => _, options(nomem, nostack))
    };
}

/// `server`'s `timer0` reading from operation `op` (`STAMP` or `STARTED`); `None` if the
/// call reached no live incarnation (`id` is refreshed).
fn stamp(id: &mut TaskId, op: u16) -> Option<u32> {
    let mut reply = [0u8; 4];
    let (code, len) = sys_send(*id, op, &[], &mut reply, &[]);
    if let Some(gone) = PeerGone::from_code(code) {
        *id = refresh_after(*id, gone);
        return None;
    }
    (code == 0 && len == 4).then(|| u32::from_ne_bytes(reply))
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

    // From a call to the point where `CRASH` faults.
    let mut to_fault = 0;
    for rep in 0..REPETITIONS {
        dither(rep);
        let start = timer.now();
        let Some(stamp) = stamp(&mut server, server::STAMP) else { panic!("STAMP not answered") };
        to_fault += u64::from(start.wrapping_sub(stamp));
    }

    let (mut to_main, mut unblocked) = (0, 0);
    for rep in 0..REPETITIONS {
        dither(rep);
        let start = timer.now();
        let (code, _) = sys_send(server, server::CRASH, &[], &mut [], &[]);
        unblocked += timer.since(start);
        let Some(gone) = PeerGone::from_code(code) else { panic!("CRASH returned code {code:#x}") };
        server = refresh_after(server, gone);
        let started = loop {
            if let Some(started) = stamp(&mut server, server::STARTED) {
                break started;
            }
        };
        to_main += u64::from(start.wrapping_sub(started));
        settle(&jefe, SERVER);
    }
    report("restart_fault_to_running", to_main.saturating_sub(to_fault));
    report("restart_client_unblocked", unblocked);

    let mut detach = 0;
    for rep in 0..REPETITIONS {
        dither(rep);
        let start = timer.now();
        let _ = jefe.restart(PROVIDER.index() as u16);
        detach += timer.since(start);
        settle(&jefe, PROVIDER);
    }
    report("detach_with_dependents_4", detach);

    let mut reload = 0;
    for rep in 0..REPETITIONS {
        dither(rep);
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
