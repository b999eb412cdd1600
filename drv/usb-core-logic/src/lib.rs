//! USB core logic: enumeration, topology, addresses, binding, EP0 policy, quarantine.
//!
//! What it is: the state of the `usb-core` task without its IPC shell. It enumerates devices
//! through a [`HostController`], keeps the device tree (root port and hub ports) with
//! generation-qualified [`DeviceId`]s, binds interfaces (or whole IAD functions) to class
//! drivers from the static [`MATCH_TABLE`] as [`binding::plan_bindings`] plans it (and reports
//! through [`UsbCore::interface_plan`] what each interface became: bound, no driver for its
//! class, or unusable and why), and serves each binding to its driver as a [`ClassPort`] that
//! enforces the EP0 [`policy`].
//!
//! Invariants:
//! * descriptors are parsed only by `usb-proto`'s checked views and walker, with
//!   `min(first wTotalLength, received, buffer)`; a malformed device ends enumeration with a
//!   typed [`EnumError`] and holds no address, pipe or slot afterwards;
//! * at most one device is at address 0 at any time ([`Addr0Token`]);
//! * handles carry generations: after unplug, rebind or quarantine every old [`DeviceId`] /
//!   [`BindingId`] is refused with [`CoreError::Stale`];
//! * a device whose driver faults [`STRIKE_LIMIT`] times is quarantined: unbound and never
//!   rebound until it is unplugged.
//!
//! Who talks to it: the `usb-core` task (later), and in tests the harness in `usb-stack-tests`
//! together with the class-driver crates.
//!
//! # Device life cycle
//!
//! | State | Event | Next |
//! |---|---|---|
//! | (none) | root connect / hub port with [`Addr0Token`] | enumerating at address 0 (the [`EnumNext`] steps of `enumeration.rs`) |
//! | enumerating | any step fails | (none): address, pipes and slot released, `EnumError` |
//! | enumerating | SET_CONFIGURATION done | configured; a `Bound` event per matched function |
//! | configured | driver fault, strikes < limit | configured; binding replaced (`Unbound`+`Bound{resync}`) |
//! | configured | driver fault, strikes = limit | quarantined; `Unbound{Quarantined}` |
//! | configured | a new incarnation of its driver says hello, an incarnation since the last hello faulted | as a driver fault if the dead one had not brought this binding up, or had brought all its bindings up; otherwise replaced without a strike |
//! | configured | a new incarnation of its driver says hello, none faulted (restarted or unloaded on request) | replaced without a strike |
//! | configured / quarantined | unplug (root or hub port), hub removed | (none); subtree removed, `Unbound{Disconnected}` |
#![no_std]
#![forbid(unsafe_code)]

pub mod binding;
mod enumeration;
pub mod policy;

pub use enumeration::EnumNext;

pub use binding::{InterfaceBinding, InterfacePlan, plan_bindings};

pub use usb_host_api::DriverKind;
use usb_host_api::{
    ClassPort, EpAddr, EpType, HostController, PipeId, PipeSpec, PortError, SetupPacket, Speed,
    XferError,
};
use usb_proto::descriptor::{
    ConfigurationDescriptor, DescriptorError, DeviceDescriptor, DevicePrefix, ty,
};
use usb_proto::walk::{
    Configuration, InterfaceInfo, MAX_ENDPOINTS, MAX_INTERFACES, WalkError, parse_configuration,
};
use usb_proto::{cdc, hid, hub, msc};

pub const MAX_DEVICES: usize = 8;
pub const MAX_BINDINGS: usize = 8;
/// Endpoints one binding may own (e.g. CDC: notification + bulk pair).
pub const MAX_BOUND_PIPES: usize = 2 * MAX_ENDPOINTS;
/// Driver faults after which a device is quarantined.
pub const STRIKE_LIMIT: u8 = 3;
/// Hub tiers below the root (USB 2.0 allows five).
pub const MAX_TIER: u8 = 5;
/// Largest configuration blob the core caches per device.
pub const CONFIG_BUF: usize = 256;
/// Variants of [`DriverKind`].
const DRIVER_KINDS: usize = 4;

const CONTROL_TIMEOUT_MS: u32 = 500;
/// Attach debounce (TATTDB ≥ 100 ms, doc/usb-host.md 1.5).
const ATTACH_DEBOUNCE_MS: u32 = 100;
const SET_ADDRESS_RECOVERY_MS: u32 = 2;
const EVENT_QUEUE: usize = 16;

/// One row of the static match table: interface class triple → driver.
#[derive(Clone, Copy, Debug)]
pub struct MatchRule {
    pub class: u8,
    pub subclass: Option<u8>,
    pub protocol: Option<u8>,
    pub driver: DriverKind,
}

