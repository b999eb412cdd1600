//! Power and the 48 MHz kernel clock of the OTG controllers (doc/usb-host.md 1.4 steps 1-2,
//! doc/stm32h7.md 7), run by the kernel's `board_init` after [`crate::bring_up`]. The bus
//! clock enable and reset of OTG2 stay with `sys` (`otg2` in its RCC table), so that jefe can
//! pulse the controller through reset before restarting `usb-hcd`.
//!
//! The 48 MHz comes from **PLL3's Q output**, not from HSI48: a USB host generates the
//! frame timing itself, and full speed allows the bit rate ±0.25 %. HSI48's clock recovery
//! (CRS) trims it against SOF packets *received*, which only a device gets; a host's HSI48
//! would run untrimmed (about ±3 %, datasheet). PLL3 from the ST-LINK's HSE has the
//! crystal's accuracy. From the HSI fallback it would not (about ±1 %), so USB is refused
//! then, with a reason the console can print.

use crate::{ClockPlan, ClockSource, Registers, modify, poll, reg};

pub(crate) mod usb_reg {
    use crate::reg::{PWR, RCC};

    pub const PWR_CR3: u32 = PWR + 0x0C;
    /// USB33DEN (24): the USB voltage level detector; USB33RDY (26): VDD33USB is ready.
    pub const CR3_USB33DEN: u32 = 1 << 24;
    pub const CR3_USB33RDY: u32 = 1 << 26;
    pub const RCC_PLL3DIVR: u32 = RCC + 0x40;
    /// D2CCIP2R: USBSEL (21:20): 0b00 off, 0b01 PLL1Q, 0b10 PLL3Q, 0b11 HSI48.
    pub const RCC_D2CCIP2R: u32 = RCC + 0x54;
    pub const USBSEL_MASK: u32 = 0b11 << 20;
    pub const USBSEL_PLL3Q: u32 = 0b10 << 20;
    /// AHB1LPENR: USB2OTGFSULPILPEN (28), the OTG2 ULPI clock in CSleep.
    pub const RCC_AHB1LPENR: u32 = RCC + 0x100;
    pub const AHB1LPENR_OTG2_ULPI: u32 = 1 << 28;
    /// CR: PLL3ON (28), PLL3RDY (29).
    pub const CR_PLL3ON: u32 = 1 << 28;
    pub const CR_PLL3RDY: u32 = 1 << 29;
    /// PLLCKSELR: DIVM3 (25:20).
    pub const PLLCKSELR_DIVM3_SHIFT: u32 = 20;
    pub const PLLCKSELR_DIVM3_MASK: u32 = 0x3F << 20;
    /// PLLCFGR: PLL3FRACEN (8), PLL3VCOSEL (9), PLL3RGE (11:10), DIVP3EN (22), DIVQ3EN (23),
    /// DIVR3EN (24).
    pub const PLLCFGR_PLL3_MASK: u32 = 0b1111 << 8 | 0b111 << 22;
    pub const PLLCFGR_DIVQ3EN: u32 = 1 << 23;
}

use usb_reg as ur;

/// PLL3 for the USB clock: the same 2 MHz reference as PLL1, x240 = 480 MHz wide VCO, /10.
#[derive(Copy, Clone, Debug)]
pub struct UsbClockPlan {
    pub divn3: u32,
    pub divq3: u32,
}

pub const USB_48MHZ: UsbClockPlan = UsbClockPlan {
    divn3: 240,
    divq3: 10,
};

const USB_HZ: u32 = 48_000_000;

impl UsbClockPlan {
    /// `self`, or a compile-time error unless it gives exactly 48 MHz from `system`'s
    /// reference within the wide VCO's range.
    pub const fn checked(self, system: &ClockPlan) -> UsbClockPlan {
        let reference = system.hse_hz / system.divm1;
        let vco = reference * self.divn3;
        assert!(
            vco >= 192_000_000 && vco <= 836_000_000,
            "PLL3 wide VCO range"
        );
        assert!(self.divn3 >= 4 && self.divn3 <= 512 && self.divq3 >= 1 && self.divq3 <= 128);
        assert!(
            vco / self.divq3 == USB_HZ && vco.is_multiple_of(self.divq3),
            "USB needs 48 MHz"
        );
        self
    }

