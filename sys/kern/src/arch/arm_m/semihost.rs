//! The campaign's report channel (feature `fault-inject`): Arm semihosting, which QEMU
//! serves when started with `-semihosting-config enable=on` (`cargo xtask campaign` does).
//! Without a debugger or QEMU behind it the `bkpt` would fault the kernel, which is one
//! reason the builder refuses this feature for board images.

use core::arch::asm;

const SYS_WRITE0: u32 = 0x04;
const SYS_EXIT: u32 = 0x18;
/// ADP_Stopped_ApplicationExit: QEMU exits with status 0.
const APPLICATION_EXIT: u32 = 0x20026;

/// Writes `line`, which must end in a NUL.
pub fn campaign_write(line: &[u8]) {
    debug_assert_eq!(line.last(), Some(&0));
    // SAFETY: the semihosting call only reads the NUL-terminated string.
    unsafe {
        asm!("bkpt #0xab", inout("r0") SYS_WRITE0 => _, in("r1") line.as_ptr(),
             options(nostack, readonly, preserves_flags))
    }
}

pub fn campaign_exit() -> ! {
    // SAFETY: ends the emulation; nothing runs after it.
    unsafe {
        asm!("bkpt #0xab", in("r0") SYS_EXIT, in("r1") APPLICATION_EXIT,
             options(nostack, nomem, preserves_flags))
    };
    super::halt_forever()
}
