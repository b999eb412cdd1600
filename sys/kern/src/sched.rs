//! Fixed-priority scheduling: the most important runnable task runs; among equals, the next
//! one after the previous in table order (round robin). Selection is O(tasks), never
//! dependent on runtime history. An idle task at the lowest priority is always runnable,
//! which the builder guarantees; if none is, the kernel has failed.

use crate::task::Task;

/// What the scheduler should do after a syscall or interrupt.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NextTask {
    /// Keep running the current task.
    Same,
    /// Switch straight to this task: it is known to be the one `select` would pick.
    Specific(usize),
    /// Something changed; run a full selection.
    Other,
}

impl NextTask {
    /// Combines two hints: a full selection wins over any specific choice.
    pub fn combine(self, other: NextTask) -> NextTask {
        match (self, other) {
            (NextTask::Same, x) | (x, NextTask::Same) => x,
            (NextTask::Specific(a), NextTask::Specific(b)) if a == b => self,
            _ => NextTask::Other,
        }
    }
}

/// Picks the most important runnable task, scanning from the one after `previous` so that
/// equal-priority tasks take turns.
pub fn select(tasks: &[Task], previous: usize) -> usize {
    // Written without `%`, and testing the cached runnable byte before anything else: this
    // runs on every block and visits every task.
    let n = tasks.len();
    let mut best = None;
    let mut best_priority = u16::MAX;
    let mut i = previous;
    for _ in 0..n {
        i += 1;
        if i >= n {
            i = 0;
        }
        let t = &tasks[i];
        if t.is_runnable() && u16::from(t.priority.0) < best_priority {
            best = Some(i);
            best_priority = u16::from(t.priority.0);
        }
    }
    match best {
        Some(i) => i,
        None => crate::fail::kernel_fail(crate::fail::Epitaph::NothingRunnable),
    }
}

/// The hint for waking `woken` while `current` keeps running: switch only if the woken task
/// is more important.
pub fn hint_after_wake(tasks: &[Task], current: usize, woken: usize) -> NextTask {
    if tasks[woken]
        .priority
        .is_more_important_than(tasks[current].priority)
    {
        NextTask::Specific(woken)
    } else {
        NextTask::Same
    }
}

/// Resolves a hint into the index of the task to run next.
pub fn resolve(tasks: &[Task], current: usize, hint: NextTask) -> usize {
    match hint {
        NextTask::Same if tasks[current].is_runnable() => current,
        NextTask::Specific(i) => i,
        _ => select(tasks, current),
    }
}
