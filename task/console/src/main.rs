//! The console: owns the board's UART, writes what tasks send it (`idl/console.idol`), and
//! runs a command line for the supervisor on what it receives:
//! `tasks`, `restart NAME`, `unload NAME`, `load NAME`, `fault NAME`, `log`, `help`
//! (`shell.rs`), and with feature `usb` the USB commands `usb`, `disk`, `keys`, `serial`
//! (`usb.rs`, `serial.rs`), with `usb-sim` also the simulator's `plug`, `unplug`, `press`.
//!
//! The UART is chosen at build time: QEMU's CMSDK UART0 by default; with feature `stm32h7`,
//! USART3 of the STM32H7 Nucleo-144 boards, which they wire to the ST-LINK's virtual COM
//! port (PD8 TX, PD9 RX, alternate function 7). There the console first asks `sys` for the
//! USART3 clock and pins; it receives on USART3's interrupt, counts overrun, framing, noise
//! and parity errors (`drv_stm32_usart::RxErrors`) and discards a line they damaged
//! instead of running it. The command line (`shell.rs`) is the same on both.
//!
//! Priorities: the console calls jefe and (feature `usb`) the USB tasks, so it must be less
//! important than they are; tasks that log call the console, so it must be more important
//! than those. Jefe never calls the console: the `log` command pulls jefe's events.
#![no_std]
#![no_main]

#[cfg(feature = "usb")]
mod serial;
mod shell;
#[cfg(feature = "usb")]
mod usb;

use core::convert::Infallible;

use idol_runtime::{Leased, Read, RequestError};
use userlib::{RecvMessage, sys_irq_control};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

const BAUD: u32 = 115_200;

/// app.toml (feature `usb`): `notifications = ["rx", "timer", "usb-power"]`; usb-hcd posts
/// `usb-power` when an over-current switches VBUS off (doc/usb-host.md 1.12).
#[cfg(feature = "usb")]
const USB_POWER_NOTIFICATION: u32 = 1 << 2;
#[cfg(not(feature = "usb"))]
const USB_POWER_NOTIFICATION: u32 = 0;

#[cfg(not(feature = "stm32h7"))]
mod board {
    use drv_cmsdk_uart::Uart;

    const UART0: usize = 0x4000_4000;
    const CLOCK_HZ: u32 = 25_000_000;

    pub type Port = Uart;

    /// CMSDK UART0 reports no receive errors QEMU could produce.
    pub struct Receiver;

    impl Receiver {
        pub const fn new() -> Self {
            Receiver
        }

        pub fn next(&mut self, port: &Uart) -> Option<super::Input> {
            port.read_byte().map(super::Input::Byte)
        }
    }

    pub fn open() -> Uart {
        // SAFETY: app.toml maps uart0 to this task only.
        let uart = unsafe { Uart::new(UART0) };
        uart.enable(CLOCK_HZ, super::BAUD);
        uart
    }
}

#[cfg(feature = "stm32h7")]
mod board {
    use drv_stm32_usart::{RxEvent, Usart, brr};
    use drv_stm32h7_clocks::{ClockSource, NUCLEO_400MHZ};
    use drv_stm32xx_sys_api::{Alternate, Speed, SysClient, peripherals, pins};
    use userlib::task_slot;

    use crate::shell::RxErrorCounts;

    task_slot!(SYS, sys);

    pub type Port = Usart;

    /// RM0433 memory map; app.toml's `uses = ["usart3"]` maps it to this task only.
    const USART3_BASE: usize = 0x4000_4800;
    /// USART3's kernel clock is `rcc_pclk1` (RCC_D2CCIP2R.USART234578SEL at its reset value).
    const BRR: u32 = match brr(NUCLEO_400MHZ.apb_hz(), super::BAUD) {
        Ok(brr) => brr,
        Err(_) => panic!("the baud rate cannot be made from the APB1 clock"),
    };

