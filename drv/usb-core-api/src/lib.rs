//! Client of the USB core, `task/usb-core` (`idl/usb-core.idol`, doc/usb-host.md 6.2).
//!
//! What it is: the generated [`UsbCoreClient`]; the wire forms the interface carries
//! ([`wire`]: handles with generations, binding events, binding summaries with the pipes
//! the core opened for the caller, device and interface records); and [`IpcClassPort`],
//! `usb_host_api::ClassPort` for one binding over IPC, so the `usb-class-*` crates run
//! unchanged in a class-driver task.
//!
//! Who talks to whom: a class-driver task says `hello` when it starts, pulls its binding
//! events with `next_event` after the core's notification, reads each binding with
//! `binding_info`, and then sends EP0 requests to `usb-core` (which applies the EP0 policy)
//! and data transfers straight to `usb-hcd` on its own pipes. The console and tests read
//! the tree with `devices` and `interface_plan`. [`driver`] holds what every class-driver
//! task does with the core.
#![no_std]

pub mod driver;
mod port;
pub mod wire;

pub use port::IpcClassPort;
pub use wire::{
    BindingHandle, BindingSummary, DeviceHandle, DeviceRecord, Driver, EventKind, EventRecord,
    InterfaceRecord, PipeRecord, UsbCoreError,
};

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
