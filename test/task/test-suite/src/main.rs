//! The kernel test suite, run on the real kernel in QEMU with the MPU on.
//!
//! Each test prints `TEST <name> ok` or `TEST <name> FAIL <why>` through the runner (the
//! image's supervisor); `cargo xtask test` turns those lines into test results. Before each
//! test the assistant and the peers are restarted, so every test starts from fresh
//! incarnations. The last test faults the supervisor: the kernel must reset the system, and
//! the runner reports that test (and the end of the run) after the reboot.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use test_api::{FaultKind, assistant as aop, peer as pop};
use test_runner_api::{Outcome, Test, TestRunnerClient, check, run_tests};
use userlib::{
    FaultInfo, FaultSource, Generation, Incarnation, Lease, PeerGone, ReplyFaultReason, UsageError,
    incarnation_is_current, peer_gone, sleep_for, sys_get_timer, sys_post, sys_recv_notification,
    sys_refresh_incarnation, sys_send, sys_set_timer, task_slot,
};

task_slot!(RUNNER, runner);
task_slot!(ASSISTANT, assistant);
task_slot!(PEER_A, peer_a);
task_slot!(PEER_B, peer_b);
task_slot!(PEER_C, peer_c);

const TIMER_BIT: u32 = 1 << 0;
/// Start of the kernel's RAM on mps2-an500 (the builder puts the kernel first).
const KERNEL_RAM: u32 = 0x2000_0000;

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

