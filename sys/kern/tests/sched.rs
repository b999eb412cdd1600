//! Scheduling: the most important runnable task runs; equals take turns.

mod harness;

use abi::SchedState;
use harness::Sim;
use kern::lifecycle::SupervisorFaultPolicy;

#[test]
fn most_important_runnable_task_runs() {
    let sim = Sim::standard(&[3, 1, 2]);
    assert_eq!(sim.current, 2);
}

#[test]
fn equals_spread_through_the_table_take_turns_in_table_order() {
    // Scheduling order 0, 2, 4, 1, 3, idle: each equal pair is apart in the table.
    let mut sim = Sim::standard(&[2, 1, 2, 1]);
    assert_eq!(sim.current, 2);
    assert_eq!(sim.recv_open(2, 0, 0), 4, "the equal after it");
    assert_eq!(
        sim.recv_open(4, 0, 0),
        1,
        "the first less important one after 4, wrapping"
    );
    assert_eq!(sim.recv_open(1, 0, 0), 3);
    assert_eq!(sim.recv_open(3, 0, 0), sim.idle());
}

#[test]
fn idle_runs_when_everything_else_is_blocked() {
    let mut sim = Sim::standard(&[1, 2]);
    sim.recv_open(1, 0, 0);
    assert_eq!(sim.recv_open(2, 0, 0), sim.idle());
}

#[test]
fn priority_preemption_on_reply_to_more_important_client() {
    let mut sim = Sim::standard(&[1, 2]);
    let (client, server) = (1, 2);
    sim.recv_open(server, 16, 0);
    // The client outranks the server: the server runs only because the client now waits.
    assert_eq!(sim.send(client, sim.id(server), 1, b"", 0, &[]), server);
    assert_eq!(
        sim.reply(server, sim.id(client), 0, b""),
        client,
        "the woken client preempts"
    );
}

#[test]
fn reply_to_less_important_client_keeps_server_running() {
    let mut sim = Sim::standard(&[2, 1]);
    let (client, server) = (1, 2);
    sim.recv_open(server, 16, 0);
    assert_eq!(sim.send(client, sim.id(server), 1, b"", 0, &[]), server);
    assert_eq!(sim.reply(server, sim.id(client), 0, b""), server);
    assert_eq!(sim.sched(client), Some(SchedState::Runnable));
}

#[test]
fn send_to_equally_important_receiver_switches_to_it() {
    let mut sim = Sim::standard(&[2, 2]);
    sim.recv_open(2, 16, 0);
    assert_eq!(sim.send(1, sim.id(2), 1, b"", 0, &[]), 2);
}

#[test]
fn post_to_less_important_receiver_does_not_preempt() {
    let mut sim = Sim::standard(&[1, 2]);
    sim.recv_open(2, 0, 0b1);
    sim.post(1, sim.id(2), 0b1);
    assert_eq!(sim.current, 1);
    assert_eq!(sim.sched(2), Some(SchedState::Runnable));
}

#[test]
fn round_robin_among_equal_priority_senders() {
    // Three equally important clients wait on a more important server; each is served
    // once before any is served twice, starting after the server in table order.
    let mut sim = Sim::standard(&[1, 2, 2, 2]);
    let server = 1;
    for client in [4, 2, 3] {
        sim.send(client, sim.id(server), client as u16, b"", 0, &[]);
    }
    let mut served = Vec::new();
    for _ in 0..3 {
        sim.recv_open(server, 0, 0);
        let client = sim.recv_result(server).sender;
        served.push(client.index());
        sim.reply(server, client, 0, b"");
    }
    assert_eq!(served, [2, 3, 4]);
}

#[test]
fn tick_rotates_equal_priority_tasks() {
    let mut sim = Sim::standard(&[2, 2, 2]);
    let mut order = vec![sim.current];
    for t in 1..=6 {
        order.push(sim.tick(t));
    }
    assert_eq!(order, [1, 2, 3, 1, 2, 3, 1]);
}

#[test]
#[should_panic(expected = "no runnable task")]
fn nothing_runnable_halts_the_kernel_with_an_epitaph() {
    let mut sim = Sim::new(&[harness::TaskSpec::supervisor()], &[]);
    sim.park_supervisor();
}

#[test]
#[should_panic(expected = "system reset (KernelFailure): no runnable task")]
fn kernel_failure_resets_by_default() {
    let mut sim = Sim::new(&[harness::TaskSpec::supervisor()], &[]);
    sim.park_supervisor();
}

#[test]
#[should_panic(expected = "kernel halted: no runnable task")]
fn kernel_failure_halts_when_configured_to() {
    let specs = [harness::TaskSpec::supervisor()];
    let mut sim = Sim::with_policies(
        &specs,
        &[],
        SupervisorFaultPolicy::Reset,
        SupervisorFaultPolicy::Halt,
    );
    sim.park_supervisor();
}

#[test]
#[should_panic(expected = "task table does not match")]
fn boot_with_misnumbered_task_table_halts_the_kernel() {
    let sim = Sim::new(
        &[harness::TaskSpec::supervisor(), harness::TaskSpec::task(7)],
        &[],
    );
    let mut descs: Vec<abi::TaskDesc> = sim.tasks.iter().map(|t| *t.descriptor).collect();
    descs[1].index = 0;
    let descs: &'static [abi::TaskDesc] = Box::leak(descs.into_boxed_slice());
    let mut table: Vec<kern::task::Task> = descs.iter().map(kern::task::Task::new).collect();
    kern::startup::init_tasks(&mut table);
}

#[test]
fn tick_does_not_rotate_away_from_a_more_important_task() {
    let mut sim = Sim::standard(&[1, 2, 2]);
    for t in 1..=3 {
        assert_eq!(sim.tick(t), 1);
    }
}
