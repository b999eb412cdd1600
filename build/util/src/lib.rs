//! Helpers for the `build.rs` scripts of tasks, drivers and API crates.
//!
//! - [`idl`]: Idol client and server stubs;
//! - [`app`]: the app's tasks from `app.toml` (`BULKHEAD_APP_TOML`);
//! - [`supervisor`]: the supervisor's policy table generated from them;
//! - [`usb`]: the USB core's table of class-driver tasks;
//! - [`usb_sim`]: which simulated USB devices `usb-sim` has plugged at start.

pub mod app;
pub mod idl;
pub mod supervisor;
pub mod usb;
pub mod usb_sim;
