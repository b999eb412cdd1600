//! The kernel tests' server: answers raw IPC in ways that exercise the kernel (see
//! `test_api::assistant`), and faults in every way the kernel must classify. It is also a
//! server that holds state per client (`REGISTER`): it declares `client-gone` and drops a
//! client's entry when the kernel says some client's incarnation ended.
#![no_std]
#![no_main]

use test_api::{FaultKind, assistant as op};
use userlib::{
    BorrowError, Generation, Incarnation, LEASE_DEFECT, ReplyFaultReason, TaskId,
    incarnation_is_current, kipc, notify_bits, notify_target, sleep_for, sys_borrow_info,
    sys_borrow_read, sys_borrow_write, sys_get_timer, sys_irq_control, sys_irq_status, sys_post,
    sys_recv_open, sys_refresh_incarnation, sys_reply, sys_reply_fault, sys_send, sys_set_timer,
    task_slot,
};

task_slot!(RUNNER, runner);
notify_target!(PEER_A, "peer_a");
notify_bits!(PEER_A_WAKE, "peer_a", ["wake"]);

const TIMER_BIT: u32 = 1 << 0;
const IRQ_BIT: u32 = 1 << 1;
/// app.toml `client-gone`: posted by the kernel when one of our clients is detached.
const GONE_BIT: u32 = 1 << 2;

/// The clients registered with `REGISTER`, and what the `client-gone` scans found.
struct Clients {
    held: [Option<Incarnation>; op::CLIENTS],
    found_gone: u32,
    /// The last client found gone, and the tick at which it was found.
    last: Option<(Incarnation, u64)>,
}

impl Clients {
    fn register(&mut self, client: Incarnation) -> bool {
        match self.held.iter_mut().find(|c| c.is_none()) {
            Some(free) => {
                *free = Some(client);
                true
            }
            None => false,
        }
    }

    /// Drops every client whose incarnation has ended, which is what a real server does with
    /// the state (pipes, handles) it held for it.
    fn drop_the_gone(&mut self) {
        for slot in &mut self.held {
            if let Some(client) = *slot
                && !incarnation_is_current(client)
            {
                *slot = None;
                self.found_gone += 1;
                self.last = Some((client, sys_get_timer().now));
            }
        }
    }

    fn report(&self) -> [u8; 16] {
        let (index, generation, at) = self.last.map_or((0, 0, 0), |(c, at)| {
            (c.index() as u32, c.generation, at as u32)
        });
        words([self.found_gone, index, generation, at])
    }
}

