//! A supervised server for the supervisor's scenarios: `PING` answers with a tag naming this
//! incarnation, `CRASH` faults (divide by zero) with the caller waiting, `HANG` stops
//! everything, including the watchdog check-ins of the `watched` build. The `stamps` build
//! also answers `STAMP` and `STARTED` with readings of `bench_api`'s clock (the shared
//! `timer0`), for the supervisor's benchmarks. The `peripheral` build reads `timer1` as its
//! first act, answers `TIMER_AT_START` with what it found, and then starts the timer, so a
//! restart shows whether jefe had `sys` reset the timer before this incarnation ran. The
//! `asks-jefe` build passes `ASK_JEFE` on to jefe: the scenarios' task that jefe's
//! `control-callers` does not list, asking anyway. The `hog` build (a `watched` one) takes
//! `HOG`: it loops checking in with its timer in the past, starving every less important task.
#![no_std]
#![no_main]

use jefe_test_api::{from_bytes, server as op, to_bytes};
use userlib::{
    RecvMessage, ReplyFaultReason, TaskId, sys_get_timer, sys_recv_notification, sys_recv_open,
    sys_reply, sys_reply_fault,
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
    let mut buf = [0u8; 8];
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
                let [seq] = from_bytes::<1>(&buf);
                reply(&msg, &to_bytes::<2, 8>([seq, incarnation_tag]));
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
                reply(&msg, &stamp.to_ne_bytes());
            }
            #[cfg(feature = "stamps")]
            op::STARTED => reply(&msg, &started.to_ne_bytes()),
            #[cfg(feature = "peripheral")]
            op::TIMER_AT_START => {
                let r = timer_at_start;
                reply(&msg, &to_bytes::<3, 12>([r.ctrl, r.reload, r.value]));
            }
            #[cfg(feature = "asks-jefe")]
            op::ASK_JEFE => {
                if msg.message_len != buf.len() {
                    sys_reply_fault(msg.sender, ReplyFaultReason::BadMessageSize);
                    continue;
                }
                let [request, task] = from_bytes::<2>(&buf);
                let jefe = jefe_api::JefeClient::new(userlib::SUPERVISOR);
                let task = task as u16;
                let answer = match request {
                    op::RESTART => jefe.restart(task),
                    op::UNLOAD => jefe.unload(task),
                    op::LOAD => jefe.load(task),
                    _ => {
                        sys_reply_fault(msg.sender, ReplyFaultReason::BadMessageContents);
                        continue;
                    }
                };
                sys_reply(msg.sender, u32::from(answer.is_err()), &[]);
            }
            #[cfg(feature = "hog")]
            op::HOG => {
                sys_reply(msg.sender, 0, &[]);
                loop {
                    sys_set_timer(Some(0), TIMER);
                    sys_recv_notification(TIMER);
                    check_in();
                }
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

/// Replies `message`, or reply-faults a caller whose buffer cannot hold it. The kernel faults
/// a server whose reply overflows its client's buffer (the client told it the capacity), so
/// without this check any client could kill the server with a short buffer: the fault
/// campaign's rogue did, with a `PING` and a reply buffer under 8 bytes.
fn reply(msg: &RecvMessage, message: &[u8]) {
    if msg.response_capacity < message.len() {
        sys_reply_fault(msg.sender, ReplyFaultReason::ReplyBufferTooSmall);
    } else {
        sys_reply(msg.sender, 0, message);
    }
}
