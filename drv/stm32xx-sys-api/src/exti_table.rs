//! The STM32H743/753 NVIC interrupts of the GPIO EXTI lines (RM0433 vector table), by line:
//! lines 0-4 have one each, 5-9 and 10-15 share one per group. Each comes with its name in
//! the chip file's `exti` interrupts (`build/chips/stm32h7*.toml`), so the build can check
//! that app.toml routes the interrupt a pin's line raises.
//!
//! Plain data, no dependencies: `build.rs` includes this file too.

/// The interrupt of EXTI line `line` (0-15) and its chip-file name.
pub const fn exti_interrupt(line: u8) -> (u32, &'static str) {
    match line {
        0 => (6, "exti0"),
        1 => (7, "exti1"),
        2 => (8, "exti2"),
        3 => (9, "exti3"),
        4 => (10, "exti4"),
        5..=9 => (23, "exti9-5"),
        _ => (40, "exti15-10"),
    }
}
