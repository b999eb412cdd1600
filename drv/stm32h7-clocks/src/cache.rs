//! The Cortex-M7 L1 caches (ARMv7-M ARM B2.2, "Cache maintenance"; Cortex-M7 TRM "Cache
//! control"), turned on by the kernel's `board_init` (doc/stm32h7.md 5).
//!
//! Why the attributes make this safe: the kernel runs on the default memory map, where
//! 0x4000_0000..0x5FFF_FFFF (every peripheral) is Device memory, never cached; tasks'
//! peripheral regions are Device and DMA regions normal non-cacheable (`build/xtask`
//! `alloc::mpu_words`); and the OTG controller runs in slave mode (doc/usb-host.md 5), so no
//! bus master reads or writes cacheable RAM behind the CPU. What remains is the debugger:
//! humility reads task and kernel state from RAM through the debug port, which bypasses the
//! data cache. `CACR.FORCEWT` makes every cacheable store write through, so RAM always
//! holds what the CPU wrote (and the reset record of `abi::ResetRecord` reaches SRAM before a
//! reset); reads still hit the cache. A debugger *write* into RAM can leave a stale line;
//! humility's Bulkhead commands only read.

use crate::Registers;

pub(crate) mod reg {
    /// SCB_CCR: DC (16) and IC (17) enable the data and instruction caches.
    pub const CCR: u32 = 0xE000_ED14;
    pub const CCR_DC: u32 = 1 << 16;
    pub const CCR_IC: u32 = 1 << 17;
    /// CCSIDR: the geometry of the cache CSSELR selects (0 = level-1 data).
    pub const CCSIDR: u32 = 0xE000_ED80;
    pub const CSSELR: u32 = 0xE000_ED84;
    /// Invalidate the whole instruction cache (write-only, any value).
    pub const ICIALLU: u32 = 0xE000_EF50;
    /// Invalidate one data cache line by set and way.
    pub const DCISW: u32 = 0xE000_EF60;
    /// Cortex-M7 CACR: FORCEWT (2) makes cacheable memory write-through.
    pub const CACR: u32 = 0xE000_EF9C;
    pub const CACR_FORCEWT: u32 = 1 << 2;
}

/// The data cache's shape, from CCSIDR: NumSets - 1 (27:13), Associativity - 1 (12:3),
/// LineSize = log2(words per line) - 2 (2:0).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub sets: u32,
    pub ways: u32,
    pub line_bytes: u32,
}

impl Geometry {
    pub const fn from_ccsidr(ccsidr: u32) -> Geometry {
        Geometry {
            sets: ((ccsidr >> 13) & 0x7FFF) + 1,
            ways: ((ccsidr >> 3) & 0x3FF) + 1,
            line_bytes: 16 << (ccsidr & 0b111),
        }
    }

    /// The DCISW word for (`set`, `way`): the set above the line offset bits, the way in
    /// the top bits.
    pub const fn set_way(&self, set: u32, way: u32) -> u32 {
        let way_shift = if self.ways == 1 {
            0
        } else {
            (self.ways - 1).leading_zeros()
        };
        let way_bits = if self.ways == 1 { 0 } else { way << way_shift };
        way_bits | set << self.line_bytes.trailing_zeros()
    }
}

/// Invalidates and enables the instruction cache, then invalidates the data cache line by
/// line, forces write-through, and enables it. Must run once, before anything depends on
/// cached data (the caches hold garbage after reset until invalidated).
pub fn enable(regs: &mut impl Registers) {
    regs.barrier();
    regs.write(reg::ICIALLU, 0);
    regs.barrier();
    let ccr = regs.read(reg::CCR);
    regs.write(reg::CCR, ccr | reg::CCR_IC);
    regs.barrier();

    regs.write(reg::CSSELR, 0);
    regs.barrier();
    let geometry = Geometry::from_ccsidr(regs.read(reg::CCSIDR));
    for set in 0..geometry.sets {
        for way in 0..geometry.ways {
            regs.write(reg::DCISW, geometry.set_way(set, way));
        }
    }
    regs.barrier();
    let cacr = regs.read(reg::CACR);
    regs.write(reg::CACR, cacr | reg::CACR_FORCEWT);
    regs.barrier();
    let ccr = regs.read(reg::CCR);
    regs.write(reg::CCR, ccr | reg::CCR_DC);
    regs.barrier();
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::model::Model;

    #[test]
    fn the_m7_data_cache_is_128_sets_of_4_ways_of_32_bytes() {
        let g = Geometry::from_ccsidr(0xF00F_E019);
        assert_eq!(
            g,
            Geometry {
                sets: 128,
                ways: 4,
                line_bytes: 32
            }
        );
        // Way in bits 31:30, set in bits 11:5.
        assert_eq!(g.set_way(127, 3), 0xC000_0FE0);
        assert_eq!(g.set_way(1, 1), 0x4000_0020);
    }

    #[test]
    fn every_line_is_invalidated_once_before_the_data_cache_is_enabled() {
        let mut m = Model::after_power_on();
        enable(&mut m);
        let words = m.writes_to(reg::DCISW);
        assert_eq!(words.len(), 512);
        assert_eq!(words.iter().collect::<BTreeSet<_>>().len(), 512);
        let last_invalidate = m
            .writes
            .iter()
            .rposition(|&(a, _)| a == reg::DCISW)
            .unwrap();
        let dc_on = m.index_of_write(reg::CCR, reg::CCR_DC);
        assert!(last_invalidate < dc_on);
        // A barrier separates the last invalidation from the enable.
        assert!(
            m.barriers
                .iter()
                .any(|&b| b > last_invalidate && b <= dc_on)
        );
    }

    #[test]
    fn write_through_is_forced_before_the_data_cache_is_on() {
        let mut m = Model::after_power_on();
        enable(&mut m);
        let forcewt = m.index_of_write(reg::CACR, reg::CACR_FORCEWT);
        assert!(forcewt < m.index_of_write(reg::CCR, reg::CCR_DC));
        assert_eq!(m.read(reg::CCR), 0x0003_0200);
    }

    #[test]
    fn the_instruction_cache_is_invalidated_before_it_is_enabled() {
        let mut m = Model::after_power_on();
        enable(&mut m);
        assert!(m.index_of_write(reg::ICIALLU, 0) < m.index_of_write(reg::CCR, reg::CCR_IC));
    }
}
