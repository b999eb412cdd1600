//! The STM32H743/753 independent watchdog IWDG1 (RM0433, "Independent watchdog (IWDG)";
//! facts in `doc/stm32h7.md`): a 12-bit down-counter clocked by the LSI oscillator (32 kHz
//! nominal) through a prescaler of 4 << `PR` (`PR` 0..=6: /4 to /256). Refreshing loads it
//! with `RLR`; reaching 0 resets the system and sets `RCC_RSR.IWDG1RSTF`.
//!
//! Registers: `KR` (write-only keys: 0xCCCC starts the counter, 0x5555 unlocks `PR`, `RLR`
//! and `WINR`, 0xAAAA refreshes and locks them again), `PR`, `RLR`, `SR` (`PVU`, `RVU`, `WVU`:
//! a write to `PR`, `RLR` or `WINR` is still being carried into the LSI clock domain, and
//! the register must not be written again until its flag is clear), `WINR` (left at its
//! reset value 0xFFF: no window).
//!
//! Once started, nothing but a reset stops it: jefe starts it (`watchdog-ms`) and feeds it
//! once per turn of its loop, like the CMSDK watchdog on mps2. There is no early-warning
//! interrupt on these parts, so the kernel learns of a watchdog reset only afterwards, from
//! `RCC_RSR` (`drv-stm32h7-reset-reason`).
//!
//! Register access goes through [`Registers`] so the start sequence is tested on the host
//! against a model; [`Mmio`] is the real thing. Nothing here has run on hardware yet.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

use core::ptr::{read_volatile, write_volatile};

/// IWDG1's base (`iwdg1` in `build/chips/stm32h7*.toml`).
pub const IWDG1: usize = 0x5800_4800;
/// The LSI's nominal frequency. The part guarantees only a range around it, so periods are
/// nominal; jefe feeds far more often than any reachable period.
pub const LSI_HZ: u32 = 32_000;

pub const KR: usize = 0x00;
pub const PR: usize = 0x04;
pub const RLR: usize = 0x08;
pub const SR: usize = 0x0C;

pub const KEY_START: u32 = 0xCCCC;
pub const KEY_UNLOCK: u32 = 0x5555;
pub const KEY_REFRESH: u32 = 0xAAAA;
/// `SR`: PVU (bit 0), RVU (bit 1), WVU (bit 2).
pub const SR_UPDATING: u32 = 0b111;

/// The largest `PR` with its own divider (7 divides by 256, as 6 does).
const MAX_PR: u32 = 6;
/// Counts per period at most: `RLR` + 1 with the 12-bit `RLR` at 0xFFF.
const MAX_COUNTS: u64 = 1 << 12;

/// A prescaler and reload: a period of (`rlr` + 1) * (4 << `pr`) LSI cycles.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub pr: u32,
    pub rlr: u32,
}

impl Period {
    /// The period in microseconds at `lsi_hz`.
    pub const fn micros(self, lsi_hz: u32) -> u64 {
        (self.rlr as u64 + 1) * (4u64 << self.pr) * 1_000_000 / lsi_hz as u64
    }
}

/// The finest prescaler and its reload giving a period of at least `ms` at `lsi_hz` (never
/// shorter, so a feed every `ms` is always in time; longer by less than one prescaled
/// tick), or `None` if `ms` is 0 or beyond the longest period, (0xFFF + 1) * 256 LSI
/// cycles (32768 ms at 32 kHz).
pub const fn period_for_ms(ms: u32, lsi_hz: u32) -> Option<Period> {
    if ms == 0 {
        return None;
    }
    let cycles = ms as u64 * lsi_hz as u64;
    let mut pr = 0;
    while pr <= MAX_PR {
        // Prescaled ticks, rounded up, in 1000ths of a cycle per ms.
        let per_tick = 1000 * (4u64 << pr);
        let counts = cycles.div_ceil(per_tick);
        if counts <= MAX_COUNTS {
            return Some(Period {
                pr,
                rlr: counts as u32 - 1,
            });
        }
        pr += 1;
    }
    None
}

