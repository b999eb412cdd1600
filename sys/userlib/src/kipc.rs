//! Kernel IPC wrappers for the supervisor (and tasks `app.toml` grants kernel IPC to). Any
//! other task calling these is faulted by the kernel.

use abi::kipc::{self as op, IrqRequest, Operation, RestartRequest, SearchRequest, TaskRequest};
use abi::{FaultInfo, Incarnation, SchedState, TaskId, TaskStatus};
use zerocopy::{FromZeros, IntoBytes};

use crate::sys_send;

/// Sends operation `O`'s `request`; the reply lands in `reply`. Returns (rc, reply length).
fn call<O: Operation>(request: &O::Request, reply: &mut O::Reply) -> (u32, usize) {
    sys_send(
        Incarnation::KERNEL,
        O::OP as u16,
        request.as_bytes(),
        reply.as_mut_bytes(),
        &[],
    )
}

/// Operation `O` with a fixed-size reply: (rc, the reply; zeroes where the kernel wrote none).
fn call_for<O: Operation>(request: &O::Request) -> (u32, O::Reply)
where
    O::Reply: Sized,
{
    let mut reply = O::Reply::new_zeroed();
    let (rc, _) = call::<O>(request, &mut reply);
    (rc, reply)
}

fn task(index: usize) -> TaskRequest {
    TaskRequest { task: index as u32 }
}

/// A task's state as the kernel reports it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub sched: SchedState,
    pub fault: Option<FaultInfo>,
    pub detached: bool,
    pub restarts: u32,
    pub id: TaskId,
    /// Ticks at which the task held the CPU, modulo 256: two readings tell a task that ran
    /// from one that did not.
    pub ticks_held: u8,
}

pub fn read_task_status(index: usize) -> Status {
    let (_, s): (_, TaskStatus) = call_for::<op::ReadTaskStatus>(&task(index));
    Status {
        sched: SchedState::decode(s.sched, s.sched_peer).unwrap_or(SchedState::Stopped),
        fault: (s.health & TaskStatus::FAULTED != 0)
            .then(|| FaultInfo::decode(s.fault))
            .flatten(),
        detached: s.health & TaskStatus::DETACHED != 0,
        restarts: s.restarts,
        id: TaskId(s.id as u16),
        ticks_held: s.ticks_held as u8,
    }
}

/// Ends the task's incarnation now (see the kernel's `lifecycle` docs).
pub fn detach_task(index: usize) {
    call_for::<op::DetachTask>(&task(index));
}

/// Re-initialises the task (detaching it first if needed) and starts it if `start`.
pub fn restart_task(index: usize, start: bool) {
    call_for::<op::RestartTask>(&RestartRequest::new(index as u32, start));
}

/// Faults the task with `FaultInfo::Injected(caller)`.
pub fn fault_task(index: usize) {
    call_for::<op::FaultTask>(&task(index));
}

/// A fault the kernel holds (a task stays faulted until it is restarted).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub task: usize,
    pub fault: FaultInfo,
    /// The next faulted task after `task`: where to look next, if anywhere.
    pub next: Option<usize>,
    /// The tick count when the kernel reported it (as `sys_get_timer().now`).
    pub now: u64,
}

/// The first faulted task at or after `start`, with its fault, in one kernel call (index 0
/// is never reported: a faulted supervisor has already reset the system).
pub fn next_fault(start: usize) -> Option<Fault> {
    let (_, r) = call_for::<op::NextFault>(&SearchRequest {
        start: start as u32,
    });
    if r.task == 0 {
        return None;
    }
    // The kernel encodes with the same `abi`, so every report decodes.
    let fault = FaultInfo::decode(r.fault).unwrap_or_else(|| unreachable!());
    Some(Fault {
        task: r.task as usize,
        fault,
        next: (r.next != 0).then_some(r.next as usize),
        now: r.now(),
    })
}

/// Copies the task's panic message into `out`; `None` if it is not faulted by a panic.
pub fn read_panic_message(index: usize, out: &mut [u8]) -> Option<usize> {
    let (rc, len) = call::<op::ReadPanicMessage>(&task(index), out);
    (rc == 0).then_some(len)
}

pub fn read_image_id() -> u64 {
    call_for::<op::ReadImageId>(&()).1
}

/// Pends the task's interrupts mapped to `mask`; `false` (nothing pended) if it is detached
/// (`kipc_rc::DETACHED`).
pub fn software_irq(index: usize, mask: u32) -> bool {
    let request = IrqRequest {
        task: index as u32,
        mask,
    };
    call_for::<op::SoftwareIrq>(&request).0 == 0
}

/// Why the system last reset, as the kernel found it at boot.
pub fn read_reset_reason() -> Option<abi::ResetReason> {
    abi::ResetReason::from_u32(call_for::<op::ReadResetReason>(&()).1)
}

/// CPU cycles task `index` has run up to its last switch away; `None` unless the kernel
/// was built for benchmarks (kernel feature `task-time`).
pub fn read_task_time(index: usize) -> Option<u64> {
    let mut cycles = 0u64;
    let (rc, len) = call::<op::ReadTaskTime>(&task(index), &mut cycles);
    (rc == 0 && len == size_of::<u64>()).then_some(cycles)
}

/// Task `index`'s restart count and how many of its incarnations faulted, read together
/// (kipc `read-fault-count`).
pub fn read_fault_count(index: usize) -> (u32, u32) {
    let (_, count) = call_for::<op::ReadFaultCount>(&task(index));
    (count.restarts, count.faulted)
}

pub fn system_reset() -> ! {
    call_for::<op::Reset>(&());
    unreachable!("the kernel does not return from a reset")
}
