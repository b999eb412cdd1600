//! Kernel failure: the kernel never returns from a broken invariant. It writes an epitaph
//! humility can print (`KERNEL_HAS_FAILED`, `KERNEL_EPITAPH`, doc/humility-contract.md 3.1) and
//! stops.

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
    pub fn message(self) -> &'static [u8] {
        match self {
            Epitaph::NothingRunnable => b"no runnable task (is there an idle task?)",
            Epitaph::FaultInKernel => b"fault taken in the kernel",
            Epitaph::BadTaskTable => b"task table does not match its descriptors",
            Epitaph::Panic => b"kernel panic",
        }
    }
}

pub fn kernel_fail(why: Epitaph) -> ! {
    crate::arch::record_epitaph(why.message());
    crate::arch::halt_forever()
}
