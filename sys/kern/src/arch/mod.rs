//! The architecture layer: hardware services the kernel core calls down into. Nothing here
//! calls back up; the exception entry points that do live in `entry`. `arm_m` is the ARMv7-M
//! implementation used on hardware and QEMU; `host` stands in for it in host tests with a
//! simulated 32-bit address space, so the whole kernel core runs under `cargo test`.
//!
//! Both provide: kernel-checked memory copies (`copy_user`, `copy_from_kernel`,
//! `copy_to_kernel`, `write_frame`); `now` (ticks since boot); NVIC control (`irq_enable`,
//! `irq_disable`, `irq_clear_pending`, `irq_pend`, `irq_is_enabled`, `irq_is_pending`);
//! `set_config`, `try_config`; `image_id`; `task_time`; `reset_reason` (why the system last
//! reset, `abi::ResetReason`); `system_reset(reason)`; `record_epitaph` and `EPITAPH_LEN`; `halt_forever`; with
//! feature `fault-inject`, `campaign_write` and `campaign_exit`. The arch-neutral parts,
//! shared by both, are the saved-register layout (`frame`) and the fault-entry SHCSR rule
//! (`shcsr`).

mod frame;
mod shcsr;

pub use frame::*;
pub use shcsr::*;

#[cfg(target_os = "none")]
mod arm_m;
#[cfg(target_os = "none")]
pub use arm_m::*;

#[cfg(not(target_os = "none"))]
pub mod host;
#[cfg(not(target_os = "none"))]
pub use host::*;
