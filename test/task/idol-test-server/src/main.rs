//! Server of `idl/idol-test.idol` in the `idol-tests` image (see `test/task/idol-test-suite`).
//!
//! It is a plain implementation of the generated `InOrderIdolTestImpl`: every check of a
//! malformed call happens in the generated dispatcher, and `restricted` is guarded by the
//! allow-list `build.rs` reads from app.toml. Its state is one counter and a mode, so a
//! test can tell a fresh incarnation (counter 0) from the one it talked to before, and the
//! reply tokens of up to two callers waiting in the deferred `park`, which `release`
//! answers in whatever order the suite names them.
#![no_std]
#![no_main]

use idol_runtime::{Leased, Read, ReadWrite, ReplyToken, RequestError, Write};
use idol_test_api::{Answer, IdolTestError, Mode};
use userlib::RecvMessage;

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

/// The longest lease the interface admits (`max_len` of `sum`, `fill`, `reverse`, `park`), so
/// one stack buffer holds any of them.
const MAX_LEASE_BYTES: usize = 64;

type Infallible = core::convert::Infallible;

/// A caller waiting in `park`.
struct Parked {
    tag: u32,
    reply: ReplyToken<Answer, IdolTestError, IdolTestParkLeases>,
}

struct Server {
    counter: u32,
    mode: Mode,
    parked: [Option<Parked>; 2],
    /// `park` calls answered by this incarnation.
    answered: u32,
}

impl InOrderIdolTestImpl for Server {
    fn total(&mut self, _: &RecvMessage) -> Result<u32, RequestError<Infallible>> {
        Ok(self.counter)
    }

    fn bump(&mut self, _: &RecvMessage, by: u32) -> Result<u32, RequestError<IdolTestError>> {
        self.counter = self
            .counter
            .checked_add(by)
            .ok_or(RequestError::Op(IdolTestError::Overflow))?;
        Ok(self.counter)
    }

    fn sum(
        &mut self,
        _: &RecvMessage,
        values: Leased<Read, [u32]>,
    ) -> Result<u32, RequestError<Infallible>> {
        let mut buffer = [0u32; MAX_LEASE_BYTES / 4];
        let values_read = &mut buffer[..values.len()];
        values.read_range(0, values_read)?;
        Ok(values_read.iter().fold(0, |sum, v| sum.wrapping_add(*v)))
    }

    fn fill(
        &mut self,
        _: &RecvMessage,
        byte: u8,
        out: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<Infallible>> {
        let bytes = [byte; MAX_LEASE_BYTES];
        out.write_range(0, &bytes[..out.len()])?;
        Ok(out.len() as u32)
    }

    fn reverse(
        &mut self,
        _: &RecvMessage,
        data: Leased<ReadWrite, [u8]>,
    ) -> Result<(), RequestError<Infallible>> {
        let mut buffer = [0u8; MAX_LEASE_BYTES];
        let bytes = &mut buffer[..data.len()];
        data.read_range(0, bytes)?;
        bytes.reverse();
        data.write_range(0, bytes)?;
        Ok(())
    }

    fn set_mode(
        &mut self,
        _: &RecvMessage,
        mode: Mode,
        reset: bool,
    ) -> Result<Mode, RequestError<Infallible>> {
        if reset {
            self.counter = 0;
        }
        Ok(core::mem::replace(&mut self.mode, mode))
    }

    fn restricted(&mut self, msg: &RecvMessage) -> Result<u16, RequestError<Infallible>> {
        Ok(msg.sender.index() as u16)
    }

    fn park(
        &mut self,
        _: &RecvMessage,
        tag: u32,
        reply: ReplyToken<Answer, IdolTestError, IdolTestParkLeases>,
    ) {
        match self.parked.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => *slot = Some(Parked { tag, reply }),
            None => reply.reply_err(IdolTestError::Full),
        }
    }

    fn release(
        &mut self,
        _: &RecvMessage,
        tag: u32,
        fill: u8,
    ) -> Result<u32, RequestError<IdolTestError>> {
        let Parked { reply, .. } = self
            .parked
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|p| p.tag == tag))
            .and_then(Option::take)
            .ok_or(RequestError::Op(IdolTestError::NotParked))?;
        let out = &reply.leases().out;
        let len = out.len();
        let written = out.write_range(0, &[fill; MAX_LEASE_BYTES][..len]);
        self.answered += 1;
        // Answered even when the lease write failed: to a caller that is gone this delivers
        // nothing, and the token is spent either way.
        reply.reply(Answer {
            tag,
            order: self.answered,
        });
        written
            .map(|()| len as u32)
            .map_err(|_| RequestError::Op(IdolTestError::CallerGone))
    }

    fn abandon(&mut self, _: &RecvMessage, tag: u32) -> Result<(), RequestError<IdolTestError>> {
        let parked = self
            .parked
            .iter_mut()
            .find(|slot| slot.as_ref().is_some_and(|p| p.tag == tag))
            .and_then(Option::take)
            .ok_or(RequestError::Op(IdolTestError::NotParked))?;
        drop(parked);
        Ok(())
    }

    fn crash(&mut self, _: &RecvMessage) -> Result<(), RequestError<Infallible>> {
        panic!("idol-test-server: crash requested");
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut server = Server {
        counter: 0,
        mode: Mode::Idle,
        parked: [None, None],
        answered: 0,
    };
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut server);
    }
}
