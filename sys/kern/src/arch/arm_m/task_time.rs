//! Per-task CPU time, for benchmark images only (cargo feature `task-time`): a benchmark
//! must tell the time one task spends apart from its peers (usb-sim's share of an MSC read,
//! which on a board is plain register access). At every context switch the cycles since the
//! previous switch are charged to the outgoing task. The clock is SysTick: `TICKS` whole
//! reloads plus the current count, corrected for a wrap whose handler is still pending
//! (kernel code runs at SysTick's priority, so the handler cannot have run yet).

#[cfg(feature = "task-time")]
use core::ptr::{addr_of_mut, read_volatile};

#[cfg(feature = "task-time")]
use super::{clock, regs};

/// CPU cycles `index` has run (kernel entries on its behalf included) up to its last switch
/// away, or `None` if this kernel does not keep them.
pub fn task_time(index: usize) -> Option<u64> {
    #[cfg(feature = "task-time")]
    {
        // SAFETY: kernel entry points never nest, so TOTAL has one user at a time.
        unsafe { (*addr_of_mut!(TOTAL)).get(index).copied() }
    }
    #[cfg(not(feature = "task-time"))]
    {
        let _ = index;
        None
    }
}

/// Tasks beyond this index are not charged; `task_time` says `None` for them.
#[cfg(feature = "task-time")]
const SLOTS: usize = 32;
#[cfg(feature = "task-time")]
static mut TOTAL: [u64; SLOTS] = [0; SLOTS];
#[cfg(feature = "task-time")]
static mut LAST_SWITCH: u64 = 0;

#[cfg(feature = "task-time")]
fn cycles() -> u64 {
    // SAFETY: SysTick and ICSR are architecturally defined read-only reads here; TICKS
    // is written only by SysTick, which cannot preempt kernel code.
    unsafe {
        let reload = u64::from(read_volatile(regs::SYST_RVR)) + 1;
        loop {
            let wrapped = read_volatile(regs::ICSR) & regs::ICSR_PENDSTSET != 0;
            let count = u64::from(read_volatile(regs::SYST_CVR));
            // A wrap between the two ICSR reads leaves `count` ambiguous: read again.
            if (read_volatile(regs::ICSR) & regs::ICSR_PENDSTSET != 0) == wrapped {
                let reloads = clock::now() + u64::from(wrapped);
                return reloads * reload + (reload - 1 - count);
            }
        }
    }
}

/// Charges the cycles since the last switch to `outgoing`; called at every switch.
#[cfg(feature = "task-time")]
pub fn charge(outgoing: usize) {
    let now = cycles();
    // SAFETY: kernel entry points never nest, so these statics have one user at a time.
    unsafe {
        let last = addr_of_mut!(LAST_SWITCH);
        let total = addr_of_mut!(TOTAL);
        if let Some(t) = (*total).get_mut(outgoing) {
            *t += now.wrapping_sub(last.read());
        }
        last.write(now);
    }
}
