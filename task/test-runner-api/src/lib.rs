//! Client of the kernel test images' supervisor: `TestRunnerClient`.
#![no_std]

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
