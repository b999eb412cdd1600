//! Typed syscall wrappers over two assembly stubs: the arguments as a block in memory, or, for
//! RECV, in registers.

pub use abi::syscall::IrqStatus;
use abi::syscall::{
    Args, BorrowArgs, IrqControlArgs, IrqStatusArgs, PanicArgs, PostArgs, RecvArgs, RecvResult,
    RefreshArgs, ReplyArgs, ReplyFaultArgs, SendArgs, SetTimerArgs, TimerStatus,
};
use abi::{Incarnation, PeerGone, Refusal, ReplyFaultReason, Sysnum, TaskId, USlice};

use crate::lease::Lease;

#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".section .text.bulkhead_syscall, \"ax\"",
    ".global bulkhead_syscall",
    ".type bulkhead_syscall, %function",
    ".thumb_func",
    // r0 = seven argument words, r1 = eight result words, r2 = syscall number.
    // r0-r3 survive the SVC (the hardware frame restores them).
    "bulkhead_syscall:",
    "    push {{r4-r11}}",
    "    mov r11, r2",
    "    ldm r0, {{r4-r10}}",
    "    svc #0",
    "    stm r1, {{r4-r11}}",
    "    pop {{r4-r11}}",
    "    bx lr",
    ".size bulkhead_syscall, . - bulkhead_syscall",
);

#[cfg(target_os = "none")]
unsafe extern "C" {
    fn bulkhead_syscall(args: *const [u32; 7], results: *mut [u32; 8], number: u32);
}

// RECV's words in registers and on the stack rather than as a block in memory: its block
// holds constant zeros, which the tasks' `opt-level = "s"` cleared through the library's
// `__aeabi_memclr4` (26 instructions) before filling in the rest. The other syscalls keep
// the block, which costs them fewer instructions than this stub's moves.
#[cfg(target_os = "none")]
core::arch::global_asm!(
    ".section .text.bulkhead_syscall_regs, \"ax\"",
    ".global bulkhead_syscall_regs",
    ".type bulkhead_syscall_regs, %function",
    ".thumb_func",
    // The first four argument words in r0-r3, as the C ABI passes them; on the stack, where
    // the eight result words go, the other three argument words and the syscall number.
    // r0-r3 survive the SVC (the hardware frame restores them).
    "bulkhead_syscall_regs:",
    "    push {{r4-r11}}",
    "    mov r4, r0",
    "    mov r5, r1",
    "    mov r6, r2",
    "    mov r7, r3",
    "    add r0, sp, #32",
    "    ldm r0, {{r0, r8-r11}}",
    "    svc #0",
    "    stm r0, {{r4-r11}}",
    "    pop {{r4-r11}}",
    "    bx lr",
    ".size bulkhead_syscall_regs, . - bulkhead_syscall_regs",
);

#[cfg(target_os = "none")]
unsafe extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn bulkhead_syscall_regs(
        a0: u32,
        a1: u32,
        a2: u32,
        a3: u32,
        results: *mut [u32; 8],
        a4: u32,
        a5: u32,
        a6: u32,
        number: u32,
    );
}

/// `syscall` through [`bulkhead_syscall_regs`].
#[inline(always)]
fn syscall_in_registers(number: Sysnum, args: &[u32; 7]) -> [u32; 8] {
    #[cfg(target_os = "none")]
    {
        let mut results = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        let [a0, a1, a2, a3, a4, a5, a6] = *args;
        // SAFETY: as for `sys_raw`: the stub writes all 8 result words, and the wrappers
        // build `args` from references of the right mutability.
        unsafe {
            bulkhead_syscall_regs(
                a0,
                a1,
                a2,
                a3,
                results.as_mut_ptr(),
                a4,
                a5,
                a6,
                number as u32,
            );
            results.assume_init()
        }
    }
    #[cfg(not(target_os = "none"))]
    panic!("syscall {number:?}{args:?} on the host: there is no kernel here");
}

#[inline(always)]
fn syscall(number: Sysnum, args: &[u32; 7]) -> [u32; 8] {
    // SAFETY: every wrapper here builds `args` from Rust references of the right
    // mutability, so whatever the kernel writes lands in memory the caller lent for it.
    unsafe { sys_raw(number as u32, args) }
}

/// Issues syscall `number` (any value, valid or not) with `args` in r4-r10, through the same
/// stub as every wrapper, and returns r4-r11. For tests of the kernel's checks: the fault
/// campaign's rogue task calls it with random registers.
///
/// # Safety
///
/// The kernel writes wherever the arguments point inside this task's regions (a RECV
/// buffer, a borrow's destination): the caller must accept that memory being overwritten.
#[inline(always)]
pub unsafe fn sys_raw(number: u32, args: &[u32; 7]) -> [u32; 8] {
    #[cfg(target_os = "none")]
    {
        let mut results = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        // SAFETY: the stub reads 7 words and writes all 8 result words (r4-r11), so
        // `results` is initialised when it returns; the kernel checks every pointer inside
        // `args` against this task's regions before using it.
        unsafe {
            bulkhead_syscall(args, results.as_mut_ptr(), number);
            results.assume_init()
        }
    }
    #[cfg(not(target_os = "none"))]
    panic!("syscall {number}{args:?} on the host: there is no kernel here");
}

