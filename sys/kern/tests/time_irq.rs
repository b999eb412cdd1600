//! Timers (SET_TIMER, GET_TIMER, the tick) and interrupts (IRQ_CONTROL, IRQ_STATUS, the
//! interrupt entry point), including what detach and restart do to them.

mod harness;

use abi::{FaultInfo, SchedState, TaskId, UsageError, irq_control};
use harness::{IRQ_BIT, Sim, TimerView, irq_of};
use kern::arch;

fn usage(e: UsageError) -> Option<FaultInfo> {
    Some(FaultInfo::SyscallUsage(e))
}

#[test]
fn timer_fires_at_deadline_and_posts_bits() {
    let mut sim = Sim::standard(&[2, 1]);
    sim.set_timer(2, Some(10), 0b100);
    sim.recv_open(2, 0, 0b100);
    sim.tick(9);
    assert_eq!(sim.sched(2), Some(SchedState::InRecv(None)));
    sim.tick(10);
    assert_eq!(sim.sched(2), Some(SchedState::Runnable));
    let r = sim.recv_result(2);
    assert_eq!((r.sender, r.operation), (TaskId::KERNEL, 0b100));
    assert_eq!(sim.tasks[2].timer.deadline, None, "a timer fires once");
}

#[test]
fn timer_deadline_in_past_posts_at_once() {
    let mut sim = Sim::standard(&[1]);
    sim.tick(20);
    for deadline in [5, 20] {
        sim.set_timer(1, Some(deadline), 0b1);
        assert_eq!(sim.notifications(1), 0b1, "deadline {deadline}");
        assert_eq!(sim.tasks[1].timer.deadline, None);
        assert_eq!(
            sim.recv_open(1, 0, 0b1),
            1,
            "the receive returns without blocking"
        );
        assert_eq!(sim.recv_result(1).operation, 0b1);
    }
}

#[test]
fn timer_cancelled_by_detach() {
    let mut sim = Sim::standard(&[1]);
    sim.set_timer(1, Some(10), 0b1);
    sim.detach(1);
    assert_eq!(sim.tasks[1].timer.deadline, None);
    sim.restart(1, true);
    sim.tick(11);
    assert_eq!(sim.notifications(1), 0);
}

#[test]
fn get_timer_reports_now_deadline_and_bits() {
    let mut sim = Sim::standard(&[1]);
    arch::set_now(0x1_0000_0005);
    sim.set_timer(1, Some(0x2_0000_0000), 0b11);
    assert_eq!(
        sim.get_timer(1),
        TimerView {
            now: 0x1_0000_0005,
            deadline: Some(0x2_0000_0000),
            bits: 0b11
        }
    );
}

#[test]
fn set_timer_disabled_cancels_the_deadline() {
    let mut sim = Sim::standard(&[1]);
    sim.set_timer(1, Some(10), 0b1);
    sim.set_timer(1, None, 0b1);
    assert_eq!(sim.get_timer(1).deadline, None);
    sim.tick(10);
    assert_eq!(sim.notifications(1), 0);
}

#[test]
fn timer_wakes_more_important_task_and_preempts() {
    let mut sim = Sim::standard(&[1, 3]);
    sim.set_timer(1, Some(10), 0b1);
    sim.recv_closed(1, TaskId::KERNEL, 0, 0b1);
    assert_eq!(sim.current, 2);
    assert_eq!(sim.tick(10), 1);
}

#[test]
fn timer_of_faulted_task_posts_without_waking_it() {
    let mut sim = Sim::standard(&[1]);
    sim.set_timer(1, Some(10), 0b1);
    sim.recv_open(1, 0, 0b1);
    sim.fault(1, FaultInfo::Panic);
    sim.park_supervisor();
    sim.tick(10);
    assert_eq!(sim.fault_of(1), Some(FaultInfo::Panic));
    assert_eq!(sim.current, sim.idle());
}

#[test]
fn irq_control_enables_and_disables_only_the_callers_irq() {
    let mut sim = Sim::standard(&[1, 2]);
    sim.irq_control(1, IRQ_BIT, irq_control::ENABLE);
    assert!(arch::irq_is_enabled(irq_of(1)));
    assert!(
        !arch::irq_is_enabled(irq_of(2)),
        "the same bit of another task names another IRQ"
    );
    sim.irq_control(1, IRQ_BIT, 0);
    assert!(!arch::irq_is_enabled(irq_of(1)));
}

