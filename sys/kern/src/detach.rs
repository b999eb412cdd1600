//! Faults, detach and restart: the three ways a task incarnation ends.
//!
//! - **Fault** stops the task and tells the supervisor (notification bit 0). Nothing else
//!   changes: peers blocked on the task stay blocked until the supervisor detaches it, which
//!   the supervisor's policy bounds by a deadline (dependents get time to let go first).
//! - **Detach** ends the incarnation atomically: the generation is bumped, every healthy task
//!   blocked on the old id (sending to it, awaiting its reply, closed-receiving from it) is
//!   woken with `PeerGone::Unavailable(new generation)` (and the new 32-bit generation in r5,
//!   as a refused SEND returns it), its interrupts are masked and cleared,
//!   its timer and notifications are cleared. Leases it lent die with its `InReply` state;
//!   leases it was borrowing die with its id. While detached it is never scheduled and IPC
//!   to it fails at once.
//! - **Restart** re-initialises a detached task (registers, a fresh stack frame at its entry
//!   point), clears its interrupts' pending state again (a line may have latched since the
//!   detach) and makes it runnable. Restarting a task that is not detached detaches it first,
//!   so the generation is bumped exactly once per incarnation; in that case the peers woken
//!   get `PeerGone::Restarted(new generation)`, since the task is back by the time they
//!   run and a retry will reach it (or `Unavailable` if the restart holds it stopped).
//!
//! Tasks that are themselves faulted are not woken by a detach: their state is a fault
//! record the supervisor and humility read, and they will be restarted anyway.
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

use abi::{FAULT_NOTIFICATION, FaultInfo, PeerGone, SchedState, TaskState};

use crate::arch;
use crate::sched::NextTask;
use crate::task::{NotificationSet, Task};

/// What the kernel does when the supervisor itself faults (`app.toml`
/// `kernel.on-supervisor-fault`), and when the kernel fails (`kernel.on-kernel-failure`,
/// `fail::kernel_fail`): the two choices are the same.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SupervisorFaultPolicy {
    Reset,
    Halt,
}

pub const SUPERVISOR: usize = 0;

/// Records a fault on `index` and notifies the supervisor. A fault of the supervisor resets
/// or halts the system, since nothing would be left to recover it.
pub fn fault_task(tasks: &mut [Task], index: usize, fault: FaultInfo) -> NextTask {
    #[cfg(feature = "fault-inject")]
    crate::inject::on_fault(tasks, index, &fault);
    stop_sending(tasks, index);
    tasks[index].record_fault(fault);
    if index == SUPERVISOR {
        match arch::config().supervisor_fault {
            SupervisorFaultPolicy::Reset => arch::system_reset(abi::ResetReason::SupervisorFault),
            SupervisorFaultPolicy::Halt => arch::halt_forever(),
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

/// Detaches `index` (see the module docs). Returns whether any task was woken.
pub fn detach(tasks: &mut [Task], index: usize) -> NextTask {
    mask_and_clear_irqs(index);
    end_incarnation(tasks, index, PeerGone::Unavailable)
}

/// Ends the current incarnation of `index`, waking the peers blocked on it with `code_for`
/// the new generation.
fn end_incarnation(
    tasks: &mut [Task],
    index: usize,
    code_for: fn(abi::Generation) -> PeerGone,
) -> NextTask {
    if tasks[index].detached {
        return NextTask::Same;
    }
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
    let code = code_for(t.current_id().generation()).code();
    // Next to the code, as a refused SEND gets it: the exact name of what runs next.
    let generation = t.generation;
    let servers = t.descriptor.client_gone_targets;
    let mut woke = servers != 0 && tell_servers_client_gone(tasks, servers);
    for peer in tasks.iter_mut() {
        let blocked_on_old = match peer.state {
            TaskState::Healthy(
                SchedState::InSend(p) | SchedState::InReply(p) | SchedState::InRecv(Some(p)),
            ) => p == old_id,
            _ => false,
        };
        if blocked_on_old {
            peer.save.set_results(&[code, generation]);
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

/// Restarts `index` from its entry point; see the module docs.
pub fn restart(tasks: &mut [Task], index: usize, start: bool) -> NextTask {
    // Held (not started), the task is not back: a retry would find it detached.
    let code_for = if start {
        PeerGone::Restarted
    } else {
        PeerGone::Unavailable
    };
    // Here rather than only at detach: a line can latch again after a detach (a
    // peripheral still signalling when it was masked), and the new incarnation must start
    // with none of its interrupts pending.
    mask_and_clear_irqs(index);
    let hint = end_incarnation(tasks, index, code_for);
    let t = &mut tasks[index];
    arch::reinitialize(t);
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
    for irq in arch::config()
        .irqs
        .iter()
        .filter(|d| usize::from(d.task) == index)
    {
        arch::irq_disable(irq.irq);
        arch::irq_clear_pending(irq.irq);
    }
}
