//! Leases: memory a client lends to a server for the duration of one call.
//!
//! The lender's lease table stays in the lender's memory; the server names a lease only by
//! (lender id and 32-bit generation, as RECV reported them; index) and every access is a copy
//! made by the kernel. A lease is valid exactly while that lender incarnation (compared by the
//! full generation, so 64 restarts do not make an old name current again) is
//! `Healthy(InReply(server))` for the server's *current* incarnation:
//!
//! | lender is ...                                   | BORROW_* result                     |
//! |-------------------------------------------------|-------------------------------------|
//! | waiting on this server incarnation              | the copy (bounded by the lease)     |
//! | detached, or restarted (stale id)               | `PeerGone` code                     |
//! | alive but replied to, faulted, or waiting elsewhere | `LEASE_DEFECT`                  |
//!
//! Misuse by the server faults the server: an out-of-range lease index
//! (`LeaseOutOfRange`), an offset past the end (`OffsetOutOfRange`), a direction the lease was
//! not lent for (`LeaseOutOfRange`), or a buffer of its own it cannot access (`InvalidSlice`).

use abi::syscall::LeaseInfo;
use abi::{Refusal, SchedState, ULease, UsageError, lease_attributes};
use zerocopy::{FromZeros, IntoBytes};

use crate::args::BorrowArgs;
use crate::err::UserError;
use crate::ipc::target_index;
use crate::sched::NextTask;
use crate::task::Task;
use crate::umem::{self, CopyFault, USlice};

/// The lender and the lease a borrow names; a refusal ends the borrow without a copy.
fn lease_for(
    tasks: &[Task],
    caller: usize,
    args: &BorrowArgs,
) -> Result<(usize, ULease), UserError> {
    let lender = target_index(tasks, args.lender)?;
    tasks[lender].current_or_refuse(args.lender_generation)?;
    let server_id = tasks[caller].current_id();
    if !tasks[lender].is_healthy_in(SchedState::InReply(server_id)) {
        return Err(Refusal::LeaseDefect.into());
    }
    #[cfg(feature = "fault-inject")]
    crate::inject::check_incarnation(lender, tasks[caller].generation);
    let send = tasks[lender].save.send_args();
    if args.index >= send.lease_count() {
        return Err(UsageError::LeaseOutOfRange.into());
    }
    let mut lease = ULease::new_zeroed();
    let at = send.leases.base + args.index * size_of::<ULease>() as u32;
    // The table was checked readable when the lender sent; the lender is blocked since.
    if umem::read_from_task(&tasks[lender], at, lease.as_mut_bytes()).is_none() {
        return Err(Refusal::LeaseDefect.into());
    }
    Ok((lender, lease))
}

fn borrow_copy(tasks: &mut [Task], caller: usize, write: bool) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.borrow_args();
    let (lender, lease) = lease_for(tasks, caller, &args)?;
    let needed = if write {
        lease_attributes::WRITE
    } else {
        lease_attributes::READ
    };
    if lease.attributes & needed == 0 {
        return Err(UsageError::LeaseOutOfRange.into());
    }
    let leased = USlice::new(lease.base_address, lease.length)
        .skip(args.offset as usize)
        .ok_or(UsageError::OffsetOutOfRange)?;
    let copied = if write {
        umem::copy_between(&tasks[caller], args.buffer, &tasks[lender], leased)
    } else {
        umem::copy_between(&tasks[lender], leased, &tasks[caller], args.buffer)
    };
    let server_side = if write {
        CopyFault::Source
    } else {
        CopyFault::Destination
    };
    match copied {
        Ok(n) => tasks[caller].save.set_results(&[0, n as u32]),
        Err(side) if side == server_side => return Err(UsageError::InvalidSlice.into()),
        // Leases were checked at SEND; regions never change, so this cannot be reached by
        // a well-formed lender, and the server is not to blame.
        Err(_) => return Err(Refusal::LeaseDefect.into()),
    }
    Ok(NextTask::Same)
}

pub fn borrow_read(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    borrow_copy(tasks, caller, false)
}

pub fn borrow_write(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    borrow_copy(tasks, caller, true)
}

pub fn borrow_info(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.borrow_args();
    let (_, lease) = lease_for(tasks, caller, &args)?;
    let info = LeaseInfo {
        attributes: lease.attributes,
        length: lease.length,
    };
    tasks[caller].save.set_results(&info.encode());
    Ok(NextTask::Same)
}
