//! The Bulkhead task runtime.
//!
//! A task is a `#![no_std]`, `#![no_main]` binary that defines `fn main() -> !` (exported as
//! `main`) and links against this crate. The builder links it at its own flash and RAM
//! regions with the stack at the bottom of RAM; the kernel starts it at `_start`, which
//! initialises `.data`/`.bss` and calls `main`. A restart runs `_start` again, so a task
//! always begins from its initial state.
//!
//! Syscalls follow the kernel ABI (`abi::Sysnum`): arguments in r4-r10, number in r11,
//! results in r4-r11, all through one small stub so humility's syscall analysis sees the
//! simple `push; mov; ldm; svc; stm; pop` shape it expects.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub use abi::*;

pub mod kipc;
mod lease;
#[cfg(target_os = "none")]
mod panic;
mod slots;
#[cfg(target_os = "none")]
mod start;
mod sys;
mod text;

pub use lease::Lease;
pub use slots::{notify_index, notify_mask, optional_notify, slot_index};
pub use sys::*;
pub use text::TextBuf;

/// The supervisor: task 0 never restarts (its fault resets the system), so its generation
/// is always 0.
pub const SUPERVISOR: Incarnation = Incarnation::new(0, 0);

/// The supervisor's `check_in` operation (`idl/jefe.idol`; `task/jefe-api` tests that the
/// two agree). Sent raw so that every task can check in without the jefe client.
pub const CHECK_IN_OPERATION: u16 = 7;

/// Tells the supervisor this task is alive (for `watchdog-ms` in `app.toml`). The builder
/// grants every watched task a send to the supervisor.
pub fn check_in() {
    sys_send(SUPERVISOR, CHECK_IN_OPERATION, &[], &mut [], &[]);
}

/// Sleeps until `deadline` (kernel ticks) using notification bit(s) `bits`, which must be
/// bits the task uses for nothing else.
pub fn sleep_until(deadline: u64, bits: u32) {
    sys_set_timer(Some(deadline), bits);
    sys_recv_notification(bits);
}

/// Sleeps for `ms` milliseconds; see [`sleep_until`].
pub fn sleep_for(ms: u64, bits: u32) {
    sleep_until(sys_get_timer().now + ms, bits);
}

/// Whether `client`, an incarnation learned from RECV, is still the task's current one. False
/// once it was detached (faulted and detached, restarted, unloaded), even if the same task
/// index runs again: every detach bumps the 32-bit restart count this compares. A server
/// that declares `client-gone` in `app.toml` calls this for each client it holds state for
/// when that notification arrives, and drops the state of those that are not current.
pub fn incarnation_is_current(client: Incarnation) -> bool {
    sys_refresh_incarnation(client.id).generation == client.generation
}
