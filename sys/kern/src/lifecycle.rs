//! The lifecycle of a task incarnation: how it faults, ends (detach) and begins again
//! (restart), and what its peers and the supervisor are told at each step.
//!
//! States (a task is in exactly one; `Task::state` and `Task::detached` encode them):
//!
//! - **live**: healthy and attached; it runs, blocks and is named by its current id.
//! - **faulted**: attached, with a fault record (`TaskState::Faulted`). It no longer runs,
//!   but the incarnation still exists: peers blocked on it stay blocked, and it keeps its id.
//! - **detached**: the incarnation has ended: the generation was bumped once and the task
//!   is `Stopped` (a fault record, if any, stays for the supervisor and humility to read).
//! - **restarting**: re-initialised at its entry point but held, not started (a restart with
//!   start = 0, or a task not started at boot). To every other task it is as detached.
//!
//! | event (kernel entry)             | from                 | to          | who is woken, with which code                                      | test (`sys/kern/tests/`) |
//! |----------------------------------|----------------------|-------------|--------------------------------------------------------------------|--------------------------|
//! | fault (own, injected, REPLY_FAULT) | live               | faulted     | the supervisor: notification bit 0 ([`FAULT_NOTIFICATION`]); nobody blocked on the task | `lifecycle::fault_notifies_supervisor_bit0`, `lifecycle::fault_does_not_unblock_peers` |
//! | fault                            | faulted              | faulted     | the supervisor again; the record is replaced, the state before the first fault kept | `lifecycle::second_fault_keeps_original_state` |
//! | fault (injected)                 | detached, restarting | same, with a fault record | the supervisor; no incarnation is counted as faulted (none was running) | `lifecycle::fault_of_a_detached_task_counts_no_incarnation` |
//! | fault of the supervisor          | live                 | -           | nobody: the system resets or halts (`on-supervisor-fault`)          | `lifecycle::supervisor_fault_resets_system`, `lifecycle::supervisor_fault_halts_when_configured_to` |
//! | detach                           | live, faulted        | detached    | every healthy task sending to it, awaiting its reply or closed-receiving from it: `PeerGone::Unavailable(new generation)`, r5 = the new 32-bit generation; each server declaring `client-gone`: that bit | `lifecycle::detach_wakes_every_blocked_sender_receiver_and_reply_waiter`, `client_gone::detach_posts_client_gone_to_the_declaring_servers_in_the_send_mask_only` |
//! | detach                           | detached, restarting | unchanged   | nobody; the generation is not bumped again                          | `lifecycle::detach_twice_bumps_the_generation_once` |
//! | restart, start = 1               | live, faulted        | live        | as detach, but with `PeerGone::Restarted(new generation)`: the task is back when they run | `lifecycle::restart_of_attached_task_wakes_peers_with_restarted_code` |
//! | restart, start = 0               | live, faulted        | restarting  | as detach (`PeerGone::Unavailable`)                                  | `lifecycle::held_restart_of_attached_task_wakes_peers_with_unavailable_code` |
//! | restart, start = 1               | detached, restarting | live        | nobody (the detach woke them); the generation is not bumped again    | `lifecycle::restart_after_detach_wakes_nobody_twice` |
//! | restart, start = 0               | detached             | restarting  | nobody                                                              | `lifecycle::restart_without_start_leaves_task_detached` |
//! | SEND, POST, closed RECV, BORROW_* naming it | detached, restarting | unchanged | the caller is refused at once: `PeerGone::Unavailable(current generation)` | `lifecycle::a_held_task_refuses_ipc_until_it_is_started` |
//! | the same, naming an older incarnation | live, faulted   | unchanged   | the caller is refused at once: `PeerGone::Restarted(current generation)` | `generation_wrap::a_name_from_64_restarts_ago_is_refused_exactly_like_one_from_1_restart_ago` |
//!
//! Every code reaches the woken or refused task the same way, as an `abi::Refusal` written
//! by `SavedState::set_refusal` (r4 = code, r5 = the peer's 32-bit generation).
//!
//! Ending an incarnation (detach, or a restart of an attached task) also masks and clears the
//! task's interrupts and cancels its timer and notifications. Leases it lent die with its
//! `InReply` state; leases it was borrowing die with its id. A restart clears its interrupts'
//! pending state again, since a line may have latched since the detach.
//!
//! Why a fault wakes nobody: the supervisor's policy decides when to detach, bounded by a
//! deadline, so dependents get time to let go first. Why faulted peers are not woken by a
//! detach: their state is a fault record the supervisor and humility read, and they will be
//! restarted anyway.
//!
//! **Client gone.** Ending an incarnation also posts, to every server in the task's send mask
//! that declares a `client-gone` notification (`app.toml`), that bit. It is the only way a
//! server that holds state for a client (pipes, handles, a queued request) learns that the
//! client died while the server was not talking to it: nothing blocks a server on its
//! clients, so the wake-ups above never reach it. The kernel does it, not the supervisor,
//! because the detach is the moment the old incarnation stops existing, it needs no
//! round-trip through a task that may itself be busy or backing off, and the builder
//! precomputes `client_gone_targets`, so a task whose servers declare nothing pays one test.
//! The bit says only "some client of yours is gone"; the server finds which by comparing the
//! incarnations it holds with the current ones (`userlib::incarnation_is_current`). It is
//! posted once per incarnation: a detach followed by a restart posts at the detach alone.

