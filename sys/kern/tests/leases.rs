//! Leases: BORROW_READ, BORROW_WRITE and BORROW_INFO, and the rule that a lease is usable
//! only while its lender waits on the borrowing server's current incarnation.

mod harness;

use abi::ULease;
use abi::{
    DEAD_CODE_BASE, FaultInfo, LEASE_DEFECT, SchedState, TaskId, UNAVAILABLE_CODE_BASE, UsageError,
    lease_attributes::{READ, WRITE},
};
use harness::{LEASE_DATA, LEASE_TABLE, Sim, flash, ram};
use zerocopy::IntoBytes;

const CLIENT: usize = 1;
const OTHER: usize = 2;
const SERVER: usize = 3;

fn usage(e: UsageError) -> Option<FaultInfo> {
    Some(FaultInfo::SyscallUsage(e))
}

/// The client has sent one message to the server with a read lease (index 0, "hello
/// world"), a write lease (index 1, 8 bytes) and a read-write lease (index 2, "rw"); the
/// server has received it.
fn lent() -> Sim {
    let mut sim = Sim::standard(&[2, 2, 1]);
    let leases = [
        sim.lease(CLIENT, READ, 0, b"hello world"),
        sim.lease(CLIENT, WRITE, 0x40, &[0; 8]),
        sim.lease(CLIENT, READ | WRITE, 0x80, b"rw"),
    ];
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &leases);
    assert_eq!(sim.recv_result(SERVER).lease_count, 3);
    sim
}

#[test]
fn borrow_read_copies_lent_bytes_from_offset() {
    let mut sim = lent();
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 6, 16),
        (0, b"world".to_vec())
    );
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 5),
        (0, b"hello".to_vec())
    );
}

#[test]
fn borrow_write_copies_into_lender_within_the_lease() {
    let mut sim = lent();
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 1, 2, b"abcdefghij"),
        (0, 6)
    );
    assert_eq!(sim.read(CLIENT, LEASE_DATA + 0x40, 10), b"\0\0abcdef\0\0");
}

#[test]
fn borrow_info_reports_attributes_and_length() {
    let mut sim = lent();
    assert_eq!(sim.borrow_info(SERVER, sim.id(CLIENT), 0), (0, READ, 11));
    assert_eq!(sim.borrow_info(SERVER, sim.id(CLIENT), 1), (0, WRITE, 8));
    assert_eq!(
        sim.borrow_info(SERVER, sim.id(CLIENT), 2),
        (0, READ | WRITE, 2)
    );
}

#[test]
fn borrow_at_offset_equal_to_length_copies_nothing() {
    let mut sim = lent();
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 11, 4),
        (0, vec![])
    );
    assert_eq!(sim.fault_of(SERVER), None);
}

#[test]
fn borrow_after_reply_returns_defect() {
    let mut sim = lent();
    sim.reply(SERVER, sim.id(CLIENT), 0, b"");
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 4),
        (LEASE_DEFECT, vec![])
    );
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 1, 0, b"x"),
        (LEASE_DEFECT, 0)
    );
    assert_eq!(
        sim.borrow_info(SERVER, sim.id(CLIENT), 0),
        (LEASE_DEFECT, 0, 0)
    );
    assert_eq!(sim.read(CLIENT, LEASE_DATA + 0x40, 1), [0]);
    assert_eq!(
        sim.fault_of(SERVER),
        None,
        "a lender that moved on is not the server's fault"
    );
}

#[test]
fn lease_unreadable_after_lender_restarted() {
    let mut sim = lent();
    let old = sim.id(CLIENT);
    sim.restart(CLIENT, true);
    assert_eq!(
        sim.borrow_read(SERVER, old, 0, 0, 4),
        (DEAD_CODE_BASE | 1, vec![])
    );
    // A gone lender's refusal names its current 32-bit generation (1) in r5.
    assert_eq!(sim.borrow_info(SERVER, old, 0), (DEAD_CODE_BASE | 1, 1, 0));
    // The new incarnation lent nothing.
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 4),
        (LEASE_DEFECT, vec![])
    );
}

