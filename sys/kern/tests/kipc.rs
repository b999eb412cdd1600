//! Kernel IPC: every operation, the grant check, and malformed requests.

mod harness;

use abi::{
    DEAD_CODE_BASE, DumpRegion, FaultInfo, FaultReport, Generation, IrqDesc, Kipcnum, SchedState,
    TaskId, TaskState, TaskStatus, UNAVAILABLE_CODE_BASE, UsageError, kipc_rc,
};
use harness::{IMAGE_ID, REGION_SIZE, Sim, TaskSpec, ram};
use kern::arch;
use zerocopy::FromBytes;

const PLAIN: usize = 1;
const SERVER: usize = 2;
/// A task granted kernel IPC that is not the supervisor.
const GRANTED: usize = 3;

/// Supervisor (running), a plain task, a server, a granted task and idle. Task 1 owns
/// interrupts 11 (bit 0) and 12 (bit 1); task 2 owns interrupt 20 (bit 0).
fn sim() -> Sim {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(2),
        TaskSpec::task(1),
        TaskSpec::task(2).kipc(),
        TaskSpec::task(7),
    ];
    let irqs = [
        IrqDesc {
            irq: 11,
            task: 1,
            notification: 0b01,
        },
        IrqDesc {
            irq: 12,
            task: 1,
            notification: 0b10,
        },
        IrqDesc {
            irq: 20,
            task: 2,
            notification: 0b01,
        },
    ];
    let sim = Sim::new(&specs, &irqs);
    assert_eq!(sim.current, 0);
    sim
}

fn usage(e: UsageError) -> Option<FaultInfo> {
    Some(FaultInfo::SyscallUsage(e))
}

fn status(sim: &mut Sim, i: usize) -> TaskStatus {
    sim.kipc(0, Kipcnum::ReadTaskStatus, &[i as u32]);
    let (rc, bytes) = sim.kipc_result(0);
    assert_eq!(rc, 0);
    TaskStatus::read_from_bytes(&bytes).expect("a whole TaskStatus")
}

fn word(bytes: &[u8]) -> u32 {
    u32::from_le_bytes(bytes.try_into().expect("four bytes"))
}

#[test]
fn kipc_refused_without_grant_faults_caller_with_illegal_task() {
    let mut sim = sim();
    sim.kipc(PLAIN, Kipcnum::FaultTask, &[SERVER as u32]);
    assert_eq!(sim.fault_of(PLAIN), usage(UsageError::IllegalTask));
    assert_eq!(sim.fault_of(SERVER), None);
}

#[test]
fn kipc_granted_to_non_supervisor_task_works() {
    let mut sim = sim();
    sim.kipc(GRANTED, Kipcnum::FaultTask, &[SERVER as u32]);
    assert_eq!(sim.send_result(GRANTED), (0, 0));
    assert_eq!(
        sim.fault_of(SERVER),
        Some(FaultInfo::Injected(sim.id(GRANTED)))
    );
}

/// A well-formed request for `op` that acts on `SERVER` (or, for whole-system operations,
/// on nothing in particular).
fn request_for(op: Kipcnum) -> &'static [u32] {
    const S: u32 = SERVER as u32;
    match op {
        Kipcnum::ReadTaskStatus
        | Kipcnum::FaultTask
        | Kipcnum::ReadPanicMessage
        | Kipcnum::DetachTask
        | Kipcnum::ReadTaskTime
        | Kipcnum::ReadFaultCount => &[S],
        Kipcnum::RestartTask => &[S, 1],
        Kipcnum::GetTaskDumpRegion => &[S, 0],
        Kipcnum::ReadTaskDumpRegion => &[S, 0, 0],
        Kipcnum::SoftwareIrq => &[S, 0b01],
        Kipcnum::FindFaultedTask | Kipcnum::NextFault => &[0],
        Kipcnum::ReadImageId | Kipcnum::Reset | Kipcnum::ReadTicks | Kipcnum::ReadResetReason => {
            &[]
        }
    }
}

/// Supervisor, a plain task, a server owning IRQ 20, and at index 3 a task granted `grants`.
fn sim_granting(grants: &[Kipcnum]) -> Sim {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(2),
        TaskSpec::task(1),
        TaskSpec::task(2).kipc_only(grants),
        TaskSpec::task(7),
    ];
    Sim::new(
        &specs,
        &[IrqDesc {
            irq: 20,
            task: SERVER as u16,
            notification: 0b01,
        }],
    )
}

