//! The kernel benchmark server: echoes, times one-way sends and lease reads.
#![no_std]
#![no_main]

use userlib::{ReplyFaultReason, sys_borrow_read, sys_recv_open, sys_reply, sys_reply_fault};

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut buf = [0u8; 256];
    let mut total: u32 = 0;
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        let arrived = bench_api::now();
        match msg.operation as u16 {
            bench_api::ECHO => sys_reply(msg.sender, 0, &buf[..msg.message_len.min(buf.len())]),
            bench_api::ONEWAY => {
                let sent = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
                total = total.wrapping_add(arrived.wrapping_sub(sent));
                sys_reply(msg.sender, 0, &[]);
            }
            bench_api::LEASE_READ => {
                let start = bench_api::now();
                let _ = sys_borrow_read(msg.sender, 0, 0, &mut buf);
                total = total.wrapping_add(bench_api::now().wrapping_sub(start));
                sys_reply(msg.sender, 0, &[]);
            }
            bench_api::TAKE_TOTAL => {
                sys_reply(msg.sender, 0, &total.to_le_bytes());
                total = 0;
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
