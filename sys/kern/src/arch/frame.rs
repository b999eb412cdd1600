//! What a task's registers look like while it is not running, on both architectures: the
//! kernel-saved part (`SavedState`) and the hardware exception frame on the task's stack.

/// Words in the extended (FP) exception frame every task runs with: r0-r3, r12, lr, pc,
/// xPSR, s0-s15, FPSCR and one reserved word. humility assumes this frame (contract 3.5).
pub const FRAME_WORDS: usize = 26;
/// EXC_RETURN for thread mode, process stack, extended frame: the value of every return
/// into a task, so it is not saved per task. A task starts with it (its first return sets
/// `CONTROL.FPCA`), so every exception it takes stacks the extended frame and hands the
/// kernel this same value; only privileged code could clear `FPCA`.
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
    /// s16-s31: callee-saved FP registers the hardware frame does not hold.
    pub fpregs: [u32; 16],
}
