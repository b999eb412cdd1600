//! A device that turns malicious at random moments: between quiet stretches it has bouts of
//! one misbehaviour of [`Fault`] (NAKing an endpoint for ever, STALLing everything, babbling,
//! lying in its descriptors), each switched on at a frame boundary, whatever transfer is in
//! progress. The USB fault campaign plugs its flash drive in through one (doc/fault-campaign.md):
//! the stack must turn every bout into errors, never into data reported good that is not.
//!
//! Seeded and driven by frames only, so under `-icount` a seed gives the same bouts at the
//! same frames.

use crate::device::{Handshake, InReply, Pid, SimDevice};
use crate::faulty::{Fault, Faulty};
use usb_proto::Speed;
use usb_proto::descriptor::ty;
use xorshift::Rng;

/// The devices' salt: their bouts differ from the injector's draws for one seed.
const SALT: u32 = 0x3C6E_F372;

/// The timing of the bouts, in 1 ms frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub seed: u32,
    /// Quiet frames between bouts: at least, at most.
    pub gap: (u32, u32),
    /// Frames a bout lasts: at least, at most.
    pub bout: (u32, u32),
}

pub struct Chaos<'d> {
    device: Faulty<'d>,
    schedule: Schedule,
    rng: Rng,
    /// Frames until the next bout starts or the current one ends.
    left: u32,
    fault: Option<Fault>,
    bouts: u32,
}

impl<'d> Chaos<'d> {
    pub fn new(inner: &'d mut dyn SimDevice, schedule: Schedule) -> Self {
        let mut device = Faulty::new(inner, Fault::StallStorm);
        device.set_fault(None);
        let mut chaos = Chaos {
            device,
            schedule,
            rng: Rng::new(schedule.seed, SALT),
            left: 0,
            fault: None,
            bouts: 0,
        };
        chaos.left = chaos.between(schedule.gap);
        chaos
    }

    /// Bouts started so far.
    pub fn bouts(&self) -> u32 {
        self.bouts
    }

    /// The misbehaviour of the bout in progress.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }

    fn between(&mut self, (lo, hi): (u32, u32)) -> u32 {
        self.rng.between(lo, hi).max(1)
    }

    fn pick(&mut self) -> Fault {
        let (a, b) = (self.rng.next_u32(), self.rng.next_u32());
        match a % 6 {
            0 => Fault::EndlessNak { ep: (b % 3) as u8 },
            1 => Fault::StallStorm,
            2 => Fault::Babble {
                ep: 1 + (b % 2) as u8,
                len: 65 + (b % 64) as usize,
            },
            3 => Fault::PatchDescriptor {
                descriptor: ty::DEVICE,
                offset: (b % 18) as usize,
                value: (b >> 8) as u8,
            },
            4 => Fault::PatchDescriptor {
                descriptor: ty::CONFIGURATION,
                offset: (b % 32) as usize,
                value: (b >> 8) as u8,
            },
            _ => Fault::GrowingTotalLength {
                delta: 1 + (b % 64) as u16,
            },
        }
    }
}

