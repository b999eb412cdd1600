//! The hardware watchdog (`[tasks.jefe.config] watchdog-ms`), fed only from jefe's main loop.
//!
//! jefe feeds it once per turn of its loop (`Jefe::settle`), and the loop turns at least
//! every 100 ms even when nothing happens. So only a jefe that is stuck (spinning, or
//! blocked where it should never block) stops feeding, and then the watchdog resets the
//! system. The board's watchdog is chosen by feature: `cmsdk-watchdog` for QEMU's mps2
//! (`drv/cmsdk-watchdog`; jefe must `uses = ["watchdog"]`). Giving a period without a
//! watchdog feature is a build error.

use crate::WATCHDOG_MS;

const _: () = assert!(
    WATCHDOG_MS.is_none() || cfg!(feature = "cmsdk-watchdog"),
    "[tasks.jefe.config] watchdog-ms needs a watchdog: jefe's feature cmsdk-watchdog"
);

#[cfg(feature = "cmsdk-watchdog")]
// SAFETY: app.toml maps `watchdog` into jefe (`uses = ["watchdog"]`), and only jefe uses it.
const HARDWARE: drv_cmsdk_watchdog::Watchdog =
    unsafe { drv_cmsdk_watchdog::Watchdog::new(drv_cmsdk_watchdog::WATCHDOG) };

/// Starts the watchdog, if the app gives it a period.
pub fn start() {
    #[cfg(feature = "cmsdk-watchdog")]
    if let Some(ms) = WATCHDOG_MS {
        HARDWARE.start(drv_cmsdk_watchdog::ticks_for_ms(
            ms,
            drv_cmsdk_watchdog::CLOCK_HZ,
        ));
    }
}

/// One more period: called once per turn of the main loop.
pub fn feed() {
    #[cfg(feature = "cmsdk-watchdog")]
    if WATCHDOG_MS.is_some() {
        HARDWARE.feed();
    }
}
