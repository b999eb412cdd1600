//! Typed syscall wrappers over one assembly stub.

use abi::{Incarnation, LEASE_DEFECT, PeerGone, RECV_CLOSED, ReplyFaultReason, Sysnum, TaskId};

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

#[inline(always)]
fn syscall(number: Sysnum, args: &[u32; 7]) -> [u32; 8] {
    #[cfg(target_os = "none")]
    {
        let mut results = core::mem::MaybeUninit::<[u32; 8]>::uninit();
        // SAFETY: the stub reads 7 words and writes all 8 result words (r4-r11), so
        // `results` is initialised when it returns; the kernel checks every pointer inside
        // `args` against this task's regions before using it.
        unsafe {
            bulkhead_syscall(args, results.as_mut_ptr(), number as u32);
            results.assume_init()
        }
    }
    #[cfg(not(target_os = "none"))]
    panic!("syscall {number:?}{args:?} on the host: there is no kernel here");
}

fn addr<T>(p: *const T) -> u32 {
    p as usize as u32
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
    let r = syscall(
        Sysnum::Send,
        &[
            (u32::from(target.id.0) << 16) | u32::from(operation),
            addr(outgoing.as_ptr()),
            outgoing.len() as u32,
            addr(incoming.as_mut_ptr()),
            abi::send_packing::pack(incoming.len(), leases.len()),
            target.generation,
            addr(leases.as_ptr()),
        ],
    );
    (r[0], r[1] as usize)
}

