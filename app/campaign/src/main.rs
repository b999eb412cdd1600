//! Kernel image of the fault-injection campaign (`cargo xtask campaign`): the kernel is built
//! with feature `fault-inject`, which the builder allows only for QEMU images with a
//! `[kernel.fault-inject]` plan.
#![no_std]
#![no_main]

kern::app_kernel!();
