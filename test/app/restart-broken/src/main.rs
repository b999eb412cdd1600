//! Kernel image of the broken-driver app (`cargo xtask test restart-test`).
#![no_std]
#![no_main]

kern::app_kernel!();
