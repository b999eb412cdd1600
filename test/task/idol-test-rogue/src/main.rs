//! The rogue of the `idol-tests` image: on the suite's command (a [`Malformed`] as the
//! operation code) it sends the server that one malformed call with `sys_send`, bypassing
//! the stub, so the server's dispatcher must fault it.
//!
//! The suite's call is answered only if the server accepted the malformed call (a bug the
//! suite reports). Otherwise the rogue is faulted first, the supervisor detaches it, and the
//! detach releases the suite, which then reads the fault the server gave the rogue.
#![no_std]
#![no_main]

use core::mem::{offset_of, size_of};

use idol_runtime::zerocopy::IntoBytes;
use idol_test_api::{IdolTestOperation as Op, IdolTestSetModeArgs, Malformed, Mode};
use userlib::{
    Lease, ReplyFaultReason, sys_recv_open, sys_refresh_incarnation, sys_reply, sys_reply_fault,
    sys_send, task_slot,
};

task_slot!(SERVER, server);

/// Larger than any reply of the interface, so only `ReplyBufferTooSmall` is about the buffer.
const REPLY_BUFFER: usize = 8;
/// `sum`'s `max_len`.
const SUM_MAX_LEN: usize = 16;

/// Sends the server the call `case` describes; returns only if the server answered it.
fn send_malformed(case: Malformed) {
    // The suite restarts the server between tests: always reach the current incarnation.
    let server = sys_refresh_incarnation(SERVER);
    let mut reply = [0u8; REPLY_BUFFER];
    let mut values = [0u32; SUM_MAX_LEN + 1];
    let send = |operation: Op, message: &[u8], reply: &mut [u8], leases: &[Lease<'_>]| {
        sys_send(server, operation as u16, message, reply, leases);
    };
    match case {
        Malformed::UnknownOperation => {
            sys_send(server, Op::Crash as u16 + 1, &[], &mut reply, &[]);
        }
        Malformed::WrongMessageSize => send(Op::Bump, &[0; size_of::<u32>() / 2], &mut reply, &[]),
        Malformed::ReplyBufferTooSmall => {
            send(Op::Total, &[], &mut reply[..size_of::<u32>() / 2], &[])
        }
        Malformed::MissingLease => send(Op::Sum, &[], &mut reply, &[]),
        Malformed::WrongLeaseDirection => send(
            Op::Sum,
            &[],
            &mut reply,
            &[Lease::write_only(values[..1].as_mut_bytes())],
        ),
        Malformed::LeaseTooLong => send(
            Op::Sum,
            &[],
            &mut reply,
            &[Lease::read_only(values.as_bytes())],
        ),
        Malformed::InvalidBool => send(
            Op::SetMode,
            &set_mode_with(offset_of!(IdolTestSetModeArgs, reset), 2),
            &mut reply,
            &[],
        ),
        Malformed::InvalidEnum => send(
            Op::SetMode,
            &set_mode_with(offset_of!(IdolTestSetModeArgs, mode), 0xEE),
            &mut reply,
            &[],
        ),
        Malformed::NotOnAllowList => send(Op::Restricted, &[], &mut reply, &[]),
    }
}

/// A valid `set_mode` message with the byte at `offset` overwritten by `byte`.
fn set_mode_with(offset: usize, byte: u8) -> [u8; size_of::<IdolTestSetModeArgs>()] {
    let mut message = [0u8; size_of::<IdolTestSetModeArgs>()];
    message.copy_from_slice(
        IdolTestSetModeArgs {
            mode: Mode::Idle,
            reset: false,
        }
        .as_bytes(),
    );
    message[offset] = byte;
    message
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    loop {
        let command = sys_recv_open(&mut [], 0);
        match Malformed::from_operation(command.operation) {
            Some(case) => {
                send_malformed(case);
                sys_reply(command.sender, 0, &[]);
            }
            None => sys_reply_fault(command.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
