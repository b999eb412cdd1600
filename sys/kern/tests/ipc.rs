//! SEND, RECV, REPLY, REPLY_FAULT, POST and the small syscalls: one test per rule.

mod harness;

use abi::{
    DEAD_CODE_BASE, FAULT_NOTIFICATION, FaultInfo, Generation, PeerGone, RECV_CLOSED,
    ReplyFaultReason, SchedState, TaskId, TaskState, ULease, UNAVAILABLE_CODE_BASE, UsageError,
    lease_attributes,
};
use harness::{Received, Sim, TaskSpec, flash, ram};

const CLIENT: usize = 1;
const OTHER: usize = 2;
const SERVER: usize = 3;

/// Supervisor, two clients at priority 2, a server at priority 1, idle.
fn sim() -> Sim {
    Sim::standard(&[2, 2, 1])
}

fn usage(e: UsageError) -> Option<FaultInfo> {
    Some(FaultInfo::SyscallUsage(e))
}

#[test]
fn send_to_open_receiver_delivers_and_waits_for_reply() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    assert_eq!(sim.sched(SERVER), Some(SchedState::InRecv(None)));
    let next = sim.send(CLIENT, sim.id(SERVER), 7, b"hello", 8, &[]);
    assert_eq!(next, SERVER, "the more important receiver runs at once");
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(sim.id(SERVER))));
    assert_eq!(
        sim.recv_result(SERVER),
        Received {
            rc: 0,
            sender: sim.id(CLIENT),
            operation: 7,
            len: 5,
            reply_capacity: 8,
            lease_count: 0,
            sender_generation: 0
        }
    );
    assert_eq!(sim.received_bytes(SERVER, 5), b"hello");
}

#[test]
fn send_to_busy_task_blocks_until_it_receives() {
    let mut sim = sim();
    sim.send(CLIENT, sim.id(SERVER), 1, b"ping", 0, &[]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(sim.id(SERVER))));
    assert_eq!(
        sim.recv_open(SERVER, 16, 0),
        SERVER,
        "a waiting message is received without blocking"
    );
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(CLIENT));
    assert_eq!(sim.received_bytes(SERVER, 4), b"ping");
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(sim.id(SERVER))));
}

#[test]
fn stale_generation_send_gets_dead_code_with_new_generation() {
    let mut sim = sim();
    let old = sim.id(SERVER);
    sim.restart(SERVER, true);
    assert_eq!(sim.id(SERVER).generation(), Generation(1));
    sim.send(CLIENT, old, 1, b"x", 4, &[]);
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::Runnable),
        "fails at once, never blocks"
    );
    assert_eq!(
        sim.send_result(CLIENT),
        (DEAD_CODE_BASE | 1, 1),
        "the code, and the full generation to name the server by from now on"
    );
    assert_eq!(
        PeerGone::from_code(sim.send_result(CLIENT).0),
        Some(PeerGone::Restarted(Generation(1)))
    );
}

#[test]
fn send_to_detached_task_fails_at_once_with_unavailable_code() {
    let mut sim = sim();
    sim.detach(SERVER);
    // Both the id from before the detach and the refreshed one are refused while detached.
    for id in [sim.id_generations_ago(SERVER, 1), sim.id(SERVER)] {
        sim.send(CLIENT, id, 1, b"x", 4, &[]);
        assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
        assert_eq!(sim.send_result(CLIENT), (UNAVAILABLE_CODE_BASE | 1, 1));
    }
}

#[test]
fn send_to_undeclared_target_faults_sender() {
    // Task 1 declares only task 2 as a target.
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(2).targets(1 << 2),
        TaskSpec::task(1),
        TaskSpec::task(1),
        TaskSpec::task(7),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    sim.recv_open(2, 16, 0);
    sim.send(1, sim.id(2), 1, b"x", 0, &[]);
    assert_eq!(
        sim.recv_result(2).sender,
        sim.id(1),
        "the declared target is reachable"
    );
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    sim.recv_open(3, 16, 0);
    sim.send(1, sim.id(3), 1, b"x", 0, &[]);
    assert_eq!(sim.fault_of(1), usage(UsageError::IllegalTask));
    assert_eq!(
        sim.sched(3),
        Some(SchedState::InRecv(None)),
        "nothing was delivered"
    );
}

