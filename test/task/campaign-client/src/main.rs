//! The fault campaign's workload and oracle (`test/app/campaign`, `doc/fault-campaign.md`).
//!
//! In a loop, as fast as the servers answer: `ping` to `pong` (the answer must be the
//! number sent), `echo` of a numbered block through `pong`'s leases (the copy must equal the
//! block, and say it copied all of it), and `PING` to the watched server (the answer must
//! carry the sequence number sent). A call that fails with a dead or unavailable code is
//! what a restart looks like from here: the id is refreshed and the loop goes on. An answer
//! that reports success with the wrong data is a corruption: it is printed on the console
//! (`campaign: corrupt ...`), which the campaign runner counts.
//!
//! The kernel counts this task's received replies as the workload's progress
//! (`[kernel.fault-inject] progress`), so a workload that stops making calls is a hang.
//! This task is never a target: its oracle must stay sound.
//!
//! Rounds come in batches, one per millisecond tick, with a sleep between: under
//! `-icount shift=0,sleep=off` idle time costs QEMU nothing, while every round costs it
//! context switches (each reprograms the MPU, which empties QEMU's TLB). A campaign's
//! length is set in virtual milliseconds, so this buys faults per second of wall time.
#![no_std]
#![no_main]

use drv_cmsdk_uart::Uart;
use jefe_test_api::server as op;
use pong_api::PingClient;
use userlib::{
    ReplyFaultReason, peer_gone, sleep_for, sys_get_timer, sys_refresh_incarnation, sys_send,
    task_slot,
};

task_slot!(PONG, pong);
task_slot!(SERVER, server);

const UART0: usize = 0x4000_4000;
const CLOCK_HZ: u32 = 25_000_000;
/// Rounds per tick: each is three calls, so a fault in a server meets a call within
/// microseconds of its next scheduling.
const ROUNDS_PER_TICK: u32 = 4;
/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
/// Block sizes cycle through the interface's range, so leases of every length are lent.
const MAX_BLOCK: usize = 256;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart0 to this task only.
    let uart = unsafe { Uart::new(UART0) };
    uart.enable(CLOCK_HZ, 115_200);
    // The tick lets the runner tell which fault was in flight when the answer came.
    let report = |what: &[u8], round: u32| {
        uart.write_bytes(b"campaign: corrupt ");
        uart.write_bytes(what);
        uart.write_bytes(b" round ");
        uart.write_bytes(&decimal(u64::from(round)));
        uart.write_bytes(b" tick ");
        uart.write_bytes(&decimal(sys_get_timer().now));
        uart.write_bytes(b"\n");
    };
    uart.write_bytes(b"campaign: workload running\n");
    let pong = PingClient::new(PONG);
    let mut server = sys_refresh_incarnation(SERVER);
    let mut src = [0u8; MAX_BLOCK];
    let mut dst = [0u8; MAX_BLOCK];
    let mut round = 0u32;
    loop {
        if round.is_multiple_of(ROUNDS_PER_TICK) {
            sleep_for(1, TIMER);
        }
        round = round.wrapping_add(1);
        if let Ok(got) = pong.ping(round)
            && got != round
        {
            report(b"ping", round);
        }

        let len = 4 + (round as usize * 37) % (MAX_BLOCK - 3);
        fill_block(&mut src[..len], round);
        dst.fill(0);
        if let Ok(copied) = pong.echo(&src[..len], &mut dst[..len])
            && (copied as usize != len || src[..len] != dst[..len])
        {
            report(b"echo", round);
        }

        let mut reply = [0u8; 8];
        let (code, n) = sys_send(server, op::PING, &round.to_ne_bytes(), &mut reply, &[]);
        match peer_gone(server, code, n) {
            Some((_, next)) => server = next,
            None if code == 0 => {
                let seq = u32::from_ne_bytes([reply[0], reply[1], reply[2], reply[3]]);
                if n != reply.len() || seq != round {
                    report(b"server-ping", round);
                }
            }
            // A corrupted `server` may reply-fault a sound message; this task takes that as
            // an error (`on-reply-fault = "error"`), a refused call like a dead code.
            None if ReplyFaultReason::from_code(code).is_some() => {}
            None => report(b"server-code", round),
        }
    }
}

/// Block `round`: its number, then bytes that depend on both the number and the position,
/// so a block from another round, or a shifted copy, never matches.
fn fill_block(block: &mut [u8], round: u32) {
    block[..4].copy_from_slice(&round.to_le_bytes());
    for (i, b) in block.iter_mut().enumerate().skip(4) {
        *b = (round.wrapping_mul(31) as usize + i * 7) as u8;
    }
}

/// `v` in decimal, 20 digits with leading zeros.
fn decimal(mut v: u64) -> [u8; 20] {
    let mut digits = [b'0'; 20];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    digits
}