/// Which driver serves which interface (the `usb-core` entry of `app.toml`, doc/usb-host.md 6.1).
pub const MATCH_TABLE: [MatchRule; 4] = [
    MatchRule {
        class: hub::CLASS,
        subclass: Some(0),
        protocol: None,
        driver: DriverKind::Hub,
    },
    MatchRule {
        class: hid::CLASS,
        subclass: Some(hid::SUBCLASS_BOOT),
        protocol: None,
        driver: DriverKind::Hid,
    },
    MatchRule {
        class: msc::CLASS,
        subclass: Some(msc::SUBCLASS_SCSI),
        protocol: Some(msc::PROTOCOL_BOT),
        driver: DriverKind::MassStorage,
    },
    MatchRule {
        class: cdc::CLASS_COMM,
        subclass: Some(cdc::SUBCLASS_ACM),
        protocol: None,
        driver: DriverKind::CdcAcm,
    },
];

pub fn match_driver(iface: &InterfaceInfo) -> Option<DriverKind> {
    MATCH_TABLE
        .iter()
        .find(|rule| {
            rule.class == iface.class
                && rule.subclass.is_none_or(|s| s == iface.subclass)
                && rule.protocol.is_none_or(|p| p == iface.protocol)
        })
        .map(|rule| rule.driver)
}

/// A device: its slot, the slot's reuse count, and the core incarnation that gave it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceId {
    pub slot: u8,
    pub generation: u16,
    /// The core's incarnation (its task's full restart count, [`UsbCore::for_incarnation`]).
    pub epoch: u32,
}

/// A binding: its slot, the slot's reuse count, and the core incarnation that gave it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingId {
    pub slot: u8,
    pub generation: u16,
    pub epoch: u32,
}

/// Enumeration step that a transfer error happened in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumStep {
    DevicePrefix,
    SetAddress,
    DeviceDescriptor,
    ConfigurationHeader,
    Configuration,
    SetConfiguration,
    OpenPipes,
}

/// Why enumeration failed. The device keeps nothing: no address, no pipes, no slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnumError {
    NotConnected,
    Reset(XferError),
    NoDeviceSlot,
    NoAddress,
    TooDeep,
    Transfer {
        step: EnumStep,
        error: XferError,
    },
    DeviceDescriptor(DescriptorError),
    /// The 8-byte and 18-byte reads disagree on `bMaxPacketSize0`.
    MaxPacket0Changed {
        first: u8,
        second: u8,
    },
    ConfigurationHeader(DescriptorError),
    ConfigurationTooLarge(u16),
    Configuration(WalkError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// The handle's generation is dead (unplugged, rebound, quarantined).
    Stale,
    /// Another device is being enumerated at address 0.
    AddressZeroBusy,
    /// The binding is not a hub.
    NotAHub,
    Quarantined,
    /// The caller's buffer cannot hold the configuration blob.
    BufferTooSmall,
}

/// A binding as its class driver sees it (with the configuration blob copied next to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingInfo {
    pub driver: DriverKind,
    pub first_interface: u8,
    pub speed: Speed,
    pub config_len: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnbindReason {
    Disconnected,
    /// The driver's task died (by a fault or a restart on request) and its new incarnation
    /// takes the binding over again.
    DriverRestarted,
    Quarantined,
}

/// What class drivers learn (the `usb` notification + `next_event` pull in the task design).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingEvent {
    Bound {
        binding: BindingId,
        driver: DriverKind,
        resync: bool,
    },
    Unbound {
        binding: BindingId,
        driver: DriverKind,
        reason: UnbindReason,
    },
}

impl BindingEvent {
    /// The driver the event is for.
    pub fn driver(&self) -> DriverKind {
        match *self {
            BindingEvent::Bound { driver, .. } | BindingEvent::Unbound { driver, .. } => driver,
        }
    }
}

/// A driver task's incarnation as the kernel counts it (kipc `read-fault-count`): its
/// restart count, and how many of its incarnations so far ended in a fault. Between two
/// hellos, the first number says that the task died, the second whether any death was a
/// fault rather than a restart the supervisor was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Incarnation {
    pub restarts: u32,
    pub faults: u32,
}

/// What a class driver's hello (sent once at every start) changed; see
/// [`UsbCore::driver_hello`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hello {
    /// The first incarnation the core has heard from: its bindings reach it as events.
    First,
    /// The incarnation that said hello before (a retried call): nothing changes.
    Repeated,
    /// A new incarnation: the old one's bindings were replaced (`resync`) or quarantined.
    /// `faulted`: an incarnation since the last hello died by a fault (strikes counted);
    /// otherwise every restart was requested and no device got a strike.
    Restarted {
        rebound: u8,
        quarantined: u8,
        faulted: bool,
    },
}

