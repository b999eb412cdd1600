//! Client of the `idol-tests` image's server (`idl/idol-test.idol`): `IdolTestClient`, the
//! types its operations carry, and the commands of the rogue task that sends that server
//! malformed calls ([`Malformed`]).
#![no_std]

use idol_runtime::zerocopy::{Immutable, IntoBytes, KnownLayout, TryFromBytes};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why `bump` refused.
    pub enum IdolTestError {
        /// The counter would pass `u32::MAX`.
        Overflow = 1,
    }
}

/// The server's mode (`set_mode`). Only these values are valid on the wire, so any other
/// byte in its place is refused with `BadMessageContents`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(u8)]
pub enum Mode {
    Idle = 0,
    Busy = 1,
}

/// One malformed call the rogue sends the server, raw, when the suite asks for it; the
/// server must fault the rogue for it. The command is the SEND operation code of the
/// suite's call to the rogue, which the rogue never answers: it is faulted first.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Malformed {
    /// An operation number the interface does not have.
    UnknownOperation = 1,
    /// `bump` with a 2-byte message instead of its 4-byte `u32`.
    WrongMessageSize = 2,
    /// `total` with a 2-byte reply buffer for its `u32`.
    ReplyBufferTooSmall = 3,
    /// `sum` without its lease.
    MissingLease = 4,
    /// `sum` with its lease lent write-only instead of read-only.
    WrongLeaseDirection = 5,
    /// `sum` with 17 `u32`s, one past `max_len`.
    LeaseTooLong = 6,
    /// `set_mode` with 2 in its `bool`.
    InvalidBool = 7,
    /// `set_mode` with a mode byte no `Mode` has.
    InvalidEnum = 8,
    /// `restricted`, which the rogue is not allowed to call.
    NotOnAllowList = 9,
}

impl Malformed {
    pub const ALL: [Malformed; 9] = [
        Malformed::UnknownOperation,
        Malformed::WrongMessageSize,
        Malformed::ReplyBufferTooSmall,
        Malformed::MissingLease,
        Malformed::WrongLeaseDirection,
        Malformed::LeaseTooLong,
        Malformed::InvalidBool,
        Malformed::InvalidEnum,
        Malformed::NotOnAllowList,
    ];

    /// The command a SEND operation code names, if any.
    pub fn from_operation(operation: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u32 == operation)
    }
}
