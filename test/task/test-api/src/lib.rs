//! Operations of the kernel-test assistant and peers. These use raw IPC on purpose: the
//! tests pin down what the kernel does with messages (truncation, oversized replies, bad
//! leases), which a checked IDL stub would refuse before the kernel saw them.
#![no_std]

/// Operations of `test-assistant`, the server the suite and the peers call.
pub mod assistant {
    /// Replies with the bytes received (the buffer is `ECHO_BUFFER` bytes) and a response
    /// code equal to the sender's full message length.
    pub const ECHO: u16 = 1;
    pub const ECHO_BUFFER: usize = 64;
    /// Message: n (u32). Replies with n bytes.
    pub const REPLY_N: u16 = 2;
    /// Leases: 0 readable source, 1 writable destination. Copies the source reversed into
    /// the destination; the code is the number of bytes read.
    pub const REVERSE: u16 = 3;
    /// Message: lease index (u32), offset (u32). Borrows lease `index` from `offset`.
    pub const BORROW_AT: u16 = 4;
    /// Replies with lease 0's attributes and length (u32 each).
    pub const LEASE_INFO: u16 = 5;
    /// Message: fault kind (u32, `FaultKind`), address argument (u32). Does not reply.
    pub const FAULT: u16 = 6;
    /// Holds the caller without replying (until the assistant is restarted).
    pub const HOLD: u16 = 7;
    /// Reads lease 0 of the caller held by `HOLD`; the code is the borrow result
    /// (0 on success, the kernel's code otherwise) and the reply carries what was read.
    pub const BORROW_HELD: u16 = 8;
    /// Message: milliseconds (u32). Replies, then sleeps that long before receiving again.
    pub const SLEEP: u16 = 9;
    /// Reply-faults the caller with `ReplyFaultReason` (u32 in the message).
    pub const REPLY_FAULT: u16 = 10;
    /// Enables the assistant's timer interrupt (it never fires: the timer is not started).
    pub const IRQ_ENABLE: u16 = 11;
    /// Replies with `sys_irq_status` of its interrupt: enabled, pending, posted (u32 each).
    pub const IRQ_STATUS: u16 = 12;
    /// Sets a timer `ms` ahead that posts to the assistant; replies at once.
    pub const ARM_TIMER: u16 = 13;
    /// Replies with the number of timer notifications received since start.
    pub const TIMER_COUNT: u16 = 14;
    /// Leaves the caller waiting without replying and without holding it (until the
    /// assistant is restarted), so a second call can be pending next to the held one.
    pub const PARK: u16 = 15;
    /// Message: code (u32). Replies with it to the caller held by `HOLD`, then replies 0.
    pub const REPLY_HELD: u16 = 16;
    /// Message: `ReplyFaultReason` (u32). Reply-faults the caller held by `HOLD`, then
    /// replies 0.
    pub const REPLY_FAULT_HELD: u16 = 17;
    /// Posts `peer_a`'s `wake` notification, down the priority order (the assistant is more
    /// important and may only POST to `peer_a`: app.toml `notify`); replies with the POST's
    /// code (0, or a peer-gone code).
    pub const POST_DOWN: u16 = 18;
    /// Records the caller as a client the assistant holds state for, until its incarnation
    /// ends (the assistant declares `client-gone`); replies 0, or `u32::MAX` when it already
    /// holds `CLIENTS` clients.
    pub const REGISTER: u16 = 19;
    pub const CLIENTS: usize = 4;
    /// Replies with what the assistant found on its `client-gone` notifications: the number
    /// of registered incarnations found ended, then the last one's task index, its 32-bit
    /// generation and the kernel tick (low word) at which it was found (u32 each).
    pub const GONE_REPORT: u16 = 20;
}

/// Ways the assistant can be asked to fault.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum FaultKind {
    /// Write the word at the given address (another task's RAM).
    WriteAddress = 0,
    /// Read the word at the given address (kernel RAM).
    ReadAddress = 1,
    ExecuteFromRam = 2,
    StackOverflow = 3,
    IllegalInstruction = 4,
    DivideByZero = 5,
    BadSyscallNumber = 6,
    /// SEND with a message slice the task may not read.
    InvalidSlice = 7,
    Panic = 8,
    /// Kernel IPC without the grant.
    Kipc = 9,
    /// SEND to a task not in its `task-slots` (and at most in its `notify` table).
    UndeclaredTarget = 10,
    /// An SVC with the stack pointer 8 bytes above the bottom of the stack: the exception
    /// frame overflows while the SVC is being taken.
    StackOverflowAtSvc = 11,
    /// POST to a task in neither its `task-slots` nor its `notify` table.
    UndeclaredPost = 12,
}

impl FaultKind {
    pub const ALL: [FaultKind; 13] = [
        FaultKind::WriteAddress,
        FaultKind::ReadAddress,
        FaultKind::ExecuteFromRam,
        FaultKind::StackOverflow,
        FaultKind::IllegalInstruction,
        FaultKind::DivideByZero,
        FaultKind::BadSyscallNumber,
        FaultKind::InvalidSlice,
        FaultKind::Panic,
        FaultKind::Kipc,
        FaultKind::UndeclaredTarget,
        FaultKind::StackOverflowAtSvc,
        FaultKind::UndeclaredPost,
    ];

    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.get(n as usize).copied()
    }
}

/// Operations of `test-peer`, a client the suite drives. Each replies at once and then
/// acts, so the suite can arrange for the peer to be blocked while it does something else.
pub mod peer {
    /// Message: assistant operation (u32), then up to 8 bytes of message. The peer calls
    /// the assistant with a 16-byte lease and records the response code.
    pub const CALL: u16 = 1;
    /// Closed-receives from the assistant and records the response code.
    pub const RECV_FROM_ASSISTANT: u16 = 2;
    /// Replies with (done, response code, notification count, last wake tick low word,
    /// spin end tick low word), u32 each.
    pub const RESULT: u16 = 3;
    /// Message: milliseconds, start tick (low word) (u32 each). Sleeps until the start tick,
    /// then spins (no syscalls but reading the clock) that long and records when it finished.
    pub const SPIN: u16 = 4;
    /// Notification bit the suite posts to wake a peer.
    pub const WAKE_BIT: u32 = 1 << 0;
}
