//! Kernel IPC: messages sent to `TaskId::KERNEL`, answered synchronously.
//!
//! Each operation is granted on its own: a task may use exactly the operations whose bits
//! its descriptor's `kipc_grants` holds (the supervisor has them all; other tasks those
//! `app.toml` lists under `kipc`), so a task trusted to read status cannot also reset the
//! system or read another task's memory. An ungranted operation faults the caller with
//! `IllegalTask`. Requests are little-endian `u32` words; a malformed request (unknown
//! operation, wrong length) faults the caller with `BadKernelMessage`, granted or not. Operations that act on a task refuse the
//! supervisor and the caller itself with `IllegalTask`, except status and dump reads.

use abi::{
    DumpRegion, FaultInfo, FaultReport, Kipcnum, RegionAttributes, TaskState, TaskStatus,
    UsageError, kipc_rc,
};
use zerocopy::IntoBytes;

use crate::arch;
use crate::args::SendArgs;
use crate::detach::{self, SUPERVISOR};
use crate::err::UserError;
use crate::sched::NextTask;
use crate::task::Task;
use crate::umem::{self, Access};

const MAX_REQUEST_WORDS: usize = 4;

struct Request {
    words: [u32; MAX_REQUEST_WORDS],
    count: usize,
}

impl Request {
    /// Exactly `N` words, or the caller misused the interface.
    fn exactly<const N: usize>(&self) -> Result<[u32; N], UserError> {
        if self.count != N {
            return Err(UsageError::BadKernelMessage.into());
        }
        let mut out = [0; N];
        out.copy_from_slice(&self.words[..N]);
        Ok(out)
    }
}

