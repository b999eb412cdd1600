//! The reset handler's text, kept apart from the vector table so the host tests can read the
//! order in which it touches the machine.
//!
//! Nothing before `bl bulkhead_pre_ram` may touch RAM: STM32H7 must write its supply
//! configuration before the first access to AXI SRAM (doc/stm32h7.md 3), and the hook is
//! where a board does that. `bl` keeps the return address in `lr`, so the call itself uses
//! no stack. `app_kernel!` defines the hook in every kernel: an empty one unless the app
//! names a routine (`pre_ram = ...`), which must use neither the stack nor any RAM.

// Host builds have no reset handler; only the tests read the text.
#![cfg_attr(not(target_os = "none"), allow(unused_macros, unused_imports))]

/// Enables the FPU (CPACR CP10/CP11 full access) before compiled code can use it, points
/// VTOR at our table, runs the board's pre-RAM hook, initialises `.data` and `.bss`, then
/// enters the app.
macro_rules! reset_handler_asm {
    () => {
        concat!(
            ".section .text.Reset, \"ax\"\n",
            ".global Reset\n",
            ".type Reset, %function\n",
            ".thumb_func\n",
            "Reset:\n",
            "    ldr r0, =0xE000ED88\n",
            "    ldr r1, [r0]\n",
            "    orr r1, r1, #(0xF << 20)\n",
            "    str r1, [r0]\n",
            "    dsb\n",
            "    isb\n",
            "    ldr r0, =0xE000ED08\n",
            "    ldr r1, =__vector_table\n",
            "    str r1, [r0]\n",
            "    bl bulkhead_pre_ram\n",
            "    ldr r0, =__sdata\n",
            "    ldr r1, =__edata\n",
            "    ldr r2, =__sidata\n",
            "2:  cmp r0, r1\n",
            "    bhs 3f\n",
            "    ldr r3, [r2], #4\n",
            "    str r3, [r0], #4\n",
            "    b 2b\n",
            "3:  ldr r0, =__sbss\n",
            "    ldr r1, =__ebss\n",
            "    movs r3, #0\n",
            "4:  cmp r0, r1\n",
            "    bhs 5f\n",
            "    str r3, [r0], #4\n",
            "    b 4b\n",
            "5:  bl kernel_main\n",
            "    udf #0\n",
            ".size Reset, . - Reset\n",
        )
    };
}
pub(crate) use reset_handler_asm;

#[cfg(test)]
mod tests {
    /// The instructions of the reset handler up to the board's pre-RAM hook, without labels.
    fn before_hook() -> Vec<String> {
        let text: &str = reset_handler_asm!();
        let body = text.split("Reset:\n").nth(1).expect("a Reset label");
        let lines: Vec<String> = body
            .lines()
            .map(|l| {
                l.split_once(':')
                    .map_or(l, |(_, rest)| rest)
                    .trim()
                    .to_string()
            })
            .collect();
        let hook = lines
            .iter()
            .position(|l| l == "bl bulkhead_pre_ram")
            .expect("the reset handler calls bulkhead_pre_ram");
        lines[..hook].to_vec()
    }

    #[test]
    fn the_pre_ram_hook_runs_before_data_and_bss_are_written() {
        let text: &str = reset_handler_asm!();
        let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle}"));
        assert!(at("bl bulkhead_pre_ram") < at("=__sdata"));
        assert!(at("bl bulkhead_pre_ram") < at("=__sbss"));
        assert!(at("bl bulkhead_pre_ram") < at("bl kernel_main"));
    }

    /// Before the hook, every store goes to a System Control Space register (0xE000_xxxx,
    /// never RAM), and nothing pushes, calls or moves the stack pointer.
    #[test]
    fn nothing_before_the_pre_ram_hook_touches_ram_or_the_stack() {
        let mut base_is_scs = false;
        for line in before_hook() {
            let mnemonic = line.split_whitespace().next().unwrap_or("");
            assert!(
                !matches!(mnemonic, "push" | "bl" | "blx" | "stm" | "stmdb" | "strd")
                    && !line.contains("sp"),
                "`{line}` in the reset handler runs before the pre-RAM hook"
            );
            if line.starts_with("ldr r0, =") {
                base_is_scs = line.starts_with("ldr r0, =0xE000");
            }
            if mnemonic.starts_with("str") {
                assert!(
                    line.ends_with("[r0]") && base_is_scs,
                    "`{line}` before the pre-RAM hook may store outside the System Control Space"
                );
            }
        }
    }
}