    fn pll3divr(&self, old: u32) -> u32 {
        (old & !(0x7F << 16 | 0x1FF)) | (self.divq3 - 1) << 16 | (self.divn3 - 1)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum UsbClockError {
    /// The core runs from the HSI fallback, too inaccurate for a USB host.
    NoCrystalClock,
    /// VDD33USB never became ready (USB33RDY stayed 0).
    SupplyNotReady,
    /// PLL3 never locked.
    Pll3NotLocked,
}

/// Enables the USB supply detector and waits for VDD33USB, brings PLL3 up to 48 MHz on its
/// Q output, selects it as the USB kernel clock, and keeps OTG2's FS core clocked across
/// `wfi` by clearing its ULPI low-power clock enable (with the embedded FS PHY the ULPI
/// clock never runs, and while its sleep enable is set the core stops in CSleep).
pub fn enable(
    regs: &mut impl Registers,
    system: &ClockPlan,
    usb: &UsbClockPlan,
    source: ClockSource,
) -> Result<(), UsbClockError> {
    if source != ClockSource::HseBypass {
        return Err(UsbClockError::NoCrystalClock);
    }
    modify(regs, ur::PWR_CR3, |r| r | ur::CR3_USB33DEN);
    if !poll(regs, ur::PWR_CR3, ur::CR3_USB33RDY, ur::CR3_USB33RDY) {
        return Err(UsbClockError::SupplyNotReady);
    }

    modify(regs, reg::RCC_PLLCKSELR, |r| {
        (r & !ur::PLLCKSELR_DIVM3_MASK) | system.divm1 << ur::PLLCKSELR_DIVM3_SHIFT
    });
    modify(regs, reg::RCC_PLLCFGR, |r| {
        (r & !ur::PLLCFGR_PLL3_MASK) | system.pll_range() << 10 | ur::PLLCFGR_DIVQ3EN
    });
    modify(regs, ur::RCC_PLL3DIVR, |r| usb.pll3divr(r));
    modify(regs, reg::RCC_CR, |r| r | ur::CR_PLL3ON);
    if !poll(regs, reg::RCC_CR, ur::CR_PLL3RDY, ur::CR_PLL3RDY) {
        return Err(UsbClockError::Pll3NotLocked);
    }

    modify(regs, ur::RCC_D2CCIP2R, |r| {
        (r & !ur::USBSEL_MASK) | ur::USBSEL_PLL3Q
    });
    modify(regs, ur::RCC_AHB1LPENR, |r| r & !ur::AHB1LPENR_OTG2_ULPI);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NUCLEO_400MHZ;
    use crate::model::{Model, Stall};

    const PLAN: UsbClockPlan = USB_48MHZ.checked(&NUCLEO_400MHZ);

    fn brought_up() -> Model {
        let mut m = Model::after_power_on();
        crate::bring_up(&mut m, &NUCLEO_400MHZ).unwrap();
        m.writes.clear();
        m
    }

    #[test]
    fn usb_gets_48_mhz_from_pll3q_and_its_supply() {
        let mut m = brought_up();
        assert_eq!(
            enable(&mut m, &NUCLEO_400MHZ, &PLAN, ClockSource::HseBypass),
            Ok(())
        );
        // USB33DEN and USB33RDY, the LDO supply bits untouched.
        assert_eq!(m.read(ur::PWR_CR3), 0x0500_0002);
        // DIVM3 = 4 at 25:20 next to PLL1's DIVM1 = 4 and PLLSRC = HSE.
        assert_eq!(m.read(reg::RCC_PLLCKSELR), 0x0042_0042);
        // PLL1 as before (0x01F9_0004), PLL3RGE = 0b01 at 11:10, and of PLL3's outputs
        // DIVQ3EN (23) only: DIVP3EN (22) and DIVR3EN (24) cleared.
        assert_eq!(m.read(reg::RCC_PLLCFGR), 0x00B9_0404);
        // DIVN3 = 239 (0xEF), DIVQ3 = 9 at 22:16; DIVP3 and DIVR3 at their reset values.
        assert_eq!(m.read(ur::RCC_PLL3DIVR), 0x0109_02EF);
        assert_eq!(m.read(ur::RCC_D2CCIP2R), 0x0020_0000);
        assert_eq!(m.read(ur::RCC_AHB1LPENR), 0x6E03_9000 & !(1 << 28));
        assert_ne!(m.read(reg::RCC_CR) & ur::CR_PLL3RDY, 0);
    }

    #[test]
    fn the_usb_clock_is_selected_only_once_pll3_runs() {
        let mut m = brought_up();
        enable(&mut m, &NUCLEO_400MHZ, &PLAN, ClockSource::HseBypass).unwrap();
        let on = m.index_of_write(reg::RCC_CR, ur::CR_PLL3ON);
        let select = m.index_of_write(ur::RCC_D2CCIP2R, ur::USBSEL_PLL3Q);
        assert!(on < select);
        assert!(m.index_of_write(ur::PWR_CR3, ur::CR3_USB33DEN) < on);
    }

    #[test]
    fn on_the_hsi_fallback_usb_is_refused_untouched() {
        let mut m = brought_up();
        assert_eq!(
            enable(&mut m, &NUCLEO_400MHZ, &PLAN, ClockSource::HsiFallback),
            Err(UsbClockError::NoCrystalClock)
        );
        assert!(m.writes.is_empty());
    }

    #[test]
    fn a_missing_usb_supply_or_pll3_lock_is_reported() {
        let mut m = brought_up();
        m.stalls.push(Stall::Usb33);
        assert_eq!(
            enable(&mut m, &NUCLEO_400MHZ, &PLAN, ClockSource::HseBypass),
            Err(UsbClockError::SupplyNotReady)
        );
        let mut m = brought_up();
        m.stalls.push(Stall::Pll3);
        assert_eq!(
            enable(&mut m, &NUCLEO_400MHZ, &PLAN, ClockSource::HseBypass),
            Err(UsbClockError::Pll3NotLocked)
        );
        assert!(m.writes_to(ur::RCC_D2CCIP2R).is_empty());
    }
}
