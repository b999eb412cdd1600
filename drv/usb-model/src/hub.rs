//! Simulated 4-port full-speed hub with per-port power switching.
//!
//! Port state machine (USB 2.0 11.5, simplified):
//!
//! | Event | Port change |
//! |---|---|
//! | SetPortFeature(POWER) with a device plugged | connected, `C_PORT_CONNECTION` |
//! | device plugged / unplugged while powered | connected toggles, enable drops, `C_PORT_CONNECTION` |
//! | SetPortFeature(RESET) while connected | resetting for 10 frames, then the child is bus-reset, enabled, `C_PORT_RESET` |
//! | ClearPortFeature(ENABLE / POWER) | disabled / unpowered |
//! | ClearPortFeature(C_*) | that change bit cleared |
//!
//! The status-change endpoint (EP1 IN) answers with the bitmap of ports that have change bits
//! set, or NAK. Transactions reach a child only while its port is enabled; enabled children
//! get frame ticks through the hub.

use crate::device::{Ch9Device, EpIn, Function, SimDevice};
use crate::{concat, device_descriptor};
use usb_proto::hub::{PortStatus, change, feature, status};
use usb_proto::setup::{Recipient, RequestType, SetupPacket, request};
use usb_proto::{Speed, descriptor::ty};

pub const PORTS: usize = 4;
const RESET_FRAMES: u8 = 10;

const CONFIG: [u8; 25] = concat(&[
    &[9, 2, 25, 0, 1, 1, 0, 0xE0, 0],
    &[9, 4, 0, 0, 1, 0x09, 0, 0, 0],
    &[7, 5, 0x81, 3, 1, 0, 12],
]);

const HUB_DESCRIPTOR: [u8; 9] = [9, ty::HUB, PORTS as u8, 0x09, 0x00, 50, 100, 0x00, 0xFF];

#[derive(Default)]
struct Port<'d> {
    device: Option<&'d mut dyn SimDevice>,
    plugged: bool,
    powered: bool,
    enabled: bool,
    reset_frames: u8,
    change: u16,
}

impl<'d> Port<'d> {
    fn connected(&self) -> bool {
        self.powered && self.plugged && self.device.is_some()
    }

    fn status(&self) -> PortStatus {
        let mut s = 0;
        if self.connected() {
            s |= status::CONNECTION;
            if self
                .device
                .as_deref()
                .is_some_and(|d| d.speed() == Speed::Low)
            {
                s |= status::LOW_SPEED;
            }
        }
        if self.enabled {
            s |= status::ENABLE;
        }
        if self.reset_frames > 0 {
            s |= status::RESET;
        }
        if self.powered {
            s |= status::POWER;
        }
        PortStatus {
            status: s,
            change: self.change,
        }
    }

    fn enabled_device(&mut self) -> Option<&mut (dyn SimDevice + 'd)> {
        if self.enabled {
            self.device.as_deref_mut()
        } else {
            None
        }
    }
}

pub struct Hub<'d> {
    ports: [Port<'d>; PORTS],
}

pub type SimHub<'d> = Ch9Device<Hub<'d>>;

/// A hub with `devices[i]` in port `i + 1` (plugged).
pub fn hub<'d>(devices: [Option<&'d mut dyn SimDevice>; PORTS]) -> SimHub<'d> {
    let mut ports: [Port<'d>; PORTS] = Default::default();
    for (port, device) in ports.iter_mut().zip(devices) {
        port.plugged = device.is_some();
        port.device = device;
    }
    Ch9Device::new(
        Hub { ports },
        Speed::Full,
        device_descriptor(0x09, 64, 0x1209, 0x0005),
        &CONFIG,
    )
}

