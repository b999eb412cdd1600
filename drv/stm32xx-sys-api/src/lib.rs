//! Client of the STM32H7 `sys` task (`drv/stm32xx-sys`): peripheral clocks and resets (RCC)
//! and GPIO pins, over `idl/stm32xx-sys.idol`.
//!
//! Clients name peripherals and pins through [`peripherals`] and [`pins`], which the build
//! generates from the `sys` task's `config` in app.toml (`src/app_config.rs`): a name the
//! app does not give `sys` is not a constant, so using it fails to compile, and a name the
//! chip does not have fails the build. `sys` refuses anything else at run time
//! ([`RccError::NotManaged`], [`GpioError::NotManaged`]).
//!
//! The wire types carry their register encodings (RM0433 GPIO chapter): [`Mode`] is the
//! `MODER` field, [`OutputType`] the `OTYPER` bit, [`Speed`] the `OSPEEDR` field, [`Pull`]
//! the `PUPDR` field and [`Alternate`] the `AFRL`/`AFRH` nibble, so `sys` writes them as they
//! are. Invalid values never reach it: the server stub refuses them (`TryFromBytes`).
#![cfg_attr(not(test), no_std)]

pub use idol_runtime::CallError;
use zerocopy::{Immutable, IntoBytes, KnownLayout, TryFromBytes};

mod exti_table;
mod rcc_table;

pub use exti_table::exti_interrupt;
pub use rcc_table::{Bus, GPIO_PORTS, RccEntry, STM32H7_PERIPHERALS};

#[cfg(test)]
mod app_config;

include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
include!(concat!(env!("OUT_DIR"), "/sys_config.rs"));

/// A clock-gated peripheral: its RCC register group and bit, as `group * 32 + bit`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(transparent)]
pub struct Peripheral(u16);

impl Peripheral {
    pub const fn new(bus: Bus, bit: u8) -> Self {
        Peripheral((bus as u16) * 32 + bit as u16)
    }

    /// The RCC register group (`Bus as usize`): the index of its `...RSTR` and `...ENR`.
    pub const fn group(self) -> usize {
        (self.0 / 32) as usize
    }

    /// The bit in the group's reset and enable registers.
    pub const fn bit(self) -> u32 {
        (self.0 % 32) as u32
    }

    /// The table entry for this peripheral, if it is one `sys` knows.
    pub fn entry(self) -> Option<&'static RccEntry> {
        STM32H7_PERIPHERALS
            .iter()
            .find(|e| Peripheral::new(e.bus, e.bit) == self)
    }
}

/// A GPIO port; its registers are at `gpio + 0x400 * port`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum Port {
    A = 0,
    B = 1,
    C = 2,
    D = 3,
    E = 4,
    F = 5,
    G = 6,
    H = 7,
    I = 8,
    J = 9,
    K = 10,
}

/// Some pins of one port (bit n is pin n).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PinSet {
    pub port: Port,
    pub pins: u16,
}

impl PinSet {
    pub const fn new(port: Port, pins: u16) -> Self {
        PinSet { port, pins }
    }
}

/// A pin level.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Level {
    Low,
    High,
}

/// A board's USB VBUS power switch: the enable pin and the level that turns VBUS on, and
/// the switch's over-current flag and the level that signals a fault (app.toml
/// `[tasks.sys.config] usb-vbus`; doc/usb-host.md 1.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UsbVbus {
    pub switch: PinSet,
    pub on: Level,
    pub over_current: PinSet,
    pub fault: Level,
}

impl UsbVbus {
    /// The (set, reset) pins of one `gpio_set_reset` that switches VBUS `on` or off.
    pub const fn drive(&self, on: bool) -> (u16, u16) {
        let high = matches!(self.on, Level::High) == on;
        if high {
            (self.switch.pins, 0)
        } else {
            (0, self.switch.pins)
        }
    }

    /// Whether `idr`, the input levels of the over-current pin's port, signal a fault.
    pub const fn over_current(&self, idr: u16) -> bool {
        let high = idr & self.over_current.pins != 0;
        high == matches!(self.fault, Level::High)
    }
}

/// A board's USB OTG core, its data pins and the alternate function that hands them to the OTG core
/// (app.toml `[tasks.sys.config] usb-otg`; doc/usb-host.md 1.2, 1.4 step 3). `sys` applies
/// [`UsbOtgPins::CONFIG`] with this alternate function at start.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UsbOtgPins {
    /// The OTG core (its RCC clock and reset).
    pub core: Peripheral,
    pub dm: PinSet,
    pub dp: PinSet,
    pub alternate: Alternate,
}

impl UsbOtgPins {
    /// D-/D+ as the core's: alternate function, push-pull, very high speed (full speed
    /// edges), no pulls (the core's PHY has its own pull-downs in host mode).
    pub const fn config(&self) -> PinConfig {
        PinConfig {
            mode: Mode::Alternate,
            output_type: OutputType::PushPull,
            speed: Speed::VeryHigh,
            pull: Pull::None,
            alternate: self.alternate,
        }
    }
}

/// `GPIOx_MODER` field.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum Mode {
    Input = 0b00,
    Output = 0b01,
    Alternate = 0b10,
    Analog = 0b11,
}

/// `GPIOx_OTYPER` bit.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum OutputType {
    PushPull = 0,
    OpenDrain = 1,
}

/// `GPIOx_OSPEEDR` field.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum Speed {
    Low = 0b00,
    Medium = 0b01,
    High = 0b10,
    VeryHigh = 0b11,
}

/// `GPIOx_PUPDR` field (0b11 is reserved).
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum Pull {
    None = 0b00,
    Up = 0b01,
    Down = 0b10,
}

