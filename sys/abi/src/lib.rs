//! Types shared by the Bulkhead kernel and tasks.
//!
//! Everything here is an encoding: how a task names another task, how syscalls and kernel-IPC
//! operations are numbered, how the kernel reports that a peer is gone, and how faults are
//! described. The enum and struct *names* of `TaskState`, `SchedState`, `FaultInfo`,
//! `UsageError`, `ReplyFaultReason`, `TaskDesc` and `RegionDesc` are read by humility through
//! the kernel's DWARF (see `doc/humility-contract.md` sections 3.2-3.6), so they must
//! not be renamed, made generic, or given `char` or union members.
//!
//! Register conventions (ARMv7-M): syscall number in r11, arguments in r4-r10, results in r4-r11.
//! The per-syscall argument layout is written next to each [`Sysnum`] variant and encoded,
//! once for both sides, by the views in [`syscall`]; kernel-IPC messages are the structs in
//! [`kipc`]. A syscall that
//! names a peer incarnation takes its [`Incarnation`]: the `TaskId` (r4; r7 for a closed
//! RECV) and the 32-bit generation in r9. SEND needs eight argument words for that, one more
//! than fit, so it packs its lease count and reply capacity into one register
//! ([`send_packing`]): both have bounds far below 32 bits.
#![no_std]
#![forbid(unsafe_code)]

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub mod kipc;
pub mod syscall;

pub use syscall::{Refusal, USlice};

/// Identifies a task *incarnation*: index in the low 10 bits, generation in the high 6 bits.
///
/// The generation is the low 6 bits of the kernel's 32-bit restart count for that task, so
/// a `TaskId` held across a restart (or a detach) no longer names the task, and the kernel
/// rejects it with a dead or unavailable code instead of delivering to the new incarnation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct TaskId(pub u16);

impl TaskId {
    pub const INDEX_BITS: u32 = 10;
    pub const INDEX_MASK: u16 = (1 << Self::INDEX_BITS) - 1;
    /// The kernel's own id: the target of kernel IPC and the "sender" of notifications.
    pub const KERNEL: TaskId = TaskId(0xFFFF);
    /// Placeholder for a task slot the builder has not filled in.
    pub const UNBOUND: TaskId = TaskId(Self::INDEX_MASK - 1);

    pub const fn for_index_and_gen(index: usize, generation: Generation) -> Self {
        TaskId((index as u16 & Self::INDEX_MASK) | ((generation.0 as u16) << Self::INDEX_BITS))
    }

    pub const fn index(self) -> usize {
        (self.0 & Self::INDEX_MASK) as usize
    }

    pub const fn generation(self) -> Generation {
        Generation((self.0 >> Self::INDEX_BITS) as u8)
    }
}

/// A task incarnation named exactly: `id` (the 16-bit form humility shows and the kernel's
/// blocked states record) together with the kernel's full 32-bit restart count for the task.
///
/// The 6 generation bits of a `TaskId` repeat every 64 restarts, so an id kept across 64
/// restarts of its task names the newest incarnation again. Syscalls that act on a peer the
/// caller names (SEND, REPLY, REPLY_FAULT, BORROW_*, POST, closed RECV) therefore also take the full
/// `generation`, and the kernel compares that instead of the 6 bits: a stale name stays stale
/// until the 32-bit count itself wraps, which would take 2^32 restarts of one task.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct Incarnation {
    pub id: TaskId,
    pub generation: u32,
}

impl Incarnation {
    /// Task `index` in the incarnation with restart count `generation`.
    pub const fn new(index: usize, generation: u32) -> Self {
        Incarnation {
            id: TaskId::for_index_and_gen(index, Generation::from_restart_count(generation)),
            generation,
        }
    }

    pub const fn index(self) -> usize {
        self.id.index()
    }
}

impl Incarnation {
    /// The kernel as a SEND target: it has no restarts, and SEND ignores the generation.
    pub const KERNEL: Incarnation = Incarnation {
        id: TaskId::KERNEL,
        generation: 0,
    };
}

/// The 16-bit name alone (for humility-facing values, or a peer that is refreshed anyway).
impl From<Incarnation> for TaskId {
    fn from(incarnation: Incarnation) -> Self {
        incarnation.id
    }
}

/// Whether this incarnation has id `other` (the 6-bit comparison: `KERNEL`, or a peer's id in
/// a blocked state).
impl PartialEq<TaskId> for Incarnation {
    fn eq(&self, other: &TaskId) -> bool {
        self.id == *other
    }
}

/// The 6-bit IPC generation of a task. Wraps modulo 64.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Generation(pub u8);

impl Generation {
    pub const MASK: u8 = 0x3F;

    /// The IPC generation carried by a 32-bit restart count.
    pub const fn from_restart_count(count: u32) -> Self {
        Generation(count as u8 & Self::MASK)
    }
}

/// Why a message to a task incarnation could not be delivered.
///
/// Encoded in the response code (`rc`) of SEND, POST, closed RECV and the borrow syscalls so
/// that a client can tell "the server restarted, retry with this generation" from "the server
/// is detached (unloaded or being restarted): do not retry now".
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PeerGone {
    /// The peer has been restarted; it now runs with this generation.
    Restarted(Generation),
    /// The peer is detached: it is not running and nothing can block on it. Its current
    /// generation is given so a client can refresh its id once the peer is back.
    Unavailable(Generation),
}

/// Response code base for a peer that was restarted; the low 6 bits carry the new generation.
pub const DEAD_CODE_BASE: u32 = 0xFFFF_FF00;
/// Response code base for a detached peer; the low 6 bits carry its current generation.
pub const UNAVAILABLE_CODE_BASE: u32 = 0xFFFF_FE00;
/// Borrow syscalls: the lender is alive but not (or no longer) waiting on the caller.
pub const LEASE_DEFECT: u32 = 1;