fn call(
    target: Incarnation,
    op: u16,
    message: &[u8],
    reply: &mut [u8],
    leases: &[Lease<'_>],
) -> (u32, usize) {
    sys_send(target, op, message, reply, leases)
}

fn words(values: &[u32]) -> ([u8; 16], usize) {
    let mut out = [0u8; 16];
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    (out, values.len() * 4)
}

fn word(buf: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([buf[i * 4], buf[i * 4 + 1], buf[i * 4 + 2], buf[i * 4 + 3]])
}

fn take_fault(slot: Incarnation) -> Option<FaultInfo> {
    let mut raw = [0u8; 12];
    let found = runner().take_fault(slot.index() as u32, &mut raw).ok()?;
    (found == 1)
        .then(|| FaultInfo::decode([word(&raw, 0), word(&raw, 1), word(&raw, 2)]))
        .flatten()
}

/// Tells peer `p` to do `command` with `body`; the peer answers at once and then acts.
fn peer(p: Incarnation, command: u16, body: &[u32]) {
    let (msg, len) = words(body);
    call(id(p), command, &msg[..len], &mut [], &[]);
}

struct PeerRecord {
    done: bool,
    code: u32,
    notifications: u32,
    woke_at: u32,
    spun_until: u32,
}

fn peer_result(p: Incarnation) -> PeerRecord {
    let mut out = [0u8; 20];
    call(id(p), pop::RESULT, &[], &mut out, &[]);
    PeerRecord {
        done: word(&out, 0) == 1,
        code: word(&out, 1),
        notifications: word(&out, 2),
        woke_at: word(&out, 3),
        spun_until: word(&out, 4),
    }
}

/// `SchedState::encode` tags the suite waits on.
const IN_SEND: u32 = 2;
const IN_REPLY: u32 = 3;
const IN_CLOSED_RECV: u32 = 5;

fn blocked(slot: Incarnation, tag: u32) -> bool {
    runner().sched_state(slot.index() as u32) == Ok(tag)
}

fn now() -> u64 {
    sys_get_timer().now
}

fn sleep_ms(ms: u64) {
    sleep_for(ms, TIMER_BIT);
}

fn is_code(rc: u32, f: fn(Generation) -> PeerGone, generation: Generation) -> bool {
    PeerGone::from_code(rc) == Some(f(generation))
}

// ---------------------------------------------------------------- IPC

fn ipc_round_trip() -> Outcome {
    let mut reply = [0u8; 4];
    let (rc, len) = call(id(ASSISTANT), aop::ECHO, b"abcd", &mut reply, &[]);
    check!(
        rc == 4 && len == 4 && &reply == b"abcd",
        "echo did not come back intact"
    );
    Ok(())
}

/// Messages and replies longer than the kernel's short-copy path, from and to every
/// alignment: the kernel moves them in blocks (`ldm`/`stm` when both ends share their word
/// alignment, unaligned words otherwise) and finishes with words and bytes, so every
/// length modulo 32 and every pair of offsets takes a different mix of the three.
fn long_messages_arrive_intact_at_every_alignment() -> Outcome {
    echoes_arrive_intact_at_every_alignment(&[33, 47, 52, 63, aop::ECHO_BUFFER])
}

/// Every length the kernel's short-copy path takes (up to 32 bytes: words, then bytes),
/// the empty message and the last byte of a word included, from and to every alignment.
fn short_messages_arrive_intact_at_every_alignment() -> Outcome {
    let lens: [usize; 33] = core::array::from_fn(|len| len);
    echoes_arrive_intact_at_every_alignment(&lens)
}

/// Echoes a message of each length in `lens` from each of four source offsets into a
/// reply buffer at each of four offsets, and checks the reply and the bytes around it.
fn echoes_arrive_intact_at_every_alignment(lens: &[usize]) -> Outcome {
    const GUARD: u8 = 0xEE;
    for &len in lens {
        for src_off in 0..4 {
            for dst_off in 0..4 {
                let mut src = [0u8; aop::ECHO_BUFFER + 4];
                for (i, b) in src.iter_mut().enumerate() {
                    *b = (i as u8).wrapping_mul(7).wrapping_add(len as u8);
                }
                let message = &src[src_off..src_off + len];
                let mut dst = [GUARD; aop::ECHO_BUFFER + 8];
                let (rc, got) = call(
                    id(ASSISTANT),
                    aop::ECHO,
                    message,
                    &mut dst[dst_off..dst_off + len],
                    &[],
                );
                check!(
                    rc == len as u32 && got == len,
                    "an echo reported the wrong length"
                );
                check!(
                    placed_exactly(&dst, dst_off, message, GUARD),
                    "a message came back wrong at some alignment, or outside its buffer"
                );
            }
        }
    }
    Ok(())
}

/// userlib's `_start` paints the stack and zeroes `.bss` with one fill routine, in steps of
/// 128 bytes, then 32, then words: every length from 0 to 80 words (each remainder of each
/// step, and more than one step of each) at two offsets, with the words around checked.
fn start_fill_covers_exactly_its_range() -> Outcome {
    const GUARD: u32 = 0x1111_1111;
    const FILL: u32 = 0xbadd_cafe;
    let mut buffer = [GUARD; 90];
    for offset in [1, 6] {
        for len in 0..=80 {
            buffer.fill(GUARD);
            fill_words(&mut buffer[offset..offset + len], FILL);
            let (before, rest) = buffer.split_at(offset);
            let (filled, after) = rest.split_at(len);
            check!(
                filled.iter().all(|&w| w == FILL),
                "the fill left a word of its range unwritten"
            );
            check!(
                before.iter().chain(after).all(|&w| w == GUARD),
                "the fill wrote outside its range"
            );
        }
    }
    Ok(())
}

/// Calls `_start`'s fill routine as `_start` does: range in r0 and r1, the word in r4, no
/// stack; it clobbers r5-r11, which the block saves around the call (r6 and r7 cannot be
/// named as clobbers).
fn fill_words(words: &mut [u32], value: u32) {
    let range = words.as_mut_ptr_range();
    // SAFETY: the routine writes the words of `range` only, and every register it changes
    // is restored or declared.
    unsafe {
        core::arch::asm!(
            "push {{r4-r11}}",
            "mov r4, {value}",
            "bl __bulkhead_fill_words",
            "pop {{r4-r11}}",
            value = in(reg) value,
            inout("r0") range.start => _,
            in("r1") range.end,
            out("r2") _,
            out("lr") _,
        );
    }
}

/// Whether `buffer` holds `expected` at `offset` and `guard` in every other byte.
fn placed_exactly(buffer: &[u8], offset: usize, expected: &[u8], guard: u8) -> bool {
    let end = offset + expected.len();
    buffer[offset..end] == *expected
        && buffer[..offset]
            .iter()
            .chain(&buffer[end..])
            .all(|&b| b == guard)
}

fn message_truncated_to_receive_buffer_with_full_length_reported() -> Outcome {
    let message = [0x5Au8; 100];
    let mut reply = [0u8; 100];
    let (rc, len) = call(id(ASSISTANT), aop::ECHO, &message, &mut reply, &[]);
    check!(rc == 100, "receiver was not told the full length");
    check!(len == aop::ECHO_BUFFER, "receiver got more than its buffer");
    check!(
        reply[..len].iter().all(|&b| b == 0x5A),
        "truncated bytes are wrong"
    );
    Ok(())
}

fn reply_too_big_faults_server() -> Outcome {
    let (msg, n) = words(&[16]);
    let mut reply = [0u8; 8];
    let (rc, _) = call(id(ASSISTANT), aop::REPLY_N, &msg[..n], &mut reply, &[]);
    check!(
        PeerGone::from_code(rc).is_some(),
        "client not released when its server faulted"
    );
    check!(
        take_fault(ASSISTANT) == Some(FaultInfo::SyscallUsage(UsageError::InvalidSlice)),
        "server not faulted for an oversized reply"
    );
    Ok(())
}

fn lease_read_write_and_info() -> Outcome {
    let src = *b"0123456789";
    let mut dst = [0u8; 10];
    let (rc, _) = call(
        id(ASSISTANT),
        aop::REVERSE,
        &[],
        &mut [],
        &[Lease::read_only(&src), Lease::write_only(&mut dst)],
    );
    check!(rc == 10 && &dst == b"9876543210", "lease copy wrong");
    let mut info = [0u8; 8];
    let mut lent = [0u8; 24];
    let (rc, _) = call(
        id(ASSISTANT),
        aop::LEASE_INFO,
        &[],
        &mut info,
        &[Lease::read_write(&mut lent)],
    );
    check!(
        rc == 0 && word(&info, 0) == 3 && word(&info, 1) == 24,
        "lease info wrong"
    );
    Ok(())
}

fn lease_index_out_of_range_faults_server() -> Outcome {
    let (msg, n) = words(&[5, 0]);
    let src = [1u8; 4];
    call(
        id(ASSISTANT),
        aop::BORROW_AT,
        &msg[..n],
        &mut [],
        &[Lease::read_only(&src)],
    );
    check!(
        take_fault(ASSISTANT) == Some(FaultInfo::SyscallUsage(UsageError::LeaseOutOfRange)),
        "bad lease index not faulted"
    );
    Ok(())
}

fn lease_offset_out_of_range_faults_server() -> Outcome {
    let (msg, n) = words(&[0, 5]);
    let src = [1u8; 4];
    call(
        id(ASSISTANT),
        aop::BORROW_AT,
        &msg[..n],
        &mut [],
        &[Lease::read_only(&src)],
    );
    check!(
        take_fault(ASSISTANT) == Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange)),
        "bad lease offset not faulted"
    );
    Ok(())
}

