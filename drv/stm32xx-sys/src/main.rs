//! The `sys` task: serves `idl/stm32xx-sys.idol` for the peripherals and pins app.toml gives
//! it (`[tasks.sys.config]`), and refuses every other peripheral and pin, so a client can
//! neither stop a clock nor drive a pin that belongs to another driver.
//!
//! It owns two MPU regions, `rcc` and `gpio` (all ports A..K), and on a board with a USB
//! VBUS switch two more, `exti` and `syscfg`: the switch's over-current flag raises an
//! interrupt, on which `sys` posts `usb-hcd` its `over-current` notification (app.toml
//! `interrupts = { "exti.exti9-5" = "usb-over-current" }` for the Nucleo's PG7, and
//! `notify = { usb-hcd = ["over-current"] }`; doc/usb-host.md 1.12). Requests
//! are handled one at a time, so its read-modify-writes of shared registers (enable bits of
//! many peripherals live in one register) never race. Calls are idempotent except
//! `gpio_toggle`. Before restarting a driver the supervisor posts `reset-request`; `sys` then
//! takes the work from jefe and pulses the driver's `reset-peripherals` through reset
//! (`jefe_api::reset`: jefe never calls `sys`, so a stuck `sys` cannot stall it).
#![no_std]
#![no_main]

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use drv_stm32xx_sys::{exti, gpio, rcc};
use drv_stm32xx_sys_api::{
    GpioError, Level, MANAGED_PERIPHERALS, MANAGED_PINS, Peripheral, PinConfig, Port, Pull,
    RESET_PERIPHERALS, RccError, USB_OTG, USB_VBUS, UsbOtgPins, UsbVbus,
};
use idol_runtime::RequestError;
use idol_runtime::userlib::RecvMessage;
use userlib::{optional_notify, sys_irq_control, sys_post, sys_refresh_incarnation};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

/// RM0433 memory map; app.toml's `uses = ["rcc", "gpio"]` gives this task exactly these.
const RCC_BASE: usize = 0x5802_4400;
const GPIO_BASE: usize = 0x5802_0000;
/// RM0433 "RCC PLLs clock source selection register".
const RCC_PLLCKSELR: usize = 0x28;
/// RM0433 memory map; app.toml's `uses = ["exti", "syscfg"]` on a board with `usb-vbus`.
const EXTI_BASE: usize = 0x5800_0000;
const SYSCFG_BASE: usize = 0x5800_0400;
/// app.toml: `notifications = ["reset-request", "usb-over-current"]`, the second only with
/// `usb-vbus` (the build checks it and the interrupt's route).
const RESET_REQUEST: u32 = 1 << 0;
const USB_OVER_CURRENT: u32 = 1 << 1;

optional_notify!(USB_HCD, "usb-hcd", ["over-current"]);

fn read(address: usize) -> u32 {
    // SAFETY: only called with register addresses inside the regions this task owns
    // (offsets from the `rcc`, `gpio`, `exti` and `syscfg` bases above; the last two only
    // with `usb-vbus`, where the build requires their regions); device reads have no side
    // effects here.
    unsafe { read_volatile(address as *const u32) }
}

fn write(address: usize, value: u32) {
    // SAFETY: as in `read`; no other task maps these registers.
    unsafe { write_volatile(address as *mut u32, value) }
}

fn modify(address: usize, f: impl FnOnce(u32) -> u32) {
    write(address, f(read(address)));
}

struct Sys;

impl Sys {
    fn managed(&self, peripheral: Peripheral) -> Result<(), RequestError<RccError>> {
        if rcc::is_managed(MANAGED_PERIPHERALS, peripheral) {
            Ok(())
        } else {
            Err(RequestError::Op(RccError::NotManaged))
        }
    }

    fn resettable(&self, peripheral: Peripheral) -> Result<(), RequestError<RccError>> {
        self.managed(peripheral)?;
        match peripheral.entry() {
            Some(entry) if entry.has_reset => Ok(()),
            _ => Err(RequestError::Op(RccError::NoReset)),
        }
    }

    /// Pulses `peripheral` through reset: whatever it was doing (DMA, interrupts) stops, and
    /// its registers return to their reset values.
    /// The board's USB OTG core also loses VBUS: a restarted USB host driver powers the
    /// port again only once it has fenced and initialised the core, and one the supervisor
    /// holds after a crash loop leaves the port unpowered (doc/usb-host.md 5.3 item 8).
    fn reset_pulse(&self, peripheral: Peripheral) -> Result<(), RequestError<RccError>> {
        self.hold_in_reset(peripheral, true)?;
        if let (Some(otg), Some(vbus)) = (&USB_OTG, &USB_VBUS)
            && otg.core == peripheral
        {
            vbus_off(vbus);
        }
        self.hold_in_reset(peripheral, false)
    }

