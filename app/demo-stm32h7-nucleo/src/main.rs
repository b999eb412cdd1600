//! Kernel image of the STM32H7 Nucleo-144 demo, shared by its two apps (`app-h753.toml` for
//! NUCLEO-H753ZI, `app-h743.toml` for NUCLEO-H743ZI2; the boards differ only in the chip's
//! crypto block).
//!
//! Boot, in order (doc/stm32h7.md 3-5):
//! 1. the reset handler, before touching RAM, writes the LDO supply configuration and, on
//!    revision-Y silicon, the AXI SRAM read workaround (`drv_stm32h7_clocks::pre_ram`);
//! 2. `board_init`: VOS1, HSE bypass from the ST-LINK (or the HSI if the ST-LINK gives no
//!    clock) and PLL1 up to a 400 MHz core; then the chip set-up ST's start-up code does
//!    (D2 SRAM clocks, FMC bank 1 off, debug in low-power modes); the USB supply and
//!    48 MHz USB clock from PLL3 (only from HSE); then the L1 caches.
#![no_std]
#![no_main]

use drv_stm32h7_clocks::pre_ram::write_supply_before_ram;
use drv_stm32h7_clocks::usb::{USB_48MHZ, UsbClockPlan};
use drv_stm32h7_clocks::{Mmio, NUCLEO_400MHZ, bring_up, cache, chip, usb};

kern::app_kernel!(
    pre_ram = write_supply_before_ram,
    board_init = board_init,
    reset_reason = reset_reason
);

// The kernel's tick comes from the board file's `cpu-hz`; it must be the clock we program.
const _: () = assert!(
    KERNEL_CONFIG.cpu_hz == NUCLEO_400MHZ.sys_hz(),
    "board cpu-hz differs from the clock plan"
);

const USB_PLAN: UsbClockPlan = USB_48MHZ.checked(&NUCLEO_400MHZ);

/// A failed bring-up halts in the kernel's panic handler (epitaph "kernel panic"): running
/// on with the wrong clock would break every timing the image promises. Which oscillator
/// runs is in `RCC_PLLCKSELR`, which `sys` reads for the console.
fn board_init() {
    // SAFETY: the kernel runs this once, privileged, before any task exists.
    let mut regs = unsafe { Mmio::new() };
    let source = match bring_up(&mut regs, &NUCLEO_400MHZ) {
        Ok(source) => source,
        Err(e) => panic!("power/clock bring-up failed: {e:?}"),
    };
    chip::set_up(&mut regs);
    // USB failing leaves the rest of the board running: the controller then has no
    // kernel clock, and the console says why (HSI fallback) at start.
    let _ = usb::enable(&mut regs, &NUCLEO_400MHZ, &USB_PLAN, source);
    cache::enable(&mut regs);
}

/// The reset reason from `RCC_RSR` (its flags cleared for the next boot), with the kernel's
/// record deciding only why software reset the system.
fn reset_reason(recorded: abi::ResetReason) -> abi::ResetReason {
    // SAFETY: the kernel calls this once at start-up, privileged, before any task exists,
    // and after `board_init` has finished with RCC.
    unsafe { drv_stm32h7_reset_reason::from_hardware(recorded) }
}
