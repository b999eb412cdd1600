//! The Arm CMSDK APB timer (ARM DDI 0479): a 32-bit down-counter with `CTRL` (bit 0 enable,
//! bit 3 interrupt enable), `VALUE` (the count), `RELOAD` (loaded when the count reaches 0)
//! and `INTSTATUS`/`INTCLEAR`. Every register resets to 0, so a timer at reset is stopped,
//! with nothing to reload and no interrupt pending.
#![no_std]

use core::ptr::{read_volatile, write_volatile};

const CTRL: usize = 0x0;
const VALUE: usize = 0x4;
const RELOAD: usize = 0x8;
const INTCLEAR: usize = 0xC;

const CTRL_ENABLE: u32 = 1 << 0;

/// `timer0` and `timer1` of QEMU's mps2-an500 (`build/chips/mps2-an500.toml`).
pub const TIMER0: usize = 0x4000_0000;
pub const TIMER1: usize = 0x4000_1000;

/// `CTRL`, `RELOAD` and `VALUE` as read at one moment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Registers {
    pub ctrl: u32,
    pub reload: u32,
    pub value: u32,
}

impl Registers {
    /// What every register holds after a reset.
    pub const AT_RESET: Registers = Registers {
        ctrl: 0,
        reload: 0,
        value: 0,
    };
}

pub struct Timer {
    base: usize,
}

impl Timer {
    /// # Safety
    /// `base` must be the address of a CMSDK APB timer mapped into the calling task.
    pub const unsafe fn new(base: usize) -> Self {
        Timer { base }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: a mapped timer; its registers read without side effects.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: `new`'s contract: a mapped timer.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Starts counting down from `reload`, reloading it at 0, free-running.
    pub fn start(&self, reload: u32) {
        self.write(RELOAD, reload);
        self.write(VALUE, reload);
        self.write(CTRL, CTRL_ENABLE);
    }

    /// The current count.
    #[inline(always)]
    pub fn value(&self) -> u32 {
        self.read(VALUE)
    }

    pub fn registers(&self) -> Registers {
        Registers {
            ctrl: self.read(CTRL),
            reload: self.read(RELOAD),
            value: self.read(VALUE),
        }
    }

    /// Back to [`Registers::AT_RESET`]: stopped first, so the count cannot move while the
    /// rest is cleared, then any pending interrupt cleared.
    pub fn reset(&self) {
        self.write(CTRL, 0);
        self.write(RELOAD, 0);
        self.write(VALUE, 0);
        self.write(INTCLEAR, 1);
    }
}
