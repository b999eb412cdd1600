//! The rogue's generator: xorshift32, so a seed replays the same calls under `-icount`.

pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        // Zero is xorshift's fixed point; mixing also makes nearby seeds diverge at once.
        let mixed = seed.wrapping_mul(0x9E37_79B9) ^ 0x510E_527F;
        Rng(if mixed == 0 { 1 } else { mixed })
    }

    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    /// True once in `n` draws on average.
    pub fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next() as u8;
        }
    }
}
