//! Malformed IPC: a SEND to a server with a random operation, a message of random length
//! (up to beyond every server's buffer) and content, a reply buffer of random size, and a
//! lease table of random count whose leases have random directions, lengths and addresses
//! (empty, inside the rogue's memory, across its end, outside it). Built raw, bypassing
//! every stub, and issued through the same stub as `sys_send`.

use jefe_api::JefeOperation;
use userlib::lease_attributes::{READ, WRITE};
use userlib::syscall::SendArgs;
use userlib::{Incarnation, ReplyFaultReason, Sysnum, ULease, USlice, peer_gone, sys_raw};

use crate::memory::Memory;
use xorshift::Rng;

/// Longer than any message a server in the campaign image accepts.
pub const MESSAGE_MAX: usize = 320;
/// Reply buffers up to this; servers reply at most a few words.
const REPLY_MAX: u32 = 64;
/// The lease table the rogue fills; a count above it makes the kernel read on past it.
pub const LEASES: usize = 8;

/// A server the rogue reaches, and the operations it leaves alone.
pub struct Server {
    pub incarnation: Incarnation,
    /// Operations that stop or restart tasks by design, for any caller (a test server's
    /// `CRASH` and `HANG`): a rogue using them is obeyed, not resisted, and its kills would
    /// be booked as the injector's faults. jefe's `restart`, `unload` and `load` are not
    /// spared: they are for the tasks app.toml names, and must refuse the rogue.
    pub spared: &'static [u16],
}

/// How a malformed call ended. A fault of the rogue (a bad slice the kernel checks at the
/// SEND, a reply-fault it did not take as an error) ends the incarnation instead.
#[derive(Copy, Clone, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// The server reply-faulted the call (`on-reply-fault = "error"`).
    ReplyFault,
    /// The server was restarted or detached: a dead or unavailable code.
    Gone,
    /// Any other code: the server's own error, or the kernel's refusal (a lease defect).
    Error,
}

/// The buffers a malformed call is built in.
pub struct Buffers {
    pub message: [u8; MESSAGE_MAX],
    pub reply: [u8; REPLY_MAX as usize],
    pub leases: [ULease; LEASES],
}

/// One malformed call to `server`; refreshes its incarnation if the answer says it is gone.
pub fn call(server: &mut Server, rng: &mut Rng, memory: &Memory, b: &mut Buffers) -> Answer {
    let mut operation = if rng.one_in(2) {
        rng.below(16) as u16
    } else {
        rng.next_u32() as u16
    };
    if server.spared.contains(&operation) {
        operation ^= 0x8000;
    }
    let len = match rng.below(4) {
        0 => 0,
        1 => rng.below(9) as usize,
        _ => rng.below(MESSAGE_MAX as u32 + 1) as usize,
    };
    rng.fill(&mut b.message[..len]);
    let reply_len = rng.below(REPLY_MAX + 1);
    let count = lease_count(rng);
    for lease in b.leases.iter_mut().take(count.min(LEASES)) {
        let (base, length) = memory.slice(rng);
        *lease = ULease {
            attributes: attributes(rng),
            base_address: base,
            length,
        };
    }
    let args = SendArgs::encode(
        server.incarnation,
        operation,
        USlice::new(b.message.as_ptr() as u32, len as u32),
        USlice::new(b.reply.as_mut_ptr() as u32, reply_len),
        b.leases.as_ptr() as u32,
        count,
    );
    // SAFETY: the reply lands in `b.reply`; leases the rogue drew inside its own memory may
    // be written by the server, which is what a rogue accepts.
    let r = unsafe { sys_raw(Sysnum::Send as u32, &args) };
    let (code, second) = (r[0], r[1] as usize);
    if let Some((_, next)) = peer_gone(server.incarnation, code, second) {
        server.incarnation = next;
        Answer::Gone
    } else if code == 0 {
        Answer::Ok
    } else if ReplyFaultReason::from_code(code).is_some() {
        Answer::ReplyFault
    } else {
        Answer::Error
    }
}

/// Mostly a few leases, sometimes more than the table holds (the kernel reads on into the
/// rogue's stack) or the refused all-ones count.
fn lease_count(rng: &mut Rng) -> usize {
    match rng.below(32) {
        0 | 1 => LEASES + rng.below(9) as usize,
        2 => usize::MAX,
        _ => rng.below(5) as usize,
    }
}

fn attributes(rng: &mut Rng) -> u32 {
    match rng.below(5) {
        0 => READ,
        1 => WRITE,
        2 => READ | WRITE,
        3 => 0,
        _ => rng.next_u32(),
    }
}

/// jefe's operations only the tasks app.toml names may call: `restart`, `unload` and `load`
/// (`control-callers`) and `inject_fault` (`inject-fault-callers`). The campaign images name
/// nobody.
const JEFE_PRIVILEGED: [JefeOperation; 4] = [
    JefeOperation::Restart,
    JefeOperation::Unload,
    JefeOperation::Load,
    JefeOperation::InjectFault,
];
/// Task indices drawn for them: every task of the campaign image, and some past.
const TASK_INDICES: u32 = if cfg!(feature = "usb") { 16 } else { 8 };

/// A well-formed call of a privileged jefe operation on a task: true when jefe refused it
/// as it must, with `AccessViolation` before looking at the task. Any other answer means
/// its handler ran for a caller app.toml does not allow.
pub fn privileged(rng: &mut Rng) -> bool {
    let operation = JEFE_PRIVILEGED[rng.below(JEFE_PRIVILEGED.len() as u32) as usize];
    let task = rng.below(TASK_INDICES) as u16;
    let mut reply = [0u8; 8];
    let (code, _) = userlib::sys_send(
        userlib::SUPERVISOR,
        operation as u16,
        &task.to_le_bytes(),
        &mut reply,
        &[],
    );
    ReplyFaultReason::from_code(code) == Some(ReplyFaultReason::AccessViolation)
}
