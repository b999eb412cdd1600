//! The client half: sending a call, surviving a server's death, decoding the reply.

use core::cell::Cell;

use abi::{Incarnation, PeerGone};
use userlib::Lease;
use zerocopy::{Immutable, KnownLayout, TryFromBytes};

use crate::ErrorCode;

/// Why a call did not produce its operation's value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CallError<E> {
    /// The server answered with the operation's declared error.
    Op(E),
    /// The server was restarted (the call may or may not have taken effect) or is detached.
    /// Either way the client's cached id now names the server's current generation.
    Gone(PeerGone),
    /// The reply did not decode: a response code that is none of the operation's errors, or
    /// a reply of the wrong size or with invalid contents. This is a server bug; whether the
    /// call took effect is unknown.
    BadReply,
    /// The server dropped the call's reply token without answering it (a deferred
    /// operation whose server lost track of the call): a server bug, reported at once
    /// instead of leaving the caller blocked until the server restarts.
    Unanswered,
    /// The server reply-faulted the call (it judged the message malformed), and this task
    /// takes reply-faults as errors (`app.toml` `on-reply-fault = "error"`). Whether the
    /// server or the message was at fault is unknown.
    Refused(abi::ReplyFaultReason),
}

impl<E> From<PeerGone> for CallError<E> {
    fn from(gone: PeerGone) -> Self {
        CallError::Gone(gone)
    }
}

/// Whether a call may be repeated against a restarted server (`idempotent: true`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Retry {
    Never,
    /// Resend once if the server has been restarted. Not after a detach: an unavailable
    /// server is reported at once so the caller never waits for a restart that may not come.
    OnceAfterRestart,
}

