//! Builds the generated `transfer` server (the snapshot, which `snapshots.rs` keeps equal to
//! the generator's output) against `idol-runtime` with a server that keeps reply tokens
//! across calls, as a driver with one pending transfer per pipe does, so a generator or
//! runtime change that breaks deferred replies fails to compile here.

use core::convert::Infallible;

use idol_runtime::{ReplyToken, RequestError};

idol_runtime::error_enum! {
    /// `read`'s error, as an API crate would define it.
    pub enum TransferError {
        /// A transfer is already pending on this pipe.
        Busy = 1,
    }
}

mod server {
    use super::TransferError;
    include!("snapshots/transfer_server.rs");
}

use server::{InOrderTransferImpl, TransferReadLeases};

type ReadToken = ReplyToken<u32, TransferError, TransferReadLeases>;

/// One pending read per pipe, and callers waiting for all of them to finish.
#[derive(Default)]
struct Pipes {
    pending: [Option<ReadToken>; 2],
    idle_waiter: Option<ReplyToken<(), Infallible>>,
}

impl Pipes {
    /// The transfer on `pipe` completed with `data`: copy it into the caller's buffer,
    /// through the token, and answer.
    fn complete(&mut self, pipe: usize, data: &[u8]) {
        let Some(token) = self.pending.get_mut(pipe).and_then(Option::take) else {
            return;
        };
        let buf = &token.leases().buf;
        let n = data.len().min(buf.len());
        match buf.write_range(0, &data[..n]) {
            Ok(()) => token.reply(n as u32),
            Err(error) => token.answer(Err(error.into())),
        }
        if self.pending_count() == 0
            && let Some(waiter) = self.idle_waiter.take()
        {
            waiter.reply(());
        }
    }

    fn pending_count(&self) -> u32 {
        self.pending.iter().filter(|p| p.is_some()).count() as u32
    }
}

impl InOrderTransferImpl for Pipes {
    fn read(&mut self, _msg: &idol_runtime::userlib::RecvMessage, pipe: u8, reply: ReadToken) {
        match self.pending.get_mut(usize::from(pipe)) {
            Some(slot @ None) => *slot = Some(reply),
            _ => reply.reply_err(TransferError::Busy),
        }
    }

    fn wait_idle(
        &mut self,
        _msg: &idol_runtime::userlib::RecvMessage,
        reply: ReplyToken<(), Infallible>,
    ) {
        if self.pending_count() == 0 {
            reply.reply(());
        } else {
            self.idle_waiter = Some(reply);
        }
    }

    fn queued(
        &mut self,
        _msg: &idol_runtime::userlib::RecvMessage,
    ) -> Result<u32, RequestError<Infallible>> {
        Ok(self.pending_count())
    }
}

#[test]
fn server_keeping_tokens_instantiates_dispatch() {
    let dispatch: fn(&mut [u8; server::INCOMING_SIZE], &mut Pipes) = server::dispatch;
    let complete: fn(&mut Pipes, usize, &[u8]) = Pipes::complete;
    let _ = (dispatch, complete);
    assert_eq!(
        server::INCOMING_SIZE,
        1,
        "the largest argument struct is read's u8"
    );
}
