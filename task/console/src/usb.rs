//! The USB commands (feature `usb`; doc/usb-host.md 6.9):
//!
//! | command | asks | answers |
//! |---|---|---|
//! | `usb` | usb-core `devices`, `interface_plan` | the device tree: each device under the hub it is behind, with its port path (`1` the root port, `1.3` port 3 of the hub on it) and its id (the core's incarnation, the device slot and its generation: new at every enumeration), each interface and the task (and its generation) bound to it |
//! | `usb power [on]` | usb-hcd `power_status`, `power_on` | the root port's VBUS after over-currents; `on` powers a cut-off port again |
//! | `overcurrent on\|off` | usb-sim `over_current` (feature `usb-sim`) | an over-current load on the simulated root port |
//! | `plug NAME`, `unplug NAME` | usb-sim (feature `usb-sim`) | the simulated device on the root port, or in its hub port |
//! | `press KEY` | usb-sim `press` (feature `usb-sim`) | a key (a letter or a digit) pressed on the simulated keyboard |
//! | `disk read LBA [N]` | usb-msc `disk`, `read` | a hex dump of N (default 1, at most [`MAX_BLOCKS`]) blocks |
//! | `disk write LBA PATTERN` | usb-msc `disk`, `write` | block LBA filled with the hex bytes of PATTERN |
//! | `keys` | usb-hid `events` | the key and mouse events usb-hid still keeps |
//! | `serial [TEXT]` | usb-cdc `open`, `write`, `read` | a loopback check (`serial.rs`) |
//!
//! The console is less important than every USB task, so it may call them (a task SENDs only
//! to more important tasks). Each command takes the server's current incarnation first
//! (`sys_refresh_incarnation`), so a restarted server is simply asked again; a detached
//! (unloaded) one answers at once, and the command says so. Every refusal is a line naming
//! the command and the value at fault, never a fault of the console.

use core::fmt::Write;
use core::str::SplitWhitespace;

use idol_runtime::CallError;
use idol_runtime::zerocopy::FromZeros;
use usb_core_api::wire::plan;
use usb_core_api::{DeviceRecord, Driver, InterfaceRecord, UsbCoreClient};
use usb_hcd_api::power::power_state;
use usb_hcd_api::{PowerStatus, UsbHcdClient};
use usb_hid_api::{HidRecord, UsbHidClient, kind};
use usb_host_api::Speed;
use usb_msc_api::{DiskError, DiskInfo, UsbMscClient};
#[cfg(feature = "usb-sim")]
use usb_sim_api::{SimError, UsbSimClient};
use userlib::{sys_refresh_incarnation, task_slot};

use crate::Out;

include!(concat!(env!("OUT_DIR"), "/usb_drivers.rs"));

#[cfg(feature = "usb-sim")]
task_slot!(USB_SIM, "usb-sim");
task_slot!(USB_CORE, "usb-core");
task_slot!(USB_HCD, "usb-hcd");
task_slot!(USB_MSC, "usb-msc");
task_slot!(USB_HID, "usb-hid");

/// Blocks one `disk read` dumps: each is a call to usb-msc and a screenful at worst.
const MAX_BLOCKS: u32 = 8;
/// The largest block the console reads onto its stack.
const BLOCK_BUF: usize = 512;
/// The longest `disk write` pattern, in bytes.
const MAX_PATTERN: usize = 16;
/// Bytes per hex dump line.
const DUMP_LINE: usize = 16;
/// Devices one `usb` lists (what usb-core's `devices` returns in one call).
const MAX_DEVICES: usize = 8;
/// Ports in a path: the root port and one per hub tier (USB allows five hubs in a chain).
const MAX_PATH: usize = 6;

#[cfg(feature = "usb-sim")]
pub const HELP_SIM: &str = "  \
    plug NAME      plug a simulated device (flash, keyboard, mouse, serial, hub, ...)\n  \
    unplug NAME    unplug it\n  \
    press KEY      press a key (a-z, 0-9) on the simulated keyboard\n  \
    overcurrent on|off  an over-current load on the simulated root port\n";

pub const HELP: &str = "  \
    usb            USB device tree: port path, address, speed, VID:PID, what each interface is bound to\n  \
    usb power [on] the root port's power after over-currents; on: power a cut-off port again\n  \
    disk read LBA [N]       hex dump of N blocks from LBA (* = as the line above)\n  \
    disk write LBA PATTERN  fill block LBA with the hex bytes of PATTERN (e.g. ab)\n  \
    keys           the key and mouse events usb-hid keeps\n";