impl PeerGone {
    pub const fn code(self) -> u32 {
        match self {
            PeerGone::Restarted(g) => DEAD_CODE_BASE | g.0 as u32,
            PeerGone::Unavailable(g) => UNAVAILABLE_CODE_BASE | g.0 as u32,
        }
    }

    /// Decodes a response code; `None` for ordinary (server-chosen) codes.
    pub const fn from_code(code: u32) -> Option<Self> {
        let generation = Generation(code as u8 & Generation::MASK);
        if code & !(Generation::MASK as u32) == DEAD_CODE_BASE {
            Some(PeerGone::Restarted(generation))
        } else if code & !(Generation::MASK as u32) == UNAVAILABLE_CODE_BASE {
            Some(PeerGone::Unavailable(generation))
        } else {
            None
        }
    }

    pub const fn generation(self) -> Generation {
        match self {
            PeerGone::Restarted(g) | PeerGone::Unavailable(g) => g,
        }
    }
}

/// How SEND packs its lease count and reply capacity into r8: the count in the top 8 bits,
/// the capacity in the low 24. A field's all-ones value stands for "more than fits" (what
/// [`send_packing::pack`] writes for a longer buffer or table) and the kernel refuses it, like
/// any other count or capacity above the bound, by faulting the caller with
/// `UsageError::InvalidSlice`. No task region is anywhere near 16 MiB, so the capacity bound
/// takes nothing real away; the lease bound is far above what any server accepts.
pub mod send_packing {
    pub const LEASE_COUNT_SHIFT: u32 = 24;
    pub const REPLY_LEN_MASK: u32 = (1 << LEASE_COUNT_SHIFT) - 1;
    /// The largest reply capacity a SEND may offer.
    pub const MAX_REPLY_LEN: u32 = REPLY_LEN_MASK - 1;
    /// The most leases a SEND may lend.
    pub const MAX_LEASES: u32 = (u32::MAX >> LEASE_COUNT_SHIFT) - 1;

    /// r8 for a SEND offering `reply_len` bytes of reply buffer and `lease_count` leases;
    /// a value above its bound saturates to the field's refused all-ones value.
    pub const fn pack(reply_len: usize, lease_count: usize) -> u32 {
        let len = if reply_len > MAX_REPLY_LEN as usize {
            REPLY_LEN_MASK
        } else {
            reply_len as u32
        };
        let count = if lease_count > MAX_LEASES as usize {
            MAX_LEASES + 1
        } else {
            lease_count as u32
        };
        count << LEASE_COUNT_SHIFT | len
    }

    pub const fn reply_len(r8: u32) -> u32 {
        r8 & REPLY_LEN_MASK
    }

    pub const fn lease_count(r8: u32) -> u32 {
        r8 >> LEASE_COUNT_SHIFT
    }

    /// Whether both fields are within their bounds.
    pub const fn in_range(r8: u32) -> bool {
        lease_count(r8) <= MAX_LEASES && reply_len(r8) <= MAX_REPLY_LEN
    }
}

/// Syscall numbers (in r11). Arguments r4.., results r4.. as listed, and as the views in
/// [`syscall`] encode them. A syscall the kernel refuses (a gone peer, a lender no longer
/// waiting, a kernel-IPC request that does not apply) returns a [`Refusal`] instead: r4 =
/// its code, r5 = the peer's current 32-bit generation for a gone peer, else 0.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Sysnum {
    /// r4 = target TaskId << 16 | operation, r5/r6 = message ptr/len, r7 = reply buffer ptr,
    /// r8 = lease count and reply capacity ([`send_packing`]), r9 = target's 32-bit
    /// generation (ignored for `TaskId::KERNEL`), r10 = lease table ptr. Returns r4 =
    /// response code, r5 = reply length, or with a [`PeerGone`] code the target's current
    /// 32-bit generation, so the caller can name it exactly again without another syscall.
    Send = 0,
    /// r4/r5 = buffer ptr/len, r6 = notification mask, r7 = sender filter
    /// (bit 31 set: closed receive from the TaskId in the low 16 bits), r9 = for a closed
    /// receive from a task, that task's 32-bit generation. Returns r4 = rc,
    /// r5 = sender, r6 = operation (or fired notification bits), r7 = message length,
    /// r8 = reply capacity, r9 = lease count, r10 = the sender's 32-bit generation (0 for
    /// notifications), which REPLY, REPLY_FAULT and BORROW_* take back in r9.
    Recv = 1,
    /// r4 = peer, r5 = code, r6/r7 = message ptr/len, r9 = peer's 32-bit generation.
    Reply = 2,
    /// r4 = enable, r5/r6 = deadline low/high, r7 = notification bits.
    SetTimer = 3,
    /// r4 = lender, r5 = lease index, r6 = offset, r7/r8 = buffer ptr/len, r9 = lender's
    /// 32-bit generation. Returns r4 = rc, r5 = bytes copied.
    BorrowRead = 4,
    /// Same arguments as `BorrowRead`, copying into the lender.
    BorrowWrite = 5,
    /// r4 = lender, r5 = lease index, r9 = lender's 32-bit generation. Returns r4 = rc,
    /// r5 = attributes, r6 = length.
    BorrowInfo = 6,
    /// r4 = notification mask (the caller's own bits), r5 = `IrqControl` flags.
    IrqControl = 7,
    /// r4/r5 = message ptr/len (kept in the task's memory for humility and the supervisor).
    Panic = 8,
    /// Returns r4/r5 = now, r6 = deadline set, r7/r8 = deadline, r9 = notification bits.
    GetTimer = 9,
    /// r4 = TaskId. Returns r4 = the same index with its current generation, r5 = the
    /// task's 32-bit generation.
    RefreshTaskId = 10,
    /// r4 = target, r5 = notification bits, r9 = target's 32-bit generation. Returns
    /// r4 = response code.
    Post = 11,
    /// r4 = peer, r5 = `ReplyFaultReason`, r9 = peer's 32-bit generation.
    ReplyFault = 12,
    /// r4 = notification mask. Returns r4 = enabled, r5 = pending, r6 = posted bits.
    IrqStatus = 13,
}

