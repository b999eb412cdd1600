//! The values `idl/usb-core.idol` carries, and their conversions to and from
//! `usb-core-logic`'s types. Every byte of a record a client fills in a lease is valid
//! (`FromBytes`); enums travel only in replies and arguments, where the stubs refuse a byte
//! no variant has.

use idol_runtime::zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, TryFromBytes};
use usb_core_logic::{
    BindingEvent, BindingId, BindingInfo, CoreError, DeviceId, DeviceInfo, DriverKind,
    InterfaceBinding, InterfacePlan, MAX_BOUND_PIPES, UnbindReason,
};
use usb_hcd_api::wire::{speed, speed_code};
use usb_host_api::{EpAddr, PortError, Speed, XferError};

idol_runtime::error_enum! {
    /// Why the core did not carry out a request.
    pub enum UsbCoreError {
        /// The handle's generation is dead: unplugged, rebound, or its driver restarted.
        Stale = 1,
        /// The binding is served by another driver's task.
        NotOwner = 2,
        /// The caller serves no class driver of this image.
        NotADriver = 3,
        /// The EP0 policy forbids this request for this binding.
        Refused = 4,
        /// The endpoint is not part of the binding.
        NoSuchEndpoint = 5,
        /// The device is quarantined: its driver failed too often.
        Quarantined = 6,
        /// The data lease is shorter than the setup packet's wLength, or wLength is over 512.
        BadLength = 7,
        /// The lease cannot hold the configuration blob.
        BufferTooSmall = 8,
        /// The hub operation needs the address-0 token, which another port holds.
        AddressZeroBusy = 9,
        Stall = 10,
        Timeout = 11,
        TransactionError = 12,
        Babble = 13,
        DataToggle = 14,
        Disconnected = 15,
        Canceled = 16,
        BadPipe = 17,
        Busy = 18,
        NoResources = 19,
        TooLarge = 20,
        BufferFault = 21,
        /// The device behind the hub port failed enumeration (the reason is in the core's
        /// ring buffer); it holds no address.
        EnumerationFailed = 22,
        /// The caller holds no address-0 token for this hub port (`acquire_address_zero`).
        NoAddressZero = 23,
    }
}

impl From<XferError> for UsbCoreError {
    fn from(e: XferError) -> Self {
        match e {
            XferError::Stall => UsbCoreError::Stall,
            XferError::Timeout => UsbCoreError::Timeout,
            XferError::TransactionError => UsbCoreError::TransactionError,
            XferError::Babble => UsbCoreError::Babble,
            XferError::DataToggle => UsbCoreError::DataToggle,
            XferError::Disconnected => UsbCoreError::Disconnected,
            XferError::Canceled => UsbCoreError::Canceled,
            XferError::BadPipe => UsbCoreError::BadPipe,
            XferError::Busy => UsbCoreError::Busy,
            XferError::NoResources => UsbCoreError::NoResources,
            XferError::TooLarge => UsbCoreError::TooLarge,
            XferError::BufferFault => UsbCoreError::BufferFault,
        }
    }
}

impl From<CoreError> for UsbCoreError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::Stale => UsbCoreError::Stale,
            CoreError::AddressZeroBusy => UsbCoreError::AddressZeroBusy,
            CoreError::NotAHub => UsbCoreError::Refused,
            CoreError::Quarantined => UsbCoreError::Quarantined,
            CoreError::BufferTooSmall => UsbCoreError::BufferTooSmall,
        }
    }
}

impl From<PortError> for UsbCoreError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::Xfer(e) => e.into(),
            PortError::Refused => UsbCoreError::Refused,
            PortError::Stale => UsbCoreError::Stale,
            PortError::NoSuchEndpoint => UsbCoreError::NoSuchEndpoint,
        }
    }
}

