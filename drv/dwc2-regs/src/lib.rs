//! Register map of the Synopsys DWC2 OTG core (host mode) and the register-access seam.
//!
//! What it is: offsets and bit fields (doc/usb-host.md 1.3; Synopsys/TinyUSB names) shared by the
//! controller driver and the behavioural model, and the [`Dwc2Regs`] trait through which the
//! driver performs every access.
//!
//! Invariants:
//! * the trait is deliberately tiny and takes `&self`: DWC2 accesses have side effects
//!   (write-1-to-clear, pop-on-read, self-clearing bits), so an implementation must see every
//!   read and write in program order; a plain memory-backed window is not a valid implementation;
//! * offsets are relative to the core base (`0x4008_0000` for OTG2_FS on the STM32H7).
//!
//! Who talks to it: `dwc2-hcd-core` (driver), `usb-model` (model), and the future `usb-hcd` task,
//! which picks [`MmioRegs`] on hardware or an IPC-backed implementation in QEMU.
#![no_std]

/// Access to the DWC2 register file and FIFO windows.
pub trait Dwc2Regs {
    fn read(&self, offset: u32) -> u32;
    fn write(&self, offset: u32, value: u32);

    /// Pops `dst.len()` words from the shared receive FIFO.
    fn fifo_read(&self, dst: &mut [u32]) {
        for word in dst {
            *word = self.read(fifo(0));
        }
    }

    /// Pushes words into the transmit FIFO of `channel`.
    fn fifo_write(&self, channel: u8, src: &[u32]) {
        for &word in src {
            self.write(fifo(channel), word);
        }
    }

    /// Read-modify-write that clears `clear` and sets `set`. Not for registers with W1C bits
    /// (GINTSTS, HCINTn, HPRT): those need [`hprt::without_w1c`] or a plain write.
    fn modify(&self, offset: u32, clear: u32, set: u32) {
        let value = self.read(offset);
        self.write(offset, (value & !clear) | set);
    }
}

/// Volatile MMIO implementation for real hardware.
pub struct MmioRegs {
    base: usize,
}

impl MmioRegs {
    /// # Safety
    /// `base` must be the address of a DWC2 core whose 0x11000-byte window (registers and 16
    /// FIFO windows) is mapped for this task and used by nothing else.
    pub const unsafe fn new(base: usize) -> Self {
        MmioRegs { base }
    }
}

impl Dwc2Regs for MmioRegs {
    fn read(&self, offset: u32) -> u32 {
        debug_assert!(offset < WINDOW_LEN && offset.is_multiple_of(4));
        // SAFETY: `new`'s contract makes `base + offset` (offset < WINDOW_LEN, word aligned) a
        // mapped, exclusively owned device register.
        unsafe { core::ptr::read_volatile((self.base + offset as usize) as *const u32) }
    }

    fn write(&self, offset: u32, value: u32) {
        debug_assert!(offset < WINDOW_LEN && offset.is_multiple_of(4));
        // SAFETY: as for `read`.
        unsafe { core::ptr::write_volatile((self.base + offset as usize) as *mut u32, value) }
    }
}

/// Size of the register file plus the 16 FIFO windows.
pub const WINDOW_LEN: u32 = 0x11000;
/// Host channels of the STM32H7 cores (`GHWCFG2.num_host_ch + 1`).
pub const MAX_CHANNELS: usize = 16;

pub const GOTGCTL: u32 = 0x000;
pub const GAHBCFG: u32 = 0x008;
pub const GUSBCFG: u32 = 0x00C;
pub const GRSTCTL: u32 = 0x010;
pub const GINTSTS: u32 = 0x014;
pub const GINTMSK: u32 = 0x018;
pub const GRXSTSR: u32 = 0x01C;
pub const GRXSTSP: u32 = 0x020;
pub const GRXFSIZ: u32 = 0x024;
pub const HNPTXFSIZ: u32 = 0x028;
pub const HNPTXSTS: u32 = 0x02C;
pub const GCCFG: u32 = 0x038;
pub const CID: u32 = 0x03C;
pub const GSNPSID: u32 = 0x040;
pub const GHWCFG1: u32 = 0x044;
pub const GHWCFG2: u32 = 0x048;
pub const GHWCFG3: u32 = 0x04C;
pub const GHWCFG4: u32 = 0x050;
pub const HPTXFSIZ: u32 = 0x100;
pub const HCFG: u32 = 0x400;
pub const HFIR: u32 = 0x404;
pub const HFNUM: u32 = 0x408;
pub const HPTXSTS: u32 = 0x410;
pub const HAINT: u32 = 0x414;
pub const HAINTMSK: u32 = 0x418;
pub const HPRT: u32 = 0x440;
pub const PCGCCTL: u32 = 0xE00;

