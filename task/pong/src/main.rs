//! Demo server of `idl/ping.idol`: `ping` answers with its value, `echo` copies one lease
//! into another. `ping` (task) is its client.
//!
//! Every request is recorded in a counted ring buffer, so `humility ringbuf` shows the
//! recent ones and `humility counters` how many of each pong has served since it started.
//!
//! Built `watched`, it checks in with the supervisor every 10 ms from a timer (app.toml:
//! `notifications = ["timer"]` and `watchdog-ms`). A pong that spins between calls starves
//! every task below it, and with no call waiting no reply deadline catches it: the fault
//! campaign found that (doc/fault-campaign.md 7).
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, Read, RequestError, Write};
use pong_api::PingError;
use ringbuf::{counted_ringbuf, ringbuf_entry};
use userlib::RecvMessage;

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

/// A request as it arrived. Integers only: humility decodes payloads from DWARF and cannot
/// decode `char`.
#[derive(Copy, Clone, PartialEq, Count)]
enum Request {
    /// What unused ring buffer slots hold; never recorded.
    None,
    Ping {
        value: u32,
    },
    Echo {
        src_len: u32,
        dst_len: u32,
    },
}

counted_ringbuf!(Request, 16, Request::None);

/// Bytes `echo` copies per borrow: the lease may be up to 256 bytes, the stack is small.
const ECHO_CHUNK: usize = 64;

struct Pong;

/// app.toml: `notifications = ["timer"]` in `watched` builds.
#[cfg(feature = "watched")]
const TIMER: u32 = 1 << 0;
#[cfg(feature = "watched")]
const CHECK_IN_MS: u64 = 10;

#[cfg(feature = "watched")]
fn check_in_later() {
    userlib::sys_set_timer(Some(userlib::sys_get_timer().now + CHECK_IN_MS), TIMER);
}

impl InOrderPingImpl for Pong {
    #[cfg(feature = "watched")]
    fn notification_mask(&self) -> u32 {
        TIMER
    }

    #[cfg(feature = "watched")]
    fn handle_notification(&mut self, bits: u32) {
        if bits & TIMER != 0 {
            userlib::check_in();
            check_in_later();
        }
    }

    fn ping(
        &mut self,
        _: &RecvMessage,
        value: u32,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        ringbuf_entry!(Request::Ping { value });
        Ok(value)
    }

    fn echo(
        &mut self,
        _: &RecvMessage,
        src: Leased<Read, [u8]>,
        dst: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<PingError>> {
        // The interface caps both leases at 256 bytes, so the lengths fit in a u32.
        ringbuf_entry!(Request::Echo {
            src_len: src.len() as u32,
            dst_len: dst.len() as u32
        });
        if src.len() > dst.len() {
            return Err(RequestError::Op(PingError::TooLong));
        }
        let mut chunk = [0u8; ECHO_CHUNK];
        let mut at = 0;
        while at < src.len() {
            let n = ECHO_CHUNK.min(src.len() - at);
            src.read_range(at, &mut chunk[..n])?;
            dst.write_range(at, &chunk[..n])?;
            at += n;
        }
        Ok(src.len() as u32)
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    #[cfg(feature = "watched")]
    check_in_later();
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut Pong);
    }
}
