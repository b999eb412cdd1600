//! Step 4 of the cycle, resetting a task's `reset-peripherals`, which needs the board's
//! `sys` task. Bit `i` of the mask is the `i`-th name in the task's list.

use jefe_api::LogEvent;

#[cfg(feature = "stm32xx-sys")]
pub fn reset_peripherals(task: usize, mask: u32) -> LogEvent {
    use drv_stm32xx_sys_api::{RESET_PERIPHERALS, SysClient};
    use userlib::{Generation, TaskId};

    let Some(sys) = crate::SYS else {
        return LogEvent::PeripheralResetSkipped { task, mask };
    };
    let client = SysClient::new(TaskId::for_index_and_gen(sys, Generation(0)));
    let peripherals = RESET_PERIPHERALS.get(task).copied().unwrap_or(&[]);
    let failed = peripherals
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .filter(|(_, p)| client.reset_pulse(**p).is_err())
        .fold(0, |failed, (i, _)| failed | 1 << i);
    if failed == 0 {
        LogEvent::PeripheralsReset { task, mask }
    } else {
        LogEvent::PeripheralResetFailed { task, mask: failed }
    }
}

/// No `sys` on this board (QEMU's mps2-an500 has no reset controller to drive): the reset
/// is logged as skipped, and the detach has already masked the task's interrupts.
#[cfg(not(feature = "stm32xx-sys"))]
pub fn reset_peripherals(task: usize, mask: u32) -> LogEvent {
    LogEvent::PeripheralResetSkipped { task, mask }
}
