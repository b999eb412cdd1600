//! The kernel's last words, where humility finds them (contract 3.1).

use core::ptr::addr_of_mut;

#[unsafe(no_mangle)]
static mut KERNEL_HAS_FAILED: bool = false;

#[unsafe(no_mangle)]
static mut KERNEL_EPITAPH: [u8; 128] = [0; 128];

pub fn record_epitaph(message: &[u8]) {
    // SAFETY: the kernel is stopping; nothing else writes these.
    unsafe {
        let epitaph = &mut *addr_of_mut!(KERNEL_EPITAPH);
        let n = message.len().min(epitaph.len() - 1);
        epitaph[..n].copy_from_slice(&message[..n]);
        addr_of_mut!(KERNEL_HAS_FAILED).write_volatile(true);
    }
}