/// The longest period reachable at `lsi_hz`, in whole ms.
pub const fn max_ms(lsi_hz: u32) -> u32 {
    (MAX_COUNTS * (4u64 << MAX_PR) * 1000 / lsi_hz as u64) as u32
}

/// Word-wide access to one IWDG's registers, by offset.
pub trait Registers {
    fn read(&self, offset: usize) -> u32;
    fn write(&mut self, offset: usize, value: u32);
}

/// The real registers of the IWDG at `base`.
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// # Safety
    /// `base` must be an IWDG mapped into the calling task, which alone uses it.
    pub const unsafe fn new(base: usize) -> Self {
        Mmio { base }
    }
}

impl Registers for Mmio {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `Mmio::new`'s contract; only this module's offsets are passed.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&mut self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }
}

/// Waits until no write to `PR`, `RLR` or `WINR` is in flight. Each takes a few LSI cycles
/// (about 150 us at most, RM0433); a part whose LSI never runs would never clear them, but
/// then the watchdog could not reset the system either, and jefe has nothing better to do.
fn wait_for_updates(regs: &impl Registers) {
    while regs.read(SR) & SR_UPDATING != 0 {
        core::hint::spin_loop();
    }
}

/// Starts the watchdog with `period`: start (which also turns the LSI on), unlock, wait
/// until `PR` and `RLR` may be written, write them, wait until they are taken, refresh so
/// the first period is a whole one at the new setting.
pub fn start(regs: &mut impl Registers, period: Period) {
    regs.write(KR, KEY_START);
    regs.write(KR, KEY_UNLOCK);
    wait_for_updates(regs);
    regs.write(PR, period.pr);
    regs.write(RLR, period.rlr);
    wait_for_updates(regs);
    regs.write(KR, KEY_REFRESH);
}

