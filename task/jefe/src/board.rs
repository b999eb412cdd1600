//! Step 4 of the cycle, resetting a task's `reset-peripherals` through the board's reset
//! server `sys` (the task declaring `reset-request`), without ever blocking on it.
//!
//! jefe does not SEND to `sys`, which is less important and may fault or spin. It posts
//! `reset-request` and then waits, only for `sys` and only until [`RESET_DEADLINE_MS`], in a
//! closed receive that also takes its own timer; `sys` calls uphill to take the work and to
//! report it done (`jefe_api::reset`). While waiting jefe answers nobody else, but the wait
//! is bounded and jefe, the most important task, always runs when its timer fires. A `sys`
//! that is already down, or has not reported by the deadline, is treated as faulted: jefe
//! faults it through kernel IPC (its own policy restarts it) and the restart goes ahead
//! without the reset, logged as unanswered.
//!
//! Why a bounded wait and not an asynchronous reset: the policy keeps its simple order
//! (detach, reset, back off, restart) with no extra state, and a restarted driver never sees
//! a peripheral still in the middle of being reset.

use jefe_api::LogEvent;
use jefe_api::reset::{DONE, TAKE, Work, failed_mask};
use userlib::{
    Incarnation, ReplyFaultReason, TaskId, kipc, sys_get_timer, sys_post, sys_recv_closed,
    sys_reply, sys_reply_fault, sys_set_timer,
};

/// How long `sys` gets to reset a task's peripherals. A reset pulse takes microseconds;
/// this is time for `sys` to finish the request it is serving and be scheduled.
pub const RESET_DEADLINE_MS: u64 = 20;

/// Resets `task`'s peripherals selected by `mask`. Uses jefe's timer: the caller re-arms it.
pub fn reset_peripherals(task: usize, mask: u32) -> LogEvent {
    let Some((sys, request)) = crate::SYS else {
        return LogEvent::PeripheralResetSkipped { task, mask };
    };
    let status = kipc::read_task_status(sys);
    let sys_now = Incarnation::new(sys, status.restarts);
    let unanswered = LogEvent::PeripheralResetUnanswered { task, mask };
    if status.fault.is_some() || status.detached || sys_post(sys_now, request).is_err() {
        // Already down: its policy is restarting it, and nobody else can reset.
        return unanswered;
    }
    let deadline = sys_get_timer().now + RESET_DEADLINE_MS;
    sys_set_timer(Some(deadline), crate::TIMER_NOTIFICATION);
    let work = Work { task, mask };
    let mut taken = false;
    let mut message = [0u8; 4];
    loop {
        let msg = match sys_recv_closed(&mut message, crate::TIMER_NOTIFICATION, sys_now) {
            Ok(msg) => msg,
            // It died mid-reset; the fault notification brings it to the policy.
            Err(_) => return unanswered,
        };
        if msg.sender == TaskId::KERNEL {
            if sys_get_timer().now >= deadline {
                kipc::fault_task(sys);
                return unanswered;
            }
            continue;
        }
        let body = message.get(..msg.message_len);
        match msg.operation as u16 {
            TAKE if !taken && msg.message_len == 0 => {
                sys_reply(msg.sender, 0, &work.to_bytes());
                taken = true;
            }
            DONE if taken => match body.and_then(failed_mask) {
                Some(failed) => {
                    sys_reply(msg.sender, 0, &[]);
                    return match failed & mask {
                        0 => LogEvent::PeripheralsReset { task, mask },
                        failed => LogEvent::PeripheralResetFailed { task, mask: failed },
                    };
                }
                None => {
                    sys_reply_fault(msg.sender, ReplyFaultReason::BadMessageSize);
                    return unanswered;
                }
            },
            // Out of protocol: as faulty as a `sys` that never answers.
            _ => {
                sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation);
                return unanswered;
            }
        }
    }
}
