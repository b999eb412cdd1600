//! Shared scaffolding of the end-to-end tests.
#![allow(dead_code)]

use std::cell::RefCell;
use usb_class_cdc::CdcAcm;
use usb_class_hid::{BootHid, HidEvent, MAX_EVENTS_PER_REPORT};
use usb_class_msc::MassStorage;
use usb_core_logic::{BindingId, DeviceId, DriverKind, UsbCore};
use usb_host_api::ClassPort;
use usb_model::{Dwc2Model, SimDevice, Violation};
use usb_stack_tests::SimHost;

/// Runs `test` with `device` on the root port of a fresh model, controller driver and USB
/// core, then checks that the driver never broke a controller programming rule.
pub fn on_root_port<R>(
    device: &mut dyn SimDevice,
    test: impl FnOnce(&RefCell<Dwc2Model<'_>>, &mut SimHost<'_, '_>, &mut UsbCore) -> R,
) -> R {
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(device);
    let mut host = SimHost::new(&model);
    let mut core = UsbCore::new();
    let result = test(&model, &mut host, &mut core);
    assert_eq!(violations(&model), []);
    result
}

/// Enumerates the root device, binds its mass-storage interface and brings the driver up.
pub fn ready_msc(host: &mut SimHost<'_, '_>, core: &mut UsbCore) -> (BindingId, MassStorage) {
    enumerate_root(core, host);
    let b = binding(core, DriverKind::MassStorage);
    let bound = bound(core, b);
    let mut msc = MassStorage::attach(&bound.config(), bound.interface()).unwrap();
    msc.bring_up(&mut core.port(host, b).unwrap()).unwrap();
    (b, msc)
}

/// Enumerates the root device and attaches the CDC-ACM driver to its CDC binding.
pub fn ready_cdc(host: &mut SimHost<'_, '_>, core: &mut UsbCore) -> (BindingId, CdcAcm) {
    enumerate_root(core, host);
    let b = binding(core, DriverKind::CdcAcm);
    let bound = bound(core, b);
    (
        b,
        CdcAcm::attach(&bound.config(), bound.interface()).unwrap(),
    )
}

/// Enumerates whatever sits on the root port; panics with the error if that fails.
pub fn enumerate_root(core: &mut UsbCore, host: &mut SimHost<'_, '_>) -> DeviceId {
    match core.poll_root(host) {
        Some(Ok(id)) => id,
        other => panic!("root enumeration: {other:?}"),
    }
}

/// The first live binding served by `driver`.
pub fn binding(core: &UsbCore, driver: DriverKind) -> BindingId {
    core.bindings()
        .find(|(_, d)| *d == driver)
        .map(|(b, _)| b)
        .unwrap_or_else(|| panic!("no {driver:?} binding"))
}

pub fn violations(model: &RefCell<Dwc2Model<'_>>) -> Vec<Violation> {
    model.borrow().violations().collect()
}

/// Deterministic test data (xorshift).
pub fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// FNV-1a, enough to compare megabytes in an assertion message.
pub fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// A class driver's copy of its binding: what `binding_info` hands out.
pub struct Bound {
    bytes: [u8; usb_core_logic::CONFIG_BUF],
    pub info: usb_core_logic::BindingInfo,
}

impl Bound {
    pub fn config(&self) -> usb_proto::walk::Configuration<'_> {
        let len = self.info.config_len;
        usb_proto::walk::parse_configuration(&self.bytes[..len], len as u16, self.info.speed)
            .unwrap()
    }

    pub fn interface(&self) -> u8 {
        self.info.first_interface
    }
}

pub fn bound(core: &UsbCore, b: BindingId) -> Bound {
    let mut bytes = [0u8; usb_core_logic::CONFIG_BUF];
    let info = core.binding_info(b, &mut bytes).unwrap();
    Bound { bytes, info }
}

/// Binds the HID driver to `b` and collects the events of `polls` interrupt polls.
pub fn hid_events(
    core: &mut UsbCore,
    host: &mut SimHost<'_, '_>,
    b: BindingId,
    polls: usize,
) -> (BootHid, Vec<HidEvent>) {
    let bound = bound(core, b);
    let mut hid = BootHid::attach(
        &mut core.port(host, b).unwrap(),
        &bound.config(),
        bound.interface(),
    )
    .unwrap();
    let mut all = Vec::new();
    for _ in 0..polls {
        let mut out = [HidEvent::KeyUp(0); MAX_EVENTS_PER_REPORT];
        let n = hid
            .poll(&mut core.port(host, b).unwrap(), 50, &mut out)
            .unwrap();
        all.extend_from_slice(&out[..n]);
    }
    (hid, all)
}

/// Writes `chunk` to a CDC-ACM loopback and reads the same number of bytes back.
pub fn echo(cdc: &CdcAcm, port: &mut impl ClassPort, chunk: &[u8]) -> Vec<u8> {
    assert_eq!(cdc.write(port, chunk).unwrap(), chunk.len());
    let mut back = Vec::with_capacity(chunk.len());
    let mut buf = [0u8; 64];
    while back.len() < chunk.len() {
        let n = cdc.read(port, &mut buf, 100).unwrap();
        assert!(n > 0, "loopback stalled at {} bytes", back.len());
        back.extend_from_slice(&buf[..n]);
    }
    back
}

/// Enumerates the hub on the root port and every device its driver reports connected, as
/// the `usb-hub` task does (address-0 token, port reset, child enumeration); returns the
/// hub's binding, its driver and the child devices with their ports, in port order.
pub fn enumerate_hub_tree(
    core: &mut UsbCore,
    host: &mut SimHost<'_, '_>,
) -> (BindingId, usb_class_hub::HubDriver, Vec<(u8, DeviceId)>) {
    enumerate_root(core, host);
    let hub_binding = binding(core, DriverKind::Hub);
    let hub_bound = bound(core, hub_binding);
    let mut hub_driver = usb_class_hub::HubDriver::attach(
        &mut core.port(host, hub_binding).unwrap(),
        &hub_bound.config(),
        0,
    )
    .unwrap();
    let mut children = Vec::new();
    for _ in 0..2 * usize::from(hub_driver.ports) {
        let event = hub_driver
            .poll(&mut core.port(host, hub_binding).unwrap(), 50)
            .unwrap();
        if let Some(usb_class_hub::HubEvent::Connected(p)) = event {
            let token = core.acquire_addr0(hub_binding, p).unwrap();
            assert_eq!(
                core.acquire_addr0(hub_binding, p),
                Err(usb_core_logic::CoreError::AddressZeroBusy),
                "one device at address 0 at a time"
            );
            let speed = hub_driver
                .reset_port(&mut core.port(host, hub_binding).unwrap(), p)
                .unwrap();
            children.push((p, core.enumerate_child(host, token, speed).unwrap()));
        }
    }
    (hub_binding, hub_driver, children)
}
