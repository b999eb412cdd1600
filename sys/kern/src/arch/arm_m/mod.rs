//! ARMv7-M (Cortex-M7) hardware services: one module per piece of the machine the kernel
//! drives. The exception entry code that calls into the kernel core is `crate::entry`; these
//! modules only answer it and the core.

mod clock;
mod config;
mod copy;
mod epitaph;
mod fault;
mod mpu;
mod nvic;
mod regs;
mod reset;
#[cfg(feature = "fault-inject")]
mod semihost;
mod system;
mod task_time;

pub use clock::{now, tick};
pub use config::{image_id, set_config, try_config};
pub use copy::{copy_from_kernel, copy_to_kernel, copy_user, write_frame};
pub use epitaph::{EPITAPH_LEN, record_epitaph};
pub use fault::{decode_fault, take_fault_status};
pub use mpu::load_regions;
pub use nvic::{
    IRQ_LINES, active_irq, irq_clear_pending, irq_disable, irq_enable, irq_is_enabled,
    irq_is_pending, irq_pend,
};
pub use reset::{reset_reason, system_reset, take_reset_reason};
#[cfg(feature = "fault-inject")]
pub use semihost::{campaign_exit, campaign_write};
pub use system::{halt_forever, init_exceptions, pend_switch};
#[cfg(feature = "task-time")]
pub use task_time::charge as charge_task_time;
pub use task_time::task_time;
