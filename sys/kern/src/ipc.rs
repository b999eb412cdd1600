//! Synchronous IPC: SEND, RECV, REPLY, REPLY_FAULT, and notifications (POST).
//!
//! A message moves only when both sides are ready, copied directly from the sender's memory
//! into the receiver's buffer. The sender then waits in `InReply(receiver)` until the receiver
//! replies, reply-faults, or is detached. Checks happen at the syscall that supplies a slice,
//! so a bad slice faults the task that named it.
//!
//! Peer identity rules (checked by `Task::check_incarnation`):
//! - the peer is detached: the caller gets `PeerGone::Unavailable(current generation)` at once;
//! - the id's generation is stale: the caller gets `PeerGone::Restarted(current generation)`;
//! - a REPLY or REPLY_FAULT to a caller that is not waiting on us is silently dropped: the
//!   caller may have been restarted, and the server must not be punished for that.
//!
//! A server names its caller by the `TaskId` *and* the 32-bit generation RECV gave it (r10),
//! and REPLY / REPLY_FAULT (like BORROW_*) compare that generation exactly. The 6 bits in a
//! `TaskId` repeat every 64 restarts; a client restarted 64 times while the server held its
//! old message could otherwise be answered, or have its new leases read, on behalf of its
//! long-dead predecessor. SEND, POST and closed RECV take the named task's 32-bit generation
//! too (REFRESH_TASK_ID returns it; SEND makes room for it by packing two counts into r8,
//! `abi::send_packing`), and a SEND refused as stale returns the current one next to the
//! code. Blocked states still record 16-bit ids: every task blocked on an incarnation is
//! woken when that incarnation ends, so a recorded id never outlives it.
//!
//! Who may reach whom (from `app.toml`, fixed at build time; anything else faults the caller
//! with `UsageError::IllegalTask`):
//!
//! | Operation | Allowed targets | Why |
//! |---|---|---|
//! | SEND | `send_targets` (`task-slots`): equal or more important tasks | the sender blocks, so it must not wait on a task that can be starved |
//! | POST | itself, `send_targets`, and `notify_targets` (`notify`), of any priority | a post never blocks, so priority inversion cannot arise |
//! | REPLY, REPLY_FAULT | whoever is waiting on the caller | no grant needed |
//!
//! REPLY_FAULT faults the client, unless the client's `app.toml` says `on-reply-fault =
//! "error"` (`TaskFlags::REPLY_FAULT_AS_ERROR`): then the call ends with
//! `ReplyFaultReason::code` and the client lives on. A server's verdict is only as sound as
//! the server, and a corrupted one can reply-fault a caller whose message was fine; a client
//! that must outlive its servers' bugs (an application above an untrusted driver) opts out.
//!
//! The kernel checks the target of a POST, not its bits: `notify` also names the bits a poster
//! may raise, but enforcing them would take a bit mask per (poster, target) pair, a table
//! searched on every POST, while a notification only says "look at your state": a receiver
//! must already cope with a spurious bit, since any declared poster may raise a bit at any
//! time. The bit names still matter at build time: they are the only bits a poster's code
//! can name (`userlib::notify_bits!`).

use abi::{FaultInfo, SchedState, TaskFlags, TaskId, ULease, UsageError};
use zerocopy::{FromZeros, IntoBytes};

use crate::args::{RecvResult, SendArgs};
use crate::err::UserError;
use crate::lifecycle;
use crate::sched::{self, NextTask};
use crate::task::Task;
use crate::umem::{self, Access};

/// Looks up a task index named by a caller, faulting the caller if it is out of range.
pub fn target_index(tasks: &[Task], id: TaskId) -> Result<usize, UserError> {
    let i = id.index();
    if i < tasks.len() {
        Ok(i)
    } else {
        Err(UsageError::TaskOutOfRange.into())
    }
}

/// SEND to another task; `args` are the caller's, read by `syscalls`, which routes a SEND
/// to the kernel to `kipc` instead.
pub fn send(tasks: &mut [Task], caller: usize, args: SendArgs) -> Result<NextTask, UserError> {
    let target = target_index(tasks, args.target)?;
    let me = &tasks[caller];
    if target == caller || !me.may_send_to(target) {
        return Err(UsageError::IllegalTask.into());
    }
    if !args.counts_in_range
        || !me.can_access(args.message, Access::Read)
        || !me.can_access(args.response, Access::Write)
        || !me.can_access(args.leases, Access::Read)
        || !leases_are_valid(me, args.leases)
    {
        return Err(UsageError::InvalidSlice.into());
    }
    tasks[target].current_or_refuse(args.target_generation)?;
    let caller_id = tasks[caller].current_id();
    let receiving = match tasks[target].healthy_state() {
        Some(SchedState::InRecv(None)) => true,
        Some(SchedState::InRecv(Some(from))) => from == caller_id,
        _ => false,
    };
    if !receiving {
        tasks[caller].set_healthy_state(SchedState::InSend(args.target));
        tasks[target].add_sender(caller);
        return Ok(NextTask::Other);
    }
    // Straight to `InReply`: `deliver` sets it, so the `InSend` a blocked sender would
    // pass through is skipped.
    deliver(tasks, caller, target);
    // The caller was the most important runnable task; a receiver at least as important is
    // now the one to run.
    Ok(
        if tasks[caller]
            .priority
            .is_more_important_than(tasks[target].priority)
        {
            NextTask::Other
        } else {
            NextTask::Specific(target)
        },
    )
}

