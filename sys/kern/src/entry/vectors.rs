//! The vector table and the reset handler it names.

use core::arch::global_asm;

use super::handlers::{DefaultIrq, SysTick, unused_exception, watchdog_nmi};
use crate::arch::IRQ_LINES;

global_asm!(super::reset_handler::reset_handler_asm!());

unsafe extern "C" {
    fn Reset() -> !;
    fn SVCall();
    fn PendSV();
    fn HardFault();
    fn MemManage();
    fn BusFault();
    fn UsageFault();
    /// Top of the kernel's main stack, from the linker script.
    static _stack_start: u32;
}

/// The vector table: initial MSP, then Reset and the system exceptions, then the IRQs.
#[repr(C)]
pub struct VectorTable {
    initial_sp: *const u32,
    reset: unsafe extern "C" fn() -> !,
    exceptions: [Option<unsafe extern "C" fn()>; 14],
    irqs: [unsafe extern "C" fn(); IRQ_LINES],
}

// SAFETY: the table is immutable data read by the hardware.
unsafe impl Sync for VectorTable {}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".vector_table")]
#[used]
static __vector_table: VectorTable = VectorTable {
    initial_sp: &raw const _stack_start,
    reset: Reset,
    exceptions: [
        Some(watchdog_nmi), // NMI
        Some(HardFault),
        Some(MemManage),
        Some(BusFault),
        Some(UsageFault),
        None,
        None,
        None,
        None,
        Some(SVCall),
        Some(unused_exception), // DebugMonitor
        None,
        Some(PendSV),
        Some(SysTick),
    ],
    irqs: [DefaultIrq as unsafe extern "C" fn(); IRQ_LINES],
};
