//! Kernel image of the supervisor benchmarks (`cargo xtask bench`).
#![no_std]
#![no_main]

kern::app_kernel!();