fn lender_restarted_mid_borrow_gets_error_not_data() -> Outcome {
    peer(PEER_A, pop::CALL, &[u32::from(aop::HOLD)]);
    check!(
        blocked(PEER_A, IN_REPLY),
        "peer was not held by the assistant"
    );
    let new_peer = restart(PEER_A);
    let mut data = [0u8; 8];
    let (rc, _) = call(id(ASSISTANT), aop::BORROW_HELD, &[], &mut data, &[]);
    check!(
        is_code(rc, PeerGone::Restarted, new_peer.id.generation()),
        "borrow from a restarted lender did not fail with its new generation"
    );
    check!(data == [0; 8], "data leaked from a dead lender");
    Ok(())
}

/// A client restarted 128 times while the assistant holds its call comes back with the same
/// 16-bit `TaskId` (6 generation bits wrap every 64 restarts). The assistant's name for the
/// old incarnation must still be refused: its borrow, reply and reply-fault must not reach
/// the new incarnation, which is waiting on the assistant with a lease of its own.
fn held_name_of_a_client_restarted_128_times_reaches_nothing() -> Outcome {
    let old = id(PEER_A);
    peer(PEER_A, pop::CALL, &[u32::from(aop::HOLD)]);
    check!(
        blocked(PEER_A, IN_REPLY),
        "peer was not held by the assistant"
    );
    let mut new = old;
    for _ in 0..128 {
        new = restart(PEER_A);
    }
    check!(
        new.id == old.id,
        "128 restarts did not bring the 16-bit id back around"
    );
    peer(PEER_A, pop::CALL, &[u32::from(aop::PARK)]);
    check!(
        blocked(PEER_A, IN_REPLY),
        "the new incarnation is not waiting on the assistant"
    );
    let mut data = [0u8; 8];
    let (rc, _) = call(id(ASSISTANT), aop::BORROW_HELD, &[], &mut data, &[]);
    check!(
        is_code(rc, PeerGone::Restarted, new.id.generation()),
        "borrow through the stale name did not fail as restarted"
    );
    check!(
        data == [0; 8],
        "the new incarnation's lease was read through the stale name"
    );
    let (msg, n) = words(&[ReplyFaultReason::BadMessageContents as u32]);
    call(
        id(ASSISTANT),
        aop::REPLY_FAULT_HELD,
        &msg[..n],
        &mut [],
        &[],
    );
    check!(
        take_fault(PEER_A).is_none(),
        "the stale reply-fault faulted the new incarnation"
    );
    let (msg, n) = words(&[0x5EED]);
    call(id(ASSISTANT), aop::REPLY_HELD, &msg[..n], &mut [], &[]);
    check!(
        blocked(PEER_A, IN_REPLY),
        "the stale reply woke the new incarnation"
    );
    Ok(())
}

/// After 64 restarts a task has the same 16-bit id again; a post through the name from
/// before must still get the dead code, and the new incarnation must not be woken.
fn post_to_a_name_from_64_restarts_ago_is_refused() -> Outcome {
    let old = sys_refresh_incarnation(PEER_A);
    let mut new = old;
    for _ in 0..64 {
        new = restart(PEER_A);
    }
    check!(
        new.id == old.id,
        "64 restarts did not bring the 16-bit id back around"
    );
    check!(
        sys_post(old, pop::WAKE_BIT) == Err(PeerGone::Restarted(new.id.generation())),
        "a post through the stale name was not refused"
    );
    check!(
        peer_result(PEER_A).notifications == 0,
        "the stale post woke the new incarnation"
    );
    Ok(())
}

/// A client holding its server's name across 64 restarts of the server (the same 16-bit id
/// again) must be refused at SEND, as after one restart, and told the exact incarnation to
/// use; the old name must not reach the new incarnation. Then the same after 64 more.
fn send_to_a_server_name_from_64_restarts_ago_is_refused() -> Outcome {
    let old = id(ASSISTANT);
    let mut stale = old;
    for _ in 0..2 {
        let mut new = stale;
        for _ in 0..64 {
            new = restart(ASSISTANT);
        }
        check!(
            new.id == old.id,
            "64 restarts did not bring the 16-bit id back around"
        );
        let mut reply = [0u8; 4];
        let (rc, second) = call(stale, aop::ECHO, b"abcd", &mut reply, &[]);
        check!(
            peer_gone(stale, rc, second) == Some((PeerGone::Restarted(new.id.generation()), new)),
            "a send through the stale name was not refused with the current incarnation"
        );
        check!(reply == [0; 4], "the stale send was answered");
        let (rc, len) = call(new, aop::ECHO, b"abcd", &mut reply, &[]);
        check!(
            rc == 4 && len == 4 && &reply == b"abcd",
            "the current incarnation did not answer"
        );
        stale = new;
        // The next round holds the name just used, from before another 64 restarts.
    }
    Ok(())
}

