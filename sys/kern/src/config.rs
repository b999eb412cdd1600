//! What the build tells the kernel besides the task table: the types of the generated
//! `KERNEL_CONFIG` (`cargo xtask dist`'s kconfig). They sit at the bottom of the kernel so the
//! architecture layer can keep the configuration without knowing the layers that read it.

use abi::IrqDesc;

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

/// What the kernel does when the supervisor itself faults (`app.toml`
/// `kernel.on-supervisor-fault`), and when the kernel fails (`kernel.on-kernel-failure`,
/// `fail::kernel_fail`): the two choices are the same.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SupervisorFaultPolicy {
    Reset,
    Halt,
}
