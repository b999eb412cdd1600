//! Kernel time and per-task timers. Time is a 64-bit tick count (1 tick = 1 ms) kept by the
//! architecture layer (`TICKS`, which humility reads). Each task has one timer; when its
//! deadline passes, its notification bits are posted. A deadline already in the past posts
//! at once, so a task can never miss a wake-up by racing the clock.
//!
//! The tick also bounds replies. A server that declares `reply-deadline-ms` promises to
//! answer every message within it; a client still waiting after that long means the server
//! lost the message (a corrupted server that went back to RECV without replying, or one
//! spinning while still checking in with its watchdog), and nothing else would ever wake the
//! client. The kernel then faults the server with `FaultInfo::Injected(client)`, which the
//! supervisor handles like any fault: the restart's detach wakes every client with a code.
//! `Injected` is reused, not a new variant, because humility cannot print a fault it does
//! not know (doc/humility-contract.md 3.3). Servers that legitimately hold a caller for
//! unbounded time (deferred replies that wait for a device) declare no deadline.

use abi::syscall::TimerStatus;
use abi::{FaultInfo, SchedState};

use crate::arch;
use crate::err::UserError;
use crate::lifecycle;
use crate::sched::{self, NextTask};
use crate::task::{NotificationSet, Task, Timestamp};

pub fn set_timer(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.timer_args();
    let t = &mut tasks[caller];
    t.timer.to_post = NotificationSet(args.notification);
    t.timer.deadline = args.deadline.map(Timestamp);
    if args.deadline.is_some_and(|d| d <= arch::now()) {
        t.timer.deadline = None;
        t.post(args.notification);
    }
    Ok(NextTask::Same)
}

pub fn get_timer(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let now = arch::now();
    let t = &mut tasks[caller];
    let status = TimerStatus {
        now,
        deadline: t.timer.deadline.map(|d| d.0),
        notification: t.timer.to_post.0,
    };
    t.save.set_results(&status.encode());
    Ok(NextTask::Same)
}

/// Fires every timer whose deadline is at or before `now`. Returns the scheduling hint for
/// the running task `current`: a woken, more important task preempts it.
#[inline]
pub fn process_timers(tasks: &mut [Task], current: usize, now: Timestamp) -> NextTask {
    let mut hint = NextTask::Same;
    for i in 0..tasks.len() {
        let t = &mut tasks[i];
        if t.timer.deadline.is_some_and(|d| d <= now) {
            t.timer.deadline = None;
            if t.post_out_of_line(t.timer.to_post.0) {
                hint = hint.combine(sched::hint_after_wake(tasks, current, i));
            }
        }
    }
    hint.combine(enforce_reply_deadlines(tasks, now))
}

/// Faults every healthy server that has left a client waiting for a reply for its
/// `reply_deadline` ticks or more (see the module doc).
#[inline]
fn enforce_reply_deadlines(tasks: &mut [Task], now: Timestamp) -> NextTask {
    let mut hint = NextTask::Same;
    for client in 0..tasks.len() {
        let Some(SchedState::InReply(server_id)) = tasks[client].healthy_state() else {
            continue;
        };
        let server = server_id.index();
        let Some(s) = tasks.get(server) else { continue };
        let deadline = s.descriptor.reply_deadline;
        let waited = u32::from((now.0 as u16).wrapping_sub(tasks[client].reply_since));
        // A server that already faulted, or was detached or restarted, is being dealt with:
        // its detach wakes the client.
        let live = s.healthy_state().is_some() && !s.detached && s.current_id() == server_id;
        if deadline == 0 || waited < deadline || !live {
            continue;
        }
        let by = tasks[client].current_id();
        let h = lifecycle::fault_task(tasks, server, FaultInfo::Injected(by));
        hint = hint.combine(h);
    }
    hint
}

/// Counts the tick for the task it interrupted (`Task::ticks_held`).
#[inline]
pub fn count_tick(tasks: &mut [Task], current: usize) {
    let held = &mut tasks[current].ticks_held;
    *held = held.wrapping_add(1);
}

/// Time slicing among equals: at a tick, if another runnable task shares the running task's
/// priority, let it run next (round robin). More important tasks never wait for a tick.
#[inline]
pub fn rotate_equals(tasks: &[Task], current: usize) -> NextTask {
    let p = tasks[current].priority;
    let peer_ready = tasks
        .iter()
        .enumerate()
        .any(|(i, t)| i != current && t.priority == p && t.is_runnable());
    if peer_ready {
        NextTask::Other
    } else {
        NextTask::Same
    }
}