/// Runs a USB command; `args` are the words after `command`.
pub fn run(out: &mut Out<'_>, command: &str, mut args: SplitWhitespace<'_>) {
    match command {
        "usb" => match (args.next(), args.next()) {
            (None, _) => devices(out),
            (Some("power"), None) => power(out),
            (Some("power"), Some("on")) => power_on(out),
            (Some(word), _) => {
                let _ = writeln!(
                    out,
                    "usb: unknown \"{word}\"; usb, usb power or usb power on"
                );
            }
        },
        #[cfg(feature = "usb-sim")]
        "overcurrent" => match args.next() {
            Some(word @ ("on" | "off")) => {
                let on = word == "on";
                match UsbSimClient::new(sys_refresh_incarnation(USB_SIM)).over_current(on) {
                    Ok(()) => {
                        let _ =
                            writeln!(out, "overcurrent: load {}", if on { "on" } else { "off" });
                    }
                    Err(e) => {
                        let _ = writeln!(out, "overcurrent: {}", gone(e, "usb-sim"));
                    }
                }
            }
            _ => {
                let _ = writeln!(out, "overcurrent needs on or off");
            }
        },
        #[cfg(not(feature = "usb-sim"))]
        "overcurrent" => {
            let _ = writeln!(
                out,
                "overcurrent: there is no simulator on this board; the VBUS switch reports real ones"
            );
        }
        #[cfg(not(feature = "usb-sim"))]
        "plug" | "unplug" | "press" => {
            let _ = writeln!(
                out,
                "{command}: there is no simulator on this board; plug a real device into its USB port"
            );
        }
        #[cfg(feature = "usb-sim")]
        "plug" | "unplug" => match args.next() {
            Some(name) => plug(out, command, name),
            None => {
                let _ = writeln!(out, "{command} needs a device name, e.g. {command} flash");
            }
        },
        "disk" => match args.next() {
            Some("read") => disk_read(out, args),
            Some("write") => disk_write(out, args),
            _ => {
                let _ = writeln!(out, "disk needs read LBA [N] or write LBA PATTERN");
            }
        },
        "keys" => keys(out),
        #[cfg(feature = "usb-sim")]
        "press" => match args.next() {
            Some(key) => press(out, key),
            None => {
                let _ = writeln!(out, "press needs a key, e.g. press b");
            }
        },
        _ => unreachable!("shell.rs routes only the commands above here"),
    }
}

/// Why a server did not answer, as the end of a sentence.
pub(crate) fn gone<E>(e: CallError<E>, task: &str) -> impl core::fmt::Display + '_ {
    struct Gone<'a>(bool, &'a str);
    impl core::fmt::Display for Gone<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            if self.0 {
                write!(
                    f,
                    "{} is not running (unloaded, held or restarting)",
                    self.1
                )
            } else {
                write!(
                    f,
                    "{} answered with something this console cannot read",
                    self.1
                )
            }
        }
    }
    Gone(matches!(e, CallError::Gone(_)), task)
}

fn hcd() -> UsbHcdClient {
    UsbHcdClient::new(sys_refresh_incarnation(USB_HCD))
}

/// `usb power`: what over-currents did to VBUS.
#[inline(never)]
fn power(out: &mut Out<'_>) {
    match hcd().power_status() {
        Ok(status) => say_power(out, &status),
        Err(e) => {
            let _ = writeln!(out, "usb power: {}", gone(e, "usb-hcd"));
        }
    }
}

#[inline(never)]
fn power_on(out: &mut Out<'_>) {
    match hcd().power_on() {
        Ok(true) => {
            let _ = writeln!(out, "usb power: VBUS on again, strikes forgotten");
        }
        Ok(false) => {
            let _ = writeln!(out, "usb power: VBUS was already on");
        }
        Err(e) => {
            let _ = writeln!(out, "usb power on: {}", gone(e, "usb-hcd"));
        }
    }
}

