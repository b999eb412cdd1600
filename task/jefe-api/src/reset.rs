//! The peripheral-reset protocol between jefe and the board's reset server (`sys`), built so
//! that `sys` can never stall the supervisor.
//!
//! `sys` is less important than jefe, so jefe must not SEND to it: a `sys` that faults or
//! spins mid-call would leave jefe blocked forever. Instead the calls go uphill:
//!
//! 1. jefe posts the server's `reset-request` notification (declaring it is what makes a task
//!    the reset server, `build_util::supervisor`) and waits, for at most its reset deadline,
//!    for messages from `sys` alone (a closed receive plus its own timer);
//! 2. `sys` calls [`TAKE`] and gets the [`Work`]: the task being restarted and which of its
//!    `reset-peripherals` to pulse (bit i = the i-th name in app.toml);
//! 3. `sys` pulses them and calls [`DONE`] with the bits it could not reset.
//!
//! A `sys` that has not called [`DONE`] by the deadline is treated as faulted: jefe faults it
//! through kernel IPC (its own policy then restarts it), logs the reset as unanswered, and the
//! pending restart goes ahead. [`TAKE`] and [`DONE`] are answered only inside that wait, so
//! their numbers lie outside `idl/jefe.idol`'s range: at any other time jefe's server stub
//! faults the sender as for any undefined operation (a correct `sys` only calls on the
//! notification, which jefe posts only inside the wait).
//!
//! [`serve`] is the `sys` side, shared by every reset server.

use userlib::{SUPERVISOR, sys_send};

/// Message: empty. Reply: [`Work`] as two `u32` (task, mask), native order.
pub const TAKE: u16 = 0x100;
/// Message: the mask of peripherals that failed (`u32`). Reply: empty.
pub const DONE: u16 = 0x101;

/// What to reset: `task`'s `reset-peripherals` selected by `mask`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Work {
    pub task: usize,
    pub mask: u32,
}

impl Work {
    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&(self.task as u32).to_ne_bytes());
        out[4..].copy_from_slice(&self.mask.to_ne_bytes());
        out
    }

    /// `None` unless `bytes` is exactly one encoded `Work`.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (task, mask) = bytes.split_at_checked(4).filter(|(_, m)| m.len() == 4)?;
        Some(Work {
            task: u32::from_ne_bytes(task.try_into().ok()?) as usize,
            mask: u32::from_ne_bytes(mask.try_into().ok()?),
        })
    }
}

/// The failed mask a [`DONE`] message carries; `None` unless it is exactly one `u32`.
pub fn failed_mask(message: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(message.try_into().ok()?))
}

/// The reset server's half: on its `reset-request` notification, takes jefe's work, runs `reset` (which
/// returns the mask of peripherals it could not reset) and reports it. A dead code from jefe
/// means the wait is over (the deadline passed); the work is then dropped.
pub fn serve(reset: impl FnOnce(Work) -> u32) {
    let mut reply = [0u8; 8];
    let (code, len) = sys_send(SUPERVISOR, TAKE, &[], &mut reply, &[]);
    let Some(work) = reply
        .get(..len)
        .and_then(Work::from_bytes)
        .filter(|_| code == 0)
    else {
        return;
    };
    let failed = reset(work);
    sys_send(SUPERVISOR, DONE, &failed.to_ne_bytes(), &mut [], &[]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_survives_the_wire() {
        let work = Work {
            task: 7,
            mask: 0b101,
        };
        assert_eq!(Work::from_bytes(&work.to_bytes()), Some(work));
    }

    #[test]
    fn short_or_long_messages_are_not_work_or_a_result() {
        let bytes = Work { task: 1, mask: 1 }.to_bytes();
        assert_eq!(Work::from_bytes(&bytes[..7]), None);
        assert_eq!(Work::from_bytes(&[0; 9]), None);
        assert_eq!(failed_mask(&[1, 0, 0]), None);
        assert_eq!(failed_mask(&[0; 5]), None);
        assert_eq!(failed_mask(&3u32.to_ne_bytes()), Some(3));
    }

    #[test]
    fn protocol_numbers_stay_clear_of_the_idol_operations() {
        assert!(usize::from(TAKE) > crate::JefeOperation::ReadLog as usize);
        assert_eq!(DONE, TAKE + 1);
    }
}
