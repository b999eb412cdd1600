//! Kernel IPC: messages sent to `TaskId::KERNEL`, answered synchronously.
//!
//! Each operation is granted on its own: a task may use exactly the operations whose bits
//! its descriptor's `kipc_grants` holds (the supervisor has them all; other tasks those
//! `app.toml` lists under `kipc`), so a task trusted to read status cannot also reset the
//! system or read another task's memory. An ungranted operation faults the caller with
//! `IllegalTask`. Requests and replies are the `abi::kipc` structs, shared with `userlib`; a
//! malformed request (unknown operation, a length other than its request's, a field value it
//! does not define) faults the caller with `BadKernelMessage`, granted or not. Operations
//! that act on a task refuse the supervisor and the caller itself with `IllegalTask`, except
//! status and dump reads. A request that does not apply now (no panic message, a detached
//! target) is refused with a `kipc_rc` code, through the same path as every syscall refusal.

use abi::kipc::{self as op, Operation};
use abi::{
    DumpRegion, FaultInfo, FaultReport, Kipcnum, Refusal, RegionAttributes, TaskState, TaskStatus,
    UsageError, kipc_rc,
};
use zerocopy::{FromBytes, IntoBytes};

use crate::arch;
use crate::args::SendArgs;
use crate::err::UserError;
use crate::lifecycle::{self, SUPERVISOR};
use crate::sched::NextTask;
use crate::startup;
use crate::task::Task;
use crate::umem::{self, Access, USlice};

/// The bytes of a request, read once from the caller (zero past what it sent); each
/// operation decodes them as its `abi::kipc` request type.
struct Request {
    bytes: [u8; op::MAX_REQUEST_BYTES],
}

impl Request {
    /// The request as operation `O` defines it. `handle` refused every length but `O`'s, so
    /// this is `op::decode_request` of the bytes sent. Read from the whole array, whose
    /// length is known, the decoding has no test left to fail; each operation's own length
    /// test was about 12 bytes.
    fn decode<O: Operation>(&self) -> Result<O::Request, UserError> {
        match O::Request::read_from_prefix(&self.bytes) {
            Ok((request, _)) => Ok(request),
            Err(_) => Err(UsageError::BadKernelMessage.into()),
        }
    }
}

/// [`op::request_len`] of operation number `n` at index `n`, in bytes: for the `match`,
/// LLVM made a table of words (48 bytes more).
const REQUEST_LEN: [u8; Kipcnum::ALL.len() + 1] = {
    let mut lens = [0; Kipcnum::ALL.len() + 1];
    let mut i = 0;
    while i < Kipcnum::ALL.len() {
        let kipc = Kipcnum::ALL[i];
        assert!(op::request_len(kipc) <= u8::MAX as usize);
        lens[kipc as usize] = op::request_len(kipc) as u8;
        i += 1;
    }
    lens
};

pub fn handle(tasks: &mut [Task], caller: usize, args: SendArgs) -> Result<NextTask, UserError> {
    let kipc = Kipcnum::from_u16(args.operation).ok_or(UsageError::BadKernelMessage)?;
    if !tasks[caller].may_use_kipc(kipc) {
        return Err(UsageError::IllegalTask.into());
    }
    let me = &tasks[caller];
    if !me.can_access(args.response, Access::Write) {
        return Err(UsageError::InvalidSlice.into());
    }
    // The length is checked before the bytes are read, so a malformed request is refused
    // as such whatever address it names.
    let len = args.message.len as usize;
    if len != usize::from(REQUEST_LEN[kipc as usize]) {
        return Err(UsageError::BadKernelMessage.into());
    }
    let mut request = Request {
        bytes: [0; op::MAX_REQUEST_BYTES],
    };
    umem::read_from_task(me, args.message.base, &mut request.bytes[..len])
        .ok_or(UsageError::InvalidSlice)?;
    let mut reply = Reply {
        tasks,
        caller,
        response: args.response,
        len: 0,
    };
    let hint = reply.run(kipc, &request)?;
    let len = reply.len;
    tasks[caller].save.set_send_response(0, len);
    // Kernel IPC only ever wakes or restarts *other* tasks. A caller at priority 0 (the
    // supervisor: the builder gives priority 0 to it alone) stays the most important
    // runnable task, so no scheduling decision is needed.
    if tasks[caller].priority.0 == 0 && tasks[caller].is_runnable() {
        return Ok(NextTask::Same);
    }
    Ok(hint)
}

/// The request's refusal `kipc_rc` code, as every kernel-IPC refusal reaches the caller.
fn refuse(code: u32) -> UserError {
    Refusal::Kipc(code).into()
}