/// Outcome of [`UsbCore::report_driver_fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    Rebound(BindingId),
    Quarantined,
}

/// Permission to enumerate one device at address 0 behind a hub port.
#[derive(Debug, PartialEq, Eq)]
pub struct Addr0Token {
    /// The hub's device slot; `None` on the root port.
    hub: Option<u8>,
    port: u8,
}

/// What the core tells about a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    pub address: u8,
    pub speed: Speed,
    pub vendor_id: u16,
    pub product_id: u16,
    pub tier: u8,
    /// The address of the hub the device is behind, 0 on the root port.
    pub parent_address: u8,
    /// The hub port the device is in (from 1), 0 on the root port.
    pub port: u8,
    pub quarantined: bool,
}

struct Device {
    info: DeviceInfo,
    parent: Option<(u8, u8)>,
    ep0: PipeId,
    config: [u8; CONFIG_BUF],
    config_len: usize,
    first_total: u16,
    strikes: u8,
}

impl Device {
    /// The configuration validated at enumeration, walked again (only the bytes are kept, so
    /// a device slot stays small).
    fn configuration(&self) -> Option<Configuration<'_>> {
        parse_configuration(
            &self.config[..self.config_len],
            self.first_total,
            self.info.speed,
        )
        .ok()
    }
}

struct Binding {
    device: u8,
    driver: DriverKind,
    first_interface: u8,
    interface_count: u8,
    pipes: [Option<(EpAddr, PipeId)>; MAX_BOUND_PIPES],
    /// The driver reported the binding brought up ([`UsbCore::binding_ready`]); a driver
    /// that dies before that is blamed on this binding's device alone.
    ready: bool,
}

/// A slot's generation counts its reuses within one core incarnation; ids also carry that
/// incarnation in full ([`DeviceId::epoch`]), so the stale check is exact: an id of another
/// incarnation never matches however many restarts lie between, and one of this incarnation
/// matches again only after 65536 reuses of its slot.
struct Slot<T> {
    generation: u16,
    value: Option<T>,
}

impl<T> Slot<T> {
    const EMPTY: Self = Slot {
        generation: 0,
        value: None,
    };

    fn get(&self, generation: u16) -> Option<&T> {
        self.value
            .as_ref()
            .filter(|_| self.generation == generation)
    }

    fn take(&mut self) -> Option<T> {
        let value = self.value.take();
        if value.is_some() {
            self.generation = self.generation.wrapping_add(1);
        }
        value
    }
}

/// The USB core state.
pub struct UsbCore {
    devices: [Slot<Device>; MAX_DEVICES],
    bindings: [Slot<Binding>; MAX_BINDINGS],
    /// Bit n set: address n in use (bit 0 = the default address, never allocated).
    addresses: u128,
    addr0_busy: bool,
    /// The root device failed enumeration; wait for the next connect change.
    root_failed: bool,
    /// The root port saw a connect change while its device was being enumerated.
    root_changed_while_enumerating: bool,
    /// Address 0 is out for the root port's device (from [`UsbCore::acquire_root_addr0`]
    /// through its port reset and enumeration).
    root_token_out: bool,
    /// The device being enumerated at address 0, if any.
    enumeration: Option<enumeration::Enumeration>,
    /// Pending events, oldest first, packed at the front.
    events: [Option<BindingEvent>; EVENT_QUEUE],
    event_len: usize,
    /// The incarnation of each driver's task that last said hello, by `DriverKind as usize`.
    driver_incarnations: [Option<Incarnation>; DRIVER_KINDS],
    /// This core's incarnation, carried by every id it gives out.
    epoch: u32,
}

impl Default for UsbCore {
    fn default() -> Self {
        Self::new()
    }
}

fn step(step: EnumStep) -> impl Fn(XferError) -> EnumError {
    move |error| EnumError::Transfer { step, error }
}

impl UsbCore {
    pub const fn new() -> Self {
        UsbCore {
            devices: [const { Slot::EMPTY }; MAX_DEVICES],
            bindings: [const { Slot::EMPTY }; MAX_BINDINGS],
            addresses: 1,
            addr0_busy: false,
            root_failed: false,
            root_changed_while_enumerating: false,
            root_token_out: false,
            enumeration: None,
            events: [None; EVENT_QUEUE],
            event_len: 0,
            driver_incarnations: [None; DRIVER_KINDS],
            epoch: 0,
        }
    }

