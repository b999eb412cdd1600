//! The supply configuration, written by the reset handler before anything touches RAM
//! (`app_kernel!(pre_ram = ...)`, `sys/kern/src/entry/reset_handler.rs`).
//!
//! RM0433 ("Power control (PWR)", supply configuration) requires the supply configuration
//! to be written after power-on before the system runs from the RAMs: until `PWR_CR3` is
//! written, the part runs in a default configuration with the `ACTVOSRDY` flag low, and
//! the reset handler's `.data`/`.bss` initialisation and the kernel's stack are in AXI SRAM
//! (doc/stm32h7.md 3). So this routine is plain assembly that uses r0-r2 and no stack: if
//! `SCUEN` says the supply has not been written since power-on, write LDOEN = 1,
//! BYPASS = 0, SCUEN = 0 (the value [`crate::bring_up`] expects), then wait, bounded, for
//! `ACTVOSRDY`. Then, on silicon before revision V, the AXI SRAM read workaround
//! ([`crate::chip`]), so that not even `.data`'s initialisation reads AXI SRAM without it.
//! It reports nothing: [`crate::bring_up`] checks the locked value and the ready flag again
//! and names what failed, and [`crate::chip::set_up`] reports the revision.

/// The routine's text. A macro so the host tests can read the very text the target
/// assembles.
#[cfg_attr(not(any(test, target_os = "none")), allow(unused_macros))]
macro_rules! supply_asm {
    () => {
        concat!(
            "ldr r0, =0x5802480C\n", // PWR_CR3
            "ldr r1, [r0]\n",
            "tst r1, #0x4\n", // SCUEN: 0 once written since power-on
            "beq 2f\n",
            "bic r1, r1, #0x7\n", // BYPASS, LDOEN, SCUEN
            "orr r1, r1, #0x2\n", // LDOEN
            "str r1, [r0]\n",
            "ldr r0, =0x58024804\n", // PWR_CSR1
            "ldr r2, =1000000\n",
            "1: ldr r1, [r0]\n",
            "tst r1, #0x2000\n", // ACTVOSRDY
            "bne 2f\n",
            "subs r2, r2, #1\n",
            "bne 1b\n",
            "2: ldr r0, =0x5C001000\n", // DBGMCU_IDCODE
            "ldr r1, [r0]\n",
            "lsrs r1, r1, #16\n", // REV_ID
            "cmp r1, #0x2000\n",  // revision V and later
            "bhs 3f\n",
            "ldr r0, =0x51008108\n", // AXI_TARG7_FN_MOD
            "ldr r1, [r0]\n",
            "orr r1, r1, #0x1\n", // READ_ISS_OVERRIDE
            "str r1, [r0]\n",
            "3: bx lr\n",
            ".ltorg\n",
        )
    };
}

/// The pre-RAM routine the kernel's reset handler calls (through `bulkhead_pre_ram`).
///
/// # Safety
/// Only the reset handler may call it, privileged, before the supply is otherwise written.
#[cfg(target_os = "none")]
#[unsafe(naked)]
pub unsafe extern "C" fn write_supply_before_ram() {
    core::arch::naked_asm!(supply_asm!())
}

#[cfg(test)]
mod tests {
    use crate::reg;

    fn instructions() -> Vec<String> {
        supply_asm!()
            .lines()
            .map(|l| {
                let l = l.split_once(':').map_or(l, |(label, rest)| {
                    if label.trim().chars().all(|c| c.is_ascii_digit()) {
                        rest
                    } else {
                        l
                    }
                });
                l.trim().to_string()
            })
            .filter(|l| !l.is_empty() && !l.starts_with('.'))
            .collect()
    }

    /// The routine names the same registers and bits as the Rust bring-up.
    #[test]
    fn the_routine_writes_the_ldo_supply_to_pwr_cr3_and_waits_for_actvosrdy() {
        let text: &str = supply_asm!();
        assert!(text.contains(&format!("ldr r0, ={:#X}", reg::PWR_CR3).replace("0X", "0x")));
        assert!(text.contains(&format!("ldr r0, ={:#X}", reg::PWR_CSR1).replace("0X", "0x")));
        assert!(text.contains(&format!("tst r1, #{:#x}\n", reg::CR3_SCUEN)));
        let all = reg::CR3_SCUEN | reg::CR3_LDOEN | reg::CR3_BYPASS;
        assert!(text.contains(&format!("bic r1, r1, #{all:#x}\n")));
        assert!(text.contains(&format!("orr r1, r1, #{:#x}\n", reg::CR3_LDOEN)));
        assert!(text.contains(&format!("tst r1, #{:#x}\n", reg::CSR1_ACTVOSRDY)));
    }

    #[test]
    fn the_routine_applies_the_axi_sram_workaround_before_revision_v_only() {
        use crate::chip::reg as chip;
        let text: &str = supply_asm!();
        let hex = |v: u32| format!("ldr r0, ={v:#X}").replace("0X", "0x");
        assert!(text.contains(&hex(chip::DBGMCU_IDCODE)));
        assert!(text.contains(&hex(chip::AXI_TARG7_FN_MOD)));
        assert!(text.contains(&format!("orr r1, r1, #{:#x}\n", chip::READ_ISS_OVERRIDE)));
        // The threshold is the first REV_ID without the erratum.
        assert!(text.contains("lsrs r1, r1, #16\ncmp r1, #0x2000\nbhs 3f\n"));
        assert!(crate::chip::Revision::Other(0x1FFF).has_axi_sram_read_erratum());
        assert!(!crate::chip::Revision::Other(0x2000).has_axi_sram_read_erratum());
    }

    /// Nothing touches the stack or calls out; the stores go through the PWR_CR3 and
    /// AXI_TARG7_FN_MOD addresses only; only the caller-saved r0-r3 are used; it returns
    /// with `bx lr`.
    #[test]
    fn the_routine_uses_no_stack_and_no_ram() {
        let lines = instructions();
        let mut stores = 0;
        for line in &lines {
            let mnemonic = line.split_whitespace().next().unwrap();
            assert!(
                !matches!(
                    mnemonic,
                    "push" | "pop" | "bl" | "blx" | "stm" | "stmdb" | "ldm"
                ) && !line.contains("sp")
                    && !line.contains("r4")
                    && !line.contains("r5")
                    && !line.contains("r6")
                    && !line.contains("r7"),
                "`{line}` is not allowed before RAM is set up"
            );
            if mnemonic.starts_with("str") {
                stores += 1;
                assert_eq!(line, "str r1, [r0]");
            }
        }
        assert_eq!(stores, 2);
        let hex = |v: u32| format!("ldr r0, ={v:#X}").replace("0X", "0x");
        let allowed = [hex(reg::PWR_CR3), hex(crate::chip::reg::AXI_TARG7_FN_MOD)];
        for (at, _) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.starts_with("str"))
        {
            let base = lines[..at]
                .iter()
                .rev()
                .find(|l| l.starts_with("ldr r0, ="))
                .unwrap();
            assert!(allowed.contains(base), "a store through `{base}`");
        }
        assert_eq!(lines.last().unwrap(), "bx lr");
    }
}
