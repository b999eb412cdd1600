//! The console of the STM32H7 Nucleo-144 boards: USART3, which the boards wire to the
//! ST-LINK's virtual COM port (PD8 TX, PD9 RX, alternate function 7), at 115200 8N1.
//!
//! It asks `sys` for the USART3 clock and pins, then writes what tasks send it (operation 1,
//! one read lease: the text), like `task/console` does on QEMU. Its kernel clock is
//! `rcc_pclk1` (RCC_D2CCIP2R.USART234578SEL at its reset value), which the kernel's clock
//! plan sets.
#![no_std]
#![no_main]

use drv_stm32_usart::{Usart, brr};
use drv_stm32h7_clocks::NUCLEO_400MHZ;
use drv_stm32xx_sys_api::{Alternate, Speed, SysClient, peripherals, pins};
use userlib::*;

task_slot!(SYS, sys);

/// RM0433 memory map; app.toml's `uses = ["usart3"]` maps it for this task only.
const USART3_BASE: usize = 0x4000_4800;
const BRR: u32 = match brr(NUCLEO_400MHZ.apb_hz(), 115_200) {
    Ok(brr) => brr,
    Err(_) => panic!("115200 baud cannot be made from the APB1 clock"),
};
const OP_WRITE: u32 = 1;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let sys = SysClient::new(SYS);
    let clock = sys.enable_clock(peripherals::USART3);
    let tx = sys.configure_alternate(pins::USART3_TX, Speed::Low, Alternate::Af7);
    let rx = sys.configure_alternate(pins::USART3_RX, Speed::Low, Alternate::Af7);
    if clock.is_err() || tx.is_err() || rx.is_err() {
        panic!("sys refused USART3's clock or pins");
    }
    // SAFETY: sys has just clocked USART3, and app.toml maps its registers to this task only.
    let usart = unsafe { Usart::new(USART3_BASE) };
    usart.enable(BRR);
    usart.write_bytes(b"\nbulkhead: console up on USART3\n");
    let mut chunk = [0u8; 64];
    loop {
        let msg = sys_recv_open(&mut [], 0);
        if msg.operation != OP_WRITE || msg.lease_count != 1 {
            sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation);
            continue;
        }
        let mut offset = 0;
        while let Ok(n @ 1..) = sys_borrow_read(msg.sender, 0, offset, &mut chunk) {
            usart.write_bytes(&chunk[..n]);
            offset += n;
        }
        sys_reply(msg.sender, 0, &[]);
    }
}
