//! Client of the console task: `ConsoleClient::write(text)`.
#![no_std]

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
