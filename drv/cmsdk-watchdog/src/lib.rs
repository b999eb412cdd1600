//! The Arm CMSDK APB watchdog (ARM DDI 0479): a 32-bit down-counter loaded from `LOAD`.
//! With `CONTROL.INTEN` it counts and raises its interrupt when it reaches 0, reloading;
//! if the interrupt is still set at the next 0, `CONTROL.RESEN` resets the system. Writing
//! `INTCLR` clears the interrupt and reloads the counter: that is feeding. Every other
//! register is write-protected until `LOCK` holds 0x1ACCE551.
//!
//! So a period of [`ticks_for_ms`] without feeding raises the interrupt (on mps2 the NMI,
//! where the kernel records the reason and resets), and a second one resets regardless.
#![cfg_attr(not(test), no_std)]

use core::ptr::write_volatile;

const LOAD: usize = 0x000;
const CONTROL: usize = 0x008;
const INTCLR: usize = 0x00C;
const LOCK: usize = 0xC00;

const CONTROL_INTEN: u32 = 1 << 0;
const CONTROL_RESEN: u32 = 1 << 1;
const UNLOCK: u32 = 0x1ACC_E551;

/// `watchdog` of QEMU's mps2-an500 (`build/chips/mps2-an500.toml`).
pub const WATCHDOG: usize = 0x4000_8000;
/// WDOGCLK on mps2: the 25 MHz system clock.
pub const CLOCK_HZ: u32 = 25_000_000;

/// The `LOAD` value for a period of `ms` at `clock_hz`, saturating at the counter's range.
pub const fn ticks_for_ms(ms: u32, clock_hz: u32) -> u32 {
    let ticks = ms as u64 * (clock_hz / 1000) as u64;
    if ticks > u32::MAX as u64 {
        u32::MAX
    } else {
        ticks as u32
    }
}

pub struct Watchdog {
    base: usize,
}

impl Watchdog {
    /// # Safety
    /// `base` must be the address of a CMSDK APB watchdog mapped into the calling task, which
    /// alone accesses it.
    pub const unsafe fn new(base: usize) -> Self {
        Watchdog { base }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: a mapped watchdog.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Starts it with a period of `load` ticks, interrupt and reset enabled, and locks it.
    pub fn start(&self, load: u32) {
        self.write(LOCK, UNLOCK);
        self.write(LOAD, load);
        self.write(CONTROL, CONTROL_INTEN | CONTROL_RESEN);
        self.write(LOCK, 0);
    }

    /// Reloads the counter: another whole period before the interrupt.
    pub fn feed(&self) {
        self.write(LOCK, UNLOCK);
        self.write(INTCLR, 1);
        self.write(LOCK, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_in_ticks() {
        assert_eq!(ticks_for_ms(500, CLOCK_HZ), 12_500_000);
        assert_eq!(ticks_for_ms(1, 1000), 1);
    }

    #[test]
    fn long_periods_saturate() {
        assert_eq!(ticks_for_ms(200_000, CLOCK_HZ), u32::MAX);
    }
}
