//! The panic handler: the message goes into a buffer in the task's own RAM and the task
//! faults with `FaultInfo::Panic`, its saved r4/r5 pointing at the message (where the
//! supervisor's `read_panic_message` and humility's `tasks` find it).

use core::panic::PanicInfo;

const PANIC_MESSAGE_MAX: usize = 128;

static mut PANIC_BUFFER: [u8; PANIC_MESSAGE_MAX] = [0; PANIC_MESSAGE_MAX];

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    // SAFETY: tasks are single-threaded and a panic never returns, so this is the only
    // reference to the buffer that will ever exist in this incarnation.
    let buffer = unsafe { &mut *core::ptr::addr_of_mut!(PANIC_BUFFER) };
    let len = write_message(buffer, info);
    crate::sys_panic(&buffer[..len])
}

#[cfg(feature = "panic-messages")]
fn write_message(buffer: &mut [u8], info: &PanicInfo<'_>) -> usize {
    struct Truncating<'a> {
        buffer: &'a mut [u8],
        len: usize,
    }
    impl core::fmt::Write for Truncating<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.buffer.len() - self.len);
            self.buffer[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut w = Truncating { buffer, len: 0 };
    let _ = core::fmt::write(&mut w, format_args!("{info}"));
    w.len
}

#[cfg(not(feature = "panic-messages"))]
fn write_message(buffer: &mut [u8], _info: &PanicInfo<'_>) -> usize {
    const MESSAGE: &[u8] = b"panic (messages disabled)";
    buffer[..MESSAGE.len()].copy_from_slice(MESSAGE);
    MESSAGE.len()
}