impl Sysnum {
    pub const fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            0 => Sysnum::Send,
            1 => Sysnum::Recv,
            2 => Sysnum::Reply,
            3 => Sysnum::SetTimer,
            4 => Sysnum::BorrowRead,
            5 => Sysnum::BorrowWrite,
            6 => Sysnum::BorrowInfo,
            7 => Sysnum::IrqControl,
            8 => Sysnum::Panic,
            9 => Sysnum::GetTimer,
            10 => Sysnum::RefreshTaskId,
            11 => Sysnum::Post,
            12 => Sysnum::ReplyFault,
            13 => Sysnum::IrqStatus,
            _ => return None,
        })
    }
}

/// RECV sender-filter bit that makes the receive closed (only from the named task).
pub const RECV_CLOSED: u32 = 1 << 31;

/// Flags for IRQ_CONTROL.
pub mod irq_control {
    pub const ENABLE: u32 = 1 << 0;
    pub const CLEAR_PENDING: u32 = 1 << 1;
}

/// Kernel IPC operation numbers (SEND to [`TaskId::KERNEL`]).
///
/// 1-10 follow Hubris's numbering so the meaning of each is familiar; 11 and up are Bulkhead's.
/// Each is granted on its own: the caller's [`TaskDesc::kipc_grants`] must hold the
/// operation's [`Kipcnum::grant_bit`], or the caller faults with `UsageError::IllegalTask`.
/// `app.toml` names the operations by [`Kipcnum::name`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Kipcnum {
    /// Request: task index (u32). Reply: [`TaskStatus`].
    ReadTaskStatus = 1,
    /// Request: task index (u32), start (u32, 0/1). Re-initialises the task. If the task is
    /// not already detached it is detached first (generation bumped once), and the peers
    /// that detach wakes get `PeerGone::Restarted` (start = 1: the task is back when they
    /// run) or `PeerGone::Unavailable` (start = 0).
    RestartTask = 2,
    /// Request: task index (u32). Faults the task with `FaultInfo::Injected(caller)`.
    FaultTask = 3,
    /// Reply: the 8-byte image id.
    ReadImageId = 4,
    /// System reset; does not return.
    Reset = 5,
    /// Request: task index, region number (u32 each). Reply: [`DumpRegion`] or rc 1 if none.
    GetTaskDumpRegion = 6,
    /// Request: task index, region number, offset (u32 each). Reply: the bytes (up to the
    /// reply buffer's size).
    ReadTaskDumpRegion = 7,
    /// Request: task index, notification mask. Pends the IRQs mapped to those bits.
    /// Refused with [`kipc_rc::DETACHED`] (nothing pended) while the task is detached.
    SoftwareIrq = 8,
    /// Request: start index (u32). Reply: next faulted index at or after it (u32), 0 if none.
    FindFaultedTask = 9,
    /// Request: task index (u32). Reply: the panic message bytes.
    ReadPanicMessage = 10,
    /// Request: task index (u32). Detaches the task (see the kernel's module docs).
    DetachTask = 11,
    /// Reply: the 64-bit tick count, then (test images only) nothing else.
    ReadTicks = 12,
    /// Request: start index (u32). Reply: a [`FaultReport`] for the first faulted task at or
    /// after it: one call where `FindFaultedTask` + `ReadTaskStatus` would take two, and it
    /// says whether to call again.
    NextFault = 13,
    /// Reply: the [`ResetReason`] code (u32) the kernel found at boot.
    ReadResetReason = 14,
    /// Request: task index (u32). Reply: the CPU cycles (u64) the task has run up to its
    /// last switch away, kept only by kernels built for benchmarks (feature `task-time`);
    /// rc [`kipc_rc::NOT_APPLICABLE`] from any other kernel.
    ReadTaskTime = 15,
    /// Request: task index (u32). Reply: the task's restart count, then how many of its
    /// incarnations faulted (u32 each), read in one kernel entry so they describe the same
    /// moment. A server that sees a client come back with a new restart count learns from the
    /// second number whether any incarnation in between ended by a fault or was only
    /// restarted or unloaded on request (`usb-core`'s strikes).
    ReadFaultCount = 16,
}

impl Kipcnum {
    /// Every operation, in number order.
    pub const ALL: [Kipcnum; 16] = [
        Kipcnum::ReadTaskStatus,
        Kipcnum::RestartTask,
        Kipcnum::FaultTask,
        Kipcnum::ReadImageId,
        Kipcnum::Reset,
        Kipcnum::GetTaskDumpRegion,
        Kipcnum::ReadTaskDumpRegion,
        Kipcnum::SoftwareIrq,
        Kipcnum::FindFaultedTask,
        Kipcnum::ReadPanicMessage,
        Kipcnum::DetachTask,
        Kipcnum::ReadTicks,
        Kipcnum::NextFault,
        Kipcnum::ReadResetReason,
        Kipcnum::ReadTaskTime,
        Kipcnum::ReadFaultCount,
    ];

    /// `kipc_grants` with every operation granted: the supervisor's.
    pub const ALL_GRANTS: u32 = {
        let mut mask = 0;
        let mut i = 0;
        while i < Self::ALL.len() {
            mask |= Self::ALL[i].grant_bit();
            i += 1;
        }
        mask
    };

