//! Kernel image of the STM32H7 Nucleo-144 demo, shared by its two apps (`app-h753.toml` for
//! NUCLEO-H753ZI, `app-h743.toml` for NUCLEO-H743ZI2; the boards differ only in the chip's
//! crypto block). Before the kernel starts, `board_init` brings the LDO supply, VOS1, the
//! ST-LINK's 8 MHz HSE and PLL1 up to a 400 MHz core (`drv-stm32h7-clocks`).
#![no_std]
#![no_main]

use drv_stm32h7_clocks::{Mmio, NUCLEO_400MHZ, bring_up};

kern::app_kernel!(board_init = board_init, reset_reason = reset_reason);

// The kernel's tick comes from the board file's `cpu-hz`; it must be the clock we program.
const _: () = assert!(
    KERNEL_CONFIG.cpu_hz == NUCLEO_400MHZ.sys_hz(),
    "board cpu-hz differs from the clock plan"
);

/// A failed bring-up halts in the kernel's panic handler (epitaph "kernel panic"): running
/// on with the wrong clock would break every timing the image promises.
fn board_init() {
    // SAFETY: the kernel runs this once, privileged, before any task exists.
    let mut regs = unsafe { Mmio::new() };
    if let Err(e) = bring_up(&mut regs, &NUCLEO_400MHZ) {
        panic!("power/clock bring-up failed: {e:?}");
    }
}

/// The reset reason from `RCC_RSR` (its flags cleared for the next boot), with the kernel's
/// record deciding only why software reset the system.
fn reset_reason(recorded: abi::ResetReason) -> abi::ResetReason {
    // SAFETY: the kernel calls this once at start-up, privileged, before any task exists,
    // and after `board_init` has finished with RCC.
    unsafe { drv_stm32h7_reset_reason::from_hardware(recorded) }
}
