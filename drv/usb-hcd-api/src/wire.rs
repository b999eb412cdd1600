//! The wire forms of `usb-hcd.idol`: speeds and endpoint types as `u8`, pipe handles as
//! `u32`, and the checked decoding of an `open_pipe` argument list into a [`PipeSpec`].

use crate::HcdError;
use usb_host_api::{EpAddr, EpType, PipeId, PipeSpec, Speed};

pub const fn speed_code(speed: Speed) -> u8 {
    match speed {
        Speed::Low => 0,
        Speed::Full => 1,
        Speed::High => 2,
    }
}

pub const fn speed(code: u8) -> Option<Speed> {
    match code {
        0 => Some(Speed::Low),
        1 => Some(Speed::Full),
        2 => Some(Speed::High),
        _ => None,
    }
}

pub const fn ep_type_code(ty: EpType) -> u8 {
    match ty {
        EpType::Control => 0,
        EpType::Isochronous => 1,
        EpType::Bulk => 2,
        EpType::Interrupt => 3,
    }
}

pub const fn ep_type(code: u8) -> Option<EpType> {
    match code {
        0 => Some(EpType::Control),
        1 => Some(EpType::Isochronous),
        2 => Some(EpType::Bulk),
        3 => Some(EpType::Interrupt),
        _ => None,
    }
}

/// The `open_pipe` arguments as a [`PipeSpec`]; codes no speed or type has are
/// `BadArgument` (the driver itself refuses packet sizes the speed does not allow).
pub fn pipe_spec(
    address: u8,
    endpoint: u8,
    ty: u8,
    max_packet: u16,
    interval: u8,
    speed_code: u8,
) -> Result<PipeSpec, HcdError> {
    Ok(PipeSpec {
        address,
        endpoint: EpAddr(endpoint),
        ty: ep_type(ty).ok_or(HcdError::BadArgument)?,
        max_packet,
        interval,
        speed: speed(speed_code).ok_or(HcdError::BadArgument)?,
    })
}

/// A pipe handle as it travels: the driver's pipe id and an epoch the driver picks at start
/// (the kernel's clock then), so a handle from before a restart of the driver is refused
/// even when the new incarnation has reissued the same slot and generation.
///
/// Layout: bits 0-7 slot, 8-15 slot generation, 16-31 epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeHandle {
    pub epoch: u16,
    pub pipe: PipeId,
}

impl PipeHandle {
    pub const fn raw(self) -> u32 {
        (self.epoch as u32) << 16 | (self.pipe.generation as u32) << 8 | self.pipe.index as u32
    }

    pub const fn from_raw(raw: u32) -> Self {
        PipeHandle {
            epoch: (raw >> 16) as u16,
            pipe: PipeId {
                index: raw as u8,
                generation: (raw >> 8) as u8,
            },
        }
    }

    pub const fn pipe(self) -> PipeId {
        self.pipe
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_speed_and_type_round_trips_and_unknown_codes_are_refused() {
        for s in [Speed::Low, Speed::Full, Speed::High] {
            assert_eq!(speed(speed_code(s)), Some(s));
        }
        for t in [
            EpType::Control,
            EpType::Isochronous,
            EpType::Bulk,
            EpType::Interrupt,
        ] {
            assert_eq!(ep_type(ep_type_code(t)), Some(t));
        }
        assert_eq!(speed(3), None);
        assert_eq!(ep_type(4), None);
        assert_eq!(
            pipe_spec(1, 0x81, 3, 8, 10, 7),
            Err(HcdError::BadArgument),
            "speed 7"
        );
        assert_eq!(
            pipe_spec(1, 0x81, 9, 8, 10, 0),
            Err(HcdError::BadArgument),
            "type 9"
        );
        assert_eq!(
            pipe_spec(1, 0x81, 3, 8, 10, 0),
            Ok(PipeSpec {
                address: 1,
                endpoint: EpAddr(0x81),
                ty: EpType::Interrupt,
                max_packet: 8,
                interval: 10,
                speed: Speed::Low,
            })
        );
    }

    #[test]
    fn handle_keeps_slot_generation_and_epoch_apart() {
        let h = PipeHandle {
            epoch: 0xBEEF,
            pipe: PipeId {
                index: 15,
                generation: 0xFF,
            },
        };
        assert_eq!(h.raw(), 0xBEEF_FF0F);
        assert_eq!(PipeHandle::from_raw(h.raw()), h);
    }
}
