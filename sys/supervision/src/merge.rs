//! Merging a detach into the restart that follows it.

use crate::{Action, ActionSink};

/// An [`ActionSink`] adapter for a shell whose kernel restart detaches a task that is still
/// attached, in the same call (Bulkhead's `RestartTask` does). A `Detach` of a task followed
/// by that task's `Restart`, with only records in between, reaches the inner sink as the
/// `Restart` alone: one kernel call instead of two on every restart without back-off.
///
/// The only difference a task can see: peers blocked on the restarted task are woken with
/// "restarted" (the new generation) rather than "unavailable", which is the truth by the
/// time they run, and lets an idempotent call retry at once.
///
/// Any other action first passes on the held `Detach`, so the inner sink performs effects
/// in the policy's order; records, which have no effect on tasks, pass at once. A `Detach`
/// still held when the adapter is dropped is passed on then: drop it after each policy call.
pub struct MergeDetach<'a, S: ActionSink> {
    inner: &'a mut S,
    held: Option<usize>,
}

impl<'a, S: ActionSink> MergeDetach<'a, S> {
    pub fn new(inner: &'a mut S) -> Self {
        MergeDetach { inner, held: None }
    }

    fn release(&mut self) {
        if let Some(task) = self.held.take() {
            self.inner.act(Action::Detach { task });
        }
    }
}

impl<S: ActionSink> ActionSink for MergeDetach<'_, S> {
    // Inlined so the action is matched once, not copied through a second call.
    #[inline(always)]
    fn act(&mut self, action: Action) {
        match action {
            Action::Record(_) => {}
            Action::Restart { task } if self.held == Some(task) => self.held = None,
            Action::Detach { task } => {
                self.release();
                self.held = Some(task);
                return;
            }
            _ => self.release(),
        }
        self.inner.act(action);
    }

    #[inline(always)]
    fn record(&mut self, record: crate::Record) {
        self.inner.record(record);
    }
}

impl<S: ActionSink> Drop for MergeDetach<'_, S> {
    fn drop(&mut self) {
        self.release();
    }
}