impl UsbCoreError {
    /// What the error means to a class driver: anything that ends the binding is `Stale`.
    pub fn to_port(self) -> PortError {
        let xfer = match self {
            UsbCoreError::Stale
            | UsbCoreError::NotOwner
            | UsbCoreError::NotADriver
            | UsbCoreError::Quarantined => return PortError::Stale,
            UsbCoreError::Refused | UsbCoreError::NoAddressZero => return PortError::Refused,
            UsbCoreError::EnumerationFailed => XferError::TransactionError,
            UsbCoreError::NoSuchEndpoint => return PortError::NoSuchEndpoint,
            UsbCoreError::BadLength | UsbCoreError::TooLarge => XferError::TooLarge,
            UsbCoreError::BufferTooSmall | UsbCoreError::BufferFault => XferError::BufferFault,
            UsbCoreError::AddressZeroBusy | UsbCoreError::Busy => XferError::Busy,
            UsbCoreError::Stall => XferError::Stall,
            UsbCoreError::Timeout => XferError::Timeout,
            UsbCoreError::TransactionError => XferError::TransactionError,
            UsbCoreError::Babble => XferError::Babble,
            UsbCoreError::DataToggle => XferError::DataToggle,
            UsbCoreError::Disconnected => XferError::Disconnected,
            UsbCoreError::Canceled => XferError::Canceled,
            UsbCoreError::BadPipe => XferError::BadPipe,
            UsbCoreError::NoResources => XferError::NoResources,
        };
        PortError::Xfer(xfer)
    }
}

/// A binding: `{slot, generation}` of the core's binding table and the core incarnation
/// (`epoch`) that gave it out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct BindingHandle {
    pub slot: u8,
    pub generation: u16,
    pub epoch: u32,
}

impl From<BindingId> for BindingHandle {
    fn from(id: BindingId) -> Self {
        BindingHandle {
            slot: id.slot,
            generation: id.generation,
            epoch: id.epoch,
        }
    }
}

impl From<BindingHandle> for BindingId {
    fn from(h: BindingHandle) -> Self {
        BindingId {
            slot: h.slot,
            generation: h.generation,
            epoch: h.epoch,
        }
    }
}

/// A device: `{slot, generation}` of the core's device table and the core incarnation
/// (`epoch`) that gave it out.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct DeviceHandle {
    pub slot: u8,
    pub generation: u16,
    pub epoch: u32,
}

impl From<DeviceId> for DeviceHandle {
    fn from(id: DeviceId) -> Self {
        DeviceHandle {
            slot: id.slot,
            generation: id.generation,
            epoch: id.epoch,
        }
    }
}

impl From<DeviceHandle> for DeviceId {
    fn from(h: DeviceHandle) -> Self {
        DeviceId {
            slot: h.slot,
            generation: h.generation,
            epoch: h.epoch,
        }
    }
}

/// [`DriverKind`] on the wire.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(u8)]
pub enum Driver {
    Hid = 0,
    MassStorage = 1,
    CdcAcm = 2,
    Hub = 3,
}

impl From<DriverKind> for Driver {
    fn from(d: DriverKind) -> Self {
        match d {
            DriverKind::Hid => Driver::Hid,
            DriverKind::MassStorage => Driver::MassStorage,
            DriverKind::CdcAcm => Driver::CdcAcm,
            DriverKind::Hub => Driver::Hub,
        }
    }
}

impl From<Driver> for DriverKind {
    fn from(d: Driver) -> Self {
        match d {
            Driver::Hid => DriverKind::Hid,
            Driver::MassStorage => DriverKind::MassStorage,
            Driver::CdcAcm => DriverKind::CdcAcm,
            Driver::Hub => DriverKind::Hub,
        }
    }
}

/// What happened to a binding, with the unbind reason folded in so that every value means
/// exactly one thing.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(u8)]
pub enum EventKind {
    /// No event is pending; the other fields mean nothing.
    Empty = 0,
    Bound = 1,
    /// Bound again after the driver's restart: resynchronise the device (doc/usb-host.md 6.4).
    BoundResync = 2,
    UnboundDisconnected = 3,
    /// The driver's task died (faulted or restarted on request); a `BoundResync` follows.
    UnboundDriverRestarted = 4,
    UnboundQuarantined = 5,
}

/// One binding event (`next_event`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct EventRecord {
    pub kind: EventKind,
    pub driver: Driver,
    pub binding: BindingHandle,
}

