//! The server half: receiving, validating, and answering calls.
//!
//! Generated code describes each operation once, as an [`OpSpec`] table indexed by
//! operation number, and [`recv`] checks a message against it in this order, answering the
//! first failure with REPLY_FAULT:
//!
//! | check | fault |
//! |---|---|
//! | operation number is in the table | `UndefinedOperation` |
//! | caller is on the operation's allow-list, if it has one | `AccessViolation` |
//! | message length is exactly the argument struct's size | `BadMessageSize` |
//! | reply buffer holds the reply value | `ReplyBufferTooSmall` |
//! | lease count is exactly the declared count | `BadLeases` |
//! | each lease has the declared direction, and the exact size (`T`) or a whole number of elements no more than `max_len` (`[T]`) | `BadLeases` |
//!
//! Generated code then decodes the arguments (`BadMessageContents` if a `bool` or enum
//! field holds an invalid value) and calls the implementation. A client that died while its
//! leases were being checked gets no reply at all.

use abi::{Incarnation, ReplyFaultReason, TaskId};
use core::marker::PhantomData;
use core::mem::size_of;
use userlib::{BorrowError, LeaseInfo, RecvMessage};
use zerocopy::{Immutable, IntoBytes, KnownLayout, TryFromBytes};

use crate::{Access, ErrorCode, LeaseError, Leased, MAX_LEASES};

/// How a server implementation answers a call that did not succeed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RequestError<E> {
    /// Reply with the operation's declared error.
    Op(E),
    /// Fault the client: its request was malformed in a way only the implementation can see.
    Fault(ReplyFaultReason),
    /// The client died or was detached mid-call: send nothing.
    ClientGone,
}

impl<E> From<LeaseError> for RequestError<E> {
    fn from(error: LeaseError) -> Self {
        match error {
            LeaseError::OutOfBounds => RequestError::Fault(ReplyFaultReason::BadLeases),
            LeaseError::ClientGone => RequestError::ClientGone,
        }
    }
}

/// One operation of an interface, as the dispatcher checks it.
pub struct OpSpec<O> {
    pub operation: O,
    /// Size of the argument struct; messages must be exactly this long.
    pub args_size: usize,
    /// Size of the reply value; the client's reply buffer must hold it.
    pub reply_size: usize,
    pub leases: &'static [LeaseSpec],
    /// Task indices allowed to call (`app.toml`), or `None` for any task.
    pub allowed_callers: Option<&'static [u16]>,
}

/// One declared lease.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct LeaseSpec {
    /// Attribute bits the client's lease must include.
    attributes: u32,
    shape: LeaseShape,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum LeaseShape {
    /// A single value of exactly this many bytes.
    Value { size: usize },
    /// Whole elements of this many bytes, at most `max_len` of them.
    Slice {
        element_size: usize,
        max_len: Option<usize>,
    },
}

impl LeaseSpec {
    /// A lease of one `T`.
    pub const fn value<A: Access, T>() -> Self {
        LeaseSpec {
            attributes: A::ATTRIBUTES,
            shape: LeaseShape::Value {
                size: size_of::<T>(),
            },
        }
    }

    /// A lease of a `[T]` of at most `max_len` elements.
    pub const fn slice<A: Access, T>(max_len: Option<usize>) -> Self {
        LeaseSpec {
            attributes: A::ATTRIBUTES,
            shape: LeaseShape::Slice {
                element_size: size_of::<T>(),
                max_len,
            },
        }
    }

    fn admits(&self, lease: &LeaseInfo) -> bool {
        let direction_ok = lease.attributes & self.attributes == self.attributes;
        let length_ok = match self.shape {
            LeaseShape::Value { size } => lease.len == size,
            LeaseShape::Slice {
                element_size,
                max_len,
            } => match (
                lease.len.checked_rem(element_size),
                lease.len.checked_div(element_size),
            ) {
                (Some(0), Some(count)) => max_len.is_none_or(|max| count <= max),
                // Zero-sized elements: only an empty lease is a whole number of them.
                _ => lease.len == 0,
            },
        };
        direction_ok && length_ok
    }
}

