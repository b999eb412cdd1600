//! The idol test suite: the generated client and server stubs (`idl/idol-test.idol`) over
//! the real kernel in QEMU.
//!
//! Each test prints `TEST <name> ok` or `TEST <name> FAIL <why>` through the runner (the
//! image's supervisor, `test/task/test-runner`, which records and detaches every faulted task);
//! `cargo xtask test` turns those lines into results. Before each test the server, the
//! rogue and the two callers are restarted, so every test starts from fresh incarnations.
//!
//! What is covered, and how:
//!
//! | behaviour | how |
//! |---|---|
//! | read, write and read-write leases | `sum`, `fill`, `reverse` through the client |
//! | operation errors and argument decoding | `bump` overflowing, `set_mode` |
//! | allow-lists admit listed callers | the suite (listed in app.toml) calls `restricted` |
//! | server death mid-call | `crash`: the server panics while the suite awaits its reply |
//! | idempotent retry | the runner restarts the server between two calls |
//! | detached server | the runner detaches the server; the call fails at once |
//! | every malformed call | the rogue sends it raw and is faulted by the dispatcher |
//! | deferred replies, in any order | two caller tasks wait in `park`; `release` answers them in reverse |
//! | a deferred answer reaches only its own incarnation | a caller is restarted while waiting, and its new incarnation waits too |
//! | a token dropped unanswered ends its call with `CallError::Unanswered` at once | the server drops a parked call's token |
//! | lease access through a held token | `release` fills the waiting caller's lease; the caller reports its buffer and the guard past it |
//! | a dead caller's token | the caller is detached while waiting; the lease write errors and the server runs on |
#![no_std]
#![no_main]

use idol_runtime::zerocopy::FromBytes;
use idol_runtime::{CallError, PeerGone};
use idol_test_api::caller::{self, GUARD_LEN, LEASE_LEN, ParkReport, UNTOUCHED};
use idol_test_api::{Answer, IdolTestClient, IdolTestError, Malformed, Mode};
use test_runner_api::{Outcome, Test, TestRunnerClient, check, run_tests};
use userlib::{
    FaultInfo, Incarnation, ReplyFaultReason, sys_get_timer, sys_recv_notification,
    sys_refresh_incarnation, sys_send, task_slot,
};

task_slot!(RUNNER, runner);
task_slot!(SERVER, server);
task_slot!(ROGUE, rogue);
task_slot!(CALLER_A, caller_a);
task_slot!(CALLER_B, caller_b);

/// This task's index: app.toml lists it right after the runner, which reports a fault of
/// task 1 as the suite's.
const SUITE_INDEX: u16 = 1;

fn runner() -> TestRunnerClient {
    TestRunnerClient::new(RUNNER)
}

fn log(text: &[u8]) {
    let _ = runner().log(text);
}

/// The current incarnation of the task in `slot`.
fn id(slot: Incarnation) -> Incarnation {
    sys_refresh_incarnation(slot)
}

fn restart(slot: Incarnation) -> Incarnation {
    test_runner_api::restart(&runner(), slot)
}

/// A client of the server's current incarnation.
fn server() -> IdolTestClient {
    IdolTestClient::new(id(SERVER))
}

fn take_fault(slot: Incarnation) -> Option<FaultInfo> {
    let mut raw = [0u8; 12];
    let found = runner().take_fault(slot.index() as u32, &mut raw).ok()?;
    let word =
        |i: usize| u32::from_le_bytes([raw[i * 4], raw[i * 4 + 1], raw[i * 4 + 2], raw[i * 4 + 3]]);
    (found == 1)
        .then(|| FaultInfo::decode([word(0), word(1), word(2)]))
        .flatten()
}

fn now() -> u64 {
    sys_get_timer().now
}

// ---------------------------------------------------------------- well-formed calls

fn read_lease_is_read_by_server() -> Outcome {
    let server = server();
    check!(
        server.sum(&[1, 2, 3, 40]) == Ok(46),
        "sum of a read lease wrong"
    );
    check!(server.sum(&[]) == Ok(0), "sum of an empty lease wrong");
    Ok(())
}