fn say_power(out: &mut Out<'_>, s: &PowerStatus) {
    let (strikes, limit, window_s) = (s.strikes, s.limit, { s.window_ms } / 1000);
    let _ = match s.state {
        power_state::ON => writeln!(
            out,
            "usb: VBUS on ({} over-currents since usb-hcd started, {strikes} in the last {window_s} s)",
            { s.total }
        ),
        power_state::RESTING => writeln!(
            out,
            "usb: over-current on the root port: VBUS off, on again in {} ms (strike {strikes} of {limit} in {window_s} s)",
            { s.rest_ms }
        ),
        power_state::CUT_OFF => writeln!(
            out,
            "usb: over-current on the root port {strikes} times in {window_s} s: VBUS stays off and USB is down; remove the fault, then type `usb power on`"
        ),
        other => writeln!(out, "usb: usb-hcd reports an unknown power state {other}"),
    };
}

/// usb-hcd posted `usb-power`: an over-current switched VBUS off.
pub fn power_changed(out: &mut Out<'_>) {
    power(out);
}

#[inline(never)]
fn devices(out: &mut Out<'_>) {
    // The tree says nothing of a port without power: say why first.
    match hcd().power_status() {
        Ok(status) if status.state != power_state::ON => say_power(out, &status),
        Ok(_) => {}
        Err(e) => {
            let _ = writeln!(
                out,
                "usb: {}: VBUS is off (`tasks` says why; `load usb-hcd` after repeated faults)",
                gone(e, "usb-hcd")
            );
        }
    }
    let core = UsbCoreClient::new(sys_refresh_incarnation(USB_CORE));
    let mut records = [DeviceRecord::new_zeroed(); MAX_DEVICES];
    let n = match core.devices(0, &mut records) {
        Ok(n) => usize::from(n),
        Err(e) => {
            let _ = writeln!(out, "usb: {}", gone(e, "usb-core"));
            return;
        }
    };
    if n == 0 {
        let _ = writeln!(out, "usb: no devices (plug one: plug flash)");
        return;
    }
    let records = &records[..n];
    let mut paths = [PortPath::default(); MAX_DEVICES];
    for (path, device) in paths.iter_mut().zip(records) {
        *path = PortPath::of(device, records);
    }
    // Depth first: each hub directly above the devices in its ports, in port order.
    let mut order: [usize; MAX_DEVICES] = core::array::from_fn(|i| i);
    let order = &mut order[..n];
    order.sort_unstable_by_key(|&i| paths[i]);
    for &i in order.iter() {
        device_lines(out, &core, &records[i], &paths[i]);
    }
}

/// Where a device sits: the root port (1), then its port on each hub down to it.
#[derive(Copy, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
struct PortPath {
    ports: [u8; MAX_PATH],
    len: usize,
}

impl PortPath {
    /// Follows `device`'s hubs up to the root port through `records`; a hub missing from
    /// them (unplugged between the core's answers) ends the path with port 0, shown `?`.
    fn of(device: &DeviceRecord, records: &[DeviceRecord]) -> PortPath {
        let mut reversed = [0u8; MAX_PATH];
        let mut len = 0;
        let mut at = Some(device);
        while let Some(d) = at
            && len < MAX_PATH
        {
            if d.tier == 0 {
                reversed[len] = 1;
                len += 1;
                break;
            }
            reversed[len] = d.port;
            len += 1;
            at = records.iter().find(|r| r.address == d.parent_address);
            if at.is_none() && len < MAX_PATH {
                reversed[len] = 0;
                len += 1;
            }
        }
        let mut path = PortPath {
            ports: [0; MAX_PATH],
            len,
        };
        for (to, from) in path.ports.iter_mut().zip(reversed[..len].iter().rev()) {
            *to = *from;
        }
        path
    }
}

impl core::fmt::Display for PortPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, port) in self.ports[..self.len].iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            match port {
                0 => f.write_str("?")?,
                port => write!(f, "{port}")?,
            }
        }
        Ok(())
    }
}

/// A device's line, indented by its depth, and a line per interface under it.
fn device_lines(out: &mut Out<'_>, core: &UsbCoreClient, device: &DeviceRecord, path: &PortPath) {
    let depth = path.len.saturating_sub(1);
    let speed = match usb_hcd_api::wire::speed(device.speed) {
        Some(Speed::Low) => "low",
        Some(Speed::Full) => "full",
        Some(Speed::High) => "high",
        None => "unknown",
    };
    let (vid, pid) = (device.vendor_id, device.product_id);
    let handle = device.handle;
    let (epoch, slot, generation) = (handle.epoch, handle.slot, handle.generation);
    let _ = write!(
        out,
        "{:indent$}port {path}  address {:<3} {speed:<4} speed  {vid:04x}:{pid:04x}  id {epoch}.{slot}.{generation}",
        "",
        device.address,
        indent = 2 * depth
    );
    if device.quarantined != 0 {
        let _ = out.write_str("  QUARANTINED (its driver failed too often)");
    }
    let _ = out.write_str("\n");
    let mut plans = [InterfaceRecord::new_zeroed(); 8];
    let indent = 2 * depth + 2;
    match core.interface_plan(device.handle, &mut plans) {
        Ok(count) => {
            for iface in &plans[..usize::from(count)] {
                let _ = write!(out, "{:indent$}", "");
                interface(out, iface);
            }
        }
        // Unplugged between the two calls.
        Err(CallError::Op(_)) => {
            let _ = writeln!(out, "{:indent$}(gone while being listed)", "");
        }
        Err(e) => {
            let _ = writeln!(out, "{:indent$}{}", "", gone(e, "usb-core"));
        }
    }
}

