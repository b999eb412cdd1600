//! Helpers for the `build.rs` scripts of tasks, drivers and API crates.

pub mod idl;