/// What one receive produced.
pub enum Incoming<O> {
    /// Notification bits fired (the message came from the kernel).
    Notification(u32),
    /// A call that passed every table check.
    Call(Call<O>),
    /// A malformed call whose sender has been faulted, or one whose sender went away.
    Refused,
}

/// A validated call, answered exactly once: at once by [`Call::reply`], or later through
/// the [`ReplyToken`] that [`Call::defer`] turns it into.
pub struct Call<O> {
    pub msg: RecvMessage,
    pub operation: O,
    lease_lens: [usize; MAX_LEASES],
}

impl<O> Call<O> {
    /// Decodes the argument struct from the receive buffer.
    pub fn args<T, E>(&self, buffer: &[u8]) -> Result<T, RequestError<E>>
    where
        T: TryFromBytes + KnownLayout + Immutable,
    {
        buffer
            .get(..size_of::<T>())
            .and_then(|bytes| T::try_read_from_bytes(bytes).ok())
            .ok_or(RequestError::Fault(ReplyFaultReason::BadMessageContents))
    }

    /// Lease number `index`, already checked against the operation's [`LeaseSpec`].
    pub fn lease<A: Access, T: ?Sized>(&self, index: usize) -> Leased<A, T> {
        let len = self.lease_lens.get(index).copied().unwrap_or(0);
        Leased::new(self.msg.sender, index, len)
    }

    /// Answers the call: the value, the operation's error code, a fault, or nothing if the
    /// client has gone.
    pub fn reply<T, E>(self, result: Result<T, RequestError<E>>)
    where
        T: IntoBytes + Immutable,
        E: ErrorCode,
    {
        answer(self.msg.sender, result);
    }

    /// Keeps the caller waiting: the returned token, which owns the call's `leases`,
    /// answers it later (see the crate's "Deferred replies").
    pub fn defer<T, E, L>(self, leases: L) -> ReplyToken<T, E, L> {
        ReplyToken {
            caller: self.msg.sender,
            answered: false,
            leases,
            _reply: PhantomData,
        }
    }
}

/// The one encoding of an answer, whether given at once or through a [`ReplyToken`].
///
/// The REPLY and REPLY_FAULT syscalls name the caller by its exact incarnation, so the
/// kernel delivers nothing to a caller that has since died, been detached or restarted, and
/// nothing to a live one no longer waiting on this server; the server is never faulted for
/// it.
fn answer<T, E>(client: Incarnation, result: Result<T, RequestError<E>>)
where
    T: IntoBytes + Immutable,
    E: ErrorCode,
{
    match result {
        Ok(value) => userlib::sys_reply(client, 0, value.as_bytes()),
        Err(RequestError::Op(error)) => userlib::sys_reply(client, error.code().into(), &[]),
        Err(RequestError::Fault(reason)) => userlib::sys_reply_fault(client, reason),
        Err(RequestError::ClientGone) => {}
    }
}

/// The right to answer one call of a deferred operation (`deferred: true` in the `.idol`
/// file): its caller stays blocked in SEND until the token is answered.
///
/// It names the caller by its exact incarnation and owns the call's leases (`L`, a struct
/// of [`Leased`] the stub generates, or `()`), so the server can fill the caller's buffers
/// when the work completes. It is neither `Copy` nor `Clone`, and every answer consumes it,
/// so a call cannot be answered twice, and no lease outlives the answer (a kept lease could
/// otherwise reach the buffers of the same caller's *next* call). See the crate's
/// "Deferred replies" for what each answer and access does once the caller is gone.
///
/// ```compile_fail
/// # use idol_runtime::ReplyToken;
/// fn twice(token: ReplyToken<u32, core::convert::Infallible>) {
///     token.reply(1);
///     token.reply(2); // use of moved value: a token answers once
/// }
/// ```
///
/// ```compile_fail
/// # use idol_runtime::ReplyToken;
/// type Token = ReplyToken<u32, core::convert::Infallible>;
/// fn copy(token: &Token) -> Token {
///     token.clone() // no second token for the same call
/// }
/// ```
#[must_use = "the caller stays blocked until its token is answered"]
pub struct ReplyToken<T, E, L = ()> {
    caller: Incarnation,
    /// Set by the answer; a token dropped without one answers [`crate::UNANSWERED_CODE`].
    answered: bool,
    leases: L,
    /// The reply value and error types of the operation, fixed by the generated stub.
    _reply: PhantomData<fn(T, E)>,
}

