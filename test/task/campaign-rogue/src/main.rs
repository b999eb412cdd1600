//! The fault campaign's rogue (`test/app/campaign`, `doc/fault-campaign.md` 2): a task that
//! does everything wrong, to show that the kernel and the servers survive it while the
//! workload keeps its oracles.
//!
//! Every tick it makes a few seeded random moves, then checks in and sleeps:
//!
//! - most are malformed calls ([`ipc`]) to every server it can reach: `pong`, `server` and
//!   jefe;
//! - one in eight is a random syscall ([`syscalls`]): any number, random registers (and so
//!   kernel IPC to the kernel, for which it holds no grant);
//! - of the rest, one in eight is a well-formed call of a jefe operation the rogue is not
//!   allowed ([`ipc::privileged`]): `restart`, `unload`, `load` or `inject_fault` of a real
//!   task, which jefe must refuse.
//!
//! It takes reply-faults as errors (`on-reply-fault = "error"`), so it lives through a
//! server's verdict and counts it; a fault the kernel finds (a bad slice, an illegal target,
//! an unknown syscall) or a stuck receive (its watchdog) ends the incarnation, and jefe
//! restarts it. The runner counts those from the kernel's `FC` lines.
//!
//! Its seed is `BULKHEAD_ROGUE_SEED`, which `cargo xtask campaign` patches per boot as it
//! does the kernel's, mixed with the tick the incarnation starts at, so each incarnation
//! draws afresh and a boot replays exactly. It reports each move on `uart1` (the runner
//! keeps that serial port in `boot-B.rogue`) as it happens, one byte each, since most
//! incarnations end within a few moves and a tally kept for later would die with them:
//! `c` before a malformed call, then `o` (answered), `f` (reply-fault), `g` (the server is
//! gone) or `e` (another error code); `s` before a random syscall and `r` once it returned.
#![no_std]
#![no_main]

mod ipc;
mod memory;
mod syscalls;
mod targets;

use core::ptr::{addr_of, read_volatile};

use drv_cmsdk_uart::Uart;
use ipc::{Answer, Buffers};
use memory::Memory;
use userlib::{ULease, check_in, sleep_for, sys_get_timer};
use xorshift::Rng;

/// Patched per boot by `cargo xtask campaign` (0 when run otherwise).
#[unsafe(no_mangle)]
#[used]
static BULKHEAD_ROGUE_SEED: u32 = 0;

const UART1: usize = 0x4000_5000;
const CLOCK_HZ: u32 = 25_000_000;
/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
/// Moves per tick: enough to meet every server often, few enough that the campaign's
/// virtual milliseconds stay cheap (doc/fault-campaign.md 3).
const MOVES_PER_TICK: u32 = 4;
const SCRATCH: usize = 256;
/// The rogue's salt: its draws differ from the injector's for one boot seed.
const SALT: u32 = 0x510E_527F;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart1 to this task only.
    let uart = unsafe { Uart::new(UART1) };
    uart.enable(CLOCK_HZ, 115_200);
    // SAFETY: a flash word the runner patches; read volatile so the linked zero is not folded.
    let seed = unsafe { read_volatile(addr_of!(BULKHEAD_ROGUE_SEED)) };
    let mut rng = Rng::new(
        seed ^ (sys_get_timer().now as u32).wrapping_mul(0x85EB_CA6B),
        SALT,
    );
    let mut servers = targets::servers();
    let mut scratch = [0u8; SCRATCH];
    let mut buffers = Buffers {
        message: [0; ipc::MESSAGE_MAX],
        reply: [0; 64],
        leases: [ULease {
            attributes: 0,
            base_address: 0,
            length: 0,
        }; ipc::LEASES],
    };
    let memory = Memory {
        scratch: scratch.as_mut_ptr() as u32,
        scratch_len: SCRATCH as u32,
        stack: addr_of!(buffers) as u32,
    };
    loop {
        for _ in 0..MOVES_PER_TICK {
            if rng.one_in(8) {
                userlib::sys_set_timer(Some(sys_get_timer().now + 1), TIMER);
                uart.write_byte(b's');
                syscalls::issue(&mut rng, &memory, &servers, TIMER);
                uart.write_byte(b'r');
            } else if rng.one_in(8) {
                uart.write_byte(b'p');
                uart.write_byte(if ipc::privileged(&mut rng) {
                    b'x'
                } else {
                    b'O'
                });
            } else {
                let server = &mut servers[rng.below(servers.len() as u32) as usize];
                uart.write_byte(b'c');
                uart.write_byte(match ipc::call(server, &mut rng, &memory, &mut buffers) {
                    Answer::Ok => b'o',
                    Answer::ReplyFault => b'f',
                    Answer::Gone => b'g',
                    Answer::Error => b'e',
                });
            }
        }
        check_in();
        sleep_for(1, TIMER);
    }
}