    /// The bit of [`TaskDesc::kipc_grants`] that grants this operation (bit n for number n).
    pub const fn grant_bit(self) -> u32 {
        1 << self as u16
    }

    /// The operation's name in `app.toml` (`kipc = [...]`).
    pub const fn name(self) -> &'static str {
        match self {
            Kipcnum::ReadTaskStatus => "read-task-status",
            Kipcnum::RestartTask => "restart-task",
            Kipcnum::FaultTask => "fault-task",
            Kipcnum::ReadImageId => "read-image-id",
            Kipcnum::Reset => "reset",
            Kipcnum::GetTaskDumpRegion => "get-task-dump-region",
            Kipcnum::ReadTaskDumpRegion => "read-task-dump-region",
            Kipcnum::SoftwareIrq => "software-irq",
            Kipcnum::FindFaultedTask => "find-faulted-task",
            Kipcnum::ReadPanicMessage => "read-panic-message",
            Kipcnum::DetachTask => "detach-task",
            Kipcnum::ReadTicks => "read-ticks",
            Kipcnum::NextFault => "next-fault",
            Kipcnum::ReadResetReason => "read-reset-reason",
            Kipcnum::ReadTaskTime => "read-task-time",
            Kipcnum::ReadFaultCount => "read-fault-count",
        }
    }

    /// A `match` on the number rather than an index into [`Kipcnum::ALL`]: the kernel's
    /// copy then needs no table of the values (the tests hold the two in step).
    pub const fn from_u16(n: u16) -> Option<Self> {
        Some(match n {
            1 => Kipcnum::ReadTaskStatus,
            2 => Kipcnum::RestartTask,
            3 => Kipcnum::FaultTask,
            4 => Kipcnum::ReadImageId,
            5 => Kipcnum::Reset,
            6 => Kipcnum::GetTaskDumpRegion,
            7 => Kipcnum::ReadTaskDumpRegion,
            8 => Kipcnum::SoftwareIrq,
            9 => Kipcnum::FindFaultedTask,
            10 => Kipcnum::ReadPanicMessage,
            11 => Kipcnum::DetachTask,
            12 => Kipcnum::ReadTicks,
            13 => Kipcnum::NextFault,
            14 => Kipcnum::ReadResetReason,
            15 => Kipcnum::ReadTaskTime,
            16 => Kipcnum::ReadFaultCount,
            _ => return None,
        })
    }
}

/// Kernel-IPC response codes other than success (0).
pub mod kipc_rc {
    /// The task is not in a state where the request makes sense (e.g. no panic message).
    pub const NOT_APPLICABLE: u32 = 1;
    /// The target task is detached, so the request was not carried out (`SoftwareIrq`).
    pub const DETACHED: u32 = 2;
}

/// Notification bit the kernel posts to the supervisor (task 0) when any task faults.
pub const FAULT_NOTIFICATION: u32 = 1 << 0;

/// A task's scheduling state.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SchedState {
    /// Not running: never started, or detached.
    Stopped,
    Runnable,
    /// Blocked sending to this task.
    InSend(TaskId),
    /// Blocked waiting for this task's reply.
    InReply(TaskId),
    /// Blocked receiving; `Some` for a closed receive (`Some(KERNEL)`: notifications only).
    InRecv(Option<TaskId>),
}

/// A task's overall state, as humility prints it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TaskState {
    Healthy(SchedState),
    Faulted {
        fault: FaultInfo,
        original_state: SchedState,
    },
}

impl TaskState {
    pub const fn is_runnable(&self) -> bool {
        matches!(self, TaskState::Healthy(SchedState::Runnable))
    }
}

/// Whether a memory fault came from the task itself or from the kernel acting for it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultSource {
    User,
    Kernel,
}

/// Why a task was stopped by a fault. Only variants humility can print are used.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum FaultInfo {
    MemoryAccess {
        address: Option<u32>,
        source: FaultSource,
    },
    StackOverflow {
        address: u32,
    },
    BusError {
        address: Option<u32>,
        source: FaultSource,
    },
    DivideByZero,
    /// Attempt to execute from non-executable memory.
    IllegalText,
    IllegalInstruction,
    /// Any other UsageFault; the payload is the CFSR value.
    InvalidOperation(u32),
    SyscallUsage(UsageError),
    Panic,
    /// Faulted on request of this task (the supervisor, or the supervisor's watchdog).
    Injected(TaskId),
    /// A server ended a call by faulting its client.
    FromServer(TaskId, ReplyFaultReason),
}

/// Misuse of a syscall. The caller is faulted with `FaultInfo::SyscallUsage`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    BadSyscallNumber,
    /// A pointer/length pair the task may not access, or one that wraps.
    InvalidSlice,
    TaskOutOfRange,
    /// Sending to a task not declared in `app.toml`, a kernel IPC operation not granted to
    /// the caller, or a kernel-IPC target the caller may not touch (itself, the supervisor).
    IllegalTask,
    LeaseOutOfRange,
    OffsetOutOfRange,
    NoIrq,
    BadKernelMessage,
}

/// Why a server faulted its client (REPLY_FAULT).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ReplyFaultReason {
    UndefinedOperation = 0,
    BadMessageSize = 1,
    BadMessageContents = 2,
    BadLeases = 3,
    ReplyBufferTooSmall = 4,
    AccessViolation = 5,
}

/// Response code base of a REPLY_FAULT delivered as an error (`TaskFlags::REPLY_FAULT_AS_ERROR`);
/// the low 8 bits carry the reason. Outside the 16-bit operation codes, the dead and
/// unavailable codes and idol's `UNANSWERED_CODE` (0xFFFF_FD00).
pub const REPLY_FAULT_CODE_BASE: u32 = 0xFFFF_FC00;

