//! The SHCSR write on task-fault entry: a fault taken while stacking an exception for a task
//! leaves that exception pending, and only the faulting task's pending exceptions may go.

use kern::arch::shcsr_after_task_fault;

const MEMFAULTACT: u32 = 1 << 0;
const USGFAULTACT: u32 = 1 << 3;
const SYSTICKACT: u32 = 1 << 11;
const USGFAULTPENDED: u32 = 1 << 12;
const MEMFAULTPENDED: u32 = 1 << 13;
const BUSFAULTPENDED: u32 = 1 << 14;
const SVCALLPENDED: u32 = 1 << 15;
const FAULT_ENABLES: u32 = (1 << 16) | (1 << 17) | (1 << 18);

#[test]
fn svc_left_pending_by_a_stacking_fault_is_dropped() {
    // MemManage active, taken on the SVC's stacking, the SVC still pending.
    let shcsr = FAULT_ENABLES | MEMFAULTACT | SVCALLPENDED;
    assert_eq!(shcsr_after_task_fault(shcsr), FAULT_ENABLES | MEMFAULTACT);
}

#[test]
fn every_pending_fault_of_the_task_is_dropped() {
    for pended in [USGFAULTPENDED, MEMFAULTPENDED, BUSFAULTPENDED, SVCALLPENDED] {
        let shcsr = FAULT_ENABLES | USGFAULTACT | pended;
        assert_eq!(
            shcsr_after_task_fault(shcsr),
            FAULT_ENABLES | USGFAULTACT,
            "{pended:#x}"
        );
    }
}

#[test]
fn enable_and_active_bits_are_written_back_unchanged() {
    // Every SHCSR bit that is not a pending bit, set and clear in turn.
    let kept = (0..19)
        .map(|b| 1u32 << b)
        .filter(|b| !(12..16).any(|p| *b == 1 << p));
    for bit in kept {
        assert_eq!(
            shcsr_after_task_fault(bit | SVCALLPENDED),
            bit,
            "bit {bit:#x}"
        );
        assert_eq!(shcsr_after_task_fault(bit), bit, "bit {bit:#x}");
    }
    assert_eq!(
        shcsr_after_task_fault(SYSTICKACT | FAULT_ENABLES),
        SYSTICKACT | FAULT_ENABLES
    );
}