#[test]
fn send_to_self_faults_with_illegal_task() {
    let mut sim = sim();
    sim.send(CLIENT, sim.id(CLIENT), 1, b"x", 0, &[]);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::IllegalTask));
}

#[test]
fn send_to_index_out_of_range_faults_with_task_out_of_range() {
    let mut sim = sim();
    sim.send(CLIENT, TaskId(40), 1, b"x", 0, &[]);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::TaskOutOfRange));
}

#[test]
fn invalid_slice_faults_caller() {
    // Message outside the sender's memory.
    let mut sim = sim();
    let args = [u32::from(sim.id(SERVER).0) << 16, ram(OTHER), 4, 0, 0, 0, 0];
    sim.syscall(CLIENT, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
    // Reply buffer in read-only flash.
    let mut sim = self::sim();
    let args = [
        u32::from(sim.id(SERVER).0) << 16,
        0,
        0,
        flash(CLIENT),
        4,
        0,
        0,
    ];
    sim.syscall(CLIENT, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
    // A slice that wraps around the address space.
    let mut sim = self::sim();
    let args = [
        u32::from(sim.id(SERVER).0) << 16,
        ram(CLIENT) + 0x10,
        u32::MAX,
        0,
        0,
        0,
        0,
    ];
    sim.syscall(CLIENT, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
    // A receive buffer the receiver may not write.
    let mut sim = self::sim();
    sim.recv_raw(SERVER, flash(SERVER), 16, 0, 0);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::InvalidSlice));
    // A reply message the server may not read.
    let mut sim = self::sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 16, &[]);
    let args = [u32::from(sim.id(CLIENT).0), 0, ram(CLIENT), 4, 0, 0, 0];
    sim.syscall(SERVER, abi::Sysnum::Reply as u32, args);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::InvalidSlice));
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::InReply(sim.id(SERVER))),
        "the client is not woken"
    );
}

#[test]
fn lease_table_outside_sender_memory_faults_sender() {
    let mut sim = sim();
    let id = sim.id(SERVER);
    let args = [u32::from(id.0) << 16, 0, 0, 0, 1 << 24, 0, ram(OTHER)];
    sim.syscall(CLIENT, abi::Sysnum::Send as u32, args);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
}

/// r8 packs the lease count (top 8 bits) and the reply capacity (low 24); a field above its
/// bound (its all-ones value, which `send_packing::pack` saturates to) is refused, the
/// largest in-bound value is not.
#[test]
fn send_refuses_a_lease_count_or_reply_capacity_beyond_its_packed_bound() {
    use abi::send_packing::{MAX_LEASES, MAX_REPLY_LEN, pack};
    assert_eq!(pack(MAX_REPLY_LEN as usize + 1, 0), MAX_REPLY_LEN + 1);
    assert_eq!(pack(usize::MAX, MAX_LEASES as usize + 1), u32::MAX);
    let mut sim = sim();
    let id = sim.id(SERVER);
    // 255 entries do not fit above the harness's usual table; this space is free in the sim.
    const TABLE: u32 = 0x10;
    let table = ram(CLIENT) + TABLE;
    // Zero-length leases the sender may offer, so only the count can be at fault.
    let lease = [0u8; 12];
    for k in 0..=MAX_LEASES + 1 {
        sim.write(CLIENT, TABLE + 12 * k, &lease);
    }
    let send = |sim: &mut harness::Sim, r8: u32| {
        sim.syscall(
            CLIENT,
            abi::Sysnum::Send as u32,
            [u32::from(id.0) << 16, 0, 0, ram(CLIENT), r8, 0, table],
        );
    };
    send(&mut sim, pack(0, MAX_LEASES as usize + 1));
    assert_eq!(
        sim.fault_of(CLIENT),
        usage(UsageError::InvalidSlice),
        "lease count"
    );
    let mut sim = self::sim();
    for k in 0..=MAX_LEASES {
        sim.write(CLIENT, TABLE + 12 * k, &lease);
    }
    send(&mut sim, pack(0, MAX_LEASES as usize));
    assert_eq!(sim.fault_of(CLIENT), None, "the most leases");
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(id)));
    let mut sim = self::sim();
    send(&mut sim, pack(MAX_REPLY_LEN as usize + 1, 0));
    assert_eq!(
        sim.fault_of(CLIENT),
        usage(UsageError::InvalidSlice),
        "reply capacity"
    );
}

