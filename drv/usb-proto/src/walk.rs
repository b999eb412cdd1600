//! Strict, bounded walk over a configuration descriptor blob.
//!
//! The blob is untrusted: a device controls every byte and may answer the 9-byte read and the
//! full read differently. [`parse_configuration`] therefore takes the `wTotalLength` seen in the
//! first read, parses at most `min(first wTotalLength, bytes received)` bytes, and produces a
//! fixed-capacity [`Configuration`] summary or a [`WalkError`] naming the first fault.
//!
//! | Input | Outcome |
//! |---|---|
//! | `wTotalLength` differs from the first read | `TotalLengthChanged` |
//! | fewer bytes than `wTotalLength` | `Truncated` |
//! | `bLength` 0 or 1 (would loop forever or not advance) | `ZeroLength` |
//! | `bLength` running past `wTotalLength` | `Overrun` |
//! | a standard descriptor (interface, endpoint, IAD) with bad fields | `Descriptor { offset, error }` |
//! | a zero-size isochronous endpoint outside alternate setting 0 | `Descriptor { offset, BadMaxPacketSize }` |
//! | a malformed class-specific descriptor of a class we parse | *accepted*; that interface carries an [`InterfaceFault`] |
//! | endpoint before any interface | `OrphanEndpoint` |
//! | more endpoints than `bNumEndpoints`, or fewer | `EndpointCountMismatch` |
//! | more than [`MAX_INTERFACES`] interface settings / [`MAX_ENDPOINTS`] endpoints | `TooManyInterfaces` / `TooManyEndpoints` |
//! | the same interface setting or endpoint twice | `DuplicateInterface` / `DuplicateEndpoint` |
//! | IAD reaching past `bNumInterfaces` | `BadAssociation` |
//! | distinct interface numbers ≠ `bNumInterfaces` | `InterfaceCountMismatch` |
//!
//! # Strict where it protects us, tolerant where a device is merely odd
//!
//! Real devices are not written from the specification, so the rule for what we accept follows
//! what the Linux host stack does with the same bytes (its `drivers/usb/core/config.c` and
//! `drivers/hid/usbhid`), as far as that is safe for a host with fixed-size tables:
//!
//! * Lengths are never trusted: every `bLength`, `wTotalLength` and count is checked against
//!   the bytes actually received before anything is read, and nothing here can panic.
//! * The skeleton of a configuration (configuration, interface, endpoint and association
//!   descriptors) sizes pipes and slots, so a fault in it refuses the whole configuration.
//! * An isochronous endpoint with `wMaxPacketSize` 0 is legal in alternate setting 0: the
//!   specification forbids a default setting to reserve isochronous bandwidth, and devices
//!   such as CSR Bluetooth dongles say "no bandwidth" with zero-size endpoints. Linux treats
//!   exactly this case as normal and complains about a zero `wMaxPacketSize` anywhere else
//!   (some kernel versions skipped such endpoints, later ones keep them with a warning); an
//!   endpoint that should carry data but can carry none is a broken skeleton, so we refuse it.
//!   Zero-size endpoints of a default setting get no pipe when their interface is bound.
//! * A class-specific descriptor type means something only inside an interface of that class:
//!   type 0x21 is a HID descriptor in a HID interface, but belongs to the vendor in a
//!   vendor-class interface (Xbox 360 controllers put their own 0x21 descriptors there). Linux
//!   leaves such descriptors to whichever driver binds the interface; we parse only the ones
//!   of classes we drive and keep the others as the interface's extra bytes.
//! * A malformed class-specific descriptor makes *its interface* unusable, not the device:
//!   the interface is kept in the summary with an [`InterfaceFault`] naming the offset and the
//!   reason, and the USB core reports it instead of binding it. Linux's usbhid likewise
//!   refuses only the one interface whose HID descriptor names no report descriptor.
//! * A HID descriptor is read as usbhid read it from 2017 to 2025: `bNumDescriptors` is
//!   capped by the room in `bLength`, stray bytes after the counted entries are ignored, and a
//!   report descriptor must be among the counted entries (see [`HidDescriptor`]); otherwise
//!   usbhid fails that interface. A stricter check added in 2025 (`bLength` must equal what
//!   `bNumDescriptors` implies) refused working hardware such as the ZWO filter wheel of the
//!   corpus and was reported on linux-usb as a regression, so we keep the tolerant reading.
//!
//! Termination: every step consumes at least two bytes of a slice whose length is bounded, so
//! the walk ends after at most `wTotalLength / 2` steps.

