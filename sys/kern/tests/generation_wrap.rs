//! Names that outlive 64 restarts: a `TaskId` carries 6 generation bits, so after 64 (or
//! 128, ...) restarts of a task its id is the same 16 bits again. A server that kept the
//! name of a caller from back then must get exactly what it would get one restart later:
//! REPLY and REPLY_FAULT dropped, BORROW_* refused with the restarted code. The kernel
//! compares the full 32-bit generation, which these tests also take across `u32::MAX`.

mod harness;

use abi::{Incarnation, PeerGone, ReplyFaultReason, SchedState, TaskState, lease_attributes};
use harness::{Sim, TaskSpec};

const SERVER: usize = 1;
const CLIENT: usize = 2;

/// What the server's stale name of its client achieved, as far as anyone can observe.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    borrow_read: (u32, Vec<u8>),
    borrow_write: (u32, u32),
    borrow_info: (u32, u32, u32),
    /// The new incarnation's state after the stale REPLY_FAULT and REPLY.
    client: TaskState,
    server: TaskState,
    /// The bytes the new incarnation lent, after the stale BORROW_WRITE.
    lent: Vec<u8>,
    /// What the new incarnation's SEND returned once the server replied by its exact name
    /// (code 8, "for new"): (response code, reply length).
    exact_reply: (u32, u32),
}

/// The server receives a call from the client and keeps its name. The client is restarted
/// `restarts` times (starting from restart count `first_generation`), and its new
/// incarnation calls the server again with a lease. The server then uses the old name.
fn stale_name_after(first_generation: u32, restarts: u32) -> (Outcome, Incarnation, Incarnation) {
    let mut sim = Sim::standard(&[1, 2]);
    // Stands for `first_generation` restarts before the test begins; nothing is blocked yet.
    sim.tasks[CLIENT].generation = first_generation;
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"old", 8, &[]);
    let old = sim.recv_result(SERVER).sender_incarnation();
    assert_eq!(
        old,
        sim.incarnation(CLIENT),
        "RECV names the sender's full generation"
    );
    for _ in 0..restarts {
        sim.restart(CLIENT, true);
    }
    sim.recv_open(SERVER, 16, 0);
    let lease = sim.lease(
        CLIENT,
        lease_attributes::READ | lease_attributes::WRITE,
        0,
        b"new lease",
    );
    sim.send(CLIENT, sim.id(SERVER), 2, b"new", 8, &[lease]);
    let new = sim.recv_result(SERVER).sender_incarnation();
    assert_eq!(new, sim.incarnation(CLIENT));

    let borrow_read = sim.borrow_read(SERVER, old, 0, 0, 16);
    let borrow_write = sim.borrow_write(SERVER, old, 0, 0, b"OVERWRITE");
    let borrow_info = sim.borrow_info(SERVER, old, 0);
    sim.reply_fault(SERVER, old, ReplyFaultReason::BadMessageContents as u32);
    sim.reply(SERVER, old, 7, b"for old");
    let outcome = Outcome {
        borrow_read,
        borrow_write,
        borrow_info,
        client: sim.state(CLIENT),
        server: sim.state(SERVER),
        lent: sim.read(CLIENT, harness::LEASE_DATA, 9),
        exact_reply: {
            sim.reply(SERVER, new, 8, b"for new");
            sim.send_result(CLIENT)
        },
    };
    (outcome, old, new)
}

fn refused(new: Incarnation) -> Outcome {
    let code = PeerGone::Restarted(new.id.generation()).code();
    Outcome {
        borrow_read: (code, Vec::new()),
        // Every refusal of a gone peer carries its current 32-bit generation in r5.
        borrow_write: (code, new.generation),
        borrow_info: (code, new.generation, 0),
        // The server is never restarted in these tests: generation 0.
        client: TaskState::Healthy(SchedState::InReply(Incarnation::new(SERVER, 0).id)),
        server: TaskState::Healthy(SchedState::Runnable),
        lent: b"new lease".to_vec(),
        exact_reply: (8, 7),
    }
}

#[test]
fn a_name_from_64_restarts_ago_is_refused_exactly_like_one_from_1_restart_ago() {
    let (one, _, new_after_one) = stale_name_after(0, 1);
    assert_eq!(one, refused(new_after_one));
    for restarts in [64, 65, 128] {
        let (wrapped, old, new) = stale_name_after(0, restarts);
        if restarts % 64 == 0 {
            assert_eq!(
                old.id, new.id,
                "the 16-bit ids coincide after {restarts} restarts"
            );
        }
        assert_eq!(wrapped, refused(new), "after {restarts} restarts");
    }
}

#[test]
fn a_stale_name_is_refused_across_the_u32_generation_boundary() {
    // From restart count u32::MAX - 31, 64 restarts end at 32: the same 6 bits, and the
    // count wrapped on the way.
    let (outcome, old, new) = stale_name_after(u32::MAX - 31, 64);
    assert_eq!((old.generation, new.generation), (u32::MAX - 31, 32));
    assert_eq!(old.id, new.id);
    assert_eq!(outcome, refused(new));
    // One restart from u32::MAX to 0.
    let (outcome, old, new) = stale_name_after(u32::MAX, 1);
    assert_eq!((old.generation, new.generation), (u32::MAX, 0));
    assert_eq!(outcome, refused(new));
}

