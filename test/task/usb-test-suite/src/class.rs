//! The class-driver half of the `usb-tests` suite: `usb-core`, `usb-msc`, `usb-hid` and
//! `usb-cdc` as tasks over `usb-hcd` and the simulator (doc/usb-host.md 6.3 and 6.4). Each test plugs the
//! device it needs and waits for the driver to bring it up.
//! Every test ends by checking that the model saw no breach of the controller's programming
//! rules, `usb-hid`'s 1 ms polls of a low-speed keyboard included (`dwc2-hcd-core` starts
//! periodic transfers at the start of a frame, so slow register IPC cannot make it enable a
//! channel for a frame that has already begun).
//!
//! | behaviour | test |
//! |---|---|
//! | the flash drive is enumerated, bound to `usb-msc`, and blocks written read back | `flash_drive_binds_to_usb_msc_and_blocks_read_back` |
//! | the tree shows the drive and what its interface became | `usb_core_tree_shows_the_drive_bound_to_usb_msc` |
//! | the keyboard is bound to `usb-hid` and a key pressed on it arrives as events | `keyboard_binds_to_usb_hid_and_its_keys_arrive` |
//! | `usb-msc` restarted: same device, no bus reset, old handle stale, data intact | `usb_msc_restart_keeps_the_device_and_stales_old_handles` |
//! | a driver that dies on every bind: the device is quarantined | `driver_dying_on_every_bind_gets_the_drive_quarantined` |
//! | the serial adapter is bound to `usb-cdc`; bytes loop back; empty writes, short leases, line coding | `serial_adapter_binds_to_usb_cdc_and_loops_back` |
//! | `usb-cdc` restarted: same device, no bus reset, toggles resynced, DTR kept, old handle stale | `usb_cdc_restart_resumes_loopback_without_reenumeration` |
//! | `usb-hid` restarted: same device, no bus reset, events numbered afresh and still arriving | `usb_hid_restart_resumes_key_events_without_reenumeration` |
//! | `usb-hid` detached while its interrupt-IN transfer waits in `usb-hcd`: 2 ms later the keyboard is no longer polled (`client-gone` cancels the transfer and closes the dead incarnation's pipes) | `a_detached_usb_hid_is_no_longer_polled_after_2_ms` |
//! | `usb-msc` restarted while `usb-core` is detached: its hello goes unanswered, and it still answers `disk` at once with `NoDisk`; the core back, the drive is served again (the USB campaign's hang) | `usb_msc_answers_at_once_while_usb_core_is_down` |
//! | `usb-hcd` posts the core on a plug: the drive is served well before the core's slow poll | `plug_is_served_within_notified_bind_ms_through_the_port_notification` |
//! | `usb-core` restarted: bus reset, SET_ADDRESS, new DeviceId, `usb-msc` rebinds under a new handle, the old one stale, data intact | `usb_core_restart_reenumerates_and_rebinds` |
//! | `usb-hcd` restarted under an application's READ: the call ends with a code, the drive comes back with a new DeviceId and handle, reads work | `usb_hcd_restart_mid_read_wakes_msc_and_rebinds` |
//! | `usb-msc` faulted under a whole-disk READ: the call ends with a code, same DeviceId, no bus reset, old handle stale, the whole disk (32 KiB) reads back with the checksum written before and after | `usb_msc_fault_mid_read_keeps_data` |
//! | the same under a whole-disk WRITE: every 64-byte packet is the old or the new data, and a write after reads back | `usb_msc_fault_mid_write_keeps_data` |
//! | 1 MiB written around a requested restart and a fault of `usb-msc` reads back with every numbered block's checksum intact | `usb_msc_restarts_keep_a_mebibyte_intact` |
//! | an unplug closes the pipes the core opened for the class drivers: plug cycles never run `usb-hcd` out of pipes | `unplug_closes_the_class_drivers_pipes` |
//! | every malicious device of the model plugged into the running stack: no task faults, the controller's rules hold, and the drive plugged next is served | `every_malicious_device_is_refused_cleanly_and_faults_no_task` |
//! | while `usb-core` enumerates a device that NAKs every request, it answers every call within 5 ms: enumeration waits for no device | `a_device_that_naks_forever_delays_no_call_to_usb_core` |
//! | an application streams writes and read-backs while `usb-msc` is restarted 200 times and `usb-hcd` 20 times: every call ends with data or a code, no read-back differs from an acknowledged write, no task faults | `restart_under_load_loses_no_block_and_misdelivers_no_reply` |

use super::*;
use core::fmt::Write as _;
use idol_runtime::zerocopy::FromZeros;
use usb_cdc_api::{Coding, PortInfo, SerialError, UsbCdcClient};
use usb_core_api::wire::plan;
use usb_core_api::{DeviceRecord, Driver, InterfaceRecord, UsbCoreClient};
use usb_hid_api::{HidRecord, UsbHidClient, kind};
use usb_msc_api::{DiskError, DiskInfo, UsbMscClient};
use usb_sim_api::{handshake, kind as bus};
use userlib::{
    Incarnation, TextBuf, sleep_for, sys_get_timer, sys_post, sys_recv_notification,
    sys_refresh_incarnation, sys_send, sys_set_timer, task_slot,
};

task_slot!(USB_CORE, "usb-core");
task_slot!(USB_MSC, "usb-msc");
task_slot!(USB_HID, "usb-hid");
task_slot!(USB_CDC, "usb-cdc");

/// Enumeration, binding and bring-up of a freshly plugged device.
const BIND_WITHIN_MS: u64 = 3000;
const POLL_MS: u64 = 20;
/// The simulated flash drive (`usb_model::flash`).
const FLASH_VID_PID: (u16, u16) = (0x1209, 0x0004);
use usb_test_api::{
    BLOCK, CHECKSUM_START, MSC_MAX_BLOCKS, MSC_MESSAGE_LEN, MSC_READ, MSC_WRITE, checksum,
    checksum_more, pattern, pattern_at,
};
const KEY_A: u8 = 0x04;
/// The simulated serial adapter (`usb_model::serial`): full speed, 64-byte bulk packets, a
/// 512-byte loop buffer.
const SERIAL_VID_PID: (u16, u16) = (0x1209, 0x0003);
const SERIAL_PACKET: usize = 64;
/// Standard requests seen on the trace.
const CLEAR_FEATURE: u8 = 1;
/// CDC SET_CONTROL_LINE_STATE; `wValue` bit 0 is DTR, bit 1 RTS.
const SET_CONTROL_LINE_STATE: u8 = 0x22;
const DTR_RTS: u16 = 0b11;
/// Plug to served when `usb-hcd` posts the core: enumeration and bring-up, far below
/// the core's one-second safety poll (`ROOT_POLL_MS` in `task/usb-core`), which alone
/// would take about a second.
const NOTIFIED_BIND_MS: u64 = 400;

/// Restarted before each test, in this order: the controller, then a core with an empty
/// device table, then the drivers, which say hello to it.
pub const FRESH: [Incarnation; 7] = [USB_HCD, PEER, USB_CORE, USB_MSC, USB_HID, USB_CDC, USB_HUB];

