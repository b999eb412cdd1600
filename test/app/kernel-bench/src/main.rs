//! Kernel image of the IPC benchmarks (`cargo xtask bench`).
#![no_std]
#![no_main]

kern::app_kernel!();
