//! The supervisor (task 0).
#![no_std]
#![no_main]

use userlib::*;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    loop {
        sys_recv_notification(FAULT_NOTIFICATION);
        while let Some(i) = kipc::find_faulted_task(1) {
            kipc::restart_task(i, true);
        }
    }
}