pub const TESTS: &[Test] = &[
    (
        "flash_drive_binds_to_usb_msc_and_blocks_read_back",
        flash_drive_binds_to_usb_msc_and_blocks_read_back,
    ),
    (
        "usb_core_tree_shows_the_drive_bound_to_usb_msc",
        usb_core_tree_shows_the_drive_bound_to_usb_msc,
    ),
    (
        "usb_msc_restart_keeps_the_device_and_stales_old_handles",
        usb_msc_restart_keeps_the_device_and_stales_old_handles,
    ),
    (
        "driver_dying_on_every_bind_gets_the_drive_quarantined",
        driver_dying_on_every_bind_gets_the_drive_quarantined,
    ),
    (
        "keyboard_binds_to_usb_hid_and_its_keys_arrive",
        keyboard_binds_to_usb_hid_and_its_keys_arrive,
    ),
    (
        "serial_adapter_binds_to_usb_cdc_and_loops_back",
        serial_adapter_binds_to_usb_cdc_and_loops_back,
    ),
    (
        "usb_cdc_restart_resumes_loopback_without_reenumeration",
        usb_cdc_restart_resumes_loopback_without_reenumeration,
    ),
    (
        "usb_hid_restart_resumes_key_events_without_reenumeration",
        usb_hid_restart_resumes_key_events_without_reenumeration,
    ),
    (
        "a_detached_usb_hid_is_no_longer_polled_after_2_ms",
        a_detached_usb_hid_is_no_longer_polled_after_2_ms,
    ),
    (
        "usb_msc_answers_at_once_while_usb_core_is_down",
        usb_msc_answers_at_once_while_usb_core_is_down,
    ),
    (
        "plug_is_served_within_notified_bind_ms_through_the_port_notification",
        plug_is_served_within_notified_bind_ms_through_the_port_notification,
    ),
    (
        "usb_core_restart_reenumerates_and_rebinds",
        usb_core_restart_reenumerates_and_rebinds,
    ),
    (
        "usb_hcd_restart_mid_read_wakes_msc_and_rebinds",
        usb_hcd_restart_mid_read_wakes_msc_and_rebinds,
    ),
    (
        "usb_msc_fault_mid_read_keeps_data",
        usb_msc_fault_mid_read_keeps_data,
    ),
    (
        "usb_msc_fault_mid_write_keeps_data",
        usb_msc_fault_mid_write_keeps_data,
    ),
    (
        "usb_msc_restarts_keep_a_mebibyte_intact",
        usb_msc_restarts_keep_a_mebibyte_intact,
    ),
    (
        "unplug_closes_the_class_drivers_pipes",
        unplug_closes_the_class_drivers_pipes,
    ),
    (
        "every_malicious_device_is_refused_cleanly_and_faults_no_task",
        every_malicious_device_is_refused_cleanly_and_faults_no_task,
    ),
    (
        "a_device_that_naks_forever_delays_no_call_to_usb_core",
        a_device_that_naks_forever_delays_no_call_to_usb_core,
    ),
    (
        "restart_under_load_loses_no_block_and_misdelivers_no_reply",
        restart_under_load_loses_no_block_and_misdelivers_no_reply,
    ),
];

pub(crate) fn core() -> UsbCoreClient {
    UsbCoreClient::new(sys_refresh_incarnation(USB_CORE))
}

fn msc() -> UsbMscClient {
    UsbMscClient::new(sys_refresh_incarnation(USB_MSC))
}

fn hid() -> UsbHidClient {
    UsbHidClient::new(sys_refresh_incarnation(USB_HID))
}

pub(crate) fn cdc() -> UsbCdcClient {
    UsbCdcClient::new(sys_refresh_incarnation(USB_CDC))
}

/// Polls `probe` every `POLL_MS` until it gives a value or `BIND_WITHIN_MS` passes.
pub(crate) fn within<T>(mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let give_up = sys_get_timer().now + BIND_WITHIN_MS;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if sys_get_timer().now >= give_up {
            return None;
        }
        sleep_for(POLL_MS, TIMER);
    }
}

pub(crate) fn plug(name: &str) -> Outcome {
    sim()
        .plug(name.as_bytes())
        .map_err(|_| "usb-sim: plug failed")
}

/// Plugs the flash drive and waits for `usb-msc` to serve it.
fn flash_disk() -> Result<DiskInfo, &'static str> {
    plug(devices::FLASH)?;
    within(|| msc().disk(0).ok()).ok_or("usb-msc never served the plugged flash drive")
}

/// The live device with `vid_pid`.
pub(crate) fn device(vid_pid: (u16, u16)) -> Result<DeviceRecord, &'static str> {
    let mut records = [DeviceRecord::new_zeroed(); 8];
    let n = core()
        .devices(0, &mut records)
        .map_err(|_| "usb-core: devices failed")?;
    records[..usize::from(n)]
        .iter()
        .find(|d| ({ d.vendor_id }, { d.product_id }) == vid_pid)
        .copied()
        .ok_or("usb-core lists no device with the expected VID:PID")
}

fn write_and_check(disk: DiskInfo, lba: u32, seed: u8) -> Outcome {
    let mut data = [0u8; 8 * BLOCK];
    pattern_at(&mut data, seed, lba as usize);
    msc()
        .write(disk.handle, lba, &data)
        .map_err(|_| "usb-msc: write of 8 blocks failed")?;
    read_back(disk, lba, seed)
}

fn read_back(disk: DiskInfo, lba: u32, seed: u8) -> Outcome {
    let mut expected = [0u8; 8 * BLOCK];
    pattern_at(&mut expected, seed, lba as usize);
    let mut back = [0u8; 8 * BLOCK];
    msc()
        .read(disk.handle, lba, &mut back)
        .map_err(|_| "usb-msc: read of 8 blocks failed")?;
    check!(
        checksum(&back) == checksum(&expected) && back == expected,
        "blocks read back differ from those written"
    );
    Ok(())
}

fn flash_drive_binds_to_usb_msc_and_blocks_read_back() -> Outcome {
    let disk = flash_disk()?;
    check!(
        { disk.block_len } == BLOCK as u32 && { disk.blocks } == 4096,
        "usb-msc reports the wrong capacity for the 4096-block drive"
    );
    write_and_check(disk, 8, 1)?;
    // The last block in, and one past it refused before anything moves.
    let mut last = [0u8; BLOCK];
    msc()
        .read(disk.handle, disk.blocks - 1, &mut last)
        .map_err(|_| "usb-msc: reading the last block failed")?;
    check!(
        msc().read(disk.handle, disk.blocks - 1, &mut [0u8; 2 * BLOCK])
            == Err(CallError::Op(DiskError::OutOfRange)),
        "a read past the last block is not OutOfRange"
    );
    check!(
        msc().read(disk.handle, 0, &mut [0u8; BLOCK - 1])
            == Err(CallError::Op(DiskError::BadLength)),
        "a read of part of a block is not BadLength"
    );
    no_violation()
}

fn usb_core_tree_shows_the_drive_bound_to_usb_msc() -> Outcome {
    flash_disk()?;
    let drive = device(FLASH_VID_PID)?;
    check!(drive.address != 0, "the drive has no address");
    let mut plans = [InterfaceRecord::new_zeroed(); 8];
    let n = core()
        .interface_plan(drive.handle, &mut plans)
        .map_err(|_| "usb-core: interface_plan of a live device failed")?;
    check!(n == 1, "the drive has one interface");
    let iface = plans[0];
    check!(
        iface.plan == plan::DRIVER && iface.driver == Driver::MassStorage as u8,
        "the drive's interface is not bound to mass storage"
    );
    check!(
        iface.driver_seen == 1,
        "usb-msc's incarnation is unknown to the core"
    );
    Ok(())
}

