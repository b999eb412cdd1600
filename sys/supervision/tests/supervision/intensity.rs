//! Restart intensity against a model that counts every automatic restart in the window.

use proptest::prelude::*;
use supervision::{Escalation, Record, TaskState};

use crate::rig::{BASE, Rig, records};

proptest! {
    /// A task that faults at random moments escalates exactly when the model says that
    /// `intensity_restarts` automatic restarts already fell within the window.
    #[test]
    fn escalation_happens_exactly_at_the_intensity_limit(
        limit in 0u32..=8,
        window in 1u32..50,
        gaps in prop::collection::vec(0u64..30, 1..60),
    ) {
        let mut policies = [BASE; 2];
        policies[1].backoff_initial_ms = 0;
        policies[1].backoff_max_ms = 0;
        policies[1].intensity_restarts = limit;
        policies[1].intensity_window_ms = window;
        policies[1].intensity_then = Escalation::RestartDependents;
        let mut rig = Rig::new(policies);
        let mut restarts: Vec<u64> = Vec::new();
        for gap in gaps {
            rig.advance_to(rig.now + gap);
            prop_assert_eq!(rig.state(1), TaskState::Running);
            let now = rig.now;
            let in_window = restarts.iter().filter(|&&t| now - t < u64::from(window)).count();
            let escalated = records(&rig.fault(1)).iter().any(|r| matches!(r, Record::Escalated { .. }));
            prop_assert_eq!(escalated, in_window >= limit as usize, "at {} with {:?}", now, restarts);
            if escalated {
                // An escalation forgets the burst it answered.
                restarts.clear();
            } else {
                restarts.push(now);
            }
        }
    }
}
