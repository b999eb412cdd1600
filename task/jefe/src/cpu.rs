//! The policy's window on the scheduler (`supervision::CpuView`): what kernel IPC
//! `read_task_status` says of a task, asked only when a watched task missed its check-in.

use abi::SchedState;
use supervision::{CpuUse, CpuView};
use userlib::kipc;

pub struct Kernel;

impl CpuView for Kernel {
    fn cpu_use(&mut self, task: usize) -> CpuUse {
        let status = kipc::read_task_status(task);
        // Jefe is running this, so a task blocked on jefe alone is served next.
        let on_jefe = |peer: abi::TaskId| peer.index() == 0;
        let waits_for_cpu = match status.sched {
            SchedState::Runnable => true,
            SchedState::InSend(peer) | SchedState::InReply(peer) => on_jefe(peer),
            SchedState::Stopped | SchedState::InRecv(_) => false,
        };
        CpuUse {
            busy: waits_for_cpu && status.fault.is_none() && !status.detached,
            ticks_held: status.ticks_held,
        }
    }
}