#[test]
fn lease_of_memory_the_sender_cannot_access_faults_sender() {
    // Readable lease over another task's RAM.
    let mut sim = sim();
    let foreign = ULease {
        attributes: lease_attributes::READ,
        base_address: ram(OTHER),
        length: 4,
    };
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[foreign]);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
    // Writable lease over the sender's own read-only flash.
    let mut sim = self::sim();
    let flash_lease = ULease {
        attributes: lease_attributes::WRITE,
        base_address: flash(CLIENT),
        length: 4,
    };
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[flash_lease]);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
    // The same flash lent read-only is fine.
    let mut sim = self::sim();
    let flash_lease = ULease {
        attributes: lease_attributes::READ,
        base_address: flash(CLIENT),
        length: 4,
    };
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[flash_lease]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(sim.id(SERVER))));
}

#[test]
fn send_to_faulted_task_blocks_until_it_is_detached() {
    let mut sim = sim();
    sim.fault(SERVER, FaultInfo::Panic);
    sim.send(CLIENT, sim.id(SERVER), 1, b"x", 0, &[]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(sim.id(SERVER))));
    sim.detach(SERVER);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
    assert_eq!(sim.send_result(CLIENT).0, UNAVAILABLE_CODE_BASE | 1);
}

#[test]
fn message_longer_than_receive_buffer_is_truncated_and_full_length_reported() {
    let mut sim = sim();
    sim.write(SERVER, harness::RECV_BUF, &[0xEE; 8]);
    sim.recv_open(SERVER, 4, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"abcdefgh", 0, &[]);
    assert_eq!(sim.recv_result(SERVER).len, 8);
    assert_eq!(
        sim.received_bytes(SERVER, 8),
        b"abcd\xEE\xEE\xEE\xEE",
        "nothing written past the buffer"
    );
}

#[test]
fn recv_reports_reply_capacity_and_lease_count() {
    let mut sim = sim();
    let leases = [
        sim.lease(CLIENT, lease_attributes::READ, 0, b"one"),
        sim.lease(CLIENT, lease_attributes::WRITE, 8, b"two"),
    ];
    sim.send(CLIENT, sim.id(SERVER), 0xBEEF, b"m", 33, &leases);
    sim.recv_open(SERVER, 16, 0);
    let r = sim.recv_result(SERVER);
    assert_eq!(
        (r.operation, r.len, r.reply_capacity, r.lease_count),
        (0xBEEF, 1, 33, 2)
    );
}

#[test]
fn open_receive_takes_the_most_important_sender_first() {
    let mut sim = Sim::standard(&[3, 2, 3, 1]);
    let server = 4;
    sim.send(1, sim.id(server), 1, b"", 0, &[]);
    sim.send(2, sim.id(server), 2, b"", 0, &[]);
    sim.send(3, sim.id(server), 3, b"", 0, &[]);
    sim.recv_open(server, 0, 0);
    assert_eq!(sim.recv_result(server).sender, sim.id(2));
}

#[test]
fn closed_receive_takes_only_the_named_sender() {
    let mut sim = sim();
    sim.send(CLIENT, sim.id(SERVER), 1, b"one", 0, &[]);
    sim.recv_closed(SERVER, sim.id(OTHER), 16, 0);
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(Some(sim.id(OTHER))))
    );
    sim.send(OTHER, sim.id(SERVER), 2, b"two", 0, &[]);
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(OTHER));
    assert_eq!(sim.received_bytes(SERVER, 3), b"two");
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::InSend(sim.id(SERVER))),
        "the other sender still waits"
    );
}