use core::ops::Range;

use crate::descriptor::{
    ConfigurationDescriptor, DescriptorError, EndpointDescriptor, HidDescriptor,
    InterfaceAssociation, InterfaceDescriptor, ty,
};
use crate::{EpAddr, EpType, Speed, hid};

/// Interface settings (interface number × alternate setting) one configuration may hold.
pub const MAX_INTERFACES: usize = 8;
/// Endpoints one interface setting may hold.
pub const MAX_ENDPOINTS: usize = 4;
/// Interface association descriptors one configuration may hold.
pub const MAX_ASSOCIATIONS: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkError {
    Header(DescriptorError),
    TotalLengthChanged { first: u16, second: u16 },
    Truncated { total: u16, received: usize },
    ZeroLength { offset: u16 },
    Overrun { offset: u16 },
    Descriptor { offset: u16, error: DescriptorError },
    OrphanEndpoint { offset: u16 },
    EndpointCountMismatch { interface: u8 },
    TooManyInterfaces,
    TooManyEndpoints { interface: u8 },
    DuplicateInterface { interface: u8, alternate: u8 },
    DuplicateEndpoint { interface: u8 },
    BadAssociation { first: u8 },
    InterfaceCountMismatch { declared: u8, found: u8 },
}

/// One descriptor as found in a blob: its offset, type and exactly `bLength` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawDescriptor<'a> {
    pub offset: u16,
    pub ty: u8,
    pub bytes: &'a [u8],
}

/// Bounded iterator over consecutive descriptors. After the first error it yields nothing.
#[derive(Clone, Debug)]
pub struct DescriptorIter<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> DescriptorIter<'a> {
    /// Iterates `buf`; reported offsets are relative to `buf` plus `base`.
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        DescriptorIter { buf, pos: 0, base }
    }
}

fn offset16(offset: usize) -> u16 {
    u16::try_from(offset).unwrap_or(u16::MAX)
}

impl<'a> Iterator for DescriptorIter<'a> {
    type Item = Result<RawDescriptor<'a>, WalkError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.pos..).filter(|r| !r.is_empty())?;
        let offset = offset16(self.base + self.pos);
        let len = usize::from(rest[0]);
        let result = if len < 2 {
            Err(WalkError::ZeroLength { offset })
        } else if len > rest.len() {
            Err(WalkError::Overrun { offset })
        } else {
            Ok(RawDescriptor {
                offset,
                ty: rest[1],
                bytes: &rest[..len],
            })
        };
        self.pos = if result.is_ok() {
            self.pos + len
        } else {
            self.buf.len()
        };
        Some(result)
    }
}

/// A validated endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointInfo {
    pub addr: EpAddr,
    pub ty: EpType,
    pub max_packet_size: u16,
    pub interval: u8,
}

/// The function (IAD) an interface belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub first_interface: u8,
    pub interface_count: u8,
    pub class: u8,
}

/// Why an interface setting cannot be used although the configuration parsed: the first
/// malformed class-specific descriptor inside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceFault {
    /// Offset of the descriptor in the configuration blob.
    pub offset: u16,
    pub error: DescriptorError,
}

/// A validated interface setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub number: u8,
    pub alternate: u8,
    pub class: u8,
    pub subclass: u8,
    pub protocol: u8,
    endpoints: [Option<EndpointInfo>; MAX_ENDPOINTS],
    declared_endpoints: u8,
    pub function: Option<Function>,
    /// `wDescriptorLength` of the report descriptor when a valid HID descriptor is present.
    pub hid_report_length: Option<u16>,
    /// Set when a class-specific descriptor of this interface is malformed: the interface
    /// must not be bound (the rest of the device is still usable).
    pub fault: Option<InterfaceFault>,
    /// Byte range (in the configuration blob) of the descriptors that follow the interface
    /// descriptor up to the next interface or IAD: class-specific and endpoint descriptors.
    extra_start: u16,
    extra_end: u16,
}

impl InterfaceInfo {
    pub fn endpoints(&self) -> impl Iterator<Item = &EndpointInfo> {
        self.endpoints.iter().flatten()
    }

