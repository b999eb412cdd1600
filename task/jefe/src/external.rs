//! `humility jefe` (doc/humility-contract.md 6.1): the debugger halts the core, writes
//! `JEFE_EXTERNAL_REQUEST` (1 start, 2 hold, 3 release, 4 fault; Bulkhead adds 5 unload and
//! 6 load, which humility never writes, for `cargo xtask restart-test`) and `TASKINDEX`, sets
//! `KICK`, and watches `REQUESTS` (done) and `ERRORS` (refused). Jefe looks at `KICK` on
//! every wake-up and at least every 100 ms. There is no IPC here on purpose: a debugger
//! must be able to recover a system whose tasks are all stuck.

use core::sync::atomic::{AtomicU32, Ordering};

#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_READY: AtomicU32 = AtomicU32::new(0);
#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_KICK: AtomicU32 = AtomicU32::new(0);
#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_REQUEST: AtomicU32 = AtomicU32::new(0);
#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_TASKINDEX: AtomicU32 = AtomicU32::new(0);
#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_REQUESTS: AtomicU32 = AtomicU32::new(0);
#[unsafe(no_mangle)]
pub static JEFE_EXTERNAL_ERRORS: AtomicU32 = AtomicU32::new(0);

/// Tells humility requests will be served.
pub fn set_ready() {
    JEFE_EXTERNAL_READY.store(1, Ordering::SeqCst);
}

/// If a request was kicked, hands `(request, task index)` to `handle` and counts the
/// outcome it returns (`true`: done).
pub fn poll(handle: impl FnOnce(u32, u32) -> bool) {
    if JEFE_EXTERNAL_KICK.swap(0, Ordering::SeqCst) == 0 {
        return;
    }
    let request = JEFE_EXTERNAL_REQUEST.load(Ordering::SeqCst);
    let task = JEFE_EXTERNAL_TASKINDEX.load(Ordering::SeqCst);
    let outcome = if handle(request, task) {
        &JEFE_EXTERNAL_REQUESTS
    } else {
        &JEFE_EXTERNAL_ERRORS
    };
    outcome.fetch_add(1, Ordering::SeqCst);
}
