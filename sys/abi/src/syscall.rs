//! Typed views of each syscall's registers: the one place that says which register carries
//! which argument or result.
//!
//! A task's argument words are r4-r10 in order ([`Args`]); the kernel leaves results in r4
//! onwards ([`Results`]). Each syscall has a view with `encode` (what `userlib` loads into
//! the registers) and `decode` (what the kernel reads back). A view whose registers can hold
//! a value the syscall does not define decodes to `Err(UsageError)`, the misuse the kernel
//! faults the caller with; every other register pattern decodes to exactly one view, so the
//! kernel never guesses. Decoders are `#[inline(always)]`: on the IPC path they compile to
//! the same register reads the kernel made by hand before they existed.
//!
//! Recoverable outcomes (the peer is gone, the lender stopped waiting, a kernel-IPC request
//! that does not apply) are not faults: they are a [`Refusal`], written as r4 = code and r5 =
//! detail by one kernel path, and decoded by `userlib` from the same two words.

use crate::{
    Generation, Incarnation, LEASE_DEFECT, PeerGone, RECV_CLOSED, ReplyFaultReason, TaskId, ULease,
    UsageError, irq_control, send_packing,
};

/// Argument registers r4-r10, in order.
pub type Args = [u32; 7];
/// Result registers r4-r11, in order.
pub type Results = [u32; 8];

/// An unchecked (address, length) pair a task names. The kernel checks it against the task's
/// regions before touching it.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct USlice {
    pub base: u32,
    pub len: u32,
}

impl USlice {
    #[inline(always)]
    pub const fn new(base: u32, len: u32) -> Self {
        USlice { base, len }
    }

    /// An array of `count` elements of `elem_size` bytes. An overflowing length becomes
    /// `u32::MAX`, which no region can contain, so the access check rejects it.
    #[inline(always)]
    pub const fn new_array(base: u32, count: u32, elem_size: u32) -> Self {
        USlice {
            base,
            len: count.saturating_mul(elem_size),
        }
    }

    #[inline(always)]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first `n` bytes (or all of them, if shorter).
    #[inline(always)]
    pub fn prefix(self, n: usize) -> Self {
        USlice {
            base: self.base,
            len: self.len.min(n as u32),
        }
    }

    /// The bytes from `offset` on; `None` if `offset` lies beyond the end.
    #[inline(always)]
    pub fn skip(self, offset: usize) -> Option<Self> {
        let offset = u32::try_from(offset).ok().filter(|&o| o <= self.len)?;
        Some(USlice {
            base: self.base.wrapping_add(offset),
            len: self.len - offset,
        })
    }
}

/// SEND: r4 = target << 16 | operation, r5/r6 = message, r7 = reply buffer, r8 = lease count
/// and reply capacity ([`send_packing`]), r9 = target's 32-bit generation, r10 = lease table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SendArgs {
    pub target: TaskId,
    /// The 32-bit generation the sender believes `target` has.
    pub target_generation: u32,
    pub operation: u16,
    pub message: USlice,
    pub response: USlice,
    /// The lease table: `lease count * size_of::<ULease>()` bytes.
    pub leases: USlice,
    /// Whether the packed lease count and reply capacity are within their bounds; a SEND
    /// with either out of range is refused like a bad slice.
    pub counts_in_range: bool,
}

impl SendArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        SendArgs {
            target: TaskId((r[0] >> 16) as u16),
            target_generation: r[5],
            operation: r[0] as u16,
            message: USlice::new(r[1], r[2]),
            response: USlice::new(r[3], send_packing::reply_len(r[4])),
            leases: USlice::new_array(
                r[6],
                send_packing::lease_count(r[4]),
                size_of::<ULease>() as u32,
            ),
            counts_in_range: send_packing::in_range(r[4]),
        }
    }

    /// The registers for a SEND of `message` to `target`, offering `response` for the reply
    /// and lending the `lease_count` leases at `lease_table`. A capacity or count above its
    /// bound is packed as the refused all-ones value ([`send_packing::pack`]).
    #[inline(always)]
    pub fn encode(
        target: Incarnation,
        operation: u16,
        message: USlice,
        response: USlice,
        lease_table: u32,
        lease_count: usize,
    ) -> Args {
        [
            (u32::from(target.id.0) << 16) | u32::from(operation),
            message.base,
            message.len,
            response.base,
            send_packing::pack(response.len as usize, lease_count),
            target.generation,
            lease_table,
        ]
    }

    /// How many leases the table holds.
    #[inline(always)]
    pub fn lease_count(&self) -> u32 {
        self.leases.len / size_of::<ULease>() as u32
    }
}