impl ReplyFaultReason {
    /// The response code of this reply-fault when the client takes it as an error.
    pub const fn code(self) -> u32 {
        REPLY_FAULT_CODE_BASE | self as u32
    }

    /// Decodes [`ReplyFaultReason::code`]; `None` for any other response code.
    pub const fn from_code(code: u32) -> Option<Self> {
        if code & !0xFF == REPLY_FAULT_CODE_BASE {
            Self::from_u32(code & 0xFF)
        } else {
            None
        }
    }

    pub const fn from_u32(n: u32) -> Option<Self> {
        Some(match n {
            0 => ReplyFaultReason::UndefinedOperation,
            1 => ReplyFaultReason::BadMessageSize,
            2 => ReplyFaultReason::BadMessageContents,
            3 => ReplyFaultReason::BadLeases,
            4 => ReplyFaultReason::ReplyBufferTooSmall,
            5 => ReplyFaultReason::AccessViolation,
            _ => return None,
        })
    }
}

/// Lease attribute bits, as found in a lender's [`ULease`] table and returned by BORROW_INFO.
pub mod lease_attributes {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
}

/// One lease as the lender describes it, in the lender's own memory. The kernel reads the
/// table only while the lender is blocked on the borrowing server, so it cannot change
/// underneath a copy. The server never sees `base_address`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct ULease {
    pub attributes: u32,
    pub base_address: u32,
    pub length: u32,
}

/// Memory attributes of a region. Bit values are fixed by humility.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct RegionAttributes(pub u32);

impl RegionAttributes {
    pub const READ: u32 = 1 << 0;
    pub const WRITE: u32 = 1 << 1;
    pub const EXECUTE: u32 = 1 << 2;
    /// Memory-mapped registers: the kernel never copies to or from it.
    pub const DEVICE: u32 = 1 << 3;
    /// Reachable by a DMA master: the kernel refuses to copy into it.
    pub const DMA: u32 = 1 << 4;

    pub const fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A memory region in flash (`HUBRIS_REGION_DESCS`). Entry 0 of the table is the unused
/// region (base 0, size 0, no access); empty task slots point at it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct RegionDesc {
    pub base: u32,
    pub size: u32,
    pub attributes: RegionAttributes,
}

/// MPU region slots per task. Unused slots point at region 0.
pub const REGIONS_PER_TASK: usize = 8;

/// Per-task flags in [`TaskDesc`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct TaskFlags(pub u32);

impl TaskFlags {
    pub const START_AT_BOOT: u32 = 1 << 0;
    /// `app.toml` `on-reply-fault = "error"`: a server's REPLY_FAULT ends this task's call
    /// with [`ReplyFaultReason::code`] instead of faulting it.
    pub const REPLY_FAULT_AS_ERROR: u32 = 1 << 1;

    pub const fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A task's fixed description in flash (`HUBRIS_TASK_DESCS`), used to start and restart it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct TaskDesc {
    /// The task's regions (references into `HUBRIS_REGION_DESCS`, humility's 4-byte form).
    pub regions: [&'static RegionDesc; REGIONS_PER_TASK],
    /// MPU words per slot, precomputed by the builder: `RBAR` (base | VALID | slot number)
    /// then `RASR`, so a context switch is two block copies into the MPU alias registers.
    pub mpu_words: [u32; 2 * REGIONS_PER_TASK],
    pub entry_point: u32,
    pub initial_stack: u32,
    pub priority: u8,
    /// The task after this one in scheduling order (priority, then table index), or
    /// [`SCHED_END`] for the last; task 0, the supervisor, is the first (the builder's rule:
    /// it alone has priority 0). The scheduler walks this chain from task 0 and stops at the
    /// first runnable task, instead of testing every task on every block. It sits in the
    /// byte of padding before `index`, so descriptors do not grow.
    pub sched_next: u8,
    pub index: u16,
    pub flags: TaskFlags,
    /// Bit `i` set: this task may SEND to and POST to task `i` (`app.toml` task slots;
    /// replies need no grant). Apps have at most 32 tasks.
    pub send_targets: u32,
    /// Bit `i` set: this task may POST to task `i`, but not SEND to it (`app.toml` `notify`).
    /// POST never blocks, so unlike SEND it may go to less important tasks.
    pub notify_targets: u32,
    /// Bit [`Kipcnum::grant_bit`] set: this task may use that kernel IPC operation (`app.toml`
    /// `kipc`; the supervisor has them all).
    pub kipc_grants: u32,
    /// The notification bit the kernel posts to this task when one of its clients (a task
    /// that may send to it) is detached: `app.toml` `client-gone`; 0 if it declares none.
    pub client_gone: u32,
    /// Bit `i` set: task `i` is one of this task's `send_targets` and declares `client_gone`,
    /// so detaching this task posts task `i`'s `client_gone` bit. Computed by the builder so
    /// that a detach costs one test when no server this task uses wants to know.
    pub client_gone_targets: u32,
    /// `app.toml` `reply-deadline-ms`: a client that has waited this many ticks for this
    /// task's reply gets this task faulted (`FaultInfo::Injected(client)`); 0: no deadline.
    pub reply_deadline: u32,
}

/// `TaskDesc::sched_next` of the last task in scheduling order.
pub const SCHED_END: u8 = u8::MAX;

/// `TaskDesc::sched_next` for task `i` of a table whose tasks have `priorities`: the next
/// task by priority (more important first), then by table index. Tables have at most 32
/// tasks.
pub fn sched_next(priorities: &[u8], i: usize) -> u8 {
    let key = |j: usize| (priorities[j], j);
    (0..priorities.len())
        .filter(|&j| key(j) > key(i))
        .min_by_key(|&j| key(j))
        .map_or(SCHED_END, |j| j as u8)
}

/// One interrupt routed to a task, in flash. A task names its interrupts only through its
/// notification bits; the kernel finds the IRQ numbers here.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct IrqDesc {
    pub irq: u32,
    pub task: u16,
    pub notification: u32,
}

