//! Fault, detach and restart: how an incarnation ends and what its peers see.

mod harness;

use abi::{
    DEAD_CODE_BASE, FAULT_NOTIFICATION, FaultInfo, Generation, SchedState, TaskId, TaskState,
    UNAVAILABLE_CODE_BASE, UsageError,
};
use harness::{Sim, TaskSpec, ram};
use kern::arch::{self, EXC_RETURN_THREAD_PSP_FP, FRAME_WORDS};
use kern::lifecycle::SupervisorFaultPolicy;

fn healthy(s: SchedState) -> TaskState {
    TaskState::Healthy(s)
}

#[test]
fn detach_wakes_every_blocked_sender_receiver_and_reply_waiter() {
    // Tasks 1-4 at priority 2, the victim (5) at priority 1.
    let mut sim = Sim::standard(&[2, 2, 2, 2, 1]);
    let victim = 5;
    let old = sim.id(victim);
    sim.recv_open(victim, 16, 0);
    sim.send(2, old, 1, b"", 0, &[]);
    sim.send(1, old, 1, b"", 0, &[]);
    sim.recv_closed(3, old, 16, 0);
    sim.recv_open(4, 16, 0);
    assert_eq!(sim.sched(1), Some(SchedState::InSend(old)));
    assert_eq!(sim.sched(2), Some(SchedState::InReply(old)));
    assert_eq!(sim.sched(3), Some(SchedState::InRecv(Some(old))));

    sim.detach(victim);

    let code = UNAVAILABLE_CODE_BASE | 1;
    for peer in [1, 2, 3] {
        assert_eq!(
            sim.state(peer),
            healthy(SchedState::Runnable),
            "task {peer}"
        );
        assert_eq!(
            sim.regs(peer)[..2],
            [code, 1],
            "task {peer}: the code, and the victim's new 32-bit generation"
        );
    }
    assert_eq!(
        sim.sched(4),
        Some(SchedState::InRecv(None)),
        "an open receiver is not blocked on anyone"
    );
    assert_eq!(sim.state(victim), healthy(SchedState::Stopped));
    assert!(sim.detached(victim));
    assert_eq!(sim.id(victim).generation(), Generation(1));
    assert_ne!(sim.current, victim);
}

#[test]
fn detach_leaves_faulted_peers_with_their_fault_record() {
    let mut sim = Sim::standard(&[2, 1]);
    let old = sim.id(2);
    sim.send(1, old, 1, b"", 0, &[]);
    sim.fault(1, FaultInfo::Panic);
    sim.detach(2);
    assert_eq!(
        sim.state(1),
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            original_state: SchedState::InSend(old)
        }
    );
}

#[test]
fn detach_of_a_faulted_task_keeps_the_fault_and_stops_it() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.send(2, sim.id(1), 1, b"", 0, &[]);
    sim.fault(2, FaultInfo::DivideByZero);
    sim.detach(2);
    assert_eq!(
        sim.state(2),
        TaskState::Faulted {
            fault: FaultInfo::DivideByZero,
            original_state: SchedState::Stopped
        }
    );
    assert!(sim.detached(2));
}

#[test]
fn detach_twice_bumps_the_generation_once() {
    let mut sim = Sim::standard(&[1]);
    sim.detach(1);
    sim.detach(1);
    assert_eq!(sim.tasks[1].generation, 1);
}

#[test]
fn detached_task_is_never_scheduled() {
    let mut sim = Sim::standard(&[1, 3]);
    assert_eq!(sim.current, 1);
    sim.detach(1);
    assert_eq!(sim.current, 2);
    sim.tick(1);
    assert_eq!(sim.current, 2);
    sim.detach(2);
    assert_eq!(sim.current, sim.idle());
    sim.restart(1, true);
    assert_eq!(sim.current, 1);
}

#[test]
fn reply_to_detached_client_is_dropped_and_it_stays_stopped() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.recv_open(2, 16, 0);
    let old = sim.id(1);
    sim.send(1, sim.id(2), 1, b"", 8, &[]);
    sim.detach(1);
    sim.reply(2, old, 7, b"hi");
    assert_eq!(sim.state(1), healthy(SchedState::Stopped));
    assert_eq!(sim.fault_of(2), None);
}

