//! The hardware watchdog (`[tasks.jefe.config] watchdog-ms`), fed only from jefe's main loop.
//!
//! jefe feeds it once per turn of its loop (`Jefe::settle`), and the loop turns at least
//! every 100 ms even when nothing happens. So only a jefe that is stuck (spinning, or
//! blocked where it should never block) stops feeding, and then the watchdog resets the
//! system. The board's watchdog is chosen by feature: `cmsdk-watchdog` for QEMU's mps2
//! (`drv/cmsdk-watchdog`; jefe must `uses = ["watchdog"]`), `stm32h7-iwdg` for STM32H7's
//! IWDG1 (`drv/stm32h7-iwdg`; `uses = ["iwdg1"]`, and jefe's build refuses a period longer
//! than it can count). Giving a period without a watchdog feature is a build error.

use crate::WATCHDOG_MS;

const _: () = assert!(
    WATCHDOG_MS.is_none() || cfg!(feature = "cmsdk-watchdog") || cfg!(feature = "stm32h7-iwdg"),
    "[tasks.jefe.config] watchdog-ms needs a watchdog: jefe's feature cmsdk-watchdog or stm32h7-iwdg"
);

#[cfg(feature = "cmsdk-watchdog")]
// SAFETY: app.toml maps `watchdog` into jefe (`uses = ["watchdog"]`), and only jefe uses it.
const HARDWARE: drv_cmsdk_watchdog::Watchdog =
    unsafe { drv_cmsdk_watchdog::Watchdog::new(drv_cmsdk_watchdog::WATCHDOG) };

/// IWDG1's prescaler and reload for `watchdog-ms` (the build checked it is reachable).
#[cfg(feature = "stm32h7-iwdg")]
const IWDG_PERIOD: Option<drv_stm32h7_iwdg::Period> = match WATCHDOG_MS {
    Some(ms) => match drv_stm32h7_iwdg::period_for_ms(ms, drv_stm32h7_iwdg::LSI_HZ) {
        Some(period) => Some(period),
        None => panic!("[tasks.jefe.config] watchdog-ms is beyond IWDG1's longest period"),
    },
    None => None,
};

#[cfg(feature = "stm32h7-iwdg")]
fn iwdg() -> drv_stm32h7_iwdg::Mmio {
    // SAFETY: app.toml maps `iwdg1` into jefe (`uses = ["iwdg1"]`), and only jefe uses it.
    unsafe { drv_stm32h7_iwdg::Mmio::new(drv_stm32h7_iwdg::IWDG1) }
}

/// Starts the watchdog, if the app gives it a period.
pub fn start() {
    #[cfg(feature = "cmsdk-watchdog")]
    if let Some(ms) = WATCHDOG_MS {
        HARDWARE.start(drv_cmsdk_watchdog::ticks_for_ms(
            ms,
            drv_cmsdk_watchdog::CLOCK_HZ,
        ));
    }
    #[cfg(feature = "stm32h7-iwdg")]
    if let Some(period) = IWDG_PERIOD {
        drv_stm32h7_iwdg::start(&mut iwdg(), period);
    }
}

/// One more period: called once per turn of the main loop.
pub fn feed() {
    #[cfg(feature = "cmsdk-watchdog")]
    if WATCHDOG_MS.is_some() {
        HARDWARE.feed();
    }
    #[cfg(feature = "stm32h7-iwdg")]
    if IWDG_PERIOD.is_some() {
        drv_stm32h7_iwdg::feed(&mut iwdg());
    }
}
