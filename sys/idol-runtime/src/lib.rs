//! Support code for the stubs that the `idol` compiler (`build/idol`) generates from
//! `idl/*.idol`.
//!
//! # Wire protocol
//!
//! - An operation is numbered 1, 2, 3... in its interface's declaration order; the number is
//!   the SEND operation code.
//! - The message is the operation's arguments as one `#[repr(C, packed)]` struct in native
//!   byte order (`zerocopy`), so its size is fixed and the server checks it exactly.
//! - Leases are passed in declaration order, one per declared lease, with the declared
//!   direction (READ, WRITE or both).
//! - A success is response code 0 with the reply value as its bytes. An operation's error is
//!   a nonzero `u16` response code ([`ErrorCode`]) with an empty reply. Codes above
//!   `u16::MAX` belong to the kernel ([`PeerGone`]), so the two never overlap.
//! - A malformed call is answered with REPLY_FAULT naming the reason; the client faults.
//!
//! # Clients ([`client`])
//!
//! Every generated method returns `Result<T, CallError<E>>`, where a server that died or was
//! detached is [`CallError::Gone`]. After any dead code the stub caches the server's new
//! generation, so the next call reaches the new incarnation. Idempotent operations retry once
//! after a restart; an unavailable (detached) server is reported at once, never retried.
//!
//! # Servers ([`server`])
//!
//! [`server::recv`] receives one message and checks it against the interface's operation
//! table (number, exact size, reply capacity, caller allow-list, lease count, direction and
//! length) before generated code decodes the arguments and calls the implementation. Only
//! validated leases can be handed to an implementation ([`Leased`]), and every lease access is
//! bounds-checked before it reaches the kernel, because an out-of-range borrow faults the
//! *server*. Nothing in this path panics on client input.
//!
//! # Deferred replies ([`ReplyToken`])
//!
//! An operation declared `deferred: true` is not answered when its method returns: the
//! method receives a [`ReplyToken`] instead, which the server may keep while it goes on
//! receiving other calls (a driver holding one pending transfer per pipe), and answer
//! later, in any order. Its caller stays blocked in SEND meanwhile; to the client the
//! operation looks like any other. The token names the caller by its exact incarnation (the
//! 32-bit restart count RECV reported) and owns the call's leases; every answer consumes
//! it. What each event does, by the state of the caller the token names:
//!
//! | event | caller still waiting | caller restarted (even 64 times) | caller detached or dead |
//! |---|---|---|---|
//! | lease read/write through `token.leases()` | copies | `LeaseError::ClientGone`, nothing copied | `LeaseError::ClientGone`, nothing copied |
//! | `reply` / `reply_err` / `answer` | caller woken with the value or code; token consumed | nothing delivered (the new incarnation, even if blocked on this server, is untouched); token consumed | nothing delivered; token consumed |
//! | token dropped unanswered | caller woken with [`CallError::Unanswered`] ([`UNANSWERED_CODE`]) | nothing | nothing |
//! | server restarted | caller woken with a dead code by the kernel; the token is gone with the server | - | - |
//!
//! None of these faults the server: the kernel refuses a stale incarnation with a code,
//! and the lease accessors check bounds before asking. A second answer to one call does not
//! compile (the token is consumed, and it is neither `Copy` nor `Clone`).
#![no_std]
#![forbid(unsafe_code)]

pub mod client;
mod error;
mod lease;
pub mod server;

pub use abi::PeerGone;

/// The response code a [`ReplyToken`] dropped without an answer sends its caller, which the
/// client reports as [`CallError::Unanswered`]. A dropped token is a server bug (a deferred
/// call the server lost track of); left blocked, its caller would hang until the server
/// happened to restart, with nothing naming the cause. Outside the operation error codes
/// (16 bits) and the kernel's dead and unavailable codes.
pub const UNANSWERED_CODE: u32 = 0xFFFF_FD00;
pub use client::CallError;
pub use error::ErrorCode;
pub use lease::{Access, CanRead, CanWrite, LeaseError, Leased, Read, ReadWrite, Write};
pub use server::{ReplyToken, RequestError};

pub use abi;
/// Re-exported so generated code and API crates need no direct dependency on either.
pub use userlib;
pub use zerocopy;

/// The most leases one operation may take.
pub const MAX_LEASES: usize = 8;

/// The largest of `sizes`; sizes the receive buffer of a server from its argument structs.
pub const fn max_size(sizes: &[usize]) -> usize {
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
}