pub const fn hcchar(ch: u8) -> u32 {
    0x500 + 0x20 * ch as u32
}
pub const fn hcint(ch: u8) -> u32 {
    0x508 + 0x20 * ch as u32
}
pub const fn hcintmsk(ch: u8) -> u32 {
    0x50C + 0x20 * ch as u32
}
pub const fn hctsiz(ch: u8) -> u32 {
    0x510 + 0x20 * ch as u32
}
pub const fn fifo(ch: u8) -> u32 {
    0x1000 + 0x1000 * ch as u32
}

/// Channel number and register (`hcchar`, `hcint`, …) of a channel-register offset.
pub const fn channel_register(offset: u32) -> Option<(u8, u32)> {
    if offset >= 0x500 && offset < 0x500 + 0x20 * MAX_CHANNELS as u32 {
        Some((
            ((offset - 0x500) / 0x20) as u8,
            (offset - 0x500) % 0x20 + 0x500,
        ))
    } else {
        None
    }
}

pub mod gahbcfg {
    pub const GINT: u32 = 1 << 0;
    pub const DMAEN: u32 = 1 << 5;
    pub const TXFELVL: u32 = 1 << 7;
}

pub mod gusbcfg {
    pub const TOCAL_MASK: u32 = 0b111;
    pub const PHYSEL: u32 = 1 << 6;
    pub const TRDT_SHIFT: u32 = 10;
    pub const TRDT_MASK: u32 = 0xF << 10;
    pub const FHMOD: u32 = 1 << 29;
    pub const FDMOD: u32 = 1 << 30;
}

pub mod grstctl {
    pub const CSRST: u32 = 1 << 0;
    pub const RXFFLSH: u32 = 1 << 4;
    pub const TXFFLSH: u32 = 1 << 5;
    pub const TXFNUM_ALL: u32 = 0x10 << 6;
    pub const AHBIDL: u32 = 1 << 31;
}

/// GINTSTS / GINTMSK bits.
pub mod gint {
    pub const CMOD: u32 = 1 << 0;
    pub const MMIS: u32 = 1 << 1;
    pub const OTGINT: u32 = 1 << 2;
    pub const SOF: u32 = 1 << 3;
    pub const RXFLVL: u32 = 1 << 4;
    pub const NPTXFE: u32 = 1 << 5;
    pub const HPRTINT: u32 = 1 << 24;
    pub const HCINT: u32 = 1 << 25;
    pub const PTXFE: u32 = 1 << 26;
    pub const DISCINT: u32 = 1 << 29;
    /// Bits that are read-only summaries of other registers.
    pub const READ_ONLY: u32 = CMOD | RXFLVL | NPTXFE | HPRTINT | HCINT | PTXFE;
}

/// GRXSTSR/GRXSTSP host view.
pub mod grxsts {
    pub const CHNUM_MASK: u32 = 0xF;
    pub const BCNT_SHIFT: u32 = 4;
    pub const BCNT_MASK: u32 = 0x7FF << 4;
    pub const DPID_SHIFT: u32 = 15;
    pub const PKTSTS_SHIFT: u32 = 17;
    pub const PKTSTS_MASK: u32 = 0xF << 17;
    pub const PKTSTS_IN_DATA: u32 = 2;
    pub const PKTSTS_IN_COMPLETE: u32 = 3;
    pub const PKTSTS_TOGGLE_ERROR: u32 = 5;
    pub const PKTSTS_HALTED: u32 = 7;

