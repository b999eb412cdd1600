//! The console: owns the board's UART and writes what tasks send it (operation 1, one read
//! lease: the text).
//!
//! The UART is chosen at build time: QEMU's CMSDK UART0 by default; with feature `stm32h7`,
//! USART3 of the STM32H7 Nucleo-144 boards, which they wire to the ST-LINK's virtual COM
//! port (PD8 TX, PD9 RX, alternate function 7). There the console first asks `sys` for the
//! USART3 clock and pins.
#![no_std]
#![no_main]

use userlib::*;

const OP_WRITE: u32 = 1;
const BAUD: u32 = 115_200;

#[cfg(not(feature = "stm32h7"))]
mod board {
    use drv_cmsdk_uart::Uart;

    const UART0: usize = 0x4000_4000;
    const CLOCK_HZ: u32 = 25_000_000;

    pub fn open() -> Uart {
        // SAFETY: app.toml maps uart0 to this task only.
        let uart = unsafe { Uart::new(UART0) };
        uart.enable(CLOCK_HZ, super::BAUD);
        uart
    }
}

#[cfg(feature = "stm32h7")]
mod board {
    use drv_stm32_usart::{Usart, brr};
    use drv_stm32h7_clocks::NUCLEO_400MHZ;
    use drv_stm32xx_sys_api::{Alternate, Speed, SysClient, peripherals, pins};
    use userlib::task_slot;

    task_slot!(SYS, sys);

    /// RM0433 memory map; app.toml's `uses = ["usart3"]` maps it to this task only.
    const USART3_BASE: usize = 0x4000_4800;
    /// USART3's kernel clock is `rcc_pclk1` (RCC_D2CCIP2R.USART234578SEL at its reset value).
    const BRR: u32 = match brr(NUCLEO_400MHZ.apb_hz(), super::BAUD) {
        Ok(brr) => brr,
        Err(_) => panic!("the baud rate cannot be made from the APB1 clock"),
    };

    pub fn open() -> Usart {
        let sys = SysClient::new(SYS);
        let clock = sys.enable_clock(peripherals::USART3);
        let tx = sys.configure_alternate(pins::USART3_TX, Speed::Low, Alternate::Af7);
        let rx = sys.configure_alternate(pins::USART3_RX, Speed::Low, Alternate::Af7);
        if clock.is_err() || tx.is_err() || rx.is_err() {
            panic!("sys refused USART3's clock or pins");
        }
        // SAFETY: sys has just clocked USART3, and app.toml maps it to this task only.
        let usart = unsafe { Usart::new(USART3_BASE) };
        usart.enable(BRR);
        usart
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let uart = board::open();
    uart.write_bytes(b"\nbulkhead: console up\n");
    let mut chunk = [0u8; 64];
    loop {
        let msg = sys_recv_open(&mut [], 0);
        if msg.operation != OP_WRITE || msg.lease_count != 1 {
            sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation);
            continue;
        }
        let mut offset = 0;
        while let Ok(n) = sys_borrow_read(msg.sender, 0, offset, &mut chunk) {
            if n == 0 {
                break;
            }
            uart.write_bytes(&chunk[..n]);
            offset += n;
        }
        sys_reply(msg.sender, 0, &[]);
    }
}
