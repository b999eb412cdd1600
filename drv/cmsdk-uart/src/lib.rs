//! The Arm CMSDK APB UART, as QEMU's MPS2 boards provide it: a data register, a state
//! register (TX full, RX full), a control register (enables and interrupt enables), an
//! interrupt status/clear register and a baud divider. Polled transmit, interrupt-driven
//! receive. Used by the console task that owns the UART's MPU region.
#![no_std]

use core::ptr::{read_volatile, write_volatile};

const DATA: usize = 0x00;
const STATE: usize = 0x04;
const CTRL: usize = 0x08;
const INTSTATUS: usize = 0x0C;
const BAUDDIV: usize = 0x10;

const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1 << 0;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_RX_INT_EN: u32 = 1 << 3;
const INT_RX: u32 = 1 << 1;

pub struct Uart {
    base: usize,
}

impl Uart {
    /// # Safety
    /// `base` must be the address of a CMSDK UART that the caller alone accesses.
    pub const unsafe fn new(base: usize) -> Self {
        Uart { base }
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: a valid, exclusively owned UART register block.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    /// Enables transmit and receive (with the receive interrupt) at `clock_hz / baud`.
    pub fn enable(&self, clock_hz: u32, baud: u32) {
        self.write(BAUDDIV, clock_hz / baud);
        self.write(CTRL, CTRL_TX_EN | CTRL_RX_EN | CTRL_RX_INT_EN);
    }

    pub fn write_byte(&self, byte: u8) {
        while self.read(STATE) & STATE_TX_FULL != 0 {}
        self.write(DATA, u32::from(byte));
    }

    pub fn write_bytes(&self, bytes: &[u8]) {
        for &b in bytes {
            if b == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(b);
        }
    }

    /// A received byte, if one is waiting. Clears the receive interrupt.
    pub fn read_byte(&self) -> Option<u8> {
        self.write(INTSTATUS, INT_RX);
        (self.read(STATE) & STATE_RX_FULL != 0).then(|| self.read(DATA) as u8)
    }
}
