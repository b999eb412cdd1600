//! Kernel image of the QEMU idol stub test suite (`cargo xtask test`, see
//! `test/task/idol-test-suite`).
#![no_std]
#![no_main]

kern::app_kernel!();
