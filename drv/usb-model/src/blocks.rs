//! Where a simulated flash drive keeps its blocks.
//!
//! A task cannot hold a drive of useful size in RAM, yet the restart tests must move more
//! than a mebibyte through the stack and read every byte back. [`PatternStore`] solves it
//! without pretending: it stores exactly what was written, but compactly when the data is
//! what [`generated`] makes for that block (the tests write such blocks) or all zeros (a
//! fresh drive), and verbatim in a small pool of whole blocks otherwise. When the pool is
//! full, a write of other data is refused (the drive answers with a write error) instead
//! of being dropped silently. Every write is checked byte for byte before it is stored
//! compactly, so a corrupted packet never passes for the pattern.
//!
//! [`RamStore`] is a plain RAM disk, for host tests that want arbitrary data everywhere.

use crate::flash::BLOCK_LEN;

/// Block storage of a simulated drive. `offset + out.len()` (or `data.len()`) never passes
/// the end of block `lba`.
pub trait BlockStore {
    fn blocks(&self) -> usize;
    fn read(&self, lba: usize, offset: usize, out: &mut [u8]);
    /// Stores `data`; `false` if the store has no room for it (the block is unchanged).
    fn write(&mut self, lba: usize, offset: usize, data: &[u8]) -> bool;
}

/// A RAM disk: every block verbatim.
pub struct RamStore<'d>(pub &'d mut [u8]);

impl BlockStore for RamStore<'_> {
    fn blocks(&self) -> usize {
        self.0.len() / BLOCK_LEN
    }
    fn read(&self, lba: usize, offset: usize, out: &mut [u8]) {
        let at = lba * BLOCK_LEN + offset;
        out.copy_from_slice(&self.0[at..at + out.len()]);
    }
    fn write(&mut self, lba: usize, offset: usize, data: &[u8]) -> bool {
        let at = lba * BLOCK_LEN + offset;
        self.0[at..at + data.len()].copy_from_slice(data);
        true
    }
}

/// Largest seed of [`generated`]; seed 0 is not a pattern (the map's "zeros").
pub const MAX_SEED: u16 = 0x7FFF;
/// Pool slots a [`PatternStore`] can track.
pub const MAX_POOL: usize = 64;

/// Byte `index` (0..512) of block `lba` as written with `seed` (1..=[`MAX_SEED`]): the seed
/// (2 bytes) and the block number (4 bytes) first, so a block names its own origin, then
/// a stream that differs per block, seed and position.
pub fn generated_byte(lba: u32, seed: u16, index: usize) -> u8 {
    generated_word(lba, seed, index / 4)[index % 4]
}

/// Bytes `4 * word..4 * word + 4` of [`generated_byte`]'s block.
fn generated_word(lba: u32, seed: u16, word: usize) -> [u8; 4] {
    let [s0, s1] = seed.to_le_bytes();
    let [l0, l1, l2, l3] = lba.to_le_bytes();
    let mut x = lba.wrapping_mul(0x9E37_79B1)
        ^ u32::from(seed).wrapping_mul(0x85EB_CA77)
        ^ (word as u32).wrapping_mul(0xC2B2_AE3D);
    x ^= x >> 15;
    x = x.wrapping_mul(0x2C1B_3C6D);
    x ^= x >> 12;
    let [_, _, x2, x3] = x.to_le_bytes();
    match word {
        0 => [s0, s1, l0, l1],
        1 => [l2, l3, x2, x3],
        _ => x.to_le_bytes(),
    }
}

/// Fills `out` with bytes `offset..` of block `lba` as written with `seed`, a word at a
/// time (the simulator makes these for every packet of a read).
pub fn generated(lba: u32, seed: u16, offset: usize, out: &mut [u8]) {
    let mut at = offset;
    let mut rest = out;
    while !rest.is_empty() {
        let word = generated_word(lba, seed, at / 4);
        let n = (4 - at % 4).min(rest.len());
        rest[..n].copy_from_slice(&word[at % 4..at % 4 + n]);
        rest = &mut rest[n..];
        at += n;
    }
}

/// The block map's entries: 0 all zeros, 1..=[`MAX_SEED`] [`generated`] with that seed,
/// `POOLED | slot` verbatim in pool slot `slot`.
const POOLED: u16 = 0x8000;

/// A drive of `map.len()` blocks that stores generated and zero blocks in its map (2 bytes
/// a block) and any other block in one of `pool`'s slots (module docs).
pub struct PatternStore<'d> {
    map: &'d mut [u16],
    pool: &'d mut [[u8; BLOCK_LEN]],
    /// Bit `i`: pool slot `i` holds a block.
    used: u64,
}

impl<'d> PatternStore<'d> {
    /// A blank drive (all zeros). At most [`MAX_POOL`] slots of `pool` are used.
    pub fn new(map: &'d mut [u16], pool: &'d mut [[u8; BLOCK_LEN]]) -> Self {
        map.fill(0);
        let slots = pool.len().min(MAX_POOL);
        PatternStore {
            map,
            pool: &mut pool[..slots],
            used: 0,
        }
    }

    /// Blocks held verbatim in the pool.
    pub fn pooled(&self) -> u32 {
        self.used.count_ones()
    }

    /// The map entry that stores `block` compactly, if there is one.
    fn compact(lba: usize, block: &[u8; BLOCK_LEN]) -> Option<u16> {
        if block.iter().all(|&b| b == 0) {
            return Some(0);
        }
        let seed = u16::from_le_bytes([block[0], block[1]]);
        let is_pattern = (1..=MAX_SEED).contains(&seed)
            && block
                .chunks_exact(4)
                .enumerate()
                .all(|(w, got)| got == generated_word(lba as u32, seed, w));
        is_pattern.then_some(seed)
    }

