//! Why an STM32H743/753 last reset, from `RCC_RSR` (RM0433, "RCC reset status register";
//! facts in `doc/stm32h7.md`), as the [`abi::ResetReason`] codes humility reads in
//! `BULKHEAD_RESET_REASON` on every board.
//!
//! The flags accumulate across resets until software writes `RMVF`, so the kernel reads the
//! register once at boot and clears it (`kern::app_kernel!(reset_reason = ...)`), and each
//! boot sees only the resets since the one before. One reset sets several flags: every
//! system reset drives the NRST pin, so `PINRSTF` comes with a watchdog or software reset
//! too, and a power-on also sets the brown-out flag. [`reason`] therefore takes the most
//! specific cause first: watchdog, power-on, brown-out, software (whose reason only the
//! kernel's own record knows), and the pin only when nothing else explains the reset.
//!
//! Nothing here has run on hardware yet; the mapping is tested against every flag
//! combination on the host.
#![cfg_attr(not(test), no_std)]

use abi::ResetReason;
use drv_stm32h7_clocks::Registers;

/// `RCC_RSR`: RCC base 0x5802_4400 + 0xD0.
pub const RCC_RSR: u32 = 0x5802_4400 + 0xD0;

pub const RMVF: u32 = 1 << 16;
pub const CPURSTF: u32 = 1 << 17;
pub const D1RSTF: u32 = 1 << 19;
pub const D2RSTF: u32 = 1 << 20;
pub const BORRSTF: u32 = 1 << 21;
pub const PINRSTF: u32 = 1 << 22;
pub const PORRSTF: u32 = 1 << 23;
pub const SFTRSTF: u32 = 1 << 24;
pub const IWDG1RSTF: u32 = 1 << 26;
pub const WWDG1RSTF: u32 = 1 << 28;
pub const LPWRRSTF: u32 = 1 << 30;
/// Every flag `RCC_RSR` can report.
pub const FLAGS: [u32; 10] = [
    CPURSTF, D1RSTF, D2RSTF, BORRSTF, PINRSTF, PORRSTF, SFTRSTF, IWDG1RSTF, WWDG1RSTF, LPWRRSTF,
];

/// The reason for a reset that left `rsr` in `RCC_RSR`, given the reason the kernel's
/// record gives (`abi::ResetRecord`): that record is the only witness of *why* software
/// reset the system, and it is kept when the flags say nothing at all.
pub const fn reason(rsr: u32, recorded: ResetReason) -> ResetReason {
    if rsr & (IWDG1RSTF | WWDG1RSTF) != 0 {
        ResetReason::Watchdog
    } else if rsr & PORRSTF != 0 {
        ResetReason::PowerOn
    } else if rsr & BORRSTF != 0 {
        ResetReason::BrownOut
    } else if rsr & SFTRSTF != 0 {
        match recorded {
            ResetReason::KernelFailure | ResetReason::SupervisorFault | ResetReason::Requested => {
                recorded
            }
            // A SYSRESETREQ the kernel did not write down: a debugger's.
            _ => ResetReason::Unrecorded,
        }
    } else if rsr & LPWRRSTF != 0 {
        // An illegal Standby or Stop entry: no reason code of its own.
        ResetReason::Unrecorded
    } else if rsr & PINRSTF != 0 {
        ResetReason::Pin
    } else if rsr & (CPURSTF | D1RSTF | D2RSTF) != 0 {
        // A CPU or domain reset without any system reset flag: nothing says why.
        ResetReason::Unrecorded
    } else {
        recorded
    }
}

/// Reads `RCC_RSR` once, clears its flags (`RMVF` set, then cleared again so the flags can
/// record the next reset) and returns what it held.
pub fn take(regs: &mut impl Registers) -> u32 {
    let rsr = regs.read(RCC_RSR);
    regs.write(RCC_RSR, RMVF);
    regs.write(RCC_RSR, 0);
    rsr
}

