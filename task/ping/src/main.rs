//! Demo client: pings `pong` twice a second and logs the answer on the console.
#![no_std]
#![no_main]

use userlib::*;

task_slot!(PONG, pong);
task_slot!(CONSOLE, console);

fn log(text: &[u8]) {
    sys_send(CONSOLE, 1, &[], &mut [], &[Lease::read_only(text)]);
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut n = 0u32;
    loop {
        let mut reply = [0u8; 4];
        let (rc, _) = sys_send(PONG, 1, &n.to_le_bytes(), &mut reply, &[]);
        let got = u32::from_le_bytes(reply);
        let mut line = *b"ping: sent 0000, pong replied 0000 (rc 0)\n";
        digits(&mut line[11..15], n);
        digits(&mut line[30..34], got);
        line[39] = b'0' + (rc as u8 % 10);
        log(&line);
        n += 1;
        sleep_for(500, 1);
    }
}

fn digits(out: &mut [u8], mut v: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}
