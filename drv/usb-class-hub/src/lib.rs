//! Hub class-driver logic.
//!
//! What it is: the logic of the `usb-hub` task for one hub binding.
//!
//! | Step | Requests | Failure |
//! |---|---|---|
//! | attach (first, or after a restart of the driver) | GetHubDescriptor, GetPortStatus per port, SetPortFeature(POWER) per unpowered port, then wait bPwrOn2PwrGood | `BadDescriptor`, `TooManyPorts`, `Port` |
//! | check_port (reconciling after a restart) | GetPortStatus, ClearPortFeature(C_*) per set bit | `NoSuchPort` |
//! | poll | status-change IN (NAK = nothing) → first changed port: GetPortStatus, ClearPortFeature(C_*) per set bit | change bit for a port beyond `bNbrPorts`: ignored |
//! | reset_port | SetPortFeature(RESET), GetPortStatus until C_RESET (≤ 10 × 10 ms), ClearPortFeature(C_RESET), 10 ms recovery | `ResetTimeout`, `NotEnabled`, `BadSpeed` (LS and HS both set) |
//!
//! Invariants: `bNbrPorts` is validated against the status bitmap this driver reads
//! ([`MAX_PORTS`]); only one port is handled per status poll; every change bit that was seen
//! set is cleared, so a hub cannot make the driver spin on a stale change.
#![no_std]
#![forbid(unsafe_code)]

use usb_host_api::{ClassPort, Direction, EpAddr, EpType, PortError, Speed, XferError};
use usb_proto::descriptor::HubDescriptor;
use usb_proto::hub::{self, PortStatus, change, feature};
use usb_proto::walk::Configuration;

/// Ports a one-byte status bitmap can carry (bit 0 is the hub itself).
pub const MAX_PORTS: u8 = 7;
const RESET_POLLS: u32 = 10;
const RESET_POLL_MS: u32 = 10;
const RESET_RECOVERY_MS: u32 = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubError {
    NotAHub,
    NoStatusEndpoint,
    BadDescriptor,
    TooManyPorts(u8),
    NoSuchPort,
    ResetTimeout,
    NotEnabled,
    BadSpeed,
    Port(PortError),
}