#[test]
fn kipc_each_operation_is_refused_unless_granted_by_name() {
    for op in Kipcnum::ALL {
        let others: Vec<Kipcnum> = Kipcnum::ALL.into_iter().filter(|&o| o != op).collect();
        let mut sim = sim_granting(&others);
        let server_id = sim.id(SERVER);
        sim.kipc(GRANTED, op, request_for(op));
        assert_eq!(
            sim.fault_of(GRANTED),
            usage(UsageError::IllegalTask),
            "{op:?} without its grant"
        );
        assert_eq!(
            sim.state(SERVER),
            TaskState::Healthy(SchedState::Runnable),
            "{op:?} acted without its grant"
        );
        assert_eq!(
            (sim.id(SERVER), sim.detached(SERVER)),
            (server_id, false),
            "{op:?} acted without its grant"
        );
        assert!(!arch::irq_is_pending(20), "{op:?} acted without its grant");
    }
}

#[test]
fn kipc_an_operation_granted_alone_is_carried_out() {
    for op in Kipcnum::ALL.into_iter().filter(|&o| o != Kipcnum::Reset) {
        let mut sim = sim_granting(&[op]);
        sim.kipc(GRANTED, op, request_for(op));
        assert_eq!(sim.fault_of(GRANTED), None, "{op:?} granted alone");
    }
    let mut sim = sim_granting(&[Kipcnum::Reset]);
    let reset = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sim.kipc(GRANTED, Kipcnum::Reset, &[]);
    }));
    let message = reset.expect_err("a granted reset does not return");
    assert_eq!(
        message.downcast_ref::<String>().map(String::as_str),
        Some("system reset (Requested)")
    );
}

#[test]
fn kipc_read_task_status_reports_fault_and_restarts() {
    let mut sim = sim();
    sim.send(PLAIN, sim.id(SERVER), 1, b"", 0, &[]);
    sim.panic(SERVER, b"x");
    let s = status(&mut sim, SERVER);
    assert_eq!(s.health, TaskStatus::FAULTED);
    assert_eq!(FaultInfo::decode(s.fault), Some(FaultInfo::Panic));
    assert_eq!(
        SchedState::decode(s.sched, s.sched_peer),
        Some(SchedState::Runnable)
    );
    assert_eq!((s.restarts, s.id), (0, u32::from(sim.id(SERVER).0)));
    let s = status(&mut sim, PLAIN);
    assert_eq!(s.health, 0);
    assert_eq!(
        SchedState::decode(s.sched, s.sched_peer),
        Some(SchedState::InSend(sim.id(SERVER)))
    );

    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    let s = status(&mut sim, SERVER);
    assert_eq!((s.health, s.restarts, s.fault), (0, 1, [0; 3]));
    assert_eq!(TaskId(s.id as u16).generation(), Generation(1));
    assert_eq!(
        SchedState::decode(s.sched, s.sched_peer),
        Some(SchedState::Runnable)
    );
}

/// The supervisor tells a spinning task from a starved one by two readings of `ticks_held`:
/// each tick counts for the task it interrupted and no other, and the count wraps at 256.
#[test]
fn kipc_read_task_status_reports_the_ticks_a_task_held_modulo_256() {
    let mut sim = sim();
    let count = sim.tasks.len();
    let before: Vec<u32> = (0..count).map(|i| status(&mut sim, i).ticks_held).collect();
    let running = sim.current;
    for now in 1..=300 {
        assert_eq!(sim.tick(now), running, "no tick makes another task run");
    }
    for (i, &was) in before.iter().enumerate() {
        let expected = if i == running { (was + 300) % 256 } else { was };
        assert_eq!(status(&mut sim, i).ticks_held, expected, "task {i}");
    }

    sim.park_supervisor();
    let next = sim.current;
    assert_ne!(next, running);
    let held: Vec<u8> = sim.tasks.iter().map(|t| t.ticks_held).collect();
    for now in 301..=305 {
        sim.tick(now);
    }
    for (i, t) in sim.tasks.iter().enumerate() {
        let moved = t.ticks_held.wrapping_sub(held[i]);
        assert_eq!(moved, if i == next { 5 } else { 0 }, "task {i}");
    }
}

