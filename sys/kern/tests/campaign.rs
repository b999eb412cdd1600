//! The fault injector's kernel-side checks (`kern::inject`, feature `fault-inject`), on the
//! simulated system: what it counts as progress, how it resolves a fault, and the
//! wrong-incarnation check on replies and lease accesses.

mod harness;

use std::sync::{Mutex, MutexGuard};

use abi::{FaultInfo, Incarnation, lease_attributes};
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
    min_delay_ms: 0,
    max_delay_ms: 0,
    recover_ms: 100,
    hang_ms: 1000,
    settle_ms: 100,
    progress: CLIENT as u16,
    supervisor_run: false,
};

/// Every fault a `delay` of 3 ms into the server.
static DELAY_PLAN: Plan = Plan {
    targets: &[Target {
        index: SERVER as u16,
        kinds: Kind::Delay.bit(),
    }],
    min_delay_ms: 3,
    max_delay_ms: 3,
    ..PLAN
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

/// A call in flight under `DELAY_PLAN`, and its delay armed at the first fault's tick (50).
fn delay_armed() -> (Sim, MutexGuard<'static, ()>, Incarnation) {
    let turn = ONE_CAMPAIGN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    inject::install(&DELAY_PLAN);
    let mut sim = Sim::standard(&[1, 2]);
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"req", 8, &[]);
    let client = sim.recv_result(SERVER).sender_incarnation();
    tick(&mut sim, 50);
    assert_eq!(arch::campaign_lines(), [ARMED]);
    (sim, turn, client)
}

const ARMED: &str = "FI 1 50 1 delay 3 -";

/// The injector's part of the 1 ms tick, with task 0 running (never a target).
fn tick(sim: &mut Sim, now: u64) {
    arch::set_now(now);
    inject::tick(&mut sim.tasks, 0, now);
}

#[test]
fn a_delayed_reply_reaches_its_caller_whole_once_the_delay_is_over() {
    let (mut sim, _turn, client) = delay_armed();
    tick(&mut sim, 51);
    sim.reply(SERVER, client, 0, b"ok");
    assert_eq!(
        sim.tasks[CLIENT].healthy_state(),
        Some(abi::SchedState::InReply(sim.id(SERVER))),
        "the client ran before the delay was over"
    );
    tick(&mut sim, 53);
    assert!(!sim.tasks[CLIENT].is_runnable(), "released a tick early");
    tick(&mut sim, 54);
    assert!(sim.tasks[CLIENT].is_runnable(), "never released");
    assert_eq!(sim.send_result(CLIENT), (0, 2));
    assert_eq!(sim.reply_bytes(CLIENT), b"ok");
    assert_eq!(arch::campaign_lines(), [ARMED, "FO 1 54 delayed"]);
}

#[test]
fn a_delayed_reply_of_a_server_that_restarted_meanwhile_is_dropped() {
    let (mut sim, _turn, client) = delay_armed();
    sim.reply(SERVER, client, 0, b"ok");
    sim.restart(SERVER, true);
    let woken_with = sim.send_result(CLIENT).0;
    assert_ne!(
        woken_with, 0,
        "the restart must answer the client with a code"
    );
    tick(&mut sim, 53);
    assert_eq!(
        sim.send_result(CLIENT).0,
        woken_with,
        "the dead incarnation's reply arrived"
    );
    assert_eq!(arch::campaign_lines(), [ARMED, "FO 1 53 restarted"]);
}

#[test]
fn a_delay_whose_target_never_replies_is_latent_and_disarmed() {
    let (mut sim, _turn, client) = delay_armed();
    // The window is latent-ms plus the longest delay.
    tick(&mut sim, 57);
    assert_eq!(arch::campaign_lines(), [ARMED]);
    tick(&mut sim, 58);
    assert_eq!(arch::campaign_lines(), [ARMED, "FO 1 58 latent"]);
    sim.reply(SERVER, client, 0, b"ok");
    assert!(
        sim.tasks[CLIENT].is_runnable(),
        "a disarmed delay held a reply"
    );
}

#[test]
fn a_delayed_reply_of_a_server_that_faulted_meanwhile_never_arrives() {
    let (mut sim, _turn, client) = delay_armed();
    sim.reply(SERVER, client, 0, b"ok");
    sim.fault(SERVER, FaultInfo::Panic);
    tick(&mut sim, 53);
    assert!(
        !sim.tasks[CLIENT].is_runnable(),
        "the faulted incarnation's reply was delivered"
    );
    sim.restart(SERVER, true);
    assert_ne!(
        sim.send_result(CLIENT).0,
        0,
        "the restart must answer with a code"
    );
    assert_eq!(arch::campaign_lines(), [ARMED, "FO 1 50 panic"]);
}

#[test]
fn a_reply_held_at_the_end_of_the_window_is_resolved_by_its_release() {
    let (mut sim, _turn, client) = delay_armed();
    // The window (latent-ms 5 plus the longest delay, 3) ends at tick 58.
    tick(&mut sim, 57);
    sim.reply(SERVER, client, 0, b"ok");
    tick(&mut sim, 58);
    tick(&mut sim, 59);
    assert_eq!(
        arch::campaign_lines(),
        [ARMED],
        "resolved before its release"
    );
    tick(&mut sim, 60);
    assert!(sim.tasks[CLIENT].is_runnable(), "never released");
    assert_eq!(arch::campaign_lines(), [ARMED, "FO 1 60 delayed"]);
}
