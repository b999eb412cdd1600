//! Power and clock bring-up for STM32H743/753 (RM0433) on the Nucleo-144 boards
//! (NUCLEO-H743ZI2, NUCLEO-H753ZI), run once by the kernel, privileged, before it starts
//! (`kern::app_kernel!(board_init = ...)`).
//!
//! The sequence, each step waiting for its ready flag (bounded, so a missing clock is an
//! error, not a hang):
//!
//! 1. **Supply.** These parts have no SMPS; the boards feed VCORE from the internal LDO.
//!    `PWR_CR3` holds the supply configuration and its low byte is *write-once* after a
//!    power-on reset: SCUEN reads 1 until the first write, which locks it. A wrong value
//!    (e.g. BYPASS on a board whose VCAP pins are not externally driven) can leave the part
//!    unable to run until power is cycled, so we write exactly LDOEN=1, BYPASS=0, SCUEN=0,
//!    and only if SCUEN says it has not been written since power-on; after a warm reset it
//!    is already locked, and we only check that it holds the LDO configuration. Then wait
//!    for `PWR_CSR1.ACTVOSRDY`.
//! 2. **Voltage scaling.** `PWR_D3CR.VOS` = scale 1 (0b11), wait `VOSRDY`. VOS1 rates the
//!    core at 400 MHz on every silicon revision (rev V reaches 480 MHz only at VOS0, which
//!    also needs `SYSCFG_PWRCR.ODEN`; we do not go there).
//!    The reset handler has already written the supply before touching RAM
//!    ([`pre_ram`]); this step finds it locked and only checks it.
//! 3. **HSE.** The ST-LINK's MCO drives an 8 MHz clock into OSC_IN; there is no crystal, so
//!    `RCC_CR.HSEBYP` is set before `HSEON` (HSEBYP is writable only while HSE is off), then
//!    wait `HSERDY`. With no ST-LINK clock (external power, solder bridge changed) HSERDY
//!    never comes: HSE is turned off again and PLL1 runs from the 64 MHz HSI instead, to the
//!    same 400 MHz ([`ClockSource`] says which; the console prints it).
//! 4. **PLL1** from HSE: DIVM1 = 4 (2 MHz reference, `PLL1RGE` = 2..4 MHz, wide VCO), DIVN1 =
//!    400 (VCO 800 MHz), DIVP1 = 2: 400 MHz on `pll1_p_ck`, the only output enabled. Wait
//!    `PLL1RDY`. From HSI, DIVM1 = 32 gives the same 2 MHz reference.
//! 5. **Bus prescalers** while still on HSI: D1CPRE /1 (CPU 400 MHz), HPRE /2 (AXI/AHB
//!    200 MHz), D1PPRE, D2PPRE1, D2PPRE2, D3PPRE /2 (APB 100 MHz), the VOS1 maxima.
//! 6. **Flash latency** for the 200 MHz AXI clock at VOS1, *before* the clock goes up, and
//!    read back until the flash interface has taken it.
//! 7. **Switch** `RCC_CFGR.SW` to PLL1 and wait for `SWS` to follow.
//!
//! Register access goes through [`Registers`] so the sequence is tested on the host against
//! a model that raises the ready flags; [`Mmio`] is the real thing.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod cache;
pub mod chip;
#[cfg(test)]
mod model;
pub mod pre_ram;
pub mod usb;

use core::ptr::{read_volatile, write_volatile};

/// Register addresses and fields (RM0433; offsets as in ST's `stm32h743xx.h`).
pub(crate) mod reg {
    pub const PWR: u32 = 0x5802_4800;
    pub const PWR_CSR1: u32 = PWR + 0x04;
    pub const PWR_CR3: u32 = PWR + 0x0C;
    pub const PWR_D3CR: u32 = PWR + 0x18;
    pub const CSR1_ACTVOSRDY: u32 = 1 << 13;
    pub const CR3_BYPASS: u32 = 1 << 0;
    pub const CR3_LDOEN: u32 = 1 << 1;
    pub const CR3_SCUEN: u32 = 1 << 2;
    pub const D3CR_VOSRDY: u32 = 1 << 13;
    pub const D3CR_VOS_SHIFT: u32 = 14;
    pub const VOS_SCALE1: u32 = 0b11;