/// Every lease the sender offers must name memory the sender may access in the offered
/// direction, so a server can never be handed a lease that faults halfway through a copy.
fn leases_are_valid(sender: &Task, table: umem::USlice) -> bool {
    let count = table.len as usize / size_of::<ULease>();
    (0..count).all(|i| {
        let mut lease = ULease::new_zeroed();
        let at = table.base + (i * size_of::<ULease>()) as u32;
        umem::read_from_task(sender, at, lease.as_mut_bytes()).is_some_and(|()| {
            let slice = umem::USlice::new(lease.base_address, lease.length);
            let readable = lease.attributes & abi::lease_attributes::READ == 0
                || sender.can_access(slice, Access::Read);
            let writable = lease.attributes & abi::lease_attributes::WRITE == 0
                || sender.can_access(slice, Access::Write);
            readable && writable
        })
    })
}

/// Moves the message of `sender` (blocked in `InSend(receiver)`, or sending now) into
/// `receiver` (blocked in a matching RECV, or receiving now) and makes the sender wait for
/// the reply.
fn deliver(tasks: &mut [Task], sender: usize, receiver: usize) {
    let send = tasks[sender].save.send_args();
    let buffer = tasks[receiver].save.recv_args().buffer;
    // SAFETY: the sender's message was checked at its SEND and the receiver's buffer at its
    // RECV; both have been blocked since.
    unsafe { umem::copy_prechecked(send.message, buffer) };
    let sender_id = tasks[sender].current_id();
    let receiver_id = tasks[receiver].current_id();
    let sender_generation = tasks[sender].generation;
    tasks[receiver].save.set_recv_result(RecvResult {
        sender: sender_id,
        sender_generation,
        operation: u32::from(send.operation),
        message_len: send.message.len,
        response_capacity: send.response.len,
        lease_count: send.lease_count(),
    });
    tasks[receiver].set_healthy_state(SchedState::Runnable);
    tasks[receiver].remove_sender(sender);
    tasks[sender].set_healthy_state(SchedState::InReply(receiver_id));
    tasks[sender].reply_since = crate::arch::now() as u16;
    #[cfg(feature = "fault-inject")]
    crate::inject::on_deliver(sender, tasks[receiver].generation);
}

pub fn recv(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.recv_args();
    if !tasks[caller].can_access(args.buffer, Access::Write) {
        return Err(UsageError::InvalidSlice.into());
    }
    let me = &mut tasks[caller];
    let fired = me.notifications & args.notification_mask;
    if fired != 0 {
        me.notifications &= !fired;
        me.save.set_recv_result(RecvResult::notification(fired));
        return Ok(NextTask::Same);
    }
    let caller_id = me.current_id();
    let sender = match args.closed_from {
        Some(TaskId::KERNEL) => None,
        Some(from) => {
            let i = target_index(tasks, from)?;
            // Nothing could ever satisfy it: sending to oneself is refused too.
            if i == caller {
                return Err(UsageError::IllegalTask.into());
            }
            tasks[i].current_or_refuse(args.from_generation)?;
            tasks[i]
                .is_healthy_in(SchedState::InSend(caller_id))
                .then_some(i)
        }
        None => most_important_sender(tasks, caller),
    };
    match sender {
        Some(s) => {
            deliver(tasks, s, caller);
            Ok(NextTask::Same)
        }
        None => {
            tasks[caller].set_healthy_state(SchedState::InRecv(args.closed_from));
            Ok(NextTask::Other)
        }
    }
}

/// The most important task blocked sending to `receiver`; among equals, the first after
/// the receiver in table order, so senders of equal priority are served in turn. Read from
/// the receiver's mask of waiting senders, so an idle server costs nothing per task.
fn most_important_sender(tasks: &[Task], receiver: usize) -> Option<usize> {
    let senders = tasks[receiver].waiting_senders();
    if senders == 0 {
        return None;
    }
    // Bit k of `order` is task `receiver + 1 + k` (mod 32): ascending bits visit the
    // senders in turn after the receiver, which is never its own sender. Indices are
    // below the task count, so wrapping at 32 orders them as wrapping at the count would.
    let shift = (receiver as u32 + 1) % 32;
    let mut order = senders.rotate_right(shift);
    let mut best = (order.trailing_zeros() + shift) as usize % 32;
    order &= order - 1;
    while order != 0 {
        let i = (order.trailing_zeros() + shift) as usize % 32;
        order &= order - 1;
        if tasks[i]
            .priority
            .is_more_important_than(tasks[best].priority)
        {
            best = i;
        }
    }
    Some(best)
}