impl From<PortError> for HubError {
    fn from(e: PortError) -> Self {
        HubError::Port(e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HubEvent {
    Connected(u8),
    Disconnected(u8),
    OverCurrent(u8),
}

/// One port as [`HubDriver::check_port`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortCheck {
    pub connected: bool,
    pub connection_changed: bool,
    pub over_current: bool,
}

pub struct HubDriver {
    pub ports: u8,
    status_endpoint: EpAddr,
}

impl HubDriver {
    pub fn attach(
        port: &mut impl ClassPort,
        config: &Configuration<'_>,
        interface: u8,
    ) -> Result<Self, HubError> {
        let iface = config
            .interfaces()
            .find(|i| i.number == interface && i.class == hub::CLASS)
            .ok_or(HubError::NotAHub)?;
        let ep = iface
            .endpoint(EpType::Interrupt, Direction::In)
            .ok_or(HubError::NoStatusEndpoint)?;
        let mut raw = [0u8; 16];
        let n = port.control(&hub::get_hub_descriptor(raw.len() as u16), &mut raw)?;
        let desc = HubDescriptor::new_checked(&raw[..n]).map_err(|_| HubError::BadDescriptor)?;
        if desc.num_ports() > MAX_PORTS {
            return Err(HubError::TooManyPorts(desc.num_ports()));
        }
        let driver = HubDriver {
            ports: desc.num_ports(),
            status_endpoint: ep.addr,
        };
        // Only ports still unpowered are switched on: a restarted driver finds its
        // predecessor's ports powered, with their devices addressed and configured, and
        // must leave them so (USB 2.0 11.11 lets a hub report a new connection on a
        // repeated PORT_POWER, which would look like a replug).
        let mut powered_any = false;
        for p in 1..=driver.ports {
            if driver.port_status(port, p)?.status & hub::status::POWER == 0 {
                port.control(&hub::set_port_feature(p, feature::PORT_POWER), &mut [])?;
                powered_any = true;
            }
        }
        if powered_any {
            port.delay_ms(u32::from(desc.power_on_to_good_ms()));
        }
        Ok(driver)
    }

    /// Reads `number`'s status and clears every change bit it had: whether a device is
    /// connected, and whether the connection changed since the bit was last cleared (a
    /// device left, or left and came back, maybe while no driver was watching).
    pub fn check_port(
        &mut self,
        port: &mut impl ClassPort,
        number: u8,
    ) -> Result<PortCheck, HubError> {
        if number == 0 || number > self.ports {
            return Err(HubError::NoSuchPort);
        }
        let status = self.port_status(port, number)?;
        self.clear_changes(port, number, status.change)?;
        Ok(PortCheck {
            connected: status.connected(),
            connection_changed: status.change & change::CONNECTION != 0,
            over_current: status.change & change::OVER_CURRENT != 0,
        })
    }

    fn clear_changes(
        &mut self,
        port: &mut impl ClassPort,
        number: u8,
        changes: u16,
    ) -> Result<(), HubError> {
        for bit in (0..5)
            .map(|b| 1u16 << b)
            .filter(|b| changes & b & change::ALL != 0)
        {
            port.control(
                &hub::clear_port_feature(number, hub::clear_selector_for_change(bit)),
                &mut [],
            )?;
        }
        Ok(())
    }

    fn port_status(&self, port: &mut impl ClassPort, number: u8) -> Result<PortStatus, HubError> {
        let mut raw = [0u8; PortStatus::LEN];
        let n = port.control(&hub::get_port_status(number), &mut raw)?;
        PortStatus::parse(&raw[..n]).ok_or(HubError::BadDescriptor)
    }

    /// Waits up to `timeout_ms` for a status change and returns the event it means, if any.
    pub fn poll(
        &mut self,
        port: &mut impl ClassPort,
        timeout_ms: u32,
    ) -> Result<Option<HubEvent>, HubError> {
        let mut bitmap = [0u8; 1];
        match port.transfer_in(self.status_endpoint, &mut bitmap, timeout_ms) {
            Ok(_) => {}
            Err(PortError::Xfer(XferError::Timeout)) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let Some(number) = (1..=self.ports).find(|p| bitmap[0] & (1 << p) != 0) else {
            return Ok(None);
        };
        let check = self.check_port(port, number)?;
        Ok(if check.over_current {
            Some(HubEvent::OverCurrent(number))
        } else if check.connection_changed {
            Some(if check.connected {
                HubEvent::Connected(number)
            } else {
                HubEvent::Disconnected(number)
            })
        } else {
            None
        })
    }

    /// Resets `number` and returns the attached device's speed. The caller must hold the
    /// USB core's address-0 token: after this the device answers at address 0.
    pub fn reset_port(&mut self, port: &mut impl ClassPort, number: u8) -> Result<Speed, HubError> {
        if number == 0 || number > self.ports {
            return Err(HubError::NoSuchPort);
        }
        port.control(&hub::set_port_feature(number, feature::PORT_RESET), &mut [])?;
        for _ in 0..RESET_POLLS {
            port.delay_ms(RESET_POLL_MS);
            let status = self.port_status(port, number)?;
            if status.change & change::RESET == 0 {
                continue;
            }
            port.control(
                &hub::clear_port_feature(number, feature::C_PORT_RESET),
                &mut [],
            )?;
            if !status.enabled() {
                return Err(HubError::NotEnabled);
            }
            let speed = status.speed().ok_or(HubError::BadSpeed)?;
            port.delay_ms(RESET_RECOVERY_MS);
            return Ok(speed);
        }
        Err(HubError::ResetTimeout)
    }
}
