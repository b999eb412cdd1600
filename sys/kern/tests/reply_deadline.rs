//! Reply deadlines (`app.toml` `reply-deadline-ms`): a server that leaves a client waiting for
//! its reply that long is faulted at the tick, with `Injected(client)`; every other case
//! leaves it alone.

mod harness;

use abi::{FAULT_NOTIFICATION, FaultInfo, SchedState};
use harness::{Sim, TaskSpec};
use kern::arch;

const SERVER: usize = 1;
const CLIENT: usize = 2;
const DEADLINE: u32 = 25;

/// Supervisor, a server with a 25-tick deadline (or none), its client, and idle.
fn sim(deadline: u32) -> Sim {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(1).reply_deadline(deadline),
        TaskSpec::task(2),
        TaskSpec::task(3),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    sim
}

/// At tick `at`, the client's message is delivered to the receiving server.
fn deliver_at(sim: &mut Sim, at: u64) {
    arch::set_now(at);
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"ping", 4, &[]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(sim.id(SERVER))));
}

#[test]
fn a_server_that_never_replies_is_faulted_at_its_deadline_and_the_client_named() {
    let mut sim = sim(DEADLINE);
    deliver_at(&mut sim, 100);
    // The server goes back to RECV without answering: the lost reply.
    sim.recv_open(SERVER, 16, 0);
    sim.tick(100 + u64::from(DEADLINE) - 1);
    assert_eq!(sim.fault_of(SERVER), None, "one tick before the deadline");
    let next = sim.tick(100 + u64::from(DEADLINE));
    assert_eq!(
        sim.fault_of(SERVER),
        Some(FaultInfo::Injected(sim.id(CLIENT)))
    );
    assert_eq!(sim.fault_of(CLIENT), None, "the client is not blamed");
    assert_eq!(next, 0, "the supervisor runs at once");
    assert_eq!(sim.recv_result(0).operation, FAULT_NOTIFICATION);
    // The supervisor's restart wakes the client with a code, as for any fault.
    sim.restart(SERVER, true);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
}

#[test]
fn a_reply_in_time_leaves_the_server_alone() {
    let mut sim = sim(DEADLINE);
    deliver_at(&mut sim, 100);
    sim.tick(100 + u64::from(DEADLINE) - 1);
    sim.reply(SERVER, sim.id(CLIENT), 0, b"pong");
    sim.tick(1000);
    assert_eq!(sim.fault_of(SERVER), None);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
}

#[test]
fn each_message_gets_the_whole_deadline() {
    let mut sim = sim(DEADLINE);
    deliver_at(&mut sim, 100);
    sim.tick(120);
    sim.reply(SERVER, sim.id(CLIENT), 0, b"pong");
    // The next call starts its own wait: 120 + 24 is within it, though 44 ticks after the first.
    deliver_at(&mut sim, 120);
    sim.tick(120 + u64::from(DEADLINE) - 1);
    assert_eq!(sim.fault_of(SERVER), None);
    sim.tick(120 + u64::from(DEADLINE));
    assert!(sim.fault_of(SERVER).is_some());
}

#[test]
fn a_server_without_a_deadline_may_hold_its_client_forever() {
    let mut sim = sim(0);
    deliver_at(&mut sim, 100);
    sim.tick(1_000_000);
    assert_eq!(sim.fault_of(SERVER), None);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(sim.id(SERVER))));
}

#[test]
fn a_server_already_faulted_is_not_faulted_again() {
    let mut sim = sim(DEADLINE);
    deliver_at(&mut sim, 100);
    sim.fault(SERVER, FaultInfo::Panic);
    sim.tick(1000);
    assert_eq!(
        sim.fault_of(SERVER),
        Some(FaultInfo::Panic),
        "the first fault stays"
    );
}

#[test]
fn the_deadline_counts_across_the_16_bit_wrap_of_the_recorded_tick() {
    let mut sim = sim(DEADLINE);
    let start = 0x1_0000_0000 + u64::from(u16::MAX) - 10;
    deliver_at(&mut sim, start);
    sim.tick(start + u64::from(DEADLINE) - 1);
    assert_eq!(sim.fault_of(SERVER), None);
    sim.tick(start + u64::from(DEADLINE));
    assert!(sim.fault_of(SERVER).is_some());
}