/// Waits until the keyboard is enumerated and its interface bound to `usb-hid`.
pub(crate) fn keyboard_bound_to_usb_hid() -> Outcome {
    within(|| {
        let keyboard = device(KEYBOARD_VID_PID).ok()?;
        let mut plans = [InterfaceRecord::new_zeroed(); 8];
        let n = core().interface_plan(keyboard.handle, &mut plans).ok()?;
        plans[..usize::from(n)]
            .iter()
            .any(|p| p.plan == plan::DRIVER && p.driver == Driver::Hid as u8)
            .then_some(())
    })
    .ok_or("the keyboard was never bound to usb-hid")
}

fn keyboard_binds_to_usb_hid_and_its_keys_arrive() -> Outcome {
    let before = {
        let mut records = [HidRecord::new_zeroed(); 16];
        let n = hid()
            .events(0, &mut records)
            .map_err(|_| "usb-hid: events failed")?;
        records[..usize::from(n)].last().map_or(0, |r| r.number)
    };
    plug(devices::KEYBOARD)?;
    // The model keyboard plays its script once per plug-in life of the simulator, and a
    // usb-hid bound in an earlier test may have polled it already: press A once the
    // keyboard is bound (a press made before then would be lost to the bus reset of its
    // enumeration), so this test does not depend on which test ran before it.
    keyboard_bound_to_usb_hid()?;
    sim().press(KEY_A).map_err(|_| "usb-sim: press failed")?;
    let mut records = [HidRecord::new_zeroed(); 16];
    let n = within(|| {
        let n = hid().events(before, &mut records).ok()?;
        let seen = records[..usize::from(n)]
            .iter()
            .any(|r| r.kind == kind::KEY_UP && r.code == KEY_A);
        seen.then_some(n)
    })
    .ok_or("the keyboard's A press and release never reached usb-hid")?;
    check!(
        records[..usize::from(n)]
            .iter()
            .any(|r| r.kind == kind::KEY_DOWN && r.code == KEY_A),
        "the A press is missing before its release"
    );
    no_violation()
}

fn usb_msc_restart_keeps_the_device_and_stales_old_handles() -> Outcome {
    let disk = flash_disk()?;
    write_and_check(disk, 16, 2)?;
    let drive = device(FLASH_VID_PID)?;
    let resets = stats()?.bus_resets;

    let msc_index = USB_MSC.index() as u32;
    let _ = runner().inject(msc_index);
    let _ = runner().restart(msc_index);

    check!(
        matches!(
            msc().read(disk.handle, 16, &mut [0u8; BLOCK]),
            Err(CallError::Op(DiskError::Stale))
        ),
        "the handle from before the restart is not stale"
    );
    let again = within(|| msc().disk(0).ok()).ok_or("usb-msc never served the drive again")?;
    check!(
        { again.handle } != { disk.handle },
        "the new handle equals the old one"
    );
    check!(
        { device(FLASH_VID_PID)?.handle } == { drive.handle },
        "the drive got a new DeviceId: it was enumerated again"
    );
    check!(
        stats()?.bus_resets == resets,
        "the bus was reset for a class-driver restart"
    );
    read_back(again, 16, 2)?;
    write_and_check(again, 24, 3)?;
    read_back(again, 16, 2)?;
    no_violation()
}

fn driver_dying_on_every_bind_gets_the_drive_quarantined() -> Outcome {
    flash_disk()?;
    let msc_index = USB_MSC.index() as u32;
    // Each death is a fault (injected, then the restart the supervisor would do): the first
    // rebinds with a strike; so does the second; the third quarantines
    // (`usb_core_logic::STRIKE_LIMIT`). Each death comes while the drive is being served.
    for _ in 0..usb_core_logic::STRIKE_LIMIT {
        let _ = runner().inject(msc_index);
        let _ = runner().restart(msc_index);
        within(|| {
            let quarantined = device(FLASH_VID_PID).is_ok_and(|d| d.quarantined == 1);
            (quarantined || msc().disk(0).is_ok()).then_some(())
        })
        .ok_or("usb-msc neither served the drive again nor was it quarantined")?;
    }
    let drive = device(FLASH_VID_PID)?;
    check!(
        drive.quarantined == 1,
        "the drive is not quarantined after the strike limit"
    );
    check!(
        msc().disk(0) == Err(CallError::Op(DiskError::NoDisk)),
        "usb-msc still serves a quarantined drive"
    );
    no_violation()?;
    // The stack itself keeps working: another device is enumerated.
    plug(devices::KEYBOARD)?;
    within(|| device((0x1209, 0x0001)).ok())
        .ok_or("a keyboard plugged after the quarantine was not enumerated")?;
    Ok(())
}

/// Plugs the serial adapter and waits for `usb-cdc` to serve it.
fn serial_port() -> Result<PortInfo, &'static str> {
    plug(devices::SERIAL)?;
    within(|| cdc().open(0).ok()).ok_or("usb-cdc never served the plugged serial adapter")
}

/// Writes `data` (at most the adapter's 512-byte loop buffer) and reads it back, packet by
/// packet, up to its last byte.
pub(crate) fn loop_back(port: PortInfo, data: &[u8]) -> Outcome {
    let took = cdc()
        .write(port.handle, data)
        .map_err(|_| "usb-cdc: write to the serial adapter failed")?;
    check!(
        usize::from(took) == data.len(),
        "usb-cdc: the adapter took only part of the write"
    );
    let mut back = [0u8; 512];
    let mut got = 0;
    while got < data.len() {
        let mut packet = [0u8; SERIAL_PACKET];
        let n = usize::from(
            cdc()
                .read(port.handle, &mut packet)
                .map_err(|_| "usb-cdc: read from the serial adapter failed")?,
        );
        check!(n > 0, "the loopback stopped before the last byte came back");
        check!(
            got + n <= data.len(),
            "more bytes came back than were written"
        );
        back[got..got + n].copy_from_slice(&packet[..n]);
        got += n;
    }
    check!(
        back[..got] == *data,
        "the bytes read back differ from those written"
    );
    Ok(())
}

/// The bus events numbered `from` and later (as many as the model still keeps), fed to `each`.
fn bus_events_since(from: u32, mut each: impl FnMut(&TraceEntry)) -> Outcome {
    let mut cursor = from;
    loop {
        let (events, n) = trace(cursor)?;
        if n == 0 {
            return Ok(());
        }
        events[..n].iter().for_each(&mut each);
        cursor = events[n - 1].seq + 1;
    }
}

/// Checks that the device `was` (the record taken before a class-driver restart, with the
/// bus statistics `before`) was not enumerated again: same DeviceId, no bus reset, no reset
/// or SET_ADDRESS among the bus events since.
pub(crate) fn not_enumerated_again(was: &DeviceRecord, before: &SimStats) -> Outcome {
    check!(
        { device(({ was.vendor_id }, { was.product_id }))?.handle } == { was.handle },
        "the device got a new DeviceId: it was enumerated again"
    );
    check!(
        stats()?.bus_resets == before.bus_resets,
        "the bus was reset for a class-driver restart"
    );
    let mut readdressed = 0;
    bus_events_since(before.trace_count, |e| {
        readdressed +=
            usize::from(e.kind == bus::RESET || (e.kind == bus::SETUP && e.request == SET_ADDRESS));
    })?;
    check!(
        readdressed == 0,
        "the bus saw a reset or SET_ADDRESS during a class-driver restart"
    );
    Ok(())
}