    /// Sets (`true`) or clears the peripheral's RCC reset bit.
    fn hold_in_reset(
        &self,
        peripheral: Peripheral,
        hold: bool,
    ) -> Result<(), RequestError<RccError>> {
        self.resettable(peripheral)?;
        let (offset, bit) = rcc::reset_bit(peripheral);
        modify(RCC_BASE + offset, |r| if hold { r | bit } else { r & !bit });
        Ok(())
    }

    fn port(&self, port: Port, pins: u16) -> Result<usize, RequestError<GpioError>> {
        if gpio::is_managed(&MANAGED_PINS, port, pins) {
            Ok(GPIO_BASE + gpio::port_offset(port))
        } else {
            Err(RequestError::Op(GpioError::NotManaged))
        }
    }
}

impl InOrderSysImpl for Sys {
    fn enable_clock(
        &mut self,
        _: &RecvMessage,
        peripheral: Peripheral,
    ) -> Result<(), RequestError<RccError>> {
        self.managed(peripheral)?;
        let (offset, bit) = rcc::enable_bit(peripheral);
        modify(RCC_BASE + offset, |r| r | bit);
        // Read back so the clock is running before the client's first register access
        // (RM0433: a delay of a few bus cycles after enabling a peripheral clock).
        read(RCC_BASE + offset);
        Ok(())
    }

    fn disable_clock(
        &mut self,
        _: &RecvMessage,
        peripheral: Peripheral,
    ) -> Result<(), RequestError<RccError>> {
        self.managed(peripheral)?;
        let (offset, bit) = rcc::enable_bit(peripheral);
        modify(RCC_BASE + offset, |r| r & !bit);
        Ok(())
    }

    fn enter_reset(
        &mut self,
        _: &RecvMessage,
        peripheral: Peripheral,
    ) -> Result<(), RequestError<RccError>> {
        self.hold_in_reset(peripheral, true)
    }

    fn leave_reset(
        &mut self,
        _: &RecvMessage,
        peripheral: Peripheral,
    ) -> Result<(), RequestError<RccError>> {
        self.hold_in_reset(peripheral, false)
    }

    fn gpio_configure(
        &mut self,
        _: &RecvMessage,
        port: Port,
        pins: u16,
        config: PinConfig,
    ) -> Result<(), RequestError<GpioError>> {
        let base = self.port(port, pins)?;
        configure(base, pins, config);
        Ok(())
    }

    fn gpio_set_reset(
        &mut self,
        _: &RecvMessage,
        port: Port,
        set: u16,
        reset: u16,
    ) -> Result<(), RequestError<GpioError>> {
        let base = self.port(port, set | reset)?;
        write(base + gpio::BSRR, gpio::bsrr(set, reset));
        Ok(())
    }

    fn gpio_toggle(
        &mut self,
        _: &RecvMessage,
        port: Port,
        pins: u16,
    ) -> Result<(), RequestError<GpioError>> {
        let base = self.port(port, pins)?;
        write(
            base + gpio::BSRR,
            gpio::toggle_bsrr(read(base + gpio::ODR), pins),
        );
        Ok(())
    }

    fn gpio_read(&mut self, _: &RecvMessage, port: Port) -> Result<u16, RequestError<GpioError>> {
        // Only ports with a managed pin are clocked (see `main`).
        if MANAGED_PINS[port as usize] == 0 {
            return Err(RequestError::Op(GpioError::NotManaged));
        }
        Ok(read(GPIO_BASE + gpio::port_offset(port) + gpio::IDR) as u16)
    }

    fn pll_clock_selection(&mut self, _: &RecvMessage) -> Result<u32, RequestError<Infallible>> {
        Ok(read(RCC_BASE + RCC_PLLCKSELR))
    }

    fn notification_mask(&self) -> u32 {
        match USB_VBUS {
            Some(_) => RESET_REQUEST | USB_OVER_CURRENT,
            None => RESET_REQUEST,
        }
    }

    /// jefe's `reset-request`: the failed mask has bit i set for each selected
    /// `reset-peripherals` name that is not one `sys` can reset. The VBUS switch's flag:
    /// `usb-hcd` is told, and reads the flag's level itself.
    fn handle_notification(&mut self, bits: u32) {
        if let Some(vbus) = &USB_VBUS
            && bits & USB_OVER_CURRENT != 0
        {
            over_current_seen(vbus);
        }
        if bits & RESET_REQUEST == 0 {
            return;
        }
        jefe_api::reset::serve(|work| {
            let peripherals = RESET_PERIPHERALS.get(work.task).copied().unwrap_or(&[]);
            (0..32)
                .filter(|i| work.mask & (1 << i) != 0)
                .filter(|&i| {
                    peripherals
                        .get(i)
                        .is_none_or(|&p| self.reset_pulse(p).is_err())
                })
                .fold(0, |failed, i| failed | 1 << i)
        });
    }
}

