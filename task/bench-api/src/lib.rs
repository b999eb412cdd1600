//! What the kernel benchmark client and server share: operation numbers, and the clock both
//! read, the CMSDK APB timer 0 (`timer0`, shared in `app.toml`).
//!
//! QEMU clocks the timer at the MPS2 system clock, 25 MHz. Benchmarks run with
//! `-icount shift=0`, where virtual time advances 1 ns per guest instruction, so one timer
//! tick is exactly 40 guest instructions. Every figure is a total over many repetitions,
//! so the 40-instruction granularity averages out.
#![no_std]

pub const ECHO: u16 = 1;
/// Message: the client's timestamp (u32) just before SEND; the server adds the ticks until
/// its RECV returned to its total.
pub const ONEWAY: u16 = 2;
/// Lease 0: 256 readable bytes; the server times one BORROW_READ of all of them.
pub const LEASE_READ: u16 = 3;
/// Replies with the server's accumulated ticks (u32) and resets them.
pub const TAKE_TOTAL: u16 = 4;

pub const INSTRUCTIONS_PER_TICK: u64 = 40;

const TIMER0: usize = 0x4000_0000;
const CTRL: usize = 0x0;
const VALUE: usize = 0x4;
const RELOAD: usize = 0x8;

/// Starts timer 0 counting down from its maximum, free-running.
pub fn start_clock() {
    // SAFETY: timer0 is mapped into the benchmark tasks, which only read it after this.
    unsafe {
        core::ptr::write_volatile((TIMER0 + RELOAD) as *mut u32, u32::MAX);
        core::ptr::write_volatile((TIMER0 + VALUE) as *mut u32, u32::MAX);
        core::ptr::write_volatile((TIMER0 + CTRL) as *mut u32, 1);
    }
}

/// Ticks since `start_clock` (the counter counts down).
#[inline(always)]
pub fn now() -> u32 {
    // SAFETY: a read of the mapped timer's current value.
    u32::MAX - unsafe { core::ptr::read_volatile((TIMER0 + VALUE) as *const u32) }
}
