//! The USB fault campaign's workloads and their oracles (`test/app/campaign-usb`,
//! `doc/fault-campaign.md`), one after the other in a loop with a 1 ms sleep:
//!
//! | Workload | Through | Oracle | Module |
//! |---|---|---|---|
//! | numbered blocks written to the flash drive and read back | `usb-msc` | the last acknowledged write | [`disk`] |
//! | the sequence keyboard's keys | `usb-hid` | its n-th press names n | [`keys`] |
//! | numbered, checksummed chunks through the loopback serial adapter | `usb-cdc` | the bytes written since the last resynchronisation | [`serial`] |
//!
//! Each prints what it finds on the console for the campaign runner, one line each:
//! `campaign: corrupt WHAT round R tick T` (a wrong answer reported as success),
//! `campaign: lost WHAT N since T0 tick T` (N keys or bytes that never arrived, though no
//! call failed, between ticks T0 and T), and counts of what its oracle checked. Whether a
//! corruption or a loss is a failure is the runner's call: it knows which faults were in
//! flight.
//!
//! A call that fails is what a restart looks like from here: each workload asks for its
//! device again and goes on. A device the core quarantined (its driver faulted on it three
//! times) stays unserved; after [`REPLUG_MS`] without it the workload unplugs and replugs it
//! through `usb-sim`, as a user would, which gives it a clean slate.
//!
//! One task runs the three, so a driver that holds a call holds them all: the kernel counts
//! this task's received replies as the workload's progress, and a hang of any driver is a
//! hang of the campaign. This task is never a target.
#![no_std]
#![no_main]

mod disk;
mod keys;
mod serial;

use drv_cmsdk_uart::Uart;
use usb_sim_api::UsbSimClient;
use userlib::{sleep_for, sys_get_timer, task_slot};

task_slot!(USB_MSC, "usb-msc");
task_slot!(USB_HID, "usb-hid");
task_slot!(USB_CDC, "usb-cdc");
task_slot!(USB_SIM, "usb-sim");

const UART0: usize = 0x4000_4000;
const CLOCK_HZ: u32 = 25_000_000;
/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
/// How long without its device before a workload replugs it.
const REPLUG_MS: u64 = 300;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart0 to this task only.
    let uart = unsafe { Uart::new(UART0) };
    uart.enable(CLOCK_HZ, 115_200);
    uart.write_bytes(b"campaign: usb workload running\n");
    let sim = UsbSimClient::new(USB_SIM);
    let console = Console { uart: &uart };
    let mut disk = disk::Disk::new();
    let mut keys = keys::Keys::new();
    let mut serial = serial::Serial::new();
    loop {
        sleep_for(1, TIMER);
        disk.step(&console, &sim);
        keys.step(&console, &sim);
        serial.step(&console, &sim);
    }
}

/// The console lines the runner reads.
pub struct Console<'a> {
    uart: &'a Uart,
}

impl Console<'_> {
    /// `campaign: {what}{round} tick {now}`.
    fn report(&self, what: &[u8], round: u64) {
        self.uart.write_bytes(what);
        self.uart.write_bytes(&decimal(round));
        self.uart.write_bytes(b" tick ");
        self.uart.write_bytes(&decimal(sys_get_timer().now));
        self.uart.write_bytes(b"\n");
    }

    /// `campaign: lost {what} {n} since {since} tick {now}`.
    fn lost(&self, what: &[u8], n: u64, since: u64) {
        self.uart.write_bytes(b"campaign: lost ");
        self.uart.write_bytes(what);
        self.uart.write_bytes(b" ");
        self.uart.write_bytes(&decimal(n));
        self.uart.write_bytes(b" since ");
        self.uart.write_bytes(&decimal(since));
        self.uart.write_bytes(b" tick ");
        self.uart.write_bytes(&decimal(sys_get_timer().now));
        self.uart.write_bytes(b"\n");
    }

    /// `{what}{n}` when `n`, grown from `before`, passed a multiple of `every`: the runner
    /// keeps the last count of each, so it knows what the oracle actually checked.
    fn count(&self, what: &[u8], every: u64, before: u64, n: u64) {
        if before / every != n / every {
            self.uart.write_bytes(what);
            self.uart.write_bytes(&decimal(n));
            self.uart.write_bytes(b"\n");
        }
    }
}

/// Unplugs and replugs `name` (a device in a hub port) once it has been missing for
/// [`REPLUG_MS`] since `*since`, which it then restarts.
fn replug_if_missing(sim: &UsbSimClient, name: &[u8], since: &mut u64) {
    let now = sys_get_timer().now;
    if now - *since >= REPLUG_MS {
        let _ = sim.unplug(name);
        let _ = sim.plug(name);
        *since = now;
    }
}

/// `v` in decimal, 20 digits with leading zeros.
fn decimal(mut v: u64) -> [u8; 20] {
    let mut digits = [b'0'; 20];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    digits
}
