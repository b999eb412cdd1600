//! Kernel image of the fault campaign's supervisor run: the campaign kernel, whose plan
//! admits jefe as a target (`supervisor-run = true`), so every fault caught in jefe shows
//! the `on-supervisor-fault` policy at work (doc/fault-campaign.md 6).
#![no_std]
#![no_main]

kern::app_kernel!(board_init = install_plan);

fn install_plan() {
    kern::inject::install(&BULKHEAD_FAULT_PLAN);
}
