//! Kernel image of the default app, `qemu-m7` (QEMU `mps2-an500`). The tables come from
//! `app.toml` through `cargo xtask dist`.
#![no_std]
#![no_main]

kern::app_kernel!();
