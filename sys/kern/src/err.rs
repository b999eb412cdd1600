//! How a syscall fails: misuse faults the caller. Expected conditions (a dead peer, a lender
//! that stopped waiting) are not errors here; they are response codes written as results.

use abi::{FaultInfo, UsageError};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UserError(pub FaultInfo);

impl From<UsageError> for UserError {
    fn from(e: UsageError) -> Self {
        UserError(FaultInfo::SyscallUsage(e))
    }
}
