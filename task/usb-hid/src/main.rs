//! The USB HID class-driver task (doc/usb-host.md 3.1, 6.1-6.4): one
//! `usb_class_hid::BootHid` per bound boot keyboard or mouse, each driven through an
//! `usb_core_api::IpcClassPort`, polled every `POLL_MS`; events go to a numbered
//! `usb_hid_api::EventLog`, and every subscriber (app.toml) gets its `hid` notification.
//!
//! | Event | What the task does |
//! |---|---|
//! | start (first or after a restart) | `hello` to the core; a restart makes the core rebind with `resync` |
//! | `usb` notification | pull events: `Bound` -> `BootHid::attach` (SET_IDLE and SET_PROTOCOL again: the resync), `ready`; `Unbound` -> forget it |
//! | timer | poll each device's interrupt IN pipe for at most `POLL_TIMEOUT_MS`; log events, notify subscribers |
//!
//! Built `watched`, it checks in with the supervisor at every timer tick (app.toml's
//! `watchdog-ms`).
//!
//! Polling is a blocking transfer per device per tick, so a call from an application waits
//! for at most one tick of polls; with asynchronous submit on `usb-hcd` the pipes could stay
//! armed instead.
#![no_std]
#![no_main]

use counters::Count;
use idol_runtime::{Leased, RequestError, Write};
use ringbuf::{counted_ringbuf, ringbuf_entry};
use usb_class_hid::{BootHid, HidError, HidEvent, HidKind, MAX_EVENTS_PER_REPORT};
use usb_core_api::driver::{self, Bindings, Change};
use usb_core_api::{IpcClassPort, UsbCoreClient};
use usb_hcd_api::UsbHcdClient;
use usb_hid_api::{EventLog, HidRecord};
use userlib::{
    Generation, RecvMessage, TaskId, sys_get_timer, sys_post, sys_refresh_incarnation,
    sys_set_timer, task_slot,
};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));
include!(concat!(env!("OUT_DIR"), "/subscribers.rs"));

task_slot!(USB_CORE, "usb-core");
task_slot!(USB_HCD, "usb-hcd");

/// Notification bits: app.toml `notifications = ["usb", "timer"]`.
const USB_BIT: u32 = 1 << 0;
const TIMER_BIT: u32 = 1 << 1;
const MAX_DEVICES: usize = 2;
const POLL_MS: u64 = 10;
/// Two intervals of a low-speed keyboard's endpoint (bInterval 10). A poll whose timeout
/// expires while the device hands over its report loses that report (the channel is halted
/// and the transfer ends `Timeout`): with 1 ms the keyboard tests missed their key press in
/// about half the runs, and more often with several QEMUs loading the host.
const POLL_TIMEOUT_MS: u32 = 20;

#[derive(Copy, Clone, PartialEq, Count)]
enum Trace {
    None,
    /// This incarnation began (its hello to the core is `Binding(Change::Hello)`).
    Started,
    Binding(Change<HidError>),
    PollFailed {
        slot: u8,
        error: HidError,
    },
    Event(HidEvent),
}

counted_ringbuf!(Trace, 32, Trace::None);

struct Server {
    core: UsbCoreClient,
    hcd: UsbHcdClient,
    devices: Bindings<BootHid, MAX_DEVICES>,
    log: EventLog,
}

impl Server {
    fn pull_events(&mut self) {
        self.devices.pull_events(
            &self.core,
            &self.hcd,
            TIMER_BIT,
            |port, config, interface| BootHid::attach(port, config, interface),
            |change| ringbuf_entry!(Trace::Binding(change)),
        );
    }

    fn poll(&mut self) {
        let before = self.log.newest();
        for device in self.devices.iter_mut() {
            // Field by field: the port borrows the summary while the state is polled.
            let mut port = IpcClassPort::new(
                &self.core,
                &self.hcd,
                device.binding,
                &device.summary,
                TIMER_BIT,
            );
            let mut events = [HidEvent::KeyUp(0); MAX_EVENTS_PER_REPORT];
            match device.state.poll(&mut port, POLL_TIMEOUT_MS, &mut events) {
                Ok(n) => {
                    for event in &events[..n] {
                        ringbuf_entry!(Trace::Event(*event));
                        self.log.push(*event);
                    }
                }
                // An unplug or rebind arrives as an event; until then the device is skipped.
                Err(error) => ringbuf_entry!(Trace::PollFailed {
                    slot: device.binding.slot,
                    error
                }),
            }
        }
        if self.log.newest() != before {
            for &(index, bit) in SUBSCRIBERS {
                let task = sys_refresh_incarnation(TaskId::for_index_and_gen(index, Generation(0)));
                let _ = sys_post(task, bit);
            }
        }
    }
}

impl InOrderUsbHidImpl for Server {
    fn events(
        &mut self,
        _: &RecvMessage,
        after: u32,
        out: Leased<Write, [HidRecord]>,
    ) -> Result<u16, RequestError<core::convert::Infallible>> {
        let mut records = [HidRecord::new(0, HidEvent::KeyUp(0)); 16];
        let room = out.len().min(records.len());
        let n = self.log.copy_after(after, &mut records[..room]);
        out.write_range(0, &records[..n])?;
        // At most 16.
        Ok(n as u16)
    }

    fn set_leds(
        &mut self,
        _: &RecvMessage,
        leds: u8,
    ) -> Result<u8, RequestError<core::convert::Infallible>> {
        let mut took = 0;
        for device in self.devices.iter() {
            if device.state.kind == HidKind::Keyboard {
                let mut port = device.port(&self.core, &self.hcd, TIMER_BIT);
                if device.state.set_leds(&mut port, leds).is_ok() {
                    took += 1;
                }
            }
        }
        Ok(took)
    }

    fn notification_mask(&self) -> u32 {
        USB_BIT | TIMER_BIT
    }

    fn handle_notification(&mut self, bits: u32) {
        if bits & USB_BIT != 0 || self.devices.needs_hello() {
            self.pull_events();
        }
        if bits & TIMER_BIT != 0 {
            // While it spins, a driver that serves nobody starves every task below it and
            // no reply deadline sees it; the watchdog does.
            #[cfg(feature = "watched")]
            userlib::check_in();
            self.poll();
            sys_set_timer(Some(sys_get_timer().now + POLL_MS), TIMER_BIT);
        }
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let (core, hcd) = driver::start(USB_CORE, USB_HCD);
    let mut server = Server {
        core,
        hcd,
        devices: Bindings::new(),
        log: EventLog::new(),
    };
    ringbuf_entry!(Trace::Started);
    server.pull_events();
    sys_set_timer(Some(sys_get_timer().now + POLL_MS), TIMER_BIT);
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut server);
    }
}
