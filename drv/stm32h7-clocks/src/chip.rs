//! Chip set-up that ST's start-up code does and a bare bring-up misses (doc/stm32h7.md 4):
//! the AXI SRAM read erratum of revision Y silicon, the D2 SRAM clocks, FMC bank 1's
//! speculative reads, and debug access while the core sleeps. Run by the kernel's
//! `board_init` after [`crate::bring_up`], privileged, before any task exists.

use crate::Registers;

/// Addresses and fields (RM0433; ES0392 for the erratum).
pub(crate) mod reg {
    /// DBGMCU_IDCODE: REV_ID (31:16), DEV_ID (11:0, 0x450 for STM32H742/743/750/753).
    pub const DBGMCU_IDCODE: u32 = 0x5C00_1000;
    /// DBGMCU_CR: DBGSLEEP_D1 (0), DBGSTOP_D1 (1), DBGSTBY_D1 (2), D1DBGCKEN (21),
    /// D3DBGCKEN (22).
    pub const DBGMCU_CR: u32 = 0x5C00_1004;
    pub const DBGMCU_CR_DEBUG_IN_LOW_POWER: u32 = 0b111 | 1 << 21 | 1 << 22;
    /// AXI interconnect, target 7 (the AXI SRAM) issuing functionality:
    /// READ_ISS_OVERRIDE (0) limits the read issuing capability to one.
    pub const AXI_TARG7_FN_MOD: u32 = 0x5100_8108;
    pub const READ_ISS_OVERRIDE: u32 = 1 << 0;
    /// RCC_AHB2ENR: SRAM1EN (29), SRAM2EN (30), SRAM3EN (31), the D2 SRAMs.
    pub const RCC_AHB2ENR: u32 = 0x5802_4400 + 0xDC;
    pub const AHB2ENR_D2_SRAMS: u32 = 0b111 << 29;
    /// RCC_AHB3ENR: FMCEN (12).
    pub const RCC_AHB3ENR: u32 = 0x5802_4400 + 0xD4;
    pub const AHB3ENR_FMCEN: u32 = 1 << 12;
    /// FMC_BCR1: MBKEN (0), set at reset.
    pub const FMC_BCR1: u32 = 0x5200_4000;
    pub const BCR1_MBKEN: u32 = 1 << 0;
}

/// The silicon revision, from `DBGMCU_IDCODE.REV_ID`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Revision {
    /// REV_ID 0x1003: the first production revision, with the AXI SRAM read erratum.
    Y,
    /// REV_ID 0x2003.
    V,
    /// A REV_ID this code does not know; treated as not needing the revision-Y workaround
    /// only if it is newer than Y.
    Other(u16),
}

impl Revision {
    pub const fn from_idcode(idcode: u32) -> Revision {
        match (idcode >> 16) as u16 {
            0x1003 => Revision::Y,
            0x2003 => Revision::V,
            other => Revision::Other(other),
        }
    }

    /// Revision Y, and any revision numbered before V (ES0392 gives the erratum for Y and
    /// fixes it in V): the AXI SRAM may return wrong data for concurrent reads.
    pub const fn has_axi_sram_read_erratum(self) -> bool {
        match self {
            Revision::Y => true,
            Revision::V => false,
            Revision::Other(rev) => rev < 0x2000,
        }
    }
}

/// What [`set_up`] found and did, for the kernel to publish.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ChipReport {
    pub revision: Revision,
    pub axi_sram_workaround: bool,
}