    pub const RCC: u32 = 0x5802_4400;
    pub const RCC_CR: u32 = RCC;
    pub const RCC_CFGR: u32 = RCC + 0x10;
    pub const RCC_D1CFGR: u32 = RCC + 0x18;
    pub const RCC_D2CFGR: u32 = RCC + 0x1C;
    pub const RCC_D3CFGR: u32 = RCC + 0x20;
    pub const RCC_PLLCKSELR: u32 = RCC + 0x28;
    pub const RCC_PLLCFGR: u32 = RCC + 0x2C;
    pub const RCC_PLL1DIVR: u32 = RCC + 0x30;
    pub const CR_HSIDIV_MASK: u32 = 0b11 << 3;
    pub const CR_HSIRDY: u32 = 1 << 2;
    pub const CR_HSIDIVF: u32 = 1 << 5;
    pub const CR_HSEON: u32 = 1 << 16;
    pub const CR_HSERDY: u32 = 1 << 17;
    pub const CR_HSEBYP: u32 = 1 << 18;
    pub const CR_PLL1ON: u32 = 1 << 24;
    pub const CR_PLL1RDY: u32 = 1 << 25;
    pub const CFGR_SW_MASK: u32 = 0b111;
    pub const CFGR_SWS_SHIFT: u32 = 3;
    pub const SW_PLL1: u32 = 0b011;
    /// PLLCKSELR: PLLSRC (1:0, HSE = 0b10) and DIVM1 (9:4).
    pub const PLLCKSELR_PLL1_MASK: u32 = 0x3F << 4 | 0b11;
    pub const PLLSRC_MASK: u32 = 0b11;
    pub const PLLSRC_HSI: u32 = 0b00;
    pub const PLLSRC_HSE: u32 = 0b10;
    /// PLLCFGR: PLL1FRACEN (0), PLL1VCOSEL (1, 0 = wide), PLL1RGE (3:2), DIVP1EN..DIVR1EN (18:16).
    pub const PLLCFGR_PLL1_MASK: u32 = 0b1111 | 0b111 << 16;
    pub const PLLCFGR_DIVP1EN: u32 = 1 << 16;
    /// PLL1DIVR: DIVN1 (8:0, N - 1) and DIVP1 (15:9, P - 1).
    pub const PLL1DIVR_NP_MASK: u32 = 0xFFFF;

    pub const FLASH_ACR: u32 = 0x5200_2000;
}

/// Word-wide register access.
pub trait Registers {
    fn read(&self, address: u32) -> u32;
    fn write(&mut self, address: u32, value: u32);
    /// `dsb; isb`: the writes so far have completed and later instructions see their effect
    /// (cache and MPU control need it). Models record nothing.
    fn barrier(&mut self) {}
}

/// The real registers.
pub struct Mmio(());

impl Mmio {
    /// # Safety
    /// Privileged code only, once, while nothing else uses RCC, PWR or the flash interface.
    pub unsafe fn new() -> Self {
        Mmio(())
    }
}

impl Registers for Mmio {
    fn read(&self, address: u32) -> u32 {
        // SAFETY: `Mmio::new`'s contract; only the addresses in `reg` are passed.
        unsafe { read_volatile(address as usize as *const u32) }
    }

    fn write(&mut self, address: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile(address as usize as *mut u32, value) }
    }

    fn barrier(&mut self) {
        #[cfg(target_os = "none")]
        // SAFETY: barriers only order memory accesses and instruction fetch.
        unsafe {
            core::arch::asm!("dsb", "isb", options(nostack, preserves_flags));
        }
    }
}

/// The oscillator PLL1 runs from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClockSource {
    /// The ST-LINK's 8 MHz clock into OSC_IN (HSE bypass): the planned source.
    HseBypass,
    /// The internal 64 MHz RC oscillator, because HSE never became ready.
    HsiFallback,
}

impl ClockSource {
    /// The source `RCC_PLLCKSELR` (its PLLSRC field) names, for a reader that did not run
    /// the bring-up (`sys`, for the console). `None` for CSI or no clock, which the
    /// bring-up never selects.
    pub const fn from_pllckselr(pllckselr: u32) -> Option<ClockSource> {
        match pllckselr & reg::PLLSRC_MASK {
            reg::PLLSRC_HSE => Some(ClockSource::HseBypass),
            reg::PLLSRC_HSI => Some(ClockSource::HsiFallback),
            _ => None,
        }
    }

