//! The `usb-tests` suite: `usb-hcd` driving the simulated controller of `usb-sim` in QEMU,
//! through the IPC interfaces (doc/usb-host.md 6), checked against what the bus saw.
//!
//! Before each test the runner restarts `usb-hcd` and the peer, so every test starts with
//! a freshly fenced and initialised controller; the simulator keeps running, and each test
//! plugs the device it needs. The model's bus trace and statistics are the oracle: every
//! test asserts what reached the bus (resets, SETUPs, addresses, toggles), and that the
//! model saw no breach of the controller's programming rules.
//!
//! | behaviour | test |
//! |---|---|
//! | connect seen after `plug`, no reset until asked | `root_port_connects_after_plug` |
//! | port reset: speed, one bus reset | `port_reset_gives_the_speed_and_one_bus_reset` |
//! | a descriptor read through `IpcHostController` | `device_descriptor_arrives_through_ipc` |
//! | `usb_core_logic::UsbCore` enumerates over IPC | `usb_core_enumerates_the_keyboard_over_ipc` |
//! | a pipe of another task | `pipe_of_another_task_is_not_owner` |
//! | closed pipes, pipes of a previous driver | `closed_and_pre_restart_pipes_are_stale` |
//! | driver restart with a client blocked in it | `hcd_restart_wakes_the_blocked_client` |
//!
//! The class-driver tasks (`usb-core`, `usb-msc`, `usb-hid`) are tested in `class.rs`.
#![no_std]
#![no_main]

mod class;
mod hub;
mod power;

use idol_runtime::CallError;
use test_runner_api::{Outcome, Test, TestRunnerClient, check, run_tests};
use usb_core_logic::UsbCore;
use usb_hcd_api::{HcdError, IpcHostController, UsbHcdClient, wire};
use usb_host_api::{EpAddr, EpType, HostController, PipeSpec, SetupPacket, Speed};
use usb_sim_api::{MAX_TRACE_ENTRIES, SimStats, TraceEntry, UsbSimClient, devices, kind};
use userlib::{
    Generation, TaskId, sleep_for, sys_get_timer, sys_recv_notification, sys_refresh_incarnation,
    sys_send, task_slot,
};

task_slot!(RUNNER, runner);
task_slot!(USB_SIM, "usb-sim");
task_slot!(USB_HCD, "usb-hcd");
task_slot!(PEER, peer);
task_slot!(USB_HUB, "usb-hub");

/// app.toml: `notifications = ["timer"]`.
const TIMER: u32 = 1 << 0;
/// The simulated keyboard's identity (`usb_model::hid`).
const KEYBOARD_VID_PID: (u16, u16) = (0x1209, 0x0001);
const GET_DESCRIPTOR: u8 = 6;
const SET_ADDRESS: u8 = 5;
const SET_CONFIGURATION: u8 = 9;
/// `sched_state` of a task whose SEND the server has received and not yet answered.
const IN_REPLY: u32 = 3;
/// How long a plugged device may take to show on the root port.
const CONNECT_WITHIN_MS: u64 = 500;

fn runner() -> TestRunnerClient {
    TestRunnerClient::new(RUNNER)
}

fn sim() -> UsbSimClient {
    UsbSimClient::new(USB_SIM)
}

fn hcd() -> UsbHcdClient {
    UsbHcdClient::new(sys_refresh_incarnation(USB_HCD))
}

fn host() -> IpcHostController {
    IpcHostController::new(sys_refresh_incarnation(USB_HCD), TIMER)
}

fn stats() -> Result<SimStats, &'static str> {
    sim().stats().map_err(|_| "usb-sim: stats failed")
}

fn no_violation() -> Outcome {
    check!(
        stats()?.violations == 0,
        "the model recorded a programming-rule violation"
    );
    Ok(())
}

/// The bus events from number `from` on (at most one trace call's worth).
fn trace(from: u32) -> Result<([TraceEntry; MAX_TRACE_ENTRIES], usize), &'static str> {
    let mut entries = [TraceEntry::default(); MAX_TRACE_ENTRIES];
    let n = sim()
        .trace(from, &mut entries)
        .map_err(|_| "usb-sim: trace failed")?;
    Ok((entries, n as usize))
}

