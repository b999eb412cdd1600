//! The driver's side of pipe ownership: which task incarnation owns which pipe, and the
//! checks every pipe operation makes before it reaches the controller logic.
//!
//! | Handle names | Caller | Result |
//! |---|---|---|
//! | another incarnation of the driver (epoch) | anyone | `BadPipe` |
//! | a slot that is free, or reissued (generation) | anyone | `BadPipe` |
//! | a live pipe | its owner, the exact incarnation | the pipe |
//! | a live pipe | anyone else, an earlier incarnation of the owner included | `NotOwner` |

use crate::HcdError;
use crate::wire::PipeHandle;
use idol_runtime::abi::Incarnation;
use usb_host_api::PipeId;

/// Pipes the driver can hold (`dwc2_hcd_core::MAX_PIPES`; the driver checks they agree).
pub const MAX_PIPES: usize = 16;

#[derive(Clone, Copy, Debug)]
struct Owned {
    pipe: PipeId,
    owner: Incarnation,
}

/// Owners of the open pipes of one incarnation of the driver.
pub struct PipeOwners {
    epoch: u16,
    slots: [Option<Owned>; MAX_PIPES],
}

impl PipeOwners {
    /// An empty table for the driver incarnation `epoch`.
    pub const fn new(epoch: u16) -> Self {
        PipeOwners {
            epoch,
            slots: [None; MAX_PIPES],
        }
    }

    /// Records that `owner` owns the newly opened `pipe`; returns its wire handle.
    pub fn adopt(&mut self, pipe: PipeId, owner: Incarnation) -> u32 {
        if let Some(slot) = self.slots.get_mut(usize::from(pipe.index)) {
            *slot = Some(Owned { pipe, owner });
        }
        PipeHandle {
            epoch: self.epoch,
            pipe,
        }
        .raw()
    }

    /// The pipe `handle` names, if it is live and `caller` owns it.
    pub fn check(&self, handle: u32, caller: Incarnation) -> Result<PipeId, HcdError> {
        let owned = self.owned(handle)?;
        if owned.owner != caller {
            return Err(HcdError::NotOwner);
        }
        Ok(owned.pipe)
    }

    /// The pipe `handle` names, if it is live, whoever owns it: for the USB core closing a
    /// pipe it opened for a class driver (`close_pipe_for`).
    pub fn live(&self, handle: u32) -> Result<PipeId, HcdError> {
        self.owned(handle).map(|o| o.pipe)
    }

    fn owned(&self, handle: u32) -> Result<Owned, HcdError> {
        let handle = PipeHandle::from_raw(handle);
        if handle.epoch != self.epoch {
            return Err(HcdError::BadPipe);
        }
        self.slots
            .get(usize::from(handle.pipe.index))
            .copied()
            .flatten()
            .filter(|o| o.pipe == handle.pipe)
            .ok_or(HcdError::BadPipe)
    }

    /// Forgets `pipe` (it has been closed).
    pub fn release(&mut self, pipe: PipeId) {
        if let Some(slot) = self.slots.get_mut(usize::from(pipe.index)) {
            *slot = None;
        }
    }

    /// Forgets every pipe owned by any incarnation of the task at `index`, calling `close`
    /// on each; returns how many there were.
    pub fn release_all_of(&mut self, index: usize, close: impl FnMut(PipeId)) -> u32 {
        self.release_if(|owner| owner.index() == index, close)
    }

