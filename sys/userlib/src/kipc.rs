//! Kernel IPC wrappers for the supervisor (and tasks `app.toml` grants kernel IPC to). Any
//! other task calling these is faulted by the kernel.

use abi::{FaultInfo, FaultReport, Incarnation, Kipcnum, SchedState, TaskId, TaskStatus};
use zerocopy::FromBytes;

use crate::sys_send;

fn request(op: Kipcnum, words: &[u32], reply: &mut [u8]) -> (u32, usize) {
    let mut bytes = [0u8; 16];
    for (chunk, w) in bytes.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    sys_send(
        Incarnation::KERNEL,
        op as u16,
        &bytes[..words.len() * 4],
        reply,
        &[],
    )
}

/// A task's state as the kernel reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub sched: SchedState,
    pub fault: Option<FaultInfo>,
    pub detached: bool,
    pub restarts: u32,
    pub id: TaskId,
}

pub fn read_task_status(index: usize) -> Status {
    let mut raw = [0u8; size_of::<TaskStatus>()];
    request(Kipcnum::ReadTaskStatus, &[index as u32], &mut raw);
    let s = TaskStatus::read_from_bytes(&raw).unwrap_or_else(|_| unreachable!());
    Status {
        sched: SchedState::decode(s.sched, s.sched_peer).unwrap_or(SchedState::Stopped),
        fault: (s.health & TaskStatus::FAULTED != 0)
            .then(|| FaultInfo::decode(s.fault))
            .flatten(),
        detached: s.health & TaskStatus::DETACHED != 0,
        restarts: s.restarts,
        id: TaskId(s.id as u16),
    }
}

/// Ends the task's incarnation now (see the kernel's `detach` docs).
pub fn detach_task(index: usize) {
    request(Kipcnum::DetachTask, &[index as u32], &mut []);
}

/// Re-initialises the task (detaching it first if needed) and starts it if `start`.
pub fn restart_task(index: usize, start: bool) {
    request(
        Kipcnum::RestartTask,
        &[index as u32, u32::from(start)],
        &mut [],
    );
}

/// Faults the task with `FaultInfo::Injected(caller)`.
pub fn fault_task(index: usize) {
    request(Kipcnum::FaultTask, &[index as u32], &mut []);
}

/// The next faulted task at or after `start`, if any (index 0 is never reported: a faulted
/// supervisor has already reset the system).
pub fn find_faulted_task(start: usize) -> Option<usize> {
    let mut raw = [0u8; 4];
    request(Kipcnum::FindFaultedTask, &[start as u32], &mut raw);
    let found = u32::from_le_bytes(raw) as usize;
    (found != 0).then_some(found)
}

/// A fault the kernel holds (a task stays faulted until it is restarted).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub task: usize,
    pub fault: FaultInfo,
    /// The next faulted task after `task`: where to look next, if anywhere.
    pub next: Option<usize>,
}

/// The first faulted task at or after `start`, with its fault, in one kernel call.
pub fn next_fault(start: usize) -> Option<Fault> {
    let mut raw = [0u8; size_of::<FaultReport>()];
    request(Kipcnum::NextFault, &[start as u32], &mut raw);
    let r = FaultReport::read_from_bytes(&raw).unwrap_or_else(|_| unreachable!());
    if r.task == 0 {
        return None;
    }
    // The kernel encodes with the same `abi`, so every report decodes.
    let fault = FaultInfo::decode(r.fault).unwrap_or_else(|| unreachable!());
    Some(Fault {
        task: r.task as usize,
        fault,
        next: (r.next != 0).then_some(r.next as usize),
    })
}

/// Copies the task's panic message into `out`; `None` if it is not faulted by a panic.
pub fn read_panic_message(index: usize, out: &mut [u8]) -> Option<usize> {
    let (rc, len) = request(Kipcnum::ReadPanicMessage, &[index as u32], out);
    (rc == 0).then_some(len)
}

pub fn read_image_id() -> u64 {
    let mut raw = [0u8; 8];
    request(Kipcnum::ReadImageId, &[], &mut raw);
    u64::from_le_bytes(raw)
}

/// Pends the task's interrupts mapped to `mask`; `false` (nothing pended) if it is detached
/// (`kipc_rc::DETACHED`).
pub fn software_irq(index: usize, mask: u32) -> bool {
    let (rc, _) = request(Kipcnum::SoftwareIrq, &[index as u32, mask], &mut []);
    rc == 0
}

/// Why the system last reset, as the kernel found it at boot.
pub fn read_reset_reason() -> Option<abi::ResetReason> {
    let mut raw = [0u8; 4];
    request(Kipcnum::ReadResetReason, &[], &mut raw);
    abi::ResetReason::from_u32(u32::from_le_bytes(raw))
}

/// CPU cycles task `index` has run up to its last switch away; `None` unless the kernel
/// was built for benchmarks (kernel feature `task-time`).
pub fn read_task_time(index: usize) -> Option<u64> {
    let mut raw = [0u8; 8];
    let (rc, len) = request(Kipcnum::ReadTaskTime, &[index as u32], &mut raw);
    (rc == 0 && len == 8).then(|| u64::from_le_bytes(raw))
}

pub fn system_reset() -> ! {
    request(Kipcnum::Reset, &[], &mut []);
    unreachable!("the kernel does not return from a reset")
}