    /// What the console prints at start.
    pub const fn describe(self) -> &'static str {
        match self {
            ClockSource::HseBypass => "HSE bypass, 8 MHz from the ST-LINK",
            ClockSource::HsiFallback => "HSI 64 MHz (no clock from the ST-LINK; HSE fallback)",
        }
    }
}

/// The HSI's rate with `RCC_CR.HSIDIV` at /1, its reset value.
pub const HSI_HZ: u32 = 64_000_000;

/// A clock tree: HSE through PLL1 to the core, and the bus prescalers.
#[derive(Copy, Clone, Debug)]
pub struct ClockPlan {
    pub hse_hz: u32,
    pub divm1: u32,
    pub divn1: u32,
    pub divp1: u32,
    /// The AXI/AHB (HPRE) and APB (D1PPRE, D2PPRE1, D2PPRE2, D3PPRE) dividers.
    pub ahb_divider: u32,
    pub apb_divider: u32,
}

/// The Nucleo-144 H743ZI2/H753ZI plan: 8 MHz from the ST-LINK, 400 MHz core, 200 MHz AXI,
/// 100 MHz APB. `build/boards/nucleo-h7*.toml` `cpu-hz` must equal its `sys_hz()`.
pub const NUCLEO_400MHZ: ClockPlan = ClockPlan::checked(ClockPlan {
    hse_hz: 8_000_000,
    divm1: 4,
    divn1: 400,
    divp1: 2,
    ahb_divider: 2,
    apb_divider: 2,
});

/// VOS1 limits (STM32H743 datasheet, "General operating conditions").
const VOS1_MAX_SYS_HZ: u32 = 400_000_000;
const VOS1_MAX_AHB_HZ: u32 = 200_000_000;
const VOS1_MAX_APB_HZ: u32 = 100_000_000;

impl ClockPlan {
    /// `plan`, or a compile-time error if it breaks a PLL or VOS1 limit.
    pub const fn checked(plan: ClockPlan) -> ClockPlan {
        let reference = plan.hse_hz / plan.divm1;
        // The wide VCO needs a reference of at least 2 MHz; PLL1RGE covers 1..16 MHz.
        assert!(reference >= 2_000_000 && reference <= 16_000_000);
        assert!(
            plan.hse_hz.is_multiple_of(plan.divm1)
                && HSI_HZ.is_multiple_of(reference)
                && HSI_HZ / reference <= 63,
            "the HSI fallback must reach the same PLL1 reference (DIVM1 is 6 bits)"
        );
        let vco = reference * plan.divn1;
        assert!(
            vco >= 192_000_000 && vco <= 836_000_000,
            "wide VCO range (RM0433 PLL1VCOSEL = 0)"
        );
        assert!(plan.divn1 >= 4 && plan.divn1 <= 512);
        assert!(
            plan.divp1 >= 2 && plan.divp1.is_multiple_of(2),
            "PLL1 DIVP takes even values only"
        );
        assert!(plan.sys_hz() <= VOS1_MAX_SYS_HZ);
        assert!(plan.ahb_hz() <= VOS1_MAX_AHB_HZ);
        assert!(plan.apb_hz() <= VOS1_MAX_APB_HZ);
        assert!(
            prescaler_code(plan.ahb_divider, 0b1000).is_some()
                && prescaler_code(plan.apb_divider, 0b100).is_some()
        );
        plan
    }

    pub const fn sys_hz(&self) -> u32 {
        self.hse_hz / self.divm1 * self.divn1 / self.divp1
    }

    /// AXI and AHB clocks (the flash interface runs on AXI).
    pub const fn ahb_hz(&self) -> u32 {
        self.sys_hz() / self.ahb_divider
    }

    /// Every APB clock; also the default kernel clock of USART2/3 (`rcc_pclk1`).
    pub const fn apb_hz(&self) -> u32 {
        self.ahb_hz() / self.apb_divider
    }

    /// PLLxRGE for the reference every PLL here shares.
    const fn pll_range(&self) -> u32 {
        match self.hse_hz / self.divm1 {
            0..2_000_000 => 0b00,
            2_000_000..4_000_000 => 0b01,
            4_000_000..8_000_000 => 0b10,
            _ => 0b11,
        }
    }

