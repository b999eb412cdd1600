//! STM32H743/753 peripherals behind an RCC clock gate (RM0433, "RCC register description";
//! bit positions checked against ST's CMSIS device header `stm32h743xx.h`).
//!
//! Plain data, no dependencies: `build.rs` includes this file too, to check the names an
//! app.toml uses, so the table the build checks is the table the firmware uses.

/// The RCC register groups, in address order: group `n` has its reset register at
/// `RCC + 0x7C + 4n` (AHB3RSTR...APB4RSTR) and its clock enable at `RCC + 0xD4 + 4n`
/// (AHB3ENR...APB4ENR); a peripheral's bit is the same in both.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Bus {
    Ahb3 = 0,
    Ahb1 = 1,
    Ahb2 = 2,
    Ahb4 = 3,
    Apb3 = 4,
    Apb1L = 5,
    Apb1H = 6,
    Apb2 = 7,
    Apb4 = 8,
}

/// One clock-gated peripheral.
#[derive(Copy, Clone, Debug)]
pub struct RccEntry {
    /// The name app.toml uses: the chip file's peripheral name where there is one.
    pub name: &'static str,
    pub bus: Bus,
    pub bit: u8,
    /// Whether the `...RSTR` register has a reset bit for it (the ULPI clocks have none).
    pub has_reset: bool,
}

const fn gated(name: &'static str, bus: Bus, bit: u8) -> RccEntry {
    RccEntry {
        name,
        bus,
        bit,
        has_reset: true,
    }
}

/// The peripherals `sys` knows. Add one by adding its RM0433 enable bit here.
pub const STM32H7_PERIPHERALS: &[RccEntry] = &[
    gated("gpioa", Bus::Ahb4, 0),
    gated("gpiob", Bus::Ahb4, 1),
    gated("gpioc", Bus::Ahb4, 2),
    gated("gpiod", Bus::Ahb4, 3),
    gated("gpioe", Bus::Ahb4, 4),
    gated("gpiof", Bus::Ahb4, 5),
    gated("gpiog", Bus::Ahb4, 6),
    gated("gpioh", Bus::Ahb4, 7),
    gated("gpioi", Bus::Ahb4, 8),
    gated("gpioj", Bus::Ahb4, 9),
    gated("gpiok", Bus::Ahb4, 10),
    gated("usart1", Bus::Apb2, 4),
    gated("usart2", Bus::Apb1L, 17),
    gated("usart3", Bus::Apb1L, 18),
    gated("uart4", Bus::Apb1L, 19),
    gated("syscfg", Bus::Apb4, 1),
    gated("cryp", Bus::Ahb2, 4),
    gated("hash", Bus::Ahb2, 5),
    gated("rng", Bus::Ahb2, 6),
    gated("otg1", Bus::Ahb1, 25),
    RccEntry {
        name: "otg1-ulpi",
        bus: Bus::Ahb1,
        bit: 26,
        has_reset: false,
    },
    gated("otg2", Bus::Ahb1, 27),
    RccEntry {
        name: "otg2-ulpi",
        bus: Bus::Ahb1,
        bit: 28,
        has_reset: false,
    },
];

/// GPIO ports A..K, in RCC and address order (`gpio` + 0x400 per port).
pub const GPIO_PORTS: usize = 11;