fn interface(out: &mut Out<'_>, iface: &InterfaceRecord) {
    let _ = write!(out, "interface {}: ", iface.interface);
    let _ = match iface.plan {
        plan::DRIVER => match USB_DRIVERS.iter().find(|(code, ..)| *code == iface.driver) {
            // The kernel's generation of the task, as humility's `tasks` shows it.
            Some((_, kind, Some(task))) if iface.driver_seen != 0 => {
                let generation = iface.driver_incarnation;
                writeln!(out, "{kind}, bound to {task} (generation {generation})")
            }
            Some((_, kind, Some(task))) => {
                writeln!(
                    out,
                    "{kind}, bound to {task} (which has not said hello yet)"
                )
            }
            Some((_, kind, None)) => writeln!(out, "{kind}, but no task serves {kind} here"),
            None => writeln!(
                out,
                "driver kind {} (unknown to this console)",
                iface.driver
            ),
        },
        plan::NO_DRIVER => writeln!(
            out,
            "class {:02x}/{:02x}/{:02x}, no driver in this image",
            iface.class, iface.subclass, iface.protocol
        ),
        plan::UNUSABLE => {
            let offset = iface.fault_offset;
            writeln!(
                out,
                "unusable (malformed descriptor at offset {offset} of its configuration)"
            )
        }
        other => writeln!(out, "plan {other} (unknown to this console)"),
    };
}

#[cfg(feature = "usb-sim")]
#[inline(never)]
fn plug(out: &mut Out<'_>, command: &str, name: &str) {
    let sim = UsbSimClient::new(sys_refresh_incarnation(USB_SIM));
    let result = if command == "plug" {
        sim.plug(name.as_bytes())
    } else {
        sim.unplug(name.as_bytes())
    };
    let _ = match result {
        Ok(()) if command == "plug" => writeln!(out, "plug: {name} is plugged in"),
        Ok(()) => writeln!(out, "unplug: {name} is unplugged"),
        Err(CallError::Op(SimError::UnknownDevice)) => {
            writeln!(out, "{command}: no simulated device named \"{name}\"")
        }
        Err(CallError::Op(SimError::NotPlugged)) => {
            writeln!(
                out,
                "{command}: \"{name}\" is neither the device on the root port nor in a port of the hub on it"
            )
        }
        Err(e) => writeln!(out, "{command}: {}", gone(e, "usb-sim")),
    };
}

#[cfg(feature = "usb-sim")]
#[inline(never)]
fn press(out: &mut Out<'_>, key: &str) {
    let Some(usage) = key_usage(key) else {
        let _ = writeln!(out, "press: key \"{key}\" is not one letter or digit");
        return;
    };
    let sim = UsbSimClient::new(sys_refresh_incarnation(USB_SIM));
    let _ = match sim.press(usage) {
        Ok(()) => writeln!(out, "press: {key} pressed (usage {usage:02x}); see `keys`"),
        // `NoKeys` is the only refusal of `press`.
        Err(CallError::Op(_)) => writeln!(out, "press: no keyboard is plugged in"),
        Err(e) => writeln!(out, "press: {}", gone(e, "usb-sim")),
    };
}

/// A number typed on the command line, or a line saying which one is not.
fn number(out: &mut Out<'_>, what: &str, text: Option<&str>) -> Option<u32> {
    let Some(text) = text else {
        let _ = writeln!(out, "{what} is missing");
        return None;
    };
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse(),
    };
    match parsed {
        Ok(n) => Some(n),
        Err(_) => {
            let _ = writeln!(out, "{what} \"{text}\" is not a number");
            None
        }
    }
}

