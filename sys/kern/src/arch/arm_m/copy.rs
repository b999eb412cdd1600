//! Copies between task memory and the kernel, after the core has checked every range
//! against the owning task's regions, and the write of a task's first exception frame.

use core::arch::{asm, global_asm};

use crate::arch::FRAME_WORDS;

// The copies and clears LLVM itself calls, for moves of whole values: start-up writing the
// task table, a restart zeroing a task's saved registers, the epitaph. The library's versions
// (weak symbols, so these replace them) cost about 1 KiB of flash, mostly a `memcpy` that
// shifts misaligned words into place; here a copy moves words then bytes, which ARMv7-M does
// at any alignment in normal memory (the kernel leaves `CCR.UNALIGN_TRP` clear, and never
// copies device memory), and a clear of a word-aligned block stores 32 bytes per round of
// four `strd`s (a restart clears 64 bytes of saved FP registers).
// None of them is on an IPC path: the kernel's own copies are `copy_bytes` below. AEABI
// copies and clears return nothing, so the pointers advance in place.
global_asm!(
    ".section .text.__aeabi_memcpy, \"ax\"",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".type __aeabi_memcpy, %function",
    ".type __aeabi_memcpy4, %function",
    ".type __aeabi_memcpy8, %function",
    ".thumb_func",
    "__aeabi_memcpy:",
    ".thumb_func",
    "__aeabi_memcpy4:",
    ".thumb_func",
    "__aeabi_memcpy8:",
    "    subs r2, r2, #4",
    "    blo 2f",
    "1:  ldr r3, [r1], #4",
    "    str r3, [r0], #4",
    "    subs r2, r2, #4",
    "    bhs 1b",
    "2:  adds r2, r2, #4",
    "    beq 4f",
    "3:  ldrb r3, [r1], #1",
    "    strb r3, [r0], #1",
    "    subs r2, r2, #1",
    "    bne 3b",
    "4:  bx lr",
    ".size __aeabi_memcpy, . - __aeabi_memcpy",
    ".size __aeabi_memcpy4, . - __aeabi_memcpy4",
    ".size __aeabi_memcpy8, . - __aeabi_memcpy8",
    ".section .text.__aeabi_memclr4, \"ax\"",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".type __aeabi_memclr4, %function",
    ".type __aeabi_memclr8, %function",
    ".thumb_func",
    "__aeabi_memclr4:",
    ".thumb_func",
    "__aeabi_memclr8:",
    "    movs r2, #0",
    "    movs r3, #0",
    "    subs r1, r1, #32",
    "    blo 2f",
    "1:  strd r2, r3, [r0], #8",
    "    strd r2, r3, [r0], #8",
    "    strd r2, r3, [r0], #8",
    "    strd r2, r3, [r0], #8",
    "    subs r1, r1, #32",
    "    bhs 1b",
    "2:  adds r1, r1, #32",
    "    beq 6f",
    "3:  subs r1, r1, #8",
    "    blo 4f",
    "    strd r2, r3, [r0], #8",
    "    bne 3b",
    "    bx lr",
    "4:  adds r1, r1, #8",
    "5:  strb r2, [r0], #1",
    "    subs r1, r1, #1",
    "    bne 5b",
    "6:  bx lr",
    ".size __aeabi_memclr4, . - __aeabi_memclr4",
    ".size __aeabi_memclr8, . - __aeabi_memclr8",
);

/// Copies `len` bytes between two non-overlapping ranges. Short copies (kernel-IPC words,
/// small messages) are the common case: they go a word at a time, inline, which ARMv7-M
/// does at any alignment in normal memory (the kernel leaves `CCR.UNALIGN_TRP` clear).
/// Longer ones go to [`copy_bulk`]. The moves are written as `asm!` because LLVM turns a
/// plain loop back into a call of the library copy, whose set-up costs more than these
/// copies.
///
/// # Safety
/// Both ranges must be valid for `len` bytes, lie in normal (not device) memory and must
/// not overlap.
unsafe fn copy_bytes(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: per this function's contract.
    unsafe {
        if len > 32 {
            copy_bulk(dst, src, len);
        } else {
            copy_tail(dst, src, len);
        }
    }
}

/// Word then byte moves, for the last few bytes of any copy.
///
/// # Safety
/// As for [`copy_bytes`].
#[inline(always)]
unsafe fn copy_tail(dst: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    // SAFETY: per this function's contract; `i` stays below `len`.
    unsafe {
        while i + 4 <= len {
            asm!(
                "ldr {t}, [{s}, {i}]",
                "str {t}, [{d}, {i}]",
                s = in(reg) src, d = in(reg) dst, i = in(reg) i, t = out(reg) _,
                options(nostack, preserves_flags),
            );
            i += 4;
        }
        while i < len {
            asm!(
                "ldrb {t}, [{s}, {i}]",
                "strb {t}, [{d}, {i}]",
                s = in(reg) src, d = in(reg) dst, i = in(reg) i, t = out(reg) _,
                options(nostack, preserves_flags),
            );
            i += 1;
        }
    }
}