fn server_restarted_while_client_blocked_in_reply() -> Outcome {
    peer(PEER_A, pop::CALL, &[u32::from(aop::HOLD)]);
    let new = restart(ASSISTANT);
    let r = peer_result(PEER_A);
    check!(
        r.done && is_code(r.code, PeerGone::Restarted, new.id.generation()),
        "client in reply not woken with the new generation"
    );
    Ok(())
}

fn server_restarted_while_client_blocked_in_send() -> Outcome {
    let (msg, n) = words(&[50]);
    call(id(ASSISTANT), aop::SLEEP, &msg[..n], &mut [], &[]);
    peer(PEER_A, pop::CALL, &[u32::from(aop::ECHO)]);
    check!(blocked(PEER_A, IN_SEND), "peer's send was not blocked");
    let new = restart(ASSISTANT);
    let r = peer_result(PEER_A);
    check!(
        r.done && is_code(r.code, PeerGone::Restarted, new.id.generation()),
        "client in send not woken with the new generation"
    );
    Ok(())
}

fn stale_task_id_on_send_and_post() -> Outcome {
    let old = sys_refresh_incarnation(ASSISTANT);
    let new = restart(ASSISTANT);
    check!(
        new.id.generation() != old.id.generation(),
        "restart did not change the generation"
    );
    let (rc, _) = call(old, aop::ECHO, b"x", &mut [], &[]);
    check!(
        is_code(rc, PeerGone::Restarted, new.id.generation()),
        "stale send not refused with the new generation"
    );
    check!(
        sys_post(old, 1) == Err(PeerGone::Restarted(new.id.generation())),
        "stale post not refused"
    );
    Ok(())
}

fn refresh_task_id_returns_current_generation() -> Outcome {
    let before = id(ASSISTANT);
    let after = restart(ASSISTANT);
    check!(
        after.index() == before.index()
            && after.id.generation().0 == (before.id.generation().0 + 1) % 64,
        "refresh did not follow the restart"
    );
    Ok(())
}

fn detach_wakes_every_blocked_peer_at_once() -> Outcome {
    let assistant = id(ASSISTANT);
    call(assistant, aop::IRQ_ENABLE, &[], &mut [], &[]);
    peer(PEER_A, pop::CALL, &[u32::from(aop::HOLD)]);
    peer(PEER_B, pop::RECV_FROM_ASSISTANT, &[]);
    // The assistant sleeps (not receiving), so the third peer's call stays in SEND.
    let (msg, n) = words(&[50]);
    call(assistant, aop::SLEEP, &msg[..n], &mut [], &[]);
    peer(PEER_C, pop::CALL, &[u32::from(aop::ECHO)]);
    check!(
        blocked(PEER_A, IN_REPLY) && blocked(PEER_B, IN_CLOSED_RECV) && blocked(PEER_C, IN_SEND),
        "peers were not blocked"
    );
    let _ = runner().detach(assistant.index() as u32);
    let detached = id(ASSISTANT).id.generation();
    let (a, b, c) = (
        peer_result(PEER_A),
        peer_result(PEER_B),
        peer_result(PEER_C),
    );
    check!(
        a.done && is_code(a.code, PeerGone::Unavailable, detached),
        "reply waiter not woken as unavailable"
    );
    check!(
        b.done && is_code(b.code, PeerGone::Unavailable, detached),
        "closed receiver not woken as unavailable"
    );
    check!(
        c.done && is_code(c.code, PeerGone::Unavailable, detached),
        "sender not woken as unavailable"
    );
    let (rc, _) = call(id(ASSISTANT), aop::ECHO, b"x", &mut [], &[]);
    check!(
        is_code(rc, PeerGone::Unavailable, detached),
        "send to a detached task did not fail at once"
    );
    let restarted = restart(ASSISTANT);
    check!(
        restarted.id.generation() == detached,
        "restart after detach bumped the generation again"
    );
    let mut status = [0u8; 12];
    call(restarted, aop::IRQ_STATUS, &[], &mut status, &[]);
    check!(
        word(&status, 0) == 0,
        "interrupt left enabled across the detach"
    );
    ipc_round_trip()
}

/// The assistant's interrupt, as its notification bit (`app.toml`: `irq` is bit 1).
const ASSISTANT_IRQ_BIT: u32 = 1 << 1;

/// The software IRQ refuses a detached task (pended then, it would be waiting for the next
/// incarnation), and a restarted task starts with its interrupt neither enabled nor pending.
fn software_irq_refused_while_detached_and_nothing_pending_after_restart() -> Outcome {
    let assistant = id(ASSISTANT);
    call(assistant, aop::IRQ_ENABLE, &[], &mut [], &[]);
    check!(
        runner().software_irq(assistant.index() as u32, ASSISTANT_IRQ_BIT) == Ok(1),
        "software IRQ to an attached task refused"
    );
    let _ = runner().detach(assistant.index() as u32);
    check!(
        runner().software_irq(assistant.index() as u32, ASSISTANT_IRQ_BIT) == Ok(0),
        "software IRQ to a detached task not refused"
    );
    let restarted = restart(ASSISTANT);
    let mut status = [0u8; 12];
    call(restarted, aop::IRQ_STATUS, &[], &mut status, &[]);
    check!(
        word(&status, 0) == 0 && word(&status, 1) == 0 && word(&status, 2) == 0,
        "the new incarnation inherited interrupt state"
    );
    check!(
        runner().software_irq(restarted.index() as u32, ASSISTANT_IRQ_BIT) == Ok(1),
        "software IRQ refused after the restart"
    );
    call(restarted, aop::IRQ_STATUS, &[], &mut status, &[]);
    check!(
        word(&status, 1) == ASSISTANT_IRQ_BIT,
        "the masked interrupt is not pending after a software IRQ"
    );
    Ok(())
}

