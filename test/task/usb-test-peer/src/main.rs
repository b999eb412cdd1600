//! A second client of `usb-hcd` and `usb-msc` in the `usb-tests` image (commands in
//! `usb-test-api`): the owner of pipes the suite opens for it with `open_pipe_for`, and an
//! application the suite can leave blocked mid-transfer or mid-disk-read/write while it
//! restarts or faults a driver.
#![no_std]
#![no_main]

use idol_runtime::{CallError, ErrorCode};
use usb_hcd_api::UsbHcdClient;
use usb_host_api::SetupPacket;
use usb_msc_api::{DiskError, DiskHandle, UsbMscClient};
use usb_test_api::{
    BAD_REPLY, BLOCK, CONTROL_IN, DEAD, MSC_MAX_BLOCKS, MSC_MESSAGE_LEN, MSC_READ, MSC_WRITE,
    RESULT, STOP_BIT, STREAM, STREAM_BLOCKS, STREAM_RESULT, pattern_at,
};
use userlib::{
    ReplyFaultReason, notify_bits, notify_target, sleep_for, sys_get_timer, sys_post,
    sys_recv_notification, sys_recv_open, sys_refresh_incarnation, sys_reply, sys_reply_fault,
    sys_set_timer, task_slot,
};

task_slot!(USB_HCD, "usb-hcd");
task_slot!(USB_MSC, "usb-msc");
notify_target!(SUITE, "suite");
notify_bits!(SUITE_PROGRESS, "suite", ["progress"]);

/// app.toml `notifications = ["timer", "stop"]`.
const TIMER_BIT: u32 = 1 << 0;
/// Between looks for a disk while usb-msc is not serving one (restarting, rebinding).
const NO_DISK_WAIT_MS: u64 = 2;

/// GET_DESCRIPTOR(device) answers 18 bytes.
const DEVICE_DESCRIPTOR_LEN: u16 = 18;

fn word(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
}

/// How a call ended, as `RESULT` reports it.
fn code_of<E: ErrorCode>(result: Result<(), CallError<E>>) -> u32 {
    match result {
        Ok(()) => 0,
        Err(CallError::Op(e)) => u32::from(e.code()),
        Err(CallError::Gone(_)) => DEAD,
        Err(CallError::BadReply | CallError::Unanswered | CallError::Refused(_)) => BAD_REPLY,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut done = 0u32;
    let mut code = 0u32;
    let mut buf = [0u8; MSC_MESSAGE_LEN];
    let mut disk = [0u8; MSC_MAX_BLOCKS * BLOCK];
    let mut stream = Stream::default();
    loop {
        let msg = sys_recv_open(&mut buf, 0);
        match msg.operation as u16 {
            RESULT => {
                let mut out = [0u8; 8];
                out[..4].copy_from_slice(&done.to_le_bytes());
                out[4..].copy_from_slice(&code.to_le_bytes());
                sys_reply(msg.sender, 0, &out);
            }
            CONTROL_IN if msg.message_len == 8 => {
                sys_reply(msg.sender, 0, &[]);
                let hcd = UsbHcdClient::new(sys_refresh_incarnation(USB_HCD));
                let setup = SetupPacket::get_descriptor(1, 0, 0, DEVICE_DESCRIPTOR_LEN);
                let mut data = [0u8; DEVICE_DESCRIPTOR_LEN as usize];
                code = code_of(
                    hcd.control(word(&buf, 0), setup.to_bytes(), word(&buf, 4), &mut data)
                        .map(|_| ()),
                );
                done = 1;
            }
            op @ (MSC_READ | MSC_WRITE)
                if msg.message_len == MSC_MESSAGE_LEN
                    && (word(&buf, 0) as usize) <= MSC_MAX_BLOCKS =>
            {
                sys_reply(msg.sender, 0, &[]);
                let msc = UsbMscClient::new(sys_refresh_incarnation(USB_MSC));
                let handle = DiskHandle {
                    slot: buf[5],
                    generation: u16::from_le_bytes([buf[6], buf[7]]),
                    epoch: word(&buf, 8),
                };
                let data = &mut disk[..word(&buf, 0) as usize * BLOCK];
                code = code_of(if op == MSC_READ {
                    msc.read(handle, 0, data)
                } else {
                    pattern_at(data, buf[4], 0);
                    msc.write(handle, 0, data)
                });
                done = 1;
            }
            STREAM if msg.message_len == 0 => {
                sys_reply(msg.sender, 0, &[]);
                stream = Stream::default();
                stream.run(&mut disk[..STREAM_BLOCKS * BLOCK]);
            }
            STREAM_RESULT => {
                let mut out = [0u8; 20];
                for (word, value) in out.chunks_mut(4).zip([
                    stream.good,
                    stream.coded,
                    stream.corrupt,
                    u32::from(stream.stopped),
                    stream.last_code,
                ]) {
                    word.copy_from_slice(&value.to_le_bytes());
                }
                sys_reply(msg.sender, 0, &out);
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}

/// An application streaming through usb-msc while its drivers are restarted under it.
#[derive(Default)]
struct Stream {
    good: u32,
    coded: u32,
    corrupt: u32,
    stopped: bool,
    /// How the last round that ended with a code ended (as `RESULT` reports codes).
    last_code: u32,
}

impl Stream {
    /// Rounds until [`STOP_BIT`]: round `n` writes `pattern_at(n)` to region `n % regions`
    /// and reads it back into `buf` (one region long).
    fn run(&mut self, buf: &mut [u8]) {
        let msc = UsbMscClient::new(sys_refresh_incarnation(USB_MSC));
        let regions = (MSC_MAX_BLOCKS / STREAM_BLOCKS) as u32;
        let mut handle = None;
        let mut round = 0u32;
        while !stop_posted() {
            let Some(disk) = handle.or_else(|| msc.disk(0).ok().map(|d| d.handle)) else {
                sleep_for(NO_DISK_WAIT_MS, TIMER_BIT);
                continue;
            };
            handle = Some(disk);
            let lba = (round % regions) * STREAM_BLOCKS as u32;
            let seed = round as u8;
            let mut wrote = [0u8; STREAM_BLOCKS * BLOCK];
            pattern_at(&mut wrote, seed, lba as usize);
            let result = msc
                .write(disk, lba, &wrote)
                .and_then(|()| msc.read(disk, lba, buf));
            match result {
                Ok(()) if *buf == wrote[..] => {
                    self.good += 1;
                    let _ = sys_post(sys_refresh_incarnation(SUITE), SUITE_PROGRESS);
                }
                Ok(()) => self.corrupt += 1,
                Err(e) => {
                    self.coded += 1;
                    self.last_code = code_of(Err(e));
                    // A stale handle or a dead driver: look for the disk again.
                    if matches!(e, CallError::Op(DiskError::Stale) | CallError::Gone(_)) {
                        handle = None;
                    }
                }
            }
            round = round.wrapping_add(1);
        }
        self.stopped = true;
    }
}

/// Whether the suite has posted [`STOP_BIT`] (consumed if so). The timer, set to now,
/// makes the wait return at once when it has not.
fn stop_posted() -> bool {
    sys_set_timer(Some(sys_get_timer().now), TIMER_BIT);
    sys_recv_notification(TIMER_BIT | STOP_BIT) & STOP_BIT != 0
}