impl<T, E, L> ReplyToken<T, E, L>
where
    T: IntoBytes + Immutable,
    E: ErrorCode,
{
    /// The caller's exact incarnation, as RECV reported it.
    pub fn caller(&self) -> Incarnation {
        self.caller
    }

    /// The call's leases, valid while the token is held and the caller waits. An access
    /// after the caller died or was restarted fails with [`LeaseError::ClientGone`].
    pub fn leases(&self) -> &L {
        &self.leases
    }

    /// Answers with `value`, as an immediate reply of `Ok(value)` would.
    pub fn reply(self, value: T) {
        self.answer(Ok(value));
    }

    /// Answers with the operation's error `error`.
    pub fn reply_err(self, error: E) {
        self.answer(Err(RequestError::Op(error)));
    }

    /// Answers with `result`, exactly as a method of an immediate operation returning it:
    /// a value, an operation error, a fault of the caller, or nothing (`ClientGone`).
    pub fn answer(mut self, result: Result<T, RequestError<E>>) {
        answer(self.caller, result);
        self.answered = true;
    }
}

/// A token dropped unanswered (replaced, forgotten in an error path, or its holder's state
/// reset) still ends its call: the caller is woken with [`crate::UNANSWERED_CODE`] rather
/// than left blocked until this server restarts. Like every answer, it reaches only the
/// incarnation that called, and never faults the server.
impl<T, E, L> Drop for ReplyToken<T, E, L> {
    fn drop(&mut self) {
        if !self.answered {
            userlib::sys_reply(self.caller, crate::UNANSWERED_CODE, &[]);
        }
    }
}