    /// The core of the task's incarnation `restarts` (its kernel restart count): every id it
    /// gives out carries `restarts` as its epoch, so ids that any earlier incarnation gave
    /// out (kept by a class driver or an application) are `Stale` here, however many
    /// restarts ago, and whatever either incarnation did with its slots.
    pub const fn for_incarnation(restarts: u32) -> Self {
        let mut core = Self::new();
        core.epoch = restarts;
        core
    }

    // ------------------------------------------------------------ events

    fn push_event(&mut self, event: BindingEvent) {
        if self.event_len == EVENT_QUEUE {
            // Oldest event lost: a driver finds a binding it missed through `bindings()`.
            self.remove_event(0);
        }
        self.events[self.event_len] = Some(event);
        self.event_len += 1;
    }

    fn remove_event(&mut self, index: usize) -> Option<BindingEvent> {
        let event = self.events[index].take();
        self.events[index..self.event_len].rotate_left(1);
        self.event_len -= 1;
        event
    }

    fn take_event_where(&mut self, wanted: impl Fn(&BindingEvent) -> bool) -> Option<BindingEvent> {
        let index = self.events[..self.event_len]
            .iter()
            .position(|e| e.as_ref().is_some_and(&wanted))?;
        self.remove_event(index)
    }

    /// The oldest pending event, whatever driver it is for.
    pub fn take_event(&mut self) -> Option<BindingEvent> {
        self.take_event_where(|_| true)
    }

    /// Whether an event for `driver` is waiting: the core then notifies that driver's task.
    pub fn has_events_for(&self, driver: DriverKind) -> bool {
        self.events[..self.event_len]
            .iter()
            .flatten()
            .any(|e| e.driver() == driver)
    }

    /// The oldest pending event for `driver`: each driver task pulls only its own.
    pub fn take_event_for(&mut self, driver: DriverKind) -> Option<BindingEvent> {
        self.take_event_where(|e| e.driver() == driver)
    }

    // ------------------------------------------------------------ queries

    fn device_slot(&self, id: DeviceId) -> Result<&Device, CoreError> {
        self.devices
            .get(usize::from(id.slot))
            .filter(|_| id.epoch == self.epoch)
            .and_then(|s| s.get(id.generation))
            .ok_or(CoreError::Stale)
    }

    fn binding_slot(&self, id: BindingId) -> Result<&Binding, CoreError> {
        self.bindings
            .get(usize::from(id.slot))
            .filter(|_| id.epoch == self.epoch)
            .and_then(|s| s.get(id.generation))
            .ok_or(CoreError::Stale)
    }

    pub fn device(&self, id: DeviceId) -> Result<DeviceInfo, CoreError> {
        self.device_slot(id).map(|d| d.info)
    }

    fn device_id(&self, slot: u8) -> DeviceId {
        DeviceId {
            slot,
            generation: self.devices[usize::from(slot)].generation,
            epoch: self.epoch,
        }
    }

    fn binding_id(&self, slot: usize) -> BindingId {
        BindingId {
            slot: slot as u8,
            generation: self.bindings[slot].generation,
            epoch: self.epoch,
        }
    }

