//! Why the system reset, kept across the reset itself, and resetting it.

use core::arch::asm;
use core::mem::MaybeUninit;
use core::ptr::{addr_of_mut, write_volatile};

use abi::{ResetReason, ResetRecord};

use super::{halt_forever, regs};

/// Kept across a reset (`abi::ResetRecord`): `.uninit` is neither loaded nor zeroed at boot.
#[unsafe(link_section = ".uninit")]
static mut RESET_RECORD: MaybeUninit<u64> = MaybeUninit::uninit();

/// Why the system last reset, an `abi::ResetReason` code set at boot from `RESET_RECORD`
/// (`humility readvar BULKHEAD_RESET_REASON`).
#[unsafe(no_mangle)]
static mut BULKHEAD_RESET_REASON: u32 = 0;

fn write_reset_record(record: ResetRecord) {
    // SAFETY: a single aligned 64-bit store (one ECC word on STM32H7, `abi::ResetRecord`)
    // to a kernel-private static; the kernel is single-threaded.
    unsafe {
        addr_of_mut!(RESET_RECORD)
            .cast::<u64>()
            .write_volatile(record.0)
    }
}

/// Takes the reason the last reset left and marks the system running. `from_board` refines
/// the record's reason with what the chip itself reports (STM32H7 `RCC_RSR`), if the app's
/// kernel gives one (`app_kernel!(reset_reason = ...)`). Called once, at start-up.
pub fn take_reset_reason(from_board: fn(ResetReason) -> ResetReason) {
    // SAFETY: kernel-private, aligned; any bit pattern is a valid `u64`, and whatever the
    // RAM held at power-on is decoded as "no record" unless it carries the magic.
    let found = ResetRecord(unsafe { addr_of_mut!(RESET_RECORD).cast::<u64>().read_volatile() });
    let reason = from_board(found.reason());
    // SAFETY: single-threaded start-up; humility only reads it.
    unsafe { addr_of_mut!(BULKHEAD_RESET_REASON).write_volatile(reason as u32) };
    write_reset_record(ResetRecord::RUNNING);
}

pub fn reset_reason() -> ResetReason {
    // SAFETY: written once at start-up, before any task runs.
    let code = unsafe { addr_of_mut!(BULKHEAD_RESET_REASON).read_volatile() };
    ResetReason::from_u32(code).unwrap_or(ResetReason::Unrecorded)
}

/// Out of line: it is reached from several places (kernel IPC, a supervisor fault, kernel
/// failure, the watchdog), none of them on a path worth a copy of its own.
#[inline(never)]
#[cold]
pub fn system_reset(reason: ResetReason) -> ! {
    write_reset_record(ResetRecord::resetting(reason));
    // SAFETY: VECTKEY | SYSRESETREQ requests a system reset; nothing runs after it.
    unsafe {
        asm!("dsb", options(nomem, nostack));
        write_volatile(regs::AIRCR, 0x05FA_0004);
        asm!("dsb", options(nomem, nostack));
    }
    halt_forever()
}