fn write_lease_is_filled_by_server() -> Outcome {
    let mut out = [0u8; 10];
    check!(
        server().fill(0xA5, &mut out) == Ok(10),
        "fill did not report the lease length"
    );
    check!(out == [0xA5; 10], "write lease not filled");
    Ok(())
}

fn read_write_lease_is_updated_in_place() -> Outcome {
    let mut data = *b"abcdef";
    check!(server().reverse(&mut data) == Ok(()), "reverse failed");
    check!(&data == b"fedcba", "read-write lease not reversed in place");
    Ok(())
}

fn declared_error_reaches_client_as_op_error() -> Outcome {
    let server = server();
    check!(server.bump(u32::MAX - 1) == Ok(u32::MAX - 1), "bump failed");
    check!(
        server.bump(2) == Err(CallError::Op(IdolTestError::Overflow)),
        "overflow not reported as the operation's error"
    );
    check!(
        server.total() == Ok(u32::MAX - 1),
        "a refused bump changed the counter"
    );
    Ok(())
}

fn enum_and_bool_arguments_round_trip() -> Outcome {
    let server = server();
    check!(server.bump(7) == Ok(7), "bump failed");
    check!(
        server.set_mode(Mode::Busy, false) == Ok(Mode::Idle),
        "first mode not Idle"
    );
    check!(server.total() == Ok(7), "reset = false zeroed the counter");
    check!(
        server.set_mode(Mode::Idle, true) == Ok(Mode::Busy),
        "mode not kept"
    );
    check!(
        server.total() == Ok(0),
        "reset = true did not zero the counter"
    );
    Ok(())
}

fn listed_caller_reaches_restricted_operation() -> Outcome {
    check!(
        server().restricted() == Ok(SUITE_INDEX),
        "the suite was not let through, or not named as the caller"
    );
    Ok(())
}

// ---------------------------------------------------------------- server death and restarts

fn server_death_mid_call_is_gone() -> Outcome {
    let server = server();
    let result = server.crash();
    let detached = id(SERVER).id.generation();
    check!(
        result == Err(CallError::Gone(PeerGone::Unavailable(detached))),
        "caller of a dying server not released as Gone(Unavailable)"
    );
    check!(
        server.task().id.generation() == detached,
        "client did not cache the generation it was told"
    );
    check!(
        take_fault(SERVER) == Some(FaultInfo::Panic),
        "server's panic not recorded"
    );
    Ok(())
}

fn idempotent_call_is_retried_against_the_new_incarnation() -> Outcome {
    let server = server();
    check!(server.bump(3) == Ok(3), "bump failed");
    let new = restart(SERVER);
    // The counter reads 0: the answer came from the new incarnation, not an error.
    check!(
        server.total() == Ok(0),
        "idempotent call not retried transparently after a restart"
    );
    check!(
        server.task() == new,
        "client not following the new incarnation"
    );
    Ok(())
}

fn non_idempotent_call_reports_the_restart() -> Outcome {
    let server = server();
    check!(server.bump(3) == Ok(3), "bump failed");
    let new = restart(SERVER);
    check!(
        server.bump(1) == Err(CallError::Gone(PeerGone::Restarted(new.id.generation()))),
        "non-idempotent call not reported as Gone(Restarted)"
    );
    // The failed call never reached the new incarnation, and the next one does.
    check!(
        server.bump(1) == Ok(1),
        "client did not reach the new incarnation after the error"
    );
    Ok(())
}

fn detached_server_is_unavailable_at_once() -> Outcome {
    let server = server();
    let _ = runner().detach(SERVER.index() as u32);
    let detached = id(SERVER).id.generation();
    let before = now();
    let result = server.total();
    // A tick may land between the two clock reads, but no wait for a restart may.
    check!(now() - before <= 1, "call to a detached server waited");
    check!(
        result == Err(CallError::Gone(PeerGone::Unavailable(detached))),
        "idempotent call to a detached server not reported as Gone(Unavailable)"
    );
    // Restarting a detached task keeps its generation, so the cached id is current.
    restart(SERVER);
    check!(
        server.total() == Ok(0),
        "client did not reach the server once it was back"
    );
    Ok(())
}

