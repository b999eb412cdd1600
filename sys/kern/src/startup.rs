//! Bringing the task table to its boot state, and the configuration start-up installed.

// The generated kconfig names the type here (`kern::startup::KernelConfig`).
pub use crate::config::KernelConfig;

use crate::arch;
use crate::fail::{Epitaph, kernel_fail};
use crate::task::Task;

/// Brings a table of fresh tasks (`Task::new`, one per descriptor, in order) to its boot
/// state: tasks that start at boot are initialised and runnable, the rest stay detached
/// until loaded.
pub fn init_tasks(table: &mut [Task]) {
    for (i, slot) in table.iter_mut().enumerate() {
        if usize::from(slot.descriptor.index) != i {
            kernel_fail(Epitaph::BadTaskTable);
        }
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