fn closed_receive_from_task_that_dies() -> Outcome {
    peer(PEER_B, pop::RECV_FROM_ASSISTANT, &[]);
    let (msg, n) = words(&[FaultKind::IllegalInstruction as u32, 0]);
    let (rc, _) = call(id(ASSISTANT), aop::FAULT, &msg[..n], &mut [], &[]);
    // The runner detaches a faulted task at once: both are told the detached generation.
    let detached = id(ASSISTANT).id.generation();
    check!(
        is_code(rc, PeerGone::Unavailable, detached),
        "caller of the dead server not released with the detached generation"
    );
    let r = peer_result(PEER_B);
    check!(
        r.done && is_code(r.code, PeerGone::Unavailable, detached),
        "closed receiver not released with the detached generation"
    );
    Ok(())
}

// ---------------------------------------------------------------- time

fn timer_in_the_past_posts_at_once() -> Outcome {
    sys_set_timer(Some(now().saturating_sub(1)), TIMER_BIT);
    let before = now();
    check!(sys_recv_notification(TIMER_BIT) == TIMER_BIT, "wrong bits");
    // A tick may land between the two clock reads, but not two.
    check!(now() - before <= 1, "past deadline did not post at once");
    Ok(())
}

fn timer_fires_at_its_deadline() -> Outcome {
    let start = now();
    sleep_ms(5);
    let waited = now() - start;
    check!((5..=6).contains(&waited), "timer fired at the wrong time");
    Ok(())
}

fn detached_task_timer_does_not_fire() -> Outcome {
    let (msg, n) = words(&[20]);
    call(id(ASSISTANT), aop::ARM_TIMER, &msg[..n], &mut [], &[]);
    let fresh = restart(ASSISTANT);
    sleep_ms(30);
    let (count, _) = call(fresh, aop::TIMER_COUNT, &[], &mut [], &[]);
    check!(
        count == 0,
        "the old incarnation's timer fired into the new one"
    );
    Ok(())
}

// ---------------------------------------------------------------- faults

/// Asks the assistant to fault in `kind` and checks what the kernel recorded.
fn assistant_fault(kind: FaultKind, argument: u32, expected: fn(FaultInfo) -> bool) -> Outcome {
    let (msg, n) = words(&[kind as u32, argument]);
    let (rc, _) = call(id(ASSISTANT), aop::FAULT, &msg[..n], &mut [], &[]);
    check!(
        PeerGone::from_code(rc).is_some(),
        "caller of the faulted server not released"
    );
    match take_fault(ASSISTANT) {
        Some(f) if expected(f) => Ok(()),
        Some(_) => Err("wrong fault recorded"),
        None => Err("no fault recorded"),
    }
}

/// A word in the suite's RAM (interior mutability keeps it out of flash).
static SUITE_WORD: AtomicU32 = AtomicU32::new(0);

fn fault_write_to_another_tasks_ram() -> Outcome {
    let target = SUITE_WORD.as_ptr() as u32;
    let expected = FaultInfo::MemoryAccess {
        address: Some(target),
        source: FaultSource::User,
    };
    let (msg, n) = words(&[FaultKind::WriteAddress as u32, target]);
    let (rc, _) = call(id(ASSISTANT), aop::FAULT, &msg[..n], &mut [], &[]);
    check!(
        PeerGone::from_code(rc).is_some(),
        "caller of the faulted server not released"
    );
    check!(
        take_fault(ASSISTANT) == Some(expected),
        "the fault does not name the written address"
    );
    check!(
        SUITE_WORD.load(Ordering::Relaxed) == 0,
        "the write reached the suite's RAM"
    );
    Ok(())
}

fn fault_read_kernel_ram() -> Outcome {
    assistant_fault(FaultKind::ReadAddress, KERNEL_RAM, |f| {
        f == FaultInfo::MemoryAccess {
            address: Some(KERNEL_RAM),
            source: FaultSource::User,
        }
    })
}

fn fault_execute_from_ram() -> Outcome {
    assistant_fault(FaultKind::ExecuteFromRam, 0, |f| {
        f == FaultInfo::IllegalText
    })
}

fn fault_stack_overflow() -> Outcome {
    assistant_fault(FaultKind::StackOverflow, 0, |f| {
        matches!(f, FaultInfo::StackOverflow { .. })
    })
}

/// An SVC whose exception frame overflows the stack leaves the SVC pending behind the
/// MemManage fault. The kernel must drop it: run after the switch, it would be a syscall of
/// the next task (the runner, woken by the fault) made with that task's registers.
fn stack_overflow_at_svc_affects_only_the_faulting_task() -> Outcome {
    for _ in 0..8 {
        peer(PEER_A, pop::RECV_FROM_ASSISTANT, &[]);
        check!(
            blocked(PEER_A, IN_CLOSED_RECV),
            "peer was not receiving from the assistant"
        );
        let (msg, n) = words(&[FaultKind::StackOverflowAtSvc as u32, 0]);
        let (rc, _) = call(id(ASSISTANT), aop::FAULT, &msg[..n], &mut [], &[]);
        let detached = id(ASSISTANT).id.generation();
        check!(
            is_code(rc, PeerGone::Unavailable, detached),
            "the caller was not released with the detached generation"
        );
        check!(
            matches!(take_fault(ASSISTANT), Some(FaultInfo::StackOverflow { .. })),
            "no stack overflow recorded for the assistant"
        );
        let r = peer_result(PEER_A);
        check!(
            r.done && is_code(r.code, PeerGone::Unavailable, detached),
            "the closed receiver was not released with the detached generation"
        );
        check!(
            take_fault(PEER_A).is_none() && take_fault(PEER_B).is_none(),
            "a task other than the assistant faulted"
        );
        restart(ASSISTANT);
    }
    ipc_round_trip()
}