#[test]
fn closed_receive_from_waiting_sender_delivers_at_once() {
    let mut sim = sim();
    sim.send(CLIENT, sim.id(SERVER), 1, b"one", 0, &[]);
    assert_eq!(sim.recv_closed(SERVER, sim.id(CLIENT), 16, 0), SERVER);
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(CLIENT));
}

#[test]
fn closed_receive_from_restarted_task_gets_dead_code() {
    let mut sim = sim();
    let old = sim.id(CLIENT);
    sim.restart(CLIENT, true);
    sim.recv_closed(SERVER, old, 16, 0);
    assert_eq!(sim.sched(SERVER), Some(SchedState::Runnable));
    assert_eq!(sim.regs(SERVER)[0], DEAD_CODE_BASE | 1);
}

#[test]
fn closed_receive_from_detached_task_fails() {
    let mut sim = sim();
    sim.detach(CLIENT);
    sim.recv_closed(SERVER, sim.id(CLIENT), 16, 0);
    assert_eq!(sim.sched(SERVER), Some(SchedState::Runnable));
    assert_eq!(sim.regs(SERVER)[0], UNAVAILABLE_CODE_BASE | 1);
}

#[test]
fn closed_receive_from_out_of_range_index_faults() {
    let mut sim = sim();
    sim.recv_closed(SERVER, TaskId(500), 16, 0);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::TaskOutOfRange));
}

#[test]
fn closed_receive_from_kernel_waits_for_notifications_only() {
    let mut sim = sim();
    sim.recv_closed(SERVER, TaskId::KERNEL, 16, 0b10);
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(Some(TaskId::KERNEL)))
    );
    sim.send(CLIENT, sim.id(SERVER), 1, b"x", 0, &[]);
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::InSend(sim.id(SERVER))),
        "messages are not taken"
    );
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(Some(TaskId::KERNEL)))
    );
    sim.post(OTHER, sim.id(SERVER), 0b01);
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(Some(TaskId::KERNEL))),
        "bit outside the mask"
    );
    sim.post(OTHER, sim.id(SERVER), 0b10);
    assert_eq!(sim.sched(SERVER), Some(SchedState::Runnable));
    let r = sim.recv_result(SERVER);
    assert_eq!(
        (r.rc, r.sender, r.operation, r.len),
        (0, TaskId::KERNEL, 0b10, 0)
    );
    assert_eq!(
        sim.notifications(SERVER),
        0b01,
        "only the fired bits are consumed"
    );
}

#[test]
fn pending_notifications_are_returned_before_messages() {
    let mut sim = sim();
    sim.send(CLIENT, sim.id(SERVER), 1, b"x", 0, &[]);
    sim.post(OTHER, sim.id(SERVER), 0b110);
    sim.recv_open(SERVER, 16, 0b100);
    let r = sim.recv_result(SERVER);
    assert_eq!((r.sender, r.operation), (TaskId::KERNEL, 0b100));
    assert_eq!(sim.notifications(SERVER), 0b010);
    sim.recv_open(SERVER, 16, 0b100);
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(CLIENT));
}

#[test]
fn notification_delivered_to_blocked_receiver_with_matching_mask() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0b1000);
    sim.post(CLIENT, sim.id(SERVER), 0b0001);
    assert_eq!(sim.sched(SERVER), Some(SchedState::InRecv(None)));
    assert_eq!(sim.notifications(SERVER), 0b0001);
    assert_eq!(sim.post(CLIENT, sim.id(SERVER), 0b1000), 0);
    assert_eq!(
        sim.current, SERVER,
        "the woken, more important receiver runs"
    );
    assert_eq!(sim.recv_result(SERVER).operation, 0b1000);
    assert_eq!(sim.notifications(SERVER), 0b0001);
}

#[test]
fn post_to_stale_or_detached_id_gets_a_code() {
    let mut sim = sim();
    let old = sim.id(SERVER);
    sim.restart(SERVER, true);
    assert_eq!(sim.post(CLIENT, old, 1), DEAD_CODE_BASE | 1);
    assert_eq!(
        sim.notifications(SERVER),
        0,
        "a stale post never reaches the new incarnation"
    );
    sim.detach(SERVER);
    assert_eq!(
        sim.post(CLIENT, sim.id(SERVER), 1),
        UNAVAILABLE_CODE_BASE | 2
    );
    assert_eq!(sim.notifications(SERVER), 0);
}