fn addr<T>(p: *const T) -> u32 {
    p as usize as u32
}

#[inline(always)]
fn slice(data: &[u8]) -> USlice {
    USlice::new(addr(data.as_ptr()), data.len() as u32)
}

/// Sends `outgoing` with `operation` to the incarnation `target` and waits for the reply,
/// lending `leases` for the duration. Returns (response code, reply length); with a code
/// for which `PeerGone::from_code` is `Some` (the server is restarted or detached), the
/// second value is instead the server's current 32-bit generation: [`peer_gone`] decodes
/// both. A reply buffer or lease table above `abi::send_packing`'s bounds faults the caller.
pub fn sys_send(
    target: Incarnation,
    operation: u16,
    outgoing: &[u8],
    incoming: &mut [u8],
    leases: &[Lease<'_>],
) -> (u32, usize) {
    let args = SendArgs::encode(
        target,
        operation,
        slice(outgoing),
        slice(incoming),
        addr(leases.as_ptr()),
        leases.len(),
    );
    let r = syscall(Sysnum::Send, &args);
    (r[0], r[1] as usize)
}

/// Whether a [`sys_send`] to `target` that returned `(code, second)` found the server gone;
/// if so, why, and the incarnation to name it by from now on (the exact one the kernel
/// reported, so the next SEND is not refused again unless the server ends again).
pub fn peer_gone(target: Incarnation, code: u32, second: usize) -> Option<(PeerGone, Incarnation)> {
    match Refusal::from_peer_results(code, second as u32)? {
        Refusal::PeerGone { gone, generation } => {
            Some((gone, Incarnation::new(target.index(), generation)))
        }
        Refusal::LeaseDefect | Refusal::Kipc(_) => None,
    }
}

/// What RECV returned. `sender == TaskId::KERNEL` means notifications, with the fired bits
/// in `operation`. `message_len` is the sender's full length; if it exceeds the buffer the
/// message was truncated. `sender` carries the sender's full 32-bit generation, which
/// [`sys_reply`], [`sys_reply_fault`] and the borrows hand back so that the kernel can tell
/// this incarnation from one 64 restarts later with the same `TaskId`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecvMessage {
    pub sender: Incarnation,
    pub operation: u32,
    pub message_len: usize,
    pub response_capacity: usize,
    pub lease_count: usize,
}

/// The peer a refusal says is gone: only a closed receive can be refused, and only so.
#[inline(always)]
fn gone(refusal: Refusal) -> PeerGone {
    match refusal {
        Refusal::PeerGone { gone, .. } => gone,
        Refusal::LeaseDefect | Refusal::Kipc(_) => unreachable!(),
    }
}

#[inline(always)]
fn recv(
    buffer: &mut [u8],
    notification_mask: u32,
    closed_from: Option<Incarnation>,
) -> Result<RecvMessage, PeerGone> {
    let args = RecvArgs {
        buffer: slice(buffer),
        notification_mask,
        closed_from: closed_from.map(|from| from.id),
        from_generation: closed_from.map_or(0, |from| from.generation),
    };
    let results = syscall_in_registers(Sysnum::Recv, &args.encode());
    let m = match closed_from {
        Some(_) => RecvResult::decode(&results).map_err(gone)?,
        None => RecvResult::decode_unrefused(&results),
    };
    Ok(RecvMessage {
        sender: m.sender_incarnation(),
        operation: m.operation,
        message_len: m.message_len as usize,
        response_capacity: m.response_capacity as usize,
        lease_count: m.lease_count as usize,
    })
}

pub fn sys_recv_open(buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    match recv(buffer, notification_mask, None) {
        Ok(m) => m,
        // An open receive names no peer, so no peer can be gone.
        Err(_) => unreachable!(),
    }
}

pub fn sys_recv_closed(
    buffer: &mut [u8],
    notification_mask: u32,
    sender: Incarnation,
) -> Result<RecvMessage, PeerGone> {
    recv(buffer, notification_mask, Some(sender))
}

/// Waits for any of `mask`'s notifications; returns the fired bits.
pub fn sys_recv_notification(mask: u32) -> u32 {
    match recv(&mut [], mask, Some(Incarnation::KERNEL)) {
        Ok(m) => m.operation,
        Err(_) => unreachable!(),
    }
}

pub fn sys_reply(peer: Incarnation, code: u32, message: &[u8]) {
    let args = ReplyArgs {
        peer: peer.id,
        peer_generation: peer.generation,
        code,
        message: slice(message),
    };
    syscall(Sysnum::Reply, &args.encode());
}

