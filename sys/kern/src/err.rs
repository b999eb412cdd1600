//! How a syscall ends other than as asked, in two kinds with one path each.
//!
//! - Misuse (a bad slice, a task it may not name, a malformed message) is a fault of the
//!   caller: `syscalls::dispatch` records it and tells the supervisor.
//! - A refusal is an outcome the caller is expected to handle (the peer is gone, the lender
//!   stopped waiting, a kernel-IPC request that does not apply now): `dispatch` writes it
//!   into the caller's r4/r5 with `SavedState::set_refusal`, the same call that tells the
//!   tasks a detach wakes.
//!
//! Either way the syscall returns `Err`, so no syscall writes its own error codes.

use abi::{FaultInfo, Refusal, UsageError};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UserError {
    /// The caller is faulted with this.
    Fault(FaultInfo),
    /// The caller gets this code back and carries on.
    Refused(Refusal),
}

impl From<UsageError> for UserError {
    fn from(e: UsageError) -> Self {
        UserError::Fault(FaultInfo::SyscallUsage(e))
    }
}

impl From<Refusal> for UserError {
    fn from(r: Refusal) -> Self {
        UserError::Refused(r)
    }
}

impl crate::task::Task {
    /// `Ok` if `generation` names this task's current incarnation; otherwise the refusal
    /// (restarted or detached, with the generation to use now) for whoever named it.
    #[inline(always)]
    pub fn current_or_refuse(&self, generation: u32) -> Result<(), UserError> {
        match self.check_incarnation(generation) {
            Ok(()) => Ok(()),
            Err(gone) => Err(Refusal::peer(gone, self.generation).into()),
        }
    }
}
