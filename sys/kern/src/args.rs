//! A task's saved registers as syscall arguments and results. Which register carries what is
//! defined once, by the views in `abi::syscall` that `userlib` encodes with; this module only
//! hands them r4-r10 and writes their results back into r4 onwards (the syscall number is
//! in r11).

pub use abi::syscall::{
    Args, BorrowArgs, IrqControlArgs, IrqStatusArgs, PanicArgs, PostArgs, RecvArgs, RecvResult,
    RefreshArgs, ReplyArgs, ReplyFaultArgs, SendArgs, SetTimerArgs,
};
use abi::{Refusal, UsageError};

use crate::arch::SavedState;

impl SavedState {
    /// r4-r10. Inlined with the decoder that reads it, so only the registers a view uses
    /// are loaded.
    #[inline(always)]
    fn args(&self) -> Args {
        [
            self.r4, self.r5, self.r6, self.r7, self.r8, self.r9, self.r10,
        ]
    }

    pub fn syscall_number(&self) -> u32 {
        self.r11
    }

    /// Writes results into r4 onwards (at most six: no syscall returns more).
    #[inline(always)]
    pub fn set_results(&mut self, results: &[u32]) {
        let regs = [
            &mut self.r4,
            &mut self.r5,
            &mut self.r6,
            &mut self.r7,
            &mut self.r8,
            &mut self.r9,
        ];
        for (reg, value) in regs.into_iter().zip(results) {
            *reg = *value;
        }
    }

    /// Ends the syscall this task is in (or blocked in) with a refusal: r4 = its code, r5 =
    /// its detail. The one way a recoverable outcome reaches a task.
    #[inline(always)]
    pub fn set_refusal(&mut self, refusal: Refusal) {
        [self.r4, self.r5] = refusal.results();
    }

    #[inline(always)]
    pub fn send_args(&self) -> SendArgs {
        SendArgs::decode(&self.args())
    }

    #[inline(always)]
    pub fn recv_args(&self) -> RecvArgs {
        RecvArgs::decode(&self.args())
    }

    /// A receiver's notification mask; humility also reads it from r6 (contract 3.5).
    #[inline(always)]
    pub fn recv_notification_mask(&self) -> u32 {
        self.recv_args().notification_mask
    }

    #[inline(always)]
    pub fn reply_args(&self) -> ReplyArgs {
        ReplyArgs::decode(&self.args())
    }

    pub fn reply_fault_args(&self) -> Result<ReplyFaultArgs, UsageError> {
        ReplyFaultArgs::decode(&self.args())
    }

    #[inline(always)]
    pub fn borrow_args(&self) -> BorrowArgs {
        BorrowArgs::decode(&self.args())
    }

    pub fn timer_args(&self) -> SetTimerArgs {
        SetTimerArgs::decode(&self.args())
    }

    pub fn irq_control_args(&self) -> IrqControlArgs {
        IrqControlArgs::decode(&self.args())
    }

    pub fn irq_status_args(&self) -> IrqStatusArgs {
        IrqStatusArgs::decode(&self.args())
    }

    /// PANIC's arguments; they stay in place while the task is faulted, where kernel IPC
    /// `ReadPanicMessage` and humility read the message.
    pub fn panic_args(&self) -> PanicArgs {
        PanicArgs::decode(&self.args())
    }

    pub fn refresh_args(&self) -> RefreshArgs {
        RefreshArgs::decode(&self.args())
    }

    #[inline(always)]
    pub fn post_args(&self) -> PostArgs {
        PostArgs::decode(&self.args())
    }

    /// Results of a SEND that completed without blocking, or of the REPLY that woke it.
    #[inline(always)]
    pub fn set_send_response(&mut self, code: u32, reply_len: u32) {
        self.r4 = code;
        self.r5 = reply_len;
    }

    /// Results of a RECV that returned a message or notification.
    #[inline(always)]
    pub fn set_recv_result(&mut self, r: RecvResult) {
        [
            self.r4, self.r5, self.r6, self.r7, self.r8, self.r9, self.r10,
        ] = r.encode();
    }
}