struct Reply<'a> {
    tasks: &'a mut [Task],
    caller: usize,
    response: USlice,
    len: u32,
}

impl Reply<'_> {
    fn index(&self, word: u32) -> Result<usize, UserError> {
        let i = word as usize;
        if i < self.tasks.len() {
            Ok(i)
        } else {
            Err(UsageError::TaskOutOfRange.into())
        }
    }

    /// A task index the caller may act on: not the supervisor, not itself.
    fn other_index(&self, word: u32) -> Result<usize, UserError> {
        let i = self.index(word)?;
        if i == SUPERVISOR || i == self.caller {
            return Err(UsageError::IllegalTask.into());
        }
        Ok(i)
    }

    /// Writes operation `O`'s reply (as much as the caller's buffer holds).
    fn send<O: Operation>(&mut self, reply: &O::Reply) {
        self.send_bytes(reply.as_bytes());
    }

    /// [`Reply::send`]'s copy, shared by every operation: inlined into each, the copy is
    /// unrolled for each reply size (about 300 bytes of flash in all).
    #[inline(never)]
    fn send_bytes(&mut self, bytes: &[u8]) {
        let dst = self.response.prefix(bytes.len());
        if !dst.is_empty() {
            // SAFETY: `handle` checked all of `response` writable by the caller, and `dst`
            // is a prefix of it.
            unsafe { arch::copy_from_kernel(dst.base, &bytes[..dst.len as usize]) };
        }
        self.len = dst.len;
    }

    /// Copies `src` of task `from` into the caller's reply buffer, for operations whose
    /// reply is task memory (`[u8]`).
    fn send_from_task(&mut self, from: usize, src: USlice) {
        let caller = &self.tasks[self.caller];
        self.len =
            umem::copy_between(&self.tasks[from], src, caller, self.response).unwrap_or(0) as u32;
    }

    fn run(&mut self, kipc: Kipcnum, req: &Request) -> Result<NextTask, UserError> {
        match kipc {
            Kipcnum::ReadTaskStatus => {
                let r = req.decode::<op::ReadTaskStatus>()?;
                let status = task_status(&self.tasks[self.index(r.task)?]);
                self.send::<op::ReadTaskStatus>(&status);
            }
            Kipcnum::RestartTask => {
                let r = req.decode::<op::RestartTask>()?;
                let i = self.other_index(r.task)?;
                let start = r.start()?;
                return Ok(lifecycle::restart(self.tasks, i, start));
            }
            Kipcnum::DetachTask => {
                let r = req.decode::<op::DetachTask>()?;
                let i = self.other_index(r.task)?;
                return Ok(lifecycle::detach(self.tasks, i));
            }
            Kipcnum::FaultTask => {
                let r = req.decode::<op::FaultTask>()?;
                let i = self.other_index(r.task)?;
                let by = self.tasks[self.caller].current_id();
                return Ok(lifecycle::fault_task(
                    self.tasks,
                    i,
                    FaultInfo::Injected(by),
                ));
            }
            Kipcnum::ReadImageId => {
                req.decode::<op::ReadImageId>()?;
                self.send::<op::ReadImageId>(&arch::image_id());
            }
            Kipcnum::Reset => {
                req.decode::<op::Reset>()?;
                arch::system_reset(abi::ResetReason::Requested);
            }
            Kipcnum::ReadResetReason => {
                req.decode::<op::ReadResetReason>()?;
                self.send::<op::ReadResetReason>(&(arch::reset_reason() as u32));
            }
            Kipcnum::FindFaultedTask => {
                let r = req.decode::<op::FindFaultedTask>()?;
                let found =
                    first_faulted(self.tasks, r.start as usize).map_or(0, |(i, _)| i as u32);
                self.send::<op::FindFaultedTask>(&found);
            }
            Kipcnum::NextFault => {
                let r = req.decode::<op::NextFault>()?;
                let now = arch::now();
                let now = [now as u32, (now >> 32) as u32];
                let report = match first_faulted(self.tasks, r.start as usize) {
                    Some((task, fault)) => FaultReport {
                        task: task as u32,
                        next: first_faulted(self.tasks, task + 1)
                            .map_or(0, |(next, _)| next as u32),
                        fault: fault.encode(),
                        now,
                    },
                    None => FaultReport {
                        task: 0,
                        next: 0,
                        fault: [0; 3],
                        now,
                    },
                };
                self.send::<op::NextFault>(&report);
            }
            Kipcnum::ReadPanicMessage => {
                let r = req.decode::<op::ReadPanicMessage>()?;
                let i = self.index(r.task)?;
                let t = &self.tasks[i];
                if !matches!(
                    t.state,
                    TaskState::Faulted {
                        fault: FaultInfo::Panic,
                        ..
                    }
                ) {
                    return Err(refuse(kipc_rc::NOT_APPLICABLE));
                }
                // PANIC checked the message slice readable by the task when it was raised.
                let msg = t.save.panic_args().message;
                self.send_from_task(i, msg);
            }
            Kipcnum::SoftwareIrq => {
                let r = req.decode::<op::SoftwareIrq>()?;
                let i = self.index(r.task)?;
                // A detached task is not there to take the interrupt; pending it would hand
                // a stale event to its next incarnation.
                if self.tasks[i].detached {
                    return Err(refuse(kipc_rc::DETACHED));
                }
                for d in startup::config()
                    .irqs
                    .iter()
                    .filter(|d| usize::from(d.task) == i && d.notification & r.mask != 0)
                {
                    arch::irq_pend(d.irq);
                }
            }
            Kipcnum::GetTaskDumpRegion => {
                let r = req.decode::<op::GetTaskDumpRegion>()?;
                let i = self.index(r.task)?;
                let region = dump_region(&self.tasks[i], r.region)?;
                self.send::<op::GetTaskDumpRegion>(&region);
            }
            Kipcnum::ReadTaskDumpRegion => {
                let r = req.decode::<op::ReadTaskDumpRegion>()?;
                let i = self.index(r.task)?;
                let region = dump_region(&self.tasks[i], r.region)?;
                let src = USlice::new(region.base, region.size)
                    .skip(r.offset as usize)
                    .ok_or(UsageError::OffsetOutOfRange)?;
                self.send_from_task(i, src);
            }
            Kipcnum::ReadTicks => {
                req.decode::<op::ReadTicks>()?;
                self.send::<op::ReadTicks>(&arch::now());
            }
            Kipcnum::ReadTaskTime => {
                let r = req.decode::<op::ReadTaskTime>()?;
                let cycles = arch::task_time(self.index(r.task)?)
                    .ok_or_else(|| refuse(kipc_rc::NOT_APPLICABLE))?;
                self.send::<op::ReadTaskTime>(&cycles);
            }
            Kipcnum::ReadFaultCount => {
                let r = req.decode::<op::ReadFaultCount>()?;
                let t = &self.tasks[self.index(r.task)?];
                let count = op::FaultCount {
                    restarts: t.generation,
                    faulted: u32::from(t.faulted_incarnations),
                };
                self.send::<op::ReadFaultCount>(&count);
            }
        }
        Ok(NextTask::Same)
    }
}