/// Plugs `name` and waits until the driver reports it connected (and that it changed).
fn plug_and_connect(host: &mut IpcHostController, name: &str) -> Outcome {
    check!(
        sim().plug(name.as_bytes()).is_ok(),
        "usb-sim refused the plug"
    );
    let give_up = sys_get_timer().now + CONNECT_WITHIN_MS;
    let mut changed = false;
    loop {
        let port = host.root_port();
        changed |= port.connect_changed;
        if port.connected {
            check!(changed, "connect without connect_changed");
            check!(!port.enabled, "port enabled before any reset");
            return Ok(());
        }
        check!(
            sys_get_timer().now < give_up,
            "plugged device never showed on the root port"
        );
        sleep_for(10, TIMER);
    }
}

fn ep0(speed: Speed) -> PipeSpec {
    PipeSpec {
        address: 0,
        endpoint: EpAddr(0),
        ty: EpType::Control,
        max_packet: 8,
        interval: 0,
        speed,
    }
}

fn device_descriptor_request() -> SetupPacket {
    SetupPacket::get_descriptor(1, 0, 0, 18)
}

// ---------------------------------------------------------------- tests

fn root_port_connects_after_plug() -> Outcome {
    let mut host = host();
    let resets = stats()?.bus_resets;
    plug_and_connect(&mut host, devices::KEYBOARD)?;
    check!(
        stats()?.bus_resets == resets,
        "a bus reset happened before the driver asked for one"
    );
    no_violation()
}

fn port_reset_gives_the_speed_and_one_bus_reset() -> Outcome {
    let mut host = host();
    for (name, speed) in [
        (devices::KEYBOARD, Speed::Low),
        (devices::MOUSE, Speed::Full),
    ] {
        plug_and_connect(&mut host, name)?;
        let before = stats()?;
        check!(
            host.reset_root_port() == Ok(speed),
            "reset did not report the device's speed"
        );
        let after = stats()?;
        check!(
            after.bus_resets == before.bus_resets + 1,
            "the bus did not see exactly one reset"
        );
        let (events, n) = trace(before.trace_count)?;
        check!(
            n >= 1 && events[0].kind == kind::RESET,
            "the trace does not show the reset"
        );
        check!(host.root_port().enabled, "port not enabled after reset");
    }
    no_violation()
}

fn device_descriptor_arrives_through_ipc() -> Outcome {
    let mut host = host();
    plug_and_connect(&mut host, devices::KEYBOARD)?;
    check!(host.reset_root_port() == Ok(Speed::Low), "reset failed");
    let pipe = host
        .open_pipe(ep0(Speed::Low))
        .map_err(|_| "open_pipe failed")?;
    let from = stats()?.trace_count;
    let mut buf = [0u8; 18];
    check!(
        host.control(pipe, &device_descriptor_request(), &mut buf, 500) == Ok(18),
        "GET_DESCRIPTOR(device) did not return 18 bytes"
    );
    check!(buf[0] == 18 && buf[1] == 1, "not a device descriptor");
    check!(
        (
            u16::from_le_bytes([buf[8], buf[9]]),
            u16::from_le_bytes([buf[10], buf[11]])
        ) == KEYBOARD_VID_PID,
        "not the keyboard's VID:PID"
    );
    let (events, n) = trace(from)?;
    // SETUP to address 0, then the data stage: 8, 8 and 2 bytes from DATA1 on.
    check!(n >= 4, "too few bus events for a descriptor read");
    let setup = events[0];
    check!(
        setup.kind == kind::SETUP
            && setup.address == 0
            && setup.request == GET_DESCRIPTOR
            && setup.value == 0x0100,
        "the bus did not see GET_DESCRIPTOR(device) to address 0"
    );
    let data: [(u8, u16); 3] = [(1, 8), (0, 8), (1, 2)];
    for (event, (pid, len)) in events[1..4].iter().zip(data) {
        check!(
            event.kind == kind::IN && event.pid == pid && event.len == len,
            "data stage toggles or lengths wrong on the bus"
        );
    }
    host.close_pipe(pipe);
    no_violation()
}

