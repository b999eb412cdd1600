//! Typed views over a task's saved registers: syscall arguments come from r4-r10 and
//! results go back into r4-r11 (the syscall number is in r11). Reading through these views
//! keeps register numbering in one place.

use abi::{TaskId, ULease, send_packing};

use crate::arch::SavedState;
use crate::umem::USlice;

impl SavedState {
    pub fn arg(&self, n: usize) -> u32 {
        match n {
            0 => self.r4,
            1 => self.r5,
            2 => self.r6,
            3 => self.r7,
            4 => self.r8,
            5 => self.r9,
            6 => self.r10,
            _ => self.r11,
        }
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

    pub fn send_args(&self) -> SendArgs {
        SendArgs {
            target: TaskId((self.r4 >> 16) as u16),
            target_generation: self.r9,
            operation: self.r4 as u16,
            message: USlice::new(self.r5, self.r6),
            response: USlice::new(self.r7, send_packing::reply_len(self.r8)),
            leases: USlice::new_array(
                self.r10,
                send_packing::lease_count(self.r8),
                size_of::<ULease>() as u32,
            ),
            counts_in_range: send_packing::in_range(self.r8),
        }
    }

    pub fn recv_args(&self) -> RecvArgs {
        RecvArgs {
            buffer: USlice::new(self.r4, self.r5),
            notification_mask: self.r6,
            closed_from: (self.r7 & abi::RECV_CLOSED != 0).then_some(TaskId(self.r7 as u16)),
        }
    }

    /// A receiver's notification mask; humility also reads it from r6 (contract 3.5).
    pub fn recv_notification_mask(&self) -> u32 {
        self.r6
    }

    /// The 32-bit generation of the task a SEND, REPLY, REPLY_FAULT, BORROW_*, POST or closed
    /// RECV names in r4 (r7 for RECV): what RECV or REFRESH_TASK_ID reported for it, compared
    /// exactly where the TaskId's 6 bits would wrap.
    pub fn peer_generation(&self) -> u32 {
        self.r9
    }

    pub fn reply_args(&self) -> ReplyArgs {
        ReplyArgs {
            peer: TaskId(self.r4 as u16),
            code: self.r5,
            message: USlice::new(self.r6, self.r7),
        }
    }

    pub fn borrow_args(&self) -> BorrowArgs {
        BorrowArgs {
            lender: TaskId(self.r4 as u16),
            lender_generation: self.peer_generation(),
            index: self.r5 as usize,
            offset: self.r6 as usize,
            buffer: USlice::new(self.r7, self.r8),
        }
    }

    pub fn timer_args(&self) -> (bool, u64, u32) {
        (
            self.r4 != 0,
            u64::from(self.r5) | (u64::from(self.r6) << 32),
            self.r7,
        )
    }

    /// Results of a SEND that completed or failed without blocking.
    #[inline(always)]
    pub fn set_send_response(&mut self, code: u32, reply_len: u32) {
        self.r4 = code;
        self.r5 = reply_len;
    }

    /// Results of a RECV that returned a message or notification.
    #[inline(always)]
    pub fn set_recv_result(&mut self, r: RecvResult) {
        self.r4 = 0;
        self.r5 = u32::from(r.sender.0);
        self.r6 = r.operation;
        self.r7 = r.message_len;
        self.r8 = r.response_capacity;
        self.r9 = r.lease_count;
        self.r10 = r.sender_generation;
    }
}

pub struct SendArgs {
    pub target: TaskId,
    /// The 32-bit generation the sender believes `target` has (r9, as for every syscall
    /// that names a peer).
    pub target_generation: u32,
    pub operation: u16,
    pub message: USlice,
    pub response: USlice,
    pub leases: USlice,
    /// Whether the packed lease count and reply capacity are within their bounds; a SEND
    /// with either out of range is refused like a bad slice.
    pub counts_in_range: bool,
}

pub struct RecvArgs {
    pub buffer: USlice,
    pub notification_mask: u32,
    pub closed_from: Option<TaskId>,
}

pub struct ReplyArgs {
    pub peer: TaskId,
    pub code: u32,
    pub message: USlice,
}

pub struct BorrowArgs {
    pub lender: TaskId,
    pub lender_generation: u32,
    pub index: usize,
    pub offset: usize,
    pub buffer: USlice,
}

pub struct RecvResult {
    pub sender: TaskId,
    /// The sender's full restart count (0 for notifications, whose sender is the kernel).
    pub sender_generation: u32,
    pub operation: u32,
    pub message_len: u32,
    pub response_capacity: u32,
    pub lease_count: u32,
}