    pub fn endpoint(&self, ty: EpType, dir: crate::Direction) -> Option<&EndpointInfo> {
        self.endpoints()
            .find(|ep| ep.ty == ty && ep.addr.direction() == dir)
    }

    /// Where the interface's class-specific and endpoint descriptors lie in the blob.
    pub fn extra(&self) -> Range<usize> {
        usize::from(self.extra_start)..usize::from(self.extra_end)
    }

    fn endpoint_count(&self) -> u8 {
        self.endpoints().count() as u8
    }
}

/// A validated configuration: the blob it came from and a fixed-capacity summary.
#[derive(Clone, Debug)]
pub struct Configuration<'a> {
    bytes: &'a [u8],
    pub value: u8,
    pub attributes: u8,
    pub max_power_ma: u16,
    interfaces: [Option<InterfaceInfo>; MAX_INTERFACES],
}

impl<'a> Configuration<'a> {
    /// All interface settings in blob order.
    pub fn interfaces(&self) -> impl Iterator<Item = &InterfaceInfo> {
        self.interfaces.iter().flatten()
    }

    /// The class-specific (and endpoint) descriptors of `interface`.
    pub fn extra_descriptors(&self, interface: &InterfaceInfo) -> DescriptorIter<'a> {
        let range = interface.extra();
        DescriptorIter::new(self.bytes.get(range.clone()).unwrap_or(&[]), range.start)
    }

    /// The bytes the summary was parsed from (exactly the validated `wTotalLength`).
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Walks a configuration blob; see the module documentation for the rules.
pub fn parse_configuration(
    buf: &[u8],
    first_total_length: u16,
    speed: Speed,
) -> Result<Configuration<'_>, WalkError> {
    let header = ConfigurationDescriptor::new_checked(buf).map_err(WalkError::Header)?;
    let total = header.total_length();
    if total != first_total_length {
        return Err(WalkError::TotalLengthChanged {
            first: first_total_length,
            second: total,
        });
    }
    let bytes = buf.get(..usize::from(total)).ok_or(WalkError::Truncated {
        total,
        received: buf.len(),
    })?;

    let mut builder = Builder::new(header.num_interfaces());
    for raw in DescriptorIter::new(
        &bytes[ConfigurationDescriptor::LEN..],
        ConfigurationDescriptor::LEN,
    ) {
        builder.accept(raw?, speed)?;
    }
    builder.finish(bytes.len())?;
    Ok(Configuration {
        bytes,
        value: header.configuration_value(),
        attributes: header.attributes(),
        max_power_ma: header.max_power_ma(),
        interfaces: builder.interfaces,
    })
}

struct Builder {
    declared_interfaces: u8,
    interfaces: [Option<InterfaceInfo>; MAX_INTERFACES],
    count: usize,
    associations: [Option<Function>; MAX_ASSOCIATIONS],
}

impl Builder {
    fn new(declared_interfaces: u8) -> Self {
        Builder {
            declared_interfaces,
            interfaces: [None; MAX_INTERFACES],
            count: 0,
            associations: [None; MAX_ASSOCIATIONS],
        }
    }

    fn current(&mut self) -> Option<&mut InterfaceInfo> {
        self.count
            .checked_sub(1)
            .and_then(|i| self.interfaces[i].as_mut())
    }