impl SimDevice for Chaos<'_> {
    fn speed(&self) -> Speed {
        self.device.speed()
    }

    fn address(&self) -> u8 {
        self.device.address()
    }

    fn bus_reset(&mut self) {
        self.device.bus_reset();
    }

    fn setup(&mut self, packet: &[u8; 8]) -> Handshake {
        self.device.setup(packet)
    }

    fn data_out(&mut self, ep: u8, pid: Pid, data: &[u8]) -> Handshake {
        self.device.data_out(ep, pid, data)
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> InReply {
        self.device.data_in(ep, out)
    }

    fn frame_tick(&mut self) {
        self.device.frame_tick();
        self.left = self.left.saturating_sub(1);
        if self.left > 0 {
            return;
        }
        self.fault = match self.fault {
            Some(_) => None,
            None => {
                self.bouts += 1;
                Some(self.pick())
            }
        };
        self.device.set_fault(self.fault);
        self.left = match self.fault {
            Some(_) => self.between(self.schedule.bout),
            None => self.between(self.schedule.gap),
        };
    }

    fn route(&mut self, address: u8) -> Option<&mut dyn SimDevice> {
        if self.device.address() == address {
            Some(self)
        } else {
            self.device.route(address)
        }
    }

    fn responders(&self, address: u8) -> usize {
        self.device.responders(address)
    }

    fn set_port_connected(&mut self, port: u8, connected: bool) -> bool {
        self.device.set_port_connected(port, connected)
    }

    fn press_key(&mut self, usage: u8) -> bool {
        self.device.press_key(usage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid;
    extern crate std;
    use std::vec::Vec;

    const SCHEDULE: Schedule = Schedule {
        seed: 7,
        gap: (20, 40),
        bout: (2, 5),
    };

    /// (frame, fault) at every change over `frames` frames.
    fn changes(seed: u32, frames: u32) -> Vec<(u32, Option<Fault>)> {
        let script = [[0u8; 8]; 0];
        let mut kbd = hid::keyboard(&script);
        let mut chaos = Chaos::new(&mut kbd, Schedule { seed, ..SCHEDULE });
        let mut seen = Vec::new();
        let mut last = None;
        for frame in 0..frames {
            chaos.frame_tick();
            if chaos.fault() != last {
                last = chaos.fault();
                seen.push((frame, last));
            }
        }
        seen
    }

    #[test]
    fn bouts_alternate_with_quiet_stretches_of_the_scheduled_lengths() {
        let seen = changes(7, 1000);
        assert!(seen.len() >= 2 * 1000 / 45, "{seen:?}");
        for pair in seen.windows(2) {
            let ((at, fault), (next, _)) = (pair[0], pair[1]);
            let (lo, hi) = match fault {
                Some(_) => SCHEDULE.bout,
                None => SCHEDULE.gap,
            };
            assert!((lo..=hi).contains(&(next - at)), "{pair:?}");
        }
        assert!(
            seen[0].0 + 1 >= SCHEDULE.gap.0,
            "the first bout came too soon"
        );
    }

    #[test]
    fn a_seed_gives_the_same_bouts_and_seeds_differ() {
        assert_eq!(changes(7, 500), changes(7, 500));
        assert_ne!(changes(7, 500), changes(8, 500));
    }

    #[test]
    fn a_bout_acts_on_the_transaction_in_progress_and_ends_cleanly() {
        let script = [[0u8; 8]; 0];
        let mut kbd = hid::keyboard(&script);
        let mut chaos = Chaos::new(
            &mut kbd,
            Schedule {
                seed: 1,
                gap: (1, 1),
                bout: (1000, 1000),
            },
        );
        chaos.frame_tick();
        let fault = chaos.fault().expect("a bout after one quiet frame");
        // A bout of StallStorm or an endless NAK answers no data on EP0.
        let mut out = [0u8; 64];
        let reply = chaos.data_in(0, &mut out);
        match fault {
            Fault::StallStorm => assert!(matches!(reply, InReply::Stall)),
            Fault::EndlessNak { ep: 0 } => assert!(matches!(reply, InReply::Nak)),
            _ => {}
        }
        // Every kind is drawn eventually.
        let mut kinds = [false; 5];
        let mut chaos = Chaos::new(
            &mut kbd,
            Schedule {
                seed: 3,
                gap: (1, 1),
                bout: (1, 1),
            },
        );
        for _ in 0..400 {
            chaos.frame_tick();
            if let Some(f) = chaos.fault() {
                let k = match f {
                    Fault::EndlessNak { .. } => 0,
                    Fault::StallStorm => 1,
                    Fault::Babble { .. } => 2,
                    Fault::PatchDescriptor { .. } => 3,
                    Fault::GrowingTotalLength { .. } => 4,
                };
                kinds[k] = true;
            }
        }
        assert_eq!(kinds, [true; 5]);
        assert!(chaos.bouts() >= 100);
    }
}
