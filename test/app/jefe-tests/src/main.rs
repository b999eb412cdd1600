//! Kernel image of the supervisor's QEMU scenarios (`cargo xtask test jefe`).
#![no_std]
#![no_main]

kern::app_kernel!();