    fn accept(&mut self, raw: RawDescriptor<'_>, speed: Speed) -> Result<(), WalkError> {
        let at = |error| WalkError::Descriptor {
            offset: raw.offset,
            error,
        };
        match raw.ty {
            ty::INTERFACE => {
                self.close_current(raw.offset)?;
                let view = InterfaceDescriptor::new_checked(raw.bytes).map_err(at)?;
                self.push_interface(view, raw.offset + raw.bytes.len() as u16)
            }
            ty::INTERFACE_ASSOCIATION => {
                self.close_current(raw.offset)?;
                let view = InterfaceAssociation::new_checked(raw.bytes).map_err(at)?;
                self.push_association(view)
            }
            ty::ENDPOINT => {
                let view = EndpointDescriptor::new_checked(raw.bytes, speed).map_err(at)?;
                let iface = self
                    .current()
                    .ok_or(WalkError::OrphanEndpoint { offset: raw.offset })?;
                if view.max_packet_size() == 0 && iface.alternate != 0 {
                    return Err(at(DescriptorError::BadMaxPacketSize));
                }
                push_endpoint(iface, view)
            }
            ty::HID => {
                // Type 0x21 is a HID descriptor only inside a HID interface.
                if let Some(iface) = self.current().filter(|i| i.class == hid::CLASS) {
                    match HidDescriptor::new_checked(raw.bytes) {
                        Ok(view) => iface.hid_report_length = Some(view.report_descriptor_length()),
                        Err(error) => {
                            iface.fault.get_or_insert(InterfaceFault {
                                offset: raw.offset,
                                error,
                            });
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Ends the extra span of the current interface at `end` and checks its endpoint count.
    fn close_current(&mut self, end: u16) -> Result<(), WalkError> {
        if let Some(iface) = self.current() {
            iface.extra_end = end;
            if iface.endpoint_count() != iface.declared_endpoints {
                return Err(WalkError::EndpointCountMismatch {
                    interface: iface.number,
                });
            }
        }
        Ok(())
    }

    fn push_interface(
        &mut self,
        view: InterfaceDescriptor<'_>,
        extra_start: u16,
    ) -> Result<(), WalkError> {
        let (number, alternate) = (view.number(), view.alternate_setting());
        if self
            .interfaces()
            .any(|i| i.number == number && i.alternate == alternate)
        {
            return Err(WalkError::DuplicateInterface {
                interface: number,
                alternate,
            });
        }
        if self.count == MAX_INTERFACES {
            return Err(WalkError::TooManyInterfaces);
        }
        if usize::from(view.num_endpoints()) > MAX_ENDPOINTS {
            return Err(WalkError::TooManyEndpoints { interface: number });
        }
        let function = self.associations.iter().flatten().copied().find(|f| {
            number >= f.first_interface && number - f.first_interface < f.interface_count
        });
        self.interfaces[self.count] = Some(InterfaceInfo {
            number,
            alternate,
            class: view.class(),
            subclass: view.subclass(),
            protocol: view.protocol(),
            endpoints: [None; MAX_ENDPOINTS],
            declared_endpoints: view.num_endpoints(),
            function,
            hid_report_length: None,
            fault: None,
            extra_start,
            extra_end: extra_start,
        });
        self.count += 1;
        Ok(())
    }

    fn push_association(&mut self, view: InterfaceAssociation<'_>) -> Result<(), WalkError> {
        let first = view.first_interface();
        let end = u16::from(first) + u16::from(view.interface_count());
        let slot = self.associations.iter_mut().find(|a| a.is_none());
        match slot {
            Some(slot) if end <= u16::from(self.declared_interfaces) => {
                *slot = Some(Function {
                    first_interface: first,
                    interface_count: view.interface_count(),
                    class: view.function_class(),
                });
                Ok(())
            }
            _ => Err(WalkError::BadAssociation { first }),
        }
    }

    fn interfaces(&self) -> impl Iterator<Item = &InterfaceInfo> {
        self.interfaces.iter().flatten()
    }

    fn finish(&mut self, end: usize) -> Result<(), WalkError> {
        self.close_current(offset16(end))?;
        let mut seen = [false; 256];
        let mut found = 0u8;
        for iface in self.interfaces.iter().flatten() {
            if !seen[usize::from(iface.number)] {
                seen[usize::from(iface.number)] = true;
                found += 1;
            }
        }
        if found != self.declared_interfaces {
            return Err(WalkError::InterfaceCountMismatch {
                declared: self.declared_interfaces,
                found,
            });
        }
        Ok(())
    }
}

fn push_endpoint(iface: &mut InterfaceInfo, view: EndpointDescriptor<'_>) -> Result<(), WalkError> {
    let number = iface.number;
    if iface.endpoint_count() == iface.declared_endpoints {
        return Err(WalkError::EndpointCountMismatch { interface: number });
    }
    if iface.endpoints().any(|ep| ep.addr == view.address()) {
        return Err(WalkError::DuplicateEndpoint { interface: number });
    }
    let slot = iface.endpoints.iter_mut().find(|e| e.is_none());
    let slot = slot.ok_or(WalkError::TooManyEndpoints { interface: number })?;
    *slot = Some(EndpointInfo {
        addr: view.address(),
        ty: view.ep_type(),
        max_packet_size: view.max_packet_size(),
        interval: view.interval(),
    });
    Ok(())
}

#[cfg(test)]
mod tests;
