//! The fault injector's kernel-side checks (`kern::inject`, feature `fault-inject`), on the
//! simulated system: what it counts as progress, how it resolves a fault, and the
//! wrong-incarnation check on replies and lease accesses.

mod harness;

use std::sync::{Mutex, MutexGuard};

use abi::{FaultInfo, lease_attributes};
use harness::Sim;
use kern::arch;
use kern::inject::{self, Kind, Plan, Target};

const SERVER: usize = 1;
const CLIENT: usize = 2;

static PLAN: Plan = Plan {
    targets: &[Target {
        index: SERVER as u16,
        kinds: Kind::Panic.bit(),
    }],
    faults: 10,
    min_gap_ms: 1,
    max_gap_ms: 1,
    latent_ms: 5,
    stop_latent_ms: 5,
    recover_ms: 100,
    hang_ms: 1000,
    progress: CLIENT as u16,
    supervisor_run: false,
};

/// The injector's state is one per kernel, so these tests take turns.
static ONE_CAMPAIGN: Mutex<()> = Mutex::new(());

/// A client call delivered to the server, with one lease; the server has not replied.
/// Holds the campaign until the guard drops (a `should_panic` test poisons it on purpose).
fn call_in_flight() -> (Sim, MutexGuard<'static, ()>) {
    let turn = ONE_CAMPAIGN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    inject::install(&PLAN);
    let mut sim = Sim::standard(&[1, 2]);
    sim.recv_open(SERVER, 16, 0);
    let lease = sim.lease(CLIENT, lease_attributes::READ, 0, b"data");
    sim.send(CLIENT, sim.id(SERVER), 1, b"req", 8, &[lease]);
    (sim, turn)
}

#[test]
fn a_reply_from_the_incarnation_the_call_reached_is_progress_and_nothing_else() {
    let (mut sim, _turn) = call_in_flight();
    let client = sim.recv_result(SERVER).sender_incarnation();
    sim.borrow_read(SERVER, client, 0, 0, 4);
    sim.reply(SERVER, client, 0, b"ok");
    assert_eq!(sim.send_result(CLIENT).0, 0);
    assert_eq!(arch::campaign_lines(), Vec::<String>::new());
}

/// The kernel bug this check exists for: a server's incarnation ends while a client waits on
/// it and the client is not woken (`detach` skipping `InReply`), and 64 restarts later the
/// 6-bit id matches again. The full generation the call was delivered to no longer does.
#[test]
#[should_panic(expected = "FX wrong-incarnation 2 64")]
fn a_reply_from_another_incarnation_of_the_server_is_counted() {
    let (mut sim, _turn) = call_in_flight();
    let client = sim.recv_result(SERVER).sender_incarnation();
    sim.tasks[SERVER].generation += 64;
    sim.reply(SERVER, client, 0, b"ok");
}

#[test]
#[should_panic(expected = "FX wrong-incarnation 2 64")]
fn a_lease_access_from_another_incarnation_of_the_server_is_counted() {
    let (mut sim, _turn) = call_in_flight();
    let client = sim.recv_result(SERVER).sender_incarnation();
    sim.tasks[SERVER].generation += 64;
    sim.borrow_read(SERVER, client, 0, 0, 4);
}

#[test]
fn a_fault_of_a_task_outside_an_injection_is_reported_on_its_own() {
    let (mut sim, _turn) = call_in_flight();
    sim.fault(CLIENT, FaultInfo::IllegalInstruction);
    // The fault's words follow (`FaultInfo::encode`): tag 6, no payload.
    assert_eq!(
        arch::campaign_lines(),
        vec!["FC 2 cpu 6 0x00000000 0x00000000".to_string()]
    );
}
