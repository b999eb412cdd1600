//! The reset server (`sys`) of the supervisor's QEMU scenarios. QEMU's mps2-an500 has no
//! reset controller, so this `sys` owns a CMSDK timer, `timer1` (shared with the task whose
//! `reset-peripherals` name it), and resets it by writing every register back to its reset
//! value. It serves jefe's `reset-request` through `jefe_api::reset::serve`, like the STM32
//! `sys`, so the scenarios run the real protocol. The image gives only one task
//! `reset-peripherals`, `["timer1"]`: bit 0 of any work is timer1, and any other bit is
//! reported as failed.
//!
//! `SET_MODE` `HANG_MID_RESET` makes it take jefe's next work and then spin forever without
//! reporting, to show that jefe carries on (and faults it) at its deadline.
#![no_std]
#![no_main]

use drv_cmsdk_timer::{TIMER1, Timer};
use jefe_test_api::sys as op;
use userlib::{ReplyFaultReason, TaskId, sys_recv_open, sys_reply, sys_reply_fault};

/// app.toml: `notifications = ["reset-request"]`.
const RESET_REQUEST: u32 = 1 << 0;
const TIMER1_BIT: u32 = 1 << 0;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps timer1 into this task (`uses = ["timer1"]`).
    let timer = unsafe { Timer::new(TIMER1) };
    let mut mode = op::SERVE;
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, RESET_REQUEST);
        if msg.sender == TaskId::KERNEL {
            jefe_api::reset::serve(|work| {
                if mode == op::HANG_MID_RESET {
                    loop {
                        core::hint::spin_loop();
                    }
                }
                if work.mask & TIMER1_BIT != 0 {
                    timer.reset();
                }
                work.mask & !TIMER1_BIT
            });
            continue;
        }
        match msg.operation as u16 {
            op::SET_MODE if msg.message_len == 4 => {
                mode = u32::from_ne_bytes(buf);
                sys_reply(msg.sender, 0, &[]);
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
