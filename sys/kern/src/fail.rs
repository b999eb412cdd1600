//! Kernel failure: the kernel never returns from a broken invariant. It writes an epitaph
//! humility can print (`KERNEL_HAS_FAILED`, `KERNEL_EPITAPH`, doc/humility-contract.md 3.1), then
//! resets the system or halts, as `[kernel] on-kernel-failure` says (reset by default: a
//! device in the field should come back; halt keeps the epitaph for a debugger). A failure
//! before the configuration is known (early boot) halts, since a reset would only fail the
//! same way again.

use crate::config::SupervisorFaultPolicy;

/// Why the kernel stopped. Reaching any of these is a kernel or build bug, not user misuse.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Epitaph {
    NothingRunnable,
    FaultInKernel,
    BadTaskTable,
    /// A Rust panic inside the kernel (a bug: user input never panics the kernel).
    Panic,
}

impl Epitaph {
    pub const fn message(self) -> &'static [u8] {
        match self {
            Epitaph::NothingRunnable => b"no runnable task (is there an idle task?)",
            Epitaph::FaultInKernel => b"fault taken in the kernel",
            Epitaph::BadTaskTable => b"task table does not match its descriptors",
            Epitaph::Panic => b"kernel panic",
        }
    }
}

// Every message fits the epitaph with its terminating zero.
const _: () = {
    let all = [
        Epitaph::NothingRunnable,
        Epitaph::FaultInKernel,
        Epitaph::BadTaskTable,
        Epitaph::Panic,
    ];
    let mut i = 0;
    while i < all.len() {
        assert!(all[i].message().len() < crate::arch::EPITAPH_LEN);
        i += 1;
    }
};

pub fn kernel_fail(why: Epitaph) -> ! {
    #[cfg(feature = "fault-inject")]
    crate::inject::kernel_failed(why.message());
    crate::arch::record_epitaph(why.message());
    match crate::arch::try_config().map(|c| c.kernel_failure) {
        Some(SupervisorFaultPolicy::Reset) => {
            crate::arch::system_reset(abi::ResetReason::KernelFailure)
        }
        Some(SupervisorFaultPolicy::Halt) | None => crate::arch::halt_forever(),
    }
}
