//! The MPU: each `TaskDesc` carries precomputed RBAR/RASR pairs; a switch writes them
//! through the RBAR/RASR alias registers in two 8-word bursts with the MPU briefly disabled
//! (a half-written region could otherwise cover kernel code with XN). The kernel runs
//! privileged with the default memory map (PRIVDEFENA).

use core::arch::asm;
use core::ptr::write_volatile;

use super::regs;

const MPU_ENABLE_PRIVDEFENA: u32 = 0b101;

/// Loads a task's regions: `words` is its descriptor's `mpu_words`.
pub fn load_regions(words: &[u32; 2 * abi::REGIONS_PER_TASK]) {
    let words = words.as_ptr();
    // SAFETY: MPU registers are architecturally defined; interrupts at kernel priority
    // cannot run between these writes, and the kernel itself runs on the default map. The
    // block copies move 16 words from the descriptor in flash into the RBAR/RASR alias
    // registers, four regions per burst.
    unsafe {
        write_volatile(regs::MPU_CTRL, 0);
        asm!(
            "ldm r10!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "stm r11, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "ldm r10, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "stm r11, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            inout("r10") words => _,
            in("r11") regs::MPU_RBAR_BURST,
            out("r0") _, out("r1") _, out("r2") _, out("r3") _,
            out("r4") _, out("r5") _, out("r8") _, out("r12") _,
            options(nostack, preserves_flags),
        );
        write_volatile(regs::MPU_CTRL, MPU_ENABLE_PRIVDEFENA);
        asm!("dsb", "isb", options(nomem, nostack, preserves_flags));
    }
}
