//! The kernel's last words, where humility finds them (contract 3.1).

use core::ptr::addr_of_mut;

#[unsafe(no_mangle)]
static mut KERNEL_HAS_FAILED: bool = false;

/// Bytes of `KERNEL_EPITAPH`: room for the longest message the kernel writes and its
/// terminating zero (humility reads the array at its DWARF size and stops at the first
/// zero). Hubris reserves 128; the kernel's messages are fixed and at most 41 bytes
/// (`fail.rs` checks them against this at compile time).
pub const EPITAPH_LEN: usize = 64;

#[unsafe(no_mangle)]
static mut KERNEL_EPITAPH: [u8; EPITAPH_LEN] = [0; EPITAPH_LEN];

pub fn record_epitaph(message: &[u8]) {
    // SAFETY: the kernel is stopping; nothing else writes these.
    unsafe {
        let epitaph = &mut *addr_of_mut!(KERNEL_EPITAPH);
        let n = message.len().min(epitaph.len() - 1);
        epitaph[..n].copy_from_slice(&message[..n]);
        addr_of_mut!(KERNEL_HAS_FAILED).write_volatile(true);
    }
}