#[test]
fn recv_reports_the_full_generation_and_a_notification_reports_zero() {
    let mut sim = Sim::new(
        &[
            TaskSpec::supervisor(),
            TaskSpec::task(1),
            TaskSpec::task(2),
            TaskSpec::task(7),
        ],
        &[],
    );
    sim.tasks[CLIENT].generation = 0x1234_5678;
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[]);
    let r = sim.recv_result(SERVER);
    assert_eq!(
        (r.sender, r.sender_generation),
        (sim.id(CLIENT), 0x1234_5678)
    );
    sim.reply(SERVER, sim.incarnation(CLIENT), 0, b"");
    sim.post(CLIENT, sim.id(SERVER), 1);
    sim.recv_open(SERVER, 16, 1);
    let r = sim.recv_result(SERVER);
    assert_eq!(
        (r.sender, r.sender_generation, r.operation),
        (abi::TaskId::KERNEL, 0, 1)
    );
}

/// `restarts` restarts of `CLIENT` in a fresh system; returns it and the name from before.
fn restarted(restarts: u32) -> (Sim, Incarnation) {
    let mut sim = Sim::standard(&[1, 2]);
    let old = sim.incarnation(CLIENT);
    for _ in 0..restarts {
        sim.restart(CLIENT, true);
    }
    (sim, old)
}

#[test]
fn post_to_a_name_from_64_restarts_ago_gets_the_dead_code_and_posts_nothing() {
    for restarts in [1, 64, 128] {
        let (mut sim, old) = restarted(restarts);
        let dead = PeerGone::Restarted(sim.id(CLIENT).generation()).code();
        assert_eq!(sim.post(SERVER, old, 1), dead, "after {restarts} restarts");
        assert_eq!(sim.notifications(CLIENT), 0, "after {restarts} restarts");
        assert_eq!(sim.post(SERVER, sim.incarnation(CLIENT), 1), 0);
        assert_eq!(sim.notifications(CLIENT), 1);
    }
}

#[test]
fn closed_receive_from_a_name_from_64_restarts_ago_gets_the_dead_code() {
    for restarts in [1, 64, 128] {
        let (mut sim, old) = restarted(restarts);
        let dead = PeerGone::Restarted(sim.id(CLIENT).generation()).code();
        sim.recv_closed(SERVER, old, 16, 0);
        assert_eq!(
            sim.sched(SERVER),
            Some(SchedState::Runnable),
            "after {restarts} restarts"
        );
        assert_eq!(sim.regs(SERVER)[0], dead, "after {restarts} restarts");
        sim.recv_closed(SERVER, sim.incarnation(CLIENT), 16, 0);
        assert_eq!(
            sim.sched(SERVER),
            Some(SchedState::InRecv(Some(sim.id(CLIENT))))
        );
    }
}

#[test]
fn refresh_task_id_returns_the_full_generation_next_to_the_id() {
    let (mut sim, old) = restarted(64);
    assert_eq!(
        sim.refresh(SERVER, old.id),
        old.id,
        "64 restarts give the same 16-bit id"
    );
    assert_eq!(sim.regs(SERVER)[1], 64);
    assert_eq!(
        sim.incarnation(CLIENT),
        Incarnation {
            id: old.id,
            generation: 64
        }
    );
}

#[test]
fn send_to_a_server_name_from_64_or_128_restarts_ago_is_refused_and_the_current_one_delivers() {
    for restarts in [1, 64, 128] {
        let mut sim = Sim::standard(&[1, 2]);
        let old = sim.incarnation(SERVER);
        for _ in 0..restarts {
            sim.restart(SERVER, true);
        }
        let current = sim.incarnation(SERVER);
        if restarts % 64 == 0 {
            assert_eq!(old.id, current.id, "the 16-bit ids coincide");
        }
        sim.recv_open(SERVER, 16, 0);
        sim.send_exact(CLIENT, old, 1, b"stale", 8, &[]);
        assert_eq!(
            sim.sched(CLIENT),
            Some(SchedState::Runnable),
            "after {restarts} restarts: refused at once"
        );
        assert_eq!(
            sim.send_result(CLIENT),
            (
                PeerGone::Restarted(current.id.generation()).code(),
                current.generation
            ),
            "after {restarts} restarts: the dead code and the exact name to use now"
        );
        assert_eq!(
            sim.sched(SERVER),
            Some(SchedState::InRecv(None)),
            "after {restarts} restarts: the server got nothing"
        );
        sim.send_exact(CLIENT, current, 2, b"fresh", 8, &[]);
        assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(current.id)));
        let r = sim.recv_result(SERVER);
        assert_eq!((r.operation, r.sender), (2, sim.id(CLIENT)));
    }
}
