//! Enumeration as a state machine (steps 3-10 of doc/usb-host.md 2.2), so that the core
//! never waits on one device.
//!
//! [`UsbCore::begin_enumeration`] takes the address-0 token of a device just reset (on the
//! root port or behind a hub port) and answers with what to do next, an [`EnumNext`]:
//! run one control transfer on the device's EP0, wait a few milliseconds, or stop with the
//! result. The caller reports the transfer with [`UsbCore::enumeration_transferred`] and
//! the wait with [`UsbCore::enumeration_waited`], which answer with the next step. The
//! `usb-core` task runs the transfers asynchronously (it keeps serving its clients while a
//! device takes its time, or NAKs until the transfer's timeout); the blocking
//! [`UsbCore::poll_root`] and [`UsbCore::enumerate_child`] run the same machine to the end
//! through [`UsbCore::run_enumeration`], which is what the host tests drive.
//!
//! | Stage | Transfer (wLength) | Done when | Next |
//! |---|---|---|---|
//! | `DevicePrefix` | GET_DESCRIPTOR(Device) (8) | `bMaxPacketSize0` valid | `SetAddress` |
//! | `SetAddress` | SET_ADDRESS(new) (0) | status stage | wait 2 ms, then EP0 moves: `DeviceDescriptor` |
//! | `DeviceDescriptor` | GET_DESCRIPTOR(Device) (18) | same `bMaxPacketSize0` | `ConfigurationHeader` |
//! | `ConfigurationHeader` | GET_DESCRIPTOR(Configuration) (9) | `wTotalLength` fits | `Configuration` |
//! | `Configuration` | GET_DESCRIPTOR(Configuration) (wTotalLength) | walk valid | `SetConfiguration` |
//! | `SetConfiguration` | SET_CONFIGURATION(value) (0) | status stage | bound, `Done(Ok)` |
//!
//! Any failed transfer or invalid descriptor ends it with `Done(Err)`, and the device keeps
//! nothing: EP0 closed, address and address 0 given back. A device behind a hub whose hub
//! went away meanwhile ends with [`EnumError::NotConnected`]. At most one enumeration is in
//! progress (address 0 is one device at a time).
use super::*;

/// What the caller of the enumeration in progress does next.
#[derive(Debug, PartialEq, Eq)]
pub enum EnumNext {
    /// Run this control transfer on `pipe` (the device's EP0), with IN data of at most
    /// `setup.length` bytes (OUT stages are empty), then report it with
    /// [`UsbCore::enumeration_transferred`].
    Control {
        pipe: PipeId,
        setup: SetupPacket,
        timeout_ms: u32,
    },
    /// Wait `ms` milliseconds, then call [`UsbCore::enumeration_waited`].
    Wait { ms: u32 },
    /// Finished: the device is configured and bound, or it keeps nothing.
    Done(Result<DeviceId, EnumError>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    DevicePrefix,
    SetAddress,
    Recovery,
    DeviceDescriptor,
    ConfigurationHeader,
    Configuration { total: u16 },
    SetConfiguration { value: u8 },
}

impl Stage {
    fn step(self) -> EnumStep {
        match self {
            Stage::DevicePrefix => EnumStep::DevicePrefix,
            Stage::SetAddress | Stage::Recovery => EnumStep::SetAddress,
            Stage::DeviceDescriptor => EnumStep::DeviceDescriptor,
            Stage::ConfigurationHeader => EnumStep::ConfigurationHeader,
            Stage::Configuration { .. } => EnumStep::Configuration,
            Stage::SetConfiguration { .. } => EnumStep::SetConfiguration,
        }
    }
}

/// The enumeration in progress: the device as it will enter the table, and its stage.
pub(crate) struct Enumeration {
    device: Device,
    stage: Stage,
    mps0: u8,
    /// The hub's slot generation when the child's enumeration began.
    hub_generation: Option<u16>,
}

impl UsbCore {
    /// Whether a device is being enumerated (address 0 is then taken).
    pub fn enumerating(&self) -> bool {
        self.enumeration.is_some()
    }

    /// Address 0 for the device on the root port, which has just been debounced.
    pub fn acquire_root_addr0(&mut self) -> Result<Addr0Token, CoreError> {
        if self.addr0_busy {
            return Err(CoreError::AddressZeroBusy);
        }
        self.addr0_busy = true;
        self.root_changed_while_enumerating = false;
        self.root_token_out = true;
        Ok(Addr0Token { hub: None, port: 0 })
    }