/// What kernel IPC `ReadTaskStatus` returns: a fixed little-endian encoding of a task's
/// state, its full restart count and its current TaskId.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct TaskStatus {
    /// Bit set of [`TaskStatus::FAULTED`] and [`TaskStatus::DETACHED`]; 0 = healthy and attached.
    pub health: u32,
    /// `SchedState` tag: 0 Stopped, 1 Runnable, 2 InSend, 3 InReply, 4 InRecv(None), 5 InRecv(Some).
    pub sched: u32,
    /// Peer TaskId for InSend/InReply/InRecv(Some).
    pub sched_peer: u32,
    /// Restart count (the kernel's 32-bit generation).
    pub restarts: u32,
    /// Current TaskId of this task.
    pub id: u32,
    /// `FaultInfo` tag when faulted (see [`FaultInfo::encode`]), with up to two payload words.
    pub fault: [u32; 3],
    /// Ticks at which the task held the CPU, modulo 256 (the kernel's `Task::ticks_held`).
    pub ticks_held: u32,
}

/// What kernel IPC `NextFault` returns.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct FaultReport {
    /// The first faulted task at or after the requested index; 0 if there is none (task 0,
    /// the supervisor, is never reported: its fault resets or halts the system).
    pub task: u32,
    /// The next faulted task after `task`, 0 if none: whether another call would find one.
    pub next: u32,
    /// `task`'s fault, as [`FaultInfo::encode`] writes it.
    pub fault: [u32; 3],
    /// The tick count when the kernel answered, low word first (`ReadTicks`' value, in two
    /// words so the report has no padding). The supervisor collects faults as soon as it
    /// wakes, and its policy needs the time: with it here, a fault costs it no GET_TIMER.
    pub now: [u32; 2],
}

impl FaultReport {
    pub fn now(&self) -> u64 {
        u64::from(self.now[0]) | u64::from(self.now[1]) << 32
    }
}

impl TaskStatus {
    pub const FAULTED: u32 = 1 << 0;
    pub const DETACHED: u32 = 1 << 1;
}

impl SchedState {
    pub const fn encode(&self) -> (u32, u32) {
        match *self {
            SchedState::Stopped => (0, 0),
            SchedState::Runnable => (1, 0),
            SchedState::InSend(t) => (2, t.0 as u32),
            SchedState::InReply(t) => (3, t.0 as u32),
            SchedState::InRecv(None) => (4, 0),
            SchedState::InRecv(Some(t)) => (5, t.0 as u32),
        }
    }

    pub const fn decode(tag: u32, peer: u32) -> Option<Self> {
        let peer = TaskId(peer as u16);
        Some(match tag {
            0 => SchedState::Stopped,
            1 => SchedState::Runnable,
            2 => SchedState::InSend(peer),
            3 => SchedState::InReply(peer),
            4 => SchedState::InRecv(None),
            5 => SchedState::InRecv(Some(peer)),
            _ => return None,
        })
    }
}

impl UsageError {
    const ALL: [UsageError; 8] = [
        UsageError::BadSyscallNumber,
        UsageError::InvalidSlice,
        UsageError::TaskOutOfRange,
        UsageError::IllegalTask,
        UsageError::LeaseOutOfRange,
        UsageError::OffsetOutOfRange,
        UsageError::NoIrq,
        UsageError::BadKernelMessage,
    ];

    pub fn from_u32(n: u32) -> Option<Self> {
        Self::ALL.get(n as usize).copied()
    }
}

impl FaultInfo {
    /// Encodes as (tag, word, word); `Option<u32>` addresses use `u32::MAX` for `None` with
    /// bit 31 of the tag marking presence so an address of `0xFFFF_FFFF` stays representable.
    pub fn encode(&self) -> [u32; 3] {
        const PRESENT: u32 = 1 << 31;
        const KERNEL: u32 = 1 << 30;
        let opt = |a: Option<u32>| match a {
            Some(a) => (PRESENT, a),
            None => (0, 0),
        };
        let src = |s: FaultSource| match s {
            FaultSource::User => 0,
            FaultSource::Kernel => KERNEL,
        };
        match *self {
            FaultInfo::MemoryAccess { address, source } => {
                let (p, a) = opt(address);
                [1 | p | src(source), a, 0]
            }
            FaultInfo::StackOverflow { address } => [2, address, 0],
            FaultInfo::BusError { address, source } => {
                let (p, a) = opt(address);
                [3 | p | src(source), a, 0]
            }
            FaultInfo::DivideByZero => [4, 0, 0],
            FaultInfo::IllegalText => [5, 0, 0],
            FaultInfo::IllegalInstruction => [6, 0, 0],
            FaultInfo::InvalidOperation(cfsr) => [7, cfsr, 0],
            FaultInfo::SyscallUsage(e) => [8, e as u32, 0],
            FaultInfo::Panic => [9, 0, 0],
            FaultInfo::Injected(t) => [10, t.0 as u32, 0],
            FaultInfo::FromServer(t, r) => [11, t.0 as u32, r as u32],
        }
    }