// ---------------------------------------------------------------- malformed calls

/// Has the rogue send `case` and checks the server faulted it for `reason`.
fn rogue_is_faulted(case: Malformed, reason: ReplyFaultReason) -> Outcome {
    let (code, _) = sys_send(id(ROGUE), case as u16, &[], &mut [], &[]);
    check!(code != 0, "the server accepted the malformed call");
    check!(
        matches!(PeerGone::from_code(code), Some(PeerGone::Unavailable(_))),
        "the rogue was not detached"
    );
    check!(
        take_fault(ROGUE) == Some(FaultInfo::FromServer(id(SERVER).id, reason)),
        "the rogue was not faulted by the server for the expected reason"
    );
    check!(
        server().total() == Ok(0),
        "the server stopped serving after refusing a call"
    );
    Ok(())
}

fn unknown_operation_is_undefined_operation() -> Outcome {
    rogue_is_faulted(
        Malformed::UnknownOperation,
        ReplyFaultReason::UndefinedOperation,
    )
}

fn wrong_message_size_is_bad_message_size() -> Outcome {
    rogue_is_faulted(
        Malformed::WrongMessageSize,
        ReplyFaultReason::BadMessageSize,
    )
}

fn small_reply_buffer_is_reply_buffer_too_small() -> Outcome {
    rogue_is_faulted(
        Malformed::ReplyBufferTooSmall,
        ReplyFaultReason::ReplyBufferTooSmall,
    )
}

fn missing_lease_is_bad_leases() -> Outcome {
    rogue_is_faulted(Malformed::MissingLease, ReplyFaultReason::BadLeases)
}

fn wrong_lease_direction_is_bad_leases() -> Outcome {
    rogue_is_faulted(Malformed::WrongLeaseDirection, ReplyFaultReason::BadLeases)
}

fn lease_past_max_len_is_bad_leases() -> Outcome {
    rogue_is_faulted(Malformed::LeaseTooLong, ReplyFaultReason::BadLeases)
}

fn invalid_bool_is_bad_message_contents() -> Outcome {
    rogue_is_faulted(Malformed::InvalidBool, ReplyFaultReason::BadMessageContents)
}

fn invalid_enum_is_bad_message_contents() -> Outcome {
    rogue_is_faulted(Malformed::InvalidEnum, ReplyFaultReason::BadMessageContents)
}

fn caller_off_the_allow_list_is_access_violation() -> Outcome {
    rogue_is_faulted(Malformed::NotOnAllowList, ReplyFaultReason::AccessViolation)
}

// ---------------------------------------------------------------- deferred replies

/// Has the caller task in `slot` call `park(tag)` and wait there.
fn park_in(slot: Incarnation, tag: u32) -> Outcome {
    let (code, _) = sys_send(id(slot), caller::PARK, &tag.to_le_bytes(), &mut [], &[]);
    check!(code == 0, "a caller task did not take the PARK command");
    Ok(())
}

/// How the `park` call of the caller task in `slot` ended; waits until it has.
fn report(slot: Incarnation) -> Result<ParkReport, &'static str> {
    let mut raw = [0u8; size_of::<ParkReport>()];
    let (code, len) = sys_send(id(slot), caller::REPORT, &[], &mut raw, &[]);
    if code != 0 || len != raw.len() {
        return Err("a caller task did not report its park call");
    }
    ParkReport::read_from_bytes(&raw).map_err(|_| "a caller task's report did not decode")
}

