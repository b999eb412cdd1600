//! A client the kernel test suite drives (see `test_api::peer`). Each command is answered
//! at once and then carried out, so the suite can leave a peer blocked on the assistant
//! while it detaches or restarts things, then ask what the peer saw.
#![no_std]
#![no_main]

use test_api::peer as op;
use userlib::{
    Lease, TaskId, sleep_until, sys_get_timer, sys_recv_closed, sys_recv_open,
    sys_refresh_incarnation, sys_reply, sys_send, task_slot,
};

task_slot!(ASSISTANT, assistant);

const TIMER_BIT: u32 = 1 << 1;

struct Record {
    done: u32,
    code: u32,
    notifications: u32,
    woke_at: u32,
    spun_until: u32,
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut r = Record {
        done: 0,
        code: 0,
        notifications: 0,
        woke_at: 0,
        spun_until: 0,
    };
    let mut buf = [0u8; 12];
    loop {
        let msg = sys_recv_open(&mut buf, op::WAKE_BIT);
        if msg.sender == TaskId::KERNEL {
            r.notifications += 1;
            r.woke_at = sys_get_timer().now as u32;
            continue;
        }
        let command = msg.operation as u16;
        if command == op::RESULT {
            let mut out = [0u8; 20];
            for (chunk, v) in out.chunks_exact_mut(4).zip([
                r.done,
                r.code,
                r.notifications,
                r.woke_at,
                r.spun_until,
            ]) {
                chunk.copy_from_slice(&v.to_le_bytes());
            }
            sys_reply(msg.sender, 0, &out);
            continue;
        }
        sys_reply(msg.sender, 0, &[]);
        r.done = 0;
        let assistant = sys_refresh_incarnation(ASSISTANT);
        r.code = match command {
            op::CALL => {
                let assistant_op = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as u16;
                let body = &buf[4..msg.message_len.clamp(4, buf.len())];
                let mut lent = *b"peer-lease-bytes";
                sys_send(
                    assistant,
                    assistant_op,
                    body,
                    &mut [],
                    &[Lease::read_write(&mut lent)],
                )
                .0
            }
            op::RECV_FROM_ASSISTANT => match sys_recv_closed(&mut [], 0, assistant) {
                Ok(_) => 0,
                Err(gone) => gone.code(),
            },
            op::SPIN => {
                let field = |i: usize| {
                    u64::from(u32::from_le_bytes([
                        buf[i],
                        buf[i + 1],
                        buf[i + 2],
                        buf[i + 3],
                    ]))
                };
                let now = sys_get_timer().now;
                sleep_until((now & !0xFFFF_FFFF) | field(4), TIMER_BIT);
                let until = sys_get_timer().now + field(0);
                while sys_get_timer().now < until {}
                r.spun_until = sys_get_timer().now as u32;
                0
            }
            _ => u32::MAX,
        };
        r.done = 1;
    }
}