    /// All live devices.
    pub fn devices(&self) -> impl Iterator<Item = DeviceId> + '_ {
        (0..MAX_DEVICES)
            .filter(|&i| self.devices[i].value.is_some())
            .map(|i| self.device_id(i as u8))
    }

    /// All live bindings with their driver.
    pub fn bindings(&self) -> impl Iterator<Item = (BindingId, DriverKind)> + '_ {
        (0..MAX_BINDINGS).filter_map(|i| {
            self.bindings[i]
                .value
                .as_ref()
                .map(|b| (self.binding_id(i), b.driver))
        })
    }

    /// The driver that serves a binding: who may use it.
    pub fn binding_driver(&self, id: BindingId) -> Result<DriverKind, CoreError> {
        self.binding_slot(id).map(|b| b.driver)
    }

    /// The pipes the core opened for a binding's driver, by endpoint.
    pub fn binding_pipes(
        &self,
        id: BindingId,
    ) -> Result<[Option<(EpAddr, PipeId)>; MAX_BOUND_PIPES], CoreError> {
        self.binding_slot(id).map(|b| b.pipes)
    }

    /// The incarnation of `driver`'s task that last said hello, if any.
    pub fn driver_incarnation(&self, driver: DriverKind) -> Option<u32> {
        self.driver_incarnations[driver as usize].map(|i| i.restarts)
    }

    /// The device a binding belongs to.
    pub fn binding_device(&self, id: BindingId) -> Result<DeviceId, CoreError> {
        self.binding_slot(id).map(|b| self.device_id(b.device))
    }

    /// Copies the binding's (validated) configuration blob into `descriptors` and describes the
    /// binding: what `binding_info` returns to a class driver in the task design. The driver
    /// re-walks the copy with `usb_proto::walk::parse_configuration`.
    pub fn binding_info(
        &self,
        id: BindingId,
        descriptors: &mut [u8],
    ) -> Result<BindingInfo, CoreError> {
        let binding = self.binding_slot(id)?;
        let device = self.devices[usize::from(binding.device)]
            .value
            .as_ref()
            .ok_or(CoreError::Stale)?;
        let blob = &device.config[..device.config_len];
        descriptors
            .get_mut(..blob.len())
            .ok_or(CoreError::BufferTooSmall)?
            .copy_from_slice(blob);
        Ok(BindingInfo {
            driver: binding.driver,
            first_interface: binding.first_interface,
            speed: device.info.speed,
            config_len: blob.len(),
        })
    }

    // ------------------------------------------------------------ root port

    /// Follows the root port: removes the tree on disconnect, enumerates on connect.
    /// Returns the enumeration result when one was attempted. Blocking: the task drives
    /// [`UsbCore::root_wants_enumeration`] and the [`EnumNext`] machine itself.
    pub fn poll_root(
        &mut self,
        hc: &mut impl HostController,
    ) -> Option<Result<DeviceId, EnumError>> {
        if !self.root_wants_enumeration(hc) {
            return None;
        }
        hc.delay_ms(ATTACH_DEBOUNCE_MS);
        if !hc.root_port().connected {
            return None;
        }
        let token = self.acquire_root_addr0().ok()?;
        Some(match hc.reset_root_port() {
            Ok(speed) => {
                let next = self.begin_enumeration(hc, token, speed);
                self.run_enumeration(hc, next)
            }
            Err(e) => self.root_reset_failed(token, e),
        })
    }

    /// Follows the root port: removes the device tree on a disconnect or connect change, and
    /// says whether a connected device waits to be enumerated (after the attach debounce of
    /// [`ATTACH_DEBOUNCE_MS`], with address 0 from [`UsbCore::acquire_root_addr0`]).
    pub fn root_wants_enumeration(&mut self, hc: &mut impl HostController) -> bool {
        let port = hc.root_port();
        let root = self.root_device();
        if (port.connect_changed || !port.connected)
            && let Some(slot) = root
        {
            self.remove_subtree(hc, slot);
        }
        // From the token through the reset to the end of the enumeration.
        let enumerating_root = self.root_token_out;
        if port.connect_changed {
            self.root_failed = false;
            self.root_changed_while_enumerating |= enumerating_root;
        }
        port.connected && self.root_device().is_none() && !self.root_failed && !enumerating_root
    }

    /// The reset of the root port for `token` failed: address 0 is free again, and the
    /// device is retried at its next connect change.
    pub fn root_reset_failed(
        &mut self,
        token: Addr0Token,
        error: XferError,
    ) -> Result<DeviceId, EnumError> {
        self.release_addr0(token);
        self.root_failed = !self.root_changed_while_enumerating;
        Err(EnumError::Reset(error))
    }

    fn root_device(&self) -> Option<u8> {
        (0..MAX_DEVICES as u8).find(|&i| {
            self.devices[usize::from(i)]
                .value
                .as_ref()
                .is_some_and(|d| d.parent.is_none())
        })
    }

    // ------------------------------------------------------------ hubs

    /// Reserves address 0 for enumerating the device on `port` of the hub `hub`.
    pub fn acquire_addr0(&mut self, hub: BindingId, port: u8) -> Result<Addr0Token, CoreError> {
        let binding = self.binding_slot(hub)?;
        if binding.driver != DriverKind::Hub {
            return Err(CoreError::NotAHub);
        }
        if self.addr0_busy {
            return Err(CoreError::AddressZeroBusy);
        }
        let hub_slot = binding.device;
        self.addr0_busy = true;
        Ok(Addr0Token {
            hub: Some(hub_slot),
            port,
        })
    }

    /// Gives address 0 back without enumerating (the port reset failed).
    pub fn release_addr0(&mut self, token: Addr0Token) {
        let Addr0Token { hub, .. } = token;
        self.addr0_busy = false;
        if hub.is_none() {
            self.root_token_out = false;
        }
    }

    /// Enumerates the device that the hub driver has just reset on the token's port
    /// (blocking: runs the [`EnumNext`] machine to its end).
    pub fn enumerate_child(
        &mut self,
        hc: &mut impl HostController,
        token: Addr0Token,
        speed: Speed,
    ) -> Result<DeviceId, EnumError> {
        let next = self.begin_enumeration(hc, token, speed);
        self.run_enumeration(hc, next)
    }

    /// The ports of the hub `hub` that have a device the core enumerated behind them, as a
    /// bitmap (bit n: port n): what a restarted hub driver reconciles its hub's ports with.
    pub fn hub_ports(&self, hub: BindingId) -> Result<u8, CoreError> {
        let binding = self.binding_slot(hub)?;
        if binding.driver != DriverKind::Hub {
            return Err(CoreError::NotAHub);
        }
        let hub_slot = binding.device;
        Ok(self
            .devices
            .iter()
            .filter_map(|s| s.value.as_ref()?.parent)
            .filter(|&(parent, port)| parent == hub_slot && port < 8)
            .fold(0, |ports, (_, port)| ports | 1 << port))
    }

    /// The hub driver saw `port` disconnect: the device there and everything below it go.
    pub fn hub_port_detached(
        &mut self,
        hc: &mut impl HostController,
        hub: BindingId,
        port: u8,
    ) -> Result<(), CoreError> {
        let hub_slot = self.binding_slot(hub)?.device;
        let child = (0..MAX_DEVICES as u8).find(|&i| {
            self.devices[usize::from(i)]
                .value
                .as_ref()
                .is_some_and(|d| d.parent == Some((hub_slot, port)))
        });
        if let Some(slot) = child {
            self.remove_subtree(hc, slot);
        }
        Ok(())
    }

    // ------------------------------------------------------------ enumeration

    fn allocate_address(&mut self) -> Option<u8> {
        let free = (!self.addresses).trailing_zeros();
        (free <= 127).then(|| {
            self.addresses |= 1 << free;
            free as u8
        })
    }

    // ------------------------------------------------------------ binding

    /// Binds every function [`plan_bindings`] assigns a driver, once per function.
    fn bind_all(&mut self, hc: &mut impl HostController, slot: u8) {
        let Some(device) = self.devices[usize::from(slot)].value.as_ref() else {
            return;
        };
        let Some(config) = device.configuration() else {
            return;
        };
        let leaders = plan_bindings(&config)
            .into_iter()
            .flatten()
            .filter_map(|plan| match plan.binding {
                InterfaceBinding::Driver {
                    driver,
                    first_interface,
                    interface_count,
                } if first_interface == plan.interface => {
                    Some((driver, first_interface, interface_count))
                }
                _ => None,
            });
        for (driver, first, count) in leaders {
            self.bind(hc, slot, driver, first, count, false);
        }
    }

    /// What each interface of a device became (bound, no driver, or unusable and why): what
    /// the `usb` tree shows.
    pub fn interface_plan(
        &self,
        id: DeviceId,
    ) -> Result<[Option<InterfacePlan>; MAX_INTERFACES], CoreError> {
        let device = self.device_slot(id)?;
        // Validated at enumeration, so the walk cannot fail here.
        Ok(device
            .configuration()
            .map_or([None; MAX_INTERFACES], |config| plan_bindings(&config)))
    }

    fn bind(
        &mut self,
        hc: &mut impl HostController,
        slot: u8,
        driver: DriverKind,
        first: u8,
        count: u8,
        resync: bool,
    ) -> Option<BindingId> {
        let index = self.bindings.iter().position(|b| b.value.is_none())?;
        let device = self.devices[usize::from(slot)].value.as_ref()?;
        let config = device.configuration()?;
        let mut pipes = [None; MAX_BOUND_PIPES];
        let endpoints = config
            .interfaces()
            .filter(|i| i.alternate == 0 && i.number >= first && i.number - first < count)
            .flat_map(|i| i.endpoints())
            // A zero-size (isochronous) endpoint of a default setting declines bandwidth and
            // can carry nothing: it gets no pipe, and must not fail the binding.
            .filter(|ep| ep.max_packet_size > 0);
        for (ep, pipe) in endpoints.zip(pipes.iter_mut()) {
            let spec = PipeSpec {
                address: device.info.address,
                endpoint: ep.addr,
                ty: ep.ty,
                max_packet: ep.max_packet_size,
                interval: ep.interval,
                speed: device.info.speed,
            };
            match hc.open_driver_pipe(driver, spec) {
                Ok(id) => *pipe = Some((ep.addr, id)),
                Err(_) => {
                    for (_, id) in pipes.iter().flatten() {
                        hc.close_pipe(*id);
                    }
                    return None;
                }
            }
        }
        self.bindings[index].value = Some(Binding {
            device: slot,
            driver,
            first_interface: first,
            interface_count: count,
            pipes,
            ready: false,
        });
        let binding = self.binding_id(index);
        self.push_event(BindingEvent::Bound {
            binding,
            driver,
            resync,
        });
        Some(binding)
    }

    fn unbind(
        &mut self,
        hc: &mut impl HostController,
        index: usize,
        reason: UnbindReason,
    ) -> Option<(DriverKind, u8, u8)> {
        let id = self.binding_id(index);
        let binding = self.bindings[index].take()?;
        for (_, pipe) in binding.pipes.iter().flatten() {
            hc.close_pipe(*pipe);
        }
        self.push_event(BindingEvent::Unbound {
            binding: id,
            driver: binding.driver,
            reason,
        });
        Some((
            binding.driver,
            binding.first_interface,
            binding.interface_count,
        ))
    }

    fn remove_subtree(&mut self, hc: &mut impl HostController, slot: u8) {
        for child in 0..MAX_DEVICES as u8 {
            if self.devices[usize::from(child)]
                .value
                .as_ref()
                .is_some_and(|d| d.parent.is_some_and(|(p, _)| p == slot))
            {
                self.remove_subtree(hc, child);
            }
        }
        for index in 0..MAX_BINDINGS {
            if self.bindings[index]
                .value
                .as_ref()
                .is_some_and(|b| b.device == slot)
            {
                self.unbind(hc, index, UnbindReason::Disconnected);
            }
        }
        if let Some(device) = self.devices[usize::from(slot)].take() {
            hc.close_pipe(device.ep0);
            self.addresses &= !(1u128 << device.info.address);
        }
    }

    /// A class driver serving `binding` crashed (or declared the device unusable). Below the
    /// strike limit the binding is replaced (fresh pipes, DATA0 toggles, new generation) and
    /// the driver resynchronises; at the limit the device is quarantined.
    pub fn report_driver_fault(
        &mut self,
        hc: &mut impl HostController,
        binding: BindingId,
    ) -> Result<FaultOutcome, CoreError> {
        let slot = self.binding_slot(binding)?.device;
        let device = self.devices[usize::from(slot)]
            .value
            .as_mut()
            .ok_or(CoreError::Stale)?;
        device.strikes += 1;
        if device.strikes >= STRIKE_LIMIT {
            device.info.quarantined = true;
            for index in 0..MAX_BINDINGS {
                if self.bindings[index]
                    .value
                    .as_ref()
                    .is_some_and(|b| b.device == slot)
                {
                    self.unbind(hc, index, UnbindReason::Quarantined);
                }
            }
            return Ok(FaultOutcome::Quarantined);
        }
        self.rebind(hc, binding).map(FaultOutcome::Rebound)
    }

    /// Replaces `binding` with a fresh one (new pipes and generation) marked `resync`.
    fn rebind(
        &mut self,
        hc: &mut impl HostController,
        binding: BindingId,
    ) -> Result<BindingId, CoreError> {
        let slot = self.binding_slot(binding)?.device;
        let (driver, first, count) = self
            .unbind(hc, usize::from(binding.slot), UnbindReason::DriverRestarted)
            .ok_or(CoreError::Stale)?;
        self.bind(hc, slot, driver, first, count, true)
            .ok_or(CoreError::Stale)
    }

    /// The driver has brought `binding` up: from now on its death is not blamed on this
    /// binding's device alone (see [`UsbCore::driver_hello`]).
    pub fn binding_ready(&mut self, binding: BindingId) -> Result<(), CoreError> {
        let index = usize::from(binding.slot);
        self.binding_slot(binding)?;
        if let Some(b) = self.bindings[index].value.as_mut() {
            b.ready = true;
        }
        Ok(())
    }

    /// A class driver's task says hello at start, naming its incarnation (its restart
    /// count and its count of faulted incarnations). A new restart count means the old
    /// incarnation died (doc/usb-host.md 6.4): its pending events are dropped and every
    /// binding it served is replaced with a `resync` one on fresh pipes for the new owner.
    /// If the fault count moved, the death was a fault, and counts as a strike against the
    /// devices of the bindings it had not yet brought up (it died setting them up), or, if
    /// it had brought all up, against every device it served; at [`STRIKE_LIMIT`] the
    /// device is quarantined. A restart on request (console `restart`, `humility jefe -s`,
    /// an unload and load) is nobody's fault and strikes nothing.
    pub fn driver_hello(
        &mut self,
        hc: &mut impl HostController,
        driver: DriverKind,
        incarnation: Incarnation,
    ) -> Hello {
        let seen = self.driver_incarnations[driver as usize].replace(incarnation);
        let faulted = match seen {
            None => return Hello::First,
            Some(old) if old.restarts == incarnation.restarts => return Hello::Repeated,
            Some(old) => old.faults != incarnation.faults,
        };
        while self.take_event_for(driver).is_some() {}
        let served: [Option<(BindingId, bool)>; MAX_BINDINGS] = core::array::from_fn(|i| {
            self.bindings[i]
                .value
                .as_ref()
                .filter(|b| b.driver == driver)
                .map(|b| (self.binding_id(i), b.ready))
        });
        let all_ready = served.iter().flatten().all(|(_, ready)| *ready);
        let (mut rebound, mut quarantined) = (0, 0);
        for (id, ready) in served.into_iter().flatten() {
            // A quarantine above may already have removed this binding (same device).
            let outcome = if faulted && (all_ready || !ready) {
                self.report_driver_fault(hc, id)
            } else {
                self.rebind(hc, id).map(FaultOutcome::Rebound)
            };
            match outcome {
                Ok(FaultOutcome::Rebound(_)) => rebound += 1,
                Ok(FaultOutcome::Quarantined) => quarantined += 1,
                Err(_) => {}
            }
        }
        Hello::Restarted {
            rebound,
            quarantined,
            faulted,
        }
    }

    /// The class driver's view of its binding.
    pub fn port<'a, H: HostController>(
        &'a mut self,
        hc: &'a mut H,
        binding: BindingId,
    ) -> Result<CorePort<'a, H>, CoreError> {
        let b = self.binding_slot(binding)?;
        let device = self.devices[usize::from(b.device)]
            .value
            .as_ref()
            .ok_or(CoreError::Stale)?;
        if device.info.quarantined {
            return Err(CoreError::Quarantined);
        }
        Ok(CorePort {
            hc,
            binding: b,
            ep0: device.ep0,
        })
    }
}

