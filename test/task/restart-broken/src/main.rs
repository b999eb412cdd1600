//! Drivers broken on purpose, for `cargo xtask restart-test`'s own tests: each one makes
//! the command report one specific anomaly (test/app/restart-broken/app.toml). The role is a
//! feature:
//!
//! | Feature | Role | What a restart shows |
//! |---|---|---|
//! | `registry` | counts reports from the driver registered last, in `ACCEPTED` | - |
//! | `forgets-registration` | registers in its first incarnation only, then reports | `ACCEPTED` stops: no progress |
//! | `pinged` | answers pings | - |
//! | `bystander` | pings `clumsy` through the id it booted with; panics on an error | restarting `clumsy` faults it |
//! | `hangs-after-three` | checks in with the watchdog, until its third restart | its watchdog expires |
//! | `steady-dependent` | depends on `provider`: lets go, acknowledges, rebinds, pings it every 10 ms (`ANSWERED`) | - (restarting `provider` shows a dependent rebinding) |
//! | `deaf-dependent` | depends on `shunned` and never acknowledges a going-away notice | restarting `shunned` shows it did not let go |
//!
//! Messages are raw IPC: operation 1 registers, 2 reports, 3 pings; replies carry no data.
#![no_std]
#![no_main]
// One crate, one role per feature: each role uses only some of the items below.
#![allow(dead_code, unused_imports)]

use core::sync::atomic::{AtomicU32, Ordering};

use userlib::{
    Generation, TaskId, check_in, sleep_for, sys_get_timer, sys_panic, sys_recv_notification,
    sys_recv_open, sys_refresh_incarnation, sys_reply, sys_send, sys_set_timer, task_slot,
};

const TIMER: u32 = 1 << 0;
const REGISTER: u16 = 1;
const REPORT: u16 = 2;
const PING: u16 = 3;

/// Reports accepted by the registry: the app's declared progress (humility-readable).
#[unsafe(no_mangle)]
pub static ACCEPTED: AtomicU32 = AtomicU32::new(0);

#[cfg(any(feature = "forgets-registration", feature = "hangs-after-three"))]
include!(concat!(env!("OUT_DIR"), "/my_index.rs"));

/// This incarnation's generation, as the kernel numbers it.
#[cfg(any(feature = "forgets-registration", feature = "hangs-after-three"))]
fn my_generation() -> Generation {
    sys_refresh_incarnation(TaskId::for_index_and_gen(MY_INDEX, Generation(0)))
        .id
        .generation()
}

#[cfg(any(feature = "registry", feature = "pinged"))]
#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut registered = None;
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        let code = match msg.operation as u16 {
            REGISTER if cfg!(feature = "registry") => {
                registered = Some(msg.sender);
                0
            }
            REPORT if cfg!(feature = "registry") && registered == Some(msg.sender) => {
                ACCEPTED.fetch_add(1, Ordering::Relaxed);
                0
            }
            PING if cfg!(feature = "pinged") => 0,
            _ => 1,
        };
        sys_reply(msg.sender, code, &[]);
    }
}

#[cfg(feature = "forgets-registration")]
task_slot!(REGISTRY, registry);

#[cfg(feature = "forgets-registration")]
#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let registry = REGISTRY;
    // The bug: registration is treated as done once per boot, not once per incarnation.
    if my_generation().0 == 0 {
        let _ = sys_send(registry, REGISTER, &[], &mut [], &[]);
    }
    loop {
        let _ = sys_send(registry, REPORT, &[], &mut [], &[]);
        sleep_for(10, TIMER);
    }
}

#[cfg(feature = "bystander")]
task_slot!(CLUMSY, clumsy);

#[cfg(feature = "bystander")]
#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // The bug: the id is never refreshed, and any failure is taken as impossible.
    let clumsy = CLUMSY;
    loop {
        let (code, _) = sys_send(clumsy, PING, &[], &mut [], &[]);
        if code != 0 {
            sys_panic(b"clumsy did not answer");
        }
        sleep_for(10, TIMER);
    }
}

#[cfg(feature = "hangs-after-three")]
#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // The bug: from the third restart on, it waits for a notification nobody sends.
    let hung = my_generation().0 >= 3;
    loop {
        if hung {
            sys_recv_notification(1 << 31);
        }
        check_in();
        sleep_for(10, TIMER);
    }
}

#[cfg(any(feature = "steady-dependent", feature = "deaf-dependent"))]
task_slot!(JEFE, jefe);
#[cfg(feature = "steady-dependent")]
task_slot!(PROVIDER, provider);
#[cfg(feature = "deaf-dependent")]
task_slot!(PROVIDER, shunned);

/// Pings answered by the provider: the steady dependent's progress (humility-readable).
#[unsafe(no_mangle)]
pub static ANSWERED: AtomicU32 = AtomicU32::new(0);

#[cfg(any(feature = "steady-dependent", feature = "deaf-dependent"))]
#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // app.toml: notifications = ["provider-going", "provider-back", "timer"].
    const GOING: u32 = 1 << 0;
    const BACK: u32 = 1 << 1;
    const TICK: u32 = 1 << 2;
    let mut dependent = jefe_api::Dependent::new(JEFE, [PROVIDER]);
    let mut bound = true;
    let mut next = sys_get_timer().now + 10;
    sys_set_timer(Some(next), TICK);
    loop {
        let bits = sys_recv_notification(GOING | BACK | TICK);
        // The deaf one's bug: it never answers, so the provider is detached past it.
        if bits & GOING != 0 && cfg!(feature = "steady-dependent") {
            dependent.acknowledge(|_| bound = false);
        }
        if bits & BACK != 0 {
            dependent.rebind();
            bound = true;
        }
        if bits & TICK != 0 {
            if bound && sys_send(dependent.provider(0), PING, &[], &mut [], &[]).0 == 0 {
                ANSWERED.fetch_add(1, Ordering::Relaxed);
            }
            next += 10;
            sys_set_timer(Some(next), TICK);
        }
    }
}