/// The first disk of usb-msc, checked against `lba .. lba + count` and the console's buffer.
fn disk(
    out: &mut Out<'_>,
    command: &str,
    lba: u32,
    count: u32,
) -> Option<(UsbMscClient, DiskInfo)> {
    let msc = UsbMscClient::new(sys_refresh_incarnation(USB_MSC));
    let info = match msc.disk(0) {
        Ok(info) => info,
        Err(CallError::Op(DiskError::NoDisk)) => {
            let _ = writeln!(
                out,
                "{command}: usb-msc serves no disk (plug flash, then check `usb`)"
            );
            return None;
        }
        Err(CallError::Op(e)) => {
            let _ = writeln!(out, "{command}: usb-msc: {}", disk_error(e));
            return None;
        }
        Err(e) => {
            let _ = writeln!(out, "{command}: {}", gone(e, "usb-msc"));
            return None;
        }
    };
    let (blocks, block_len) = (info.blocks, info.block_len);
    if lba >= blocks {
        let _ = writeln!(
            out,
            "{command}: LBA {lba} is past the end ({blocks} blocks)"
        );
        return None;
    }
    if count > blocks - lba {
        let _ = writeln!(
            out,
            "{command}: {count} blocks from LBA {lba} run past the end ({blocks} blocks)"
        );
        return None;
    }
    if block_len as usize > BLOCK_BUF || block_len == 0 {
        let _ = writeln!(
            out,
            "{command}: blocks of {block_len} bytes do not fit the console's {BLOCK_BUF}-byte buffer"
        );
        return None;
    }
    Some((msc, info))
}

fn disk_error(e: DiskError) -> &'static str {
    match e {
        DiskError::Stale => "the disk went away (unplugged or usb-msc restarted); try again",
        DiskError::NoDisk => "no disk",
        DiskError::OutOfRange => "blocks past the end",
        DiskError::BadLength => "not a whole number of blocks",
        DiskError::Medium => "the device reported a failed command",
        DiskError::Transport => "the transport broke (the next command resets it)",
        DiskError::Timeout => "the device did not answer in time",
        DiskError::Disconnected => "the device went away mid-command",
        DiskError::NotReady => "the device never became ready",
    }
}

#[inline(never)]
fn disk_read(out: &mut Out<'_>, mut args: SplitWhitespace<'_>) {
    const COMMAND: &str = "disk read";
    let Some(lba) = number(out, "disk read: LBA", args.next()) else {
        return;
    };
    let count = match args.next() {
        None => 1,
        Some(text) => match number(out, "disk read: N", Some(text)) {
            Some(n @ 1..=MAX_BLOCKS) => n,
            Some(n) => {
                let _ = writeln!(out, "disk read: N {n} is not 1 to {MAX_BLOCKS} blocks");
                return;
            }
            None => return,
        },
    };
    let Some((msc, info)) = disk(out, COMMAND, lba, count) else {
        return;
    };
    let mut block = [0u8; BLOCK_BUF];
    let block = &mut block[..info.block_len as usize];
    for at in lba..lba + count {
        match msc.read(info.handle, at, block) {
            Ok(()) => {
                let _ = writeln!(out, "block {at}:");
                hex_dump(out, block);
            }
            Err(CallError::Op(e)) => {
                let _ = writeln!(out, "{COMMAND}: LBA {at}: usb-msc: {}", disk_error(e));
                return;
            }
            Err(e) => {
                let _ = writeln!(out, "{COMMAND}: LBA {at}: {}", gone(e, "usb-msc"));
                return;
            }
        }
    }
}

/// `offset  xx xx ...` lines of [`DUMP_LINE`] bytes; a run of lines equal to the one above is
/// one `*` line, as hexdump(1) does, so a block of one pattern takes two lines.
fn hex_dump(out: &mut Out<'_>, data: &[u8]) {
    let mut previous: Option<&[u8]> = None;
    let mut starred = false;
    for (i, line) in data.chunks(DUMP_LINE).enumerate() {
        if previous == Some(line) {
            if !starred {
                let _ = out.write_str("  *\n");
                starred = true;
            }
            continue;
        }
        starred = false;
        previous = Some(line);
        let _ = write!(out, "  {:04x} ", i * DUMP_LINE);
        for byte in line {
            let _ = write!(out, " {byte:02x}");
        }
        let _ = out.write_str("\n");
    }
}