#[test]
fn kipc_read_task_status_reports_detached_faulted_tasks() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    let s = status(&mut sim, SERVER);
    assert_eq!(s.health, TaskStatus::FAULTED | TaskStatus::DETACHED);
    assert_eq!(
        FaultInfo::decode(s.fault),
        Some(FaultInfo::Injected(sim.id(0)))
    );
    assert_eq!(
        SchedState::decode(s.sched, s.sched_peer),
        Some(SchedState::Stopped)
    );
    assert_eq!(s.restarts, 1);
}

#[test]
fn kipc_restart_task_restarts_and_wakes_peers() {
    let mut sim = sim();
    sim.send(PLAIN, sim.id(SERVER), 1, b"", 0, &[]);
    let next = sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(next, 0);
    assert_eq!(sim.send_result(0), (0, 0));
    assert_eq!(sim.state(SERVER), TaskState::Healthy(SchedState::Runnable));
    assert_eq!(sim.sched(PLAIN), Some(SchedState::Runnable));
    assert_eq!(
        sim.regs(PLAIN)[0],
        DEAD_CODE_BASE | 1,
        "the server is back: retry with generation 1"
    );
}

#[test]
fn kipc_restart_without_start_holds_the_task() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 0]);
    assert!(sim.detached(SERVER));
    assert_eq!(sim.state(SERVER), TaskState::Healthy(SchedState::Stopped));
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert!(!sim.detached(SERVER));
    assert_eq!(sim.tasks[SERVER].generation, 1);
}

#[test]
fn kipc_detach_task_detaches() {
    let mut sim = sim();
    sim.recv_closed(PLAIN, sim.id(SERVER), 0, 0);
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    assert!(sim.detached(SERVER));
    assert_eq!(sim.regs(PLAIN)[0], UNAVAILABLE_CODE_BASE | 1);
}

#[test]
fn kipc_fault_task_injects_fault_naming_caller() {
    let mut sim = sim();
    sim.send(PLAIN, sim.id(SERVER), 1, b"", 0, &[]);
    sim.kipc(0, Kipcnum::FaultTask, &[PLAIN as u32]);
    assert_eq!(
        sim.state(PLAIN),
        TaskState::Faulted {
            fault: FaultInfo::Injected(sim.id(0)),
            original_state: SchedState::InSend(sim.id(SERVER))
        }
    );
    assert_eq!(sim.notifications(0), abi::FAULT_NOTIFICATION);
}

#[test]
fn kipc_fault_task_refuses_supervisor_and_self() {
    for target in [0, GRANTED] {
        let mut sim = sim();
        sim.kipc(GRANTED, Kipcnum::FaultTask, &[target as u32]);
        assert_eq!(
            sim.fault_of(GRANTED),
            usage(UsageError::IllegalTask),
            "target {target}"
        );
        assert_eq!(sim.state(0), TaskState::Healthy(SchedState::Runnable));
    }
}

#[test]
fn kipc_restart_and_detach_refuse_supervisor_and_self() {
    for target in [0, GRANTED] {
        for (op, words) in [
            (Kipcnum::RestartTask, vec![target as u32, 1]),
            (Kipcnum::DetachTask, vec![target as u32]),
        ] {
            let mut sim = sim();
            sim.kipc(GRANTED, op, &words);
            assert_eq!(
                sim.fault_of(GRANTED),
                usage(UsageError::IllegalTask),
                "{op:?} {target}"
            );
            assert_eq!(sim.tasks[0].generation, 0);
        }
    }
}

#[test]
fn kipc_read_panic_message() {
    let mut sim = sim();
    sim.panic(SERVER, b"index out of bounds");
    sim.kipc(0, Kipcnum::ReadPanicMessage, &[SERVER as u32]);
    assert_eq!(sim.kipc_result(0), (0, b"index out of bounds".to_vec()));
    // Truncated to the reply buffer.
    sim.send(
        0,
        TaskId::KERNEL,
        Kipcnum::ReadPanicMessage as u16,
        &(SERVER as u32).to_le_bytes(),
        5,
        &[],
    );
    assert_eq!(sim.kipc_result(0), (0, b"index".to_vec()));
    // Still readable once detached: the supervisor reads it before restarting.
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::ReadPanicMessage, &[SERVER as u32]);
    assert_eq!(sim.kipc_result(0), (0, b"index out of bounds".to_vec()));
}

#[test]
fn kipc_read_panic_message_of_task_that_did_not_panic_is_not_applicable() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::ReadPanicMessage, &[SERVER as u32]);
    assert_eq!(sim.kipc_result(0), (kipc_rc::NOT_APPLICABLE, vec![]));
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::ReadPanicMessage, &[SERVER as u32]);
    assert_eq!(sim.kipc_result(0), (kipc_rc::NOT_APPLICABLE, vec![]));
}