#[test]
fn restart_does_not_bump_generation_twice_after_detach() {
    let mut sim = Sim::standard(&[1]);
    sim.detach(1);
    sim.restart(1, true);
    assert_eq!(sim.tasks[1].generation, 1);
    assert_eq!(sim.id(1).generation(), Generation(1));
    assert!(!sim.detached(1));
    assert_eq!(sim.state(1), healthy(SchedState::Runnable));
}

#[test]
fn restart_of_attached_task_wakes_peers_with_restarted_code() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    sim.restart(2, true);
    assert_eq!(sim.tasks[2].generation, 1);
    assert_eq!(sim.state(1), healthy(SchedState::Runnable));
    assert_eq!(
        sim.regs(1)[..2],
        [DEAD_CODE_BASE | 1, 1],
        "the server is back: retry with generation 1"
    );
}

#[test]
fn held_restart_of_attached_task_wakes_peers_with_unavailable_code() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    sim.restart(2, false);
    assert_eq!(
        sim.regs(1)[..2],
        [UNAVAILABLE_CODE_BASE | 1, 1],
        "a retry now would find it detached"
    );
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    assert_eq!(sim.regs(1)[0], UNAVAILABLE_CODE_BASE | 1);
}

#[test]
fn restart_after_detach_wakes_nobody_twice() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    sim.detach(2);
    assert_eq!(sim.regs(1)[0], UNAVAILABLE_CODE_BASE | 1);
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    assert_eq!(
        sim.regs(1)[0],
        UNAVAILABLE_CODE_BASE | 1,
        "refused at once while detached"
    );
    sim.restart(2, true);
    assert_eq!(sim.sched(1), Some(SchedState::Runnable));
    assert_eq!(sim.regs(1)[0], UNAVAILABLE_CODE_BASE | 1);
}

#[test]
fn restart_without_start_leaves_task_detached() {
    let mut sim = Sim::standard(&[1]);
    sim.fault(1, FaultInfo::Panic);
    sim.park_supervisor();
    sim.restart(1, false);
    assert_eq!(sim.state(1), healthy(SchedState::Stopped));
    assert!(sim.detached(1));
    assert_eq!(sim.current, sim.idle());
    sim.restart(1, true);
    assert_eq!(
        sim.tasks[1].generation, 1,
        "the held restart does not bump again"
    );
    assert_eq!(sim.current, 1);
}

#[test]
fn restart_runs_task_from_its_entry_point_with_a_fresh_fp_frame() {
    let mut sim = Sim::standard(&[1]);
    sim.send(1, TaskId(2), 0, b"", 0, &[]); // leaves garbage in its registers
    sim.restart(1, true);
    let save = sim.tasks[1].save;
    let desc = sim.tasks[1].descriptor;
    let frame_base = desc.initial_stack - 4 * FRAME_WORDS as u32;
    // Every return into a task uses `EXC_RETURN_THREAD_PSP_FP`: the frame must be the FP one.
    assert_eq!(save.psp, frame_base);
    assert_eq!(EXC_RETURN_THREAD_PSP_FP & 0x10, 0, "extended frame");
    assert_eq!(sim.regs(1), [0; 8]);
    let word = |k: u32| u32::from_le_bytes(arch::peek(frame_base + 4 * k, 4).try_into().unwrap());
    assert_eq!(word(5), 0xFFFF_FFFF, "lr");
    assert_eq!(word(6), desc.entry_point & !1, "pc");
    assert_eq!(word(7), 1 << 24, "xPSR: Thumb");
    assert!(frame_base >= ram(1));
}

#[test]
fn restart_clears_notifications_and_timer() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.post(1, sim.id(2), 0b100);
    sim.set_timer(2, Some(50), 0b10);
    assert_eq!(sim.notifications(2), 0b100);
    sim.restart(2, true);
    assert_eq!(sim.notifications(2), 0);
    assert_eq!(sim.tasks[2].timer.deadline, None);
    sim.tick(60);
    assert_eq!(
        sim.notifications(2),
        0,
        "the old incarnation's timer never fires"
    );
}

