//! Exception entry: the top of the kernel. Every way into the kernel after start-up is an
//! exception, and each handler here turns one into a call down into the core (syscalls,
//! time, lifecycle, the scheduler), then switches to the task the core picked. Below this
//! layer nothing knows how it was entered.
//!
//! Exception model: SVCall, PendSV, SysTick and every device interrupt share the lowest
//! priority, so kernel code never preempts itself. MemManage, BusFault and UsageFault run
//! above them; taken from a task they fault the task, taken from the kernel they fail it.
//!
//! Context: SVCall, PendSV and task faults save r4-r11, PSP and EXC_RETURN into the running
//! task's `SavedState` with one `stm` (the layout matches), plus s16-s31 with one `vstm`
//! (s0-s15 and FPSCR are in the hardware frame: lazy stacking is off, see `FPCCR_ASPEN` in
//! `arch`). The hardware frame is always the extended FP frame: tasks start with
//! EXC_RETURN 0xFFFFFFED. SysTick and device interrupts save nothing; when they make a more
//! important task runnable they pend PendSV, which tail-chains and switches.
//!
//! - `start`: `start_kernel`, from the app's `kernel_main` to the first task.
//! - `current`: the task table and the running task as the handlers see them; switching.
//! - `handlers`: the Rust side of each exception.
//! - `shims`: the assembly that saves and restores a task around them.
//! - `vectors`: the vector table. `reset_handler`: the reset handler's text.

mod reset_handler;

#[cfg(target_os = "none")]
mod current;
#[cfg(target_os = "none")]
mod handlers;
#[cfg(target_os = "none")]
mod shims;
#[cfg(target_os = "none")]
mod start;
#[cfg(target_os = "none")]
mod vectors;

#[cfg(target_os = "none")]
pub use handlers::{fault, irq, pendsv, tick};
#[cfg(target_os = "none")]
pub use start::start_kernel;
#[cfg(target_os = "none")]
pub use vectors::VectorTable;