fn fault_illegal_instruction() -> Outcome {
    assistant_fault(FaultKind::IllegalInstruction, 0, |f| {
        f == FaultInfo::IllegalInstruction
    })
}

fn fault_divide_by_zero() -> Outcome {
    assistant_fault(FaultKind::DivideByZero, 0, |f| f == FaultInfo::DivideByZero)
}

fn fault_bad_syscall_number() -> Outcome {
    assistant_fault(FaultKind::BadSyscallNumber, 0, |f| {
        f == FaultInfo::SyscallUsage(UsageError::BadSyscallNumber)
    })
}

fn fault_invalid_slice() -> Outcome {
    assistant_fault(FaultKind::InvalidSlice, KERNEL_RAM, |f| {
        f == FaultInfo::SyscallUsage(UsageError::InvalidSlice)
    })
}

fn fault_panic_with_message() -> Outcome {
    assistant_fault(FaultKind::Panic, 0, |f| f == FaultInfo::Panic)?;
    let mut message = [0u8; 128];
    let n = runner()
        .panic_message(ASSISTANT.index() as u32, &mut message)
        .unwrap_or(0) as usize;
    let text = &message[..n];
    check!(
        text.windows(29)
            .any(|w| w == b"assistant panicked on request"),
        "panic message lost"
    );
    Ok(())
}

/// A kernel IPC reply fills a shorter reply buffer exactly, whatever its length (none, a
/// word's last byte, both words) and alignment: the kernel copies its replies with their own
/// word and byte loops, apart from the IPC paths' copy.
fn kernel_ipc_reply_fills_a_short_buffer_exactly() -> Outcome {
    const GUARD: u8 = 0xEE;
    let mut whole = [0u8; 16];
    let got = runner().image_id_into(8, 0, &mut whole).unwrap_or(0);
    check!(got == 8, "the whole image id was not 8 bytes");
    check!(
        whole[8..].iter().all(|&b| b == GUARD),
        "the image id overran its buffer"
    );
    for len in 0..=8 {
        for offset in 0..4 {
            let mut out = [0u8; 16];
            let got = runner()
                .image_id_into(len as u32, offset as u32, &mut out)
                .unwrap_or(u32::MAX);
            check!(
                got as usize == len,
                "a short reply reported the wrong length"
            );
            check!(
                placed_exactly(&out, offset, &whole[..len], GUARD),
                "a short reply did not hold the reply's first bytes, or wrote outside them"
            );
        }
    }
    Ok(())
}

fn kipc_refused_to_ungranted_task() -> Outcome {
    assistant_fault(FaultKind::Kipc, 0, |f| {
        f == FaultInfo::SyscallUsage(UsageError::IllegalTask)
    })
}

fn send_to_undeclared_target_refused() -> Outcome {
    assistant_fault(FaultKind::UndeclaredTarget, PEER_B.index() as u32, |f| {
        f == FaultInfo::SyscallUsage(UsageError::IllegalTask)
    })
}

/// The assistant may POST to `peer_a` (app.toml `notify`), which does not let it SEND there.
fn send_to_notify_only_target_refused() -> Outcome {
    assistant_fault(FaultKind::UndeclaredTarget, PEER_A.index() as u32, |f| {
        f == FaultInfo::SyscallUsage(UsageError::IllegalTask)
    })
}

fn post_to_undeclared_target_refused() -> Outcome {
    assistant_fault(FaultKind::UndeclaredPost, PEER_B.index() as u32, |f| {
        f == FaultInfo::SyscallUsage(UsageError::IllegalTask)
    })?;
    check!(
        peer_result(PEER_B).notifications == 0,
        "the refused post reached its target"
    );
    Ok(())
}

fn fault_injected_by_supervisor() -> Outcome {
    peer(PEER_A, pop::CALL, &[u32::from(aop::HOLD)]);
    let _ = runner().inject(ASSISTANT.index() as u32);
    check!(
        take_fault(ASSISTANT) == Some(FaultInfo::Injected(RUNNER.id)),
        "injected fault not recorded as from the supervisor"
    );
    let detached = id(ASSISTANT).id.generation();
    let r = peer_result(PEER_A);
    check!(
        r.done && is_code(r.code, PeerGone::Unavailable, detached),
        "client of the injected task not released with the detached generation"
    );
    Ok(())
}

fn reply_fault_faults_the_client() -> Outcome {
    peer(
        PEER_A,
        pop::CALL,
        &[
            u32::from(aop::REPLY_FAULT),
            ReplyFaultReason::BadMessageContents as u32,
        ],
    );
    let expected = FaultInfo::FromServer(id(ASSISTANT).id, ReplyFaultReason::BadMessageContents);
    check!(
        take_fault(PEER_A) == Some(expected),
        "client not faulted by its server"
    );
    Ok(())
}

// ---------------------------------------------------------------- client gone