use abi::{FAULT_NOTIFICATION, FaultInfo, PeerGone, Refusal, SchedState, TaskState};

// The generated kconfig names the policy here (`kern::lifecycle::SupervisorFaultPolicy`).
pub use crate::config::SupervisorFaultPolicy;

use crate::arch;
use crate::sched::NextTask;
use crate::startup::config;
use crate::task::{NotificationSet, Task};

pub const SUPERVISOR: usize = 0;

/// Records a fault on `index` and notifies the supervisor. A fault of the supervisor resets
/// or halts the system, since nothing would be left to recover it.
pub fn fault_task(tasks: &mut [Task], index: usize, fault: FaultInfo) -> NextTask {
    #[cfg(feature = "fault-inject")]
    crate::inject::on_fault(tasks, index, &fault);
    stop_sending(tasks, index);
    tasks[index].record_fault(fault);
    if index == SUPERVISOR {
        match config().supervisor_fault {
            SupervisorFaultPolicy::Reset => arch::system_reset(abi::ResetReason::SupervisorFault),
            SupervisorFaultPolicy::Halt => {
                #[cfg(feature = "fault-inject")]
                crate::inject::halting();
                arch::halt_forever()
            }
        }
    }
    // The supervisor alone has priority 0 (the builder checks it), so once woken it is the
    // task to run; no scan needed.
    if tasks[SUPERVISOR].post(FAULT_NOTIFICATION) {
        NextTask::Specific(SUPERVISOR)
    } else {
        NextTask::Other
    }
}

/// Detaches `index` (see the module docs). Returns whether any task was woken. Inlined
/// into its one caller (kernel IPC), since the work is [`end_attached_incarnation`]'s call.
#[inline(always)]
pub fn detach(tasks: &mut [Task], index: usize) -> NextTask {
    mask_and_clear_irqs(index);
    end_incarnation(tasks, index, false)
}

/// Ends the current incarnation of `index`, waking the peers blocked on it with
/// `PeerGone::Restarted` (`back`: a restart that starts the task) or `PeerGone::Unavailable`
/// and the new generation. A detached task's incarnation has already ended: that test is
/// inlined, so loading an unloaded task costs no call.
#[inline(always)]
fn end_incarnation(tasks: &mut [Task], index: usize, back: bool) -> NextTask {
    if tasks[index].detached {
        return NextTask::Same;
    }
    end_attached_incarnation(tasks, index, back)
}