/// Applies `config` to `pins` of the port at `base`.
fn configure(base: usize, pins: u16, config: PinConfig) {
    let current = gpio::PortConfig {
        moder: read(base + gpio::MODER),
        otyper: read(base + gpio::OTYPER),
        ospeedr: read(base + gpio::OSPEEDR),
        pupdr: read(base + gpio::PUPDR),
        afrl: read(base + gpio::AFRL),
        afrh: read(base + gpio::AFRH),
    };
    let new = current.configured(pins, config);
    // MODER last: a pin switches mode only once its type, speed, pull and alternate
    // function are already what the new mode needs, so it never glitches through a
    // stale configuration.
    write(base + gpio::OTYPER, new.otyper);
    write(base + gpio::OSPEEDR, new.ospeedr);
    write(base + gpio::PUPDR, new.pupdr);
    write(base + gpio::AFRL, new.afrl);
    write(base + gpio::AFRH, new.afrh);
    write(base + gpio::MODER, new.moder);
}

/// Drives the board's VBUS switch to its off level.
fn vbus_off(vbus: &UsbVbus) {
    let (set, reset) = vbus.drive(false);
    write(
        GPIO_BASE + gpio::port_offset(vbus.switch.port) + gpio::BSRR,
        gpio::bsrr(set, reset),
    );
}

/// The board's VBUS switch starts as an output driven off, and its over-current flag as an
/// input pulled to its no-fault level (open-drain flags need the pull; doc/usb-host.md 1.4
/// step 3): until `usb-hcd` asks, the port is unpowered whatever the pin's reset state.
fn usb_vbus_off_at_start(vbus: &UsbVbus) {
    vbus_off(vbus);
    let switch = GPIO_BASE + gpio::port_offset(vbus.switch.port);
    configure(switch, vbus.switch.pins, PinConfig::OUTPUT);
    let pull = match vbus.fault {
        Level::Low => Pull::Up,
        Level::High => Pull::Down,
    };
    configure(
        GPIO_BASE + gpio::port_offset(vbus.over_current.port),
        vbus.over_current.pins,
        PinConfig::input(pull),
    );
}

/// The flag's edge into its fault level raises its EXTI line's interrupt (doc/usb-host.md
/// 1.12): routed to the flag's port, triggered on that edge, unmasked for the CPU.
fn usb_over_current_interrupt_at_start(vbus: &UsbVbus) {
    let Some(line) = exti::line(vbus.over_current) else {
        panic!("app.toml's usb-vbus over-current flag is not one pin");
    };
    let (offset, enable) = rcc::enable_bit(rcc::SYSCFG);
    modify(RCC_BASE + offset, |r| r | enable);
    let (exticr, _) = exti::route(line);
    modify(SYSCFG_BASE + exticr, |r| {
        exti::routed(r, vbus.over_current, line)
    });
    let bit = 1 << line;
    modify(EXTI_BASE + exti::trigger(vbus.fault), |r| r | bit);
    write(EXTI_BASE + exti::CPUPR1, bit);
    modify(EXTI_BASE + exti::CPUIMR1, |r| r | bit);
    sys_irq_control(USB_OVER_CURRENT, true, true);
}

/// The flag's interrupt fired: acknowledged, `usb-hcd` posted, the interrupt enabled again.
fn over_current_seen(vbus: &UsbVbus) {
    if let Some(line) = exti::line(vbus.over_current) {
        write(EXTI_BASE + exti::CPUPR1, 1 << line);
    }
    if let Some((hcd, bits)) = USB_HCD {
        let _ = sys_post(sys_refresh_incarnation(hcd), bits);
    }
    sys_irq_control(USB_OVER_CURRENT, true, false);
}

/// The OTG core's D-/D+ go to their alternate function at start (doc/usb-host.md 1.4 step
/// 3), at the number app.toml gives (`usb-otg`); the core drives them only once `usb-hcd`
/// has clocked and initialised it.
fn usb_otg_pins_at_start(otg: &UsbOtgPins) {
    for pins in [otg.dm, otg.dp] {
        configure(
            GPIO_BASE + gpio::port_offset(pins.port),
            pins.pins,
            otg.config(),
        );
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // Clock every port with a managed pin, so clients deal in pins only. The build checked
    // that each such port's `gpiox` is a managed peripheral.
    for (port, pins) in MANAGED_PINS.iter().enumerate() {
        if *pins != 0 {
            let (offset, bit) = rcc::enable_bit(gpio::port_clock(port));
            modify(RCC_BASE + offset, |r| r | bit);
        }
    }
    if let Some(vbus) = &USB_VBUS {
        usb_vbus_off_at_start(vbus);
        usb_over_current_interrupt_at_start(vbus);
    }
    if let Some(otg) = &USB_OTG {
        usb_otg_pins_at_start(otg);
    }
    let mut buffer = [0u8; INCOMING_SIZE];
    let mut server = Sys;
    loop {
        dispatch(&mut buffer, &mut server);
    }
}
