//! Addresses and lengths a rogue hands the kernel: inside its own memory (a scratch buffer
//! and its stack), across the scratch buffer's end, and outside it altogether (null, the
//! top of the address space, other tasks' RAM, flash, random words).

use xorshift::Rng;

/// Where the rogue's own memory is, for draws that should land inside it.
#[derive(Copy, Clone)]
pub struct Memory {
    pub scratch: u32,
    pub scratch_len: u32,
    /// An address in the rogue's stack: the kernel may write there, which is the rogue's
    /// own problem (it faults and is restarted).
    pub stack: u32,
}

/// RAM of the board (`build/chips/mps2-an500.toml`): kernel and every task.
const RAM: u32 = 0x2000_0000;

impl Memory {
    /// A (base, length) pair: half the time a valid piece of scratch, else anything.
    pub fn slice(&self, rng: &mut Rng) -> (u32, u32) {
        match rng.below(8) {
            0..=3 => {
                let offset = rng.below(self.scratch_len + 1);
                (
                    self.scratch + offset,
                    rng.below(self.scratch_len - offset + 1),
                )
            }
            // Empty, somewhere.
            4 => (self.address(rng), 0),
            // Across the end of the scratch buffer.
            5 => {
                let back = rng.below(32);
                (
                    self.scratch + self.scratch_len - back,
                    back + 1 + rng.below(64),
                )
            }
            6 => (self.address(rng), self.length(rng)),
            // Wrapping past the top of the address space.
            _ => (u32::MAX - rng.below(64), 1 + rng.below(256)),
        }
    }

    /// An address inside or outside the rogue's memory.
    pub fn address(&self, rng: &mut Rng) -> u32 {
        match rng.below(7) {
            0 => self.scratch + rng.below(self.scratch_len),
            1 => self.stack.wrapping_add(rng.below(256)).wrapping_sub(128),
            2 => 0,
            3 => RAM + rng.below(0x1_0000),
            4 => rng.below(0x1_0000),
            _ => rng.next_u32(),
        }
    }

    pub fn length(&self, rng: &mut Rng) -> u32 {
        match rng.below(5) {
            0 => 0,
            1 => rng.below(16),
            2 => rng.below(1024),
            3 => u32::MAX - rng.below(16),
            _ => rng.next_u32(),
        }
    }
}