#[test]
fn generation_wraps_after_64_restarts_but_restart_count_does_not() {
    let mut sim = Sim::standard(&[1]);
    let first = sim.id(1);
    for n in 1..=64u32 {
        sim.restart(1, true);
        assert_eq!(sim.tasks[1].generation, n);
        assert_eq!(sim.id(1).generation(), Generation::from_restart_count(n));
    }
    assert_eq!(sim.id(1), first, "the 6-bit IPC generation wrapped");
    assert_eq!(sim.tasks[1].generation, 64);
    let status = kern::kipc::task_status(&sim.tasks[1]);
    assert_eq!((status.restarts, status.id), (64, u32::from(first.0)));
}

#[test]
fn fault_notifies_supervisor_bit0() {
    let mut sim = Sim::standard(&[1]);
    let next = sim.syscall(1, 99, [0; 7]);
    assert_eq!(next, 0, "the supervisor runs at once");
    assert_eq!(sim.state(0), healthy(SchedState::Runnable));
    let r = sim.recv_result(0);
    assert_eq!(
        (r.rc, r.sender, r.operation),
        (0, TaskId::KERNEL, FAULT_NOTIFICATION)
    );
    assert_eq!(sim.notifications(0), 0, "consumed by the wake-up");
}

#[test]
fn fault_while_supervisor_busy_stays_pending() {
    let mut sim = Sim::new(
        &[TaskSpec::supervisor(), TaskSpec::task(1), TaskSpec::task(7)],
        &[],
    );
    sim.recv_open(0, 16, 0b10);
    sim.fault(1, FaultInfo::Panic);
    assert_eq!(
        sim.sched(0),
        Some(SchedState::InRecv(None)),
        "bit 0 is outside its mask"
    );
    assert_eq!(sim.notifications(0), FAULT_NOTIFICATION);
}

#[test]
fn fault_does_not_unblock_peers() {
    let mut sim = Sim::standard(&[2, 2, 1]);
    sim.recv_open(3, 16, 0);
    sim.send(1, sim.id(3), 1, b"", 0, &[]);
    sim.send(2, sim.id(3), 1, b"", 0, &[]);
    sim.fault(3, FaultInfo::IllegalInstruction);
    assert_eq!(sim.sched(1), Some(SchedState::InReply(sim.id(3))));
    assert_eq!(sim.sched(2), Some(SchedState::InSend(sim.id(3))));
}

#[test]
fn second_fault_keeps_original_state() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.send(1, sim.id(2), 1, b"", 0, &[]);
    sim.fault(1, FaultInfo::Injected(sim.id(0)));
    sim.fault(1, FaultInfo::Panic);
    assert_eq!(
        sim.state(1),
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            original_state: SchedState::InSend(sim.id(2))
        }
    );
}

#[test]
#[should_panic(expected = "system reset (SupervisorFault)")]
fn supervisor_fault_resets_system() {
    let mut sim = Sim::new(&[TaskSpec::supervisor(), TaskSpec::task(7)], &[]);
    sim.syscall(0, 99, [0; 7]);
}

#[test]
#[should_panic(expected = "kernel halted")]
fn supervisor_fault_halts_when_configured_to() {
    let specs = [TaskSpec::supervisor(), TaskSpec::task(7)];
    let mut sim = Sim::with_policy(&specs, &[], SupervisorFaultPolicy::Halt);
    sim.panic(0, b"bye");
}

#[test]
fn task_not_started_at_boot_is_detached_until_restarted() {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(1).not_started(),
        TaskSpec::task(2),
        TaskSpec::task(7),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    assert!(sim.detached(1));
    assert_eq!(sim.state(1), healthy(SchedState::Stopped));
    assert_eq!(sim.current, 2);
    sim.send(2, sim.id(1), 1, b"", 0, &[]);
    assert_eq!(sim.send_result(2), (UNAVAILABLE_CODE_BASE, 0));
    sim.restart(1, true);
    assert_eq!(
        sim.id(1).generation(),
        Generation(0),
        "loading is not a restart"
    );
    assert_eq!(sim.current, 1);
}

