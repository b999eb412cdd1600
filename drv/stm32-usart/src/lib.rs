//! STM32H7 USART (RM0433 "USART/UART registers"), 8N1, 16x oversampling, FIFO off (its
//! reset state), polled transmit, and receive one byte per interrupt with its errors
//! counted, not fatal ([`Usart::receive`]). The console task owns the USART's MPU region;
//! `sys` has turned its clock on and handed it its pins before [`Usart::enable`].
#![cfg_attr(not(test), no_std)]

use core::ptr::{read_volatile, write_volatile};

const CR1: usize = 0x00;
const BRR: usize = 0x0C;
const CR3: usize = 0x08;
const ISR: usize = 0x1C;
const ICR: usize = 0x20;
const RDR: usize = 0x24;
const TDR: usize = 0x28;

const CR1_UE: u32 = 1 << 0;
const CR1_RE: u32 = 1 << 2;
const CR1_TE: u32 = 1 << 3;
/// Transmit data register empty (TXFNF with the FIFO on; it is off here).
const ISR_TXE: u32 = 1 << 7;
/// Receive data register not empty (RXFNE with the FIFO on).
const ISR_RXNE: u32 = 1 << 5;
/// Parity (0), framing (1), noise (2) and overrun (3) errors; the same bits in ICR clear
/// them (PECF, FECF, NECF, ORECF).
const ISR_PE: u32 = 1 << 0;
const ISR_FE: u32 = 1 << 1;
const ISR_NE: u32 = 1 << 2;
const ISR_ORE: u32 = 1 << 3;
const ISR_ERRORS: u32 = ISR_PE | ISR_FE | ISR_NE | ISR_ORE;
/// CR1.RXNEIE (5): interrupt on RXNE and ORE; CR3.EIE (0): on FE, NE and ORE.
const CR1_RXNEIE: u32 = 1 << 5;
const CR3_EIE: u32 = 1 << 0;

/// Receive errors since start, for the console to report; none of them stops the line.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct RxErrors {
    /// A byte arrived before the previous one was read: at least one byte was lost.
    pub overruns: u32,
    /// A stop bit was missing (wrong baud rate, a break, line noise).
    pub framing: u32,
    pub noise: u32,
    pub parity: u32,
}

impl RxErrors {
    fn count(&mut self, isr: u32) {
        let bump = |n: &mut u32, bit| *n = n.saturating_add(u32::from(isr & bit != 0));
        bump(&mut self.overruns, ISR_ORE);
        bump(&mut self.framing, ISR_FE);
        bump(&mut self.noise, ISR_NE);
        bump(&mut self.parity, ISR_PE);
    }
}

/// One received byte.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Received {
    Byte(u8),
    /// Received with a framing, noise or parity error: the value is not to be trusted, and
    /// the line it belongs to is not what was typed.
    Damaged(u8),
}

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

/// What a receiver hands the line editor.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RxEvent {
    Byte(u8),
    /// A byte of the line was lost (overrun) or garbled (framing, noise, parity): the line
    /// is not what was typed. Carries the counts so far.
    Damaged(RxErrors),
}

/// Turns [`Usart::receive`] into events for a line editor, counting errors. A clean byte
/// that arrives with an overrun is held back one call, so the editor learns of the loss
/// before it sees the byte that followed it.
#[derive(Debug, Default)]
pub struct Receiver {
    errors: RxErrors,
    held: Option<u8>,
}

impl Receiver {
    pub const fn new() -> Self {
        Receiver {
            errors: RxErrors {
                overruns: 0,
                framing: 0,
                noise: 0,
                parity: 0,
            },
            held: None,
        }
    }

    pub fn errors(&self) -> RxErrors {
        self.errors
    }