    pub const fn channel(status: u32) -> u8 {
        (status & CHNUM_MASK) as u8
    }
    pub const fn byte_count(status: u32) -> usize {
        ((status & BCNT_MASK) >> BCNT_SHIFT) as usize
    }
    pub const fn packet_status(status: u32) -> u32 {
        (status & PKTSTS_MASK) >> PKTSTS_SHIFT
    }
}

/// HNPTXSTS / HPTXSTS: free words and free request-queue slots.
pub mod txsts {
    pub const fn free_words(status: u32) -> u32 {
        status & 0xFFFF
    }
    pub const fn free_requests(status: u32) -> u32 {
        (status >> 16) & 0xFF
    }
}

pub mod gccfg {
    pub const PWRDWN: u32 = 1 << 16;
    pub const VBDEN: u32 = 1 << 21;
}

pub mod hcfg {
    pub const FSLSPCS_MASK: u32 = 0b11;
    pub const FSLSPCS_48MHZ: u32 = 1;
    pub const FSLSPCS_6MHZ: u32 = 2;
    pub const FSLSS: u32 = 1 << 2;
}

pub mod hfir {
    /// Frame interval for FS on the 48 MHz PHY clock (1000 · 48 − 1).
    pub const FULL_SPEED: u32 = 47_999;
    /// Frame interval for LS on the 6 MHz PHY clock (1000 · 6 − 1).
    pub const LOW_SPEED: u32 = 5_999;
    pub const RLDCTRL: u32 = 1 << 16;
}

pub mod hfnum {
    pub const fn frame(value: u32) -> u16 {
        (value & 0xFFFF) as u16
    }
}

pub mod hprt {
    pub const PCSTS: u32 = 1 << 0;
    pub const PCDET: u32 = 1 << 1;
    pub const PENA: u32 = 1 << 2;
    pub const PENCHNG: u32 = 1 << 3;
    pub const POCA: u32 = 1 << 4;
    pub const POCCHNG: u32 = 1 << 5;
    pub const PRES: u32 = 1 << 6;
    pub const PSUSP: u32 = 1 << 7;
    pub const PRST: u32 = 1 << 8;
    pub const PPWR: u32 = 1 << 12;
    pub const PSPD_SHIFT: u32 = 17;
    pub const PSPD_MASK: u32 = 0b11 << 17;
    pub const PSPD_FULL: u32 = 1;
    pub const PSPD_LOW: u32 = 2;
    /// Bits that a read-modify-write must not write back as 1: PCDET, PENCHNG, POCCHNG are
    /// write-1-to-clear and writing 1 to PENA *disables* the port.
    pub const W1C: u32 = PCDET | PENA | PENCHNG | POCCHNG;

    /// `value` (a read of HPRT) with every write-1-to-clear bit cleared: safe to write back.
    pub const fn without_w1c(value: u32) -> u32 {
        value & !W1C
    }
}

pub mod hcchar {
    pub const MPS_MASK: u32 = 0x7FF;
    pub const EPNUM_SHIFT: u32 = 11;
    pub const EPDIR_IN: u32 = 1 << 15;
    pub const LSDEV: u32 = 1 << 17;
    pub const EPTYP_SHIFT: u32 = 18;
    pub const EPTYP_MASK: u32 = 0b11 << 18;
    pub const EPTYP_CONTROL: u32 = 0;
    pub const EPTYP_ISOCHRONOUS: u32 = 1;
    pub const EPTYP_BULK: u32 = 2;
    pub const EPTYP_INTERRUPT: u32 = 3;
    pub const MC_SHIFT: u32 = 20;
    pub const DAD_SHIFT: u32 = 22;
    pub const DAD_MASK: u32 = 0x7F << 22;
    pub const ODDFRM: u32 = 1 << 29;
    pub const CHDIS: u32 = 1 << 30;
    pub const CHENA: u32 = 1 << 31;

    pub const fn max_packet(value: u32) -> u32 {
        value & MPS_MASK
    }
    pub const fn endpoint(value: u32) -> u8 {
        ((value >> EPNUM_SHIFT) & 0xF) as u8
    }
    pub const fn address(value: u32) -> u8 {
        ((value & DAD_MASK) >> DAD_SHIFT) as u8
    }
    pub const fn ep_type(value: u32) -> u32 {
        (value & EPTYP_MASK) >> EPTYP_SHIFT
    }
}

