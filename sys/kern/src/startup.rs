//! Kernel configuration from the build, and bringing the task table to its boot state.

use abi::{IrqDesc, TaskDesc};

use crate::arch;
use crate::lifecycle::SupervisorFaultPolicy;
use crate::task::Task;

/// Everything the builder tells the kernel besides the task table itself.
pub struct KernelConfig {
    pub irqs: &'static [IrqDesc],
    pub supervisor_fault: SupervisorFaultPolicy,
    /// After a kernel failure's epitaph is written (`fail::kernel_fail`).
    pub kernel_failure: SupervisorFaultPolicy,
    /// The image id as linked; the ARM layer reads the patched flash copy instead.
    pub image_id: u64,
    /// Core clock, for the 1 ms tick.
    pub cpu_hz: u32,
}

/// Writes the boot state of every task into `table`: tasks that start at boot are
/// initialised and runnable, the rest are detached until loaded.
pub fn init_tasks(table: &mut [Task], descs: &'static [TaskDesc]) {
    for (i, (slot, desc)) in table.iter_mut().zip(descs).enumerate() {
        if usize::from(desc.index) != i {
            crate::fail::kernel_fail(crate::fail::Epitaph::BadTaskTable);
        }
        *slot = Task::new(desc);
        if slot.starts_at_boot() {
            arch::reinitialize(slot);
            slot.set_detached(false);
            slot.set_healthy_state(abi::SchedState::Runnable);
        }
    }
}
