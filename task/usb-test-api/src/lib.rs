//! Commands of `task/usb-test-peer`, a second client of `usb-hcd` in the `usb-tests` image
//! (so tests can own a pipe from another task, and leave a client blocked in a transfer).
//!
//! Each command is a raw SEND whose operation code is the command. `CONTROL_IN` is answered
//! at once and then carried out, so the suite is free while the peer is blocked in the
//! driver; `RESULT` reports how the last one ended.
#![no_std]

/// `CONTROL_IN`: message = pipe handle (u32 LE), timeout in ms (u32 LE). The peer reads the
/// 18-byte device descriptor through that pipe.
pub const CONTROL_IN: u16 = 1;
/// `RESULT`: reply = done (u32 LE: 1 once the last command ended), code (u32 LE: 0 for
/// data, an `HcdError` code, or [`DEAD`]).
pub const RESULT: u16 = 2;
/// The driver died or was restarted during the call.
pub const DEAD: u32 = u32::MAX;
/// The driver's reply did not decode.
pub const BAD_REPLY: u32 = u32::MAX - 1;