/// HCINTn / HCINTMSKn bits.
pub mod hcint {
    pub const XFRC: u32 = 1 << 0;
    pub const CHH: u32 = 1 << 1;
    pub const AHBERR: u32 = 1 << 2;
    pub const STALL: u32 = 1 << 3;
    pub const NAK: u32 = 1 << 4;
    pub const ACK: u32 = 1 << 5;
    pub const NYET: u32 = 1 << 6;
    pub const TXERR: u32 = 1 << 7;
    pub const BBERR: u32 = 1 << 8;
    pub const FRMOR: u32 = 1 << 9;
    pub const DTERR: u32 = 1 << 10;
    pub const ALL: u32 = 0x7FF;
}

pub mod hctsiz {
    pub const XFRSIZ_MASK: u32 = 0x7_FFFF;
    pub const PKTCNT_SHIFT: u32 = 19;
    pub const PKTCNT_MASK: u32 = 0x3FF << 19;
    pub const DPID_SHIFT: u32 = 29;
    pub const DPID_MASK: u32 = 0b11 << 29;
    /// Largest packet count the 10-bit field holds.
    pub const MAX_PACKETS: u32 = 0x3FF;

    /// DPID encodings.
    pub const DATA0: u32 = 0;
    pub const DATA2: u32 = 1;
    pub const DATA1: u32 = 2;
    pub const SETUP: u32 = 3;

    pub const fn new(bytes: u32, packets: u32, pid: u32) -> u32 {
        (bytes & XFRSIZ_MASK) | ((packets << PKTCNT_SHIFT) & PKTCNT_MASK) | (pid << DPID_SHIFT)
    }
    pub const fn bytes(value: u32) -> u32 {
        value & XFRSIZ_MASK
    }
    pub const fn packets(value: u32) -> u32 {
        (value & PKTCNT_MASK) >> PKTCNT_SHIFT
    }
    pub const fn pid(value: u32) -> u32 {
        (value & DPID_MASK) >> DPID_SHIFT
    }
}

/// Identity of the STM32H743 core as captured by TinyUSB (doc/usb-host.md 1.1).
pub mod identity {
    pub const GSNPSID: u32 = 0x4F54_330A;
    pub const CID: u32 = 0x0000_2300;
    pub const GHWCFG2: u32 = 0x229F_E190;
    pub const GHWCFG3: u32 = 0x03B8_D2E8;
    pub const GHWCFG4: u32 = 0xE3F0_0030;

    /// Host channels from GHWCFG2 (`num_host_ch` is zero-based).
    pub const fn channels(ghwcfg2: u32) -> usize {
        (((ghwcfg2 >> 14) & 0xF) + 1) as usize
    }
    /// Data FIFO depth in words from GHWCFG3.
    pub const fn fifo_words(ghwcfg3: u32) -> u32 {
        ghwcfg3 >> 16
    }
    /// `GSNPSID` values start with "OT" for the OTG IP.
    pub const fn is_dwc2(gsnpsid: u32) -> bool {
        gsnpsid & 0xFFFF_0000 == 0x4F54_0000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h743_identity_decodes_to_16_channels_and_952_fifo_words() {
        assert_eq!(identity::channels(identity::GHWCFG2), 16);
        assert_eq!(identity::fifo_words(identity::GHWCFG3), 952);
        assert!(identity::is_dwc2(identity::GSNPSID));
    }

    #[test]
    fn channel_register_decodes_channel_and_register() {
        assert_eq!(channel_register(hctsiz(5)), Some((5, hctsiz(0))));
        assert_eq!(channel_register(HPRT), None);
    }

    #[test]
    fn hprt_read_modify_write_never_writes_back_w1c_bits() {
        let read = hprt::PCSTS | hprt::PCDET | hprt::PENA | hprt::PENCHNG | hprt::PPWR;
        assert_eq!(hprt::without_w1c(read), hprt::PCSTS | hprt::PPWR);
    }
}
