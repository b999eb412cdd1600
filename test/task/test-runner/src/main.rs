//! Supervisor of kernel test images (task 0).
//!
//! It owns the console, records every fault the kernel reports and detaches the faulted
//! task at once (so whoever was blocked on it wakes with a code the test can check), and
//! performs the privileged steps the test suite asks for. It never restarts anything on its
//! own: tests decide. A fault of the suite itself is unexpected and reported as `FAULT`,
//! which fails the run. At boot it reports the outcome of a supervisor-fault test left in
//! memory that survives the reset.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use drv_cmsdk_uart::Uart;
use idol_runtime::{Leased, Read, RequestError, Write};
use userlib::{FAULT_NOTIFICATION, RecvMessage, ResetReason, TextBuf, kipc};

include!(concat!(env!("OUT_DIR"), "/server_stub.rs"));

const UART0: usize = 0x4000_4000;
const CLOCK_HZ: u32 = 25_000_000;
const SUITE: usize = 1;
const NUM_TASKS: usize = hubris_num_tasks::NUM_TASKS;

/// Survives the system reset the supervisor-fault test causes: `.uninit` is neither loaded
/// nor zeroed by start-up, and a reset does not clear RAM. Its power-on value is whatever
/// RAM holds, which is why the armed pattern is an unlikely 32-bit value.
#[unsafe(link_section = ".uninit.reset_probe")]
static mut RESET_PROBE: u32 = 0;
const RESET_PROBE_ARMED: u32 = 0x5EB0_07ED;

struct Runner {
    uart: Uart,
    faults: [Option<[u32; 3]>; NUM_TASKS],
}

impl Runner {
    fn line(&self, text: &[u8]) {
        self.uart.write_bytes(text);
        self.uart.write_bytes(b"\n");
    }

    /// Records and detaches every newly faulted task.
    fn collect_faults(&mut self) {
        for i in 1..NUM_TASKS {
            let status = kipc::read_task_status(i);
            let Some(fault) = status.fault else { continue };
            if status.detached {
                continue;
            }
            self.faults[i] = Some(fault.encode());
            kipc::detach_task(i);
            if i == SUITE {
                let mut text = TextBuf::<160>::new();
                let _ = write!(text, "FAULT suite {fault:?}");
                self.line(text.as_bytes());
            }
        }
    }
}

impl InOrderTestRunnerImpl for Runner {
    fn log(
        &mut self,
        _: &RecvMessage,
        text: Leased<Read, [u8]>,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        let mut chunk = [0u8; 64];
        let mut at = 0;
        while at < text.len() {
            let n = chunk.len().min(text.len() - at);
            text.read_range(at, &mut chunk[..n])?;
            self.uart.write_bytes(&chunk[..n]);
            at += n;
        }
        self.uart.write_bytes(b"\n");
        Ok(())
    }

    fn take_fault(
        &mut self,
        _: &RecvMessage,
        task: u32,
        out: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        self.collect_faults();
        let Some(fault) = self.faults.get_mut(task as usize).and_then(Option::take) else {
            return Ok(0);
        };
        let mut bytes = [0u8; 12];
        for (chunk, w) in bytes.chunks_exact_mut(4).zip(fault) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        out.write_range(0, &bytes)?;
        Ok(1)
    }

    fn detach(
        &mut self,
        _: &RecvMessage,
        task: u32,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        kipc::detach_task(task as usize);
        Ok(())
    }

    fn restart(
        &mut self,
        _: &RecvMessage,
        task: u32,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        self.faults[task as usize] = None;
        kipc::restart_task(task as usize, true);
        Ok(())
    }

    fn inject(
        &mut self,
        _: &RecvMessage,
        task: u32,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        kipc::fault_task(task as usize);
        Ok(())
    }

    fn panic_message(
        &mut self,
        _: &RecvMessage,
        task: u32,
        out: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        let mut message = [0u8; 128];
        let n = kipc::read_panic_message(task as usize, &mut message).unwrap_or(0);
        let n = n.min(out.len());
        out.write_range(0, &message[..n])?;
        Ok(n as u32)
    }

    fn sched_state(
        &mut self,
        _: &RecvMessage,
        task: u32,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        Ok(kipc::read_task_status(task as usize).sched.encode().0)
    }

    fn software_irq(
        &mut self,
        _: &RecvMessage,
        task: u32,
        mask: u32,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        Ok(u32::from(kipc::software_irq(task as usize, mask)))
    }

    fn image_id_into(
        &mut self,
        _: &RecvMessage,
        len: u32,
        offset: u32,
        out: Leased<Write, [u8]>,
    ) -> Result<u32, RequestError<core::convert::Infallible>> {
        let mut buffer = [0xEEu8; 16];
        let (offset, len) = (offset as usize, len as usize);
        let Some(reply) = buffer.get_mut(offset..offset.saturating_add(len)) else {
            return Err(RequestError::Fault(
                userlib::ReplyFaultReason::BadMessageContents,
            ));
        };
        let (_, got) = userlib::sys_send(
            userlib::Incarnation::KERNEL,
            userlib::Kipcnum::ReadImageId as u16,
            &[],
            reply,
            &[],
        );
        out.write_range(0, &buffer[..out.len().min(16)])?;
        Ok(got as u32)
    }

    fn fault_supervisor(
        &mut self,
        _: &RecvMessage,
    ) -> Result<(), RequestError<core::convert::Infallible>> {
        self.line(b"runner: faulting the supervisor; the kernel must reset the system");
        // SAFETY: single-threaded task; the probe is plain memory in our own RAM.
        unsafe { core::ptr::addr_of_mut!(RESET_PROBE).write_volatile(RESET_PROBE_ARMED) };
        // Divide by zero traps (the kernel enables DIV_0_TRP).
        let zero: u32 = 0;
        // SAFETY: `udiv` by zero raises a UsageFault on purpose.
        unsafe { core::arch::asm!("udiv {0}, {0}, {1}", inout(reg) 1u32 => _, in(reg) zero) };
        Ok(())
    }

    fn notification_mask(&self) -> u32 {
        FAULT_NOTIFICATION
    }

    fn handle_notification(&mut self, _bits: u32) {
        self.collect_faults();
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    // SAFETY: app.toml maps uart0 to this task only.
    let uart = unsafe { Uart::new(UART0) };
    uart.enable(CLOCK_HZ, 115_200);
    let mut runner = Runner {
        uart,
        faults: [None; NUM_TASKS],
    };
    runner.line(b"test runner up");
    let probe = core::ptr::addr_of_mut!(RESET_PROBE);
    // SAFETY: as above.
    if unsafe { probe.read_volatile() } == RESET_PROBE_ARMED {
        // SAFETY: as above.
        unsafe { probe.write_volatile(0) };
        runner.line(b"TEST supervisor_fault_resets_system ok");
        // The kernel recorded why it reset, and read it back at boot.
        match kipc::read_reset_reason() {
            Some(ResetReason::SupervisorFault) => runner.line(b"TEST reset_reason_survives_the_reset ok"),
            _ => runner.line(b"TEST reset_reason_survives_the_reset FAIL the kernel does not report a supervisor fault"),
        }
        runner.line(b"TESTS DONE");
    }
    let mut buffer = [0u8; INCOMING_SIZE];
    loop {
        dispatch(&mut buffer, &mut runner);
    }
}
