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
//! 3. **HSE.** The ST-LINK's MCO drives an 8 MHz clock into OSC_IN; there is no crystal, so
//!    `RCC_CR.HSEBYP` is set before `HSEON` (HSEBYP is writable only while HSE is off), then
//!    wait `HSERDY`.
//! 4. **PLL1** from HSE: DIVM1 = 4 (2 MHz reference, `PLL1RGE` = 2..4 MHz, wide VCO), DIVN1 =
//!    400 (VCO 800 MHz), DIVP1 = 2: 400 MHz on `pll1_p_ck`, the only output enabled. Wait
//!    `PLL1RDY`.
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

use core::ptr::{read_volatile, write_volatile};

/// Register addresses and fields (RM0433; offsets as in ST's `stm32h743xx.h`).
mod reg {
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
}

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

    const fn pll1_range(&self) -> u32 {
        match self.hse_hz / self.divm1 {
            0..2_000_000 => 0b00,
            2_000_000..4_000_000 => 0b01,
            4_000_000..8_000_000 => 0b10,
            _ => 0b11,
        }
    }

    fn pllckselr(&self, old: u32) -> u32 {
        (old & !reg::PLLCKSELR_PLL1_MASK) | self.divm1 << 4 | reg::PLLSRC_HSE
    }

    /// Integer mode, wide VCO, the reference range, and only the P output enabled.
    fn pllcfgr(&self, old: u32) -> u32 {
        (old & !reg::PLLCFGR_PLL1_MASK) | self.pll1_range() << 2 | reg::PLLCFGR_DIVP1EN
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
    Hse,
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

fn wait(
    regs: &impl Registers,
    address: u32,
    mask: u32,
    value: u32,
    step: Step,
) -> Result<(), BringUpError> {
    for _ in 0..POLL_LIMIT {
        if regs.read(address) & mask == value {
            return Ok(());
        }
    }
    Err(BringUpError::Timeout(step))
}

fn modify(regs: &mut impl Registers, address: u32, f: impl FnOnce(u32) -> u32) {
    let value = f(regs.read(address));
    regs.write(address, value);
}

/// Runs the sequence in the module documentation. Call once, right after reset.
pub fn bring_up(regs: &mut impl Registers, plan: &ClockPlan) -> Result<(), BringUpError> {
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

    modify(regs, reg::RCC_CR, |r| r | reg::CR_HSEBYP);
    modify(regs, reg::RCC_CR, |r| r | reg::CR_HSEON);
    wait(regs, reg::RCC_CR, reg::CR_HSERDY, reg::CR_HSERDY, Step::Hse)?;

    modify(regs, reg::RCC_PLLCKSELR, |r| plan.pllckselr(r));
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
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::vec::Vec;

    use super::*;

    /// Registers at their RM0433 reset values; the hardware's ready flags follow the
    /// enables at once, unless a step is told to stall.
    struct Model {
        regs: BTreeMap<u32, u32>,
        writes: Vec<(u32, u32)>,
        stall: Option<Step>,
    }

    impl Model {
        fn after_power_on() -> Self {
            let regs = BTreeMap::from([
                (reg::PWR_CR3, reg::CR3_SCUEN | reg::CR3_LDOEN),
                (reg::PWR_CSR1, 0),
                (reg::PWR_D3CR, 0b01 << 14),
                (reg::RCC_CR, 0x0000_0025),
                (reg::RCC_CFGR, 0),
                (reg::RCC_D1CFGR, 0),
                (reg::RCC_D2CFGR, 0),
                (reg::RCC_D3CFGR, 0),
                (reg::RCC_PLLCKSELR, 0x0202_0200),
                (reg::RCC_PLLCFGR, 0x01FF_0000),
                (reg::RCC_PLL1DIVR, 0x0101_0280),
                (reg::FLASH_ACR, 0x37),
            ]);
            Model {
                regs,
                writes: Vec::new(),
                stall: None,
            }
        }

        fn index_of_write(&self, address: u32, bits: u32) -> usize {
            self.writes
                .iter()
                .position(|&(a, v)| a == address && v & bits == bits)
                .expect("the write happened")
        }
    }

    impl Registers for Model {
        fn read(&self, address: u32) -> u32 {
            *self
                .regs
                .get(&address)
                .unwrap_or_else(|| panic!("read of unmodelled register {address:#x}"))
        }

        fn write(&mut self, address: u32, mut value: u32) {
            assert!(
                self.regs.contains_key(&address),
                "write to unmodelled register {address:#x}"
            );
            self.writes.push((address, value));
            let stalled = |s| self.stall == Some(s);
            match address {
                reg::PWR_CR3 if !stalled(Step::Supply) => {
                    *self.regs.get_mut(&reg::PWR_CSR1).unwrap() |= reg::CSR1_ACTVOSRDY;
                    value &= !reg::CR3_SCUEN;
                }
                reg::PWR_D3CR if !stalled(Step::VoltageScaling) => value |= reg::D3CR_VOSRDY,
                reg::RCC_CR => {
                    if value & reg::CR_HSEON != 0 && !stalled(Step::Hse) {
                        value |= reg::CR_HSERDY;
                    }
                    if value & reg::CR_PLL1ON != 0 && !stalled(Step::Pll1) {
                        value |= reg::CR_PLL1RDY;
                    }
                }
                reg::RCC_CFGR if !stalled(Step::ClockSwitch) => value |= (value & 0b111) << 3,
                _ => {}
            }
            self.regs.insert(address, value);
        }
    }

    #[test]
    fn the_nucleo_plan_is_400_mhz_core_200_axi_100_apb() {
        assert_eq!(NUCLEO_400MHZ.sys_hz(), 400_000_000);
        assert_eq!(NUCLEO_400MHZ.ahb_hz(), 200_000_000);
        assert_eq!(NUCLEO_400MHZ.apb_hz(), 100_000_000);
    }

    #[test]
    fn bring_up_programs_the_hand_computed_register_values() {
        let mut m = Model::after_power_on();
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
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
    }

    #[test]
    fn the_supply_is_written_once_and_first() {
        let mut m = Model::after_power_on();
        bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        assert_eq!(m.writes[0].0, reg::PWR_CR3);
        assert_eq!(
            m.writes.iter().filter(|(a, _)| *a == reg::PWR_CR3).count(),
            1
        );
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
        assert!(m.writes.iter().all(|(a, _)| *a != reg::PWR_CR3));
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

    #[test]
    fn a_missing_hse_is_reported_and_the_clock_never_switches() {
        let mut m = Model::after_power_on();
        m.stall = Some(Step::Hse);
        assert_eq!(
            bring_up(&mut m, &NUCLEO_400MHZ),
            Err(BringUpError::Timeout(Step::Hse))
        );
        assert!(m.writes.iter().all(|(a, _)| *a != reg::RCC_CFGR));
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
