//! Client of the demo `pong` server (`idl/ping.idol`): `PingClient`, and `PingError`, which
//! `pong` answers with too.
#![no_std]

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));

idol_runtime::error_enum! {
    /// Why `echo` refused.
    pub enum PingError {
        /// `src` is longer than `dst`.
        TooLong = 1,
    }
}
