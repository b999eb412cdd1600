//! The vector table and the reset handler it names.
//!
//! The table is defined by the app's kernel crate (`app_kernel!`), as long as the app needs:
//! through the highest interrupt line it routes to a task (`KERNEL_IRQ_LINES`, generated).
//! The kernel enables no other line, and a line that is not enabled is never taken, so the
//! entries the board's other lines would have (all `DefaultIrq`) are left out of flash.

use core::arch::global_asm;

use super::handlers::{unused_exception, watchdog_nmi};
use crate::arch::IRQ_LINES;

global_asm!(super::reset_handler::reset_handler_asm!());

unsafe extern "C" {
    fn Reset() -> !;
    fn SVCall();
    fn PendSV();
    /// These two are defined by `app_kernel!` (see `handlers`).
    fn SysTick();
    fn DefaultIrq();
    fn HardFault();
    fn MemManage();
    fn BusFault();
    fn UsageFault();
    /// Top of the kernel's main stack, from the linker script.
    static _stack_start: u32;
}

/// The vector table: initial MSP, then Reset and the system exceptions, then the first
/// `IRQS` interrupt lines.
#[repr(C)]
pub struct VectorTable<const IRQS: usize> {
    initial_sp: *const u32,
    reset: unsafe extern "C" fn() -> !,
    exceptions: [Option<unsafe extern "C" fn()>; 14],
    irqs: [unsafe extern "C" fn(); IRQS],
}

// SAFETY: the table is immutable data read by the hardware.
unsafe impl<const IRQS: usize> Sync for VectorTable<IRQS> {}

impl<const IRQS: usize> VectorTable<IRQS> {
    /// Reset, the kernel's exception handlers, and `DefaultIrq` for every line.
    pub const fn kernel() -> Self {
        const { assert!(IRQS <= IRQ_LINES, "more interrupt lines than the core has") };
        VectorTable {
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
            irqs: [DefaultIrq as unsafe extern "C" fn(); IRQS],
        }
    }
}