    /// DIVM1 for `source`: both give the same PLL1 reference, so every later value holds.
    const fn divm1_for(&self, source: ClockSource) -> u32 {
        match source {
            ClockSource::HseBypass => self.divm1,
            ClockSource::HsiFallback => HSI_HZ / (self.hse_hz / self.divm1),
        }
    }

    fn pllckselr(&self, old: u32, source: ClockSource) -> u32 {
        let pllsrc = match source {
            ClockSource::HseBypass => reg::PLLSRC_HSE,
            ClockSource::HsiFallback => reg::PLLSRC_HSI,
        };
        (old & !reg::PLLCKSELR_PLL1_MASK) | self.divm1_for(source) << 4 | pllsrc
    }

    /// Integer mode, wide VCO, the reference range, and only the P output enabled.
    fn pllcfgr(&self, old: u32) -> u32 {
        (old & !reg::PLLCFGR_PLL1_MASK) | self.pll_range() << 2 | reg::PLLCFGR_DIVP1EN
    }

    fn pll1divr(&self, old: u32) -> u32 {
        (old & !reg::PLL1DIVR_NP_MASK) | (self.divp1 - 1) << 9 | (self.divn1 - 1)
    }

    fn ahb_code(&self) -> u32 {
        prescaler_code(self.ahb_divider, 0b1000).expect("checked by ClockPlan::checked")
    }

    fn apb_code(&self) -> u32 {
        prescaler_code(self.apb_divider, 0b100).expect("checked by ClockPlan::checked")
    }

    /// D1CPRE /1 (11:8), D1PPRE (6:4), HPRE (3:0).
    fn d1cfgr(&self) -> u32 {
        self.apb_code() << 4 | self.ahb_code()
    }

    /// D2PPRE2 (10:8), D2PPRE1 (6:4).
    fn d2cfgr(&self) -> u32 {
        self.apb_code() << 8 | self.apb_code() << 4
    }

    /// D3PPRE (6:4).
    fn d3cfgr(&self) -> u32 {
        self.apb_code() << 4
    }

    /// `FLASH_ACR`: LATENCY (3:0) and WRHIGHFREQ (5:4) for the AXI clock at VOS1.
    fn flash_acr(&self) -> u32 {
        let (latency, wrhighfreq) = flash_wait_states_vos1(self.ahb_hz());
        wrhighfreq << 4 | latency
    }
}

/// The RCC prescaler code for `divider`: `/1` is 0, `/2` is `first` (0b1000 for HPRE,
/// 0b100 for the APB prescalers) and each doubling up to `/16` adds one. (HPRE goes on past
/// /16 but skips /32, so larger dividers are not offered.)
const fn prescaler_code(divider: u32, first: u32) -> Option<u32> {
    match divider {
        1 => Some(0),
        2 | 4 | 8 | 16 => Some(first + divider.trailing_zeros() - 1),
        _ => None,
    }
}

/// Flash wait states and programming delay at VOS1 for an AXI clock of `axi_hz` (RM0433
/// Table 17, "FLASH recommended number of wait states and programming delay").
const fn flash_wait_states_vos1(axi_hz: u32) -> (u32, u32) {
    match axi_hz {
        0..=70_000_000 => (0, 0),
        70_000_001..=140_000_000 => (1, 1),
        140_000_001..=185_000_000 => (2, 1),
        185_000_001..=210_000_000 => (2, 2),
        _ => panic!("AXI clock above the VOS1 limit"),
    }
}

/// The step whose ready flag never came.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Supply,
    VoltageScaling,
    /// HSE never came and the HSI (the fallback) was not ready at /1 either.
    Hsi,
    Pll1,
    FlashLatency,
    ClockSwitch,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BringUpError {
    /// `PWR_CR3` was already locked (written since power-on) with a configuration other
    /// than the LDO; only a power cycle can change it.
    SupplyLocked {
        cr3: u32,
    },
    Timeout(Step),
}

/// Polls per wait: far beyond any ready time at the 64 MHz reset clock (the slowest, HSE
/// and the PLL lock, take well under a millisecond), short enough to report a dead clock.
const POLL_LIMIT: u32 = 10_000_000;

/// Whether `address` reads `value` under `mask` within [`POLL_LIMIT`] reads.
fn poll(regs: &impl Registers, address: u32, mask: u32, value: u32) -> bool {
    (0..POLL_LIMIT).any(|_| regs.read(address) & mask == value)
}