/// RECV: r4/r5 = buffer, r6 = notification mask, r7 = sender filter (bit 31: closed receive
/// from the TaskId in the low 16 bits), r9 = for a closed receive, the sender's generation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecvArgs {
    pub buffer: USlice,
    pub notification_mask: u32,
    /// `Some` for a closed receive; `Some(TaskId::KERNEL)` takes notifications only.
    pub closed_from: Option<TaskId>,
    /// The 32-bit generation of the task a closed receive names.
    pub from_generation: u32,
}

impl RecvArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        RecvArgs {
            buffer: USlice::new(r[0], r[1]),
            notification_mask: r[2],
            closed_from: (r[3] & RECV_CLOSED != 0).then_some(TaskId(r[3] as u16)),
            from_generation: r[5],
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        let filter = self
            .closed_from
            .map_or(0, |from| RECV_CLOSED | u32::from(from.0));
        [
            self.buffer.base,
            self.buffer.len,
            self.notification_mask,
            filter,
            0,
            self.from_generation,
            0,
        ]
    }
}

/// What RECV returns: r4 = 0, r5 = sender, r6 = operation (or the fired notification bits),
/// r7 = message length, r8 = reply capacity, r9 = lease count, r10 = the sender's 32-bit
/// generation (0 for notifications, whose sender is `TaskId::KERNEL`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecvResult {
    pub sender: TaskId,
    pub sender_generation: u32,
    pub operation: u32,
    pub message_len: u32,
    pub response_capacity: u32,
    pub lease_count: u32,
}

impl RecvResult {
    /// Notifications `fired`, delivered as a message from the kernel.
    #[inline(always)]
    pub const fn notification(fired: u32) -> Self {
        RecvResult {
            sender: TaskId::KERNEL,
            sender_generation: 0,
            operation: fired,
            message_len: 0,
            response_capacity: 0,
            lease_count: 0,
        }
    }

    /// r4-r10.
    #[inline(always)]
    pub fn encode(&self) -> Args {
        [
            0,
            u32::from(self.sender.0),
            self.operation,
            self.message_len,
            self.response_capacity,
            self.lease_count,
            self.sender_generation,
        ]
    }

    /// The message RECV returned, or why a closed receive was refused.
    #[inline(always)]
    pub fn decode(r: &Results) -> Result<Self, Refusal> {
        if let Some(refusal) = Refusal::from_peer_results(r[0], r[1]) {
            return Err(refusal);
        }
        Ok(Self::decode_unrefused(r))
    }

    /// The message an open receive returned: it names no peer, so it is never refused, and
    /// the test for a refusal's code is left out.
    #[inline(always)]
    pub fn decode_unrefused(r: &Results) -> Self {
        RecvResult {
            sender: TaskId(r[1] as u16),
            operation: r[2],
            message_len: r[3],
            response_capacity: r[4],
            lease_count: r[5],
            sender_generation: r[6],
        }
    }

    #[inline(always)]
    pub fn sender_incarnation(&self) -> Incarnation {
        Incarnation {
            id: self.sender,
            generation: self.sender_generation,
        }
    }
}

/// REPLY: r4 = peer, r5 = code, r6/r7 = message, r9 = peer's 32-bit generation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReplyArgs {
    pub peer: TaskId,
    pub peer_generation: u32,
    pub code: u32,
    pub message: USlice,
}

impl ReplyArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        ReplyArgs {
            peer: TaskId(r[0] as u16),
            peer_generation: r[5],
            code: r[1],
            message: USlice::new(r[2], r[3]),
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [
            u32::from(self.peer.0),
            self.code,
            self.message.base,
            self.message.len,
            0,
            self.peer_generation,
            0,
        ]
    }
}

/// REPLY_FAULT: r4 = peer, r5 = [`ReplyFaultReason`], r9 = peer's 32-bit generation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ReplyFaultArgs {
    pub peer: TaskId,
    pub peer_generation: u32,
    pub reason: ReplyFaultReason,
}

impl ReplyFaultArgs {
    /// A reason code that names no [`ReplyFaultReason`] is `BadKernelMessage`.
    #[inline(always)]
    pub fn decode(r: &Args) -> Result<Self, UsageError> {
        Ok(ReplyFaultArgs {
            peer: TaskId(r[0] as u16),
            peer_generation: r[5],
            reason: ReplyFaultReason::from_u32(r[1]).ok_or(UsageError::BadKernelMessage)?,
        })
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [
            u32::from(self.peer.0),
            self.reason as u32,
            0,
            0,
            0,
            self.peer_generation,
            0,
        ]
    }
}