/// Reloads the counter: another whole period.
pub fn feed(regs: &mut impl Registers) {
    regs.write(KR, KEY_REFRESH);
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn the_shortest_period_takes_the_finest_prescaler() {
        // 1 ms at 32 kHz is 32 cycles: 8 ticks of /4.
        assert_eq!(period_for_ms(1, LSI_HZ), Some(Period { pr: 0, rlr: 7 }));
        assert_eq!(period_for_ms(1, LSI_HZ).unwrap().micros(LSI_HZ), 1000);
        assert_eq!(period_for_ms(0, LSI_HZ), None, "no period is no watchdog");
    }

    #[test]
    fn the_longest_period_is_reachable_and_one_ms_more_is_not() {
        assert_eq!(max_ms(LSI_HZ), 32_768);
        assert_eq!(
            period_for_ms(32_768, LSI_HZ),
            Some(Period { pr: 6, rlr: 0xFFF })
        );
        assert_eq!(period_for_ms(32_769, LSI_HZ), None);
        assert_eq!(period_for_ms(u32::MAX, LSI_HZ), None);
    }

    #[test]
    fn each_prescaler_is_chosen_only_when_the_finer_one_overflows() {
        // /4 counts 8 per ms: 512 ms is exactly 4096 counts; 513 needs /8.
        assert_eq!(
            period_for_ms(512, LSI_HZ),
            Some(Period { pr: 0, rlr: 4095 })
        );
        assert_eq!(
            period_for_ms(513, LSI_HZ),
            Some(Period { pr: 1, rlr: 2051 })
        );
        assert_eq!(
            period_for_ms(500, LSI_HZ),
            Some(Period { pr: 0, rlr: 3999 })
        );
        for ms in [1, 7, 200, 500, 513, 1000, 4097, 20_000, 32_767, 32_768] {
            let p = period_for_ms(ms, LSI_HZ).unwrap();
            let us = p.micros(LSI_HZ);
            let tick_us = (4u64 << p.pr) * 1_000_000 / u64::from(LSI_HZ);
            assert!(p.rlr <= 0xFFF && p.pr <= 6, "{ms} ms: {p:?}");
            assert!(us >= u64::from(ms) * 1000, "{ms} ms: {us} us is shorter");
            assert!(
                us < u64::from(ms) * 1000 + tick_us,
                "{ms} ms: {us} us is a whole tick longer"
            );
            if p.pr > 0 {
                let finer = (u64::from(ms) * u64::from(LSI_HZ)).div_ceil(1000 * (2u64 << p.pr));
                assert!(finer > 4096, "{ms} ms: /{} would do", 2u64 << p.pr);
            }
        }
    }

    /// IWDG1 as RM0433 describes it, strictly: a write to `PR` or `RLR` while locked, or
    /// while its update flag is still set, is a test failure (the hardware would ignore
    /// it); each such write keeps its flag set for `latency` reads of `SR`.
    struct Model {
        started: bool,
        unlocked: bool,
        pr: u32,
        rlr: u32,
        pending: [Cell<u32>; 2],
        latency: u32,
        keys: Vec<u32>,
        refreshed_with: Option<(u32, u32)>,
    }

    impl Model {
        fn new(latency: u32) -> Self {
            Model {
                started: false,
                unlocked: false,
                pr: 0,
                rlr: 0xFFF,
                pending: [Cell::new(0), Cell::new(0)],
                latency,
                keys: Vec::new(),
                refreshed_with: None,
            }
        }
    }

    impl Registers for Model {
        fn read(&self, offset: usize) -> u32 {
            assert_eq!(offset, SR, "only SR is read");
            // The flags drop as the driver polls.
            let flags =
                u32::from(self.pending[0].get() > 0) | u32::from(self.pending[1].get() > 0) << 1;
            for p in &self.pending {
                p.set(p.get().saturating_sub(1));
            }
            flags
        }

        fn write(&mut self, offset: usize, value: u32) {
            match offset {
                KR => {
                    self.keys.push(value);
                    match value {
                        KEY_START => self.started = true,
                        KEY_UNLOCK => self.unlocked = true,
                        KEY_REFRESH => {
                            assert!(self.started, "refresh before start");
                            assert!(
                                self.pending.iter().all(|p| p.get() == 0),
                                "refresh before PR/RLR were taken"
                            );
                            self.unlocked = false;
                            self.refreshed_with = Some((self.pr, self.rlr));
                        }
                        other => panic!("unknown key {other:#x}"),
                    }
                }
                PR | RLR => {
                    let i = usize::from(offset == RLR);
                    assert!(self.unlocked, "write to {offset:#x} while locked");
                    assert_eq!(
                        self.pending[i].get(),
                        0,
                        "write to {offset:#x} while updating"
                    );
                    self.pending[i].set(self.latency);
                    if offset == PR {
                        assert!(value <= 7);
                        self.pr = value;
                    } else {
                        assert!(value <= 0xFFF);
                        self.rlr = value;
                    }
                }
                other => panic!("write to {other:#x}"),
            }
        }
    }

    #[test]
    fn start_unlocks_waits_for_the_update_flags_and_refreshes_with_the_new_period() {
        for latency in [0, 1, 5] {
            let mut model = Model::new(latency);
            // A previous update still in flight (e.g. from before a warm start).
            model.pending = [Cell::new(latency), Cell::new(latency)];
            let period = period_for_ms(500, LSI_HZ).unwrap();
            start(&mut model, period);
            assert_eq!(model.keys, [KEY_START, KEY_UNLOCK, KEY_REFRESH]);
            assert_eq!(model.refreshed_with, Some((period.pr, period.rlr)));
            assert!(!model.unlocked, "the refresh locks PR and RLR again");
        }
    }

    #[test]
    fn feed_only_refreshes() {
        let mut model = Model::new(0);
        start(&mut model, Period { pr: 3, rlr: 100 });
        feed(&mut model);
        assert_eq!(
            model.keys,
            [KEY_START, KEY_UNLOCK, KEY_REFRESH, KEY_REFRESH]
        );
        assert_eq!((model.pr, model.rlr), (3, 100));
    }
}