    pub fn decode(words: [u32; 3]) -> Option<Self> {
        const PRESENT: u32 = 1 << 31;
        const KERNEL: u32 = 1 << 30;
        let tag = words[0] & 0xFF;
        let address = (words[0] & PRESENT != 0).then_some(words[1]);
        let source = if words[0] & KERNEL != 0 {
            FaultSource::Kernel
        } else {
            FaultSource::User
        };
        Some(match tag {
            1 => FaultInfo::MemoryAccess { address, source },
            2 => FaultInfo::StackOverflow { address: words[1] },
            3 => FaultInfo::BusError { address, source },
            4 => FaultInfo::DivideByZero,
            5 => FaultInfo::IllegalText,
            6 => FaultInfo::IllegalInstruction,
            7 => FaultInfo::InvalidOperation(words[1]),
            8 => FaultInfo::SyscallUsage(UsageError::from_u32(words[1])?),
            9 => FaultInfo::Panic,
            10 => FaultInfo::Injected(TaskId(words[1] as u16)),
            11 => FaultInfo::FromServer(
                TaskId(words[1] as u16),
                ReplyFaultReason::from_u32(words[2])?,
            ),
            _ => return None,
        })
    }
}

/// A memory range of a task that a dump should contain (kernel IPC `GetTaskDumpRegion`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct DumpRegion {
    pub base: u32,
    pub size: u32,
}

/// Why the system last reset, as the kernel found it at boot: humility reads it as
/// `BULKHEAD_RESET_REASON` (a `u32`, these codes), the supervisor through
/// [`Kipcnum::ReadResetReason`].
///
/// The kernel keeps a [`ResetRecord`] in RAM that start-up does not clear. At boot it reads
/// it, then marks the system running; every reset the kernel asks for first writes its
/// reason. So a record that is no record at all means power-on (RAM came up with no magic),
/// and a record still saying "running" means the system reset without software asking:
/// the hardware watchdog, a reset pin or a debugger.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ResetReason {
    PowerOn = 1,
    /// Reset while running, with no reason recorded (watchdog, reset pin, debugger).
    Unrecorded = 2,
    /// `kernel_fail` with `[kernel] on-kernel-failure = "reset"`.
    KernelFailure = 3,
    /// The supervisor faulted, with `on-supervisor-fault = "reset"`.
    SupervisorFault = 4,
    /// [`Kipcnum::Reset`] (the supervisor's policy or humility asked for it).
    Requested = 5,
    /// The hardware watchdog reset the system: the supervisor stopped feeding it (on mps2
    /// the CMSDK watchdog's interrupt, an NMI, records it first; on STM32H7 the kernel finds
    /// `RCC_RSR.IWDG1RSTF` at boot).
    Watchdog = 6,
    /// The reset pin (NRST) alone: a button or a debugger's hardware reset. Known only where
    /// the chip reports it (STM32H7 `RCC_RSR`; on mps2 it is `Unrecorded`).
    Pin = 7,
    /// The supply fell below the brown-out threshold (STM32H7 `RCC_RSR.BORRSTF`, without
    /// the power-on flag).
    BrownOut = 8,
}

impl ResetReason {
    pub const fn from_u32(code: u32) -> Option<Self> {
        Some(match code {
            1 => ResetReason::PowerOn,
            2 => ResetReason::Unrecorded,
            3 => ResetReason::KernelFailure,
            4 => ResetReason::SupervisorFault,
            5 => ResetReason::Requested,
            6 => ResetReason::Watchdog,
            7 => ResetReason::Pin,
            8 => ResetReason::BrownOut,
            _ => return None,
        })
    }
}

/// The word kept across a reset: [`ResetRecord::MAGIC`] in the upper half, the reason code
/// (0 while running) in the lower. It is written as one 64-bit store: on STM32H7 a narrower
/// write to AXI SRAM is a read-modify-write of its ECC word, which can fail on RAM that was
/// never written since power-on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ResetRecord(pub u64);

impl ResetRecord {
    pub const MAGIC: u32 = 0x5E5E_7B0D;
    /// What the kernel writes at boot: running, no reason yet.
    pub const RUNNING: ResetRecord = ResetRecord((Self::MAGIC as u64) << 32);

    pub const fn resetting(reason: ResetReason) -> Self {
        ResetRecord(Self::RUNNING.0 | reason as u64)
    }

