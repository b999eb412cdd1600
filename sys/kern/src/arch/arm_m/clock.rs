//! The 1 ms tick: SysTick counts `TICKS`, the kernel's clock.

use core::ptr::{addr_of_mut, write_volatile};

use super::regs;

/// Milliseconds since boot, read by humility as a little-endian u64 (contract 3.1).
#[unsafe(no_mangle)]
static mut TICKS: u64 = 0;

/// Sets the reload for a 1 ms period at `cpu_hz`; the tick starts with [`start_ticks`].
pub(super) fn init(cpu_hz: u32) {
    // SAFETY: SysTick reload and current value; the counter is not running yet.
    unsafe {
        write_volatile(regs::SYST_RVR, cpu_hz / 1000 - 1);
        write_volatile(regs::SYST_CVR, 0);
    }
}

/// Starts the 1 ms tick. Called by name from the first-task SVC path (`entry`'s shims): a
/// tick taken any earlier would find no current task.
#[unsafe(no_mangle)]
unsafe extern "C" fn start_ticks() {
    // SAFETY: processor clock, interrupt enabled, counter enabled; reload set at start-up.
    unsafe { write_volatile(regs::SYST_CSR, 0b111) }
}

/// Counts one tick and returns the new time. Only the SysTick handler calls it.
pub fn tick() -> u64 {
    // SAFETY: TICKS is written only here, at kernel priority; humility reads it racily,
    // which is acceptable for a debugger.
    unsafe {
        let t = addr_of_mut!(TICKS);
        t.write_volatile(t.read_volatile() + 1);
        t.read_volatile()
    }
}

/// Ticks since boot.
pub fn now() -> u64 {
    // SAFETY: TICKS is only written by SysTick, which cannot preempt kernel code.
    unsafe { addr_of_mut!(TICKS).read_volatile() }
}