#[test]
fn faulted_task_syscall_usage_names_the_misuse() {
    let mut sim = Sim::standard(&[1]);
    sim.syscall(
        1,
        abi::Sysnum::RefreshTaskId as u32,
        [1023, 0, 0, 0, 0, 0, 0],
    );
    assert_eq!(
        sim.state(1),
        TaskState::Faulted {
            fault: FaultInfo::SyscallUsage(UsageError::TaskOutOfRange),
            original_state: SchedState::Runnable
        }
    );
}

#[test]
fn fault_of_a_detached_task_counts_no_incarnation() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.detach(2);
    let by = sim.id(0);
    sim.fault(2, FaultInfo::Injected(by));
    assert_eq!(
        sim.state(2),
        TaskState::Faulted {
            fault: FaultInfo::Injected(by),
            original_state: SchedState::Stopped
        }
    );
    assert!(sim.detached(2), "a fault does not attach it again");
    assert_eq!(
        (sim.tasks[2].generation, sim.tasks[2].faulted_incarnations),
        (1, 0),
        "no incarnation was running to end or to count"
    );
    assert_eq!(
        sim.recv_result(0).operation,
        FAULT_NOTIFICATION,
        "the supervisor is told all the same"
    );
}

#[test]
fn a_held_task_refuses_ipc_until_it_is_started() {
    const CLIENT: usize = 1;
    const HELD: usize = 2;
    let mut sim = Sim::standard(&[2, 1]);
    sim.restart(HELD, false);
    let held = sim.id(HELD);
    let unavailable = UNAVAILABLE_CODE_BASE | 1;
    sim.send(CLIENT, held, 1, b"x", 4, &[]);
    assert_eq!(sim.send_result(CLIENT), (unavailable, 1));
    assert_eq!(sim.post(CLIENT, held, 1), unavailable);
    sim.recv_closed(CLIENT, held, 16, 0);
    assert_eq!(sim.regs(CLIENT)[..2], [unavailable, 1]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));

    sim.restart(HELD, true);
    assert_eq!(sim.id(HELD), held, "starting it does not bump again");
    sim.send(CLIENT, held, 1, b"x", 4, &[]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(held)));
}

/// The state table in `src/lifecycle.rs`'s module doc names, in its last column, the tests
/// that pin each row: every row names at least one, and each named test exists.
#[test]
fn every_row_of_the_lifecycle_table_names_tests_that_exist() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(root.join("src/lifecycle.rs")).expect("src/lifecycle.rs");
    let rows: Vec<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("//! |"))
        .skip(2) // the header and its rule
        .collect();
    assert!(rows.len() >= 10, "the table has {} rows", rows.len());
    for row in rows {
        let last = row
            .trim_end()
            .trim_end_matches('|')
            .rsplit('|')
            .next()
            .unwrap();
        let tests: Vec<&str> = last.split('`').skip(1).step_by(2).collect();
        assert!(!tests.is_empty(), "row `{row}` names no test");
        for test in tests {
            let (file, name) = test
                .split_once("::")
                .unwrap_or_else(|| panic!("`{test}` is not `file::test`"));
            let path = root.join("tests").join(format!("{file}.rs"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("row `{row}`: {}: {e}", path.display()));
            let lines: Vec<&str> = text.lines().collect();
            let is_test = lines
                .iter()
                .position(|l| l.starts_with(&format!("fn {name}()")))
                .is_some_and(|at| {
                    lines[..at]
                        .iter()
                        .rev()
                        .take_while(|l| l.starts_with("#["))
                        .any(|l| *l == "#[test]")
                });
            assert!(
                is_test,
                "row `{row}` names `{test}`, which is no test in tests/{file}.rs"
            );
        }
    }
}