impl EventRecord {
    pub const EMPTY: EventRecord = EventRecord {
        kind: EventKind::Empty,
        driver: Driver::Hid,
        binding: BindingHandle {
            slot: 0,
            generation: 0,
            epoch: 0,
        },
    };

    pub fn new(event: Option<BindingEvent>) -> Self {
        let Some(event) = event else {
            return EventRecord::EMPTY;
        };
        let (kind, binding) = match event {
            BindingEvent::Bound {
                binding, resync, ..
            } => (
                if resync {
                    EventKind::BoundResync
                } else {
                    EventKind::Bound
                },
                binding,
            ),
            BindingEvent::Unbound {
                binding, reason, ..
            } => (
                match reason {
                    UnbindReason::Disconnected => EventKind::UnboundDisconnected,
                    UnbindReason::DriverRestarted => EventKind::UnboundDriverRestarted,
                    UnbindReason::Quarantined => EventKind::UnboundQuarantined,
                },
                binding,
            ),
        };
        EventRecord {
            kind,
            driver: event.driver().into(),
            binding: binding.into(),
        }
    }

    pub fn event(self) -> Option<BindingEvent> {
        let binding = self.binding.into();
        let driver = self.driver.into();
        let unbound = |reason| BindingEvent::Unbound {
            binding,
            driver,
            reason,
        };
        Some(match self.kind {
            EventKind::Empty => return None,
            EventKind::Bound | EventKind::BoundResync => BindingEvent::Bound {
                binding,
                driver,
                resync: self.kind == EventKind::BoundResync,
            },
            EventKind::UnboundDisconnected => unbound(UnbindReason::Disconnected),
            EventKind::UnboundDriverRestarted => unbound(UnbindReason::DriverRestarted),
            EventKind::UnboundQuarantined => unbound(UnbindReason::Quarantined),
        })
    }
}

/// One pipe the core opened for a binding's driver: the `usb-hcd` handle and its endpoint
/// address (never 0: EP0 belongs to the core; 0 marks an unused entry).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct PipeRecord {
    pub handle: u32,
    pub endpoint: u8,
}

impl PipeRecord {
    pub const NONE: PipeRecord = PipeRecord {
        handle: 0,
        endpoint: 0,
    };
}

/// A binding as its driver sees it (`binding_info`); the configuration blob travels in the
/// lease.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct BindingSummary {
    pub config_len: u16,
    pub device: DeviceHandle,
    pub driver: Driver,
    pub first_interface: u8,
    /// `usb_hcd_api::wire::speed_code`.
    pub speed: u8,
    pub pipes: [PipeRecord; MAX_BOUND_PIPES],
}

impl BindingSummary {
    pub fn new(info: &BindingInfo, device: DeviceId, pipes: [PipeRecord; MAX_BOUND_PIPES]) -> Self {
        BindingSummary {
            // The blob is at most `usb_core_logic::CONFIG_BUF` bytes.
            config_len: info.config_len as u16,
            device: device.into(),
            driver: info.driver.into(),
            first_interface: info.first_interface,
            speed: speed_code(info.speed),
            pipes,
        }
    }

    pub fn speed(&self) -> Option<Speed> {
        speed(self.speed)
    }

    /// The `usb-hcd` handle of the pipe for `ep`.
    pub fn pipe(&self, ep: EpAddr) -> Option<u32> {
        self.pipes
            .iter()
            .find(|p| p.endpoint != 0 && p.endpoint == ep.0)
            .map(|p| p.handle)
    }
}

/// One device of the tree (`devices`). Every byte pattern is a value: a client fills the
/// lease.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct DeviceRecord {
    pub vendor_id: u16,
    pub product_id: u16,
    pub handle: DeviceHandle,
    pub address: u8,
    /// `usb_hcd_api::wire::speed_code`.
    pub speed: u8,
    /// 0 on the root port, 1 behind a root hub...
    pub tier: u8,
    /// The address of the hub the device is behind, 0 on the root port.
    pub parent_address: u8,
    /// The hub port the device is in (from 1), 0 on the root port.
    pub port: u8,
    /// 1 when the device is quarantined.
    pub quarantined: u8,
}

