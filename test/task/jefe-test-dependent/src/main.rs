//! A dependent of `provider` (`depends-on = ["provider"]`), following the protocol of
//! `jefe-api`: on `provider-going` it lets go and acknowledges (or, told to ignore notices,
//! does nothing and is detached past at the deadline); on `provider-back` it rebinds and
//! proves it by calling the new incarnation. It counts what it saw for the test driver.
#![no_std]
#![no_main]

use jefe_api::Dependent;
use jefe_test_api::dependent::{self as op, Stats};
use jefe_test_api::{server, to_bytes};
use userlib::{
    Incarnation, PeerGone, ReplyFaultReason, TaskId, sys_recv_open, sys_refresh_incarnation,
    sys_reply, sys_reply_fault, sys_send, task_slot,
};

task_slot!(JEFE, jefe);
task_slot!(PROVIDER, provider);

/// app.toml: `notifications = ["provider-going", "provider-back"]`.
const GOING: u32 = 1 << 0;
const BACK: u32 = 1 << 1;

/// A call to the provider: `Ok` if it answered, else the response code.
fn ping(provider: Incarnation) -> Result<(), u32> {
    let mut reply = [0u8; 8];
    match sys_send(provider, server::PING, &0u32.to_ne_bytes(), &mut reply, &[]) {
        (0, _) => Ok(()),
        (code, _) => Err(code),
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut dependent = Dependent::new(JEFE, [PROVIDER]);
    let mut bound = Some(PROVIDER);
    let mut mode = op::ACKNOWLEDGE;
    let mut stats = Stats::default();
    let mut buf = [0u8; 4];
    loop {
        let msg = sys_recv_open(&mut buf, GOING | BACK);
        if msg.sender == TaskId::KERNEL {
            let bits = msg.operation;
            if bits & GOING != 0 {
                stats.notices += 1;
                if mode == op::ACKNOWLEDGE {
                    let acknowledged = dependent.acknowledge(|_| {
                        // Still the incarnation we bound to: we let go before the detach.
                        if bound.is_some_and(|id| sys_refresh_incarnation(id) == id) {
                            stats.let_go_in_time += 1;
                        }
                        bound = None;
                    });
                    stats.acks += acknowledged.count_ones();
                }
            }
            if bits & BACK != 0 {
                if let Some(old) = bound {
                    match ping(old) {
                        Err(code) if PeerGone::from_code(code).is_some() => stats.revoked += 1,
                        _ => stats.failures += 1,
                    }
                }
                dependent.rebind();
                let id = dependent.provider(0);
                match ping(id) {
                    Ok(()) => {
                        stats.rebinds += 1;
                        stats.bound_generation = u32::from(id.id.generation().0);
                        bound = Some(id);
                    }
                    Err(_) => stats.failures += 1,
                }
            }
            continue;
        }
        match msg.operation as u16 {
            op::SET_MODE => {
                mode = u32::from_ne_bytes(buf);
                stats = Stats::default();
                sys_reply(msg.sender, 0, &[]);
            }
            op::STATS => {
                let reply: [u8; 32] = to_bytes(stats.to_words());
                sys_reply(msg.sender, 0, &reply);
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