    /// The reason a record found at boot gives.
    pub const fn reason(self) -> ResetReason {
        if (self.0 >> 32) as u32 != Self::MAGIC {
            return ResetReason::PowerOn;
        }
        match ResetReason::from_u32(self.0 as u32) {
            Some(reason) => reason,
            // Running (0), or a code we never write: nobody recorded why.
            None => ResetReason::Unrecorded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_splits_index_and_generation() {
        let id = TaskId::for_index_and_gen(5, Generation(63));
        assert_eq!(id.index(), 5);
        assert_eq!(id.generation(), Generation(63));
        assert_eq!(id.0, 5 | (63 << 10));
        assert_eq!(TaskId::KERNEL.index(), 0x3FF);
    }

    #[test]
    fn kipc_numbers_grant_bits_and_names_are_one_to_one() {
        for (i, op) in Kipcnum::ALL.into_iter().enumerate() {
            assert_eq!(op as usize, i + 1, "ALL is in number order");
            assert_eq!(Kipcnum::from_u16(op as u16), Some(op));
            assert_eq!(op.grant_bit(), 1 << (i + 1));
            assert_ne!(Kipcnum::ALL_GRANTS & op.grant_bit(), 0);
            assert!(
                !Kipcnum::ALL[..i].iter().any(|o| o.name() == op.name()),
                "{} twice",
                op.name()
            );
        }
        assert_eq!(
            Kipcnum::ALL_GRANTS.count_ones() as usize,
            Kipcnum::ALL.len()
        );
        for n in [0, Kipcnum::ALL.len() as u16 + 1, u16::MAX] {
            assert_eq!(Kipcnum::from_u16(n), None, "{n}");
        }
    }

    #[test]
    fn send_packing_round_trips_in_bound_values_and_saturates_the_rest_to_refused_ones() {
        use send_packing::*;
        for (len, count) in [(0, 0), (1, 1), (MAX_REPLY_LEN, MAX_LEASES), (4096, 8)] {
            let r8 = pack(len as usize, count as usize);
            assert_eq!((reply_len(r8), lease_count(r8)), (len, count));
            assert!(in_range(r8), "{len} {count}");
        }
        for (len, count) in [
            (MAX_REPLY_LEN as usize + 1, 0),
            (usize::MAX, 0),
            (0, MAX_LEASES as usize + 1),
            (0, usize::MAX),
        ] {
            let r8 = pack(len, count);
            assert!(!in_range(r8), "{len} {count} packed as {r8:#x}");
            // A too-long buffer never spills into the lease count, nor the reverse.
            assert_eq!(lease_count(r8) == 0, count == 0);
            assert_eq!(reply_len(r8) == 0, len == 0);
        }
    }

    #[test]
    fn generation_wraps_at_64_restarts() {
        assert_eq!(Generation::from_restart_count(63), Generation(63));
        assert_eq!(Generation::from_restart_count(64), Generation(0));
    }

    #[test]
    fn dead_and_unavailable_codes_are_distinct_and_round_trip() {
        for g in 0..64 {
            let dead = PeerGone::Restarted(Generation(g));
            let gone = PeerGone::Unavailable(Generation(g));
            assert_ne!(dead.code(), gone.code());
            assert_eq!(PeerGone::from_code(dead.code()), Some(dead));
            assert_eq!(PeerGone::from_code(gone.code()), Some(gone));
        }
        assert_eq!(PeerGone::from_code(0), None);
        assert_eq!(PeerGone::from_code(LEASE_DEFECT), None);
        assert_eq!(PeerGone::from_code(0xFFFF_FF40), None);
    }

    #[test]
    fn fault_info_round_trips_through_kernel_ipc_encoding() {
        let faults = [
            FaultInfo::MemoryAccess {
                address: Some(0xFFFF_FFFF),
                source: FaultSource::User,
            },
            FaultInfo::MemoryAccess {
                address: None,
                source: FaultSource::Kernel,
            },
            FaultInfo::StackOverflow {
                address: 0x2000_0000,
            },
            FaultInfo::BusError {
                address: Some(4),
                source: FaultSource::User,
            },
            FaultInfo::DivideByZero,
            FaultInfo::IllegalText,
            FaultInfo::IllegalInstruction,
            FaultInfo::InvalidOperation(0x0100_0000),
            FaultInfo::SyscallUsage(UsageError::BadKernelMessage),
            FaultInfo::Panic,
            FaultInfo::Injected(TaskId(0)),
            FaultInfo::FromServer(TaskId(3), ReplyFaultReason::AccessViolation),
        ];
        for f in faults {
            assert_eq!(FaultInfo::decode(f.encode()), Some(f));
        }
        assert_eq!(FaultInfo::decode([0, 0, 0]), None);
        assert_eq!(FaultInfo::decode([8, 99, 0]), None);
    }

    #[test]
    fn a_reply_fault_code_decodes_only_to_its_reason() {
        for n in 0..=5 {
            let r = ReplyFaultReason::from_u32(n).unwrap();
            assert_eq!(ReplyFaultReason::from_code(r.code()), Some(r));
            assert_eq!(PeerGone::from_code(r.code()), None, "not a dead code");
        }
        for code in [
            0,
            5,
            0xFFFF,
            REPLY_FAULT_CODE_BASE | 6,
            0xFFFF_FD00,
            DEAD_CODE_BASE,
        ] {
            assert_eq!(ReplyFaultReason::from_code(code), None, "{code:#x}");
        }
    }

    #[test]
    fn reset_record_gives_the_reason_written_before_the_reset() {
        for code in 1..=8 {
            let reason = ResetReason::from_u32(code).unwrap();
            assert_eq!(ResetRecord::resetting(reason).reason(), reason);
        }
    }

    #[test]
    fn reset_record_without_magic_is_power_on_and_running_is_unrecorded() {
        assert_eq!(ResetRecord(0).reason(), ResetReason::PowerOn);
        assert_eq!(
            ResetRecord(0xFFFF_FFFF_0000_0005).reason(),
            ResetReason::PowerOn
        );
        assert_eq!(
            ResetRecord(u64::from(ResetRecord::MAGIC ^ 1) << 32 | 5).reason(),
            ResetReason::PowerOn
        );
        assert_eq!(ResetRecord::RUNNING.reason(), ResetReason::Unrecorded);
        assert_eq!(
            ResetRecord(ResetRecord::RUNNING.0 | 99).reason(),
            ResetReason::Unrecorded
        );
        assert_eq!(ResetReason::from_u32(0), None);
        assert_eq!(ResetReason::from_u32(9), None);
    }

    #[test]
    fn sched_next_orders_by_priority_then_index() {
        let priorities = [0, 3, 1, 3, 7, 1];
        let next = core::array::from_fn::<u8, 6, _>(|i| sched_next(&priorities, i));
        // Order: 0, 2, 5, 1, 3, 4.
        assert_eq!(next, [2, 3, 5, 4, SCHED_END, 1]);
    }

    #[test]
    fn sched_state_round_trips() {
        let states = [
            SchedState::Stopped,
            SchedState::Runnable,
            SchedState::InSend(TaskId(7)),
            SchedState::InReply(TaskId(8)),
            SchedState::InRecv(None),
            SchedState::InRecv(Some(TaskId::KERNEL)),
        ];
        for s in states {
            let (tag, peer) = s.encode();
            assert_eq!(SchedState::decode(tag, peer), Some(s));
        }
        assert_eq!(SchedState::decode(6, 0), None);
    }
}