fn wait(
    regs: &impl Registers,
    address: u32,
    mask: u32,
    value: u32,
    step: Step,
) -> Result<(), BringUpError> {
    if poll(regs, address, mask, value) {
        Ok(())
    } else {
        Err(BringUpError::Timeout(step))
    }
}

fn modify(regs: &mut impl Registers, address: u32, f: impl FnOnce(u32) -> u32) {
    let value = f(regs.read(address));
    regs.write(address, value);
}

/// Polls for the ST-LINK clock: HSE bypass is ready within a few clock edges of a running
/// input, so this is generous while keeping a board without one booting promptly (about
/// 20 ms at the 64 MHz reset clock).
const HSE_POLL_LIMIT: u32 = 200_000;

/// Runs the sequence in the module documentation. Call once, right after reset.
pub fn bring_up(regs: &mut impl Registers, plan: &ClockPlan) -> Result<ClockSource, BringUpError> {
    let supply = reg::CR3_SCUEN | reg::CR3_LDOEN | reg::CR3_BYPASS;
    let cr3 = regs.read(reg::PWR_CR3);
    if cr3 & reg::CR3_SCUEN != 0 {
        regs.write(reg::PWR_CR3, (cr3 & !supply) | reg::CR3_LDOEN);
    } else if cr3 & (reg::CR3_LDOEN | reg::CR3_BYPASS) != reg::CR3_LDOEN {
        return Err(BringUpError::SupplyLocked { cr3 });
    }
    wait(
        regs,
        reg::PWR_CSR1,
        reg::CSR1_ACTVOSRDY,
        reg::CSR1_ACTVOSRDY,
        Step::Supply,
    )?;

    modify(regs, reg::PWR_D3CR, |r| {
        (r & !(0b11 << reg::D3CR_VOS_SHIFT)) | reg::VOS_SCALE1 << reg::D3CR_VOS_SHIFT
    });
    wait(
        regs,
        reg::PWR_D3CR,
        reg::D3CR_VOSRDY,
        reg::D3CR_VOSRDY,
        Step::VoltageScaling,
    )?;

    let source = start_oscillator(regs)?;

    modify(regs, reg::RCC_PLLCKSELR, |r| plan.pllckselr(r, source));
    modify(regs, reg::RCC_PLLCFGR, |r| plan.pllcfgr(r));
    modify(regs, reg::RCC_PLL1DIVR, |r| plan.pll1divr(r));
    modify(regs, reg::RCC_CR, |r| r | reg::CR_PLL1ON);
    wait(
        regs,
        reg::RCC_CR,
        reg::CR_PLL1RDY,
        reg::CR_PLL1RDY,
        Step::Pll1,
    )?;

    regs.write(reg::RCC_D1CFGR, plan.d1cfgr());
    regs.write(reg::RCC_D2CFGR, plan.d2cfgr());
    regs.write(reg::RCC_D3CFGR, plan.d3cfgr());

    let acr = plan.flash_acr();
    regs.write(reg::FLASH_ACR, acr);
    wait(regs, reg::FLASH_ACR, 0x3F, acr, Step::FlashLatency)?;

    modify(regs, reg::RCC_CFGR, |r| {
        (r & !reg::CFGR_SW_MASK) | reg::SW_PLL1
    });
    let sws = reg::CFGR_SW_MASK << reg::CFGR_SWS_SHIFT;
    wait(
        regs,
        reg::RCC_CFGR,
        sws,
        reg::SW_PLL1 << reg::CFGR_SWS_SHIFT,
        Step::ClockSwitch,
    )?;
    Ok(source)
}