/// The board hook for `kern::app_kernel!(reset_reason = ...)`: the reason for the last
/// reset, from the real `RCC_RSR`, whose flags it clears.
///
/// # Safety
/// Privileged code only, once at boot, while nothing else uses RCC.
pub unsafe fn from_hardware(recorded: ResetReason) -> ResetReason {
    // SAFETY: the caller's contract is `Mmio::new`'s.
    let mut regs = unsafe { drv_stm32h7_clocks::Mmio::new() };
    reason(take(&mut regs), recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: [ResetReason; 8] = [
        ResetReason::PowerOn,
        ResetReason::Unrecorded,
        ResetReason::KernelFailure,
        ResetReason::SupervisorFault,
        ResetReason::Requested,
        ResetReason::Watchdog,
        ResetReason::Pin,
        ResetReason::BrownOut,
    ];

    /// Every subset of the ten flags.
    fn combinations() -> impl Iterator<Item = u32> {
        (0u32..1 << FLAGS.len()).map(|bits| {
            FLAGS
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & 1 << i != 0)
                .fold(0, |rsr, (_, f)| rsr | f)
        })
    }

    #[test]
    fn the_named_combinations() {
        use ResetReason::*;
        let running = Unrecorded;
        assert_eq!(reason(PINRSTF, running), Pin, "pin reset alone");
        assert_eq!(reason(PINRSTF | CPURSTF, running), Pin);
        assert_eq!(
            reason(IWDG1RSTF | PINRSTF, running),
            Watchdog,
            "watchdog drives the pin"
        );
        assert_eq!(reason(IWDG1RSTF | PINRSTF | CPURSTF, Requested), Watchdog);
        assert_eq!(reason(WWDG1RSTF | PINRSTF, running), Watchdog);
        let power_on = PORRSTF | BORRSTF | PINRSTF | CPURSTF | D1RSTF | D2RSTF;
        assert_eq!(reason(power_on, PowerOn), PowerOn);
        assert_eq!(reason(BORRSTF | PINRSTF, running), BrownOut);
        for software in [KernelFailure, SupervisorFault, Requested] {
            assert_eq!(reason(SFTRSTF | PINRSTF | CPURSTF, software), software);
        }
        assert_eq!(
            reason(SFTRSTF | PINRSTF, running),
            Unrecorded,
            "a debugger's reset"
        );
        assert_eq!(reason(LPWRRSTF | PINRSTF, running), Unrecorded);
        assert_eq!(
            reason(0, Requested),
            Requested,
            "no flags: the record stands"
        );
    }

    #[test]
    fn every_flag_combination_maps_to_a_reason_by_the_stated_precedence() {
        for rsr in combinations() {
            for recorded in RECORDED {
                let got = reason(rsr, recorded);
                let why = format!("RSR {rsr:#010x}, recorded {recorded:?}: {got:?}");
                assert_eq!(ResetReason::from_u32(got as u32), Some(got), "{why}");
                let watchdog = rsr & (IWDG1RSTF | WWDG1RSTF) != 0;
                assert_eq!(
                    got == ResetReason::Watchdog,
                    watchdog || (rsr == 0 && recorded == ResetReason::Watchdog),
                    "{why}"
                );
                if !watchdog && rsr & PORRSTF != 0 {
                    assert_eq!(got, ResetReason::PowerOn, "{why}");
                }
                // The pin is named only when no other flag but CPU/domain resets is set.
                let others = rsr & !(PINRSTF | CPURSTF | D1RSTF | D2RSTF);
                assert_eq!(
                    got == ResetReason::Pin,
                    rsr & PINRSTF != 0 && others == 0 || rsr == 0 && recorded == ResetReason::Pin,
                    "{why}"
                );
                // A software reason is believed only with the software flag.
                if rsr != 0
                    && matches!(
                        got,
                        ResetReason::KernelFailure
                            | ResetReason::SupervisorFault
                            | ResetReason::Requested
                    )
                {
                    assert!(rsr & SFTRSTF != 0 && got == recorded, "{why}");
                }
            }
        }
    }

    /// `RCC_RSR` alone: reads return the flags until `RMVF` is written.
    struct Rsr {
        value: u32,
        writes: Vec<u32>,
    }

    impl Registers for Rsr {
        fn read(&self, address: u32) -> u32 {
            assert_eq!(address, RCC_RSR);
            self.value
        }

        fn write(&mut self, address: u32, value: u32) {
            assert_eq!(address, RCC_RSR);
            self.writes.push(value);
            if value & RMVF != 0 {
                self.value = 0;
            }
        }
    }

    #[test]
    fn take_returns_the_flags_and_clears_them_with_rmvf_then_releases_it() {
        let mut rsr = Rsr {
            value: IWDG1RSTF | PINRSTF | CPURSTF,
            writes: Vec::new(),
        };
        assert_eq!(take(&mut rsr), IWDG1RSTF | PINRSTF | CPURSTF);
        assert_eq!(rsr.writes, [RMVF, 0]);
        assert_eq!(take(&mut rsr), 0, "the next boot sees only later resets");
    }
}