fn usb_core_enumerates_the_keyboard_over_ipc() -> Outcome {
    let mut host = host();
    check!(
        sim().plug(devices::KEYBOARD.as_bytes()).is_ok(),
        "usb-sim refused the plug"
    );
    let from = stats()?.trace_count;
    let mut core = UsbCore::new();
    let give_up = sys_get_timer().now + CONNECT_WITHIN_MS;
    let device = loop {
        match core.poll_root(&mut host) {
            Some(Ok(device)) => break device,
            Some(Err(_)) => return Err("enumeration failed"),
            None => {
                check!(
                    sys_get_timer().now < give_up,
                    "the core never saw the device"
                );
                sleep_for(10, TIMER);
            }
        }
    };
    let info = core.device(device).map_err(|_| "no device info")?;
    check!(
        (info.vendor_id, info.product_id) == KEYBOARD_VID_PID && info.speed == Speed::Low,
        "wrong identity or speed"
    );
    check!(info.address != 0, "device left at address 0");
    // The bus saw the address handed out, then SET_CONFIGURATION at that address.
    let mut cursor = from;
    let mut set_address = false;
    let mut configured = false;
    loop {
        let (events, n) = trace(cursor)?;
        if n == 0 {
            break;
        }
        for e in &events[..n] {
            if e.kind == kind::SETUP && e.request == SET_ADDRESS {
                check!(
                    e.address == 0 && e.value == u16::from(info.address),
                    "SET_ADDRESS on the bus is not the address the core reports"
                );
                set_address = true;
            }
            if e.kind == kind::SETUP && e.request == SET_CONFIGURATION {
                check!(
                    set_address && e.address == info.address,
                    "SET_CONFIGURATION not sent to the new address"
                );
                configured = true;
            }
        }
        cursor = events[n - 1].seq + 1;
    }
    check!(
        set_address && configured,
        "the bus never saw SET_ADDRESS and SET_CONFIGURATION"
    );
    no_violation()
}

fn pipe_of_another_task_is_not_owner() -> Outcome {
    let mut host = host();
    plug_and_connect(&mut host, devices::KEYBOARD)?;
    check!(host.reset_root_port() == Ok(Speed::Low), "reset failed");
    let hcd = hcd();
    let peer = sys_refresh_incarnation(PEER);
    let low = wire::speed_code(Speed::Low);
    let control = wire::ep_type_code(EpType::Control);
    let handle = hcd
        .open_pipe_for(peer.id.0, 0, 0, control, 8, 0, low)
        .map_err(|_| "open_pipe_for the peer failed")?;
    let from = stats()?.trace_count;
    let mut buf = [0u8; 18];
    check!(
        hcd.control(
            handle,
            device_descriptor_request().to_bytes(),
            500,
            &mut buf
        ) == Err(CallError::Op(HcdError::NotOwner)),
        "a transfer on the peer's pipe was not refused with NotOwner"
    );
    check!(
        hcd.close_pipe(handle) == Err(CallError::Op(HcdError::NotOwner)),
        "closing the peer's pipe was not refused with NotOwner"
    );
    check!(
        stats()?.trace_count == from,
        "a refused call reached the bus"
    );
    // An owner named by a generation that is not its current one is refused.
    let stale_peer = TaskId::for_index_and_gen(
        peer.index(),
        Generation::from_restart_count(u32::from(peer.id.generation().0) + 1),
    );
    check!(
        hcd.open_pipe_for(stale_peer.0, 0, 0, control, 8, 0, low)
            == Err(CallError::Op(HcdError::BadArgument)),
        "a pipe for a stale owner was opened"
    );
    check!(
        hcd.open_pipe(0, 0, control, 8, 0, 9) == Err(CallError::Op(HcdError::BadArgument)),
        "an unknown speed code was not refused with BadArgument"
    );
    no_violation()
}

fn closed_and_pre_restart_pipes_are_stale() -> Outcome {
    let mut host = host();
    plug_and_connect(&mut host, devices::KEYBOARD)?;
    check!(host.reset_root_port() == Ok(Speed::Low), "reset failed");
    let driver = hcd();
    let low = wire::speed_code(Speed::Low);
    let control = wire::ep_type_code(EpType::Control);
    let open = || driver.open_pipe(0, 0, control, 8, 0, low);
    let closed = open().map_err(|_| "open_pipe failed")?;
    check!(driver.close_pipe(closed).is_ok(), "close failed");
    let from = stats()?.trace_count;
    let mut buf = [0u8; 18];
    check!(
        driver.close_pipe(closed) == Err(CallError::Op(HcdError::BadPipe)),
        "second close not refused as stale"
    );
    check!(
        driver.control(
            closed,
            device_descriptor_request().to_bytes(),
            500,
            &mut buf
        ) == Err(CallError::Op(HcdError::BadPipe)),
        "transfer on a closed pipe not refused as stale"
    );
    check!(
        stats()?.trace_count == from,
        "a refused call reached the bus"
    );
    let before_restart = open().map_err(|_| "open_pipe failed")?;
    test_runner_api::restart(&runner(), USB_HCD);
    check!(
        hcd().reset_toggle(before_restart) == Err(CallError::Op(HcdError::BadPipe)),
        "a pipe of the previous driver incarnation was accepted"
    );
    no_violation()
}

