//! Kernel image of the fault-injection campaign (`cargo xtask campaign`): the kernel is built
//! with feature `fault-inject`, which the builder allows only for QEMU images with a
//! `[kernel.fault-inject]` plan, and installs that plan before it starts.
#![no_std]
#![no_main]

kern::app_kernel!(board_init = install_plan);

fn install_plan() {
    kern::inject::install(&BULKHEAD_FAULT_PLAN);
}