/// Checks `report` is the answer `expected`, with the lease all `fill` and the guard bytes
/// past it untouched.
fn check_answered(report: &ParkReport, expected: Answer, fill: u8) -> Outcome {
    check!(report.code == 0, "park ended with an error, not the answer");
    check!(
        report.answer == expected,
        "park got another call's answer, or answers came in the wrong order"
    );
    let (lease, guard) = report.buffer.split_at(LEASE_LEN);
    check!(lease[0] == fill, "first byte of the lease not written");
    check!(
        lease[LEASE_LEN - 1] == fill,
        "last byte of the lease not written"
    );
    check!(
        lease.iter().all(|&b| b == fill),
        "lease not filled through the token"
    );
    check!(
        guard == [UNTOUCHED; GUARD_LEN],
        "bytes past the lease were written"
    );
    Ok(())
}

/// The server is the incarnation `before`, never faulted, and still answers.
fn server_ran_on(before: Incarnation) -> Outcome {
    check!(
        take_fault(SERVER).is_none(),
        "the server faulted answering a gone caller"
    );
    check!(id(SERVER) == before, "the server was restarted");
    check!(server().total() == Ok(0), "the server stopped serving");
    Ok(())
}

fn deferred_callers_are_answered_in_the_opposite_order() -> Outcome {
    park_in(CALLER_A, 1)?;
    park_in(CALLER_B, 2)?;
    let server = server();
    let mut third = [0u8; LEASE_LEN];
    check!(
        server.park(3, &mut third) == Err(CallError::Op(IdolTestError::Full)),
        "a third park was not refused at once while two callers wait"
    );
    check!(
        server.release(2, 0xB2) == Ok(LEASE_LEN as u32),
        "release of the second caller failed"
    );
    check!(
        server.release(1, 0xA1) == Ok(LEASE_LEN as u32),
        "release of the first caller failed"
    );
    check_answered(&report(CALLER_B)?, Answer { tag: 2, order: 1 }, 0xB2)?;
    check_answered(&report(CALLER_A)?, Answer { tag: 1, order: 2 }, 0xA1)?;
    check!(
        server.release(1, 0) == Err(CallError::Op(IdolTestError::NotParked)),
        "an answered call could be released again"
    );
    Ok(())
}

fn deferred_lease_write_lands_in_the_caller_buffer() -> Outcome {
    park_in(CALLER_A, 7)?;
    check!(
        server().release(7, 0xC3) == Ok(LEASE_LEN as u32),
        "release did not write the whole lease"
    );
    check_answered(&report(CALLER_A)?, Answer { tag: 7, order: 1 }, 0xC3)
}

fn deferred_answer_to_a_restarted_caller_reaches_no_one() -> Outcome {
    let before = id(SERVER);
    park_in(CALLER_A, 1)?;
    restart(CALLER_A);
    // The new incarnation waits in the server too, where a misdirected answer would land.
    park_in(CALLER_A, 2)?;
    check!(
        server().release(1, 0xEE) == Err(CallError::Op(IdolTestError::CallerGone)),
        "the lease of a restarted caller was written"
    );
    server_ran_on(before)?;
    check!(
        server().release(2, 0x22) == Ok(LEASE_LEN as u32),
        "the new incarnation's call was no longer waiting"
    );
    // The stale answer was given (order 1) but not delivered: the new incarnation got its own.
    check_answered(&report(CALLER_A)?, Answer { tag: 2, order: 2 }, 0x22)
}

/// A token the server drops without answering ends its call at once with
/// `CallError::Unanswered` (idol_runtime::UNANSWERED_CODE): the caller is not left blocked
/// until the server restarts, and the server goes on serving, unfaulted.
fn deferred_token_dropped_unanswered_wakes_the_caller_with_unanswered() -> Outcome {
    let before = id(SERVER);
    park_in(CALLER_A, 4)?;
    check!(
        server().abandon(4) == Ok(()),
        "abandon did not find the waiting call"
    );
    let report = report(CALLER_A)?;
    check!(
        report.code == caller::UNANSWERED,
        "the caller of a dropped token did not get Unanswered"
    );
    check!(
        report.buffer.iter().all(|&b| b == UNTOUCHED),
        "a dropped token wrote the caller's lease"
    );
    check!(
        server().abandon(4) == Err(CallError::Op(IdolTestError::NotParked)),
        "an abandoned call was still parked"
    );
    server_ran_on(before)
}

