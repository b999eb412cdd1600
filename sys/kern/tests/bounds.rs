//! Edges of the memory checks: the last byte of every region of a task is inside it and the
//! first byte after is not, for plain slices and for leases; empty slices and leases.

mod harness;

use abi::lease_attributes::{READ, WRITE};
use abi::{FaultInfo, RegionAttributes, SchedState, ULease, UsageError};
use harness::{REGION_SIZE, Sim, ram};
use kern::umem::{Access, USlice};

const CLIENT: usize = 1;
const SERVER: usize = 2;

fn sim() -> Sim {
    Sim::standard(&[2, 1])
}

/// The accesses a region's attributes allow the kernel to make for its task.
fn allowed(attributes: RegionAttributes) -> Vec<Access> {
    let mut out = Vec::new();
    if attributes.contains(RegionAttributes::READ) {
        out.push(Access::Read);
    }
    if attributes.contains(RegionAttributes::WRITE) {
        out.push(Access::Write);
    }
    out
}

#[test]
fn every_region_holds_its_last_byte_and_not_the_next() {
    let sim = sim();
    let task = &sim.tasks[CLIENT];
    let regions: Vec<_> = task
        .descriptor
        .regions
        .iter()
        .filter(|r| r.size != 0)
        .collect();
    assert_eq!(regions.len(), 2, "RAM and flash");
    for r in regions {
        let end = r.base + r.size;
        for access in allowed(r.attributes) {
            let at = format!("region {:#x}+{:#x}, {access:?}", r.base, r.size);
            assert!(
                task.can_access(USlice::new(r.base, r.size), access),
                "{at}: the whole region"
            );
            assert!(
                task.can_access(USlice::new(end - 1, 1), access),
                "{at}: the last byte"
            );
            assert!(
                task.can_access(USlice::new(r.base, 1), access),
                "{at}: the first byte"
            );
            assert!(
                !task.can_access(USlice::new(end, 1), access),
                "{at}: the first byte after"
            );
            assert!(
                !task.can_access(USlice::new(end - 4, 5), access),
                "{at}: four bytes in, one out"
            );
            assert!(
                !task.can_access(USlice::new(r.base, r.size + 1), access),
                "{at}: one byte too long"
            );
            assert!(
                !task.can_access(USlice::new(r.base - 1, 2), access),
                "{at}: one byte before"
            );
        }
    }
}

#[test]
fn write_is_refused_in_a_read_only_region_to_its_last_byte() {
    let sim = sim();
    let task = &sim.tasks[CLIENT];
    let flash = task
        .descriptor
        .regions
        .iter()
        .find(|r| !r.attributes.contains(RegionAttributes::WRITE) && r.size != 0);
    let flash = flash.expect("a flash region");
    assert!(!task.can_access(USlice::new(flash.base + flash.size - 1, 1), Access::Write));
    assert!(!task.can_access(USlice::new(flash.base, 1), Access::Write));
}

#[test]
fn empty_slice_is_accessible_anywhere() {
    let sim = sim();
    for base in [0, ram(SERVER), ram(CLIENT) + REGION_SIZE, u32::MAX] {
        assert!(
            sim.tasks[CLIENT].can_access(USlice::new(base, 0), Access::Write),
            "{base:#x}"
        );
    }
}

/// The client's RAM ends at `ram(CLIENT) + REGION_SIZE`; the lease covers `len` bytes that
/// end `past` bytes after it.
fn lease_at_end(len: u32, past: u32) -> ULease {
    let end = ram(CLIENT) + REGION_SIZE + past;
    ULease {
        attributes: READ | WRITE,
        base_address: end - len,
        length: len,
    }
}

#[test]
fn lease_ending_on_the_last_byte_of_the_lenders_region_is_lent_whole() {
    let mut sim = sim();
    sim.write(CLIENT, REGION_SIZE - 4, b"tail");
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[lease_at_end(4, 0)]);
    assert_eq!(sim.fault_of(CLIENT), None);
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 16),
        (0, b"tail".to_vec())
    );
    assert_eq!(
        sim.borrow_write(SERVER, sim.id(CLIENT), 0, 3, b"L!"),
        (0, 1),
        "only the last byte is left"
    );
    assert_eq!(sim.read(CLIENT, REGION_SIZE - 4, 4), b"taiL");
}

#[test]
fn lease_one_byte_past_the_lenders_region_is_refused_at_send() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[lease_at_end(5, 1)]);
    assert_eq!(
        sim.fault_of(CLIENT),
        Some(FaultInfo::SyscallUsage(UsageError::InvalidSlice))
    );
    assert_eq!(
        sim.sched(SERVER),
        Some(SchedState::InRecv(None)),
        "nothing was delivered"
    );
}

#[test]
fn empty_lease_is_lent_and_yields_nothing() {
    let mut sim = sim();
    sim.recv_open(SERVER, 16, 0);
    let empty = ULease {
        attributes: READ | WRITE,
        base_address: ram(CLIENT) + REGION_SIZE,
        length: 0,
    };
    sim.send(CLIENT, sim.id(SERVER), 1, b"", 0, &[empty]);
    assert_eq!(sim.fault_of(CLIENT), None);
    assert_eq!(
        sim.borrow_info(SERVER, sim.id(CLIENT), 0),
        (0, READ | WRITE, 0)
    );
    assert_eq!(
        sim.borrow_read(SERVER, sim.id(CLIENT), 0, 0, 16),
        (0, vec![])
    );
    assert_eq!(sim.borrow_write(SERVER, sim.id(CLIENT), 0, 0, b"x"), (0, 0));
    sim.borrow_read(SERVER, sim.id(CLIENT), 0, 1, 1);
    assert_eq!(
        sim.fault_of(SERVER),
        Some(FaultInfo::SyscallUsage(UsageError::OffsetOutOfRange))
    );
}