    /// Begins enumerating the device that answers at address 0 (the token's port was just
    /// reset, and the device came up at `speed`): opens EP0 and gives the first transfer.
    pub fn begin_enumeration(
        &mut self,
        hc: &mut impl HostController,
        token: Addr0Token,
        speed: Speed,
    ) -> EnumNext {
        let Addr0Token { hub, port } = token;
        let hub_device = hub.map(|slot| {
            let s = &self.devices[usize::from(slot)];
            (
                slot,
                s.generation,
                s.value.as_ref().map(|d| (d.info.tier, d.info.address)),
            )
        });
        let root = hub.is_none();
        let (tier, parent_address) = match hub_device {
            None => (0, 0),
            Some((_, _, None)) => return self.done(root, Err(EnumError::NotConnected)),
            Some((_, _, Some((tier, _)))) if tier + 1 > MAX_TIER => {
                return self.done(root, Err(EnumError::TooDeep));
            }
            Some((_, _, Some((tier, address)))) => (tier + 1, address),
        };
        if self.devices.iter().all(|s| s.value.is_some()) {
            return self.done(root, Err(EnumError::NoDeviceSlot));
        }
        let spec = PipeSpec {
            address: 0,
            endpoint: EpAddr(0),
            ty: EpType::Control,
            max_packet: 8,
            interval: 0,
            speed,
        };
        let ep0 = match hc.open_pipe(spec) {
            Ok(ep0) => ep0,
            Err(e) => return self.done(root, Err(step(EnumStep::OpenPipes)(e))),
        };
        let Some(address) = self.allocate_address() else {
            hc.close_pipe(ep0);
            return self.done(root, Err(EnumError::NoAddress));
        };
        let device = Device {
            info: DeviceInfo {
                address,
                speed,
                vendor_id: 0,
                product_id: 0,
                tier,
                parent_address,
                port: if hub.is_some() { port } else { 0 },
                quarantined: false,
            },
            parent: hub.map(|slot| (slot, port)),
            ep0,
            config: [0; CONFIG_BUF],
            config_len: 0,
            first_total: 0,
            strikes: 0,
        };
        self.enumeration = Some(Enumeration {
            device,
            stage: Stage::DevicePrefix,
            mps0: 8,
            hub_generation: hub_device.map(|(_, generation, _)| generation),
        });
        self.next_transfer()
    }

    /// The control transfer the stage in progress runs.
    fn next_transfer(&self) -> EnumNext {
        let Some(enumeration) = self.enumeration.as_ref() else {
            return EnumNext::Done(Err(EnumError::NotConnected));
        };
        let setup = match enumeration.stage {
            Stage::DevicePrefix => SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 8),
            Stage::SetAddress | Stage::Recovery => {
                SetupPacket::set_address(enumeration.device.info.address)
            }
            Stage::DeviceDescriptor => {
                SetupPacket::get_descriptor(ty::DEVICE, 0, 0, DeviceDescriptor::LEN as u16)
            }
            Stage::ConfigurationHeader => SetupPacket::get_descriptor(
                ty::CONFIGURATION,
                0,
                0,
                ConfigurationDescriptor::LEN as u16,
            ),
            Stage::Configuration { total } => {
                SetupPacket::get_descriptor(ty::CONFIGURATION, 0, 0, total)
            }
            Stage::SetConfiguration { value } => SetupPacket::set_configuration(value),
        };
        EnumNext::Control {
            pipe: enumeration.device.ep0,
            setup,
            timeout_ms: CONTROL_TIMEOUT_MS,
        }
    }

    /// The transfer [`EnumNext::Control`] asked for has ended, with the IN data it received
    /// (empty for OUT requests). Data beyond the request's wLength are ignored.
    pub fn enumeration_transferred(
        &mut self,
        hc: &mut impl HostController,
        result: Result<&[u8], XferError>,
    ) -> EnumNext {
        let Some(mut enumeration) = self.enumeration.take() else {
            return EnumNext::Done(Err(EnumError::NotConnected));
        };
        let stage = enumeration.stage;
        let outcome = result
            .map_err(step(stage.step()))
            .and_then(|data| enumeration.advance(data));
        match outcome {
            Err(e) => self.finish(hc, enumeration, Err(e)),
            Ok(Advance::Wait(ms)) => {
                self.enumeration = Some(enumeration);
                EnumNext::Wait { ms }
            }
            Ok(Advance::Transfer) => {
                self.enumeration = Some(enumeration);
                self.next_transfer()
            }
            Ok(Advance::Configured) => self.finish(hc, enumeration, Ok(())),
        }
    }

    /// The wait [`EnumNext::Wait`] asked for is over.
    pub fn enumeration_waited(&mut self, hc: &mut impl HostController) -> EnumNext {
        let Some(mut enumeration) = self.enumeration.take() else {
            return EnumNext::Done(Err(EnumError::NotConnected));
        };
        if enumeration.stage != Stage::Recovery {
            // A wait nobody asked for changes nothing.
            self.enumeration = Some(enumeration);
            return self.next_transfer();
        }
        let device = &enumeration.device;
        if let Err(e) =
            hc.retarget_pipe(device.ep0, device.info.address, u16::from(enumeration.mps0))
        {
            return self.finish(hc, enumeration, Err(step(EnumStep::SetAddress)(e)));
        }
        enumeration.stage = Stage::DeviceDescriptor;
        self.enumeration = Some(enumeration);
        self.next_transfer()
    }

    /// Ends the enumeration in progress now (its transfer can no longer complete: the
    /// controller driver went away): the device keeps nothing.
    pub fn abort_enumeration(&mut self, hc: &mut impl HostController) -> Option<EnumError> {
        let enumeration = self.enumeration.take()?;
        match self.finish(hc, enumeration, Err(EnumError::NotConnected)) {
            EnumNext::Done(Err(e)) => Some(e),
            _ => None,
        }
    }