#[test]
fn kipc_find_faulted_task() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::FindFaultedTask, &[0]);
    assert_eq!(word(&sim.kipc_result(0).1), 0);
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::FaultTask, &[4]);
    for (start, found) in [
        (0, SERVER),
        (SERVER, SERVER),
        (SERVER + 1, 4),
        (5, 0),
        (1000, 0),
    ] {
        sim.kipc(0, Kipcnum::FindFaultedTask, &[start as u32]);
        assert_eq!(word(&sim.kipc_result(0).1), found as u32, "from {start}");
    }
}

fn next_fault(sim: &mut Sim, start: u32) -> FaultReport {
    sim.kipc(0, Kipcnum::NextFault, &[start]);
    let (rc, bytes) = sim.kipc_result(0);
    assert_eq!(rc, 0);
    FaultReport::read_from_bytes(&bytes).expect("a whole FaultReport")
}

/// The report `NextFault` should give at tick `now`.
fn report(task: usize, next: usize, fault: [u32; 3], now: u64) -> FaultReport {
    FaultReport {
        task: task as u32,
        next: next as u32,
        fault,
        now: [now as u32, (now >> 32) as u32],
    }
}

#[test]
fn kipc_next_fault_reports_task_fault_and_next() {
    let mut sim = sim();
    assert_eq!(next_fault(&mut sim, 1), report(0, 0, [0; 3], 0));
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.panic(4, b"x");
    let injected = FaultInfo::Injected(sim.id(0)).encode();
    // Both words of the tick count, so the supervisor needs no GET_TIMER after a fault.
    let now = 0x1_0000_0007;
    arch::set_now(now);
    let reported = next_fault(&mut sim, 1);
    assert_eq!(reported, report(SERVER, 4, injected, now));
    assert_eq!(reported.now(), now);
    assert_eq!(
        next_fault(&mut sim, SERVER as u32),
        report(SERVER, 4, injected, now)
    );
    let panic = FaultInfo::Panic.encode();
    assert_eq!(
        next_fault(&mut sim, SERVER as u32 + 1),
        report(4, 0, panic, now)
    );
    assert_eq!(next_fault(&mut sim, 5), report(0, 0, [0; 3], now));
    assert_eq!(next_fault(&mut sim, u32::MAX).task, 0);
    // Still reported once detached (the supervisor restarts it later); gone once restarted.
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    assert_eq!(next_fault(&mut sim, 1).task, SERVER as u32);
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(next_fault(&mut sim, 1), report(4, 0, panic, now));
}

#[test]
fn kipc_next_fault_with_a_short_reply_buffer_writes_what_fits() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.send(
        0,
        TaskId::KERNEL,
        Kipcnum::NextFault as u16,
        &1u32.to_le_bytes(),
        4,
        &[],
    );
    assert_eq!(
        sim.kipc_result(0),
        (0, (SERVER as u32).to_le_bytes().to_vec())
    );
}

#[test]
fn kipc_read_image_id() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::ReadImageId, &[]);
    assert_eq!(sim.kipc_result(0), (0, IMAGE_ID.to_le_bytes().to_vec()));
}

#[test]
fn kipc_read_reset_reason() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::ReadResetReason, &[]);
    assert_eq!(
        sim.kipc_result(0),
        (0, (abi::ResetReason::PowerOn as u32).to_le_bytes().to_vec())
    );
}

#[test]
fn kipc_read_ticks() {
    let mut sim = sim();
    arch::set_now(0x1_0000_0002);
    sim.kipc(0, Kipcnum::ReadTicks, &[]);
    assert_eq!(
        sim.kipc_result(0),
        (0, 0x1_0000_0002u64.to_le_bytes().to_vec())
    );
}

#[test]
fn kipc_read_task_time_is_not_applicable_without_the_benchmark_feature() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::ReadTaskTime, &[SERVER as u32]);
    assert_eq!(sim.kipc_result(0), (kipc_rc::NOT_APPLICABLE, vec![]));
}

fn fault_count(sim: &mut Sim, i: usize) -> (u32, u32) {
    sim.kipc(GRANTED, Kipcnum::ReadFaultCount, &[i as u32]);
    let (rc, bytes) = sim.kipc_result(GRANTED);
    assert_eq!((rc, bytes.len()), (0, 8));
    (word(&bytes[..4]), word(&bytes[4..]))
}