#[test]
fn post_to_undeclared_target_faults_but_post_to_self_is_allowed() {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(2).targets(0),
        TaskSpec::task(1),
        TaskSpec::task(7),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    assert_eq!(sim.post(1, sim.id(1), 0b1), 0);
    assert_eq!(sim.notifications(1), 0b1);
    sim.post(1, sim.id(2), 0b1);
    assert_eq!(sim.fault_of(1), usage(UsageError::IllegalTask));
    assert_eq!(sim.notifications(2), 0);
}

/// Supervisor; task 1 (priority 1) may POST, not SEND, to the less important task 2; task 3
/// (priority 2) is in neither mask; idle.
fn notify_down_sim() -> Sim {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(1).targets(0).notifies(1 << 2),
        TaskSpec::task(2),
        TaskSpec::task(2),
        TaskSpec::task(7),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    sim
}

#[test]
fn post_to_less_important_notify_target_wakes_it_without_preempting() {
    let mut sim = notify_down_sim();
    sim.recv_open(2, 16, 0b10);
    assert_eq!(sim.post(1, sim.id(2), 0b10), 0);
    assert_eq!(sim.fault_of(1), None);
    assert_eq!(sim.sched(2), Some(SchedState::Runnable), "the target woke");
    let r = sim.recv_result(2);
    assert_eq!((r.sender, r.operation), (TaskId::KERNEL, 0b10));
    assert_eq!(sim.current, 1, "the more important poster keeps running");
}

#[test]
fn post_to_notify_target_reaches_only_the_named_task() {
    let mut sim = notify_down_sim();
    sim.post(1, sim.id(3), 0b1);
    assert_eq!(sim.fault_of(1), usage(UsageError::IllegalTask));
    assert_eq!(sim.notifications(3), 0);
}

#[test]
fn post_to_notify_target_checks_its_generation() {
    let mut sim = notify_down_sim();
    let old = sim.id(2);
    sim.restart(2, true);
    assert_eq!(sim.post(1, old, 0b1), DEAD_CODE_BASE | 1);
    assert_eq!(sim.notifications(2), 0, "the new incarnation got nothing");
}

#[test]
fn send_to_notify_only_target_faults_sender() {
    let mut sim = notify_down_sim();
    sim.recv_open(2, 16, 0);
    sim.send(1, sim.id(2), 1, b"x", 0, &[]);
    assert_eq!(sim.fault_of(1), usage(UsageError::IllegalTask));
    assert_eq!(
        sim.sched(2),
        Some(SchedState::InRecv(None)),
        "nothing was delivered"
    );
}

#[test]
fn reply_wakes_client_with_code_and_message() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 8, &[]);
    sim.reply(SERVER, sim.id(CLIENT), 42, b"answer");
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
    assert_eq!(sim.send_result(CLIENT), (42, 6));
    assert_eq!(sim.reply_bytes(CLIENT), b"answer");
}

#[test]
fn reply_to_restarted_client_is_dropped() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    let old = sim.id(CLIENT);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 8, &[]);
    sim.restart(CLIENT, true);
    sim.reply(SERVER, old, 42, b"late");
    assert_eq!(
        sim.state(SERVER),
        TaskState::Healthy(SchedState::Runnable),
        "the server is not punished"
    );
    assert_eq!(sim.regs(CLIENT)[0], 0, "the new incarnation sees nothing");
    assert_eq!(sim.read(CLIENT, harness::REPLY_BUF, 4), [0; 4]);
}

#[test]
fn reply_to_stale_id_never_reaches_the_clients_new_incarnation() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    let old = sim.id(CLIENT);
    sim.send(CLIENT, sim.id(SERVER), 1, b"old", 8, &[]);
    sim.restart(CLIENT, true);
    // The new incarnation calls the same server, which now holds both ids.
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 2, b"new", 8, &[]);
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(CLIENT));
    sim.reply(SERVER, old, 7, b"for old");
    sim.reply_fault(SERVER, old, ReplyFaultReason::BadMessageContents as u32);
    assert_eq!(
        sim.state(CLIENT),
        TaskState::Healthy(SchedState::InReply(sim.id(SERVER)))
    );
    sim.reply(SERVER, sim.id(CLIENT), 8, b"for new");
    assert_eq!(sim.send_result(CLIENT), (8, 7));
    assert_eq!(sim.reply_bytes(CLIENT), b"for new");
}

