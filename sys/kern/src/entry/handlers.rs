//! The Rust side of each exception: what the kernel does when it is entered, and which
//! layer below it hands the work to. The shims (`shims`) save the task first and restore
//! whichever task is current afterwards.

use abi::ResetReason;

use super::current::with_tasks;
use crate::arch;
use crate::fail::{Epitaph, kernel_fail};
use crate::lifecycle;
use crate::sched::{self, NextTask};
use crate::task::Timestamp;
use crate::{syscalls, time};

#[unsafe(no_mangle)]
unsafe extern "C" fn syscall_entry() {
    with_tasks(syscalls::dispatch);
}

// The four handlers below are off the IPC paths, and `#[inline]`: the app's kernel crate
// (`app_kernel!`) defines their symbols, so they and the `#[inline]` code they reach are
// compiled there, at the release profile's `opt-level = "s"`, where everything compiled in
// this crate is at 3 for the IPC paths. Compiled here they took about 350 bytes more.
//
// Safety, for each: called only as its exception's handler, which `app_kernel!` defines.

/// PendSV's (`pendsv_entry`).
///
/// # Safety
/// See above.
#[doc(hidden)]
#[inline]
pub unsafe fn pendsv() {
    with_tasks(|tasks, current| sched::resolve(tasks, current, NextTask::Other));
}

/// SysTick's.
///
/// # Safety
/// See above.
#[doc(hidden)]
#[inline]
pub unsafe fn tick() {
    let now = Timestamp(arch::tick());
    with_tasks(|tasks, current| {
        time::count_tick(tasks, current);
        let hint =
            time::process_timers(tasks, current, now).combine(time::rotate_equals(tasks, current));
        #[cfg(feature = "fault-inject")]
        let hint = hint.combine(crate::inject::tick(tasks, current, now.0));
        if hint != NextTask::Same {
            arch::pend_switch();
        }
        current
    });
}

/// Every device interrupt's (`DefaultIrq`).
///
/// # Safety
/// See above.
#[doc(hidden)]
#[inline]
pub unsafe fn irq() {
    let irq = arch::active_irq();
    with_tasks(|tasks, current| {
        if syscalls::interrupt(tasks, current, irq) != NextTask::Same {
            arch::pend_switch();
        }
        current
    });
}

/// A fault taken from a task (`fault_entry`): decode it, fault the task, run something else.
///
/// # Safety
/// See above.
#[doc(hidden)]
#[inline]
pub unsafe fn fault(exception: u32) {
    let (cfsr, mmfar, bfar, hfsr) = arch::take_fault_status();
    with_tasks(|tasks, current| {
        let psp = tasks[current].save.psp;
        let fault = arch::decode_fault(exception, cfsr, mmfar, bfar, hfsr, psp);
        let hint = lifecycle::fault_task(tasks, current, fault);
        sched::resolve(tasks, current, hint)
    });
}

#[panic_handler]
fn kernel_panic(_: &core::panic::PanicInfo<'_>) -> ! {
    kernel_fail(Epitaph::Panic)
}

#[unsafe(no_mangle)]
unsafe extern "C" fn kernel_fault_entry() -> ! {
    kernel_fail(Epitaph::FaultInKernel)
}

/// On mps2 the CMSDK watchdog's interrupt is the NMI: its first timeout, a whole period
/// without the supervisor feeding it. Reset now, saying why (the watchdog would reset at
/// its second timeout anyway, without a record).
pub(super) unsafe extern "C" fn watchdog_nmi() {
    #[cfg(feature = "fault-inject")]
    crate::inject::on_watchdog();
    arch::system_reset(ResetReason::Watchdog)
}

pub(super) unsafe extern "C" fn unused_exception() {
    kernel_fail(Epitaph::FaultInKernel)
}
