//! The core's exception machinery: the settings the kernel runs with, asking for a
//! scheduling decision, and stopping.
//!
//! SVCall, PendSV, SysTick and every device interrupt share the lowest priority, so kernel
//! code never preempts itself. MemManage, BusFault and UsageFault run above them.

use core::arch::asm;
use core::ptr::{read_volatile, write_volatile};

use super::{IRQ_LINES, clock, regs};

const CCR_DIV_0_TRP: u32 = 1 << 4;
/// Automatic FP state preservation, without the lazy variant: a deferred save would run
/// inside a handler after the task's stack pointer may have gone bad (a stack overflow),
/// raising a second fault that lands on whichever task runs next.
const FPCCR_ASPEN: u32 = 1 << 31;
const SHCSR_FAULTS_ENABLED: u32 = (1 << 16) | (1 << 17) | (1 << 18);
const LOWEST_PRIORITY: u8 = 0xFF;

/// Traps, FP preservation, fault handlers and exception priorities as above, and the tick's
/// rate from the core clock. Called once at start-up, before the first task.
pub fn init_exceptions(cpu_hz: u32) {
    // SAFETY: fixed system-control registers of every ARMv7-M core.
    unsafe {
        write_volatile(regs::CCR, read_volatile(regs::CCR) | CCR_DIV_0_TRP);
        write_volatile(regs::FPCCR, FPCCR_ASPEN);
        write_volatile(
            regs::SHCSR,
            read_volatile(regs::SHCSR) | SHCSR_FAULTS_ENABLED,
        );
        // SVCall (SHPR2[31:24]); PendSV, SysTick (SHPR3[23:16], [31:24]).
        write_volatile(regs::SHPR2, u32::from(LOWEST_PRIORITY) << 24);
        write_volatile(
            regs::SHPR3,
            u32::from_le_bytes([0, 0, LOWEST_PRIORITY, LOWEST_PRIORITY]),
        );
        for irq in 0..IRQ_LINES {
            write_volatile(regs::NVIC_IPR.add(irq), LOWEST_PRIORITY);
        }
    }
    clock::init(cpu_hz);
}

/// Pends PendSV, which switches tasks once the current handler returns.
pub fn pend_switch() {
    // SAFETY: ICSR PENDSVSET is write-one-to-set; other written zeros have no effect.
    unsafe { write_volatile(regs::ICSR, regs::ICSR_PENDSVSET) }
}

pub fn halt_forever() -> ! {
    // SAFETY: masking interrupts only stops the system, which is the intent.
    unsafe { asm!("cpsid i", options(nomem, nostack)) };
    loop {
        // SAFETY: waiting for an interrupt has no memory effects.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}
