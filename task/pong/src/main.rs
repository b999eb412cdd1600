//! Demo server: answers `ping(n)` with `n + 1`.
#![no_std]
#![no_main]

use userlib::*;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        let n = u32::from_le_bytes(buf);
        sys_reply(msg.sender, 0, &(n + 1).to_le_bytes());
    }
}