/// The task waiting on the caller for a reply, or `None` if `peer`, with the 32-bit
/// generation the caller passed, does not name one (stale, detached, not waiting, or waiting
/// on someone else).
fn waiting_client(tasks: &[Task], caller: usize, peer: TaskId) -> Result<Option<usize>, UserError> {
    let i = target_index(tasks, peer)?;
    let caller_id = tasks[caller].current_id();
    // The generation is read only here, so it is not kept live across the slice checks
    // (REPLY and REPLY_FAULT both carry it in r9, where `ReplyArgs` reads it).
    let generation = tasks[caller].save.reply_args().peer_generation;
    // Compared directly, not through `check_incarnation`: a detached task is stopped, so it
    // is never waiting anyway.
    let waiting =
        tasks[i].generation == generation && tasks[i].is_healthy_in(SchedState::InReply(caller_id));
    Ok(waiting.then_some(i))
}

pub fn reply(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.reply_args();
    if !tasks[caller].can_access(args.message, Access::Read) {
        return Err(UsageError::InvalidSlice.into());
    }
    let Some(client) = waiting_client(tasks, caller, args.peer)? else {
        return Ok(NextTask::Same);
    };
    #[cfg(feature = "fault-inject")]
    crate::inject::check_incarnation(client, tasks[caller].generation);
    let response = tasks[client].save.send_args().response;
    // A reply larger than the client's buffer is the server's bug: it was told the
    // capacity by RECV.
    if args.message.len > response.len {
        return Err(UsageError::InvalidSlice.into());
    }
    // SAFETY: the reply was checked readable above; the client's buffer was checked at its
    // SEND and the client has been blocked since.
    let n = unsafe { umem::copy_prechecked(args.message, response) };
    tasks[client].save.set_send_response(args.code, n as u32);
    // A campaign's `delay` keeps the client blocked with its reply until the delay is over.
    #[cfg(feature = "fault-inject")]
    if crate::inject::hold_reply(tasks, caller, client) {
        return Ok(NextTask::Same);
    }
    #[cfg(feature = "fault-inject")]
    crate::inject::on_reply(client);
    tasks[client].set_healthy_state(SchedState::Runnable);
    Ok(sched::hint_after_wake(tasks, caller, client))
}

pub fn reply_fault(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.reply_fault_args()?;
    let Some(client) = waiting_client(tasks, caller, args.peer)? else {
        return Ok(NextTask::Same);
    };
    if tasks[client]
        .descriptor
        .flags
        .contains(TaskFlags::REPLY_FAULT_AS_ERROR)
    {
        // The client chose to outlive its servers' accusations: a corrupted server can
        // reply-fault a caller whose message was fine (doc/architecture.md). The call ends
        // as a reply would, and the campaign checks and counts it as one.
        #[cfg(feature = "fault-inject")]
        {
            crate::inject::check_incarnation(client, tasks[caller].generation);
            crate::inject::on_reply(client);
        }
        tasks[client].save.set_send_response(args.reason.code(), 0);
        tasks[client].set_healthy_state(SchedState::Runnable);
        return Ok(sched::hint_after_wake(tasks, caller, client));
    }
    let server = tasks[caller].current_id();
    Ok(lifecycle::fault_task(
        tasks,
        client,
        FaultInfo::FromServer(server, args.reason),
    ))
}

pub fn post(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.post_args();
    let i = target_index(tasks, args.target)?;
    if !tasks[caller].may_post_to(i) && i != caller {
        return Err(UsageError::IllegalTask.into());
    }
    tasks[i].current_or_refuse(args.target_generation)?;
    tasks[caller].save.set_results(&[0]);
    Ok(if tasks[i].post(args.bits) {
        sched::hint_after_wake(tasks, caller, i)
    } else {
        NextTask::Same
    })
}

impl Task {
    /// ORs `bits` into the task's notifications and, if it is receiving with a mask that
    /// matches, wakes it with the fired bits (which are consumed). Returns whether it woke.
    pub fn post(&mut self, bits: u32) -> bool {
        // A detached incarnation is gone: bits kept now would reach the next incarnation,
        // since restarting a detached task does not clear them again.
        if self.detached {
            return false;
        }
        self.notifications |= bits;
        if !matches!(self.healthy_state(), Some(SchedState::InRecv(_))) {
            return false;
        }
        let fired = self.notifications & self.save.recv_notification_mask();
        if fired == 0 {
            return false;
        }
        self.notifications &= !fired;
        self.save.set_recv_result(RecvResult::notification(fired));
        self.set_healthy_state(SchedState::Runnable);
        true
    }

    /// [`Task::post`] out of line, for the tick's timers and device interrupts: neither is on
    /// an IPC path, and LLVM otherwise inlines a copy into each handler, about 100 bytes apiece.
    #[inline(never)]
    pub fn post_out_of_line(&mut self, bits: u32) -> bool {
        self.post(bits)
    }
}