/// [`ClassPort`] for one binding: EP0 through the policy, the binding's own pipes directly.
pub struct CorePort<'a, H> {
    hc: &'a mut H,
    binding: &'a Binding,
    ep0: PipeId,
}

impl policy::BindingScope for Binding {
    fn has_interface(&self, number: u8) -> bool {
        number >= self.first_interface && number - self.first_interface < self.interface_count
    }
    fn has_endpoint(&self, address: u8) -> bool {
        self.pipes.iter().flatten().any(|(ep, _)| ep.0 == address)
    }
    fn owns_device(&self) -> bool {
        self.driver == DriverKind::Hub
    }
}

impl<H: HostController> CorePort<'_, H> {
    /// The device half of [`ClassPort::clear_halt`]: CLEAR_FEATURE(ENDPOINT_HALT) on EP0 for
    /// an endpoint of the binding. Returns the endpoint's pipe, whose host toggle the caller
    /// must reset next (in the task design the driver does, as it owns the pipe).
    pub fn clear_device_halt(&mut self, ep: EpAddr) -> Result<PipeId, PortError> {
        let pipe = self.pipe(ep)?;
        self.hc.control(
            self.ep0,
            &SetupPacket::clear_endpoint_halt(ep),
            &mut [],
            CONTROL_TIMEOUT_MS,
        )?;
        Ok(pipe)
    }

    fn pipe(&self, ep: EpAddr) -> Result<PipeId, PortError> {
        self.binding
            .pipes
            .iter()
            .flatten()
            .find(|(addr, _)| *addr == ep)
            .map(|(_, p)| *p)
            .ok_or(PortError::NoSuchEndpoint)
    }
}

impl<H: HostController> ClassPort for CorePort<'_, H> {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Result<usize, PortError> {
        if !policy::control_allowed(self.binding, setup) {
            return Err(PortError::Refused);
        }
        Ok(self.hc.control(self.ep0, setup, data, CONTROL_TIMEOUT_MS)?)
    }

    fn transfer_in(
        &mut self,
        ep: EpAddr,
        buf: &mut [u8],
        timeout_ms: u32,
    ) -> Result<usize, PortError> {
        let pipe = self.pipe(ep)?;
        Ok(self.hc.transfer_in(pipe, buf, timeout_ms)?)
    }

    fn transfer_out(
        &mut self,
        ep: EpAddr,
        data: &[u8],
        zlp: bool,
        timeout_ms: u32,
    ) -> Result<usize, PortError> {
        let pipe = self.pipe(ep)?;
        Ok(self.hc.transfer_out(pipe, data, zlp, timeout_ms)?)
    }

    fn clear_halt(&mut self, ep: EpAddr) -> Result<(), PortError> {
        let pipe = self.clear_device_halt(ep)?;
        Ok(self.hc.reset_toggle(pipe)?)
    }

    fn delay_ms(&mut self, ms: u32) {
        self.hc.delay_ms(ms);
    }
}