#[test]
fn stale_lender_id_never_reaches_the_new_incarnations_leases() {
    let mut sim = lent();
    let old = sim.id(CLIENT);
    sim.restart(CLIENT, true);
    sim.recv_open(SERVER, 16, 0);
    let lease = sim.lease(CLIENT, READ | WRITE, 0x100, b"new data");
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[lease]);
    assert_eq!(
        sim.borrow_read(SERVER, old, 0, 0, 8),
        (DEAD_CODE_BASE | 1, vec![])
    );
    assert_eq!(
        sim.borrow_write(SERVER, old, 0, 0, b"x"),
        (DEAD_CODE_BASE | 1, 1)
    );
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 8),
        (0, b"new data".to_vec())
    );
}

#[test]
fn lease_unreadable_after_lender_detached() {
    let mut sim = lent();
    let old = sim.id(CLIENT);
    sim.detach(CLIENT);
    assert_eq!(
        sim.borrow_read(SERVER, old, 0, 0, 4),
        (UNAVAILABLE_CODE_BASE | 1, vec![])
    );
    assert_eq!(
        sim.borrow_write(SERVER, old, 1, 0, b"x"),
        (UNAVAILABLE_CODE_BASE | 1, 1)
    );
    assert_eq!(sim.read(CLIENT, LEASE_DATA + 0x40, 1), [0]);
}

#[test]
fn lease_revoked_when_lender_faulted() {
    let mut sim = lent();
    sim.fault(CLIENT, FaultInfo::Injected(sim.id(0)));
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 4),
        (LEASE_DEFECT, vec![])
    );
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 1, 0, b"x"),
        (LEASE_DEFECT, 0)
    );
}

#[test]
fn lease_unreadable_by_another_server() {
    let mut sim = lent();
    for other in [OTHER, sim.idle()] {
        assert_eq!(
            sim.borrow_read(other, sim.id(CLIENT), 0, 0, 4),
            (LEASE_DEFECT, vec![])
        );
        assert_eq!(
            sim.borrow_info(other, sim.id(CLIENT), 0),
            (LEASE_DEFECT, 0, 0)
        );
    }
}

#[test]
fn lease_unreadable_before_message_is_received() {
    let mut sim = Sim::standard(&[2, 2, 1]);
    let lease = sim.lease(CLIENT, READ, 0, b"secret");
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[lease]);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::InSend(sim.id(SERVER))));
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 6),
        (LEASE_DEFECT, vec![])
    );
}

#[test]
fn lease_unreachable_from_restarted_server_incarnation() {
    let mut sim = lent();
    sim.restart(SERVER, true);
    assert_eq!(
        sim.sched(CLIENT),
        Some(SchedState::Runnable),
        "the lender was woken"
    );
    assert_eq!(sim.send_result(CLIENT).0, DEAD_CODE_BASE | 1);
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 4),
        (LEASE_DEFECT, vec![])
    );
}

#[test]
fn lease_table_rewritten_through_a_lease_cannot_reach_foreign_memory() {
    let mut sim = Sim::standard(&[2, 2, 1]);
    sim.write(OTHER, 0, b"private");
    // Lease 0 is the lease table itself, lent writable; lease 1 is harmless.
    let table = ULease {
        attributes: READ | WRITE,
        base_address: ram(CLIENT) + harness::LEASE_TABLE,
        length: 24,
    };
    let harmless = sim.lease(CLIENT, READ, 0, b"abc");
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[table, harmless]);
    // The server rewrites lease 1 to name another task's memory, read-write.
    let forged: Vec<u8> = [READ | WRITE, ram(OTHER), 7]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect();
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 0, 12, &forged),
        (0, 12)
    );
    assert_eq!(
        sim.borrow_info(SERVER, sim.id(CLIENT), 1),
        (0, READ | WRITE, 7),
        "the kernel re-reads the table"
    );
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 1, 0, 7),
        (LEASE_DEFECT, vec![])
    );
    assert_eq!(
        sim.read(SERVER, harness::BORROW_BUF, 7),
        forged[..7],
        "nothing came back"
    );
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 1, 0, b"pwned"),
        (LEASE_DEFECT, 0)
    );
    assert_eq!(sim.read(OTHER, 0, 7), b"private");
    assert_eq!(sim.fault_of(SERVER), None);
}

