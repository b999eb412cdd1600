//! Kernel time and per-task timers. Time is a 64-bit tick count (1 tick = 1 ms) kept by the
//! architecture layer (`TICKS`, which humility reads). Each task has one timer; when its
//! deadline passes, its notification bits are posted. A deadline already in the past posts
//! at once, so a task can never miss a wake-up by racing the clock.

use abi::syscall::TimerStatus;

use crate::arch;
use crate::err::UserError;
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
pub fn process_timers(tasks: &mut [Task], current: usize, now: Timestamp) -> NextTask {
    let mut hint = NextTask::Same;
    for i in 0..tasks.len() {
        let t = &mut tasks[i];
        if t.timer.deadline.is_some_and(|d| d <= now) {
            t.timer.deadline = None;
            if t.post(t.timer.to_post.0) {
                hint = hint.combine(sched::hint_after_wake(tasks, current, i));
            }
        }
    }
    hint
}

/// Time slicing among equals: at a tick, if another runnable task shares the running task's
/// priority, let it run next (round robin). More important tasks never wait for a tick.
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
