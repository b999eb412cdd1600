//! Kernel image of the QEMU USB task tests (`cargo xtask test`, see `test/task/usb-test-suite`).
#![no_std]
#![no_main]

kern::app_kernel!();
