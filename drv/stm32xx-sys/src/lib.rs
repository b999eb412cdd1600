//! The `sys` task's register logic, without syscalls, so host tests can check it against
//! RM0433: where a peripheral's RCC enable and reset bits live, how a pin configuration
//! becomes GPIO register values, and which requests app.toml allows.
//!
//! `main.rs` is the task: it owns the `rcc` and `gpio` MPU regions and applies these
//! values with volatile reads and writes.
#![cfg_attr(not(test), no_std)]

pub mod rcc {
    //! RCC (RM0433 "RCC register description"). Group `n` (the `Bus` order) has its reset
    //! register at `0x7C + 4n` (AHB3RSTR, AHB1RSTR, ..., APB4RSTR) and its enable register
    //! at `0xD4 + 4n` (AHB3ENR, AHB1ENR, ..., APB4ENR); a peripheral's bit is the same in both.

    use drv_stm32xx_sys_api::Peripheral;

    /// SYSCFG (APB4ENR.SYSCFGEN): `sys` clocks it itself to route the VBUS switch's flag to
    /// its EXTI line; no client asks for it.
    pub const SYSCFG: Peripheral = Peripheral::new(drv_stm32xx_sys_api::Bus::Apb4, 1);

    const RSTR_BASE: usize = 0x7C;
    const ENR_BASE: usize = 0xD4;

    /// Offset of `peripheral`'s `...ENR` register from the RCC base, and its bit mask.
    pub const fn enable_bit(peripheral: Peripheral) -> (usize, u32) {
        (ENR_BASE + 4 * peripheral.group(), 1 << peripheral.bit())
    }

    /// Offset of `peripheral`'s `...RSTR` register from the RCC base, and its bit mask.
    pub const fn reset_bit(peripheral: Peripheral) -> (usize, u32) {
        (RSTR_BASE + 4 * peripheral.group(), 1 << peripheral.bit())
    }

    /// Whether app.toml gives `peripheral` to `sys` (`managed` is the generated list).
    pub fn is_managed(managed: &[Peripheral], peripheral: Peripheral) -> bool {
        managed.contains(&peripheral)
    }
}

pub mod gpio {
    //! GPIO ports (RM0433 "GPIO registers"): one 0x400-byte block per port A..K.

    use drv_stm32xx_sys_api::{Bus, GPIO_PORTS, Peripheral, PinConfig, Port};

    pub const PORT_STRIDE: usize = 0x400;
    pub const MODER: usize = 0x00;
    pub const OTYPER: usize = 0x04;
    pub const OSPEEDR: usize = 0x08;
    pub const PUPDR: usize = 0x0C;
    pub const IDR: usize = 0x10;
    pub const ODR: usize = 0x14;
    pub const BSRR: usize = 0x18;
    pub const AFRL: usize = 0x20;
    pub const AFRH: usize = 0x24;

    /// The configuration registers of one port.
    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    pub struct PortConfig {
        pub moder: u32,
        pub otyper: u32,
        pub ospeedr: u32,
        pub pupdr: u32,
        pub afrl: u32,
        pub afrh: u32,
    }

    impl PortConfig {
        /// These registers with every pin in `pins` set to `config`; other pins unchanged.
        pub fn configured(self, pins: u16, config: PinConfig) -> PortConfig {
            PortConfig {
                moder: fields(self.moder, pins.into(), 2, config.mode as u32),
                otyper: fields(self.otyper, pins.into(), 1, config.output_type as u32),
                ospeedr: fields(self.ospeedr, pins.into(), 2, config.speed as u32),
                pupdr: fields(self.pupdr, pins.into(), 2, config.pull as u32),
                afrl: fields(
                    self.afrl,
                    u32::from(pins & 0xFF),
                    4,
                    config.alternate as u32,
                ),
                afrh: fields(self.afrh, u32::from(pins >> 8), 4, config.alternate as u32),
            }
        }
    }

    /// `register` with the `width`-bit field of every pin in `pins` replaced by `value`.
    fn fields(register: u32, pins: u32, width: u32, value: u32) -> u32 {
        let field_mask = (1 << width) - 1;
        (0..32 / width)
            .filter(|pin| pins & (1 << pin) != 0)
            .fold(register, |r, pin| {
                let shift = pin * width;
                (r & !(field_mask << shift)) | (value << shift)
            })
    }

    /// The `BSRR` word that drives `set` high and `reset` low in one write. The low half
    /// sets and the high half resets; where both name a pin, the hardware lets set win.
    pub const fn bsrr(set: u16, reset: u16) -> u32 {
        ((reset as u32) << 16) | set as u32
    }