fn peer_result() -> (u32, u32) {
    let mut out = [0u8; 8];
    let peer = sys_refresh_incarnation(PEER);
    sys_send(peer, usb_test_api::RESULT, &[], &mut out, &[]);
    let word = |i: usize| u32::from_le_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]);
    (word(0), word(4))
}

fn hcd_restart_wakes_the_blocked_client() -> Outcome {
    let mut host = host();
    // Its control data and status stages NAK forever: a transfer that never ends by itself.
    plug_and_connect(&mut host, devices::ENDLESS_NAK)?;
    check!(host.reset_root_port() == Ok(Speed::Low), "reset failed");
    let hcd = hcd();
    let peer = sys_refresh_incarnation(PEER);
    let handle = hcd
        .open_pipe_for(
            peer.id.0,
            0,
            0,
            wire::ep_type_code(EpType::Control),
            8,
            0,
            wire::speed_code(Speed::Low),
        )
        .map_err(|_| "open_pipe_for the peer failed")?;
    let mut command = [0u8; 8];
    command[..4].copy_from_slice(&handle.to_le_bytes());
    command[4..].copy_from_slice(&60_000u32.to_le_bytes());
    sys_send(peer, usb_test_api::CONTROL_IN, &command, &mut [], &[]);
    sleep_for(20, TIMER);
    let runner = runner();
    check!(
        runner.sched_state(peer.index() as u32) == Ok(IN_REPLY),
        "the peer is not blocked in the driver"
    );
    let (events, n) = trace(stats()?.trace_count.saturating_sub(1))?;
    check!(
        n == 1 && events[0].kind == kind::SETUP && events[0].request == GET_DESCRIPTOR,
        "the peer's SETUP is not the last thing on the bus"
    );
    let resets = stats()?.bus_resets;
    let started = sys_get_timer().now;
    let _ = runner.inject(USB_HCD.index() as u32);
    test_runner_api::restart(&runner, USB_HCD);
    sleep_for(5, TIMER);
    check!(
        peer_result() == (1, usb_test_api::DEAD),
        "the blocked client was not woken with a dead code"
    );
    check!(
        sys_get_timer().now - started < 100,
        "waking the blocked client took too long"
    );
    // The new incarnation fenced and re-initialised the controller: the port is powered
    // and connected again but not enabled, and a reset works.
    let mut host = self::host();
    let give_up = sys_get_timer().now + CONNECT_WITHIN_MS;
    while !host.root_port().connected {
        check!(
            sys_get_timer().now < give_up,
            "the restarted driver never saw the device"
        );
        sleep_for(10, TIMER);
    }
    check!(
        host.reset_root_port() == Ok(Speed::Low),
        "reset after restart failed"
    );
    check!(
        stats()?.bus_resets == resets + 1,
        "the bus did not see the new reset"
    );
    no_violation()
}

const TESTS: &[Test] = &[
    (
        "root_port_connects_after_plug",
        root_port_connects_after_plug,
    ),
    (
        "port_reset_gives_the_speed_and_one_bus_reset",
        port_reset_gives_the_speed_and_one_bus_reset,
    ),
    (
        "device_descriptor_arrives_through_ipc",
        device_descriptor_arrives_through_ipc,
    ),
    (
        "usb_core_enumerates_the_keyboard_over_ipc",
        usb_core_enumerates_the_keyboard_over_ipc,
    ),
    (
        "pipe_of_another_task_is_not_owner",
        pipe_of_another_task_is_not_owner,
    ),
    (
        "closed_and_pre_restart_pipes_are_stale",
        closed_and_pre_restart_pipes_are_stale,
    ),
    (
        "hcd_restart_wakes_the_blocked_client",
        hcd_restart_wakes_the_blocked_client,
    ),
];

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    run_tests(&runner(), TESTS, &[USB_HCD, PEER]);
    run_tests(&runner(), class::TESTS, &class::FRESH);
    run_tests(&runner(), hub::TESTS, &class::FRESH);
    run_tests(&runner(), power::TESTS, &class::FRESH);
    let _ = runner().log(b"TESTS DONE");
    loop {
        sys_recv_notification(0);
    }
}
