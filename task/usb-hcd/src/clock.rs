//! The kernel clock as the controller driver's `Clock`, and the task's one timer.

use core::cell::Cell;

use dwc2_hcd_core::Clock;
use userlib::{sleep_for, sys_get_timer, sys_set_timer};

use crate::{PORT_CHECK, TIMER};

/// The kernel's clock and the task's one timer; waits shorter than a tick sleep one tick.
///
/// It remembers the last tick it read, so the server loop can arm the next service from the
/// reading its requests and services just made instead of asking the kernel again, and the
/// deadline it left armed for `PORT_CHECK`, so an unchanged one is not set again. Every wait
/// on the timer goes through [`KernelClock::sleep_ms`], which forgets the armed deadline:
/// the wait replaced it.
pub(crate) struct KernelClock {
    last_tick: Cell<u64>,
    /// `Some(d)`: the kernel holds deadline `d` for `PORT_CHECK`, or it passed and its bit
    /// waits to be received.
    armed: Cell<Option<u64>>,
}

impl KernelClock {
    pub(crate) const fn new() -> Self {
        KernelClock {
            last_tick: Cell::new(0),
            armed: Cell::new(None),
        }
    }

    pub(crate) fn now_ticks(&self) -> u64 {
        let now = sys_get_timer().now;
        self.last_tick.set(now);
        now
    }

    /// The tick last read (this task's requests and services read it as they go).
    pub(crate) fn last_tick(&self) -> u64 {
        self.last_tick.get()
    }

    pub(crate) fn sleep_ms(&self, ms: u64) {
        self.armed.set(None);
        sleep_for(ms, TIMER);
    }

    /// Has `PORT_CHECK` posted at `deadline` (at once if it has passed).
    pub(crate) fn arm(&self, deadline: u64) {
        if self.armed.get() != Some(deadline) {
            sys_set_timer(Some(deadline), PORT_CHECK);
            self.armed.set(Some(deadline));
        }
    }

    /// `PORT_CHECK` was received: the deadline that posted it is spent.
    pub(crate) fn fired(&self) {
        self.armed.set(None);
    }
}

impl Clock for KernelClock {
    fn now_us(&self) -> u64 {
        self.now_ticks().saturating_mul(1000)
    }

    fn delay_us(&self, us: u32) {
        self.sleep_ms(u64::from(us.div_ceil(1000)));
    }
}