    /// Enters the configured device in the table and binds it, or releases what it held.
    /// Address 0 is free again either way.
    fn finish(
        &mut self,
        hc: &mut impl HostController,
        enumeration: Enumeration,
        outcome: Result<(), EnumError>,
    ) -> EnumNext {
        let root = enumeration.device.parent.is_none();
        let hub_gone = enumeration.device.parent.is_some_and(|(hub, _)| {
            let slot = &self.devices[usize::from(hub)];
            slot.value.is_none() || Some(slot.generation) != enumeration.hub_generation
        });
        let outcome = match outcome {
            Ok(()) if hub_gone => Err(EnumError::NotConnected),
            other => other,
        };
        let free = self.devices.iter().position(|s| s.value.is_none());
        let result = match (outcome, free) {
            (Ok(()), Some(slot)) => {
                self.devices[slot].value = Some(enumeration.device);
                let id = self.device_id(slot as u8);
                self.bind_all(hc, slot as u8);
                Ok(id)
            }
            (outcome, _) => {
                let device = &enumeration.device;
                hc.close_pipe(device.ep0);
                self.addresses &= !(1u128 << device.info.address);
                Err(outcome.err().unwrap_or(EnumError::NoDeviceSlot))
            }
        };
        self.done(root, result)
    }

    fn done(&mut self, root: bool, result: Result<DeviceId, EnumError>) -> EnumNext {
        self.addr0_busy = false;
        if root {
            self.root_token_out = false;
            // A failed device is retried at its next connect change, unless the port changed
            // while it was being enumerated (it may be another device by now).
            self.root_failed = result.is_err() && !self.root_changed_while_enumerating;
        }
        EnumNext::Done(result)
    }

    /// Runs the enumeration that `next` began to its end, waiting for each transfer and
    /// delay through `hc`.
    pub fn run_enumeration(
        &mut self,
        hc: &mut impl HostController,
        mut next: EnumNext,
    ) -> Result<DeviceId, EnumError> {
        let mut buf = [0u8; CONFIG_BUF];
        loop {
            next = match next {
                EnumNext::Control {
                    pipe,
                    setup,
                    timeout_ms,
                } => {
                    let len = usize::from(setup.length).min(CONFIG_BUF);
                    let result = hc.control(pipe, &setup, &mut buf[..len], timeout_ms);
                    self.enumeration_transferred(hc, result.map(|n| &buf[..n.min(len)]))
                }
                EnumNext::Wait { ms } => {
                    hc.delay_ms(ms);
                    self.enumeration_waited(hc)
                }
                EnumNext::Done(result) => return result,
            };
        }
    }
}

enum Advance {
    Transfer,
    Wait(u32),
    Configured,
}

impl Enumeration {
    /// Takes the data of the stage's transfer and moves to the next stage.
    fn advance(&mut self, data: &[u8]) -> Result<Advance, EnumError> {
        let speed = self.device.info.speed;
        match self.stage {
            Stage::DevicePrefix => {
                self.mps0 = DevicePrefix::new_checked(data, speed)
                    .map_err(EnumError::DeviceDescriptor)?
                    .max_packet_size0();
                self.stage = Stage::SetAddress;
                Ok(Advance::Transfer)
            }
            Stage::SetAddress | Stage::Recovery => {
                self.stage = Stage::Recovery;
                Ok(Advance::Wait(SET_ADDRESS_RECOVERY_MS))
            }
            Stage::DeviceDescriptor => {
                let desc = DeviceDescriptor::new_checked(data, speed)
                    .map_err(EnumError::DeviceDescriptor)?;
                if desc.max_packet_size0() != self.mps0 {
                    return Err(EnumError::MaxPacket0Changed {
                        first: self.mps0,
                        second: desc.max_packet_size0(),
                    });
                }
                self.device.info.vendor_id = desc.vendor_id();
                self.device.info.product_id = desc.product_id();
                self.stage = Stage::ConfigurationHeader;
                Ok(Advance::Transfer)
            }
            Stage::ConfigurationHeader => {
                let data = &data[..data.len().min(ConfigurationDescriptor::LEN)];
                let total = ConfigurationDescriptor::new_checked(data)
                    .map_err(EnumError::ConfigurationHeader)?
                    .total_length();
                if usize::from(total) > CONFIG_BUF {
                    return Err(EnumError::ConfigurationTooLarge(total));
                }
                self.stage = Stage::Configuration { total };
                Ok(Advance::Transfer)
            }
            Stage::Configuration { total } => {
                let received = data.len().min(usize::from(total));
                let device = &mut self.device;
                device.config[..received].copy_from_slice(&data[..received]);
                let config = parse_configuration(&device.config[..received], total, speed)
                    .map_err(EnumError::Configuration)?;
                let value = config.value;
                device.config_len = config.bytes().len();
                device.first_total = total;
                self.stage = Stage::SetConfiguration { value };
                Ok(Advance::Transfer)
            }
            Stage::SetConfiguration { .. } => Ok(Advance::Configured),
        }
    }
}