#[test]
fn kipc_read_fault_count_tells_faults_from_requested_restarts() {
    let mut sim = sim();
    assert_eq!(fault_count(&mut sim, SERVER), (0, 0));
    // On request: a new incarnation, no fault.
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(fault_count(&mut sim, SERVER), (1, 0));
    // A panic, then the supervisor's detach and restart: counted once.
    sim.panic(SERVER, b"x");
    assert_eq!(fault_count(&mut sim, SERVER), (1, 1));
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(fault_count(&mut sim, SERVER), (2, 1));
    // An injected fault (humility `jefe -f`, the watchdog) is a fault too.
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(fault_count(&mut sim, SERVER), (3, 2));
    // Unloaded on request, then faulted while detached: that incarnation has already
    // ended, so the fault is no one's.
    sim.kipc(0, Kipcnum::DetachTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::FaultTask, &[SERVER as u32]);
    sim.kipc(0, Kipcnum::RestartTask, &[SERVER as u32, 1]);
    assert_eq!(fault_count(&mut sim, SERVER), (4, 2));
}

#[test]
#[should_panic(expected = "system reset (Requested)")]
fn kipc_reset_resets_system() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::Reset, &[]);
}

#[test]
fn kipc_get_task_dump_region_lists_writable_regions() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::GetTaskDumpRegion, &[SERVER as u32, 0]);
    let (rc, bytes) = sim.kipc_result(0);
    assert_eq!(rc, 0);
    assert_eq!(
        DumpRegion::read_from_bytes(&bytes).unwrap(),
        DumpRegion {
            base: ram(SERVER),
            size: REGION_SIZE
        }
    );
    // Flash is not dumped.
    sim.kipc(0, Kipcnum::GetTaskDumpRegion, &[SERVER as u32, 1]);
    assert_eq!(sim.kipc_result(0), (kipc_rc::NOT_APPLICABLE, vec![]));
}

#[test]
fn kipc_read_task_dump_region_copies_task_memory() {
    let mut sim = sim();
    sim.write(SERVER, 0xFFC, b"tail");
    sim.kipc(0, Kipcnum::ReadTaskDumpRegion, &[SERVER as u32, 0, 0xFFC]);
    assert_eq!(sim.kipc_result(0), (0, b"tail".to_vec()));
    sim.kipc(0, Kipcnum::ReadTaskDumpRegion, &[SERVER as u32, 0, 0x1000]);
    assert_eq!(sim.kipc_result(0), (0, vec![]));
    sim.kipc(0, Kipcnum::ReadTaskDumpRegion, &[SERVER as u32, 1, 0]);
    assert_eq!(sim.kipc_result(0).0, kipc_rc::NOT_APPLICABLE);
}

#[test]
fn kipc_read_task_dump_region_past_the_end_faults_caller() {
    let mut sim = sim();
    sim.kipc(
        GRANTED,
        Kipcnum::ReadTaskDumpRegion,
        &[SERVER as u32, 0, 0x1001],
    );
    assert_eq!(sim.fault_of(GRANTED), usage(UsageError::OffsetOutOfRange));
}

#[test]
fn kipc_software_irq_pends_mapped_irqs() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::SoftwareIrq, &[PLAIN as u32, 0b10]);
    assert!(arch::irq_is_pending(12));
    assert!(!arch::irq_is_pending(11), "only the named bits");
    assert!(!arch::irq_is_pending(20), "only the named task");
}

#[test]
fn kipc_software_irq_refuses_a_detached_task_and_pends_nothing() {
    let mut sim = sim();
    sim.kipc(0, Kipcnum::DetachTask, &[PLAIN as u32]);
    sim.kipc(0, Kipcnum::SoftwareIrq, &[PLAIN as u32, 0b11]);
    assert_eq!(sim.kipc_result(0), (kipc_rc::DETACHED, vec![]));
    assert!(
        !arch::irq_is_pending(11) && !arch::irq_is_pending(12),
        "pended for a detached task"
    );
    sim.kipc(0, Kipcnum::RestartTask, &[PLAIN as u32, 1]);
    sim.kipc(0, Kipcnum::SoftwareIrq, &[PLAIN as u32, 0b01]);
    assert_eq!(
        sim.kipc_result(0),
        (0, vec![]),
        "the restarted task takes software IRQs again"
    );
    assert!(arch::irq_is_pending(11));
}