/// The first faulted task at or after `start`, with its fault.
fn first_faulted(tasks: &[Task], start: usize) -> Option<(usize, FaultInfo)> {
    let mut i = start;
    while let Some(t) = tasks.get(i) {
        if let TaskState::Faulted { fault, .. } = t.state {
            return Some((i, fault));
        }
        i += 1;
    }
    None
}

/// Region `n` of the task's writable, non-device regions (what a dump of it must contain),
/// or `NOT_APPLICABLE` past the last. Out of line: both dump-region operations use it. A
/// plain loop, over a slice whose length `black_box` hides from the compiler: as an
/// iterator chain (`filter`, `map`, `nth`) it was unrolled over the eight slots into about
/// 290 bytes, and as a loop over the array into 238 (90 now). It is off every measured path.
#[inline(never)]
fn dump_region(task: &Task, mut n: u32) -> Result<DumpRegion, UserError> {
    for r in core::hint::black_box(&task.descriptor.regions[..]) {
        if r.size != 0
            && r.attributes.contains(RegionAttributes::WRITE)
            && !r.attributes.contains(RegionAttributes::DEVICE)
        {
            if n == 0 {
                return Ok(DumpRegion {
                    base: r.base,
                    size: r.size,
                });
            }
            n -= 1;
        }
    }
    Err(refuse(kipc_rc::NOT_APPLICABLE))
}

pub fn task_status(t: &Task) -> TaskStatus {
    let (faulted, sched, fault) = match t.state {
        TaskState::Healthy(s) => (0, s, [0; 3]),
        TaskState::Faulted {
            fault,
            original_state,
        } => (TaskStatus::FAULTED, original_state, fault.encode()),
    };
    let health = faulted | if t.detached { TaskStatus::DETACHED } else { 0 };
    let (sched, sched_peer) = sched.encode();
    TaskStatus {
        health,
        sched,
        sched_peer,
        restarts: t.generation,
        id: u32::from(t.current_id().0),
        fault,
        ticks_held: u32::from(t.ticks_held),
    }
}