/// BORROW_READ, BORROW_WRITE and BORROW_INFO: r4 = lender, r5 = lease index, r6 = offset,
/// r7/r8 = the borrower's buffer (BORROW_INFO ignores r6-r8), r9 = lender's generation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct BorrowArgs {
    pub lender: TaskId,
    pub lender_generation: u32,
    pub index: u32,
    pub offset: u32,
    pub buffer: USlice,
}

impl BorrowArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        BorrowArgs {
            lender: TaskId(r[0] as u16),
            lender_generation: r[5],
            index: r[1],
            offset: r[2],
            buffer: USlice::new(r[3], r[4]),
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [
            u32::from(self.lender.0),
            self.index,
            self.offset,
            self.buffer.base,
            self.buffer.len,
            self.lender_generation,
            0,
        ]
    }
}

/// What BORROW_INFO returns: r4 = 0, r5 = lease attributes, r6 = lease length.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub attributes: u32,
    pub length: u32,
}

impl LeaseInfo {
    #[inline(always)]
    pub const fn encode(&self) -> [u32; 3] {
        [0, self.attributes, self.length]
    }

    #[inline(always)]
    pub fn decode(r: &Results) -> Result<Self, Refusal> {
        match Refusal::from_borrow_results(r[0], r[1]) {
            Some(refusal) => Err(refusal),
            None => Ok(LeaseInfo {
                attributes: r[1],
                length: r[2],
            }),
        }
    }
}

/// SET_TIMER: r4 = enable, r5/r6 = deadline low/high, r7 = notification bits. A disabled
/// timer ignores r5/r6.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SetTimerArgs {
    pub deadline: Option<u64>,
    pub notification: u32,
}

impl SetTimerArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        SetTimerArgs {
            deadline: (r[0] != 0).then_some(u64::from(r[1]) | (u64::from(r[2]) << 32)),
            notification: r[3],
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        let d = self.deadline.unwrap_or(0);
        [
            u32::from(self.deadline.is_some()),
            d as u32,
            (d >> 32) as u32,
            self.notification,
            0,
            0,
            0,
        ]
    }
}

/// What GET_TIMER returns: r4/r5 = now, r6 = deadline set, r7/r8 = deadline, r9 = bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerStatus {
    pub now: u64,
    pub deadline: Option<u64>,
    pub notification: u32,
}

impl TimerStatus {
    #[inline(always)]
    pub fn encode(&self) -> [u32; 6] {
        let deadline = self.deadline.unwrap_or(0);
        [
            self.now as u32,
            (self.now >> 32) as u32,
            u32::from(self.deadline.is_some()),
            deadline as u32,
            (deadline >> 32) as u32,
            self.notification,
        ]
    }

    #[inline(always)]
    pub fn decode(r: &Results) -> Self {
        let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
        TimerStatus {
            now: join(r[0], r[1]),
            deadline: (r[2] != 0).then(|| join(r[3], r[4])),
            notification: r[5],
        }
    }
}

/// IRQ_CONTROL: r4 = notification mask (the caller's own bits), r5 = [`irq_control`] flags.
/// Flag bits the kernel does not define are ignored, so a newer task runs on an older kernel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IrqControlArgs {
    pub mask: u32,
    pub enable: bool,
    pub clear_pending: bool,
}

impl IrqControlArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        IrqControlArgs {
            mask: r[0],
            enable: r[1] & irq_control::ENABLE != 0,
            clear_pending: r[1] & irq_control::CLEAR_PENDING != 0,
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        let mut flags = 0;
        if self.enable {
            flags |= irq_control::ENABLE;
        }
        if self.clear_pending {
            flags |= irq_control::CLEAR_PENDING;
        }
        [self.mask, flags, 0, 0, 0, 0, 0]
    }
}

/// IRQ_STATUS: r4 = notification mask. Returns [`IrqStatus`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IrqStatusArgs {
    pub mask: u32,
}

impl IrqStatusArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        IrqStatusArgs { mask: r[0] }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [self.mask, 0, 0, 0, 0, 0, 0]
    }
}

/// What IRQ_STATUS returns: r4 = enabled, r5 = pending, r6 = posted, as notification bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IrqStatus {
    pub enabled: u32,
    pub pending: u32,
    pub posted: u32,
}