    /// Says which oscillator the kernel's bring-up left the core on: both run it at
    /// 400 MHz, so the baud rate holds either way, but only HSE is crystal-accurate.
    pub fn announce_clock(port: &Usart) {
        let source = SysClient::new(SYS)
            .pll_clock_selection()
            .map(ClockSource::from_pllckselr);
        port.write_bytes(b"bulkhead: clock ");
        port.write_bytes(match source {
            Ok(Some(source)) => source.describe().as_bytes(),
            Ok(None) => b"unknown (RCC_PLLCKSELR names neither HSE nor HSI)",
            Err(_) => b"unknown (sys did not answer)",
        });
        port.write_bytes(b"\n");
        if source == Ok(Some(ClockSource::HsiFallback)) {
            port.write_bytes(b"bulkhead: usb off: a USB host needs the HSE clock's accuracy\n");
        }
    }

    /// USART3's receive path: `drv_stm32_usart::Receiver` counts the errors and says when
    /// a line was damaged.
    pub struct Receiver(drv_stm32_usart::Receiver);

    impl Receiver {
        pub const fn new() -> Self {
            Receiver(drv_stm32_usart::Receiver::new())
        }

        pub fn next(&mut self, port: &Usart) -> Option<super::Input> {
            Some(match self.0.next(port)? {
                RxEvent::Byte(byte) => super::Input::Byte(byte),
                RxEvent::Damaged(e) => super::Input::Damaged(RxErrorCounts {
                    overruns: e.overruns,
                    framing: e.framing,
                    noise: e.noise,
                    parity: e.parity,
                }),
            })
        }
    }

    pub fn open() -> Usart {
        let sys = SysClient::new(SYS);
        let clock = sys.enable_clock(peripherals::USART3);
        let tx = sys.configure_alternate(pins::USART3_TX, Speed::Low, Alternate::Af7);
        let rx = sys.configure_alternate(pins::USART3_RX, Speed::Low, Alternate::Af7);
        if clock.is_err() || tx.is_err() || rx.is_err() {
            panic!("sys refused USART3's clock or pins");
        }
        // SAFETY: sys has just clocked USART3, and app.toml maps it to this task only.
        let usart = unsafe { Usart::new(USART3_BASE) };
        usart.enable(BRR);
        usart.enable_receive_interrupts();
        usart
    }
}

/// `core::fmt` output straight to the UART.
pub struct Out<'a>(&'a board::Port);

impl core::fmt::Write for Out<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// What the UART delivered: a byte, or news that the line lost or garbled one.
pub enum Input {
    Byte(u8),
    Damaged(shell::RxErrorCounts),
}

struct Console {
    port: board::Port,
    receiver: board::Receiver,
    shell: shell::Shell,
}

impl InOrderConsoleImpl for Console {
    fn write(
        &mut self,
        _: &RecvMessage,
        text: Leased<Read, [u8]>,
    ) -> Result<(), RequestError<Infallible>> {
        let mut chunk = [0u8; 64];
        let mut at = 0;
        while at < text.len() {
            let n = chunk.len().min(text.len() - at);
            text.read_range(at, &mut chunk[..n])?;
            self.port.write_bytes(&chunk[..n]);
            at += n;
        }
        Ok(())
    }

    fn notification_mask(&self) -> u32 {
        shell::RX_NOTIFICATION | USB_POWER_NOTIFICATION
    }

    fn handle_notification(&mut self, bits: u32) {
        #[cfg(feature = "usb")]
        if bits & USB_POWER_NOTIFICATION != 0 {
            usb::power_changed(&mut Out(&self.port));
        }
        #[cfg(not(feature = "usb"))]
        let _ = bits;
        while let Some(input) = self.receiver.next(&self.port) {
            match input {
                Input::Byte(byte) => self.shell.on_byte(&mut Out(&self.port), byte),
                Input::Damaged(counts) => self.shell.on_damaged(&mut Out(&self.port), counts),
            }
        }
        sys_irq_control(shell::RX_NOTIFICATION, true, false);
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let port = board::open();
    port.write_bytes(b"\nbulkhead: console up\n");
    #[cfg(feature = "stm32h7")]
    board::announce_clock(&port);
    let console = Console {
        port,
        receiver: board::Receiver::new(),
        shell: shell::Shell::new(),
    };
    shell::boot(&mut Out(&console.port));
    console.port.write_bytes(b"type `help` for commands\n");
    sys_irq_control(shell::RX_NOTIFICATION, true, true);
    let mut console = console;
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut console);
    }
}
