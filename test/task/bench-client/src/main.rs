//! The kernel benchmark client: times IPC shapes against `bench-server` and prints
//! `BENCH <key> <guest instructions>` lines (see `bench_api` for the clock).
#![no_std]
#![no_main]

use core::fmt::Write as _;

use test_runner_api::TestRunnerClient;
use userlib::{Lease, TextBuf, sys_recv_notification, sys_send, task_slot};

task_slot!(RUNNER, runner);
task_slot!(SERVER, bench_server);

const ROUNDS: u32 = 500;

/// Ticks of an empty measurement (two clock reads), subtracted from every sample.
fn clock_overhead() -> u32 {
    let t0 = bench_api::now();
    let t1 = bench_api::now();
    t1.wrapping_sub(t0)
}

/// Average instructions of `f` over `ROUNDS` runs, less the clock's own cost. Between runs
/// the loop waits a varying few instructions so samples do not lock to the tick phase.
fn measure(mut f: impl FnMut()) -> u64 {
    let overhead_total: u64 = (0..ROUNDS)
        .map(|i| {
            bench_api::dither(i);
            u64::from(clock_overhead())
        })
        .sum();
    let mut total: u64 = 0;
    for i in 0..ROUNDS {
        bench_api::dither(i);
        let t0 = bench_api::now();
        f();
        total += u64::from(bench_api::now().wrapping_sub(t0));
    }
    (total.saturating_sub(overhead_total)) * bench_api::INSTRUCTIONS_PER_TICK / u64::from(ROUNDS)
}

/// The server's accumulated ticks for `ROUNDS` server-side samples, as instructions each.
fn server_total() -> u64 {
    let mut raw = [0u8; 4];
    sys_send(SERVER, bench_api::TAKE_TOTAL, &[], &mut raw, &[]);
    u64::from(u32::from_le_bytes(raw)) * bench_api::INSTRUCTIONS_PER_TICK / u64::from(ROUNDS)
}

fn report(key: &str, instructions: u64) {
    let mut line = TextBuf::<64>::new();
    let _ = write!(line, "BENCH {key} {instructions}");
    let _ = TestRunnerClient::new(RUNNER).log(line.as_bytes());
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    bench_api::start_clock();
    let overhead = u64::from(clock_overhead()) * bench_api::INSTRUCTIONS_PER_TICK;
    let mut small = [0u8; 4];
    report(
        "ipc_roundtrip_0b",
        measure(|| {
            sys_send(SERVER, bench_api::ECHO, &[], &mut [], &[]);
        }),
    );
    report(
        "ipc_roundtrip_4b",
        measure(|| {
            sys_send(SERVER, bench_api::ECHO, b"ping", &mut small, &[]);
        }),
    );
    let big = [0xA5u8; 256];
    let mut back = [0u8; 256];
    report(
        "ipc_roundtrip_256b",
        measure(|| {
            sys_send(SERVER, bench_api::ECHO, &big, &mut back, &[]);
        }),
    );
    for i in 0..ROUNDS {
        bench_api::dither(i);
        let sent = bench_api::now().to_le_bytes();
        sys_send(SERVER, bench_api::ONEWAY, &sent, &mut [], &[]);
    }
    report("ipc_oneway_send", server_total().saturating_sub(overhead));
    for i in 0..ROUNDS {
        bench_api::dither(i);
        sys_send(
            SERVER,
            bench_api::LEASE_READ,
            &[],
            &mut [],
            &[Lease::read_only(&big)],
        );
    }
    report("lease_read_256b", server_total().saturating_sub(overhead));
    let _ = TestRunnerClient::new(RUNNER).log(b"BENCH DONE");
    loop {
        sys_recv_notification(0);
    }
}