    fn free(&mut self, lba: usize) {
        if self.map[lba] & POOLED != 0 {
            self.used &= !(1 << (self.map[lba] & !POOLED));
        }
    }

    /// A free pool slot, marked used.
    fn take_slot(&mut self) -> Option<usize> {
        let slot = (!self.used).trailing_zeros() as usize;
        (slot < self.pool.len()).then(|| {
            self.used |= 1 << slot;
            slot
        })
    }
}

impl BlockStore for PatternStore<'_> {
    fn blocks(&self) -> usize {
        self.map.len()
    }

    fn read(&self, lba: usize, offset: usize, out: &mut [u8]) {
        match self.map[lba] {
            0 => out.fill(0),
            e if e & POOLED != 0 => out
                .copy_from_slice(&self.pool[usize::from(e & !POOLED)][offset..offset + out.len()]),
            seed => generated(lba as u32, seed, offset, out),
        }
    }

    fn write(&mut self, lba: usize, offset: usize, data: &[u8]) -> bool {
        let slot = match self.map[lba] {
            e if e & POOLED != 0 => usize::from(e & !POOLED),
            _ => {
                // Generated or zero so far, changed now: held verbatim while it is mixed.
                let Some(slot) = self.take_slot() else {
                    // Without a slot, only a write that leaves the block compact fits:
                    // the same bytes again, or a whole block of zeros or the pattern.
                    let mut block = [0u8; BLOCK_LEN];
                    self.read(lba, 0, &mut block);
                    block[offset..offset + data.len()].copy_from_slice(data);
                    return match Self::compact(lba, &block) {
                        Some(entry) => {
                            self.map[lba] = entry;
                            true
                        }
                        None => false,
                    };
                };
                let mut block = [0u8; BLOCK_LEN];
                self.read(lba, 0, &mut block);
                self.pool[slot] = block;
                self.map[lba] = POOLED | slot as u16;
                slot
            }
        };
        self.pool[slot][offset..offset + data.len()].copy_from_slice(data);
        // Sequential writes finish a block at its end: only then can it become compact.
        if offset + data.len() == BLOCK_LEN {
            let block = self.pool[slot];
            if let Some(entry) = Self::compact(lba, &block) {
                self.free(lba);
                self.map[lba] = entry;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(lba: u32, seed: u16) -> [u8; BLOCK_LEN] {
        let mut b = [0u8; BLOCK_LEN];
        generated(lba, seed, 0, &mut b);
        b
    }

    fn read_block(store: &PatternStore, lba: usize) -> [u8; BLOCK_LEN] {
        let mut b = [0u8; BLOCK_LEN];
        store.read(lba, 0, &mut b);
        b
    }

    #[test]
    fn generated_blocks_are_stored_compactly_packet_by_packet_and_read_back() {
        let mut map = [0u16; 4096];
        let mut pool = [[0u8; BLOCK_LEN]; 2];
        let mut store = PatternStore::new(&mut map, &mut pool);
        assert_eq!(
            read_block(&store, 7),
            [0; BLOCK_LEN],
            "a blank drive reads zeros"
        );
        for lba in 0..4096u32 {
            let b = block(lba, 1 + (lba % 5) as u16);
            for (i, packet) in b.chunks(64).enumerate() {
                assert!(store.write(lba as usize, i * 64, packet));
            }
        }
        assert_eq!(
            store.pooled(),
            0,
            "every generated block went back to the map"
        );
        for lba in [0u32, 1, 2047, 4095] {
            assert_eq!(
                read_block(&store, lba as usize),
                block(lba, 1 + (lba % 5) as u16)
            );
        }
    }

    #[test]
    fn other_data_is_kept_verbatim_and_refused_when_the_pool_is_full() {
        let mut map = [0u16; 16];
        let mut pool = [[0u8; BLOCK_LEN]; 2];
        let mut store = PatternStore::new(&mut map, &mut pool);
        let mut odd = block(3, 9);
        odd[100] ^= 1; // one flipped bit: not the pattern, and must read back as written
        assert!(store.write(3, 0, &odd));
        assert!(store.write(4, 10, &[0xAB; 4]));
        assert_eq!(store.pooled(), 2);
        assert_eq!(read_block(&store, 3), odd);
        let mut four = [0u8; BLOCK_LEN];
        four[10..14].fill(0xAB);
        assert_eq!(read_block(&store, 4), four);
        assert!(!store.write(5, 0, &[1; 64]), "no slot left for other data");
        assert_eq!(
            read_block(&store, 5),
            [0; BLOCK_LEN],
            "a refused write changes nothing"
        );
        assert!(
            store.write(5, 0, &block(5, 2)),
            "a whole generated block needs no slot"
        );
        assert_eq!(read_block(&store, 5), block(5, 2));
        // Overwriting a pooled block with the pattern frees its slot.
        assert!(store.write(3, 0, &block(3, 9)));
        assert_eq!(store.pooled(), 1);
        assert!(store.write(6, 0, &[1; 64]));
    }

    #[test]
    fn a_block_with_another_blocks_pattern_is_not_taken_for_its_own() {
        let mut map = [0u16; 16];
        let mut pool = [[0u8; BLOCK_LEN]; 1];
        let mut store = PatternStore::new(&mut map, &mut pool);
        assert!(store.write(2, 0, &block(3, 4)));
        assert_eq!(
            store.pooled(),
            1,
            "block 3's data in block 2 is stored verbatim"
        );
        assert_eq!(read_block(&store, 2), block(3, 4));
    }
}