/// Has peer `p` register with the assistant (which keeps it until its incarnation ends) and
/// returns the incarnation registered.
fn register_with_assistant(p: Incarnation) -> Result<Incarnation, &'static str> {
    peer(p, pop::CALL, &[u32::from(aop::REGISTER)]);
    let r = peer_result(p);
    check!(
        r.done && r.code == 0,
        "the assistant did not register the peer"
    );
    Ok(sys_refresh_incarnation(p))
}

struct GoneReport {
    found: u32,
    last: Incarnation,
    at: u32,
}

fn gone_report() -> GoneReport {
    let mut out = [0u8; 16];
    call(id(ASSISTANT), aop::GONE_REPORT, &[], &mut out, &[]);
    GoneReport {
        found: word(&out, 0),
        last: Incarnation::new(word(&out, 1) as usize, word(&out, 2)),
        at: word(&out, 3),
    }
}

/// The promptness `client-gone` promises: the server knows within 2 ms of the detach.
const GONE_WITHIN_MS: u32 = 2;

fn server_learns_that_a_faulted_client_is_gone() -> Outcome {
    let client = register_with_assistant(PEER_A)?;
    let bystander = register_with_assistant(PEER_B)?;
    let before = now() as u32;
    // The runner detaches a faulted task as soon as the kernel reports the fault.
    let _ = runner().inject(PEER_A.index() as u32);
    check!(
        take_fault(PEER_A).is_some(),
        "the injected fault was not recorded"
    );
    let report = gone_report();
    check!(report.found == 1, "not exactly one client reported gone");
    check!(
        report.last == client.id && report.last.generation == client.generation,
        "the gone client is not the faulted incarnation"
    );
    check!(
        report.at.wrapping_sub(before) <= GONE_WITHIN_MS,
        "the server learned it more than 2 ms after the fault"
    );
    check!(
        incarnation_is_current(bystander),
        "the bystander should still be current"
    );
    Ok(())
}

fn server_learns_that_a_restarted_clients_old_incarnation_is_gone() -> Outcome {
    let old = register_with_assistant(PEER_A)?;
    let other = register_with_assistant(PEER_B)?;
    let before = now() as u32;
    restart(PEER_A);
    let report = gone_report();
    check!(report.found == 1, "not exactly one client reported gone");
    check!(
        report.last.index() == old.index() && report.last.generation == old.generation,
        "the old incarnation of the restarted client is not the one reported gone"
    );
    check!(
        report.at.wrapping_sub(before) <= GONE_WITHIN_MS,
        "the server learned it more than 2 ms after the restart"
    );
    check!(
        !incarnation_is_current(old),
        "the old incarnation looks current because its index runs again"
    );
    // The new incarnation registers; the next client to go must not take it along.
    let new = register_with_assistant(PEER_A)?;
    check!(
        new.generation != old.generation,
        "the restart did not make a new incarnation"
    );
    restart(PEER_B);
    let report = gone_report();
    check!(
        report.found == 2,
        "the new incarnation was reported gone, or the second client was not"
    );
    check!(
        report.last.index() == other.index() && report.last.generation == other.generation,
        "the second client gone is not the one reported"
    );
    // 64 restarts later the 6-bit id is the same again; the incarnation is still gone.
    for _ in 0..64 {
        restart(PEER_A);
    }
    check!(
        sys_refresh_incarnation(PEER_A).id == new.id && !incarnation_is_current(new),
        "an incarnation from 64 restarts ago looks current"
    );
    Ok(())
}

// ---------------------------------------------------------------- scheduling

fn priority_preemption_on_post() -> Outcome {
    let before = now() as u32;
    sys_post(sys_refresh_incarnation(PEER_A), pop::WAKE_BIT).map_err(|_| "post failed")?;
    // Spin without blocking: if the post did not switch to the more important peer at once,
    // it would only run once we block, ticks later.
    let until = now() + 3;
    while now() < until {}
    let r = peer_result(PEER_A);
    check!(r.notifications == 1, "peer did not get the notification");
    check!(
        r.woke_at.wrapping_sub(before) <= 1,
        "more important task did not preempt the poster"
    );
    Ok(())
}

/// The assistant (priority 1) wakes `peer_a` (priority 2) with the bit its `notify` table
/// names; `peer_a` then runs before the suite (priority 3) asks what it saw.
fn post_down_the_priority_order_wakes_a_less_important_task() -> Outcome {
    check!(
        peer_result(PEER_A).notifications == 0,
        "the fresh peer already had a notification"
    );
    let (rc, _) = call(id(ASSISTANT), aop::POST_DOWN, &[], &mut [], &[]);
    check!(rc == 0, "the assistant's post down was refused");
    check!(take_fault(ASSISTANT).is_none(), "the assistant faulted");
    check!(
        peer_result(PEER_A).notifications == 1,
        "the less important peer was not woken by its wake bit"
    );
    Ok(())
}

fn round_robin_among_equal_priorities() -> Outcome {
    let start = now() as u32 + 5;
    peer(PEER_A, pop::SPIN, &[20, start]);
    peer(PEER_B, pop::SPIN, &[20, start]);
    sleep_ms(60);
    let (a, b) = (peer_result(PEER_A), peer_result(PEER_B));
    check!(a.done && b.done, "spinners did not finish");
    let gap = a.spun_until.abs_diff(b.spun_until);
    // Run back to back they would end 20 ms apart; sharing the core they end together.
    check!(gap <= 3, "equal-priority tasks did not take turns");
    Ok(())
}

