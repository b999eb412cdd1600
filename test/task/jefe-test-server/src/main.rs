//! A supervised server for the supervisor's scenarios: `PING` answers with a tag naming this
//! incarnation, `CRASH` faults (divide by zero) with the caller waiting, `HANG` stops
//! everything, including the watchdog check-ins of the `watched` build. The `stamps` build
//! also answers `STAMP` and `STARTED` with readings of `bench_api`'s clock (the shared
//! `timer0`), for the supervisor's benchmarks. The `peripheral` build reads `timer1` as its
//! first act, answers `TIMER_AT_START` with what it found, and then starts the timer, so a
//! restart shows whether jefe had `sys` reset the timer before this incarnation ran.
#![no_std]
#![no_main]

use jefe_test_api::{server as op, to_bytes};
use userlib::{
    ReplyFaultReason, TaskId, sys_get_timer, sys_recv_notification, sys_recv_open, sys_reply,
    sys_reply_fault,
};
#[cfg(feature = "watched")]
use userlib::{check_in, sys_set_timer};

/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
#[cfg(feature = "watched")]
const CHECK_IN_MS: u64 = 10;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    #[cfg(feature = "stamps")]
    let started = bench_api::now();
    #[cfg(feature = "peripheral")]
    let timer_at_start = {
        // SAFETY: app.toml maps timer1 into `peripheral` builds (`uses = ["timer1"]`).
        let timer = unsafe { drv_cmsdk_timer::Timer::new(drv_cmsdk_timer::TIMER1) };
        let found = timer.registers();
        // Leave it far from its reset state: running, with a reload and a count.
        timer.start(0x00FF_FFFF);
        found
    };
    #[cfg(feature = "watched")]
    sys_set_timer(Some(sys_get_timer().now + CHECK_IN_MS), TIMER);
    // Names this incarnation: with a back-off of at least 1 ms no two start in the same tick
    // (a task configured without back-off may repeat a tag; no scenario relies on it there).
    let incarnation_tag = sys_get_timer().now as u32;
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, TIMER);
        if msg.sender == TaskId::KERNEL {
            #[cfg(feature = "watched")]
            {
                check_in();
                sys_set_timer(Some(sys_get_timer().now + CHECK_IN_MS), TIMER);
            }
            continue;
        }
        match msg.operation as u16 {
            op::PING => {
                let seq = u32::from_ne_bytes(buf);
                let reply: [u8; 8] = to_bytes([seq, incarnation_tag]);
                sys_reply(msg.sender, 0, &reply);
            }
            op::CRASH => {
                let zero = core::hint::black_box(0u32);
                // A hardware divide by zero (the kernel enables DIV_0_TRP): Rust's own `/`
                // would panic first and format a message, which is not a crash we measure.
                // SAFETY: the instruction traps on purpose; the task never resumes.
                unsafe {
                    core::arch::asm!("udiv {0}, {0}, {1}", inout(reg) 1u32 => _, in(reg) zero)
                };
            }
            #[cfg(feature = "stamps")]
            op::STAMP => {
                let stamp = bench_api::now();
                sys_reply(msg.sender, 0, &stamp.to_ne_bytes());
            }
            #[cfg(feature = "stamps")]
            op::STARTED => sys_reply(msg.sender, 0, &started.to_ne_bytes()),
            #[cfg(feature = "peripheral")]
            op::TIMER_AT_START => {
                let r = timer_at_start;
                let reply: [u8; 12] = to_bytes([r.ctrl, r.reload, r.value]);
                sys_reply(msg.sender, 0, &reply);
            }
            op::HANG => {
                sys_reply(msg.sender, 0, &[]);
                loop {
                    sys_recv_notification(1 << 31);
                }
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
