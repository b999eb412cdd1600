//! Demo client: pings `pong` twice a second, both through idol stubs (`idl/ping.idol`,
//! `idl/console.idol`), and says on the console how the exchanges go only when that
//! changes: the first exchange after start, pong stopping answering, pong answering again.
//! A line every half second would bury what a user types on the console.
#![no_std]
#![no_main]

use console_api::ConsoleClient;
use pong_api::PingClient;
use userlib::{sleep_for, task_slot};

task_slot!(PONG, pong);
task_slot!(CONSOLE, console);

const TIMER_BIT: u32 = 1 << 0;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let pong = PingClient::new(PONG);
    let console = ConsoleClient::new(CONSOLE);
    // A line the console could not take is dropped: there is nowhere else to report it.
    let log = |line: &[u8]| {
        let _ = console.write(line);
    };
    // Whether pong answered the last exchange; `None` before the first.
    let mut answered: Option<bool> = None;
    let mut n = 0u32;
    loop {
        match pong.ping(n) {
            Ok(got) => {
                if answered != Some(true) {
                    let mut line = *b"ping: sent 0000, pong replied 0000\n";
                    digits(&mut line[11..15], n);
                    digits(&mut line[30..34], got);
                    log(&line);
                }
                answered = Some(true);
            }
            // `ping` is idempotent, so the stub has already retried once after a restart:
            // pong is detached or restarting again. Say so and carry on with the next number.
            Err(_) => {
                if answered != Some(false) {
                    let mut line = *b"ping: sent 0000, pong did not answer\n";
                    digits(&mut line[11..15], n);
                    log(&line);
                }
                answered = Some(false);
            }
        }
        n = n.wrapping_add(1);
        sleep_for(500, TIMER_BIT);
    }
}

/// Writes the last `out.len()` decimal digits of `v` into `out`.
fn digits(out: &mut [u8], mut v: u32) {
    for d in out.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}
