//! Commands of `test/task/usb-test-peer`, a second client of `usb-hcd` in the `usb-tests` image
//! (so tests can own a pipe from another task, and leave a client blocked in a transfer).
//!
//! Each command is a raw SEND whose operation code is the command. `CONTROL_IN`, `MSC_READ`
//! and `MSC_WRITE` are answered at once and then carried out, so the suite is free while the
//! peer is blocked in a driver; `RESULT` reports how the last one ended.
#![no_std]

/// `CONTROL_IN`: message = pipe handle (u32 LE), timeout in ms (u32 LE). The peer reads the
/// 18-byte device descriptor through that pipe.
pub const CONTROL_IN: u16 = 1;
/// `RESULT`: reply = done (u32 LE: 1 once the last command ended), code (u32 LE: 0 for
/// data, an `HcdError` code, or [`DEAD`]).
pub const RESULT: u16 = 2;
/// The driver died or was restarted during the call.
pub const DEAD: u32 = u32::MAX;
/// The driver's reply did not decode.
pub const BAD_REPLY: u32 = u32::MAX - 1;
/// `MSC_READ`: message ([`MSC_MESSAGE_LEN`] bytes) = blocks (u32 LE), a zero byte, the
/// disk handle's slot (u8), generation (u16 LE) and epoch (u32 LE). The peer reads that many
/// 512-byte blocks from block 0 on through `usb-msc`, in one call (at most
/// [`MSC_MAX_BLOCKS`]); `RESULT`'s code is 0 or a `DiskError` code.
pub const MSC_READ: u16 = 3;
/// Length of an [`MSC_READ`] or [`MSC_WRITE`] message.
pub const MSC_MESSAGE_LEN: usize = 12;
/// `MSC_WRITE`: message as for [`MSC_READ`], with the pattern seed in the fifth byte: the
/// peer writes [`pattern`]`(seed)` to that many blocks from block 0 on, in one call.
pub const MSC_WRITE: u16 = 4;
/// `STREAM`: no message. The peer answers at once, then streams writes and read-backs of
/// [`STREAM_BLOCKS`]-block regions through `usb-msc` (taking a new disk handle whenever the
/// old one is refused), round after round, until its [`STOP_BIT`] notification is posted.
/// A restarted driver makes calls end with codes; it must never make a read-back differ
/// from a write that was acknowledged. Each good round posts the suite's `progress`
/// notification. [`STREAM_RESULT`] reports the rounds.
pub const STREAM: u16 = 5;
/// `STREAM_RESULT`: reply = rounds whose write and read-back both succeeded and matched,
/// rounds that ended with a code, rounds whose read-back differed from the acknowledged
/// write, whether the stream has stopped, and the code the last failed round ended with
/// (as [`RESULT`] reports codes) (u32 LE each).
pub const STREAM_RESULT: u16 = 6;
/// The peer's notification that ends a stream (its app.toml `notifications = ["timer", "stop"]`).
pub const STOP_BIT: u32 = 1 << 1;
/// Blocks written and read back per round of a stream.
pub const STREAM_BLOCKS: usize = 1;
/// The blocks the peer's `MSC_READ`/`MSC_WRITE` cover at most (from block 0): its 32 KiB
/// buffer. The simulated drive itself is larger (usb-sim: 4096 blocks).
pub const MSC_MAX_BLOCKS: usize = 64;
pub const BLOCK: usize = 512;

/// Deterministic contents from `seed`, as [`pattern_at`] gives them from block 0.
pub fn pattern(buf: &mut [u8], seed: u8) {
    pattern_at(buf, seed, 0);
}

/// The contents `buf` must have when written at block `first_block` with `seed`: each
/// block is `usb_model::blocks::generated` for its own number, the one kind of data the
/// simulated drive keeps for every one of its blocks (arbitrary data fits in a small pool
/// only). A block written elsewhere than its number is ordinary data to the drive.
pub fn pattern_at(buf: &mut [u8], seed: u8, first_block: usize) {
    let seed = u16::from(seed) + 1;
    for (i, block) in buf.chunks_mut(BLOCK).enumerate() {
        usb_model::blocks::generated((first_block + i) as u32, seed, 0, block);
    }
}

/// FNV-1a's starting value for [`checksum_more`].
pub const CHECKSUM_START: u32 = 0x811c_9dc5;

/// FNV-1a over `data`, to compare what was written with what is read back.
pub fn checksum(data: &[u8]) -> u32 {
    checksum_more(CHECKSUM_START, data)
}

/// Carries checksum `h` on over `data` (a whole disk checked a few blocks at a time).
pub fn checksum_more(h: u32, data: &[u8]) -> u32 {
    data.iter()
        .fold(h, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}