/// `GPIOx_AFRL`/`AFRH` nibble: which peripheral drives a pin in [`Mode::Alternate`]; the
/// number per pin and peripheral is in the datasheet's alternate function table.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(u8)]
pub enum Alternate {
    Af0 = 0,
    Af1 = 1,
    Af2 = 2,
    Af3 = 3,
    Af4 = 4,
    Af5 = 5,
    Af6 = 6,
    Af7 = 7,
    Af8 = 8,
    Af9 = 9,
    Af10 = 10,
    Af11 = 11,
    Af12 = 12,
    Af13 = 13,
    Af14 = 14,
    Af15 = 15,
}

/// How a pin is set up.
#[derive(Copy, Clone, Debug, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct PinConfig {
    pub mode: Mode,
    pub output_type: OutputType,
    pub speed: Speed,
    pub pull: Pull,
    pub alternate: Alternate,
}

impl PinConfig {
    /// A push-pull output without pulls, at low speed (LEDs, enables).
    pub const OUTPUT: PinConfig = PinConfig {
        mode: Mode::Output,
        output_type: OutputType::PushPull,
        speed: Speed::Low,
        pull: Pull::None,
        alternate: Alternate::Af0,
    };

    /// An input with `pull`.
    pub const fn input(pull: Pull) -> PinConfig {
        PinConfig {
            mode: Mode::Input,
            pull,
            ..PinConfig::OUTPUT
        }
    }
}

idol_runtime::error_enum! {
    /// Why `sys` refused a clock or reset request.
    pub enum RccError {
        /// app.toml does not give this peripheral to `sys` (or the chip has no such gate).
        NotManaged = 1,
        /// The peripheral has a clock gate but no reset bit.
        NoReset = 2,
    }
}

idol_runtime::error_enum! {
    /// Why `sys` refused a GPIO request.
    pub enum GpioError {
        /// app.toml does not give one of these pins to `sys`.
        NotManaged = 1,
    }
}

impl SysClient {
    /// Makes `pins` push-pull outputs without pulls, at low speed (LEDs, enables).
    pub fn configure_output(&self, pins: PinSet) -> Result<(), CallError<GpioError>> {
        self.gpio_configure(pins.port, pins.pins, PinConfig::OUTPUT)
    }

    /// Hands `pins` to a peripheral through alternate function `af` (push-pull, no pulls).
    pub fn configure_alternate(
        &self,
        pins: PinSet,
        speed: Speed,
        af: Alternate,
    ) -> Result<(), CallError<GpioError>> {
        let config = PinConfig {
            mode: Mode::Alternate,
            output_type: OutputType::PushPull,
            speed,
            pull: Pull::None,
            alternate: af,
        };
        self.gpio_configure(pins.port, pins.pins, config)
    }

    /// Inverts `pins`.
    pub fn toggle(&self, pins: PinSet) -> Result<(), CallError<GpioError>> {
        self.gpio_toggle(pins.port, pins.pins)
    }

    /// Switches the board's VBUS on or off at the level app.toml gives.
    pub fn usb_vbus(&self, vbus: &UsbVbus, on: bool) -> Result<(), CallError<GpioError>> {
        let (set, reset) = vbus.drive(on);
        self.gpio_set_reset(vbus.switch.port, set, reset)
    }

    /// Whether the board's VBUS switch reports over-current now.
    pub fn usb_over_current(&self, vbus: &UsbVbus) -> Result<bool, CallError<GpioError>> {
        Ok(vbus.over_current(self.gpio_read(vbus.over_current.port)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peripheral_codes_split_into_register_group_and_bit() {
        let usart3 = Peripheral::new(Bus::Apb1L, 18);
        assert_eq!((usart3.group(), usart3.bit()), (5, 18));
        assert_eq!(usart3.entry().map(|e| e.name), Some("usart3"));
        assert!(Peripheral::new(Bus::Apb3, 31).entry().is_none());
    }

    #[test]
    fn table_names_and_bits_are_unique() {
        for (i, a) in STM32H7_PERIPHERALS.iter().enumerate() {
            for b in &STM32H7_PERIPHERALS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(
                    Peripheral::new(a.bus, a.bit),
                    Peripheral::new(b.bus, b.bit),
                    "{} and {}",
                    a.name,
                    b.name
                );
            }
        }
    }

    /// PD10 as the switch, PG7 as the flag, in the two polarities board files disagree on.
    fn vbus(on: Level, fault: Level) -> UsbVbus {
        UsbVbus {
            switch: PinSet::new(Port::D, 1 << 10),
            on,
            over_current: PinSet::new(Port::G, 1 << 7),
            fault,
        }
    }

    #[test]
    fn vbus_is_driven_at_the_level_app_toml_gives() {
        let high = vbus(Level::High, Level::Low);
        assert_eq!(high.drive(true), (1 << 10, 0));
        assert_eq!(high.drive(false), (0, 1 << 10));
        let low = vbus(Level::Low, Level::Low);
        assert_eq!(low.drive(true), (0, 1 << 10));
        assert_eq!(low.drive(false), (1 << 10, 0));
    }

    #[test]
    fn over_current_is_read_at_its_fault_level_from_its_own_pin() {
        let active_low = vbus(Level::High, Level::Low);
        assert!(active_low.over_current(0xFF7F));
        assert!(!active_low.over_current(0x0080));
        let active_high = vbus(Level::High, Level::High);
        assert!(active_high.over_current(0x0080));
        assert!(!active_high.over_current(0xFF7F));
    }

    #[test]
    fn host_builds_manage_nothing() {
        assert_eq!(USB_VBUS, None);
        assert_eq!(USB_OTG, None);
        assert!(MANAGED_PERIPHERALS.is_empty());
        assert_eq!(MANAGED_PINS, [0; GPIO_PORTS]);
    }
}
