//! Client of the test images' supervisor (`TestRunnerClient`), and the loop every test
//! suite runs: fresh incarnations of its helpers before each test, then one
//! `TEST <name> ok|FAIL <why>` line per test, which `cargo xtask test` reads.
#![no_std]

use core::fmt::Write as _;

use idol_runtime::userlib::{Incarnation, TextBuf, sys_refresh_incarnation};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

/// What a test returns: `Err` carries the reason it failed.
pub type Outcome = Result<(), &'static str>;

/// A test: the name it is reported under, and its body.
pub type Test = (&'static str, fn() -> Outcome);

/// Fails the enclosing test with `$why` unless `$cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $why:expr) => {
        if !$cond {
            return Err($why);
        }
    };
}

/// Restarts the task in `slot` through the runner and returns its new incarnation.
pub fn restart(runner: &TestRunnerClient, slot: Incarnation) -> Incarnation {
    let _ = runner.restart(slot.index() as u32);
    sys_refresh_incarnation(slot)
}

/// Runs `tests` in order, restarting every task in `fresh` before each, and reports each
/// result through the runner's console.
pub fn run_tests(runner: &TestRunnerClient, tests: &[Test], fresh: &[Incarnation]) {
    for (name, test) in tests {
        for &slot in fresh {
            restart(runner, slot);
        }
        let mut line = TextBuf::<160>::new();
        let _ = match test() {
            Ok(()) => write!(line, "TEST {name} ok"),
            Err(why) => write!(line, "TEST {name} FAIL {why}"),
        };
        let _ = runner.log(line.as_bytes());
    }
}