/// Whether a [`sys_send`] to `target` that returned `(code, second)` found the server gone;
/// if so, why, and the incarnation to name it by from now on (the exact one the kernel
/// reported, so the next SEND is not refused again unless the server ends again).
pub fn peer_gone(target: Incarnation, code: u32, second: usize) -> Option<(PeerGone, Incarnation)> {
    PeerGone::from_code(code).map(|gone| (gone, Incarnation::new(target.index(), second as u32)))
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

/// RECV; `generation` is that of the task a closed receive names (unused otherwise).
fn recv(
    buffer: &mut [u8],
    notification_mask: u32,
    filter: u32,
    generation: u32,
) -> Result<RecvMessage, PeerGone> {
    let args = [
        addr(buffer.as_mut_ptr()),
        buffer.len() as u32,
        notification_mask,
        filter,
        0,
        generation,
        0,
    ];
    let r = syscall(Sysnum::Recv, &args);
    if let Some(gone) = PeerGone::from_code(r[0]) {
        return Err(gone);
    }
    Ok(RecvMessage {
        sender: Incarnation {
            id: TaskId(r[1] as u16),
            generation: r[6],
        },
        operation: r[2],
        message_len: r[3] as usize,
        response_capacity: r[4] as usize,
        lease_count: r[5] as usize,
    })
}

pub fn sys_recv_open(buffer: &mut [u8], notification_mask: u32) -> RecvMessage {
    match recv(buffer, notification_mask, 0, 0) {
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
    recv(
        buffer,
        notification_mask,
        RECV_CLOSED | u32::from(sender.id.0),
        sender.generation,
    )
}

/// Waits for any of `mask`'s notifications; returns the fired bits.
pub fn sys_recv_notification(mask: u32) -> u32 {
    match recv(&mut [], mask, RECV_CLOSED | u32::from(TaskId::KERNEL.0), 0) {
        Ok(m) => m.operation,
        Err(_) => unreachable!(),
    }
}

pub fn sys_reply(peer: Incarnation, code: u32, message: &[u8]) {
    let args = [
        u32::from(peer.id.0),
        code,
        addr(message.as_ptr()),
        message.len() as u32,
        0,
        peer.generation,
        0,
    ];
    syscall(Sysnum::Reply, &args);
}

pub fn sys_reply_fault(peer: Incarnation, reason: ReplyFaultReason) {
    syscall(
        Sysnum::ReplyFault,
        &[
            u32::from(peer.id.0),
            reason as u32,
            0,
            0,
            0,
            peer.generation,
            0,
        ],
    );
}

/// Why a borrow did not copy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BorrowError {
    /// The lender was restarted or detached.
    LenderGone(PeerGone),
    /// The lender is alive but no longer waiting on us (it was replied to, or faulted).
    LenderNotWaiting,
}

fn borrow_result(code: u32) -> Result<(), BorrowError> {
    match code {
        0 => Ok(()),
        LEASE_DEFECT => Err(BorrowError::LenderNotWaiting),
        c => {
            Err(PeerGone::from_code(c)
                .map_or(BorrowError::LenderNotWaiting, BorrowError::LenderGone))
        }
    }
}

/// BORROW_READ and BORROW_WRITE: the same arguments, copying in opposite directions.
fn borrow_copy(
    number: Sysnum,
    lender: Incarnation,
    index: usize,
    offset: usize,
    buffer: (u32, usize),
) -> Result<usize, BorrowError> {
    let args = [
        u32::from(lender.id.0),
        index as u32,
        offset as u32,
        buffer.0,
        buffer.1 as u32,
        lender.generation,
        0,
    ];
    let r = syscall(number, &args);
    borrow_result(r[0]).map(|()| r[1] as usize)
}

pub fn sys_borrow_read(
    lender: Incarnation,
    index: usize,
    offset: usize,
    dest: &mut [u8],
) -> Result<usize, BorrowError> {
    borrow_copy(
        Sysnum::BorrowRead,
        lender,
        index,
        offset,
        (addr(dest.as_mut_ptr()), dest.len()),
    )
}

pub fn sys_borrow_write(
    lender: Incarnation,
    index: usize,
    offset: usize,
    src: &[u8],
) -> Result<usize, BorrowError> {
    borrow_copy(
        Sysnum::BorrowWrite,
        lender,
        index,
        offset,
        (addr(src.as_ptr()), src.len()),
    )
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LeaseInfo {
    pub attributes: u32,
    pub len: usize,
}

pub fn sys_borrow_info(lender: Incarnation, index: usize) -> Result<LeaseInfo, BorrowError> {
    let r = syscall(
        Sysnum::BorrowInfo,
        &[
            u32::from(lender.id.0),
            index as u32,
            0,
            0,
            0,
            lender.generation,
            0,
        ],
    );
    borrow_result(r[0]).map(|()| LeaseInfo {
        attributes: r[1],
        len: r[2] as usize,
    })
}

/// Sets (`Some`) or cancels (`None`) the task's timer; `bits` are posted at the deadline.
pub fn sys_set_timer(deadline: Option<u64>, bits: u32) {
    let d = deadline.unwrap_or(0);
    syscall(
        Sysnum::SetTimer,
        &[
            u32::from(deadline.is_some()),
            d as u32,
            (d >> 32) as u32,
            bits,
            0,
            0,
            0,
        ],
    );
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerState {
    pub now: u64,
    pub deadline: Option<u64>,
    pub on_dl: u32,
}

pub fn sys_get_timer() -> TimerState {
    let r = syscall(Sysnum::GetTimer, &[0; 7]);
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    TimerState {
        now: join(r[0], r[1]),
        deadline: (r[2] != 0).then(|| join(r[3], r[4])),
        on_dl: r[5],
    }
}

/// Enables (or disables) this task's interrupts named by notification `mask`, optionally
/// clearing a pending one first.
pub fn sys_irq_control(mask: u32, enable: bool, clear_pending: bool) {
    let flags = u32::from(enable) * abi::irq_control::ENABLE
        + u32::from(clear_pending) * abi::irq_control::CLEAR_PENDING;
    syscall(Sysnum::IrqControl, &[mask, flags, 0, 0, 0, 0, 0]);
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IrqStatus {
    pub enabled: u32,
    pub pending: u32,
    pub posted: u32,
}

pub fn sys_irq_status(mask: u32) -> IrqStatus {
    let r = syscall(Sysnum::IrqStatus, &[mask, 0, 0, 0, 0, 0, 0]);
    IrqStatus {
        enabled: r[0],
        pending: r[1],
        posted: r[2],
    }
}

pub fn sys_panic(message: &[u8]) -> ! {
    syscall(
        Sysnum::Panic,
        &[addr(message.as_ptr()), message.len() as u32, 0, 0, 0, 0, 0],
    );
    // The kernel never resumes a panicked task; a restart begins again at `_start`.
    loop {
        core::hint::spin_loop();
    }
}

/// The current incarnation of the task `id` names (a `TaskId` or an `Incarnation`), with its
/// full 32-bit generation: what [`sys_send`], [`sys_post`] and [`sys_recv_closed`] need to
/// tell it from one 64 restarts older.
pub fn sys_refresh_incarnation(id: impl Into<TaskId>) -> Incarnation {
    let id: TaskId = id.into();
    let r = syscall(Sysnum::RefreshTaskId, &[u32::from(id.0), 0, 0, 0, 0, 0, 0]);
    Incarnation {
        id: TaskId(r[0] as u16),
        generation: r[1],
    }
}

pub fn sys_refresh_task_id(id: TaskId) -> TaskId {
    sys_refresh_incarnation(id).id
}

pub fn sys_post(target: Incarnation, bits: u32) -> Result<(), PeerGone> {
    let rc = syscall(
        Sysnum::Post,
        &[u32::from(target.id.0), bits, 0, 0, 0, target.generation, 0],
    )[0];
    PeerGone::from_code(rc).map_or(Ok(()), Err)
}
