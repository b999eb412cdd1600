//! Fixed-priority scheduling: the most important runnable task runs; among equals, the next
//! one after the previous in table order (round robin). Selection walks the tasks in
//! priority order (`TaskDesc::sched_next`) up to the first runnable one, never dependent on
//! runtime history. An idle task at the lowest priority is always runnable,
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

/// Picks the most important runnable task; among equals, the first after `previous` in
/// table order (wrapping), so that equal-priority tasks take turns.
// Out of line: inlined into `syscall_entry`, it cost that function's IPC paths more than
// the call saves (measured: `ipc_roundtrip_0b` 621 inlined, 576 out of line).
#[inline(never)]
pub fn select(tasks: &[Task], previous: usize) -> usize {
    // This runs on every block. It walks the tasks in scheduling order (`sched_next`, from
    // task 0, which the builder makes the most important: app-config's rule) and stops at
    // the first runnable one: the blocked tasks more important than the answer are all it
    // visits, where a scan of the table tested every task. Like the MPU words, the chain is
    // the builder's, not checked at boot (16 bytes of start-up code the flash budget lacks);
    // host builds check every selection against the scan below.
    let mut first = 0;
    let found = loop {
        let Some(t) = tasks.get(first) else {
            crate::fail::kernel_fail(crate::fail::Epitaph::NothingRunnable)
        };
        if t.is_runnable() {
            break t;
        }
        first = usize::from(t.descriptor.sched_next);
    };
    let pick = if first > previous {
        first
    } else {
        // Its equals follow it in index order: take the first runnable one after `previous`.
        let mut next = usize::from(found.descriptor.sched_next);
        loop {
            match tasks.get(next) {
                Some(t) if t.priority == found.priority => {
                    if next > previous && t.is_runnable() {
                        break next;
                    }
                    next = usize::from(t.descriptor.sched_next);
                }
                _ => break first,
            }
        }
    };
    #[cfg(debug_assertions)]
    assert_eq!(pick, select_by_scan(tasks, previous), "sched_next chain");
    pick
}

/// `select` as a scan of the whole table, the definition it must agree with.
#[cfg(debug_assertions)]
fn select_by_scan(tasks: &[Task], previous: usize) -> usize {
    let n = tasks.len();
    (1..=n)
        .map(|k| (previous + k) % n)
        .filter(|&i| tasks[i].is_runnable())
        .min_by_key(|&i| tasks[i].priority)
        .unwrap_or(usize::MAX)
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