#[test]
fn irq_control_clear_pending() {
    let mut sim = Sim::standard(&[1]);
    arch::irq_pend(irq_of(1));
    sim.irq_control(1, IRQ_BIT, irq_control::ENABLE | irq_control::CLEAR_PENDING);
    assert!(!arch::irq_is_pending(irq_of(1)));
    assert!(arch::irq_is_enabled(irq_of(1)));
}

#[test]
fn irq_control_on_bits_without_irq_faults_with_no_irq() {
    let mut sim = Sim::standard(&[1]);
    sim.irq_control(1, IRQ_BIT | 0b1, irq_control::ENABLE);
    assert_eq!(sim.fault_of(1), usage(UsageError::NoIrq));
    assert!(!arch::irq_is_enabled(irq_of(1)), "nothing was enabled");
    let mut sim = Sim::standard(&[1]);
    sim.irq_status(1, 0b1);
    assert_eq!(sim.fault_of(1), usage(UsageError::NoIrq));
}

#[test]
fn irq_status_reports_enabled_pending_and_posted() {
    let mut sim = Sim::standard(&[1]);
    assert_eq!(sim.irq_status(1, IRQ_BIT), (0, 0, 0));
    sim.irq_control(1, IRQ_BIT, irq_control::ENABLE);
    arch::irq_pend(irq_of(1));
    sim.post(1, sim.id(1), IRQ_BIT | 0b1);
    assert_eq!(sim.irq_status(1, IRQ_BIT), (IRQ_BIT, IRQ_BIT, IRQ_BIT));
}

#[test]
fn interrupt_masks_the_irq_and_posts_its_owner() {
    let mut sim = Sim::standard(&[1, 3]);
    sim.irq_control(1, IRQ_BIT, irq_control::ENABLE);
    sim.recv_open(1, 0, IRQ_BIT);
    assert_eq!(sim.current, 2);
    assert_eq!(
        sim.interrupt(irq_of(1)),
        1,
        "the more important owner preempts"
    );
    assert!(
        !arch::irq_is_enabled(irq_of(1)),
        "masked until the owner re-enables it"
    );
    assert_eq!(sim.recv_result(1).operation, IRQ_BIT);
}

#[test]
fn interrupt_to_less_important_owner_does_not_preempt() {
    let mut sim = Sim::standard(&[1, 3]);
    sim.recv_open(2, 0, IRQ_BIT);
    assert_eq!(sim.interrupt(irq_of(2)), 1);
    assert_eq!(sim.sched(2), Some(SchedState::Runnable));
}

#[test]
fn interrupt_without_owner_is_masked_and_ignored() {
    let mut sim = Sim::standard(&[1]);
    arch::irq_enable(7);
    assert_eq!(sim.interrupt(7), 1);
    assert!(!arch::irq_is_enabled(7));
}

#[test]
fn irq_masked_by_detach_and_notifications_cleared() {
    let mut sim = Sim::standard(&[1]);
    sim.irq_control(1, IRQ_BIT, irq_control::ENABLE);
    arch::irq_pend(irq_of(1));
    sim.post(1, sim.id(1), IRQ_BIT);
    sim.detach(1);
    assert!(!arch::irq_is_enabled(irq_of(1)));
    assert!(!arch::irq_is_pending(irq_of(1)));
    assert_eq!(sim.notifications(1), 0);
    sim.restart(1, true);
    assert_eq!(
        sim.irq_status(1, IRQ_BIT),
        (0, 0, 0),
        "the new incarnation starts masked"
    );
}

#[test]
fn interrupt_while_detached_does_not_reach_the_next_incarnation() {
    let mut sim = Sim::standard(&[1]);
    sim.detach(1);
    sim.interrupt(irq_of(1));
    sim.restart(1, true);
    assert_eq!(sim.notifications(1), 0);
}

#[test]
fn irq_latched_after_detach_is_not_pending_in_the_next_incarnation() {
    for start in [true, false] {
        let mut sim = Sim::standard(&[1]);
        sim.irq_control(1, IRQ_BIT, irq_control::ENABLE);
        sim.detach(1);
        // The peripheral signals again after the mask: the NVIC latches the line.
        arch::irq_pend(irq_of(1));
        sim.restart(1, start);
        assert!(
            !arch::irq_is_pending(irq_of(1)),
            "start {start}: the new incarnation inherited a pending IRQ"
        );
        assert!(!arch::irq_is_enabled(irq_of(1)), "start {start}");
    }
}