impl<'d> Hub<'d> {
    fn port(&mut self, index: u16) -> Option<&mut Port<'d>> {
        usize::from(index)
            .checked_sub(1)
            .and_then(move |i| self.ports.get_mut(i))
    }

    fn port_request(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        let port = self.port(setup.index)?;
        match setup.request {
            request::GET_STATUS => {
                let bytes = port.status().to_bytes();
                let n = bytes.len().min(data.len());
                data[..n].copy_from_slice(&bytes[..n]);
                Some(n)
            }
            request::SET_FEATURE => match setup.value {
                feature::PORT_POWER => {
                    port.powered = true;
                    if port.connected() {
                        port.change |= change::CONNECTION;
                    }
                    Some(0)
                }
                feature::PORT_RESET if port.connected() => {
                    port.reset_frames = RESET_FRAMES;
                    port.enabled = false;
                    Some(0)
                }
                feature::PORT_SUSPEND => Some(0),
                _ => None,
            },
            request::CLEAR_FEATURE => match setup.value {
                feature::PORT_ENABLE => {
                    port.enabled = false;
                    Some(0)
                }
                feature::PORT_POWER => {
                    port.powered = false;
                    port.enabled = false;
                    Some(0)
                }
                selector @ feature::C_PORT_CONNECTION..=feature::C_PORT_RESET => {
                    port.change &= !(1 << (selector - feature::C_PORT_CONNECTION));
                    Some(0)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

impl Function for Hub<'_> {
    fn control(&mut self, setup: &SetupPacket, data: &mut [u8]) -> Option<usize> {
        if setup.request_type() != RequestType::Class {
            return None;
        }
        match setup.recipient() {
            Recipient::Device if setup.request == request::GET_DESCRIPTOR => {
                let n = HUB_DESCRIPTOR.len().min(data.len());
                data[..n].copy_from_slice(&HUB_DESCRIPTOR[..n]);
                Some(n)
            }
            Recipient::Device if setup.request == request::GET_STATUS => {
                let n = data.len().min(4);
                data[..n].fill(0);
                Some(n)
            }
            Recipient::Device if setup.request == request::CLEAR_FEATURE => Some(0),
            Recipient::Other => self.port_request(setup, data),
            _ => None,
        }
    }

    fn data_in(&mut self, ep: u8, out: &mut [u8]) -> EpIn {
        if ep != 1 {
            return EpIn::Halt;
        }
        let mut bitmap = 0u8;
        for (i, port) in self.ports.iter().enumerate() {
            if port.change != 0 {
                bitmap |= 1 << (i + 1);
            }
        }
        if bitmap == 0 {
            return EpIn::Nak;
        }
        out[0] = bitmap;
        EpIn::Data(1)
    }

    fn reset(&mut self) {
        for port in &mut self.ports {
            port.powered = false;
            port.enabled = false;
            port.reset_frames = 0;
            port.change = 0;
        }
    }

    fn frame_tick(&mut self) {
        for port in &mut self.ports {
            if port.reset_frames > 0 {
                port.reset_frames -= 1;
                if port.reset_frames == 0 && port.connected() {
                    if let Some(dev) = port.device.as_deref_mut() {
                        dev.bus_reset();
                    }
                    port.enabled = true;
                    port.change |= change::RESET;
                }
            }
            if let Some(dev) = port.enabled_device() {
                dev.frame_tick();
            }
        }
    }

    /// The key reaches the first keyboard on an enabled port.
    fn press_key(&mut self, usage: u8) -> bool {
        self.ports
            .iter_mut()
            .filter_map(|p| p.enabled_device())
            .any(|d| d.press_key(usage))
    }

    fn route_downstream(&mut self, address: u8) -> Option<&mut dyn SimDevice> {
        self.ports
            .iter_mut()
            .filter_map(|p| p.enabled_device())
            .find_map(|d| d.route(address))
    }

    fn downstream_responders(&self, address: u8) -> usize {
        self.ports
            .iter()
            .filter(|p| p.enabled)
            .filter_map(|p| p.device.as_deref())
            .map(|d| d.responders(address))
            .sum()
    }

    fn set_port_connected(&mut self, port: u8, connected: bool) -> bool {
        let Some(p) = self.port(u16::from(port)) else {
            return false;
        };
        let was = p.connected();
        p.plugged = connected;
        if !connected {
            p.enabled = false;
        }
        if p.connected() != was {
            p.change |= change::CONNECTION;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hid;

    /// `usb-sim`'s `press` on a hub reaches the keyboard behind it: the first enabled port
    /// whose device has keys (a mouse before it has none); a port not yet enabled is skipped.
    #[test]
    fn a_key_pressed_on_a_hub_reaches_the_keyboard_behind_an_enabled_port() {
        let mouse_script = [[0u8; 4]];
        let key_script = [[0u8; 8]];
        let mut mouse = hid::mouse(&mouse_script);
        let mut keyboard = hid::keyboard(&key_script);
        let mut hub = hub([Some(&mut mouse), None, Some(&mut keyboard), None]);
        hub.function.ports[0].enabled = true;
        assert!(!hub.press_key(0x05), "the keyboard's port is not enabled");
        hub.function.ports[2].enabled = true;
        assert!(hub.press_key(0x05));
    }
}
