//! Random syscalls: every number (and some past the last), each argument register drawn
//! from small numbers, addresses inside and outside the rogue's memory, lengths, task ids
//! with random generations, notification masks and random words. Nothing is checked but
//! that the kernel survives: a syscall check that faults the rogue ends its incarnation.

use userlib::{Sysnum, TaskId, sys_raw};

use crate::ipc::Server;
use crate::memory::Memory;
use xorshift::Rng;

/// `abi::Sysnum`'s numbers are `0..SYSCALLS`.
const SYSCALLS: u32 = Sysnum::IrqStatus as u32 + 1;

/// Issues one random syscall. `wake` is a notification bit whose timer is set: a RECV
/// always waits for it too, so an open receive nobody sends to still ends. (A closed
/// receive from a task that never sends does not; the rogue's watchdog ends that.)
pub fn issue(rng: &mut Rng, memory: &Memory, servers: &[Server], wake: u32) {
    // One in eight past the last number: most just past it, some anywhere above.
    let mut number = if rng.one_in(8) {
        let beyond = if rng.one_in(2) {
            32
        } else {
            u32::MAX - SYSCALLS
        };
        SYSCALLS + rng.below(beyond)
    } else {
        rng.below(SYSCALLS)
    };
    // A panic ends the incarnation: keep it, but rarer than the rest.
    if number == Sysnum::Panic as u32 && !rng.one_in(4) {
        number = Sysnum::GetTimer as u32;
    }
    let mut args = [0u32; 7];
    for word in &mut args {
        *word = draw_word(rng, memory);
    }
    if number == Sysnum::Send as u32 {
        let operation = if rng.one_in(2) {
            rng.below(16)
        } else {
            rng.next_u32() & 0xFFFF
        };
        // Half the time a server's current incarnation exactly, so the call gets past the
        // target checks to the message, reply and lease checks and on to a live server.
        let server = &servers[rng.below(servers.len() as u32) as usize];
        let target = if rng.one_in(2) {
            args[5] = server.incarnation.generation;
            server.incarnation.id.0
        } else {
            task_id(rng)
        };
        args[0] = spare(u32::from(target) << 16 | operation, servers);
    } else if number == Sysnum::Recv as u32 {
        args[2] |= wake;
    }
    // SAFETY: whatever the kernel writes lands in the rogue's own memory (it checks every
    // slice against the rogue's regions); corrupting itself is the rogue's risk to take.
    unsafe {
        sys_raw(number, &args);
    }
}

fn draw_word(rng: &mut Rng, memory: &Memory) -> u32 {
    match rng.below(6) {
        0 => rng.below(16),
        1 => memory.address(rng),
        2 => memory.length(rng),
        3 => task_word(rng),
        4 => 1 << rng.below(32),
        _ => rng.next_u32(),
    }
}

/// A task id in the low 16 bits with random bits above, as the peer registers of RECV's
/// filter, REPLY, BORROW, POST and REFRESH carry it.
fn task_word(rng: &mut Rng) -> u32 {
    (rng.next_u32() & 0xFFFF_0000) | u32::from(task_id(rng))
}

/// A task id: an index of the image (or just beyond it) with a random 6-bit generation, the
/// kernel's, or any 16 bits.
fn task_id(rng: &mut Rng) -> u16 {
    match rng.below(4) {
        0 => TaskId::KERNEL.0,
        1 => rng.next_u32() as u16,
        _ => rng.below(8) as u16 | (rng.below(64) as u16) << TaskId::INDEX_BITS,
    }
}

/// SEND's r4 (target << 16 | operation), with an operation a server spares changed as
/// `ipc::call` changes it.
fn spare(r4: u32, servers: &[Server]) -> u32 {
    let (target, operation) = ((r4 >> 16) as u16, r4 as u16);
    let index = usize::from(target & TaskId::INDEX_MASK);
    let spared = servers
        .iter()
        .any(|s| s.incarnation.index() == index && s.spared.contains(&operation));
    if spared { r4 ^ 0x8000 } else { r4 }
}