#[inline(never)]
fn disk_write(out: &mut Out<'_>, mut args: SplitWhitespace<'_>) {
    const COMMAND: &str = "disk write";
    let Some(lba) = number(out, "disk write: LBA", args.next()) else {
        return;
    };
    let Some(text) = args.next() else {
        let _ = writeln!(out, "disk write: PATTERN is missing (hex bytes, e.g. ab)");
        return;
    };
    let mut pattern = [0u8; MAX_PATTERN];
    let Some(len) = hex_bytes(text, &mut pattern) else {
        let _ = writeln!(
            out,
            "disk write: pattern \"{text}\" is not 1 to {MAX_PATTERN} hex bytes (e.g. ab or 0102)"
        );
        return;
    };
    let Some((msc, info)) = disk(out, COMMAND, lba, 1) else {
        return;
    };
    let mut block = [0u8; BLOCK_BUF];
    let block = &mut block[..info.block_len as usize];
    for (byte, value) in block.iter_mut().zip(pattern[..len].iter().cycle()) {
        *byte = *value;
    }
    let _ = match msc.write(info.handle, lba, block) {
        Ok(()) => writeln!(
            out,
            "disk write: block {lba} filled with {text} ({} bytes)",
            block.len()
        ),
        Err(CallError::Op(e)) => {
            writeln!(out, "{COMMAND}: LBA {lba}: usb-msc: {}", disk_error(e))
        }
        Err(e) => writeln!(out, "{COMMAND}: LBA {lba}: {}", gone(e, "usb-msc")),
    };
}

/// Decodes pairs of hex digits into `into`; the count, or `None` for an odd count, a
/// non-hex digit, nothing, or more than `into` holds.
fn hex_bytes(text: &str, into: &mut [u8]) -> Option<usize> {
    let digits = text.as_bytes();
    if digits.is_empty() || !digits.len().is_multiple_of(2) || digits.len() / 2 > into.len() {
        return None;
    }
    for (byte, pair) in into.iter_mut().zip(digits.chunks(2)) {
        let pair = core::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(digits.len() / 2)
}

#[inline(never)]
fn keys(out: &mut Out<'_>) {
    let hid = UsbHidClient::new(sys_refresh_incarnation(USB_HID));
    let mut after = 0;
    loop {
        let mut records = [HidRecord::new_zeroed(); 16];
        let n = match hid.events(after, &mut records) {
            Ok(n) => usize::from(n),
            Err(e) => {
                let _ = writeln!(out, "keys: {}", gone(e, "usb-hid"));
                return;
            }
        };
        if n == 0 {
            if after == 0 {
                let _ = writeln!(out, "keys: no events since usb-hid started");
            }
            return;
        }
        for record in &records[..n] {
            event(out, record);
        }
        after = records[n - 1].number;
    }
}

fn event(out: &mut Out<'_>, record: &HidRecord) {
    let number = record.number;
    let _ = write!(out, "#{number:<4} ");
    let _ = match record.kind {
        kind::KEY_DOWN | kind::KEY_UP => {
            let what = if record.kind == kind::KEY_DOWN {
                "down"
            } else {
                "up  "
            };
            let _ = write!(out, "key {what} {:02x}", record.code);
            match key_char(record.code) {
                Some(c) => writeln!(out, " ({c})"),
                None => out.write_str("\n"),
            }
        }
        kind::MODIFIERS => writeln!(out, "modifiers {:08b}", record.code),
        kind::MOTION => writeln!(
            out,
            "mouse buttons {:03b} dx {} dy {}",
            record.buttons, record.dx, record.dy
        ),
        other => writeln!(out, "event kind {other} (unknown to this console)"),
    };
}

/// The boot-keyboard usage code of a letter or digit typed as `key`: [`key_char`] backwards.
#[cfg(feature = "usb-sim")]
fn key_usage(key: &str) -> Option<u8> {
    let &[c] = key.as_bytes() else {
        return None;
    };
    (0x04..=0x27).find(|&code| key_char(code) == Some(char::from(c.to_ascii_lowercase())))
}

/// The character of a boot-keyboard usage code for a letter or digit (HID usage tables,
/// keyboard page: 0x04 is `a`, 0x1e is `1`, 0x27 is `0`).
fn key_char(code: u8) -> Option<char> {
    match code {
        0x04..=0x1d => Some(char::from(b'a' + (code - 0x04))),
        0x1e..=0x26 => Some(char::from(b'1' + (code - 0x1e))),
        0x27 => Some('0'),
        _ => None,
    }
}