fn serial_adapter_binds_to_usb_cdc_and_loops_back() -> Outcome {
    let resets = stats()?.bus_resets;
    let port = serial_port()?;
    let adapter = device(SERIAL_VID_PID)?;
    check!(adapter.address != 0, "the serial adapter has no address");
    check!(
        stats()?.bus_resets == resets + 1,
        "the serial adapter was not enumerated after exactly one bus reset"
    );
    check!(
        usize::from(port.read_len) == SERIAL_PACKET,
        "usb-cdc reports a read length other than the adapter's 64-byte packet"
    );

    // 200 bytes: three full packets and a short one; the first and the last byte differ.
    let mut data = [0u8; 200];
    pattern(&mut data, 7);
    loop_back(port, &data)?;
    let mut nothing = [0u8; SERIAL_PACKET];
    check!(
        cdc().read(port.handle, &mut nothing) == Ok(0),
        "a read with nothing looped back did not return 0 bytes"
    );

    // A write of whole packets ends with a zero-length packet on the bus.
    let from = stats()?.trace_count;
    let mut whole = [0u8; 2 * SERIAL_PACKET];
    pattern(&mut whole, 8);
    loop_back(port, &whole)?;
    let mut outs = [0u16; 3];
    let mut n_outs = 0;
    bus_events_since(from, |e| {
        if e.kind == bus::OUT && e.address == adapter.address && e.handshake == handshake::ACK {
            if let Some(slot) = outs.get_mut(n_outs) {
                *slot = e.len;
            }
            n_outs += 1;
        }
    })?;
    check!(
        n_outs == 3 && outs == [64, 64, 0],
        "a 128-byte write did not reach the bus as two full packets and a ZLP"
    );

    // An empty write is a no-op that puts nothing on the bus.
    let from = stats()?.trace_count;
    check!(
        cdc().write(port.handle, &[]) == Ok(0),
        "an empty write did not return 0"
    );
    let mut outs = 0;
    bus_events_since(from, |e| outs += usize::from(e.kind == bus::OUT))?;
    check!(outs == 0, "an empty write put an OUT packet on the bus");

    check!(
        cdc().read(port.handle, &mut [0u8; SERIAL_PACKET - 1])
            == Err(CallError::Op(SerialError::ShortLease)),
        "a read lease shorter than a packet is not ShortLease"
    );
    let coding = Coding {
        baud: 115_200,
        stop_bits: 2,
        parity: 2,
        data_bits: 7,
    };
    check!(
        cdc().set_line_coding(port.handle, coding).is_ok(),
        "usb-cdc: set_line_coding failed"
    );
    check!(
        cdc().line_coding(port.handle) == Ok(coding),
        "the adapter does not report the line coding just set"
    );
    check!(
        cdc().set_line_coding(port.handle, Coding { baud: 0, ..coding })
            == Err(CallError::Op(SerialError::BadLineCoding)),
        "a zero baud rate is not BadLineCoding"
    );
    check!(
        cdc().line_coding(port.handle) == Ok(coding),
        "a refused line coding changed the adapter's"
    );
    no_violation()
}

fn usb_cdc_restart_resumes_loopback_without_reenumeration() -> Outcome {
    let port = serial_port()?;
    // One packet each way: the adapter's bulk toggles are now DATA1, where the restarted
    // driver's fresh pipes start at DATA0.
    let mut data = [0u8; 30];
    pattern(&mut data, 9);
    loop_back(port, &data)?;
    let adapter = device(SERIAL_VID_PID)?;
    let before = stats()?;

    let cdc_index = USB_CDC.index() as u32;
    let _ = runner().inject(cdc_index);
    let _ = runner().restart(cdc_index);

    check!(
        cdc().write(port.handle, &data) == Err(CallError::Op(SerialError::Stale)),
        "the handle from before the restart is not stale"
    );
    let again =
        within(|| cdc().open(0).ok()).ok_or("usb-cdc never served the serial adapter again")?;
    check!(
        { again.handle } != { port.handle },
        "the new handle equals the old one"
    );
    not_enumerated_again(&adapter, &before)?;
    // The resync on the bus: both bulk halts cleared, DTR and RTS set and never dropped.
    let (mut clears, mut raised, mut dropped) = (0, 0, 0);
    bus_events_since(before.trace_count, |e| {
        if e.kind == bus::SETUP && e.request == CLEAR_FEATURE && e.request_type == 0x02 {
            clears += 1;
        }
        if e.kind == bus::SETUP && e.request == SET_CONTROL_LINE_STATE {
            if e.value == DTR_RTS {
                raised += 1;
            } else {
                dropped += 1;
            }
        }
    })?;
    check!(
        clears == 2,
        "the restarted driver did not clear both bulk endpoints' halts"
    );
    check!(
        raised == 1 && dropped == 0,
        "the restarted driver did not keep DTR and RTS up"
    );
    loop_back(again, &data)?;
    check!(
        cdc().write(port.handle, &data) == Err(CallError::Op(SerialError::Stale)),
        "the old handle works again once the new one is in use"
    );
    no_violation()
}

/// The number of the first A press usb-hid serves after event `after`, once one is there.
fn a_press_after(after: u32) -> Option<u32> {
    let mut records = [HidRecord::new_zeroed(); 16];
    let n = hid().events(after, &mut records).ok()?;
    records[..usize::from(n)]
        .iter()
        .find(|r| r.kind == kind::KEY_DOWN && r.code == KEY_A)
        .map(|r| r.number)
}

fn usb_hid_restart_resumes_key_events_without_reenumeration() -> Outcome {
    // The typist presses A every tenth report for as long as it is polled, so presses can
    // only arrive after the restart if the new incarnation polls the same device again.
    plug(devices::TYPIST)?;
    let first = within(|| a_press_after(0)).ok_or("the typist's A press never reached usb-hid")?;
    within(|| a_press_after(first)).ok_or("usb-hid saw only one A press from the typist")?;
    let keyboard = device(KEYBOARD_VID_PID)?;
    let before = stats()?;

    let hid_index = USB_HID.index() as u32;
    let _ = runner().inject(hid_index);
    let _ = runner().restart(hid_index);

    // A subscriber's cursor is its "handle": the new incarnation numbers from 1, so the
    // first events it serves (asked for from 0) start at 1 and an A press is among them.
    let again = within(|| {
        let mut records = [HidRecord::new_zeroed(); 16];
        let n = hid().events(0, &mut records).ok()?;
        let any_press = records[..usize::from(n)]
            .iter()
            .any(|r| r.kind == kind::KEY_DOWN && r.code == KEY_A);
        any_press.then_some(records[0].number)
    })
    .ok_or("no A press reached the restarted usb-hid")?;
    check!(
        again == 1,
        "the restarted usb-hid does not number its events from 1"
    );
    not_enumerated_again(&keyboard, &before)?;
    no_violation()
}