/// HSE in bypass if the ST-LINK clocks OSC_IN; otherwise HSE off again and the HSI, which
/// runs from reset, at /1.
fn start_oscillator(regs: &mut impl Registers) -> Result<ClockSource, BringUpError> {
    modify(regs, reg::RCC_CR, |r| r | reg::CR_HSEBYP);
    modify(regs, reg::RCC_CR, |r| r | reg::CR_HSEON);
    for _ in 0..HSE_POLL_LIMIT {
        if regs.read(reg::RCC_CR) & reg::CR_HSERDY != 0 {
            return Ok(ClockSource::HseBypass);
        }
    }
    modify(regs, reg::RCC_CR, |r| r & !reg::CR_HSEON);
    modify(regs, reg::RCC_CR, |r| r & !reg::CR_HSIDIV_MASK);
    let ready = reg::CR_HSIRDY | reg::CR_HSIDIVF;
    wait(regs, reg::RCC_CR, ready, ready, Step::Hsi)?;
    Ok(ClockSource::HsiFallback)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Model, Stall};

    #[test]
    fn the_nucleo_plan_is_400_mhz_core_200_axi_100_apb() {
        assert_eq!(NUCLEO_400MHZ.sys_hz(), 400_000_000);
        assert_eq!(NUCLEO_400MHZ.ahb_hz(), 200_000_000);
        assert_eq!(NUCLEO_400MHZ.apb_hz(), 100_000_000);
    }

    #[test]
    fn bring_up_programs_the_hand_computed_register_values() {
        let mut m = Model::after_power_on();
        assert_eq!(bring_up(&mut m, &NUCLEO_400MHZ), Ok(ClockSource::HseBypass));
        // LDOEN only; SCUEN cleared by the write (locked).
        assert_eq!(m.read(reg::PWR_CR3), 0b010);
        // VOS = 0b11 (scale 1) at 15:14, VOSRDY at 13.
        assert_eq!(m.read(reg::PWR_D3CR), 0xE000);
        // DIVM1 = 4 at 9:4, PLLSRC = HSE (0b10); DIVM2/DIVM3 keep their reset values.
        assert_eq!(m.read(reg::RCC_PLLCKSELR), 0x0202_0042);
        // PLL1RGE = 0b01 (2..4 MHz) at 3:2, wide VCO, integer mode, DIVP1EN only.
        assert_eq!(m.read(reg::RCC_PLLCFGR), 0x01F9_0004);
        // DIVN1 = 399 (0x18F), DIVP1 = 1 at 15:9; Q1/R1 untouched.
        assert_eq!(m.read(reg::RCC_PLL1DIVR), 0x0101_038F);
        // HPRE = 0b1000 (/2), D1PPRE = 0b100 (/2), D1CPRE = 0 (/1).
        assert_eq!(m.read(reg::RCC_D1CFGR), 0x048);
        assert_eq!(m.read(reg::RCC_D2CFGR), 0x440);
        assert_eq!(m.read(reg::RCC_D3CFGR), 0x040);
        // LATENCY = 2, WRHIGHFREQ = 2.
        assert_eq!(m.read(reg::FLASH_ACR), 0x22);
        // SW = SWS = PLL1.
        assert_eq!(m.read(reg::RCC_CFGR), 0x1B);
        let cr = m.read(reg::RCC_CR);
        assert_eq!(
            cr & 0x0307_0000,
            reg::CR_HSEBYP | reg::CR_HSEON | reg::CR_HSERDY | reg::CR_PLL1ON | reg::CR_PLL1RDY
        );
        assert_eq!(
            ClockSource::from_pllckselr(m.read(reg::RCC_PLLCKSELR)),
            Some(ClockSource::HseBypass)
        );
    }

    #[test]
    fn the_supply_is_written_once_and_first() {
        let mut m = Model::after_power_on();
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        assert_eq!(m.writes[0].0, reg::PWR_CR3);
        assert_eq!(m.writes_to(reg::PWR_CR3).len(), 1);
    }

    #[test]
    fn voltage_and_flash_latency_rise_before_the_clock_does() {
        let mut m = Model::after_power_on();
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        let switch = m.index_of_write(reg::RCC_CFGR, reg::SW_PLL1);
        assert!(m.index_of_write(reg::PWR_D3CR, 0b11 << 14) < switch);
        assert!(m.index_of_write(reg::FLASH_ACR, 0x22) < switch);
        assert!(m.index_of_write(reg::RCC_D1CFGR, 0x48) < switch);
        assert_eq!(switch, m.writes.len() - 1);
    }

    #[test]
    fn hse_bypass_is_set_before_hse_is_turned_on() {
        let mut m = Model::after_power_on();
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        let bypass = m.index_of_write(reg::RCC_CR, reg::CR_HSEBYP);
        assert_eq!(m.writes[bypass].1 & reg::CR_HSEON, 0);
        assert!(bypass < m.index_of_write(reg::RCC_CR, reg::CR_HSEON));
    }

    #[test]
    fn a_warm_reset_leaves_the_locked_ldo_supply_alone() {
        let mut m = Model::after_power_on();
        m.regs.insert(reg::PWR_CR3, reg::CR3_LDOEN);
        m.regs.insert(reg::PWR_CSR1, reg::CSR1_ACTVOSRDY);
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        assert!(m.writes_to(reg::PWR_CR3).is_empty());
    }

    #[test]
    fn a_supply_locked_in_bypass_is_an_error_not_a_rewrite() {
        let mut m = Model::after_power_on();
        m.regs.insert(reg::PWR_CR3, reg::CR3_BYPASS);
        assert_eq!(
            bring_up(&mut m, &NUCLEO_400MHZ),
            Err(BringUpError::SupplyLocked {
                cr3: reg::CR3_BYPASS
            })
        );
        assert!(m.writes.is_empty());
    }

    /// No ST-LINK clock: HSE is switched off again, PLL1 takes the HSI with DIVM1 = 32 (the
    /// same 2 MHz reference), and the core still ends at 400 MHz on PLL1.
    #[test]
    fn a_missing_hse_falls_back_to_the_hsi_at_the_same_frequency() {
        let mut m = Model::after_power_on();
        m.stalls.push(Stall::Hse);
        assert_eq!(
            bring_up(&mut m, &NUCLEO_400MHZ),
            Ok(ClockSource::HsiFallback)
        );
        assert_eq!(m.read(reg::RCC_CR) & reg::CR_HSEON, 0);
        // DIVM1 = 32 at 9:4, PLLSRC = HSI (0b00).
        assert_eq!(m.read(reg::RCC_PLLCKSELR), 0x0202_0200);
        assert_eq!(m.read(reg::RCC_PLLCFGR), 0x01F9_0004);
        assert_eq!(m.read(reg::RCC_PLL1DIVR), 0x0101_038F);
        assert_eq!(m.read(reg::RCC_CFGR), 0x1B);
        let hse_on = m.index_of_write(reg::RCC_CR, reg::CR_HSEON);
        let hse_off = (hse_on..m.writes.len())
            .find(|&i| m.writes[i].0 == reg::RCC_CR && m.writes[i].1 & reg::CR_HSEON == 0)
            .expect("HSE is turned off again");
        assert!(hse_off < m.index_of_write(reg::RCC_CR, reg::CR_PLL1ON));
        assert_eq!(
            ClockSource::from_pllckselr(m.read(reg::RCC_PLLCKSELR)),
            Some(ClockSource::HsiFallback)
        );
    }

    #[test]
    fn with_neither_oscillator_the_clock_never_switches() {
        let mut m = Model::after_power_on();
        m.stalls.extend([Stall::Hse, Stall::Hsi]);
        assert_eq!(
            bring_up(&mut m, &NUCLEO_400MHZ),
            Err(BringUpError::Timeout(Step::Hsi))
        );
        assert!(m.writes_to(reg::RCC_CFGR).is_empty());
    }

    #[test]
    fn a_pll_that_never_locks_is_reported() {
        let mut m = Model::after_power_on();
        m.stalls.push(Stall::Pll1);
        assert_eq!(
            bring_up(&mut m, &NUCLEO_400MHZ),
            Err(BringUpError::Timeout(Step::Pll1))
        );
        assert!(m.writes_to(reg::RCC_CFGR).is_empty());
    }

    #[test]
    fn pll_sources_other_than_hse_and_hsi_are_not_ours() {
        assert_eq!(ClockSource::from_pllckselr(0b01), None);
        assert_eq!(ClockSource::from_pllckselr(0b11), None);
    }

    #[test]
    fn flash_wait_states_follow_rm0433_table_17_at_vos1() {
        assert_eq!(flash_wait_states_vos1(64_000_000), (0, 0));
        assert_eq!(flash_wait_states_vos1(100_000_000), (1, 1));
        assert_eq!(flash_wait_states_vos1(185_000_000), (2, 1));
        assert_eq!(flash_wait_states_vos1(200_000_000), (2, 2));
    }

    #[test]
    fn prescaler_codes_match_the_rcc_fields() {
        assert_eq!(prescaler_code(1, 0b1000), Some(0));
        assert_eq!(prescaler_code(2, 0b1000), Some(0b1000));
        assert_eq!(prescaler_code(16, 0b1000), Some(0b1011));
        assert_eq!(prescaler_code(16, 0b100), Some(0b111));
        assert_eq!(prescaler_code(3, 0b100), None);
        assert_eq!(prescaler_code(32, 0b1000), None);
    }
}