    /// The `BSRR` word that inverts `pins`, given the port's `ODR`. Going through `BSRR`
    /// leaves pins outside `pins` untouched even if something else drives them meanwhile.
    pub const fn toggle_bsrr(odr: u32, pins: u16) -> u32 {
        let high = odr as u16 & pins;
        bsrr(pins & !high, high)
    }

    /// Offset of `port`'s register block from the `gpio` region base.
    pub const fn port_offset(port: Port) -> usize {
        port as usize * PORT_STRIDE
    }

    /// The clock gate of port number `port` (A = 0): AHB4ENR bit `port` (GPIOAEN..GPIOKEN).
    pub const fn port_clock(port: usize) -> Peripheral {
        Peripheral::new(Bus::Ahb4, port as u8)
    }

    /// Whether app.toml gives every pin in `pins` of `port` to `sys` (`managed` is the
    /// generated per-port table).
    pub const fn is_managed(managed: &[u16; GPIO_PORTS], port: Port, pins: u16) -> bool {
        pins & !managed[port as usize] == 0
    }
}

#[cfg(test)]
mod tests {
    use drv_stm32xx_sys_api::{
        Alternate, Bus, Mode, OutputType, Peripheral, PinConfig, Port, Pull, Speed,
    };

    use crate::gpio::{self, PortConfig};
    use crate::rcc;

    // Expected values below are worked out by hand from RM0433's register tables.

    #[test]
    fn syscfg_clock_is_apb4enr_bit_1_as_the_table_has_it() {
        assert_eq!(rcc::enable_bit(rcc::SYSCFG), (0xF4, 1 << 1));
        assert_eq!(rcc::SYSCFG.entry().map(|e| e.name), Some("syscfg"));
    }

    #[test]
    fn usart3_clock_is_apb1lenr_bit_18_and_reset_apb1lrstr_bit_18() {
        let usart3 = Peripheral::new(Bus::Apb1L, 18);
        assert_eq!(rcc::enable_bit(usart3), (0xE8, 1 << 18));
        assert_eq!(rcc::reset_bit(usart3), (0x90, 1 << 18));
    }

    #[test]
    fn gpio_ports_are_ahb4_and_otg_is_ahb1() {
        assert_eq!(rcc::enable_bit(Peripheral::new(Bus::Ahb4, 4)), (0xE0, 0x10)); // GPIOEEN
        assert_eq!(rcc::reset_bit(Peripheral::new(Bus::Ahb4, 1)), (0x88, 0x2)); // GPIOBRST
        assert_eq!(
            rcc::enable_bit(Peripheral::new(Bus::Ahb1, 27)),
            (0xD8, 1 << 27)
        ); // USB2OTGFSEN
        assert_eq!(rcc::enable_bit(Peripheral::new(Bus::Apb4, 1)), (0xF4, 0x2)); // SYSCFGEN
        assert_eq!(rcc::enable_bit(Peripheral::new(Bus::Ahb3, 0)), (0xD4, 0x1));
        assert_eq!(rcc::reset_bit(Peripheral::new(Bus::Apb4, 1)), (0x9C, 0x2));
    }

    #[test]
    fn only_listed_peripherals_are_managed() {
        let managed = [
            Peripheral::new(Bus::Ahb4, 1),
            Peripheral::new(Bus::Apb1L, 18),
        ];
        assert!(rcc::is_managed(&managed, Peripheral::new(Bus::Apb1L, 18)));
        assert!(!rcc::is_managed(&managed, Peripheral::new(Bus::Apb1L, 17)));
    }

    const RESET: PortConfig = PortConfig {
        moder: 0xFFFF_FFFF,
        otyper: 0,
        ospeedr: 0,
        pupdr: 0,
        afrl: 0,
        afrh: 0,
    };

    #[test]
    fn pb0_and_pb14_as_push_pull_outputs() {
        let out = RESET.configured(
            (1 << 0) | (1 << 14),
            PinConfig {
                mode: Mode::Output,
                output_type: OutputType::PushPull,
                speed: Speed::Low,
                pull: Pull::None,
                alternate: Alternate::Af0,
            },
        );
        // MODER0 = 01 (bits 1:0), MODER14 = 01 (bits 29:28); every other pin stays analog (11).
        assert_eq!(out.moder, 0xDFFF_FFFD);
        assert_eq!(
            (out.otyper, out.ospeedr, out.pupdr, out.afrl, out.afrh),
            (0, 0, 0, 0, 0)
        );
    }