pub fn sys_reply_fault(peer: Incarnation, reason: ReplyFaultReason) {
    let args = ReplyFaultArgs {
        peer: peer.id,
        peer_generation: peer.generation,
        reason,
    };
    syscall(Sysnum::ReplyFault, &args.encode());
}

/// Why a borrow did not copy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BorrowError {
    /// The lender was restarted or detached.
    LenderGone(PeerGone),
    /// The lender is alive but no longer waiting on us (it was replied to, or faulted).
    LenderNotWaiting,
}

impl From<Refusal> for BorrowError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::PeerGone { gone, .. } => BorrowError::LenderGone(gone),
            Refusal::LeaseDefect | Refusal::Kipc(_) => BorrowError::LenderNotWaiting,
        }
    }
}

#[inline(always)]
fn borrow_args(lender: Incarnation, index: usize, offset: usize, buffer: USlice) -> Args {
    BorrowArgs {
        lender: lender.id,
        lender_generation: lender.generation,
        index: index as u32,
        offset: offset as u32,
        buffer,
    }
    .encode()
}

/// BORROW_READ and BORROW_WRITE: the same arguments, copying in opposite directions.
#[inline(always)]
fn borrow_copy(number: Sysnum, args: &Args) -> Result<usize, BorrowError> {
    let r = syscall(number, args);
    match Refusal::from_borrow_results(r[0], r[1]) {
        Some(refusal) => Err(refusal.into()),
        None => Ok(r[1] as usize),
    }
}

pub fn sys_borrow_read(
    lender: Incarnation,
    index: usize,
    offset: usize,
    dest: &mut [u8],
) -> Result<usize, BorrowError> {
    let args = borrow_args(lender, index, offset, slice(dest));
    borrow_copy(Sysnum::BorrowRead, &args)
}

pub fn sys_borrow_write(
    lender: Incarnation,
    index: usize,
    offset: usize,
    src: &[u8],
) -> Result<usize, BorrowError> {
    let args = borrow_args(lender, index, offset, slice(src));
    borrow_copy(Sysnum::BorrowWrite, &args)
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub attributes: u32,
    pub len: usize,
}

pub fn sys_borrow_info(lender: Incarnation, index: usize) -> Result<LeaseInfo, BorrowError> {
    let args = borrow_args(lender, index, 0, USlice::default());
    let info = abi::syscall::LeaseInfo::decode(&syscall(Sysnum::BorrowInfo, &args))?;
    Ok(LeaseInfo {
        attributes: info.attributes,
        len: info.length as usize,
    })
}

/// Sets (`Some`) or cancels (`None`) the task's timer; `bits` are posted at the deadline.
pub fn sys_set_timer(deadline: Option<u64>, bits: u32) {
    let args = SetTimerArgs {
        deadline,
        notification: bits,
    };
    syscall(Sysnum::SetTimer, &args.encode());
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerState {
    pub now: u64,
    pub deadline: Option<u64>,
    pub on_dl: u32,
}

pub fn sys_get_timer() -> TimerState {
    let t = TimerStatus::decode(&syscall(Sysnum::GetTimer, &[0; 7]));
    TimerState {
        now: t.now,
        deadline: t.deadline,
        on_dl: t.notification,
    }
}

/// Enables (or disables) this task's interrupts named by notification `mask`, optionally
/// clearing a pending one first.
pub fn sys_irq_control(mask: u32, enable: bool, clear_pending: bool) {
    let args = IrqControlArgs {
        mask,
        enable,
        clear_pending,
    };
    syscall(Sysnum::IrqControl, &args.encode());
}

pub fn sys_irq_status(mask: u32) -> IrqStatus {
    IrqStatus::decode(&syscall(
        Sysnum::IrqStatus,
        &IrqStatusArgs { mask }.encode(),
    ))
}

pub fn sys_panic(message: &[u8]) -> ! {
    let args = PanicArgs {
        message: slice(message),
    };
    syscall(Sysnum::Panic, &args.encode());
    // The kernel never resumes a panicked task; a restart begins again at `_start`.
    loop {
        core::hint::spin_loop();
    }
}

/// The current incarnation of the task `id` names (a `TaskId` or an `Incarnation`), with its
/// full 32-bit generation: what [`sys_send`], [`sys_post`] and [`sys_recv_closed`] need to
/// tell it from one 64 restarts older.
pub fn sys_refresh_incarnation(id: impl Into<TaskId>) -> Incarnation {
    let args = RefreshArgs { id: id.into() };
    RefreshArgs::decode_result(&syscall(Sysnum::RefreshTaskId, &args.encode()))
}

pub fn sys_post(target: Incarnation, bits: u32) -> Result<(), PeerGone> {
    let args = PostArgs {
        target: target.id,
        target_generation: target.generation,
        bits,
    };
    let r = syscall(Sysnum::Post, &args.encode());
    Refusal::from_peer_results(r[0], r[1]).map_or(Ok(()), |refusal| Err(gone(refusal)))
}