/// Receives one message into `buffer` and checks it against `operations` (operation `n` is
/// `operations[n - 1]`), faulting the sender of a malformed call.
pub fn recv<O: Copy>(
    buffer: &mut [u8],
    notification_mask: u32,
    operations: &[OpSpec<O>],
) -> Incoming<O> {
    let msg = userlib::sys_recv_open(buffer, notification_mask);
    if msg.sender == TaskId::KERNEL {
        return Incoming::Notification(msg.operation);
    }
    match validate(&msg, operations, |index| {
        userlib::sys_borrow_info(msg.sender, index)
    }) {
        Ok((operation, lease_lens)) => Incoming::Call(Call {
            msg,
            operation,
            lease_lens,
        }),
        Err(Rejection::Fault(reason)) => {
            userlib::sys_reply_fault(msg.sender, reason);
            Incoming::Refused
        }
        Err(Rejection::ClientGone) => Incoming::Refused,
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Rejection {
    Fault(ReplyFaultReason),
    ClientGone,
}

/// The table checks of [`recv`], over any BORROW_INFO primitive so they run on the host.
/// Returns the operation and its lease lengths.
fn validate<O: Copy>(
    msg: &RecvMessage,
    operations: &[OpSpec<O>],
    mut lease_info: impl FnMut(usize) -> Result<LeaseInfo, BorrowError>,
) -> Result<(O, [usize; MAX_LEASES]), Rejection> {
    let fault = |reason| Err(Rejection::Fault(reason));
    let Some(spec) = (msg.operation as usize)
        .checked_sub(1)
        .and_then(|index| operations.get(index))
    else {
        return fault(ReplyFaultReason::UndefinedOperation);
    };
    let caller = msg.sender.index();
    if spec
        .allowed_callers
        .is_some_and(|allowed| !allowed.iter().any(|&index| usize::from(index) == caller))
    {
        return fault(ReplyFaultReason::AccessViolation);
    }
    if msg.message_len != spec.args_size {
        return fault(ReplyFaultReason::BadMessageSize);
    }
    if msg.response_capacity < spec.reply_size {
        return fault(ReplyFaultReason::ReplyBufferTooSmall);
    }
    if msg.lease_count != spec.leases.len() || spec.leases.len() > MAX_LEASES {
        return fault(ReplyFaultReason::BadLeases);
    }
    let mut lease_lens = [0; MAX_LEASES];
    for (index, (declared, len)) in spec.leases.iter().zip(&mut lease_lens).enumerate() {
        let info = lease_info(index).map_err(|_| Rejection::ClientGone)?;
        if !declared.admits(&info) {
            return fault(ReplyFaultReason::BadLeases);
        }
        *len = info.len;
    }
    Ok((spec.operation, lease_lens))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Read, ReadWrite, Write};
    use abi::{Generation, Incarnation, PeerGone, lease_attributes::*};

    const CALLER: usize = 4;

    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    enum Op {
        Plain,
        Leasing,
        Restricted,
    }

    const LEASES: &[LeaseSpec] = &[
        LeaseSpec::slice::<Read, u8>(Some(8)),
        LeaseSpec::slice::<Write, u32>(None),
        LeaseSpec::value::<ReadWrite, u64>(),
    ];

    const OPS: &[OpSpec<Op>] = &[
        OpSpec {
            operation: Op::Plain,
            args_size: 4,
            reply_size: 2,
            leases: &[],
            allowed_callers: None,
        },
        OpSpec {
            operation: Op::Leasing,
            args_size: 0,
            reply_size: 0,
            leases: LEASES,
            allowed_callers: None,
        },
        OpSpec {
            operation: Op::Restricted,
            args_size: 0,
            reply_size: 0,
            leases: &[],
            allowed_callers: Some(&[1, CALLER as u16]),
        },
    ];

    fn message(operation: u32, message_len: usize, lease_count: usize) -> RecvMessage {
        RecvMessage {
            sender: Incarnation::new(CALLER, 3),
            operation,
            message_len,
            response_capacity: 2,
            lease_count,
        }
    }

    fn lease(attributes: u32, len: usize) -> Result<LeaseInfo, BorrowError> {
        Ok(LeaseInfo { attributes, len })
    }

    /// Validates `msg` with the client lending `leases`.
    fn check(
        msg: RecvMessage,
        leases: &[Result<LeaseInfo, BorrowError>],
    ) -> Result<(Op, [usize; MAX_LEASES]), Rejection> {
        validate(&msg, OPS, |index| match &leases[index] {
            Ok(info) => Ok(LeaseInfo {
                attributes: info.attributes,
                len: info.len,
            }),
            Err(_) => Err(BorrowError::LenderNotWaiting),
        })
    }

    fn good_leases() -> [Result<LeaseInfo, BorrowError>; 3] {
        [
            lease(READ, 8),
            lease(WRITE | READ, 12),
            lease(READ | WRITE, 8),
        ]
    }

    fn faulted(reason: ReplyFaultReason) -> Result<(Op, [usize; MAX_LEASES]), Rejection> {
        Err(Rejection::Fault(reason))
    }

    #[test]
    fn well_formed_calls_pass_with_their_lease_lengths() {
        assert_eq!(
            check(message(1, 4, 0), &[]),
            Ok((Op::Plain, [0; MAX_LEASES]))
        );
        assert_eq!(
            check(message(2, 0, 3), &good_leases()),
            Ok((Op::Leasing, [8, 12, 8, 0, 0, 0, 0, 0]))
        );
    }

    #[test]
    fn unknown_operations_are_undefined() {
        for op in [0, 4, u32::MAX] {
            assert_eq!(
                check(message(op, 0, 0), &[]),
                faulted(ReplyFaultReason::UndefinedOperation)
            );
        }
    }

    #[test]
    fn messages_of_the_wrong_size_are_refused() {
        for len in [0, 3, 5, 4096] {
            assert_eq!(
                check(message(1, len, 0), &[]),
                faulted(ReplyFaultReason::BadMessageSize)
            );
        }
    }

    #[test]
    fn small_reply_buffers_are_refused() {
        let mut msg = message(1, 4, 0);
        msg.response_capacity = 1;
        assert_eq!(
            check(msg, &[]),
            faulted(ReplyFaultReason::ReplyBufferTooSmall)
        );
    }

    #[test]
    fn wrong_lease_counts_are_refused() {
        assert_eq!(
            check(message(1, 4, 1), &[]),
            faulted(ReplyFaultReason::BadLeases)
        );
        assert_eq!(
            check(message(2, 0, 2), &good_leases()),
            faulted(ReplyFaultReason::BadLeases)
        );
    }

    /// Replaces one good lease at a time with a bad one; each call must be refused.
    fn assert_each_lease_refused(cases: [(usize, Result<LeaseInfo, BorrowError>); 4]) {
        for (index, bad) in cases {
            let mut leases = good_leases();
            leases[index] = bad;
            assert_eq!(
                check(message(2, 0, 3), &leases),
                faulted(ReplyFaultReason::BadLeases)
            );
        }
    }

    #[test]
    fn leases_without_the_declared_direction_are_refused() {
        let cases = [
            (0, lease(WRITE, 8)),
            (1, lease(READ, 12)),
            (2, lease(READ, 8)),
            (2, lease(WRITE, 8)),
        ];
        assert_each_lease_refused(cases);
    }

    #[test]
    fn leases_of_the_wrong_length_are_refused() {
        let cases = [
            (0, lease(READ, 9)),         // over max_len
            (1, lease(WRITE, 13)),       // not whole u32s
            (2, lease(READ | WRITE, 7)), // not exactly one u64
            (2, lease(READ | WRITE, 16)),
        ];
        assert_each_lease_refused(cases);
    }

    #[test]
    fn empty_and_unbounded_slices_are_allowed() {
        let mut leases = good_leases();
        leases[0] = lease(READ, 0);
        leases[1] = lease(WRITE, 4 * 1000);
        assert!(check(message(2, 0, 3), &leases).is_ok());
    }

    #[test]
    fn a_client_that_died_mid_check_gets_no_reply() {
        let mut leases = good_leases();
        leases[1] = Err(BorrowError::LenderGone(PeerGone::Restarted(Generation(4))));
        assert_eq!(check(message(2, 0, 3), &leases), Err(Rejection::ClientGone));
    }

    #[test]
    fn callers_off_the_allow_list_are_refused() {
        assert!(check(message(3, 0, 0), &[]).is_ok());
        let mut msg = message(3, 0, 0);
        msg.sender = Incarnation::new(2, 0);
        assert_eq!(check(msg, &[]), faulted(ReplyFaultReason::AccessViolation));
    }

    #[test]
    fn zero_sized_elements_admit_only_empty_leases() {
        let spec = LeaseSpec::slice::<Read, ()>(None);
        assert!(spec.admits(&LeaseInfo {
            attributes: READ,
            len: 0
        }));
        assert!(!spec.admits(&LeaseInfo {
            attributes: READ,
            len: 1
        }));
    }

    #[test]
    fn lease_errors_map_to_fault_or_silence() {
        assert_eq!(
            RequestError::<()>::from(LeaseError::OutOfBounds),
            RequestError::Fault(ReplyFaultReason::BadLeases)
        );
        assert_eq!(
            RequestError::<()>::from(LeaseError::ClientGone),
            RequestError::ClientGone
        );
    }
}