fn plug_is_served_within_notified_bind_ms_through_the_port_notification() -> Outcome {
    // The keyboard first, so no drive is left from an earlier test and the core has just
    // looked at the port when the drive is plugged (without the post, the drive would wait
    // for the next slow poll, about a second later).
    plug(devices::KEYBOARD)?;
    within(|| device(KEYBOARD_VID_PID).ok()).ok_or("the keyboard was never enumerated")?;
    let plugged = sys_get_timer().now;
    plug(devices::FLASH)?;
    within(|| msc().disk(0).ok()).ok_or("usb-msc never served the plugged flash drive")?;
    let took = sys_get_timer().now - plugged;
    check!(
        took <= NOTIFIED_BIND_MS,
        "the drive was served more than NOTIFIED_BIND_MS after the plug"
    );
    no_violation()
}

/// The drive as `usb-msc` serves it again after a restart: under a new handle, while `old`
/// (from before) is refused as stale.
fn served_again(old: DiskInfo) -> Result<DiskInfo, &'static str> {
    let again = within(|| {
        msc()
            .disk(0)
            .ok()
            .filter(|d| { d.handle } != { old.handle })
    })
    .ok_or("usb-msc never served the drive again under a new handle")?;
    check!(
        matches!(
            msc().read(old.handle, 0, &mut [0u8; BLOCK]),
            Err(CallError::Op(DiskError::Stale))
        ),
        "the handle from before the restart is not stale"
    );
    Ok(again)
}

/// Follows the bus trace from event `from` until a bus reset and then a SET_ADDRESS go by,
/// and returns the address set. The model keeps only its last 64 events, so the trace is
/// read as fast as it grows; an event lost before it was read fails the test.
fn reset_then_set_address(mut from: u32) -> Result<u16, &'static str> {
    let give_up = sys_get_timer().now + BIND_WITHIN_MS;
    let mut reset_seen = false;
    loop {
        let (events, n) = trace(from)?;
        for event in &events[..n] {
            check!(
                event.seq == from,
                "bus events were overwritten before the test read them"
            );
            from += 1;
            reset_seen |= event.kind == usb_sim_api::kind::RESET;
            if reset_seen && event.kind == usb_sim_api::kind::SETUP && event.request == SET_ADDRESS
            {
                return Ok(event.value);
            }
        }
        check!(
            sys_get_timer().now < give_up,
            "the bus saw no reset followed by SET_ADDRESS"
        );
        if n == 0 {
            sleep_for(1, TIMER);
        }
    }
}

/// Only one device fits on the simulated root port, so the drive stands for every bound
/// device here (the keyboard's binding goes the same way through the same code).
fn usb_core_restart_reenumerates_and_rebinds() -> Outcome {
    let disk = flash_disk()?;
    write_and_check(disk, 40, 5)?;
    let drive = device(FLASH_VID_PID)?;
    let before = stats()?;
    let _ = runner().restart(USB_CORE.index() as u32);
    let address = reset_then_set_address(before.trace_count)?;
    check!(address != 0, "SET_ADDRESS gave the default address");
    let again = served_again(disk)?;
    let now = device(FLASH_VID_PID)?;
    check!(
        { now.handle } != { drive.handle },
        "the drive kept its DeviceId across a usb-core restart"
    );
    check!(
        u16::from(now.address) == address,
        "the drive's address is not the one SET_ADDRESS gave"
    );
    check!(
        stats()?.bus_resets == before.bus_resets + 1,
        "the restarted usb-core did not reset the bus exactly once"
    );
    read_back(again, 40, 5)?;
    write_and_check(again, 48, 6)?;
    no_violation()
}

/// Has the peer write the whole disk with `seed` in one call, and checks that it worked.
fn peer_writes_disk(disk: DiskInfo, seed: u8) -> Outcome {
    send_to_peer(MSC_WRITE, disk, seed);
    check!(peer_outcome()? == 0, "the peer's whole-disk write failed");
    Ok(())
}

fn send_to_peer(command: u16, disk: DiskInfo, seed: u8) {
    let handle = disk.handle;
    let mut message = [0u8; MSC_MESSAGE_LEN];
    message[..4].copy_from_slice(&(MSC_MAX_BLOCKS as u32).to_le_bytes());
    message[4] = seed;
    message[5] = handle.slot;
    message[6..8].copy_from_slice(&{ handle.generation }.to_le_bytes());
    message[8..].copy_from_slice(&{ handle.epoch }.to_le_bytes());
    sys_send(
        sys_refresh_incarnation(PEER),
        command,
        &message,
        &mut [],
        &[],
    );
}

/// Reads the whole disk 8 blocks at a time and checks that each 64-byte packet's worth is
/// what `pattern(seed)` wrote or, when given, what `or_seed` did (a write cut short leaves
/// each packet old or new); returns the whole disk's checksum.
fn disk_holds(disk: DiskInfo, seed: u8, or_seed: Option<u8>) -> Result<u32, &'static str> {
    const CHUNK_BLOCKS: usize = 8;
    let mut sum = CHECKSUM_START;
    for first in (0..MSC_MAX_BLOCKS).step_by(CHUNK_BLOCKS) {
        let mut back = [0u8; CHUNK_BLOCKS * BLOCK];
        msc()
            .read(disk.handle, first as u32, &mut back)
            .map_err(|_| "usb-msc: reading the disk back failed")?;
        let (mut want, mut other) = ([0u8; CHUNK_BLOCKS * BLOCK], [0u8; CHUNK_BLOCKS * BLOCK]);
        pattern_at(&mut want, seed, first);
        pattern_at(&mut other, or_seed.unwrap_or(seed), first);
        for ((got, want), other) in back.chunks(64).zip(want.chunks(64)).zip(other.chunks(64)) {
            check!(
                got == want || got == other,
                "a packet of the disk holds neither the old nor the new data"
            );
        }
        sum = checksum_more(sum, &back);
    }
    Ok(sum)
}

/// The checksum of the whole disk written with `pattern(seed)`.
fn disk_checksum(seed: u8) -> u32 {
    let mut whole = [0u8; BLOCK];
    (0..MSC_MAX_BLOCKS).fold(CHECKSUM_START, |sum, block| {
        pattern_at(&mut whole, seed, block);
        checksum_more(sum, &whole)
    })
}

/// Faults `usb-msc` while the peer is blocked in `command` on the whole disk, and checks
/// what a class-driver death must keep: the call ends with a code, the drive keeps its
/// DeviceId, nothing reset the bus, and the old handle is stale. Returns the new disk.
fn fault_msc_under(command: u16, disk: DiskInfo, seed: u8) -> Result<DiskInfo, &'static str> {
    let drive = device(FLASH_VID_PID)?;
    let resets = stats()?.bus_resets;
    peer_blocked_in_msc(command, disk, seed)?;
    let msc_index = USB_MSC.index() as u32;
    let _ = runner().inject(msc_index);
    let _ = runner().restart(msc_index);
    check!(
        peer_outcome()? != 0,
        "the disk call under a usb-msc fault did not end with a code"
    );
    let again = served_again(disk)?;
    check!(
        { device(FLASH_VID_PID)?.handle } == { drive.handle },
        "the drive got a new DeviceId for a class-driver fault"
    );
    check!(
        stats()?.bus_resets == resets,
        "the bus was reset for a class-driver fault"
    );
    Ok(again)
}