pub fn handle(tasks: &mut [Task], caller: usize, args: SendArgs) -> Result<NextTask, UserError> {
    let op = Kipcnum::from_u16(args.operation).ok_or(UsageError::BadKernelMessage)?;
    if !tasks[caller].may_use_kipc(op) {
        return Err(UsageError::IllegalTask.into());
    }
    let me = &tasks[caller];
    if !me.can_access(args.response, Access::Write) {
        return Err(UsageError::InvalidSlice.into());
    }
    let len = args.message.len as usize;
    if !len.is_multiple_of(4) || len > MAX_REQUEST_WORDS * 4 {
        return Err(UsageError::BadKernelMessage.into());
    }
    let mut raw = [0u8; MAX_REQUEST_WORDS * 4];
    umem::read_from_task(me, args.message.base, &mut raw[..len]).ok_or(UsageError::InvalidSlice)?;
    let mut request = Request {
        words: [0; MAX_REQUEST_WORDS],
        count: len / 4,
    };
    for (w, chunk) in request.words.iter_mut().zip(raw.chunks_exact(4)) {
        *w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    let mut reply = Reply {
        tasks,
        caller,
        response: args.response,
        code: 0,
        len: 0,
    };
    let hint = reply.run(op, &request)?;
    let (code, len) = (reply.code, reply.len);
    tasks[caller].save.set_send_response(code, len);
    // Kernel IPC only ever wakes or restarts *other* tasks. A caller at priority 0 (the
    // supervisor: the builder gives priority 0 to it alone) stays the most important
    // runnable task, so no scheduling decision is needed.
    if tasks[caller].priority.0 == 0 && tasks[caller].is_runnable() {
        return Ok(NextTask::Same);
    }
    Ok(hint)
}

struct Reply<'a> {
    tasks: &'a mut [Task],
    caller: usize,
    response: umem::USlice,
    code: u32,
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

    fn send_bytes(&mut self, bytes: &[u8]) {
        let dst = self.response.prefix(bytes.len());
        if !dst.is_empty() {
            // SAFETY: `handle` checked all of `response` writable by the caller, and `dst`
            // is a prefix of it.
            unsafe { arch::copy_from_kernel(dst.base, &bytes[..dst.len as usize]) };
        }
        self.len = dst.len;
    }

    fn run(&mut self, op: Kipcnum, req: &Request) -> Result<NextTask, UserError> {
        match op {
            Kipcnum::ReadTaskStatus => {
                let [i] = req.exactly()?;
                let i = self.index(i)?;
                let status = task_status(&self.tasks[i]);
                self.send_bytes(status.as_bytes());
            }
            Kipcnum::RestartTask => {
                let [i, start] = req.exactly()?;
                let i = self.other_index(i)?;
                return Ok(detach::restart(self.tasks, i, start != 0));
            }
            Kipcnum::DetachTask => {
                let [i] = req.exactly()?;
                let i = self.other_index(i)?;
                return Ok(detach::detach(self.tasks, i));
            }
            Kipcnum::FaultTask => {
                let [i] = req.exactly()?;
                let i = self.other_index(i)?;
                let by = self.tasks[self.caller].current_id();
                return Ok(detach::fault_task(self.tasks, i, FaultInfo::Injected(by)));
            }
            Kipcnum::ReadImageId => {
                req.exactly::<0>()?;
                self.send_bytes(&arch::image_id().to_le_bytes());
            }
            Kipcnum::Reset => {
                req.exactly::<0>()?;
                arch::system_reset(abi::ResetReason::Requested);
            }
            Kipcnum::ReadResetReason => {
                req.exactly::<0>()?;
                self.send_bytes(&(arch::reset_reason() as u32).to_le_bytes());
            }
            Kipcnum::FindFaultedTask => {
                let [start] = req.exactly()?;
                let found = first_faulted(self.tasks, start as usize).map_or(0, |(i, _)| i as u32);
                self.send_bytes(&found.to_le_bytes());
            }
            Kipcnum::NextFault => {
                let [start] = req.exactly()?;
                let report = match first_faulted(self.tasks, start as usize) {
                    Some((task, fault)) => FaultReport {
                        task: task as u32,
                        next: first_faulted(self.tasks, task + 1)
                            .map_or(0, |(next, _)| next as u32),
                        fault: fault.encode(),
                    },
                    None => FaultReport {
                        task: 0,
                        next: 0,
                        fault: [0; 3],
                    },
                };
                self.send_bytes(report.as_bytes());
            }
            Kipcnum::ReadPanicMessage => {
                let [i] = req.exactly()?;
                let i = self.index(i)?;
                let t = &self.tasks[i];
                if !matches!(
                    t.state,
                    TaskState::Faulted {
                        fault: FaultInfo::Panic,
                        ..
                    }
                ) {
                    self.code = kipc_rc::NOT_APPLICABLE;
                    return Ok(NextTask::Same);
                }
                // PANIC checked the message slice readable by the task when it was raised.
                let msg = umem::USlice::new(t.save.r4, t.save.r5);
                let caller = &self.tasks[self.caller];
                self.len = umem::copy_between(t, msg, caller, self.response).unwrap_or(0) as u32;
            }
            Kipcnum::SoftwareIrq => {
                let [i, mask] = req.exactly()?;
                let i = self.index(i)?;
                // A detached task is not there to take the interrupt; pending it would hand
                // a stale event to its next incarnation.
                if self.tasks[i].detached {
                    self.code = kipc_rc::DETACHED;
                    return Ok(NextTask::Same);
                }
                for d in arch::config()
                    .irqs
                    .iter()
                    .filter(|d| usize::from(d.task) == i && d.notification & mask != 0)
                {
                    arch::irq_pend(d.irq);
                }
            }
            Kipcnum::GetTaskDumpRegion => {
                let [i, n] = req.exactly()?;
                let i = self.index(i)?;
                let region = dump_regions(&self.tasks[i]).nth(n as usize);
                match region {
                    Some(region) => self.send_bytes(region.as_bytes()),
                    None => self.code = kipc_rc::NOT_APPLICABLE,
                }
            }
            Kipcnum::ReadTaskDumpRegion => {
                let [i, n, offset] = req.exactly()?;
                let i = self.index(i)?;
                let target = &self.tasks[i];
                let Some(region) = dump_regions(target).nth(n as usize) else {
                    self.code = kipc_rc::NOT_APPLICABLE;
                    return Ok(NextTask::Same);
                };
                let src = umem::USlice::new(region.base, region.size)
                    .skip(offset as usize)
                    .ok_or(UsageError::OffsetOutOfRange)?;
                let caller = &self.tasks[self.caller];
                self.len =
                    umem::copy_between(target, src, caller, self.response).unwrap_or(0) as u32;
            }
            Kipcnum::ReadTicks => {
                req.exactly::<0>()?;
                self.send_bytes(&arch::now().0.to_le_bytes());
            }
            Kipcnum::ReadTaskTime => {
                let [word] = req.exactly()?;
                match arch::task_time(self.index(word)?) {
                    Some(cycles) => self.send_bytes(&cycles.to_le_bytes()),
                    None => self.code = kipc_rc::NOT_APPLICABLE,
                }
            }
            Kipcnum::ReadFaultCount => {
                let [word] = req.exactly()?;
                let t = &self.tasks[self.index(word)?];
                let mut reply = [0u8; 8];
                reply[..4].copy_from_slice(&t.generation.to_le_bytes());
                reply[4..].copy_from_slice(&t.faulted_incarnations.to_le_bytes());
                self.send_bytes(&reply);
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

/// The task's writable, non-device regions: what a dump of it must contain.
fn dump_regions(task: &Task) -> impl Iterator<Item = DumpRegion> + '_ {
    task.descriptor
        .regions
        .iter()
        .filter(|r| {
            r.size != 0
                && r.attributes.contains(RegionAttributes::WRITE)
                && !r.attributes.contains(RegionAttributes::DEVICE)
        })
        .map(|r| DumpRegion {
            base: r.base,
            size: r.size,
        })
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
    }
}
