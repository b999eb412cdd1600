//! Client of the supervisor, `task/jefe` (`idl/jefe.idol`): [`JefeClient`].
//!
//! Besides the stub this crate holds what both ends of the interface must agree on:
//!
//! - [`JefeError`], the refusals a caller can see;
//! - the wire forms of a task's status ([`TaskInfo`]) and of a logged supervisor event
//!   ([`LogEntry`], decoded to [`Logged`]), with host tests that every value survives the trip;
//! - [`Dependent`]: what a task that `depends-on` providers does with jefe's notices;
//! - [`reset`]: how the board's `sys` task resets peripherals for jefe without ever
//!   blocking it.
//!
//! # Dependents (the notification convention)
//!
//! A task whose `[tasks.X.supervision]` has `depends-on` declares two notifications named
//! `provider-going` and `provider-back` and the task slot `jefe` (the jefe build checks all
//! three). Before a provider is detached jefe posts `provider-going`; the dependent asks
//! [`JefeClient::detach_notices`] which providers are waiting, lets go of each (finishes or
//! abandons calls and leases involving it) and answers [`JefeClient::ack_detach`]. After the
//! provider restarts jefe posts `provider-back`, and the dependent refreshes its providers'
//! incarnations (`sys_refresh_incarnation`) so its next call reaches the new one. A dependent
//! that never answers is detached past at the provider's `detach-deadline-ms`.
#![no_std]

pub mod reset;
mod wire;

pub use wire::{End, LogEntry, LogEvent, Logged, StateCode, TASK_NAME_LEN, TaskInfo};

use supervision::Refusal;
use userlib::Incarnation;

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why jefe refused a request.
    pub enum JefeError {
        /// No task has that index.
        NoSuchTask = 1,
        /// The request names jefe itself, which is never detached, unloaded or faulted.
        Supervisor = 2,
        /// `load` of a task that is not held.
        NotHeld = 3,
        /// `unload` of a task that is already unloaded or being unloaded.
        AlreadyUnloaded = 4,
        /// Fault injection into a task that is not running.
        NotRunning = 5,
        /// `ack_detach` for a provider that is not waiting for the caller.
        AckNotAwaited = 6,
        /// `unload` (or a hold) of the idle task, which the kernel must always have to run.
        IdleTask = 7,
    }
}

impl JefeError {
    /// The IPC error for a refusal of the policy. `UnknownRequest` only comes from humility's
    /// request words, never from IPC; it is reported as the nearest thing, a bad task.
    pub const fn from_refusal(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Supervisor => JefeError::Supervisor,
            Refusal::OutOfRange | Refusal::UnknownRequest => JefeError::NoSuchTask,
            Refusal::NotHeld => JefeError::NotHeld,
            Refusal::AlreadyUnloaded => JefeError::AlreadyUnloaded,
            Refusal::NotRunning => JefeError::NotRunning,
            Refusal::AckNotAwaited => JefeError::AckNotAwaited,
            Refusal::IdleTask => JefeError::IdleTask,
        }
    }
}

/// A dependent's side of the detach protocol: its providers' incarnations, kept current.
pub struct Dependent<const P: usize> {
    jefe: JefeClient,
    providers: [Incarnation; P],
}

impl<const P: usize> Dependent<P> {
    pub const fn new(jefe: Incarnation, providers: [Incarnation; P]) -> Self {
        Dependent {
            jefe: JefeClient::new(jefe),
            providers,
        }
    }

    /// The current incarnation of provider `i` (as given to [`Dependent::new`]).
    pub fn provider(&self, i: usize) -> Incarnation {
        self.providers[i]
    }

    /// On `provider-going`: for every provider waiting for us, `let_go(provider index)` and
    /// then acknowledge. Returns the mask of providers acknowledged.
    pub fn acknowledge(&self, mut let_go: impl FnMut(usize)) -> u32 {
        let Ok(waiting) = self.jefe.detach_notices() else {
            return 0;
        };
        let mut acknowledged = 0;
        for provider in (0..32).filter(|i| waiting & (1 << i) != 0) {
            let_go(provider);
            if self.jefe.ack_detach(provider as u16).is_ok() {
                acknowledged |= 1 << provider;
            }
        }
        acknowledged
    }

    /// On `provider-back`: refresh every provider to its current incarnation.
    pub fn rebind(&mut self) {
        for id in &mut self.providers {
            *id = userlib::sys_refresh_incarnation(*id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userlib_check_in_sends_the_check_in_operation() {
        assert_eq!(JefeOperation::CheckIn as u16, userlib::CHECK_IN_OPERATION);
    }

    #[test]
    fn every_refusal_has_an_error_code() {
        use idol_runtime::ErrorCode;
        let all = [
            Refusal::Supervisor,
            Refusal::OutOfRange,
            Refusal::NotHeld,
            Refusal::AlreadyUnloaded,
            Refusal::NotRunning,
            Refusal::AckNotAwaited,
            Refusal::IdleTask,
            Refusal::UnknownRequest,
        ];
        for refusal in all {
            let e = JefeError::from_refusal(refusal);
            assert_eq!(JefeError::from_code(e.code()), Some(e));
        }
    }
}