impl IrqStatus {
    #[inline(always)]
    pub const fn encode(&self) -> [u32; 3] {
        [self.enabled, self.pending, self.posted]
    }

    #[inline(always)]
    pub const fn decode(r: &Results) -> Self {
        IrqStatus {
            enabled: r[0],
            pending: r[1],
            posted: r[2],
        }
    }
}

/// PANIC: r4/r5 = the message, left in the task's memory for the supervisor and humility.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PanicArgs {
    pub message: USlice,
}

impl PanicArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        PanicArgs {
            message: USlice::new(r[0], r[1]),
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [self.message.base, self.message.len, 0, 0, 0, 0, 0]
    }
}

/// REFRESH_TASK_ID: r4 = a TaskId (only its index is used). Returns r4 = the current TaskId
/// of that index, r5 = its 32-bit generation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RefreshArgs {
    pub id: TaskId,
}

impl RefreshArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        RefreshArgs {
            id: TaskId(r[0] as u16),
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [u32::from(self.id.0), 0, 0, 0, 0, 0, 0]
    }

    #[inline(always)]
    pub fn encode_result(current: Incarnation) -> [u32; 2] {
        [u32::from(current.id.0), current.generation]
    }

    #[inline(always)]
    pub fn decode_result(r: &Results) -> Incarnation {
        Incarnation {
            id: TaskId(r[0] as u16),
            generation: r[1],
        }
    }
}

/// POST: r4 = target, r5 = notification bits, r9 = target's 32-bit generation. Returns
/// r4 = 0, or a [`Refusal::PeerGone`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PostArgs {
    pub target: TaskId,
    pub target_generation: u32,
    pub bits: u32,
}

impl PostArgs {
    #[inline(always)]
    pub fn decode(r: &Args) -> Self {
        PostArgs {
            target: TaskId(r[0] as u16),
            target_generation: r[5],
            bits: r[1],
        }
    }

    #[inline(always)]
    pub fn encode(&self) -> Args {
        [
            u32::from(self.target.0),
            self.bits,
            0,
            0,
            0,
            self.target_generation,
            0,
        ]
    }
}

/// A syscall the kernel did not carry out, for a reason the caller is expected to handle
/// (not misuse, which faults it). Every such outcome leaves r4 = [`Refusal::code`] and r5 =
/// [`Refusal::detail`], whichever syscall it ends and whether the kernel refuses at once or
/// wakes a blocked task to say so (a detach waking the tasks blocked on the detached one).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The named peer incarnation ended; `generation` is the peer's current 32-bit one, so
    /// the caller can name it exactly again without another syscall.
    PeerGone { gone: PeerGone, generation: u32 },
    /// BORROW_*: the lender is alive but not (or no longer) waiting on the borrower.
    LeaseDefect,
    /// Kernel IPC: the operation does not apply now (a [`crate::kipc_rc`] code).
    Kipc(u32),
}

impl Refusal {
    /// The refusal for a peer whose current 32-bit generation is `generation`.
    #[inline(always)]
    pub const fn peer(gone: PeerGone, generation: u32) -> Self {
        Refusal::PeerGone { gone, generation }
    }

    /// The peer-gone refusal for a peer now at `generation`: restarted, or detached.
    #[inline(always)]
    pub const fn peer_at(detached: bool, generation: u32) -> Self {
        let g = Generation::from_restart_count(generation);
        let gone = if detached {
            PeerGone::Unavailable(g)
        } else {
            PeerGone::Restarted(g)
        };
        Refusal::peer(gone, generation)
    }

    /// r4.
    #[inline(always)]
    pub const fn code(self) -> u32 {
        match self {
            Refusal::PeerGone { gone, .. } => gone.code(),
            Refusal::LeaseDefect => LEASE_DEFECT,
            Refusal::Kipc(code) => code,
        }
    }

    /// r5: the peer's 32-bit generation for a gone peer, 0 otherwise.
    #[inline(always)]
    pub const fn detail(self) -> u32 {
        match self {
            Refusal::PeerGone { generation, .. } => generation,
            Refusal::LeaseDefect | Refusal::Kipc(_) => 0,
        }
    }

    /// r4 and r5.
    #[inline(always)]
    pub const fn results(self) -> [u32; 2] {
        [self.code(), self.detail()]
    }

    /// The refusal SEND, POST or a closed RECV returned in (r4, r5), if r4 is one: only a
    /// peer can be gone there, so every other r4 is the syscall's own result.
    #[inline(always)]
    pub const fn from_peer_results(code: u32, detail: u32) -> Option<Self> {
        match PeerGone::from_code(code) {
            Some(gone) => Some(Refusal::peer(gone, detail)),
            None => None,
        }
    }

