//! From the app's `kernel_main` to the first task.

use core::arch::asm;
use core::mem::MaybeUninit;

use abi::ResetReason;

use super::current;
use crate::arch;
use crate::config::KernelConfig;
use crate::fail::{Epitaph, kernel_fail};
use crate::sched;
use crate::startup;
use crate::task::Task;

/// Starts the kernel; never returns. Called once from the app's `kernel_main`.
///
/// # Safety
/// Must be called once, in privileged thread mode on the main stack, with `table` being
/// `HUBRIS_TASK_TABLE_SPACE` and `descs` the matching descriptors.
// `#[inline]`, like the handlers off the IPC paths (`entry::handlers`): start-up runs once,
// so it is compiled in the app's kernel crate (`kernel_main`) at `opt-level = "s"`, 68
// bytes smaller than here at 3.
#[inline]
pub unsafe fn start_kernel(
    space: &'static mut [MaybeUninit<Task>],
    descs: &'static [abi::TaskDesc],
    config: &'static KernelConfig,
    reset_reason_from_board: fn(ResetReason) -> ResetReason,
) -> ! {
    arch::take_reset_reason(reset_reason_from_board);
    #[cfg(feature = "fault-inject")]
    crate::inject::boot(arch::reset_reason());
    // At most 32 tasks, one bit each in a task's `senders` (`task::sender_bit`).
    if space.len() != descs.len() || descs.len() > 32 {
        kernel_fail(Epitaph::BadTaskTable);
    }
    for (slot, desc) in space.iter_mut().zip(descs) {
        slot.write(Task::new(desc));
    }
    // SAFETY: every slot was initialised just above.
    let table = unsafe { &mut *(space as *mut [MaybeUninit<Task>] as *mut [Task]) };
    // SAFETY: single-threaded start-up; no handler runs before the first task.
    unsafe {
        arch::set_config(config);
        current::install(table);
    }
    startup::init_tasks(table);
    arch::init_exceptions(config.cpu_hz);
    let first = sched::select(table, table.len() - 1);
    current::switch_to(table, first);
    // SAFETY: CURRENT_TASK_PTR now names a runnable task with a valid initial frame; the
    // SVC taken from the main stack is recognised by the handler as "start first task".
    unsafe { asm!("svc #0xFF", options(noreturn)) }
}