/// Blocks of [`usb_msc_restarts_keep_a_mebibyte_intact`]: 1 MiB, after the first 64 blocks
/// (the other tests' region), half written before the restarts and half after.
const MEBIBYTE_FIRST: u32 = MSC_MAX_BLOCKS as u32;
const MEBIBYTE_BLOCKS: u32 = 2048;
/// Blocks per call: 4 KiB, a buffer that fits the suite's stack.
const MEBIBYTE_CHUNK: usize = 8;

/// Writes blocks `first..first + count` with `seed`, [`MEBIBYTE_CHUNK`] at a time.
fn write_blocks(disk: DiskInfo, first: u32, count: u32, seed: u8) -> Outcome {
    let mut data = [0u8; MEBIBYTE_CHUNK * BLOCK];
    for lba in (first..first + count).step_by(MEBIBYTE_CHUNK) {
        pattern_at(&mut data, seed, lba as usize);
        msc()
            .write(disk.handle, lba, &data)
            .map_err(|_| "usb-msc: a write of the mebibyte failed")?;
    }
    Ok(())
}

/// Reads blocks `first..first + count` back and compares each block's checksum with the
/// one of what `seed_of(lba)` wrote; the first block that differs is logged by number.
fn blocks_hold(
    disk: DiskInfo,
    first: u32,
    count: u32,
    seed_of: impl Fn(u32) -> u8,
) -> Result<u32, &'static str> {
    let mut back = [0u8; MEBIBYTE_CHUNK * BLOCK];
    let mut want = [0u8; BLOCK];
    let mut checked = 0;
    for lba in (first..first + count).step_by(MEBIBYTE_CHUNK) {
        msc()
            .read(disk.handle, lba, &mut back)
            .map_err(|_| "usb-msc: a read of the mebibyte failed")?;
        for (i, block) in back.chunks(BLOCK).enumerate() {
            let n = lba + i as u32;
            pattern_at(&mut want, seed_of(n), n as usize);
            if checksum(block) != checksum(&want) {
                let mut line = TextBuf::<60>::new();
                let _ = write!(line, "block {n} read back with another checksum");
                let _ = runner().log(line.as_bytes());
                return Err("a block of the mebibyte did not read back as written");
            }
            checked += 1;
        }
    }
    Ok(checked)
}

/// The "checksums over at least 1 MiB": half a mebibyte is written, usb-msc is
/// restarted on request, the second half is written by the new incarnation, usb-msc is
/// faulted, and the third incarnation reads the whole mebibyte back, block by numbered
/// block. The drive keeps its DeviceId throughout (no re-enumeration).
fn usb_msc_restarts_keep_a_mebibyte_intact() -> Outcome {
    let disk = flash_disk()?;
    check!(
        disk.blocks >= MEBIBYTE_FIRST + MEBIBYTE_BLOCKS,
        "the simulated drive is smaller than the region of the test"
    );
    let drive = device(FLASH_VID_PID)?;
    let half = MEBIBYTE_BLOCKS / 2;
    let second = MEBIBYTE_FIRST + half;
    write_blocks(disk, MEBIBYTE_FIRST, half, 0x31)?;
    let msc_index = USB_MSC.index() as u32;
    let _ = runner().restart(msc_index);
    let after_restart =
        within(|| msc().disk(0).ok()).ok_or("usb-msc never served the drive after a restart")?;
    write_blocks(after_restart, second, half, 0x32)?;
    let _ = runner().inject(msc_index);
    let _ = runner().restart(msc_index);
    let after_fault =
        within(|| msc().disk(0).ok()).ok_or("usb-msc never served the drive after a fault")?;
    let checked = blocks_hold(after_fault, MEBIBYTE_FIRST, MEBIBYTE_BLOCKS, |lba| {
        if lba < second { 0x31 } else { 0x32 }
    })?;
    check!(
        checked * BLOCK as u32 >= 1 << 20,
        "less than a mebibyte was checked"
    );
    check!(
        { device(FLASH_VID_PID)?.handle } == { drive.handle },
        "the drive was enumerated again: a class-driver restart must not"
    );
    no_violation()
}

/// Each check covers the first 64 blocks (32 KiB, the peer's buffer) of the drive.
fn usb_msc_fault_mid_read_keeps_data() -> Outcome {
    let disk = flash_disk()?;
    peer_writes_disk(disk, 0x21)?;
    let again = fault_msc_under(MSC_READ, disk, 0)?;
    check!(
        disk_holds(again, 0x21, None)? == disk_checksum(0x21),
        "the whole-disk checksum after the fault is not the one written before"
    );
    peer_writes_disk(again, 0x22)?;
    check!(
        disk_holds(again, 0x22, None)? == disk_checksum(0x22),
        "the whole-disk checksum of a write after the fault differs"
    );
    no_violation()
}

fn usb_msc_fault_mid_write_keeps_data() -> Outcome {
    let disk = flash_disk()?;
    peer_writes_disk(disk, 0x31)?;
    let again = fault_msc_under(MSC_WRITE, disk, 0x32)?;
    disk_holds(again, 0x31, Some(0x32))?;
    peer_writes_disk(again, 0x33)?;
    check!(
        disk_holds(again, 0x33, None)? == disk_checksum(0x33),
        "the whole-disk checksum of a write after the fault differs"
    );
    no_violation()
}

/// Has the peer (an application of `usb-msc`) start `command` (`MSC_READ` or `MSC_WRITE`,
/// the whole disk in one call) and returns once it is blocked in `usb-msc`.
fn peer_blocked_in_msc(command: u16, disk: DiskInfo, seed: u8) -> Outcome {
    let peer = sys_refresh_incarnation(PEER);
    send_to_peer(command, disk, seed);
    // Looked at every tick: the whole disk moves in a few tens of milliseconds.
    let give_up = sys_get_timer().now + BIND_WITHIN_MS;
    while runner().sched_state(peer.index() as u32) != Ok(IN_REPLY) {
        check!(
            peer_result().0 == 0 && sys_get_timer().now < give_up,
            "the peer's disk call ended before it could be seen blocked in usb-msc"
        );
        sleep_for(1, TIMER);
    }
    Ok(())
}

/// The code the peer's last command ended with, once it has.
fn peer_outcome() -> Result<u32, &'static str> {
    within(|| {
        let (done, code) = peer_result();
        (done == 1).then_some(code)
    })
    .ok_or("the peer's disk call never ended: it hangs")
}

/// A usb-hcd restart to the drive served again: a fresh controller, a connect, enumeration
/// and usb-msc's bring-up on the new usb-hcd incarnation (about 1250 ms of virtual time,
/// deterministic under `-icount`). A usb-msc that brings the binding up on the dead
/// incarnation (without `UsbHcdClient::refresh` in usb_core_api::driver) fails the bring-up
/// and does not serve the drive again at all (tried: not within `BIND_WITHIN_MS`).
const HCD_REBIND_MS: u64 = 2000;