    /// Forgets every pipe whose owner `gone` says has ended, calling `close` on each;
    /// returns how many there were.
    pub fn release_if(
        &mut self,
        mut gone: impl FnMut(Incarnation) -> bool,
        mut close: impl FnMut(PipeId),
    ) -> u32 {
        let mut count = 0;
        for slot in &mut self.slots {
            if let Some(owned) = slot.filter(|o| gone(o.owner)) {
                close(owned.pipe);
                *slot = None;
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    const EPOCH: u16 = 0x0C02;

    fn task(index: usize, generation: u32) -> Incarnation {
        Incarnation::new(index, generation)
    }

    fn pipe(index: u8, generation: u8) -> PipeId {
        PipeId { index, generation }
    }

    #[test]
    fn live_names_a_pipe_whoever_owns_it_and_refuses_closed_and_foreign_epoch_handles() {
        let mut owners = PipeOwners::new(EPOCH);
        let handle = owners.adopt(pipe(3, 1), task(5, 2));
        assert_eq!(owners.live(handle), Ok(pipe(3, 1)));
        let other_epoch = PipeOwners::new(EPOCH + 1);
        assert_eq!(other_epoch.live(handle), Err(HcdError::BadPipe));
        owners.release(pipe(3, 1));
        assert_eq!(owners.live(handle), Err(HcdError::BadPipe), "a closed pipe");
    }

    #[test]
    fn owner_reaches_its_pipe_and_everyone_else_gets_not_owner() {
        let mut owners = PipeOwners::new(EPOCH);
        let handle = owners.adopt(pipe(3, 1), task(5, 2));
        assert_eq!(owners.check(handle, task(5, 2)), Ok(pipe(3, 1)));
        assert_eq!(
            owners.check(handle, task(6, 2)),
            Err(HcdError::NotOwner),
            "another task"
        );
        assert_eq!(
            owners.check(handle, task(5, 1)),
            Err(HcdError::NotOwner),
            "an earlier incarnation of the owner"
        );
        assert_eq!(
            owners.check(handle, task(5, 2 + 64)),
            Err(HcdError::NotOwner),
            "a later incarnation whose 6-bit IPC generation is the same"
        );
    }

    #[test]
    fn closed_reissued_and_foreign_epoch_handles_are_stale() {
        let mut owners = PipeOwners::new(EPOCH);
        let old = owners.adopt(pipe(0, 0), task(5, 0));
        owners.release(pipe(0, 0));
        assert_eq!(owners.check(old, task(5, 0)), Err(HcdError::BadPipe));
        let new = owners.adopt(pipe(0, 1), task(5, 0));
        assert_eq!(owners.check(old, task(5, 0)), Err(HcdError::BadPipe));
        assert_eq!(owners.check(new, task(5, 0)), Ok(pipe(0, 1)));
        let restarted = PipeOwners::new(EPOCH + 1);
        assert_eq!(restarted.check(new, task(5, 0)), Err(HcdError::BadPipe));
        assert_eq!(
            owners.check(MAX_PIPES as u32, task(5, 0)),
            Err(HcdError::BadPipe)
        );
    }

    #[test]
    fn release_all_of_closes_every_incarnation_of_one_task_only() {
        let mut owners = PipeOwners::new(EPOCH);
        let kept = owners.adopt(pipe(0, 0), task(6, 0));
        owners.adopt(pipe(1, 0), task(5, 0));
        owners.adopt(pipe(15, 0), task(5, 1));
        let mut closed = [None; 2];
        let mut n = 0;
        assert_eq!(
            owners.release_all_of(5, |p| {
                closed[n] = Some(p);
                n += 1;
            }),
            2
        );
        assert_eq!(closed, [Some(pipe(1, 0)), Some(pipe(15, 0))]);
        assert_eq!(owners.check(kept, task(6, 0)), Ok(pipe(0, 0)));
        assert_eq!(owners.release_all_of(5, |_| panic!("closed twice")), 0);
    }

    #[test]
    fn release_if_closes_the_pipes_of_ended_incarnations_only() {
        let mut owners = PipeOwners::new(EPOCH);
        let live = owners.adopt(pipe(0, 0), task(5, 1));
        owners.adopt(pipe(1, 0), task(5, 0));
        owners.adopt(pipe(2, 0), task(7, 3));
        let mut closed = [None; 2];
        let mut n = 0;
        let ended = |o: Incarnation| o != task(5, 1) && o != task(7, 4);
        let count = owners.release_if(ended, |p| {
            closed[n] = Some(p);
            n += 1;
        });
        assert_eq!(count, 2);
        assert_eq!(closed, [Some(pipe(1, 0)), Some(pipe(2, 0))]);
        assert_eq!(owners.check(live, task(5, 1)), Ok(pipe(0, 0)));
    }
}