/// Applies the revision-Y workaround where it applies, clocks the D2 SRAMs, disables FMC
/// bank 1 (its reset-enabled NOR/SRAM bank invites speculative reads by the Cortex-M7 into
/// 0x6000_0000, which stall the FMC for other masters), and keeps the debug clocks
/// running in Sleep, Stop and Standby so a probe can attach to an idle board (the idle task
/// sleeps in `wfi`).
pub fn set_up(regs: &mut impl Registers) -> ChipReport {
    let revision = Revision::from_idcode(regs.read(reg::DBGMCU_IDCODE));
    let axi_sram_workaround = revision.has_axi_sram_read_erratum();
    if axi_sram_workaround {
        let v = regs.read(reg::AXI_TARG7_FN_MOD);
        regs.write(reg::AXI_TARG7_FN_MOD, v | reg::READ_ISS_OVERRIDE);
    }

    let v = regs.read(reg::RCC_AHB2ENR);
    regs.write(reg::RCC_AHB2ENR, v | reg::AHB2ENR_D2_SRAMS);

    // FMC_BCR1 is writable only while the FMC is clocked; leave its clock as found.
    let ahb3 = regs.read(reg::RCC_AHB3ENR);
    regs.write(reg::RCC_AHB3ENR, ahb3 | reg::AHB3ENR_FMCEN);
    let bcr1 = regs.read(reg::FMC_BCR1);
    regs.write(reg::FMC_BCR1, bcr1 & !reg::BCR1_MBKEN);
    regs.write(reg::RCC_AHB3ENR, ahb3);

    let v = regs.read(reg::DBGMCU_CR);
    regs.write(reg::DBGMCU_CR, v | reg::DBGMCU_CR_DEBUG_IN_LOW_POWER);

    ChipReport {
        revision,
        axi_sram_workaround,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Model;

    fn set_up_on(idcode: u32) -> (Model, ChipReport) {
        let mut m = Model::after_power_on();
        m.regs.insert(reg::DBGMCU_IDCODE, idcode);
        let report = set_up(&mut m);
        (m, report)
    }

    #[test]
    fn revision_y_gets_the_axi_sram_read_override() {
        let (m, report) = set_up_on(0x1003_6450);
        assert_eq!(report.revision, Revision::Y);
        assert!(report.axi_sram_workaround);
        assert_eq!(m.read(reg::AXI_TARG7_FN_MOD), 0x1);
    }

    #[test]
    fn revision_v_is_left_at_full_read_issuing() {
        let (m, report) = set_up_on(0x2003_6450);
        assert_eq!(report.revision, Revision::V);
        assert!(!report.axi_sram_workaround);
        assert!(m.writes_to(reg::AXI_TARG7_FN_MOD).is_empty());
    }

    #[test]
    fn unknown_revisions_before_v_are_treated_as_y() {
        assert!(Revision::from_idcode(0x1001_6450).has_axi_sram_read_erratum());
        assert!(!Revision::from_idcode(0x2005_6450).has_axi_sram_read_erratum());
    }

    #[test]
    fn the_d2_srams_are_clocked() {
        let (m, _) = set_up_on(0x2003_6450);
        assert_eq!(m.read(reg::RCC_AHB2ENR), 0xE000_0000);
    }

    /// MBKEN cleared (0x30DB -> 0x30DA) while FMCEN is set, and the FMC clock left off
    /// again as reset left it.
    #[test]
    fn fmc_bank_1_is_disabled_with_its_clock_on_and_the_clock_restored() {
        let (m, _) = set_up_on(0x2003_6450);
        assert_eq!(m.read(reg::FMC_BCR1), 0x0000_30DA);
        let bcr = m.index_of_write(reg::FMC_BCR1, 0);
        let on = m.index_of_write(reg::RCC_AHB3ENR, reg::AHB3ENR_FMCEN);
        assert!(on < bcr);
        assert_eq!(m.writes_to(reg::RCC_AHB3ENR), [reg::AHB3ENR_FMCEN, 0]);
        assert_eq!(m.read(reg::RCC_AHB3ENR), 0);
    }

    #[test]
    fn debug_survives_sleep_stop_and_standby() {
        let (m, _) = set_up_on(0x2003_6450);
        assert_eq!(m.read(reg::DBGMCU_CR), 0x0060_0007);
    }
}