fn deferred_lease_access_through_a_dead_callers_token_errors() -> Outcome {
    let before = id(SERVER);
    park_in(CALLER_A, 5)?;
    let _ = runner().detach(CALLER_A.index() as u32);
    check!(
        server().release(5, 0x11) == Err(CallError::Op(IdolTestError::CallerGone)),
        "lease access through a dead caller's token did not fail as CallerGone"
    );
    server_ran_on(before)?;
    check!(
        server().release(5, 0x11) == Err(CallError::Op(IdolTestError::NotParked)),
        "the dead caller's token was not spent"
    );
    Ok(())
}

const TESTS: &[Test] = &[
    ("read_lease_is_read_by_server", read_lease_is_read_by_server),
    (
        "write_lease_is_filled_by_server",
        write_lease_is_filled_by_server,
    ),
    (
        "read_write_lease_is_updated_in_place",
        read_write_lease_is_updated_in_place,
    ),
    (
        "declared_error_reaches_client_as_op_error",
        declared_error_reaches_client_as_op_error,
    ),
    (
        "enum_and_bool_arguments_round_trip",
        enum_and_bool_arguments_round_trip,
    ),
    (
        "listed_caller_reaches_restricted_operation",
        listed_caller_reaches_restricted_operation,
    ),
    (
        "server_death_mid_call_is_gone",
        server_death_mid_call_is_gone,
    ),
    (
        "idempotent_call_is_retried_against_the_new_incarnation",
        idempotent_call_is_retried_against_the_new_incarnation,
    ),
    (
        "non_idempotent_call_reports_the_restart",
        non_idempotent_call_reports_the_restart,
    ),
    (
        "detached_server_is_unavailable_at_once",
        detached_server_is_unavailable_at_once,
    ),
    (
        "unknown_operation_is_undefined_operation",
        unknown_operation_is_undefined_operation,
    ),
    (
        "wrong_message_size_is_bad_message_size",
        wrong_message_size_is_bad_message_size,
    ),
    (
        "small_reply_buffer_is_reply_buffer_too_small",
        small_reply_buffer_is_reply_buffer_too_small,
    ),
    ("missing_lease_is_bad_leases", missing_lease_is_bad_leases),
    (
        "wrong_lease_direction_is_bad_leases",
        wrong_lease_direction_is_bad_leases,
    ),
    (
        "lease_past_max_len_is_bad_leases",
        lease_past_max_len_is_bad_leases,
    ),
    (
        "invalid_bool_is_bad_message_contents",
        invalid_bool_is_bad_message_contents,
    ),
    (
        "invalid_enum_is_bad_message_contents",
        invalid_enum_is_bad_message_contents,
    ),
    (
        "caller_off_the_allow_list_is_access_violation",
        caller_off_the_allow_list_is_access_violation,
    ),
    (
        "deferred_callers_are_answered_in_the_opposite_order",
        deferred_callers_are_answered_in_the_opposite_order,
    ),
    (
        "deferred_lease_write_lands_in_the_caller_buffer",
        deferred_lease_write_lands_in_the_caller_buffer,
    ),
    (
        "deferred_answer_to_a_restarted_caller_reaches_no_one",
        deferred_answer_to_a_restarted_caller_reaches_no_one,
    ),
    (
        "deferred_lease_access_through_a_dead_callers_token_errors",
        deferred_lease_access_through_a_dead_callers_token_errors,
    ),
    (
        "deferred_token_dropped_unanswered_wakes_the_caller_with_unanswered",
        deferred_token_dropped_unanswered_wakes_the_caller_with_unanswered,
    ),
];

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    run_tests(&runner(), TESTS, &[SERVER, ROGUE, CALLER_A, CALLER_B]);
    log(b"TESTS DONE");
    loop {
        sys_recv_notification(0);
    }
}
