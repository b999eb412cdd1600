//! Syscall dispatch: one shape for every syscall, one place where failures become faults.
//!
//! Each syscall is `fn(&mut [Task], caller) -> Result<NextTask, UserError>`, reading its
//! arguments through its `abi::syscall` view (`args`). `dispatch` runs it, turns a
//! `UserError` into a fault of the caller (notifying the supervisor) or a refusal in its
//! result registers (`err`), and resolves the scheduling hint into the next task to run.

use abi::syscall::{IrqStatus, RefreshArgs};
use abi::{FaultInfo, Incarnation, Sysnum, TaskId, UsageError};

use crate::err::UserError;
use crate::ipc::{self, target_index};
use crate::sched::{self, NextTask};
use crate::task::Task;
use crate::umem::Access;
use crate::{arch, kipc, lease, lifecycle, startup, time};

/// Runs the syscall `caller` just made and returns the index of the task to run next.
pub fn dispatch(tasks: &mut [Task], caller: usize) -> usize {
    let result = match Sysnum::from_u32(tasks[caller].save.syscall_number()) {
        Some(Sysnum::Send) => send(tasks, caller),
        Some(Sysnum::Recv) => ipc::recv(tasks, caller),
        Some(Sysnum::Reply) => ipc::reply(tasks, caller),
        Some(Sysnum::SetTimer) => time::set_timer(tasks, caller),
        Some(Sysnum::BorrowRead) => lease::borrow_read(tasks, caller),
        Some(Sysnum::BorrowWrite) => lease::borrow_write(tasks, caller),
        Some(Sysnum::BorrowInfo) => lease::borrow_info(tasks, caller),
        Some(Sysnum::IrqControl) => irq_control_syscall(tasks, caller),
        Some(Sysnum::Panic) => panic_syscall(tasks, caller),
        Some(Sysnum::GetTimer) => time::get_timer(tasks, caller),
        Some(Sysnum::RefreshTaskId) => refresh_task_id(tasks, caller),
        Some(Sysnum::Post) => ipc::post(tasks, caller),
        Some(Sysnum::ReplyFault) => ipc::reply_fault(tasks, caller),
        Some(Sysnum::IrqStatus) => irq_status(tasks, caller),
        None => Err(UsageError::BadSyscallNumber.into()),
    };
    let hint = match result {
        Ok(hint) => hint,
        Err(UserError::Fault(fault)) => lifecycle::fault_task(tasks, caller, fault),
        Err(UserError::Refused(refusal)) => {
            tasks[caller].save.set_refusal(refusal);
            NextTask::Same
        }
    };
    sched::resolve(tasks, caller, hint)
}

/// SEND: to another task (`ipc`), or to the kernel itself (`kipc`).
fn send(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.send_args();
    if args.target == TaskId::KERNEL {
        kipc::handle(tasks, caller, args)
    } else {
        ipc::send(tasks, caller, args)
    }
}

/// PANIC: the message stays where the task put it (r4/r5), where the supervisor and humility
/// read it; the kernel only checks that the task may read it, so they can too.
fn panic_syscall(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let msg = tasks[caller].save.panic_args().message;
    if !tasks[caller].can_access(msg, Access::Read) {
        return Err(UsageError::InvalidSlice.into());
    }
    Err(UserError::Fault(FaultInfo::Panic))
}

fn refresh_task_id(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let i = target_index(tasks, tasks[caller].save.refresh_args().id)?;
    let current = Incarnation {
        id: tasks[i].current_id(),
        generation: tasks[i].generation,
    };
    tasks[caller]
        .save
        .set_results(&RefreshArgs::encode_result(current));
    Ok(NextTask::Same)
}

/// The caller's interrupts selected by notification `mask`; a mask naming a bit with no
/// interrupt behind it is misuse (`NoIrq`), so a typo cannot silently do nothing.
fn owned_irqs(
    caller: usize,
    mask: u32,
) -> Result<impl Iterator<Item = &'static abi::IrqDesc>, UserError> {
    let mine = move |d: &&abi::IrqDesc| usize::from(d.task) == caller && d.notification & mask != 0;
    let covered = startup::config()
        .irqs
        .iter()
        .filter(mine)
        .fold(0, |acc, d| acc | d.notification);
    if mask & !covered != 0 {
        return Err(UsageError::NoIrq.into());
    }
    Ok(startup::config().irqs.iter().filter(mine))
}

fn irq_control_syscall(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let args = tasks[caller].save.irq_control_args();
    for d in owned_irqs(caller, args.mask)? {
        if args.clear_pending {
            arch::irq_clear_pending(d.irq);
        }
        if args.enable {
            arch::irq_enable(d.irq);
        } else {
            arch::irq_disable(d.irq);
        }
    }
    Ok(NextTask::Same)
}

fn irq_status(tasks: &mut [Task], caller: usize) -> Result<NextTask, UserError> {
    let mask = tasks[caller].save.irq_status_args().mask;
    let (mut enabled, mut pending) = (0, 0);
    for d in owned_irqs(caller, mask)? {
        if arch::irq_is_enabled(d.irq) {
            enabled |= d.notification;
        }
        if arch::irq_is_pending(d.irq) {
            pending |= d.notification;
        }
    }
    let posted = tasks[caller].notifications & mask;
    let status = IrqStatus {
        enabled,
        pending,
        posted,
    };
    tasks[caller].save.set_results(&status.encode());
    Ok(NextTask::Same)
}

/// An interrupt fired: mask it (the owner re-enables it with IRQ_CONTROL once handled) and
/// post the owner's notification. Returns the hint for the interrupted task `current`.
pub fn interrupt(tasks: &mut [Task], current: usize, irq: u32) -> NextTask {
    arch::irq_disable(irq);
    let Some(d) = startup::config().irqs.iter().find(|d| d.irq == irq) else {
        return NextTask::Same;
    };
    let owner = usize::from(d.task);
    if tasks[owner].post_out_of_line(d.notification) {
        sched::hint_after_wake(tasks, current, owner)
    } else {
        NextTask::Same
    }
}