    #[test]
    fn pd8_and_pd9_as_usart3_af7() {
        let out = RESET.configured(
            (1 << 8) | (1 << 9),
            PinConfig {
                mode: Mode::Alternate,
                output_type: OutputType::PushPull,
                speed: Speed::Medium,
                pull: Pull::Up,
                alternate: Alternate::Af7,
            },
        );
        // MODER8/9 = 10 at bits 17:16 and 19:18.
        assert_eq!(out.moder, 0xFFFA_FFFF);
        // OSPEEDR8/9 = 01, PUPDR8/9 = 01.
        assert_eq!(out.ospeedr, 0x0005_0000);
        assert_eq!(out.pupdr, 0x0005_0000);
        // AFRH holds pins 8..15: AFR8 = bits 3:0, AFR9 = bits 7:4.
        assert_eq!((out.afrl, out.afrh), (0, 0x77));
    }

    /// PA11 (D-) and PA12 (D+) handed to OTG2 in alternate function 10, as both Nucleo
    /// apps name them (`usb-otg`), from port A's reset values (RM0433: MODER 0xABFF_FFFF,
    /// OSPEEDR 0x0C00_0000, PUPDR 0x6400_0000; the debug pins PA13-15 keep theirs).
    #[test]
    fn pa11_and_pa12_as_otg_af10_leave_the_debug_pins_alone() {
        use drv_stm32xx_sys_api::{PinSet, UsbOtgPins};
        let otg = UsbOtgPins {
            core: Peripheral::new(Bus::Ahb1, 27),
            dm: PinSet::new(Port::A, 1 << 11),
            dp: PinSet::new(Port::A, 1 << 12),
            alternate: Alternate::Af10,
        };
        let reset_a = PortConfig {
            moder: 0xABFF_FFFF,
            otyper: 0,
            ospeedr: 0x0C00_0000,
            pupdr: 0x6400_0000,
            afrl: 0,
            afrh: 0,
        };
        let out = reset_a
            .configured(otg.dm.pins, otg.config())
            .configured(otg.dp.pins, otg.config());
        // MODER11/12 = 10 at bits 23:22 and 25:24.
        assert_eq!(out.moder, 0xAABF_FFFF);
        assert_eq!(out.otyper, 0);
        // OSPEEDR11/12 = 11 (very high), PA13's 11 kept.
        assert_eq!(out.ospeedr, 0x0FC0_0000);
        // No pulls on D-/D+; PA13 pull-up, PA14 pull-down kept.
        assert_eq!(out.pupdr, 0x6400_0000);
        // AFRH: AFR11 = bits 15:12, AFR12 = bits 19:16.
        assert_eq!((out.afrl, out.afrh), (0, 0x000A_A000));
    }

    #[test]
    fn open_drain_and_alternate_functions_only_touch_the_named_pins() {
        let before = PortConfig {
            moder: 0,
            otyper: 0x8000,
            ospeedr: 0x3,
            pupdr: 0,
            afrl: 0xF000_0000,
            afrh: 0x1,
        };
        let out = before.configured(
            1 << 1,
            PinConfig {
                mode: Mode::Alternate,
                output_type: OutputType::OpenDrain,
                speed: Speed::VeryHigh,
                pull: Pull::Down,
                alternate: Alternate::Af12,
            },
        );
        assert_eq!(out.moder, 0b10 << 2);
        assert_eq!(out.otyper, 0x8002);
        assert_eq!(out.ospeedr, 0xF);
        assert_eq!(out.pupdr, 0b10 << 2);
        assert_eq!(out.afrl, 0xF000_00C0);
        assert_eq!(out.afrh, 0x1);
    }

    #[test]
    fn bsrr_sets_in_the_low_half_and_resets_in_the_high_half() {
        assert_eq!(gpio::bsrr(1 << 0, 1 << 14), 0x4000_0001);
        assert_eq!(gpio::bsrr(0, 0), 0);
    }

    #[test]
    fn toggle_resets_high_pins_and_sets_low_ones() {
        // PB0 high, PB14 low, PB7 high but not toggled.
        let odr = (1 << 0) | (1 << 7);
        assert_eq!(
            gpio::toggle_bsrr(odr, (1 << 0) | (1 << 14)),
            (1 << 16) | (1 << 14)
        );
    }

    #[test]
    fn ports_are_0x400_apart() {
        assert_eq!(gpio::port_offset(Port::A), 0);
        assert_eq!(gpio::port_offset(Port::E), 0x1000);
        assert_eq!(gpio::port_offset(Port::K), 0x2800);
    }

    #[test]
    fn port_clocks_are_the_gpio_table_entries() {
        for (port, letter) in "abcdefghijk".chars().enumerate() {
            let entry = gpio::port_clock(port).entry().expect("a known peripheral");
            assert_eq!(entry.name, format!("gpio{letter}"));
        }
    }

