//! The console: owns the board's UART and writes what tasks send it.
#![no_std]
#![no_main]

use drv_cmsdk_uart::Uart;
use userlib::*;

const UART0: usize = 0x4000_4000;
const CLOCK_HZ: u32 = 25_000_000;
const OP_WRITE: u32 = 1;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart0 to this task only.
    let uart = unsafe { Uart::new(UART0) };
    uart.enable(CLOCK_HZ, 115_200);
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
