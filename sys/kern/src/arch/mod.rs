//! The architecture seam. `arm_m` is the ARMv7-M implementation used on hardware and QEMU;
//! `host` stands in for it in host tests with a simulated 32-bit address space, so the
//! whole kernel core runs under `cargo test`.
//!
//! Both provide: `SavedState`; kernel-checked memory copies (`copy_user`,
//! `copy_from_kernel`, `copy_to_kernel`); `reinitialize`; `now`; NVIC control
//! (`irq_enable`, `irq_disable`, `irq_clear_pending`, `irq_pend`, `irq_is_enabled`,
//! `irq_is_pending`); `config`, `try_config`; `image_id`; `reset_reason` (why the system last
//! reset, `abi::ResetReason`); `system_reset(reason)`; `record_epitaph`; `halt_forever`.

mod reset;

#[cfg(target_os = "none")]
mod arm_m;
#[cfg(target_os = "none")]
pub use arm_m::*;

#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub use host::*;

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

/// Words in the extended (FP) exception frame every task runs with: r0-r3, r12, lr, pc,
/// xPSR, s0-s15, FPSCR and one reserved word. humility assumes this frame (contract 3.5).
pub const FRAME_WORDS: usize = 26;
/// EXC_RETURN for thread mode, process stack, extended frame.
pub const EXC_RETURN_THREAD_PSP_FP: u32 = 0xFFFF_FFED;

/// The exception frame a task starts from: `pc` at its entry point, Thumb state, and a link
/// register that faults if `main` ever returns.
pub fn initial_frame(entry_point: u32) -> [u32; FRAME_WORDS] {
    let mut frame = [0; FRAME_WORDS];
    frame[5] = 0xFFFF_FFFF;
    frame[6] = entry_point & !1;
    frame[7] = 1 << 24;
    frame
}

/// Saved registers of a task not currently running, for both architectures. The names are
/// read by humility: `r4`-`r11` contiguous in that order, and `psp` (contract 3.5).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct SavedState {
    pub r4: u32,
    pub r5: u32,
    pub r6: u32,
    pub r7: u32,
    pub r8: u32,
    pub r9: u32,
    pub r10: u32,
    pub r11: u32,
    pub psp: u32,
    pub exc_return: u32,
    /// s16-s31: callee-saved FP registers the hardware frame does not hold.
    pub fpregs: [u32; 16],
}

/// Sets up a task's registers and stack to start from its entry point.
pub fn reinitialize(task: &mut crate::task::Task) {
    let desc = task.descriptor;
    let frame_base = desc.initial_stack - (FRAME_WORDS * 4) as u32;
    task.save = SavedState {
        psp: frame_base,
        exc_return: EXC_RETURN_THREAD_PSP_FP,
        ..SavedState::default()
    };
    // SAFETY: the builder places `initial_stack` inside the task's RAM region with room
    // for at least one frame below it; the region belongs to no other task.
    unsafe { write_frame(frame_base, &initial_frame(desc.entry_point)) };
}