#[test]
fn reply_to_task_waiting_on_another_server_is_dropped() {
    let mut sim = Sim::standard(&[2, 1, 1]);
    sim.recv_open(2, 16, 0);
    sim.send(1, sim.id(2), 1, b"q", 8, &[]);
    sim.reply(3, sim.id(1), 5, b"forged");
    assert_eq!(sim.sched(1), Some(SchedState::InReply(sim.id(2))));
    assert_eq!(sim.fault_of(3), None);
}

#[test]
fn reply_larger_than_client_buffer_faults_server() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 4, &[]);
    sim.reply(SERVER, sim.id(CLIENT), 0, b"too long");
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::InvalidSlice));
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::InReply(sim.id(SERVER))),
        "woken only by a detach"
    );
    assert_eq!(
        sim.read(CLIENT, harness::REPLY_BUF, 8),
        [0; 8],
        "nothing was copied"
    );
}

#[test]
fn reply_to_out_of_range_index_faults_server() {
    let mut sim = sim();
    sim.reply(SERVER, TaskId(99), 0, b"");
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::TaskOutOfRange));
}

#[test]
fn reply_fault_faults_client_with_from_server() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 4, &[]);
    sim.reply_fault(
        SERVER,
        sim.id(CLIENT),
        ReplyFaultReason::BadMessageContents as u32,
    );
    assert_eq!(
        sim.state(CLIENT),
        TaskState::Faulted {
            fault: FaultInfo::FromServer(sim.id(SERVER), ReplyFaultReason::BadMessageContents),
            original_state: SchedState::InReply(sim.id(SERVER)),
        }
    );
    assert_eq!(sim.fault_of(SERVER), None);
    assert_eq!(
        sim.sched(0),
        Some(SchedState::Runnable),
        "the supervisor hears of it"
    );
}

#[test]
fn reply_fault_to_a_client_that_takes_it_as_an_error_ends_the_call_with_its_code() {
    let specs = [
        TaskSpec::supervisor(),
        TaskSpec::task(2)
            .flags(abi::TaskFlags::START_AT_BOOT | abi::TaskFlags::REPLY_FAULT_AS_ERROR),
        TaskSpec::task(2),
        TaskSpec::task(1),
        TaskSpec::task(7),
    ];
    let mut sim = Sim::new(&specs, &[]);
    sim.park_supervisor();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 4, &[]);
    let reason = ReplyFaultReason::BadMessageSize;
    let next = sim.reply_fault(SERVER, sim.id(CLIENT), reason as u32);
    assert_eq!(sim.fault_of(CLIENT), None, "the client lives on");
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
    assert_eq!(sim.send_result(CLIENT), (reason.code(), 0));
    assert_eq!(sim.fault_of(SERVER), None);
    assert_eq!(
        next, SERVER,
        "the more important server runs on, as after a REPLY"
    );
    assert_eq!(
        sim.sched(0),
        Some(SchedState::InRecv(Some(TaskId::KERNEL))),
        "no fault to report"
    );
    // A client without the flag is still faulted by the same server.
    sim.recv_open(SERVER, 16, 0);
    sim.send(OTHER, sim.id(SERVER), 1, b"q", 4, &[]);
    sim.reply_fault(SERVER, sim.id(OTHER), reason as u32);
    assert_eq!(
        sim.fault_of(OTHER),
        Some(FaultInfo::FromServer(sim.id(SERVER), reason))
    );
}

#[test]
fn reply_fault_with_unknown_reason_faults_server() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 4, &[]);
    sim.reply_fault(SERVER, sim.id(CLIENT), 6);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::BadKernelMessage));
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InReply(sim.id(SERVER))));
}