    /// The refusal a BORROW_* returned in (r4, r5), if r4 is not 0 (success). A code that is
    /// neither a peer-gone code nor [`LEASE_DEFECT`] is read as the lease being unusable,
    /// which is all a borrower can do about it.
    #[inline(always)]
    pub const fn from_borrow_results(code: u32, detail: u32) -> Option<Self> {
        match code {
            0 => None,
            _ => match Self::from_peer_results(code, detail) {
                Some(refusal) => Some(refusal),
                None => Some(Refusal::LeaseDefect),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: [u32; 7] = [0xA4, 0xA5, 0xA6, 0xA7, 0xA8, 0xA9, 0xAA];

    #[test]
    fn send_round_trips_and_out_of_range_counts_are_flagged() {
        let target = Incarnation::new(5, 70);
        let r = SendArgs::encode(
            target,
            9,
            USlice::new(0x2000_0000, 12),
            USlice::new(0x2000_0100, 64),
            0x2000_0200,
            3,
        );
        let a = SendArgs::decode(&r);
        assert_eq!(a.target, target.id);
        assert_eq!(a.target_generation, 70);
        assert_eq!(a.operation, 9);
        assert_eq!(a.message, USlice::new(0x2000_0000, 12));
        assert_eq!(a.response, USlice::new(0x2000_0100, 64));
        assert_eq!(a.leases, USlice::new(0x2000_0200, 36));
        assert_eq!(a.lease_count(), 3);
        assert!(a.counts_in_range);
        for (len, count) in [(usize::MAX, 0), (0, usize::MAX)] {
            let r = SendArgs::encode(target, 0, USlice::default(), USlice::new(0, 0), 0, count);
            let r = [
                r[0],
                r[1],
                r[2],
                r[3],
                send_packing::pack(len, count),
                r[5],
                r[6],
            ];
            assert!(!SendArgs::decode(&r).counts_in_range, "{len} {count}");
        }
    }

    #[test]
    fn recv_round_trips_open_closed_and_notification_only() {
        for closed_from in [None, Some(TaskId(0x0C05)), Some(TaskId::KERNEL)] {
            let a = RecvArgs {
                buffer: USlice::new(0x2000_0040, 32),
                notification_mask: 0b101,
                closed_from,
                from_generation: 3,
            };
            assert_eq!(RecvArgs::decode(&a.encode()), a);
        }
        // The filter's low 16 bits are ignored for an open receive.
        let open = RecvArgs::decode(&[0, 0, 0, 0x1234, 0, 0, 0]);
        assert_eq!(open.closed_from, None);
    }

    #[test]
    fn recv_result_round_trips_and_a_closed_refusal_carries_the_generation() {
        let m = RecvResult {
            sender: TaskId(0x0403),
            sender_generation: 65,
            operation: 7,
            message_len: 12,
            response_capacity: 16,
            lease_count: 2,
        };
        let e = m.encode();
        let results = [e[0], e[1], e[2], e[3], e[4], e[5], e[6], 0xB11];
        assert_eq!(RecvResult::decode(&results), Ok(m));
        assert_eq!(RecvResult::decode_unrefused(&results), m);
        let e = RecvResult::notification(0x8000_0001).encode();
        let notified = [e[0], e[1], e[2], e[3], e[4], e[5], e[6], 0];
        assert_eq!(
            RecvResult::decode_unrefused(&notified),
            RecvResult::notification(0x8000_0001),
            "an open receive's notification"
        );
        assert_eq!(m.sender_incarnation(), Incarnation::new(3, 65));
        let n = RecvResult::notification(0b11);
        assert_eq!(n.sender, TaskId::KERNEL);
        assert_eq!(n.encode()[2], 0b11);

        let gone = Refusal::peer_at(true, 66);
        let [code, detail] = gone.results();
        assert_eq!(
            RecvResult::decode(&[code, detail, 0, 0, 0, 0, 0, 0]),
            Err(gone)
        );
    }

    #[test]
    fn reply_borrow_post_panic_refresh_and_irq_views_round_trip() {
        let reply = ReplyArgs {
            peer: TaskId(0x0802),
            peer_generation: 130,
            code: 0xDEAD,
            message: USlice::new(0x2000_1000, 5),
        };
        assert_eq!(ReplyArgs::decode(&reply.encode()), reply);
        let borrow = BorrowArgs {
            lender: TaskId(4),
            lender_generation: 1 << 31,
            index: 2,
            offset: 100,
            buffer: USlice::new(0x2000_2000, 256),
        };
        assert_eq!(BorrowArgs::decode(&borrow.encode()), borrow);
        let post = PostArgs {
            target: TaskId(6),
            target_generation: 9,
            bits: 1 << 31,
        };
        assert_eq!(PostArgs::decode(&post.encode()), post);
        let panic = PanicArgs {
            message: USlice::new(0x2000_3000, 40),
        };
        assert_eq!(PanicArgs::decode(&panic.encode()), panic);
        let refresh = RefreshArgs { id: TaskId(0x0407) };
        assert_eq!(RefreshArgs::decode(&refresh.encode()), refresh);
        let now = Incarnation::new(7, 200);
        let [a, b] = RefreshArgs::encode_result(now);
        assert_eq!(RefreshArgs::decode_result(&[a, b, 0, 0, 0, 0, 0, 0]), now);
        for (enable, clear_pending) in [(false, false), (true, false), (false, true), (true, true)]
        {
            let c = IrqControlArgs {
                mask: 0b110,
                enable,
                clear_pending,
            };
            assert_eq!(IrqControlArgs::decode(&c.encode()), c);
        }
        let status = IrqStatusArgs { mask: 3 };
        assert_eq!(IrqStatusArgs::decode(&status.encode()), status);
        let s = IrqStatus {
            enabled: 1,
            pending: 2,
            posted: 4,
        };
        let [e, p, q] = s.encode();
        assert_eq!(IrqStatus::decode(&[e, p, q, 0, 0, 0, 0, 0]), s);
    }

    #[test]
    fn reply_fault_round_trips_every_reason_and_refuses_an_unknown_one() {
        for n in 0..=5 {
            let a = ReplyFaultArgs {
                peer: TaskId(3),
                peer_generation: 64,
                reason: ReplyFaultReason::from_u32(n).unwrap(),
            };
            assert_eq!(ReplyFaultArgs::decode(&a.encode()), Ok(a));
        }
        for bad in [6, u32::MAX] {
            let mut r = ANY;
            r[1] = bad;
            assert_eq!(
                ReplyFaultArgs::decode(&r),
                Err(UsageError::BadKernelMessage),
                "reason {bad}"
            );
        }
    }

    #[test]
    fn timers_round_trip_and_a_disabled_timer_has_no_deadline() {
        for deadline in [None, Some(0), Some(u64::MAX), Some(1 << 32)] {
            let a = SetTimerArgs {
                deadline,
                notification: 0x80,
            };
            assert_eq!(SetTimerArgs::decode(&a.encode()), a);
            let s = TimerStatus {
                now: 0x1_0000_0002,
                deadline,
                notification: 0x80,
            };
            let e = s.encode();
            assert_eq!(
                TimerStatus::decode(&[e[0], e[1], e[2], e[3], e[4], e[5], 0, 0]),
                s
            );
        }
        assert_eq!(SetTimerArgs::decode(&[0, 5, 5, 1, 0, 0, 0]).deadline, None);
    }

    #[test]
    fn refusals_decode_from_the_two_words_they_encode_to() {
        let refusals = [
            Refusal::peer_at(false, 64),
            Refusal::peer_at(true, u32::MAX),
            Refusal::LeaseDefect,
        ];
        for r in refusals {
            let [code, detail] = r.results();
            assert_eq!(Refusal::from_borrow_results(code, detail), Some(r));
        }
        assert_eq!(
            Refusal::peer_at(false, 64),
            Refusal::peer(PeerGone::Restarted(Generation(0)), 64)
        );
        assert_eq!(Refusal::from_borrow_results(0, 7), None);
        assert_eq!(Refusal::from_peer_results(0, 7), None);
        assert_eq!(Refusal::from_peer_results(LEASE_DEFECT, 0), None);
        assert_eq!(Refusal::Kipc(crate::kipc_rc::DETACHED).results(), [2, 0]);
        let info = LeaseInfo {
            attributes: 3,
            length: 4096,
        };
        let [a, b, c] = info.encode();
        assert_eq!(LeaseInfo::decode(&[a, b, c, 0, 0, 0, 0, 0]), Ok(info));
        assert_eq!(
            LeaseInfo::decode(&[LEASE_DEFECT, 0, 0, 0, 0, 0, 0, 0]),
            Err(Refusal::LeaseDefect)
        );
    }
}