fn usb_hcd_restart_mid_read_wakes_msc_and_rebinds() -> Outcome {
    let disk = flash_disk()?;
    write_and_check(disk, 56, 8)?;
    let drive = device(FLASH_VID_PID)?;
    peer_blocked_in_msc(MSC_READ, disk, 0)?;
    let restarted_at = sys_get_timer().now;
    test_runner_api::restart(&runner(), USB_HCD);
    let code = peer_outcome()?;
    check!(
        code != 0 && code != usb_test_api::DEAD,
        "the read under a usb-hcd restart did not end with a usb-msc error code"
    );
    let again = served_again(disk)?;
    log_rebind_ms("busy", sys_get_timer().now - restarted_at);
    check!(
        { device(FLASH_VID_PID)?.handle } != { drive.handle },
        "the drive kept its DeviceId across a usb-hcd restart"
    );
    read_back(again, 56, 8)?;
    // Again with usb-msc idle: no call of its own learns of usb-hcd's restart from a dead
    // code, so only its refresh of usb-hcd's id before the bring-up
    // (`usb_core_api::driver`) keeps that bring-up off the dead incarnation.
    let drive = device(FLASH_VID_PID)?;
    let restarted_at = sys_get_timer().now;
    test_runner_api::restart(&runner(), USB_HCD);
    let idle = served_again(again)?;
    let took = sys_get_timer().now - restarted_at;
    log_rebind_ms("idle", took);
    check!(
        took <= HCD_REBIND_MS,
        "usb-msc took too long to serve the drive after an idle usb-hcd restart"
    );
    check!(
        { device(FLASH_VID_PID)?.handle } != { drive.handle },
        "the drive kept its DeviceId across a usb-hcd restart"
    );
    read_back(idle, 56, 8)?;
    no_violation()
}

fn log_rebind_ms(when: &str, took: u64) {
    let mut line = TextBuf::<80>::new();
    let _ = write!(
        line,
        "drive served again {took} ms after a usb-hcd restart ({when})"
    );
    let _ = runner().log(line.as_bytes());
}

/// Each cycle binds the drive (two bulk pipes for `usb-msc`) and then the keyboard, which
/// unplugs it (an interrupt pipe for `usb-hid`): pipes left open after an unplug would use
/// up `usb-hcd`'s 16 (`usb_hcd_api::owners::MAX_PIPES`) within six cycles.
fn unplug_closes_the_class_drivers_pipes() -> Outcome {
    const CYCLES: usize = 8;
    for _ in 0..CYCLES {
        flash_disk()?;
        plug(devices::KEYBOARD)?;
        within(|| {
            let gone = msc().disk(0) == Err(CallError::Op(DiskError::NoDisk));
            (gone && device(KEYBOARD_VID_PID).is_ok()).then_some(())
        })
        .ok_or(
            "after the drive was unplugged, the keyboard was not enumerated or the disk stayed",
        )?;
    }
    let disk = flash_disk()?;
    write_and_check(disk, 0, 9)?;
    no_violation()
}

/// How long a malicious device is left on the port: the core's enumeration with its retries
/// and timeouts, a class driver's bring-up and some of its polls.
const MALICIOUS_ON_PORT_MS: u64 = 1500;

/// The tasks a device can reach, directly or through another: none of them may fault for
/// anything a device does.
fn usb_tasks() -> [u32; 8] {
    [
        USB_HUB.index() as u32,
        USB_SIM.index() as u32,
        USB_HCD.index() as u32,
        USB_CORE.index() as u32,
        USB_MSC.index() as u32,
        USB_HID.index() as u32,
        USB_CDC.index() as u32,
        PEER.index() as u32,
    ]
}

/// Whether the runner recorded a fault of `task` since the last look (and forgets it).
fn took_fault(task: u32) -> Result<bool, &'static str> {
    let mut record = [0u8; 12];
    runner()
        .take_fault(task, &mut record)
        .map(|n| n != 0)
        .map_err(|_| "runner: take_fault failed")
}

/// Each device of `usb_sim_api::devices::MALICIOUS` in turn (its name goes to the log
/// first, so a failure names it): left on the port, it must fault no task and break none of
/// the controller's rules, and the flash drive plugged after it must be served.
fn every_malicious_device_is_refused_cleanly_and_faults_no_task() -> Outcome {
    // Faults injected by earlier tests are not this test's.
    for task in usb_tasks() {
        took_fault(task)?;
    }
    for name in devices::MALICIOUS {
        let mut line = [0u8; 40];
        let prefix = b"malicious device: ";
        line[..prefix.len()].copy_from_slice(prefix);
        let n = name.len().min(line.len() - prefix.len());
        line[prefix.len()..prefix.len() + n].copy_from_slice(&name.as_bytes()[..n]);
        let _ = runner().log(&line[..prefix.len() + n]);

        plug(name)?;
        sleep_for(MALICIOUS_ON_PORT_MS, TIMER);
        for task in usb_tasks() {
            check!(!took_fault(task)?, "a malicious device made a task fault");
        }
        no_violation()?;
        // The stack is still whole: the next device is enumerated and served.
        flash_disk()?;
    }
    Ok(())
}

/// Rounds of [`restart_under_load_loses_no_block_and_misdelivers_no_reply`]: each restarts
/// `usb-msc` [`LOAD_MSC_PER_ROUND`] times, then `usb-hcd` once.
const LOAD_ROUNDS: u32 = 20;
/// 200 restarts of usb-msc in all (doc/usb-host.md 6.4), far past the strike limit: usb-core
/// learns from the kernel that each was requested, not a fault, and strikes nothing.
const LOAD_MSC_PER_ROUND: u32 = 10;
/// app.toml `notifications = ["timer", "progress"]`: a good round of the peer's stream.
const PROGRESS: u32 = 1 << 1;
/// Streaming with nothing restarting, after the restarts.
const LOAD_QUIET_MS: u64 = 100;

/// A good round of the peer's stream since the last look, within [`BIND_WITHIN_MS`].
fn stream_progressed() -> Option<()> {
    // Earlier posts are not news.
    let _ = notifications_now(PROGRESS);
    within(|| (notifications_now(PROGRESS) != 0).then_some(()))
}

/// The bits of `mask` posted so far (and consumed); 0 if none. The timer, set to now,
/// makes the wait return at once when none is.
fn notifications_now(mask: u32) -> u32 {
    sys_set_timer(Some(sys_get_timer().now), TIMER);
    sys_recv_notification(mask | TIMER) & mask
}

/// The peer's stream counts: (good rounds, rounds ended with a code, corrupt rounds, stopped,
/// the last code).
/// The peer answers only once its stream has stopped.
fn stream_result() -> (u32, u32, u32, u32, u32) {
    let mut out = [0u8; 20];
    sys_send(
        sys_refresh_incarnation(PEER),
        usb_test_api::STREAM_RESULT,
        &[],
        &mut out,
        &[],
    );
    let word = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
    (word(0), word(4), word(8), word(12), word(16))
}