    #[test]
    fn pins_outside_the_managed_set_are_refused() {
        let mut managed = [0u16; 11];
        managed[Port::B as usize] = 0x4001;
        assert!(gpio::is_managed(&managed, Port::B, 0x4001));
        assert!(gpio::is_managed(&managed, Port::B, 0x0001));
        assert!(!gpio::is_managed(&managed, Port::B, 0x0002));
        assert!(!gpio::is_managed(&managed, Port::C, 0x0001));
    }
}

pub mod exti {
    //! EXTI (RM0433 "Extended interrupts and events controller") and SYSCFG's EXTI line
    //! routing: the board's VBUS switch flag raises an interrupt on its edge into the fault
    //! level, so `sys` can tell `usb-hcd` of an over-current at once (doc/usb-host.md 1.12).
    //!
    //! GPIO line `n` (pin `n` of any port) is EXTI line `n`; `SYSCFG_EXTICR1..4` pick the
    //! port of four lines each, four bits a line (port A = 0 ... K = 10). Lines 0-4 have an
    //! NVIC interrupt each; 5-9 and 10-15 share one per group.

    pub use drv_stm32xx_sys_api::exti_interrupt as irq;
    use drv_stm32xx_sys_api::{Level, PinSet};

    /// Offsets from the EXTI base: rising and falling trigger selection, the CPU's
    /// interrupt mask, and its pending register (write 1 to clear).
    pub const RTSR1: usize = 0x00;
    pub const FTSR1: usize = 0x04;
    pub const CPUIMR1: usize = 0x80;
    pub const CPUPR1: usize = 0x88;

    /// SYSCFG_EXTICR1's offset from the SYSCFG base; EXTICR2..4 follow.
    const EXTICR1: usize = 0x08;

    /// The one pin of `pins` (a flag is one pin), as its EXTI line.
    pub const fn line(pins: PinSet) -> Option<u8> {
        if pins.pins.count_ones() == 1 {
            Some(pins.pins.trailing_zeros() as u8)
        } else {
            None
        }
    }

    /// The SYSCFG_EXTICRx offset that routes `line`, and the field's shift in it.
    pub const fn route(line: u8) -> (usize, u32) {
        (EXTICR1 + 4 * (line as usize / 4), 4 * (line as u32 % 4))
    }

    /// `exticr` with `line`'s field set to `pins`' port.
    pub const fn routed(exticr: u32, pins: PinSet, line: u8) -> u32 {
        let (_, shift) = route(line);
        (exticr & !(0xF << shift)) | ((pins.port as u32) << shift)
    }

    /// The trigger register of the edge into `level`: a flag that signals at low fires on
    /// the falling edge.
    pub const fn trigger(level: Level) -> usize {
        match level {
            Level::Low => FTSR1,
            Level::High => RTSR1,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use drv_stm32xx_sys_api::Port;

        #[test]
        fn the_nucleo_flag_pg7_is_line_7_routed_to_port_g_in_exticr2() {
            let pg7 = PinSet::new(Port::G, 1 << 7);
            assert_eq!(line(pg7), Some(7));
            assert_eq!(route(7), (0x0C, 12));
            assert_eq!(routed(0xFFFF_FFFF, pg7, 7), 0xFFFF_6FFF);
            assert_eq!(routed(0, pg7, 7), 0x6000);
            assert_eq!(irq(7), (23, "exti9-5"));
            assert_eq!(trigger(Level::Low), FTSR1);
        }

        #[test]
        fn the_first_and_last_lines_and_ports() {
            let pa0 = PinSet::new(Port::A, 1);
            assert_eq!(
                (line(pa0), route(0), routed(0xF, pa0, 0)),
                (Some(0), (0x08, 0), 0)
            );
            let pk15 = PinSet::new(Port::K, 1 << 15);
            assert_eq!(route(15), (0x14, 12));
            assert_eq!(routed(0, pk15, 15), 10 << 12);
            assert_eq!(irq(4), (10, "exti4"));
            assert_eq!(irq(5), (23, "exti9-5"));
            assert_eq!(irq(10), (40, "exti15-10"));
            assert_eq!(irq(15), (40, "exti15-10"));
            assert_eq!(trigger(Level::High), RTSR1);
        }

        #[test]
        fn a_flag_is_exactly_one_pin() {
            assert_eq!(line(PinSet::new(Port::G, 0)), None);
            assert_eq!(line(PinSet::new(Port::G, 0b11 << 6)), None);
        }
    }
}