/// Word then byte moves for kernel IPC's short replies (a fault report is seven words):
/// one block of `asm!` with post-incremented addresses, four instructions a word where
/// [`copy_tail`]'s indexed loop takes seven. The IPC paths keep `copy_tail`: with this block
/// in `dispatch`, LLVM allocated registers worse around it, and the empty round trip, the
/// lease read and `usb_msc_read_instr_per_kib` lost more than the moves saved (bench-client
/// README, stop 32).
///
/// # Safety
/// As for [`copy_bytes`].
#[inline(always)]
unsafe fn copy_reply_words(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: per this function's contract; both pointers advance by what was moved and
    // `n` counts down to zero, so no access goes past `len` bytes.
    unsafe {
        asm!(
            "subs {n}, {len}, #4",
            "blo 2f",
            "1:  ldr {t}, [{s}], #4",
            "str {t}, [{d}], #4",
            "subs {n}, {n}, #4",
            "bhs 1b",
            "2:  adds {n}, {n}, #4",
            "beq 4f",
            "3:  ldrb {t}, [{s}], #1",
            "strb {t}, [{d}], #1",
            "subs {n}, {n}, #1",
            "bne 3b",
            "4:",
            s = inout(reg) src => _, d = inout(reg) dst => _, len = in(reg) len,
            n = out(reg) _, t = out(reg) _,
            options(nostack),
        );
    }
}

/// Long copies (256-byte messages, leases). The library copy moves about a byte per
/// instruction; here, when both ends share their word alignment, the bulk goes 32 bytes
/// per `ldm`/`stm` pair, and otherwise 16 bytes per round of four unaligned `ldr`/`str`.
/// Out of line, so its ten registers are saved only by copies that need them.
///
/// # Safety
/// As for [`copy_bytes`].
#[inline(never)]
unsafe fn copy_bulk(mut dst: *mut u8, mut src: *const u8, mut len: usize) {
    // SAFETY (whole body): per this function's contract; every access stays inside the
    // first `len` bytes of both ranges, and the pointers advance as `len` shrinks.
    unsafe {
        if (dst as usize ^ src as usize) & 3 == 0 {
            while dst as usize & 3 != 0 {
                *dst = *src;
                (dst, src, len) = (dst.add(1), src.add(1), len - 1);
            }
            let blocks = len / 32;
            if blocks != 0 {
                asm!(
                    "2:",
                    "ldm r10!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
                    "stm r11!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    n = inout(reg) blocks => _,
                    inout("r10") src,
                    inout("r11") dst,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    out("r4") _, out("r5") _, out("r8") _, out("r12") _,
                    options(nostack),
                );
                len %= 32;
            }
        }
        let rounds = len / 16;
        if rounds != 0 {
            asm!(
                "2:",
                "ldr r0, [{s}]",
                "ldr r1, [{s}, #4]",
                "ldr r2, [{s}, #8]",
                "ldr r3, [{s}, #12]",
                "adds {s}, #16",
                "str r0, [{d}]",
                "str r1, [{d}, #4]",
                "str r2, [{d}, #8]",
                "str r3, [{d}, #12]",
                "adds {d}, #16",
                "subs {n}, {n}, #1",
                "bne 2b",
                n = inout(reg) rounds => _,
                s = inout(reg) src,
                d = inout(reg) dst,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                options(nostack),
            );
            len %= 16;
        }
        copy_tail(dst, src, len);
    }
}

/// # Safety
/// `dst` and `src` must have been checked against the owning tasks' regions, which never
/// overlap.
pub unsafe fn copy_user(dst: u32, src: u32, len: usize) {
    // SAFETY: per the caller's checks.
    unsafe { copy_bytes(dst as *mut u8, src as *const u8, len) }
}

/// # Safety
/// `dst` must have been checked writable for the task.
pub unsafe fn copy_from_kernel(dst: u32, bytes: &[u8]) {
    // SAFETY: per the caller's check, `dst` is task memory, which kernel data never overlaps.
    unsafe {
        if bytes.len() > 32 {
            copy_bulk(dst as *mut u8, bytes.as_ptr(), bytes.len());
        } else {
            copy_reply_words(dst as *mut u8, bytes.as_ptr(), bytes.len());
        }
    }
}

/// Writes a task's initial exception frame: a clear of the whole frame (the word clear
/// above), then the few words that are not zero, volatile so that the frame is not first
/// built on the kernel stack and copied. Storing all 26 words in line took about as many
/// instructions and twice the flash, at each of its two callers.
///
/// # Safety
/// `dst` must be word-aligned task RAM with room for the frame.
pub unsafe fn write_frame(dst: u32, frame: &[u32; FRAME_WORDS]) {
    let dst = dst as *mut u32;
    // SAFETY (both): per this function's contract.
    unsafe { dst.write_bytes(0, FRAME_WORDS) };
    for (i, &word) in frame.iter().enumerate() {
        if word != 0 {
            unsafe { dst.add(i).write_volatile(word) };
        }
    }
}

/// # Safety
/// `src` must have been checked readable for the task.
pub unsafe fn copy_to_kernel(out: &mut [u8], src: u32) {
    // SAFETY: per the caller's check, `src` is task memory, which kernel data never overlaps.
    unsafe { copy_bytes(out.as_mut_ptr(), src as *const u8, out.len()) }
}