impl DeviceRecord {
    pub fn new(id: DeviceId, info: &DeviceInfo) -> Self {
        DeviceRecord {
            vendor_id: info.vendor_id,
            product_id: info.product_id,
            handle: id.into(),
            address: info.address,
            speed: speed_code(info.speed),
            tier: info.tier,
            parent_address: info.parent_address,
            port: info.port,
            quarantined: u8::from(info.quarantined),
        }
    }
}

/// What an interface became: [`InterfaceRecord::plan`].
pub mod plan {
    pub const DRIVER: u8 = 1;
    pub const NO_DRIVER: u8 = 2;
    pub const UNUSABLE: u8 = 3;
}

/// One interface of a device (`interface_plan`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, FromBytes, KnownLayout, Immutable)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C, packed)]
pub struct InterfaceRecord {
    /// The restart count of the driver task serving it, valid when `driver_seen` is 1.
    pub driver_incarnation: u32,
    /// `plan::UNUSABLE`: offset of the malformed descriptor in the configuration blob.
    pub fault_offset: u16,
    pub interface: u8,
    /// One of [`plan`].
    pub plan: u8,
    /// `plan::DRIVER`: the [`Driver`] code, and the function it serves.
    pub driver: u8,
    pub first_interface: u8,
    pub interface_count: u8,
    /// `plan::NO_DRIVER`: the class triple nobody serves.
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    /// 1 when the driver task has said hello (so `driver_incarnation` is known).
    pub driver_seen: u8,
}