/// [`end_incarnation`] of an attached task. Out of line: detach and restart share it. A
/// flag rather than the code's constructor, which out of line would be an indirect call.
#[inline(never)]
fn end_attached_incarnation(tasks: &mut [Task], index: usize, back: bool) -> NextTask {
    #[cfg(feature = "fault-inject")]
    crate::inject::on_incarnation_end(index);
    stop_sending(tasks, index);
    // Every task sending to the old incarnation is woken below.
    tasks[index].clear_senders();
    let t = &mut tasks[index];
    let old_id = t.current_id();
    t.generation = t.generation.wrapping_add(1);
    t.set_detached(true);
    t.set_state(match t.state {
        TaskState::Healthy(_) => TaskState::Healthy(SchedState::Stopped),
        TaskState::Faulted { fault, .. } => TaskState::Faulted {
            fault,
            original_state: SchedState::Stopped,
        },
    });
    t.timer.deadline = None;
    t.timer.to_post = NotificationSet(0);
    t.notifications = 0;
    // The refusal a SEND to the new incarnation would get: the code, and next to it the
    // exact name of what runs next.
    let generation = t.current_id().generation();
    let code = if back {
        PeerGone::Restarted(generation)
    } else {
        PeerGone::Unavailable(generation)
    };
    let refusal = Refusal::peer(code, t.generation);
    let servers = t.descriptor.client_gone_targets;
    let mut woke = servers != 0 && tell_servers_client_gone(tasks, servers);
    // Three exact-state tests rather than one or-pattern binding the peer: LLVM turns them
    // into two compares of the state's tags, where the pattern's range arithmetic cost
    // about four instructions more per task (restart 2246 -> 2213).
    for peer in tasks.iter_mut() {
        if peer.is_healthy_in(SchedState::InSend(old_id))
            || peer.is_healthy_in(SchedState::InReply(old_id))
            || peer.is_healthy_in(SchedState::InRecv(Some(old_id)))
        {
            peer.save.set_refusal(refusal);
            peer.set_healthy_state(SchedState::Runnable);
            woke = true;
        }
    }
    if woke {
        NextTask::Other
    } else {
        NextTask::Same
    }
}

/// Takes `index` out of the waiting senders of the task it is sending to, if it is: it is
/// about to leave `Healthy(InSend(_))` for a fault or the end of its incarnation.
fn stop_sending(tasks: &mut [Task], index: usize) {
    if let Some(SchedState::InSend(target)) = tasks[index].healthy_state()
        && let Some(t) = tasks.get_mut(target.index())
    {
        t.remove_sender(index);
    }
}

/// Posts each task in `servers` (an ended task's `client_gone_targets`) its `client_gone`
/// bit (module docs, "Client gone"). Returns whether any woke. Out of line: most detaches
/// have no such server and only pay the test before the call.
#[inline(never)]
fn tell_servers_client_gone(tasks: &mut [Task], mut servers: u32) -> bool {
    let mut woke = false;
    while servers != 0 {
        let server = servers.trailing_zeros() as usize;
        servers &= servers - 1;
        if let Some(t) = tasks.get_mut(server) {
            let bit = t.descriptor.client_gone;
            woke |= t.post(bit);
        }
    }
    woke
}

/// Restarts `index` from its entry point; see the module docs. Inlined into its one caller
/// (kernel IPC), which saves a call on every restart and load.
#[inline(always)]
pub fn restart(tasks: &mut [Task], index: usize, start: bool) -> NextTask {
    // Here rather than only at detach: a line can latch again after a detach (a
    // peripheral still signalling when it was masked), and the new incarnation must start
    // with none of its interrupts pending.
    mask_and_clear_irqs(index);
    // Held (not started), the task is not back: a retry would find it detached.
    let hint = end_incarnation(tasks, index, start);
    let t = &mut tasks[index];
    t.reinitialize();
    t.set_detached(!start);
    t.set_healthy_state(if start {
        SchedState::Runnable
    } else {
        SchedState::Stopped
    });
    if start { NextTask::Other } else { hint }
}

/// Masks every interrupt routed to `index` and forgets any that is pending.
fn mask_and_clear_irqs(index: usize) {
    for irq in config()
        .irqs
        .iter()
        .filter(|d| usize::from(d.task) == index)
    {
        arch::irq_disable(irq.irq);
        arch::irq_clear_pending(irq.irq);
    }
}
