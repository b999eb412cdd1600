//! Drivers broken on purpose, for `cargo xtask restart-test`'s own tests: each one makes
//! the command report one specific anomaly (app/restart-broken/app.toml). The role is a
//! feature:
//!
//! | Feature | Role | What a restart shows |
//! |---|---|---|
//! | `registry` | counts reports from the driver registered last, in `ACCEPTED` | - |
//! | `forgets-registration` | registers in its first incarnation only, then reports | `ACCEPTED` stops: no progress |
//! | `pinged` | answers pings | - |
//! | `bystander` | pings `clumsy` through the id it booted with; panics on an error | restarting `clumsy` faults it |
//! | `hangs-after-three` | checks in with the watchdog, until its third restart | its watchdog expires |
//!
//! Messages are raw IPC: operation 1 registers, 2 reports, 3 pings; replies carry no data.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU32, Ordering};

use userlib::*;

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
