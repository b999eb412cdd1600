//! The task table and the running task, as the exception handlers see them, and the
//! switch from one task to the next.

use crate::arch;
use crate::task::Task;

/// The running task's control block, for humility (contract 3.4) and the entry shims.
#[unsafe(no_mangle)]
static mut CURRENT_TASK_PTR: *mut Task = core::ptr::null_mut();

static mut TASK_TABLE: *mut Task = core::ptr::null_mut();
static mut TASK_COUNT: usize = 0;

/// Makes `table` the task table the handlers run on; it must live for the rest of time.
///
/// # Safety
/// Once, at start-up, before any handler can run.
pub(super) unsafe fn install(table: &mut [Task]) {
    // SAFETY: per this function's contract, nothing else touches these statics yet.
    unsafe {
        TASK_TABLE = table.as_mut_ptr();
        TASK_COUNT = table.len();
    }
}

/// Makes `next` the running task: MPU regions and `CURRENT_TASK_PTR`.
pub(super) fn switch_to(tasks: &mut [Task], next: usize) {
    let task: *mut Task = &mut tasks[next];
    arch::load_regions(&tasks[next].descriptor.mpu_words);
    // SAFETY: kernel entry points never nest; the shims read it only around them.
    unsafe { CURRENT_TASK_PTR = task };
}

/// Runs `f` on the task table with the index of the running task, then switches to the
/// task it picks (if different).
pub(super) fn with_tasks(f: impl FnOnce(&mut [Task], usize) -> usize) {
    // SAFETY: the table was installed by `start_kernel`; kernel entry points never nest,
    // so this is the only live reference.
    let tasks = unsafe { core::slice::from_raw_parts_mut(TASK_TABLE, TASK_COUNT) };
    // SAFETY: CURRENT_TASK_PTR always points into the table once the kernel has started.
    let current = usize::from(unsafe { (*CURRENT_TASK_PTR).descriptor.index });
    let next = f(tasks, current);
    if next != current {
        #[cfg(feature = "task-time")]
        arch::charge_task_time(current);
        switch_to(tasks, next);
    }
}
