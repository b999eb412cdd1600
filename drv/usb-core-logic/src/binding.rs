//! What each interface of a configuration becomes: bound to a driver (alone or as part of an
//! IAD function), left without a driver, or unusable because one of its class-specific
//! descriptors is malformed. A pure function of the parsed configuration, used both to bind
//! (`UsbCore` binds the `Driver` entries that lead their function) and to report (the
//! `usb` tree, tests), so the two can never disagree.
//!
//! | Interface (alternate setting 0) | Plan |
//! |---|---|
//! | inside a function already planned for a driver | that function's `Driver` entry |
//! | carries an [`InterfaceFault`] | `Unusable(fault)` |
//! | matches a row of [`crate::MATCH_TABLE`] | `Driver`, covering its IAD function, or for CDC-ACM without IAD its Union's data interface |
//! | anything else | `NoDriver { class, subclass, protocol }` |

use core::fmt;

use usb_proto::cdc;
use usb_proto::walk::{Configuration, InterfaceFault, InterfaceInfo, MAX_INTERFACES};

use crate::{DriverKind, match_driver};

/// What one interface becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterfaceBinding {
    /// Served by `driver` as part of the function `first_interface..+interface_count`.
    Driver {
        driver: DriverKind,
        first_interface: u8,
        interface_count: u8,
    },
    /// No row of the match table fits this class triple.
    NoDriver {
        class: u8,
        subclass: u8,
        protocol: u8,
    },
    /// A class-specific descriptor of the interface is malformed.
    Unusable(InterfaceFault),
}

/// The plan for one interface number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfacePlan {
    pub interface: u8,
    pub binding: InterfaceBinding,
}

/// The plan for every interface (alternate setting 0) of `config`, in descriptor order.
pub fn plan_bindings(config: &Configuration<'_>) -> [Option<InterfacePlan>; MAX_INTERFACES] {
    let mut plans: [Option<InterfacePlan>; MAX_INTERFACES] = [None; MAX_INTERFACES];
    let defaults = config.interfaces().filter(|i| i.alternate == 0);
    // The walker holds at most MAX_INTERFACES settings; `take` makes the bound explicit.
    for (index, iface) in defaults.enumerate().take(MAX_INTERFACES) {
        let member_of = plans[..index]
            .iter()
            .flatten()
            .find_map(|p| match p.binding {
                InterfaceBinding::Driver {
                    first_interface,
                    interface_count,
                    ..
                } if iface.number >= first_interface
                    && iface.number - first_interface < interface_count =>
                {
                    Some(p.binding)
                }
                _ => None,
            });
        let binding = if let Some(function) = member_of {
            function
        } else if let Some(fault) = iface.fault {
            InterfaceBinding::Unusable(fault)
        } else if let Some(driver) = match_driver(iface) {
            let (first_interface, interface_count) = function_of(config, iface, driver);
            InterfaceBinding::Driver {
                driver,
                first_interface,
                interface_count,
            }
        } else {
            InterfaceBinding::NoDriver {
                class: iface.class,
                subclass: iface.subclass,
                protocol: iface.protocol,
            }
        };
        plans[index] = Some(InterfacePlan {
            interface: iface.number,
            binding,
        });
    }
    plans
}

/// The interfaces one binding of `driver` at `iface` covers: its IAD function; for CDC-ACM
/// without an IAD, the communications interface and the data interface its Union descriptor
/// names when that one follows directly (the only layout a contiguous binding can hold; older
/// firmware such as the Arduino Uno's and ST's VCP has no IAD); otherwise the interface alone.
fn function_of(config: &Configuration<'_>, iface: &InterfaceInfo, driver: DriverKind) -> (u8, u8) {
    if let Some(f) = iface.function {
        return (f.first_interface, f.interface_count);
    }
    let union = (driver == DriverKind::CdcAcm)
        .then(|| cdc::union_of(config, iface))
        .flatten();
    match union {
        Some(u) if u.control == iface.number && u.subordinate == iface.number.wrapping_add(1) => {
            (iface.number, 2)
        }
        _ => (iface.number, 1),
    }
}

/// Base class names (usb.org class codes) for the "no driver" report.
fn class_name(class: u8) -> &'static str {
    match class {
        0x00 => "unspecified",
        0x01 => "audio",
        0x02 => "communications",
        0x03 => "HID",
        0x07 => "printer",
        0x08 => "mass storage",
        0x09 => "hub",
        0x0A => "CDC data",
        0x0B => "smart card",
        0x0E => "video",
        0xE0 => "wireless controller",
        0xEF => "miscellaneous",
        0xFE => "application specific",
        0xFF => "vendor specific",
        _ => "unknown",
    }
}

impl fmt::Display for InterfaceBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            InterfaceBinding::Driver {
                driver,
                first_interface,
                interface_count,
            } if interface_count > 1 => write!(
                f,
                "{driver} (function of interfaces {first_interface}-{})",
                u16::from(first_interface) + u16::from(interface_count) - 1
            ),
            InterfaceBinding::Driver { driver, .. } => write!(f, "{driver}"),
            InterfaceBinding::NoDriver {
                class,
                subclass,
                protocol,
            } => write!(
                f,
                "no driver for class {class:#04x}/{subclass:#04x}/{protocol:#04x} ({})",
                class_name(class)
            ),
            InterfaceBinding::Unusable(fault) => {
                write!(f, "unusable: {:?} at offset {}", fault.error, fault.offset)
            }
        }
    }
}

impl fmt::Display for InterfacePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.interface, self.binding)
    }
}