fn word(buf: &[u8], i: usize) -> u32 {
    let at = i * 4;
    buf.get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn words<const N: usize>(values: [u32; N]) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (chunk, v) in out.chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn borrow_code(r: Result<usize, BorrowError>) -> u32 {
    match r {
        Ok(_) => 0,
        Err(BorrowError::LenderGone(gone)) => gone.code(),
        Err(BorrowError::LenderNotWaiting) => LEASE_DEFECT,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut held: Option<Incarnation> = None;
    let mut clients = Clients {
        held: [None; op::CLIENTS],
        found_gone: 0,
        last: None,
    };
    let mut timer_count = 0u32;
    let mut buf = [0u8; op::ECHO_BUFFER];
    loop {
        let msg = sys_recv_open(&mut buf, TIMER_BIT | GONE_BIT);
        if msg.sender == TaskId::KERNEL {
            if msg.operation & GONE_BIT != 0 {
                clients.drop_the_gone();
            }
            if msg.operation & TIMER_BIT != 0 {
                timer_count += 1;
            }
            continue;
        }
        let caller = msg.sender;
        match msg.operation as u16 {
            op::ECHO => {
                let n = msg.message_len.min(buf.len());
                sys_reply(caller, msg.message_len as u32, &buf[..n]);
            }
            op::REPLY_N => {
                let n = (word(&buf, 0) as usize).min(buf.len());
                sys_reply(caller, 0, &buf[..n]);
            }
            op::REVERSE => {
                let mut data = [0u8; 32];
                let read = sys_borrow_read(caller, 0, 0, &mut data);
                let n = *read.as_ref().unwrap_or(&0);
                data[..n].reverse();
                let wrote = sys_borrow_write(caller, 1, 0, &data[..n]);
                let code = borrow_code(read).max(borrow_code(wrote));
                sys_reply(caller, if code == 0 { n as u32 } else { code }, &[]);
            }
            op::BORROW_AT => {
                let mut data = [0u8; 4];
                let r = sys_borrow_read(
                    caller,
                    word(&buf, 0) as usize,
                    word(&buf, 1) as usize,
                    &mut data,
                );
                sys_reply(caller, borrow_code(r), &data);
            }
            op::LEASE_INFO => match sys_borrow_info(caller, 0) {
                Ok(info) => sys_reply(caller, 0, &words([info.attributes, info.len as u32])[..8]),
                Err(e) => sys_reply(caller, borrow_code(Err(e)), &[]),
            },
            op::FAULT => fault(FaultKind::from_u32(word(&buf, 0)), word(&buf, 1)),
            op::HOLD => held = Some(caller),
            op::BORROW_HELD => {
                let mut data = [0u8; 8];
                let code = held.map_or(LEASE_DEFECT, |lender| {
                    borrow_code(sys_borrow_read(lender, 0, 0, &mut data))
                });
                sys_reply(caller, code, &data);
            }
            op::SLEEP => {
                sys_reply(caller, 0, &[]);
                sleep_for(u64::from(word(&buf, 0)), TIMER_BIT);
            }
            op::REPLY_FAULT => match ReplyFaultReason::from_u32(word(&buf, 0)) {
                Some(reason) => sys_reply_fault(caller, reason),
                None => sys_reply(caller, u32::MAX, &[]),
            },
            op::IRQ_ENABLE => {
                sys_irq_control(IRQ_BIT, true, false);
                sys_reply(caller, 0, &[]);
            }
            op::IRQ_STATUS => {
                let s = sys_irq_status(IRQ_BIT);
                sys_reply(caller, 0, &words([s.enabled, s.pending, s.posted])[..12]);
            }
            op::ARM_TIMER => {
                sys_set_timer(
                    Some(sys_get_timer().now + u64::from(word(&buf, 0))),
                    TIMER_BIT,
                );
                sys_reply(caller, 0, &[]);
            }
            op::TIMER_COUNT => sys_reply(caller, timer_count, &[]),
            op::PARK => {}
            op::REPLY_HELD => {
                if let Some(held) = held {
                    sys_reply(held, word(&buf, 0), &[]);
                }
                sys_reply(caller, 0, &[]);
            }
            op::REPLY_FAULT_HELD => {
                if let (Some(held), Some(reason)) =
                    (held, ReplyFaultReason::from_u32(word(&buf, 0)))
                {
                    sys_reply_fault(held, reason);
                }
                sys_reply(caller, 0, &[]);
            }
            op::POST_DOWN => {
                let code = match sys_post(sys_refresh_incarnation(PEER_A), PEER_A_WAKE) {
                    Ok(()) => 0,
                    Err(gone) => gone.code(),
                };
                sys_reply(caller, code, &[]);
            }
            op::REGISTER => {
                let code = if clients.register(caller) {
                    0
                } else {
                    u32::MAX
                };
                sys_reply(caller, code, &[]);
            }
            op::GONE_REPORT => sys_reply(caller, 0, &clients.report()),
            _ => sys_reply_fault(caller, ReplyFaultReason::UndefinedOperation),
        }
    }
}

#[inline(never)]
fn recurse(depth: u32) -> u32 {
    let frame = [depth; 64];
    // `black_box` keeps the frame on the stack so each call really consumes 256 bytes.
    core::hint::black_box(&frame);
    if depth == u32::MAX {
        0
    } else {
        recurse(depth + 1).wrapping_add(frame[3])
    }
}

fn fault(kind: Option<FaultKind>, address: u32) {
    match kind {
        Some(FaultKind::WriteAddress) => {
            // SAFETY: deliberately invalid: the MPU must stop this write.
            unsafe { core::ptr::write_volatile(address as *mut u32, 0xDEAD) }
        }
        Some(FaultKind::ReadAddress) => {
            // SAFETY: deliberately invalid: the MPU must stop this read.
            core::hint::black_box(unsafe { core::ptr::read_volatile(address as *const u32) });
        }
        Some(FaultKind::ExecuteFromRam) => {
            // A `bx lr` instruction in RAM; RAM is never executable for a task.
            let code: [u16; 2] = [0x4770, 0x4770];
            let target = (code.as_ptr() as usize | 1) as *const ();
            // SAFETY: deliberately invalid: the MPU must refuse to fetch from RAM.
            let f: extern "C" fn() = unsafe { core::mem::transmute(target) };
            f();
        }
        Some(FaultKind::StackOverflow) => {
            core::hint::black_box(recurse(0));
        }
        Some(FaultKind::StackOverflowAtSvc) => {
            // The stack is the first `_stack_size` bytes of the task's RAM and ends at
            // `__sdata` (see the task linker script); below it the MPU denies access.
            // SAFETY: deliberately invalid: stacking the SVC's frame must fault this task,
            // and the SVC must then be forgotten, not run for whichever task runs next.
            unsafe {
                core::arch::asm!(
                    "ldr r0, =__sdata",
                    "ldr r1, =_stack_size",
                    "subs r0, r0, r1",
                    "adds r0, r0, #8",
                    "mov sp, r0",
                    "svc #0",
                    "udf #1",
                    options(noreturn),
                )
            }
        }
        Some(FaultKind::IllegalInstruction) => {
            // SAFETY: a permanently undefined instruction, on purpose.
            unsafe { core::arch::asm!("udf #7") }
        }
        Some(FaultKind::DivideByZero) => {
            let zero = core::hint::black_box(0u32);
            // SAFETY: `udiv` by zero traps (the kernel enables DIV_0_TRP).
            unsafe { core::arch::asm!("udiv {0}, {0}, {1}", inout(reg) 7u32 => _, in(reg) zero) };
        }
        Some(FaultKind::BadSyscallNumber) => {
            // SAFETY: an SVC with a syscall number the kernel does not define.
            unsafe { core::arch::asm!("push {{r11}}", "mov r11, #200", "svc #0", "pop {{r11}}") };
        }
        Some(FaultKind::InvalidSlice) => {
            // SAFETY: the slice is never dereferenced here; the kernel must refuse it.
            let kernel_ram = unsafe { core::slice::from_raw_parts(address as *const u8, 16) };
            sys_send(RUNNER, 1, kernel_ram, &mut [], &[]);
        }
        Some(FaultKind::Panic) => panic!("assistant panicked on request"),
        Some(FaultKind::Kipc) => {
            kipc::read_image_id();
        }
        Some(FaultKind::UndeclaredTarget) => {
            sys_send(Incarnation::new(address as usize, 0), 1, &[], &mut [], &[]);
        }
        Some(FaultKind::UndeclaredPost) => {
            let target = TaskId::for_index_and_gen(address as usize, Generation(0));
            let _ = sys_post(sys_refresh_incarnation(target), 1);
        }
        None => {}
    }
}
