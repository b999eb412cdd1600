//! `client-gone`: ending a client's incarnation posts the declared bit to exactly the servers
//! in its send mask that declare one, once per incarnation (see the kernel's `lifecycle` docs).

mod harness;

use abi::{FaultInfo, SchedState, TaskId};
use harness::{IDLE_PRIORITY, Sim, TaskSpec};

/// The bit servers in these tests declare as `client-gone`.
const GONE: u32 = 1 << 3;
/// Another notification bit of the servers, never posted by a detach.
const OTHER: u32 = 1 << 4;

const SERVER_A: usize = 1;
const SERVER_B: usize = 2;
/// A server that declares no `client-gone`.
const QUIET: usize = 3;
/// Sends to `SERVER_A` and `QUIET`.
const CLIENT: usize = 4;
/// Sends to `SERVER_B`.
const OTHER_CLIENT: usize = 5;
/// Sends to `QUIET` only.
const QUIET_CLIENT: usize = 6;

/// Supervisor, three servers (two declaring `client-gone`), three clients, idle; each server
/// parked in an open receive for `GONE | OTHER`.
fn system() -> Sim {
    let mut sim = Sim::new(
        &[
            TaskSpec::supervisor(),
            TaskSpec::task(1).targets(0).client_gone(GONE),
            TaskSpec::task(1).targets(0).client_gone(GONE),
            TaskSpec::task(1).targets(0),
            TaskSpec::task(2).targets(1 << SERVER_A | 1 << QUIET),
            TaskSpec::task(2).targets(1 << SERVER_B),
            TaskSpec::task(2).targets(1 << QUIET),
            TaskSpec::task(IDLE_PRIORITY).targets(0),
        ],
        &[],
    );
    sim.park_supervisor();
    for server in [SERVER_A, SERVER_B, QUIET] {
        sim.recv_open(server, 16, GONE | OTHER);
    }
    sim
}

/// Whether `server` was woken from its receive by exactly the `GONE` bit.
fn woken_by_gone(sim: &Sim, server: usize) -> bool {
    let r = sim.recv_result(server);
    sim.sched(server) == Some(SchedState::Runnable)
        && r.sender == TaskId::KERNEL
        && r.operation == GONE
}

fn still_receiving(sim: &Sim, server: usize) -> bool {
    sim.sched(server) == Some(SchedState::InRecv(None)) && sim.notifications(server) == 0
}

#[test]
fn detach_posts_client_gone_to_the_declaring_servers_in_the_send_mask_only() {
    let mut sim = system();
    let next = sim.detach(CLIENT);
    assert!(
        woken_by_gone(&sim, SERVER_A),
        "the client's declaring server"
    );
    assert_eq!(
        next, SERVER_A,
        "the woken server is the most important task"
    );
    assert!(
        still_receiving(&sim, SERVER_B),
        "a declaring server the client never sent to"
    );
    assert!(
        still_receiving(&sim, QUIET),
        "a server in the send mask that declares nothing"
    );
    sim.recv_open(SERVER_A, 16, GONE | OTHER);
    sim.detach(OTHER_CLIENT);
    assert!(woken_by_gone(&sim, SERVER_B));
    assert!(
        still_receiving(&sim, SERVER_A),
        "not a server of that client"
    );
}

#[test]
fn client_gone_waits_in_the_notifications_of_a_busy_server() {
    let mut sim = system();
    // SERVER_A is busy with the client's own request when the client goes away.
    sim.send(CLIENT, sim.id(SERVER_A), 1, b"", 0, &[]);
    assert_eq!(sim.sched(SERVER_A), Some(SchedState::Runnable));
    sim.detach(CLIENT);
    assert_eq!(sim.notifications(SERVER_A), GONE);
    sim.recv_open(SERVER_A, 16, GONE);
    assert!(
        woken_by_gone(&sim, SERVER_A),
        "delivered at its next receive"
    );
}

#[test]
fn fault_alone_posts_nothing_the_detach_does() {
    let mut sim = system();
    sim.fault(CLIENT, FaultInfo::Panic);
    assert!(
        still_receiving(&sim, SERVER_A),
        "a faulted client is still the same incarnation"
    );
    sim.park_supervisor();
    sim.detach(CLIENT);
    assert!(woken_by_gone(&sim, SERVER_A));
}

#[test]
fn restart_after_detach_posts_once_not_again_for_the_new_incarnation() {
    let mut sim = system();
    sim.detach(CLIENT);
    assert!(woken_by_gone(&sim, SERVER_A));
    sim.recv_open(SERVER_A, 16, GONE | OTHER);
    sim.restart(CLIENT, true);
    assert!(
        still_receiving(&sim, SERVER_A),
        "the detach already ended that incarnation"
    );
}

#[test]
fn each_restart_of_an_attached_client_posts_once() {
    let mut sim = system();
    for round in 1..=3 {
        sim.restart(CLIENT, true);
        assert!(woken_by_gone(&sim, SERVER_A), "restart {round}");
        assert_eq!(sim.notifications(SERVER_A), 0, "restart {round}");
        sim.recv_open(SERVER_A, 16, GONE | OTHER);
    }
    assert!(still_receiving(&sim, SERVER_B));
}

#[test]
fn detaching_a_client_whose_servers_declare_nothing_posts_nothing() {
    let mut sim = system();
    sim.detach(QUIET_CLIENT);
    for server in [SERVER_A, SERVER_B, QUIET] {
        assert!(still_receiving(&sim, server), "server {server}");
    }
}

#[test]
fn a_detached_server_is_not_posted() {
    let mut sim = system();
    sim.detach(SERVER_A);
    sim.detach(CLIENT);
    assert_eq!(
        sim.notifications(SERVER_A),
        0,
        "bits kept now would reach the server's next incarnation"
    );
}
