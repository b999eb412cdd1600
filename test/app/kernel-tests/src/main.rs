//! Kernel image of the QEMU kernel test suite (`cargo xtask test`).
#![no_std]
#![no_main]

kern::app_kernel!();
