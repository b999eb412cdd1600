//! A watched task that misses its check-in because more important tasks hold the CPU
//! (crate docs, "Starvation"): the task that starves it is faulted, not the task itself.

use super::{Slot, Supervisor};
use crate::{Action, ActionSink, CpuView, Origin, Record, TaskState};

/// The longest second look: the kernel's `ticks_held` counts modulo 256, so two readings
/// must be fewer than 256 ticks apart to tell "did not run" from "ran 256 ticks".
const MAX_GRACE_MS: u32 = 100;

/// The first look at a watched task that was busy when its watchdog expired: the ticks it
/// had held by then. It was taken when the watchdog fell due, so its time follows from the
/// last check-in. Its rivals' ticks go to their own slots (`Slot::ticks_seen`): the
/// supervisor's table lives on jefe's stack, and grows by three bytes a task this way.
#[derive(Copy, Clone)]
pub(super) struct FirstLook {
    own: u8,
}

/// How long after the first look the second one comes.
pub(super) fn grace_ms(period: u32) -> u64 {
    u64::from(period.min(MAX_GRACE_MS))
}

impl<const N: usize> Supervisor<N> {
    /// Row 6 and rows 6a-6c: `task`'s watchdog period (or its grace) has passed without a
    /// check-in.
    pub(super) fn watchdog_due(
        &mut self,
        task: usize,
        now: u64,
        cpu: &mut impl CpuView,
        out: &mut impl ActionSink,
    ) {
        match self.tasks[task].first_look.take() {
            None => self.first_look(task, cpu, out),
            Some(look) => self.second_look(task, look, now, cpu, out),
        }
    }

    /// Row 6a: a task waiting for nothing but the CPU, with more important tasks that could
    /// be holding it, gets a second look; any other is faulted at once (row 6).
    fn first_look(&mut self, task: usize, cpu: &mut impl CpuView, out: &mut impl ActionSink) {
        let own = cpu.cpu_use(task);
        if !own.busy || self.rivals(task).next().is_none() {
            return self.expire_watchdog(task, out);
        }
        // A rival another first look already noted is noted afresh: its ticks since then are
        // then counted from this look on, which still lies within every pending grace (the
        // second looks of a timer pass come before its first looks, `on_timer`).
        // The supervisor's own ticks too: see `hog`.
        let noted = self.rivals_mask(task) | 1;
        for t in crate::tasks_in(noted) {
            self.tasks[t].ticks_seen = cpu.cpu_use(t).ticks_held;
        }
        self.tasks[task].first_look = Some(FirstLook {
            own: own.ticks_held,
        });
    }

    /// Rows 6b and 6c: still no check-in. If the task held the CPU at no tick since the first
    /// look and is still waiting for it, the rival that held the most ticks meanwhile and is
    /// still busy is the one at fault; without such a rival, the task is (row 6).
    fn second_look(
        &mut self,
        task: usize,
        look: FirstLook,
        now: u64,
        cpu: &mut impl CpuView,
        out: &mut impl ActionSink,
    ) {
        let own = cpu.cpu_use(task);
        let hog = if own.busy && own.ticks_held == look.own {
            self.hog(task, cpu)
        } else {
            None
        };
        let Some(hog) = hog else {
            return self.expire_watchdog(task, out);
        };
        let slot = &mut self.tasks[task];
        slot.counters.watchdog_expiries = slot.counters.watchdog_expiries.saturating_add(1);
        // Its silence is explained: it gets a whole period once the hog is gone.
        slot.last_checkin = now;
        out.act(Action::Record(Record::Starved { task, hog }));
        let hog_slot = &mut self.tasks[hog];
        if hog_slot.injection.is_none() {
            hog_slot.injection = Some(Origin::Watchdog);
            out.act(Action::InjectFault { task: hog });
        }
    }

    /// The tasks that could starve `task`: running tasks more important than it, except the
    /// supervisor (its own hardware watchdog covers it).
    fn rivals(&self, task: usize) -> impl Iterator<Item = usize> + '_ {
        let priority = self.policies[task].priority;
        (1..N).filter(move |&t| {
            self.policies[t].priority < priority && self.tasks[t].state == TaskState::Running
        })
    }

    fn rivals_mask(&self, task: usize) -> u32 {
        self.rivals(task).fold(0, |mask, t| mask | 1 << t)
    }

    /// The busy rival that held the most ticks since the first look; ties go to the more
    /// important, then to the lower index. A rival that loops on calls to the supervisor
    /// (the campaign's livelock checked in on every turn) leaves most ticks to the
    /// supervisor, which only works for its callers: so when no busy rival held a tick but
    /// the supervisor did, the most important busy rival is the one that kept it busy. When
    /// nobody held a tick, nothing says who took the CPU, and there is no hog.
    fn hog(&self, task: usize, cpu: &mut impl CpuView) -> Option<usize> {
        let mut best: Option<(u8, usize)> = None;
        for rival in self.rivals(task) {
            let now = cpu.cpu_use(rival);
            if !now.busy {
                continue;
            }
            let held = now.ticks_held.wrapping_sub(self.tasks[rival].ticks_seen);
            let better = best.is_none_or(|(most, b)| {
                held > most
                    || (held == most && self.policies[rival].priority < self.policies[b].priority)
            });
            if better {
                best = Some((held, rival));
            }
        }
        let (held, hog) = best?;
        let supervisor = cpu
            .cpu_use(0)
            .ticks_held
            .wrapping_sub(self.tasks[0].ticks_seen);
        (held > 0 || supervisor > 0).then_some(hog)
    }
}

impl Slot {
    /// When a watched, running task's watchdog is next due.
    pub(super) fn watchdog_due_at(&self, period: u32) -> u64 {
        // `now - last_checkin > watchdog_ms` first holds one millisecond after the period.
        let expiry = self.last_checkin.saturating_add(u64::from(period) + 1);
        match self.first_look {
            Some(_) => expiry.saturating_add(grace_ms(period)),
            None => expiry,
        }
    }
}
