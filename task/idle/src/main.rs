//! The idle task: runs when nothing else can, and sleeps the core until an interrupt.
#![no_std]
#![no_main]

use userlib as _;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    loop {
        // SAFETY: WFI only pauses the core until the next interrupt.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}