    pub fn next(&mut self, usart: &Usart) -> Option<RxEvent> {
        if let Some(byte) = self.held.take() {
            return Some(RxEvent::Byte(byte));
        }
        let overruns = self.errors.overruns;
        let received = usart.receive(&mut self.errors);
        let lost = self.errors.overruns != overruns;
        let damaged = RxEvent::Damaged(self.errors);
        match received {
            Some(Received::Damaged(_)) => Some(damaged),
            Some(Received::Byte(byte)) if lost => {
                self.held = Some(byte);
                Some(damaged)
            }
            Some(Received::Byte(byte)) => Some(RxEvent::Byte(byte)),
            None => lost.then_some(damaged),
        }
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

    /// Turns on the receive interrupts: a byte (RXNE) and every error (ORE, FE, NE).
    pub fn enable_receive_interrupts(&self) {
        self.write(CR3, self.read(CR3) | CR3_EIE);
        self.write(CR1, self.read(CR1) | CR1_RXNEIE);
    }

    /// The byte waiting, if any, after counting and clearing whatever errors ISR shows, so
    /// an error never leaves the interrupt asserted. An overrun loses bytes but not the one
    /// in RDR, which is returned intact.
    pub fn receive(&self, errors: &mut RxErrors) -> Option<Received> {
        let isr = self.read(ISR);
        if isr & ISR_ERRORS != 0 {
            errors.count(isr);
            self.write(ICR, isr & ISR_ERRORS);
        }
        if isr & ISR_RXNE == 0 {
            return None;
        }
        let byte = self.read(RDR) as u8;
        Some(if isr & (ISR_FE | ISR_NE | ISR_PE) != 0 {
            Received::Damaged(byte)
        } else {
            Received::Byte(byte)
        })
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

    /// A register block in host memory: reads see what the test put there, and writes
    /// (ICR's clear bits) stay for the test to inspect.
    struct Block([u32; 16]);

    impl Block {
        fn with(isr: u32, rdr: u32) -> Block {
            let mut regs = [0; 16];
            regs[ISR / 4] = isr;
            regs[RDR / 4] = rdr;
            Block(regs)
        }

        fn usart(&mut self) -> Usart {
            // SAFETY: the block outlives the `Usart`, and nothing else touches it.
            unsafe { Usart::new(self.0.as_mut_ptr() as usize) }
        }
    }

    #[test]
    fn a_clean_byte_is_returned_and_nothing_is_counted_or_cleared() {
        let mut block = Block::with(ISR_RXNE | ISR_TXE, 0x41);
        let mut errors = RxErrors::default();
        assert_eq!(
            block.usart().receive(&mut errors),
            Some(Received::Byte(b'A'))
        );
        assert_eq!(errors, RxErrors::default());
        assert_eq!(block.0[ICR / 4], 0);
    }

    #[test]
    fn a_framing_error_damages_the_byte_and_is_counted_and_cleared() {
        let mut block = Block::with(ISR_RXNE | ISR_FE, 0xFF);
        let mut errors = RxErrors::default();
        assert_eq!(
            block.usart().receive(&mut errors),
            Some(Received::Damaged(0xFF))
        );
        assert_eq!(errors.framing, 1);
        assert_eq!(block.0[ICR / 4], ISR_FE);
    }

    #[test]
    fn an_overrun_is_counted_and_cleared_but_keeps_the_byte() {
        let mut block = Block::with(ISR_RXNE | ISR_ORE, b'x'.into());
        let mut errors = RxErrors::default();
        assert_eq!(
            block.usart().receive(&mut errors),
            Some(Received::Byte(b'x'))
        );
        assert_eq!((errors.overruns, errors.framing), (1, 0));
        assert_eq!(block.0[ICR / 4], ISR_ORE);
    }

    /// An error flag without a byte (an overrun's aftermath, noise on an idle line) is
    /// cleared, so the interrupt does not fire forever, and reads nothing.
    #[test]
    fn errors_without_a_byte_are_cleared_and_read_nothing() {
        let mut block = Block::with(ISR_NE | ISR_PE, 0x55);
        let mut errors = RxErrors::default();
        assert_eq!(block.usart().receive(&mut errors), None);
        assert_eq!((errors.noise, errors.parity), (1, 1));
        assert_eq!(block.0[ICR / 4], ISR_NE | ISR_PE);
        assert_eq!(block.usart().receive(&mut RxErrors::default()), None);
    }

    /// Garbage, a framing error and an overrun in a row: every byte that arrived clean is
    /// passed on (the line editor drops what it cannot print), and each error is reported
    /// before the byte after it.
    #[test]
    fn the_receiver_reports_damage_before_the_byte_that_follows_it() {
        let mut block = Block::with(0, 0);
        let mut rx = Receiver::new();
        let mut step = |block: &mut Block, isr: u32, rdr: u8| {
            block.0[ISR / 4] = isr;
            block.0[RDR / 4] = rdr.into();
            rx.next(&block.usart())
        };
        assert_eq!(step(&mut block, ISR_RXNE, 0x00), Some(RxEvent::Byte(0x00)));
        assert_eq!(step(&mut block, ISR_RXNE, 0xFE), Some(RxEvent::Byte(0xFE)));
        let framing = RxErrors {
            framing: 1,
            ..RxErrors::default()
        };
        assert_eq!(
            step(&mut block, ISR_RXNE | ISR_FE, b'l'),
            Some(RxEvent::Damaged(framing))
        );
        let both = RxErrors {
            overruns: 1,
            ..framing
        };
        assert_eq!(
            step(&mut block, ISR_RXNE | ISR_ORE, b's'),
            Some(RxEvent::Damaged(both))
        );
        // The byte that came with the overrun, then nothing.
        assert_eq!(step(&mut block, 0, 0), Some(RxEvent::Byte(b's')));
        assert_eq!(step(&mut block, 0, 0), None);
        // An overrun with no byte left still damages the line.
        let again = RxErrors {
            overruns: 2,
            ..framing
        };
        assert_eq!(step(&mut block, ISR_ORE, 0), Some(RxEvent::Damaged(again)));
    }

    #[test]
    fn receive_interrupts_cover_bytes_and_errors() {
        let mut block = Block::with(0, 0);
        block.0[CR1 / 4] = CR1_UE | CR1_TE | CR1_RE;
        block.usart().enable_receive_interrupts();
        assert_eq!(block.0[CR1 / 4], CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE);
        assert_eq!(block.0[CR3 / 4], CR3_EIE);
    }

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
