//! The NVIC: enabling, masking and pending device interrupts, and which one is running.

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};

use super::regs;

/// Interrupt lines wired in the vector table: enough for the STM32H7 (150).
pub const IRQ_LINES: usize = 150;

fn nvic_bit(base: *mut u32, irq: u32) -> (*mut u32, u32) {
    // SAFETY: callers pass irq numbers from the build's IrqDesc table, all < IRQ_LINES.
    (unsafe { base.add((irq / 32) as usize) }, 1 << (irq % 32))
}

pub fn irq_enable(irq: u32) {
    let (r, bit) = nvic_bit(regs::NVIC_ISER, irq);
    // SAFETY: NVIC set/clear registers are write-one-to-act.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_disable(irq: u32) {
    let (r, bit) = nvic_bit(regs::NVIC_ICER, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_clear_pending(irq: u32) {
    let (r, bit) = nvic_bit(regs::NVIC_ICPR, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_pend(irq: u32) {
    let (r, bit) = nvic_bit(regs::NVIC_ISPR, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_is_enabled(irq: u32) -> bool {
    let (r, bit) = nvic_bit(regs::NVIC_ISER, irq);
    // SAFETY: reading ISER has no side effects.
    unsafe { read_volatile(r) & bit != 0 }
}

pub fn irq_is_pending(irq: u32) -> bool {
    let (r, bit) = nvic_bit(regs::NVIC_ISPR, irq);
    // SAFETY: reading ISPR has no side effects.
    unsafe { read_volatile(r) & bit != 0 }
}

/// The device interrupt being handled, from IPSR. Only an interrupt handler may ask.
pub fn active_irq() -> u32 {
    let ipsr: u32;
    // SAFETY: reading IPSR has no side effects.
    unsafe { asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack, preserves_flags)) };
    ipsr - 16
}
