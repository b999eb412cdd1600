//! A register model for the host tests: the registers the bring-up touches, at their RM0433
//! reset values, with the hardware's ready flags following their enables at once unless a
//! test makes one stall.

use std::collections::BTreeMap;
use std::vec::Vec;

use crate::{Registers, cache, chip, reg, usb};

/// A ready flag the model withholds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stall {
    Supply,
    VoltageScaling,
    /// No ST-LINK clock: HSERDY never rises.
    Hse,
    Hsi,
    Pll1,
    ClockSwitch,
    Usb33,
    Pll3,
}

pub struct Model {
    pub regs: BTreeMap<u32, u32>,
    pub writes: Vec<(u32, u32)>,
    pub stalls: Vec<Stall>,
    /// (index into `writes` at the time, ) of every barrier.
    pub barriers: Vec<usize>,
}

impl Model {
    pub fn after_power_on() -> Self {
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
            (chip::reg::DBGMCU_IDCODE, 0x2003_6450),
            (chip::reg::DBGMCU_CR, 0),
            (chip::reg::AXI_TARG7_FN_MOD, 0),
            (chip::reg::RCC_AHB2ENR, 0),
            (chip::reg::RCC_AHB3ENR, 0),
            (chip::reg::FMC_BCR1, 0x0000_30DB),
            (cache::reg::CCR, 0x0000_0200),
            (cache::reg::CSSELR, 0),
            // Cortex-M7 with 16 KiB data cache: 128 sets, 4 ways, 32-byte lines.
            (cache::reg::CCSIDR, 0xF00F_E019),
            (cache::reg::ICIALLU, 0),
            (cache::reg::DCISW, 0),
            (cache::reg::CACR, 0),
            (usb::usb_reg::RCC_PLL3DIVR, 0x0101_0280),
            (usb::usb_reg::RCC_D2CCIP2R, 0),
            (usb::usb_reg::RCC_AHB1LPENR, 0x6E03_9000),
        ]);
        Model {
            regs,
            writes: Vec::new(),
            stalls: Vec::new(),
            barriers: Vec::new(),
        }
    }

    pub fn index_of_write(&self, address: u32, bits: u32) -> usize {
        self.writes
            .iter()
            .position(|&(a, v)| a == address && v & bits == bits)
            .expect("the write happened")
    }

    pub fn writes_to(&self, address: u32) -> Vec<u32> {
        self.writes
            .iter()
            .filter(|(a, _)| *a == address)
            .map(|&(_, v)| v)
            .collect()
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
        assert_ne!(
            address,
            chip::reg::DBGMCU_IDCODE,
            "DBGMCU_IDCODE is read-only"
        );
        self.writes.push((address, value));
        let stalled = |s| self.stalls.contains(&s);
        match address {
            reg::PWR_CR3 => {
                if !stalled(Stall::Supply) {
                    *self.regs.get_mut(&reg::PWR_CSR1).unwrap() |= reg::CSR1_ACTVOSRDY;
                    value &= !reg::CR3_SCUEN;
                }
                if value & usb::usb_reg::CR3_USB33DEN != 0 && !stalled(Stall::Usb33) {
                    value |= usb::usb_reg::CR3_USB33RDY;
                }
            }
            reg::PWR_D3CR if !stalled(Stall::VoltageScaling) => value |= reg::D3CR_VOSRDY,
            reg::RCC_CR => {
                let hse_ready = value & reg::CR_HSEON != 0 && !stalled(Stall::Hse);
                value = (value & !reg::CR_HSERDY) | if hse_ready { reg::CR_HSERDY } else { 0 };
                if stalled(Stall::Hsi) {
                    value &= !(reg::CR_HSIRDY | reg::CR_HSIDIVF);
                }
                if value & reg::CR_PLL1ON != 0 && !stalled(Stall::Pll1) {
                    value |= reg::CR_PLL1RDY;
                }
                if value & usb::usb_reg::CR_PLL3ON != 0 && !stalled(Stall::Pll3) {
                    value |= usb::usb_reg::CR_PLL3RDY;
                }
            }
            reg::RCC_CFGR if !stalled(Stall::ClockSwitch) => value |= (value & 0b111) << 3,
            _ => {}
        }
        self.regs.insert(address, value);
    }

    fn barrier(&mut self) {
        self.barriers.push(self.writes.len());
    }
}