const TESTS: &[Test] = &[
    ("ipc_round_trip", ipc_round_trip),
    (
        "long_messages_arrive_intact_at_every_alignment",
        long_messages_arrive_intact_at_every_alignment,
    ),
    (
        "short_messages_arrive_intact_at_every_alignment",
        short_messages_arrive_intact_at_every_alignment,
    ),
    (
        "start_fill_covers_exactly_its_range",
        start_fill_covers_exactly_its_range,
    ),
    (
        "kernel_ipc_reply_fills_a_short_buffer_exactly",
        kernel_ipc_reply_fills_a_short_buffer_exactly,
    ),
    (
        "message_truncated_to_receive_buffer_with_full_length_reported",
        message_truncated_to_receive_buffer_with_full_length_reported,
    ),
    ("reply_too_big_faults_server", reply_too_big_faults_server),
    ("lease_read_write_and_info", lease_read_write_and_info),
    (
        "lease_index_out_of_range_faults_server",
        lease_index_out_of_range_faults_server,
    ),
    (
        "lease_offset_out_of_range_faults_server",
        lease_offset_out_of_range_faults_server,
    ),
    (
        "lender_restarted_mid_borrow_gets_error_not_data",
        lender_restarted_mid_borrow_gets_error_not_data,
    ),
    (
        "held_name_of_a_client_restarted_128_times_reaches_nothing",
        held_name_of_a_client_restarted_128_times_reaches_nothing,
    ),
    (
        "post_to_a_name_from_64_restarts_ago_is_refused",
        post_to_a_name_from_64_restarts_ago_is_refused,
    ),
    (
        "send_to_a_server_name_from_64_restarts_ago_is_refused",
        send_to_a_server_name_from_64_restarts_ago_is_refused,
    ),
    (
        "server_restarted_while_client_blocked_in_reply",
        server_restarted_while_client_blocked_in_reply,
    ),
    (
        "server_restarted_while_client_blocked_in_send",
        server_restarted_while_client_blocked_in_send,
    ),
    (
        "stale_task_id_on_send_and_post",
        stale_task_id_on_send_and_post,
    ),
    (
        "refresh_task_id_returns_current_generation",
        refresh_task_id_returns_current_generation,
    ),
    (
        "detach_wakes_every_blocked_peer_at_once",
        detach_wakes_every_blocked_peer_at_once,
    ),
    (
        "software_irq_refused_while_detached_and_nothing_pending_after_restart",
        software_irq_refused_while_detached_and_nothing_pending_after_restart,
    ),
    (
        "closed_receive_from_task_that_dies",
        closed_receive_from_task_that_dies,
    ),
    (
        "timer_in_the_past_posts_at_once",
        timer_in_the_past_posts_at_once,
    ),
    ("timer_fires_at_its_deadline", timer_fires_at_its_deadline),
    (
        "detached_task_timer_does_not_fire",
        detached_task_timer_does_not_fire,
    ),
    (
        "fault_write_to_another_tasks_ram",
        fault_write_to_another_tasks_ram,
    ),
    ("fault_read_kernel_ram", fault_read_kernel_ram),
    ("fault_execute_from_ram", fault_execute_from_ram),
    ("fault_stack_overflow", fault_stack_overflow),
    (
        "stack_overflow_at_svc_affects_only_the_faulting_task",
        stack_overflow_at_svc_affects_only_the_faulting_task,
    ),
    ("fault_illegal_instruction", fault_illegal_instruction),
    ("fault_divide_by_zero", fault_divide_by_zero),
    ("fault_bad_syscall_number", fault_bad_syscall_number),
    ("fault_invalid_slice", fault_invalid_slice),
    ("fault_panic_with_message", fault_panic_with_message),
    (
        "kipc_refused_to_ungranted_task",
        kipc_refused_to_ungranted_task,
    ),
    (
        "send_to_undeclared_target_refused",
        send_to_undeclared_target_refused,
    ),
    ("fault_injected_by_supervisor", fault_injected_by_supervisor),
    (
        "reply_fault_faults_the_client",
        reply_fault_faults_the_client,
    ),
    (
        "send_to_notify_only_target_refused",
        send_to_notify_only_target_refused,
    ),
    (
        "post_to_undeclared_target_refused",
        post_to_undeclared_target_refused,
    ),
    (
        "server_learns_that_a_faulted_client_is_gone",
        server_learns_that_a_faulted_client_is_gone,
    ),
    (
        "server_learns_that_a_restarted_clients_old_incarnation_is_gone",
        server_learns_that_a_restarted_clients_old_incarnation_is_gone,
    ),
    ("priority_preemption_on_post", priority_preemption_on_post),
    (
        "post_down_the_priority_order_wakes_a_less_important_task",
        post_down_the_priority_order_wakes_a_less_important_task,
    ),
    (
        "round_robin_among_equal_priorities",
        round_robin_among_equal_priorities,
    ),
];

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    run_tests(&runner(), TESTS, &[ASSISTANT, PEER_A, PEER_B, PEER_C]);
    // The last test: the supervisor faults and the kernel must reset the system. The runner
    // reports it after the reboot.
    let _ = runner().fault_supervisor();
    log(b"TEST supervisor_fault_resets_system FAIL the system kept running after the supervisor faulted");
    log(b"TESTS DONE");
    loop {
        sys_recv_notification(0);
    }
}