/// The peer streams writes and read-backs through usb-msc while the suite restarts usb-msc
/// 200 times and usb-hcd 20 times (see [`LOAD_MSC_PER_ROUND`]), each time once the drive is
/// served again (so every restart lands on a working stack under load). Every round ends with data or a code;
/// none reads back other than what an acknowledged write put there (a reply delivered to
/// the wrong incarnation, or a transfer of a dead driver landing late, would show as such);
/// the stream keeps making progress; no USB task faults; the controller's rules hold.
fn restart_under_load_loses_no_block_and_misdelivers_no_reply() -> Outcome {
    for task in usb_tasks() {
        took_fault(task)?;
    }
    flash_disk()?;
    sys_send(
        sys_refresh_incarnation(PEER),
        usb_test_api::STREAM,
        &[],
        &mut [],
        &[],
    );
    let msc_index = USB_MSC.index() as u32;
    for round in 0..LOAD_ROUNDS {
        for restart in 0..=LOAD_MSC_PER_ROUND {
            if restart < LOAD_MSC_PER_ROUND {
                let _ = runner().restart(msc_index);
            } else {
                test_runner_api::restart(&runner(), USB_HCD);
            }
            if stream_progressed().is_none() {
                let mut line = TextBuf::<80>::new();
                let drive = device(FLASH_VID_PID);
                let _ = write!(
                    line,
                    "round {round} restart {restart}: no good round; drive listed {}, quarantined {}",
                    drive.is_ok(),
                    drive.map(|d| d.quarantined).unwrap_or(0)
                );
                let _ = runner().log(line.as_bytes());
                return Err("the stream made no progress after a restart under load");
            }
        }
    }
    // The last rounds run with nothing restarting, so the stream ends on data. The peer
    // answers no call while it streams: its counts are asked for once it has stopped.
    sleep_for(LOAD_QUIET_MS, TIMER);
    let _ = sys_post(sys_refresh_incarnation(PEER), usb_test_api::STOP_BIT);
    let (good, coded, corrupt, stopped, last_code) = stream_result();
    check!(stopped == 1, "the stream did not stop");
    let mut line = TextBuf::<80>::new();
    let _ = write!(
        line,
        "stream under restarts: {good} good, {coded} ended with a code (last {last_code:#x}), {corrupt} corrupt"
    );
    let _ = runner().log(line.as_bytes());
    check!(
        corrupt == 0,
        "a read-back differed from the write usb-msc acknowledged"
    );
    check!(
        coded > 0,
        "no round ended with a code: the restarts never met the stream"
    );
    check!(
        good > LOAD_ROUNDS * (LOAD_MSC_PER_ROUND + 1),
        "fewer good rounds than restarts: the stream did not resume after each"
    );
    for task in usb_tasks() {
        check!(
            !took_fault(task)?,
            "a task faulted under restarts (other than by the restarts)"
        );
    }
    check!(
        device(FLASH_VID_PID)?.quarantined == 0,
        "requested restarts of usb-msc got the drive quarantined"
    );
    no_violation()
}

/// The longest a call to `usb-core` may take while it enumerates a device that NAKs: the
/// scheduling of the busier tasks above the suite, a tenth of the 500 ms of one control
/// timeout that a core waiting for its device would add to a call.
const PROMPT_MS: u64 = 50;

fn a_device_that_naks_forever_delays_no_call_to_usb_core() -> Outcome {
    let before = stats()?;
    let core_before = sys_refresh_incarnation(USB_CORE);
    plug(devices::ENDLESS_NAK)?;
    // Through the debounce, the port reset and the device's first control timeout, ask the
    // core for its device list every 10 ms and time each answer.
    // A sample counts as taken during the enumeration when the device NAKed in the 10 ms
    // before it.
    let mut slowest = 0;
    let mut samples_during_naks = 0;
    let mut naks = stats()?.naks;
    let give_up = sys_get_timer().now + 1500;
    while sys_get_timer().now < give_up {
        let asked = sys_get_timer().now;
        let mut records = [DeviceRecord::new_zeroed(); 8];
        core()
            .devices(0, &mut records)
            .map_err(|_| "usb-core: devices failed")?;
        slowest = slowest.max(sys_get_timer().now - asked);
        let now_naks = stats()?.naks;
        if now_naks > naks {
            samples_during_naks += 1;
        }
        naks = now_naks;
        sleep_for(10, TIMER);
    }
    check!(
        slowest < 400,
        "usb-core took 400 ms or more to answer while a device NAKed its enumeration"
    );
    check!(
        slowest < 100,
        "usb-core took 100 to 400 ms to answer while a device NAKed its enumeration"
    );
    check!(
        slowest <= PROMPT_MS,
        "usb-core took 50 to 100 ms to answer while a device NAKed its enumeration"
    );
    check!(
        samples_during_naks >= 10,
        "the device was not NAKing while the core was asked (no enumeration in progress?)"
    );
    check!(
        stats()?.bus_resets > before.bus_resets,
        "the endless-NAK device was never reset for enumeration"
    );
    check!(
        sys_refresh_incarnation(USB_CORE) == core_before,
        "usb-core was restarted while the device NAKed"
    );
    no_violation()
}

fn a_detached_usb_hid_is_no_longer_polled_after_2_ms() -> Outcome {
    plug(devices::KEYBOARD)?;
    keyboard_bound_to_usb_hid()?;
    // usb-hid polls the keyboard's interrupt endpoint every 10 ms with a 20 ms transfer, and
    // the keyboard NAKs once its script has played: NAKs keep coming.
    let before = stats()?.naks;
    sleep_for(100, TIMER);
    check!(
        stats()?.naks > before,
        "usb-hid is not polling the keyboard"
    );
    // Detached just as it starts waiting for a poll (usb-hcd holds its transfer for up to
    // 20 ms): without `client-gone`, the dead call's transfer would go on polling.
    let hid_index = USB_HID.index() as u32;
    let in_reply = |want: bool| {
        let give_up = sys_get_timer().now + 1000;
        while (runner().sched_state(hid_index) == Ok(IN_REPLY)) != want {
            if sys_get_timer().now > give_up {
                return false;
            }
        }
        true
    };
    check!(
        in_reply(false) && in_reply(true),
        "usb-hid never waited for a poll of the keyboard"
    );
    let _ = runner().detach(hid_index);
    sleep_for(2, TIMER);
    let at_2_ms = stats()?.naks;
    // Longer than the dead call's 20 ms timeout, and than several polling intervals.
    sleep_for(60, TIMER);
    let naks_after = stats()?.naks;
    let _ = runner().restart(hid_index);
    check!(
        naks_after == at_2_ms,
        "the keyboard was still polled more than 2 ms after usb-hid was detached"
    );
    no_violation()
}

/// The longest `usb-msc` may take to answer while it waits for the core to take its hello.
const ANSWER_MS: u64 = 50;

fn usb_msc_answers_at_once_while_usb_core_is_down() -> Outcome {
    flash_disk()?;
    let core_index = USB_CORE.index() as u32;
    let msc_index = USB_MSC.index() as u32;
    let _ = runner().detach(core_index);
    let _ = runner().restart(msc_index);
    // The new usb-msc cannot say hello: it must still answer, from what it has (nothing).
    sleep_for(20, TIMER);
    let asked = sys_get_timer().now;
    let answer = msc().disk(0);
    let took = sys_get_timer().now - asked;
    let _ = runner().restart(core_index);
    check!(
        answer == Err(CallError::Op(DiskError::NoDisk)),
        "usb-msc did not answer NoDisk while usb-core was down"
    );
    check!(
        took <= ANSWER_MS,
        "usb-msc took more than 50 ms to answer while usb-core was down"
    );
    within(|| msc().disk(0).ok()).ok_or("usb-msc never served the drive once usb-core was back")?;
    no_violation()
}
