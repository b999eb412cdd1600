//! What one ARMv7-M MPU region can describe (ARMv7-M ARM B3.5.9, MPU_RASR).

/// A region one ARMv7-M MPU slot can describe: size a power of two >= 32, base aligned to it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MpuRegion {
    base: u32,
    size: u32,
}

impl MpuRegion {
    pub const MIN_SIZE: u32 = 32;

    /// `None` unless the MPU can describe `base .. base + size` with one region.
    pub fn new(base: u32, size: u32) -> Option<MpuRegion> {
        (size.is_power_of_two() && size >= Self::MIN_SIZE && base.is_multiple_of(size))
            .then_some(MpuRegion { base, size })
    }

    pub fn base(self) -> u32 {
        self.base
    }

    pub fn size(self) -> u32 {
        self.size
    }

    /// One past the last byte.
    pub fn end(self) -> u64 {
        u64::from(self.base) + u64::from(self.size)
    }
}
