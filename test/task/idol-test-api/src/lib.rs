//! Client of the `idol-tests` image's server (`idl/idol-test.idol`): `IdolTestClient`, the
//! types its operations carry, the commands of the rogue task that sends that server
//! malformed calls ([`Malformed`]), and those of the caller tasks that wait in its deferred
//! `park` ([`caller`]).
#![no_std]

use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, TryFromBytes};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why `bump` refused.
    pub enum IdolTestError {
        /// The counter would pass `u32::MAX`.
        Overflow = 1,
        /// `park`: two calls already wait.
        Full = 2,
        /// `release`: no call waits with this tag.
        NotParked = 3,
        /// `release`: the waiting caller's lease could not be written: it died or was
        /// restarted.
        CallerGone = 4,
    }
}

/// `park`'s reply: the tag it was released with, and how many `park` calls this
/// incarnation of the server had answered by then (1 for the first), which shows the
/// order callers were answered in.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct Answer {
    pub tag: u32,
    pub order: u32,
}

/// The commands of the caller tasks (`test/task/idol-test-caller`), which the suite uses to keep
/// callers blocked in `park` while it goes on.
pub mod caller {
    use super::{FromBytes, Immutable, IntoBytes, KnownLayout};

    /// Operation code: answered at once, then the caller calls `park` with the `u32` tag
    /// of the message (little-endian), lending `LEASE_LEN` bytes of a buffer.
    pub const PARK: u16 = 1;
    /// Operation code: answered with a [`ParkReport`] once that `park` call has returned.
    pub const REPORT: u16 = 2;
    /// How many bytes the caller lends `park`.
    pub const LEASE_LEN: usize = 16;
    /// Bytes of the caller's buffer just past the lease, which no one may write.
    pub const GUARD_LEN: usize = 4;
    /// What the guard bytes and the unwritten lease hold.
    pub const UNTOUCHED: u8 = 0x5A;
    /// [`ParkReport::code`] of a `park` whose token the server dropped unanswered
    /// (`CallError::Unanswered`).
    pub const UNANSWERED: u32 = u32::MAX - 1;

    /// How the last `park` call ended.
    #[derive(Copy, Clone, Debug, IntoBytes, FromBytes, KnownLayout, Immutable)]
    #[zerocopy(crate = "idol_runtime::zerocopy")]
    #[repr(C)]
    pub struct ParkReport {
        /// 0 for an answer, an `IdolTestError` code, [`UNANSWERED`], or `u32::MAX` for any
        /// other failure.
        pub code: u32,
        pub answer: super::Answer,
        /// The lease, then the guard bytes.
        pub buffer: [u8; LEASE_LEN + GUARD_LEN],
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