/// `lent()`, with a well-formed read-write lease of the client's own memory written just past
/// the three entries it sent: a lease bound off by one would hand that slot out.
fn lent_with_a_lease_past_the_table() -> Sim {
    let sim = lent();
    let beyond = sim.lease(CLIENT, READ | WRITE, 0x100, b"beyond");
    sim.write(
        CLIENT,
        LEASE_TABLE + 3 * size_of::<ULease>() as u32,
        beyond.as_bytes(),
    );
    sim
}

#[test]
fn borrow_index_equal_to_lease_count_faults_server_with_lease_out_of_range() {
    let mut sim = lent_with_a_lease_past_the_table();
    assert_eq!(
        sim.borrow_info(SERVER, sim.id(CLIENT), 2),
        (0, READ | WRITE, 2),
        "count - 1 is the last lease"
    );
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 2, 0, 4),
        (0, b"rw".to_vec())
    );
    sim.borrow_read(SERVER, sim.id(CLIENT), 3, 0, 6);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
    assert_eq!(
        sim.read(SERVER, harness::BORROW_BUF, 6),
        b"rw\0\0\0\0",
        "nothing copied from past the table"
    );
    let mut sim = lent_with_a_lease_past_the_table();
    sim.borrow_info(SERVER, sim.id(CLIENT), 3);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
    let mut sim = lent_with_a_lease_past_the_table();
    sim.borrow_write(SERVER, sim.id(CLIENT), 3, 0, b"x");
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
    assert_eq!(sim.read(CLIENT, LEASE_DATA + 0x100, 6), b"beyond");
    let mut sim = lent();
    sim.borrow_info(SERVER, sim.id(CLIENT), u32::MAX);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
    assert_eq!(sim.fault_of(CLIENT), None, "the lender is not blamed");
}

#[test]
fn borrow_bad_offset_faults_server() {
    let mut sim = lent();
    sim.borrow_read(SERVER, sim.id(CLIENT), 0, 12, 1);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::OffsetOutOfRange));
    let mut sim = lent();
    sim.borrow_write(SERVER, sim.id(CLIENT), 1, u32::MAX, b"x");
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::OffsetOutOfRange));
}

#[test]
fn borrow_wrong_direction_faults_server() {
    let mut sim = lent();
    sim.borrow_write(SERVER, sim.id(CLIENT), 0, 0, b"x");
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
    assert_eq!(sim.read(CLIENT, LEASE_DATA, 1), b"h");
    let mut sim = lent();
    sim.borrow_read(SERVER, sim.id(CLIENT), 1, 0, 4);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::LeaseOutOfRange));
}

#[test]
fn borrow_into_buffer_the_server_cannot_access_faults_server() {
    let mut sim = lent();
    let args = [u32::from(sim.id(CLIENT).0), 0, 0, flash(SERVER), 4, 0, 0];
    sim.syscall(SERVER, abi::Sysnum::BorrowRead as u32, args);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::InvalidSlice));
    let mut sim = lent();
    let args = [u32::from(sim.id(CLIENT).0), 1, 0, ram(OTHER), 4, 0, 0];
    sim.syscall(SERVER, abi::Sysnum::BorrowWrite as u32, args);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::InvalidSlice));
    assert_eq!(sim.read(CLIENT, LEASE_DATA + 0x40, 4), [0; 4]);
}

#[test]
fn borrow_from_out_of_range_lender_faults_server() {
    let mut sim = lent();
    sim.borrow_info(SERVER, TaskId::KERNEL, 0);
    assert_eq!(sim.fault_of(SERVER), usage(UsageError::TaskOutOfRange));
}

#[test]
fn lease_outlives_nothing_after_server_detached() {
    let mut sim = lent();
    sim.detach(SERVER);
    assert_eq!(sim.sched(CLIENT), Some(SchedState::Runnable));
    assert_eq!(sim.send_result(CLIENT).0, UNAVAILABLE_CODE_BASE | 1);
    sim.restart(SERVER, true);
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 4),
        (LEASE_DEFECT, vec![])
    );
}
