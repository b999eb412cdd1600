//! Where the build's configuration is kept: the `KernelConfig` start-up installs, and the
//! image id the builder patches into flash.

use core::ptr::read_volatile;

use crate::config::KernelConfig;

static mut CONFIG: Option<&'static KernelConfig> = None;

/// The image id, patched into flash by the builder after linking (contract 3.7). Read
/// volatile so the compiler never folds the pre-patch value.
#[unsafe(no_mangle)]
#[used]
static HUBRIS_IMAGE_ID: u64 = 0;

/// Installs the configuration.
///
/// # Safety
/// Only at start-up, before any kernel entry can read it.
pub unsafe fn set_config(config: &'static KernelConfig) {
    // SAFETY: per this function's contract, nothing else touches CONFIG yet.
    unsafe { CONFIG = Some(config) }
}

/// The configuration, once start-up has set it.
pub fn try_config() -> Option<&'static KernelConfig> {
    // SAFETY: set once at start-up before any other kernel entry.
    unsafe { CONFIG }
}

pub fn image_id() -> u64 {
    // SAFETY: a plain read of an immutable static, volatile because the builder patches it.
    unsafe { read_volatile(&HUBRIS_IMAGE_ID) }
}
