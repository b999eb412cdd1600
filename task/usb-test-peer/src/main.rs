//! A second client of `usb-hcd` and `usb-msc` in the `usb-tests` image (commands in
//! `usb-test-api`): the owner of pipes the suite opens for it with `open_pipe_for`, and an
//! application the suite can leave blocked mid-transfer or mid-disk-read/write while it
//! restarts or faults a driver.
#![no_std]
#![no_main]

use idol_runtime::{CallError, ErrorCode};
use usb_hcd_api::UsbHcdClient;
use usb_host_api::SetupPacket;
use usb_msc_api::{DiskHandle, UsbMscClient};
use usb_test_api::{
    BAD_REPLY, BLOCK, CONTROL_IN, DEAD, MSC_MAX_BLOCKS, MSC_READ, MSC_WRITE, RESULT, pattern,
};
use userlib::*;

task_slot!(USB_HCD, "usb-hcd");
task_slot!(USB_MSC, "usb-msc");

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
        Err(CallError::BadReply) => BAD_REPLY,
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut done = 0u32;
    let mut code = 0u32;
    let mut buf = [0u8; 8];
    let mut disk = [0u8; MSC_MAX_BLOCKS * BLOCK];
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
                done = 0;
                let hcd = UsbHcdClient::new(sys_refresh_task_id(USB_HCD));
                let setup = SetupPacket::get_descriptor(1, 0, 0, DEVICE_DESCRIPTOR_LEN);
                let mut data = [0u8; DEVICE_DESCRIPTOR_LEN as usize];
                code = code_of(
                    hcd.control(word(&buf, 0), setup.to_bytes(), word(&buf, 4), &mut data)
                        .map(|_| ()),
                );
                done = 1;
            }
            op @ (MSC_READ | MSC_WRITE)
                if msg.message_len == 8 && (word(&buf, 4) as usize) <= MSC_MAX_BLOCKS =>
            {
                sys_reply(msg.sender, 0, &[]);
                done = 0;
                let msc = UsbMscClient::new(sys_refresh_task_id(USB_MSC));
                let handle = DiskHandle {
                    slot: buf[0],
                    generation: buf[1],
                };
                let data = &mut disk[..word(&buf, 4) as usize * BLOCK];
                code = code_of(if op == MSC_READ {
                    msc.read(handle, 0, data)
                } else {
                    pattern(data, buf[2]);
                    msc.write(handle, 0, data)
                });
                done = 1;
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