/// Sends one call to the server incarnation `task` names, returning the reply length.
///
/// On a dead code `task` is updated to the incarnation the kernel reported (its full 32-bit
/// generation), so later calls go to the current incarnation.
pub fn send<E: ErrorCode>(
    task: &Cell<Incarnation>,
    operation: u16,
    args: &[u8],
    reply: &mut [u8],
    leases: &[Lease<'_>],
    retry: Retry,
) -> Result<usize, CallError<E>> {
    send_with(task, retry, |id| {
        userlib::sys_send(id, operation, args, reply, leases)
    })
}

/// [`send`] over any SEND primitive, so the retry rules can be tested on the host.
fn send_with<E: ErrorCode>(
    task: &Cell<Incarnation>,
    retry: Retry,
    mut send: impl FnMut(Incarnation) -> (u32, usize),
) -> Result<usize, CallError<E>> {
    let mut may_retry = retry == Retry::OnceAfterRestart;
    loop {
        let (code, len) = send(task.get());
        if code == 0 {
            return Ok(len);
        }
        if code == crate::UNANSWERED_CODE {
            return Err(CallError::Unanswered);
        }
        if let Some(reason) = abi::ReplyFaultReason::from_code(code) {
            return Err(CallError::Refused(reason));
        }
        let Some((gone, current)) = userlib::peer_gone(task.get(), code, len) else {
            return Err(u16::try_from(code)
                .ok()
                .and_then(E::from_code)
                .map_or(CallError::BadReply, CallError::Op));
        };
        task.set(current);
        match gone {
            PeerGone::Restarted(_) if may_retry => may_retry = false,
            _ => return Err(CallError::Gone(gone)),
        }
    }
}

/// Decodes the first `len` bytes of `reply` as the operation's value; the length must match
/// exactly.
pub fn decode_reply<T, E>(reply: &[u8], len: usize) -> Result<T, CallError<E>>
where
    T: TryFromBytes + KnownLayout + Immutable,
{
    reply
        .get(..len)
        .and_then(|bytes| T::try_read_from_bytes(bytes).ok())
        .ok_or(CallError::BadReply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use abi::Generation;
    use core::convert::Infallible;

    crate::error_enum! {
        enum TestError {
            Busy = 7,
        }
    }

    const SERVER: usize = 3;
    /// The scripted server has been restarted this many times more than a peer-gone code's
    /// 6 bits say: the client must keep the full generation the kernel returns next to it.
    const WRAPS: u32 = 64;

    fn id(generation: u32) -> Incarnation {
        Incarnation::new(SERVER, generation)
    }

    /// Runs `send_with` against a scripted server: one response code per attempt, with the
    /// reply length 4, or for a peer-gone code its generation plus `WRAPS`.
    fn run(
        retry: Retry,
        codes: &[u32],
    ) -> (Result<usize, CallError<TestError>>, Incarnation, usize) {
        let task = Cell::new(id(1));
        let mut attempts = 0;
        let result = send_with(&task, retry, |target| {
            assert_eq!(target, task.get(), "every attempt goes to the cached id");
            let code = codes[attempts];
            attempts += 1;
            match PeerGone::from_code(code) {
                Some(gone) => (code, (u32::from(gone.generation().0) + WRAPS) as usize),
                None => (code, 4),
            }
        });
        (result, task.get(), attempts)
    }

    #[test]
    fn a_reply_fault_taken_as_an_error_is_refused_and_never_retried() {
        let reason = abi::ReplyFaultReason::BadMessageSize;
        assert_eq!(
            run(Retry::OnceAfterRestart, &[reason.code()]),
            (Err(CallError::Refused(reason)), id(1), 1)
        );
    }

    #[test]
    fn a_dropped_token_is_unanswered_and_never_retried() {
        assert_eq!(
            run(Retry::OnceAfterRestart, &[crate::UNANSWERED_CODE]),
            (Err(CallError::Unanswered), id(1), 1)
        );
        for g in 0..64 {
            let codes = [
                PeerGone::Restarted(Generation(g)).code(),
                PeerGone::Unavailable(Generation(g)).code(),
            ];
            assert!(!codes.contains(&crate::UNANSWERED_CODE), "{g}");
        }
    }

    #[test]
    fn success_returns_reply_length() {
        assert_eq!(run(Retry::Never, &[0]), (Ok(4), id(1), 1));
    }

    #[test]
    fn idempotent_call_retries_once_against_the_new_generation() {
        let restarted = PeerGone::Restarted(Generation(2)).code();
        assert_eq!(
            run(Retry::OnceAfterRestart, &[restarted, 0]),
            (Ok(4), id(2 + WRAPS), 2)
        );
    }

    #[test]
    fn idempotent_call_reports_a_second_restart() {
        let first = PeerGone::Restarted(Generation(2)).code();
        let second = PeerGone::Restarted(Generation(3)).code();
        assert_eq!(
            run(Retry::OnceAfterRestart, &[first, second]),
            (
                Err(CallError::Gone(PeerGone::Restarted(Generation(3)))),
                id(3 + WRAPS),
                2
            )
        );
    }

    #[test]
    fn unavailable_server_is_never_retried() {
        let gone = PeerGone::Unavailable(Generation(2));
        assert_eq!(
            run(Retry::OnceAfterRestart, &[gone.code()]),
            (Err(CallError::Gone(gone)), id(2 + WRAPS), 1)
        );
    }

    #[test]
    fn non_idempotent_call_reports_restart_and_caches_generation() {
        let gone = PeerGone::Restarted(Generation(5));
        assert_eq!(
            run(Retry::Never, &[gone.code()]),
            (Err(CallError::Gone(gone)), id(5 + WRAPS), 1)
        );
    }

    #[test]
    fn declared_error_code_decodes_to_op_error() {
        assert_eq!(
            run(Retry::Never, &[7]).0,
            Err(CallError::Op(TestError::Busy))
        );
    }

    #[test]
    fn undeclared_codes_are_bad_replies() {
        assert_eq!(run(Retry::Never, &[8]).0, Err(CallError::BadReply));
        assert_eq!(run(Retry::Never, &[0x1_0007]).0, Err(CallError::BadReply));
    }

    #[test]
    fn reply_must_have_exactly_the_value_size() {
        let reply = 0x1234_5678u32.to_ne_bytes();
        assert_eq!(decode_reply::<u32, Infallible>(&reply, 4), Ok(0x1234_5678));
        assert_eq!(
            decode_reply::<u32, Infallible>(&reply, 3),
            Err(CallError::BadReply)
        );
        assert_eq!(
            decode_reply::<u32, Infallible>(&reply, 5),
            Err(CallError::BadReply)
        );
        assert_eq!(
            decode_reply::<bool, Infallible>(&[2], 1),
            Err(CallError::BadReply)
        );
        assert_eq!(decode_reply::<(), Infallible>(&[], 0), Ok(()));
    }
}
