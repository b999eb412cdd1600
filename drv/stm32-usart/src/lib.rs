//! STM32H7 USART (RM0433 "USART/UART registers"), 8N1, 16x oversampling, FIFO off (its
//! reset state), polled transmit. The console task owns the USART's MPU region; `sys` has
//! turned its clock on and handed it its pins before [`Usart::enable`].
#![cfg_attr(not(test), no_std)]

use core::ptr::{read_volatile, write_volatile};

const CR1: usize = 0x00;
const BRR: usize = 0x0C;
const ISR: usize = 0x1C;
const TDR: usize = 0x28;

const CR1_UE: u32 = 1 << 0;
const CR1_RE: u32 = 1 << 2;
const CR1_TE: u32 = 1 << 3;
/// Transmit data register empty (TXFNF with the FIFO on; it is off here).
const ISR_TXE: u32 = 1 << 7;

/// Why a baud rate cannot be made from a kernel clock.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BaudError {
    /// With 16x oversampling USARTDIV must be 16..=0xFFFF.
    OutOfRange { divider: u32 },
}

/// `USART_BRR` for `baud` from a `kernel_hz` kernel clock: USARTDIV rounded to nearest.
pub const fn brr(kernel_hz: u32, baud: u32) -> Result<u32, BaudError> {
    let divider = (kernel_hz + baud / 2) / baud;
    if divider < 16 || divider > 0xFFFF {
        Err(BaudError::OutOfRange { divider })
    } else {
        Ok(divider)
    }
}

pub struct Usart {
    base: usize,
}

impl Usart {
    /// # Safety
    /// `base` must be a USART register block that the caller alone accesses, with its
    /// clock on.
    pub const unsafe fn new(base: usize) -> Self {
        Usart { base }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: a valid, clocked, exclusively owned USART.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Disables the USART, sets the baud divider `brr` (from [`brr`]) and enables transmit
    /// and receive. BRR is writable only while UE is clear.
    pub fn enable(&self, brr: u32) {
        self.write(CR1, 0);
        self.write(BRR, brr);
        self.write(CR1, CR1_UE | CR1_TE | CR1_RE);
    }

    pub fn write_byte(&self, byte: u8) {
        while self.read(ISR) & ISR_TXE == 0 {}
        self.write(TDR, u32::from(byte));
    }

    /// Writes `bytes`, turning `\n` into `\r\n` for terminals.
    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brr_for_115200_from_a_100_mhz_pclk1_is_868() {
        // 100e6 / 115200 = 868.06: 0.007 % fast.
        assert_eq!(brr(100_000_000, 115_200), Ok(868));
    }

    #[test]
    fn brr_rounds_to_nearest() {
        // 64e6 / 115200 = 555.56
        assert_eq!(brr(64_000_000, 115_200), Ok(556));
    }

    #[test]
    fn brr_refuses_dividers_16x_oversampling_cannot_hold() {
        assert_eq!(
            brr(1_000_000, 115_200),
            Err(BaudError::OutOfRange { divider: 9 })
        );
        assert_eq!(
            brr(100_000_000, 1_200),
            Err(BaudError::OutOfRange { divider: 83_333 })
        );
    }
}
