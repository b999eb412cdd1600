//! Which pending exceptions a task fault drops. Arch-neutral arithmetic so the host tests
//! pin it (`tests/fault_entry.rs`); the ARMv7-M fault service applies it.

/// SHCSR pending bits of exceptions only the running task can have caused: UsageFault
/// (12), MemManage (13), BusFault (14) and SVCall (15).
///
/// When stacking for an exception overflows the task's stack, the derived MemManage (or
/// BusFault) is taken first and the original exception stays pending. A pending SVCall
/// would then run as soon as the kernel returns to the next task, as a syscall of *that*
/// task with its registers; a pending fault would fault it. The faulting task will not run
/// again in this incarnation, so its pending exceptions are dropped on fault entry.
///
/// PendSV and SysTick (pended in ICSR) are not dropped: a pending PendSV only asks for a
/// scheduling decision, which is harmless for any task, and a pending SysTick is a tick
/// that must still be counted. Device interrupts belong to their owners and stay pending.
pub const SHCSR_PENDED_BY_TASK: u32 = (1 << 12) | (1 << 13) | (1 << 14) | (1 << 15);

/// The SHCSR value to write on entry to a task fault: `shcsr` with [`SHCSR_PENDED_BY_TASK`]
/// cleared, every enable and active bit kept.
pub const fn shcsr_after_task_fault(shcsr: u32) -> u32 {
    shcsr & !SHCSR_PENDED_BY_TASK
}
