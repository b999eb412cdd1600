//! Builds the generated `ping` client and server (the snapshots, which `snapshots.rs` keeps
//! equal to the generator's output) against `idol-runtime`, with an implementation, so a
//! generator change that produces code that does not compile fails here.

use idol_runtime::{Leased, Read, RequestError, Write};

idol_runtime::error_enum! {
    /// `echo`'s error, as an API crate would define it.
    pub enum PingError {
        /// `src` does not fit in `dst`.
        TooLong = 1,
    }
}

// Compiled, not all called: `refresh` is for clients that learn of a restart elsewhere.
#[allow(dead_code)]
mod client {
    use super::PingError;
    include!("snapshots/ping_client.rs");
}

mod server {
    use super::PingError;
    include!("snapshots/ping_server.rs");
}

struct EchoServer;

impl server::InOrderPingImpl for EchoServer {
    fn ping(
        &mut self,
        _msg: &idol_runtime::userlib::RecvMessage,
        value: u32,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        Ok(value)
    }

    fn echo(
        &mut self,
        _msg: &idol_runtime::userlib::RecvMessage,
        src: Leased<Read, [u8]>,
        dst: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<PingError>> {
        if src.len() > dst.len() {
            return Err(RequestError::Op(PingError::TooLong));
        }
        let mut buffer = [0; 256];
        let bytes = &mut buffer[..src.len()];
        src.read_range(0, bytes)?;
        dst.write_range(0, bytes)?;
        Ok(bytes.len() as u32)
    }
}

#[test]
fn server_dispatch_instantiates_for_an_implementation() {
    let dispatch: fn(&mut [u8; server::INCOMING_SIZE], &mut EchoServer) = server::dispatch;
    let _ = dispatch;
    assert_eq!(
        server::INCOMING_SIZE,
        4,
        "the largest argument struct is ping's u32"
    );
}

#[test]
fn client_and_server_agree_on_the_wire() {
    assert_eq!(
        client::PingOperation::Ping as u16,
        server::PingOperation::Ping as u16
    );
    assert_eq!(
        client::PingOperation::Echo as u16,
        server::PingOperation::Echo as u16
    );
    assert_eq!(
        core::mem::size_of::<client::PingPingArgs>(),
        core::mem::size_of::<server::PingPingArgs>()
    );
}

type Reply<E> = Result<u32, idol_runtime::CallError<E>>;

#[test]
fn client_methods_have_the_declared_signatures() {
    let client = client::PingClient::new(idol_runtime::abi::Incarnation::new(1, 0));
    let ping: fn(&client::PingClient, u32) -> Reply<core::convert::Infallible> =
        client::PingClient::ping;
    let echo: fn(&client::PingClient, &[u8], &mut [u8]) -> Reply<PingError> =
        client::PingClient::echo;
    let _ = (ping, echo);
    assert_eq!(client.task(), idol_runtime::abi::TaskId(1));
}