impl InterfaceRecord {
    /// The record of `plan`; `incarnation` tells which incarnation of a driver task serves it.
    pub fn new(plan: &InterfacePlan, incarnation: impl Fn(DriverKind) -> Option<u32>) -> Self {
        let mut record = InterfaceRecord {
            driver_incarnation: 0,
            fault_offset: 0,
            interface: plan.interface,
            plan: 0,
            driver: 0,
            first_interface: 0,
            interface_count: 0,
            class: 0,
            subclass: 0,
            protocol: 0,
            driver_seen: 0,
        };
        match plan.binding {
            InterfaceBinding::Driver {
                driver,
                first_interface,
                interface_count,
            } => {
                record.plan = plan::DRIVER;
                record.driver = Driver::from(driver) as u8;
                record.first_interface = first_interface;
                record.interface_count = interface_count;
                if let Some(n) = incarnation(driver) {
                    record.driver_incarnation = n;
                    record.driver_seen = 1;
                }
            }
            InterfaceBinding::NoDriver {
                class,
                subclass,
                protocol,
            } => {
                record.plan = plan::NO_DRIVER;
                (record.class, record.subclass, record.protocol) = (class, subclass, protocol);
            }
            InterfaceBinding::Unusable(fault) => {
                record.plan = plan::UNUSABLE;
                record.fault_offset = fault.offset;
            }
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use usb_proto::descriptor::DescriptorError;
    use usb_proto::walk::InterfaceFault;

    const XFER_ERRORS: [XferError; 12] = [
        XferError::Stall,
        XferError::Timeout,
        XferError::TransactionError,
        XferError::Babble,
        XferError::DataToggle,
        XferError::Disconnected,
        XferError::Canceled,
        XferError::BadPipe,
        XferError::Busy,
        XferError::NoResources,
        XferError::TooLarge,
        XferError::BufferFault,
    ];

    #[test]
    fn every_port_error_survives_the_wire() {
        let port_errors = XFER_ERRORS.map(PortError::Xfer).into_iter().chain([
            PortError::Refused,
            PortError::Stale,
            PortError::NoSuchEndpoint,
        ]);
        for e in port_errors {
            assert_eq!(UsbCoreError::from(e).to_port(), e);
        }
    }

    #[test]
    fn errors_that_end_the_binding_are_stale_to_the_driver() {
        for e in [
            UsbCoreError::NotOwner,
            UsbCoreError::NotADriver,
            UsbCoreError::Quarantined,
            UsbCoreError::from(CoreError::Quarantined),
        ] {
            assert_eq!(e.to_port(), PortError::Stale, "{e:?}");
        }
    }

    #[test]
    fn every_binding_event_survives_the_wire() {
        let binding = BindingId {
            slot: 3,
            generation: 0xFEDC,
            epoch: 0x8765_4321,
        };
        let driver = DriverKind::MassStorage;
        let unbound = |reason| BindingEvent::Unbound {
            binding,
            driver,
            reason,
        };
        let events = [
            BindingEvent::Bound {
                binding,
                driver,
                resync: false,
            },
            BindingEvent::Bound {
                binding,
                driver: DriverKind::Hub,
                resync: true,
            },
            unbound(UnbindReason::Disconnected),
            unbound(UnbindReason::DriverRestarted),
            unbound(UnbindReason::Quarantined),
        ];
        for event in events {
            let record = EventRecord::new(Some(event));
            let bytes = record.as_bytes();
            let back = EventRecord::try_read_from_bytes(bytes).unwrap();
            assert_eq!(back.event(), Some(event));
        }
        assert_eq!(EventRecord::new(None).event(), None);
    }

    #[test]
    fn an_event_byte_no_kind_has_is_refused() {
        let mut bytes = EventRecord::new(None).as_bytes().to_vec();
        bytes[0] = 6;
        assert!(EventRecord::try_read_from_bytes(&bytes[..]).is_err());
    }

    #[test]
    fn summary_finds_pipes_by_endpoint_and_never_for_ep0() {
        let mut pipes = [PipeRecord::NONE; MAX_BOUND_PIPES];
        pipes[0] = PipeRecord {
            handle: 0x1234_5678,
            endpoint: 0x81,
        };
        pipes[1] = PipeRecord {
            handle: 7,
            endpoint: 0x02,
        };
        let info = BindingInfo {
            driver: DriverKind::MassStorage,
            first_interface: 0,
            speed: Speed::Full,
            config_len: 32,
        };
        let device = DeviceId {
            slot: 1,
            generation: 2,
            epoch: 300,
        };
        let summary = BindingSummary::new(&info, device, pipes);
        assert_eq!(summary.pipe(EpAddr(0x81)), Some(0x1234_5678));
        assert_eq!(summary.pipe(EpAddr(0x02)), Some(7));
        assert_eq!(summary.pipe(EpAddr(0x01)), None, "direction matters");
        assert_eq!(summary.pipe(EpAddr(0)), None, "unused entries are not EP0");
        assert_eq!(summary.speed(), Some(Speed::Full));
        assert_eq!(DeviceId::from(summary.device), device);
    }

    #[test]
    fn interface_records_carry_each_plan() {
        let bound = InterfacePlan {
            interface: 1,
            binding: InterfaceBinding::Driver {
                driver: DriverKind::CdcAcm,
                first_interface: 0,
                interface_count: 2,
            },
        };
        let record = InterfaceRecord::new(&bound, |d| (d == DriverKind::CdcAcm).then_some(9));
        assert_eq!(
            (record.plan, record.driver, record.interface_count),
            (plan::DRIVER, Driver::CdcAcm as u8, 2)
        );
        assert_eq!({ record.driver_incarnation }, 9);
        assert_eq!(record.driver_seen, 1);
        let unseen = InterfaceRecord::new(&bound, |_| None);
        assert_eq!(unseen.driver_seen, 0, "no hello yet");

        let orphan = InterfacePlan {
            interface: 2,
            binding: InterfaceBinding::NoDriver {
                class: 0xFF,
                subclass: 1,
                protocol: 2,
            },
        };
        let record = InterfaceRecord::new(&orphan, |_| Some(1));
        assert_eq!(
            (record.plan, record.class, record.subclass, record.protocol),
            (plan::NO_DRIVER, 0xFF, 1, 2)
        );
        assert_eq!(record.driver_seen, 0);

        let broken = InterfacePlan {
            interface: 0,
            binding: InterfaceBinding::Unusable(InterfaceFault {
                offset: 41,
                error: DescriptorError::Truncated,
            }),
        };
        let record = InterfaceRecord::new(&broken, |_| None);
        assert_eq!((record.plan, { record.fault_offset }), (plan::UNUSABLE, 41));
    }
}
