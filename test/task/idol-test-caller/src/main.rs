//! A caller of the `idol-tests` image (`caller_a`, `caller_b`): on the suite's `PARK`
//! command it answers the suite at once, then calls the server's deferred `park`, lending
//! part of a buffer, and stays blocked there until the server answers its token. `REPORT`
//! is received only once that call has returned, so the suite's `REPORT` waits for it and
//! gets how it ended, with the lent bytes and the guard bytes just past them.
//!
//! Answering `PARK` before calling lets the suite keep two callers blocked in the server at
//! once, restart or detach one mid-call, and decide the order they are answered in.
#![no_std]
#![no_main]

use idol_runtime::zerocopy::IntoBytes;
use idol_runtime::{CallError, ErrorCode};
use idol_test_api::caller::{
    GUARD_LEN, LEASE_LEN, PARK, ParkReport, REPORT, UNANSWERED, UNTOUCHED,
};
use idol_test_api::{Answer, IdolTestClient};
use userlib::{
    ReplyFaultReason, sys_recv_open, sys_refresh_incarnation, sys_reply, sys_reply_fault, task_slot,
};

task_slot!(SERVER, server);

/// Calls `park(tag)` and reports how it ended.
fn park(tag: u32) -> ParkReport {
    let mut buffer = [UNTOUCHED; LEASE_LEN + GUARD_LEN];
    // The suite restarts the server between tests: always reach the current incarnation.
    let server = IdolTestClient::new(sys_refresh_incarnation(SERVER));
    let (code, answer) = match server.park(tag, &mut buffer[..LEASE_LEN]) {
        Ok(answer) => (0, answer),
        Err(CallError::Op(error)) => (u32::from(error.code()), Answer { tag: 0, order: 0 }),
        Err(CallError::Unanswered) => (UNANSWERED, Answer { tag: 0, order: 0 }),
        Err(_) => (u32::MAX, Answer { tag: 0, order: 0 }),
    };
    ParkReport {
        code,
        answer,
        buffer,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut message = [0u8; 4];
    loop {
        let command = sys_recv_open(&mut message, 0);
        if command.operation != u32::from(PARK) || command.message_len != message.len() {
            sys_reply_fault(command.sender, ReplyFaultReason::UndefinedOperation);
            continue;
        }
        sys_reply(command.sender, 0, &[]);
        let report = park(u32::from_le_bytes(message));
        // Only the suite's REPORT ends the wait; anything else is refused meanwhile.
        loop {
            let ask = sys_recv_open(&mut [], 0);
            if ask.operation == u32::from(REPORT) {
                sys_reply(ask.sender, 0, report.as_bytes());
                break;
            }
            sys_reply_fault(ask.sender, ReplyFaultReason::UndefinedOperation);
        }
    }
}
