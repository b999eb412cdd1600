//! Bringing the task table to its boot state, and the configuration start-up installed.

use abi::TaskDesc;

// The generated kconfig names the type here (`kern::startup::KernelConfig`).
pub use crate::config::KernelConfig;

use crate::arch;
use crate::fail::{Epitaph, kernel_fail};
use crate::task::Task;

/// Writes the boot state of every task into `table`: tasks that start at boot are
/// initialised and runnable, the rest are detached until loaded.
pub fn init_tasks(table: &mut [Task], descs: &'static [TaskDesc]) {
    for (i, (slot, desc)) in table.iter_mut().zip(descs).enumerate() {
        if usize::from(desc.index) != i {
            kernel_fail(Epitaph::BadTaskTable);
        }
        *slot = Task::new(desc);
        if slot.starts_at_boot() {
            slot.reinitialize();
            slot.set_detached(false);
            slot.set_healthy_state(abi::SchedState::Runnable);
        }
    }
}

/// The configuration the kernel was started with. A kernel entry before start-up installed
/// it would mean the task table is not what the entry code thinks: a kernel failure.
pub fn config() -> &'static KernelConfig {
    match arch::try_config() {
        Some(c) => c,
        None => kernel_fail(Epitaph::BadTaskTable),
    }
}
