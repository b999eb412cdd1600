//! xorshift32: small, the same on every host and target, so a seed replays the same draws
//! under `-icount`. The fault campaign's injector (kernel), its rogue task and `usb-model`'s
//! chaotic devices each draw from one, with their own salt so their streams differ for one
//! seed.
#![no_std]

pub struct Rng(u32);

impl Rng {
    /// A generator for `seed`, mixed with `salt`: zero is xorshift's fixed point, and mixing
    /// makes nearby seeds diverge at once.
    pub const fn new(seed: u32, salt: u32) -> Rng {
        let mixed = seed.wrapping_mul(0x9E37_79B9) ^ salt;
        Rng(if mixed == 0 { 1 } else { mixed })
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True once in `n` draws on average.
    pub fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next_u32() as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_replays_and_seeds_and_salts_differ() {
        let run = |seed, salt| {
            let mut r = Rng::new(seed, salt);
            [r.next_u32(), r.next_u32(), r.next_u32()]
        };
        assert_eq!(run(7, 1), run(7, 1));
        assert_ne!(run(7, 1), run(8, 1));
        assert_ne!(run(7, 1), run(7, 2));
        assert_ne!(Rng::new(0, 0).next_u32(), 0, "the fixed point was avoided");
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(3, 0);
        for _ in 0..10_000 {
            assert!((5..=9).contains(&r.between(5, 9)));
            assert!(r.below(3) < 3);
        }
        assert_eq!(r.between(4, 4), 4);
        assert_eq!(r.below(0), 0);
    }
}