#[test]
fn post_and_reply_fault_to_out_of_range_index_fault_the_caller() {
    let mut sim = sim();
    sim.post(CLIENT, TaskId(77), 1);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::TaskOutOfRange));
    sim.reply_fault(SERVER, TaskId::KERNEL, 0);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::TaskOutOfRange));
}

#[test]
fn reply_fault_to_task_not_waiting_is_ignored() {
    let mut sim = sim();
    sim.reply_fault(SERVER, sim.id(CLIENT), 0);
    assert_eq!(sim.fault_of(CLIENT), None);
    assert_eq!(sim.fault_of(SERVER), None);
    // Nor can a stale id reach the new incarnation.
    sim.recv_open(SERVER, 16, 0);
    let old = sim.id(CLIENT);
    sim.send(CLIENT, sim.id(SERVER), 1, b"q", 4, &[]);
    sim.restart(CLIENT, true);
    sim.reply_fault(SERVER, old, 0);
    assert_eq!(sim.fault_of(CLIENT), None);
}

#[test]
fn bad_syscall_number_faults_with_bad_syscall_number() {
    let mut sim = sim();
    sim.syscall(CLIENT, 14, [0; 7]);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::BadSyscallNumber));
    assert_eq!(sim.sched(0), Some(SchedState::Runnable));
    assert_eq!(
        sim.recv_result(0).operation,
        FAULT_NOTIFICATION,
        "the supervisor is told"
    );
}

#[test]
fn refresh_task_id_returns_current_generation() {
    let mut sim = sim();
    sim.restart(SERVER, true);
    sim.restart(SERVER, true);
    assert_eq!(
        sim.refresh(CLIENT, TaskId::for_index_and_gen(SERVER, Generation(0))),
        sim.id(SERVER)
    );
    assert_eq!(sim.id(SERVER).generation(), Generation(2));
    sim.detach(SERVER);
    assert_eq!(
        sim.refresh(CLIENT, TaskId(SERVER as u16)),
        sim.id(SERVER),
        "detached tasks have an id too"
    );
    sim.refresh(CLIENT, TaskId::KERNEL);
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::TaskOutOfRange));
}

#[test]
fn panic_faults_task_and_keeps_the_message_in_its_memory() {
    let mut sim = sim();
    sim.panic(CLIENT, b"oh no");
    assert_eq!(
        sim.state(CLIENT),
        TaskState::Faulted {
            fault: FaultInfo::Panic,
            original_state: SchedState::Runnable
        }
    );
    let r = sim.regs(CLIENT);
    assert_eq!(
        (r[0], r[1]),
        (ram(CLIENT) + harness::PANIC_MSG, 5),
        "humility reads r4/r5"
    );
}

#[test]
fn panic_with_unreadable_message_faults_with_invalid_slice() {
    let mut sim = sim();
    sim.syscall(
        CLIENT,
        abi::Sysnum::Panic as u32,
        [ram(OTHER), 4, 0, 0, 0, 0, 0],
    );
    assert_eq!(sim.fault_of(CLIENT), usage(UsageError::InvalidSlice));
}

#[test]
fn recv_filter_bit_selects_closed_receive() {
    let mut sim = sim();
    let filter = RECV_CLOSED | u32::from(sim.id(OTHER).0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"x", 0, &[]);
    sim.recv_raw(SERVER, ram(SERVER) + harness::RECV_BUF, 16, 0, filter);
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(Some(sim.id(OTHER))))
    );
    // Without the bit, the low bits are ignored and the receive is open.
    let mut sim = self::sim();
    sim.send(CLIENT, sim.id(SERVER), 1, b"x", 0, &[]);
    sim.recv_raw(
        SERVER,
        ram(SERVER) + harness::RECV_BUF,
        16,
        0,
        u32::from(sim.id(OTHER).0),
    );
    assert_eq!(sim.recv_result(SERVER).sender, sim.id(CLIENT));
}

#[test]
fn closed_receive_from_self_faults_with_illegal_task() {
    let mut sim = sim();
    sim.recv_closed(SERVER, sim.id(SERVER), 16, 0b1);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::IllegalTask));
}
