//! What the supervisor scenario tasks (`task/jefe-test-*`) say to each other, over raw IPC
//! so that every call's response code is visible to the test.
#![no_std]

/// `test/task/jefe-test-server`.
pub mod server {
    /// Message: `seq: u32`. Reply: `[seq, tag]` (u32 each), `tag` naming the incarnation that
    /// answered (its start time in ms), so a client can tell which one it reached.
    pub const PING: u16 = 1;
    /// Divides by zero: the server faults while the caller waits for its reply.
    pub const CRASH: u16 = 2;
    /// Replies, then stops checking in with the watchdog (blocks forever).
    pub const HANG: u16 = 3;
    /// `stamps` builds only (they map the shared `timer0`). Reply: `bench_api::now()` (u32)
    /// read where `CRASH` would fault, so a client can time "call to fault".
    pub const STAMP: u16 = 4;
    /// `stamps` builds only. Reply: `bench_api::now()` (u32) read by this incarnation's first
    /// statement of `main`.
    pub const STARTED: u16 = 5;
    /// `peripheral` builds only (they map `timer1`). Reply: `[ctrl, reload, value]` (u32
    /// each), timer1's registers as this incarnation found them before programming it.
    pub const TIMER_AT_START: u16 = 6;
    /// `asks-jefe` builds only (app.toml gives them jefe in their task-slots). Message:
    /// `[request, task]` (u32 each), `request` one of [`RESTART`], [`UNLOAD`], [`LOAD`]:
    /// the server asks jefe for it, then replies 0 if jefe obeyed and 1 if jefe answered
    /// with an error. A server jefe's allow-list refuses is faulted instead, and the caller
    /// gets a dead code.
    pub const ASK_JEFE: u16 = 7;
    /// `hog` builds only. Replies, then sets its timer in the past, wakes, checks in, and
    /// does it again for ever: its watchdog stays content while it starves every less
    /// important task (the fault campaign's livelock, `doc/fault-campaign.md`).
    pub const HOG: u16 = 8;

    /// `ASK_JEFE` requests.
    pub const RESTART: u32 = 0;
    pub const UNLOAD: u32 = 1;
    pub const LOAD: u32 = 2;
}

/// `test/task/jefe-test-sys`, the reset server of the test image.
pub mod sys {
    /// Message: `mode: u32` ([`SERVE`] or [`HANG_MID_RESET`]).
    pub const SET_MODE: u16 = 1;

    /// Reset what jefe asks for.
    pub const SERVE: u32 = 0;
    /// Take jefe's next work, then spin forever without reporting it done.
    pub const HANG_MID_RESET: u32 = 1;
}

/// `test/task/jefe-test-dependent`.
pub mod dependent {
    /// Message: `mode: u32` ([`ACKNOWLEDGE`] or [`IGNORE`]). Also zeroes the counters.
    pub const SET_MODE: u16 = 1;
    /// Reply: [`Stats`] as eight `u32`.
    pub const STATS: u16 = 2;

    pub const ACKNOWLEDGE: u32 = 0;
    pub const IGNORE: u32 = 1;

    /// What a dependent saw of its provider.
    #[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
    pub struct Stats {
        /// `provider-going` notices received.
        pub notices: u32,
        pub acks: u32,
        /// Acknowledgements sent while the provider was still the incarnation we were bound
        /// to: we let go before the detach.
        pub let_go_in_time: u32,
        /// `provider-back` notices after which a call reached the new incarnation.
        pub rebinds: u32,
        /// Calls with the old id after the provider came back that ended with a dead code
        /// rather than blocking (ignore mode).
        pub revoked: u32,
        /// Calls that failed in any other way.
        pub failures: u32,
        /// The provider generation we are bound to now.
        pub bound_generation: u32,
        pub _reserved: u32,
    }

    impl Stats {
        pub fn to_words(&self) -> [u32; 8] {
            [
                self.notices,
                self.acks,
                self.let_go_in_time,
                self.rebinds,
                self.revoked,
                self.failures,
                self.bound_generation,
                self._reserved,
            ]
        }

        pub fn from_words(w: [u32; 8]) -> Self {
            Stats {
                notices: w[0],
                acks: w[1],
                let_go_in_time: w[2],
                rebinds: w[3],
                revoked: w[4],
                failures: w[5],
                bound_generation: w[6],
                _reserved: w[7],
            }
        }
    }
}

/// Words to bytes and back, native order.
pub fn to_bytes<const N: usize, const B: usize>(words: [u32; N]) -> [u8; B] {
    let mut out = [0u8; B];
    for (chunk, w) in out.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_ne_bytes());
    }
    out
}

pub fn from_bytes<const N: usize>(bytes: &[u8]) -> [u32; N] {
    let mut out = [0u32; N];
    for (w, chunk) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *w = u32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    out
}
