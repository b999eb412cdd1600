//! Kernel image of the USB benchmarks (`cargo xtask bench`), built with per-task CPU time
//! (kernel feature `task-time`, kipc `read-task-time`).
#![no_std]
#![no_main]

kern::app_kernel!();
