//! What the kernel benchmark client and server share: operation numbers, and the clock both
//! read, the CMSDK APB timer 0 (`timer0`, shared in `app.toml`).
//!
//! QEMU clocks the timer at the MPS2 system clock, 25 MHz. Benchmarks run with
//! `-icount shift=0`, where virtual time advances 1 ns per guest instruction, so one timer
//! tick is exactly 40 guest instructions. Every figure is a total over many repetitions,
//! each started at a different phase of the tick ([`dither`]), so the 40-instruction
//! granularity averages out. The supervisor's benchmarks (`test/task/jefe-test-bench`) use the
//! same clock.
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

use drv_cmsdk_timer::{TIMER0, Timer};

// SAFETY: timer0 is mapped into every benchmark task (app.toml), which only read it after
// `start_clock`.
const CLOCK: Timer = unsafe { Timer::new(TIMER0) };

/// Starts timer 0 counting down from its maximum, free-running.
pub fn start_clock() {
    CLOCK.start(u32::MAX);
}

/// A delay of `3 * (rep % 40 + 1)` instructions before a repetition, so that successive
/// repetitions start at every phase of the 40-instruction tick (3 and 40 are coprime).
/// Without it, anything that paces the repetitions in whole ticks (a loop of fixed length,
/// millisecond sleeps) starts each at the same phase and biases the mean by up to a tick.
#[inline(never)]
pub fn dither(rep: u32) {
    let n = rep % 40 + 1;
    // SAFETY: a register countdown; no memory, no stack.
    #[cfg(target_arch = "arm")]
    unsafe {
        core::arch::asm!("2:", "subs {n}, {n}, #1", "nop", "bne 2b", n = inout(reg) n => _, options(nomem, nostack))
    };
    #[cfg(not(target_arch = "arm"))]
    for _ in 0..n {
        core::hint::spin_loop();
    }
}

/// Ticks since `start_clock` (the counter counts down).
#[inline(always)]
pub fn now() -> u32 {
    u32::MAX - CLOCK.value()
}