#[test]
fn kipc_unknown_operation_faults_with_bad_kernel_message() {
    for op in [0u16, 13, 0xFFFF] {
        let mut sim = sim();
        sim.send(GRANTED, TaskId::KERNEL, op, &[], 16, &[]);
        assert_eq!(
            sim.fault_of(GRANTED),
            usage(UsageError::BadKernelMessage),
            "op {op}"
        );
    }
}

#[test]
fn kipc_malformed_request_faults_with_bad_kernel_message() {
    let cases: [(Kipcnum, &[u8]); 8] = [
        (Kipcnum::ReadTaskStatus, &[1, 0, 0]),
        // `start` is 0 or 1; anything else is not a request the kernel defines.
        (Kipcnum::RestartTask, &[2, 0, 0, 0, 2, 0, 0, 0]),
        (Kipcnum::RestartTask, &[2, 0, 0, 0, 0, 0, 0, 1]),
        (Kipcnum::ReadTaskDumpRegion, &[2, 0, 0, 0, 0, 0, 0, 0]),
        (Kipcnum::ReadTaskStatus, &[0; 20]),
        (Kipcnum::ReadTaskStatus, &[1, 0, 0, 0, 0, 0, 0, 0]),
        (Kipcnum::ReadImageId, &[0, 0, 0, 0]),
        (Kipcnum::ReadResetReason, &[0, 0, 0, 0]),
    ];
    for (op, msg) in cases {
        let mut sim = sim();
        let restarts = sim.tasks[2].generation;
        sim.send(GRANTED, TaskId::KERNEL, op as u16, msg, 16, &[]);
        assert_eq!(
            sim.fault_of(GRANTED),
            usage(UsageError::BadKernelMessage),
            "{op:?} {msg:?}"
        );
        assert_eq!(sim.tasks[2].generation, restarts, "{op:?} {msg:?} acted");
    }
}

#[test]
fn kipc_wrong_length_is_a_bad_message_even_from_an_unreadable_address() {
    let mut sim = sim();
    let args = [
        u32::from(TaskId::KERNEL.0) << 16 | Kipcnum::ReadTaskStatus as u32,
        0,
        5,
        0,
        0,
        0,
        0,
    ];
    sim.syscall(GRANTED, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(GRANTED), usage(UsageError::BadKernelMessage));
}

#[test]
fn kipc_index_out_of_range_faults_with_task_out_of_range() {
    let cases: [(Kipcnum, &[u32]); 10] = [
        (Kipcnum::ReadTaskStatus, &[5]),
        (Kipcnum::ReadFaultCount, &[5]),
        (Kipcnum::ReadTaskTime, &[5]),
        (Kipcnum::RestartTask, &[5, 1]),
        (Kipcnum::FaultTask, &[5]),
        (Kipcnum::DetachTask, &[u32::MAX]),
        (Kipcnum::ReadPanicMessage, &[5]),
        (Kipcnum::SoftwareIrq, &[5, 1]),
        (Kipcnum::GetTaskDumpRegion, &[5, 0]),
        (Kipcnum::ReadTaskDumpRegion, &[5, 0, 0]),
    ];
    for (op, words) in cases {
        let mut sim = sim();
        sim.kipc(GRANTED, op, words);
        assert_eq!(
            sim.fault_of(GRANTED),
            usage(UsageError::TaskOutOfRange),
            "{op:?}"
        );
    }
}

#[test]
fn kipc_unreadable_request_or_unwritable_reply_faults_caller() {
    let mut sim = sim();
    let args = [
        u32::from(TaskId::KERNEL.0) << 16 | Kipcnum::ReadImageId as u32,
        0,
        0,
        harness::flash(GRANTED),
        8,
        0,
        0,
    ];
    sim.syscall(GRANTED, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(GRANTED), usage(UsageError::InvalidSlice));
    let mut sim = self::sim();
    let args = [
        u32::from(TaskId::KERNEL.0) << 16 | Kipcnum::ReadTaskStatus as u32,
        ram(PLAIN),
        4,
        0,
        0,
        0,
        0,
    ];
    sim.syscall(GRANTED, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(GRANTED), usage(UsageError::InvalidSlice));
}

#[test]
fn kipc_reply_is_truncated_to_the_reply_buffer() {
    let mut sim = sim();
    sim.send(0, TaskId::KERNEL, Kipcnum::ReadImageId as u16, &[], 3, &[]);
    assert_eq!(
        sim.kipc_result(0),
        (0, IMAGE_ID.to_le_bytes()[..3].to_vec())
    );
}
