//! A second client of `usb-hcd` in the `usb-tests` image (commands in `usb-test-api`): the
//! owner of pipes the suite opens for it with `open_pipe_for`, and a client the suite can
//! leave blocked mid-transfer while it restarts the driver.
#![no_std]
#![no_main]

use idol_runtime::{CallError, ErrorCode};
use usb_hcd_api::UsbHcdClient;
use usb_host_api::SetupPacket;
use usb_test_api::{BAD_REPLY, CONTROL_IN, DEAD, RESULT};
use userlib::*;

task_slot!(USB_HCD, "usb-hcd");

/// GET_DESCRIPTOR(device) answers 18 bytes.
const DEVICE_DESCRIPTOR_LEN: u16 = 18;

fn word(bytes: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]])
}

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let mut done = 0u32;
    let mut code = 0u32;
    let mut buf = [0u8; 8];
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
                code = match hcd.control(word(&buf, 0), setup.to_bytes(), word(&buf, 4), &mut data)
                {
                    Ok(_) => 0,
                    Err(CallError::Op(e)) => u32::from(e.code()),
                    Err(CallError::Gone(_)) => DEAD,
                    Err(CallError::BadReply) => BAD_REPLY,
                };
                done = 1;
            }
            _ => sys_reply_fault(msg.sender, ReplyFaultReason::UndefinedOperation),
        }
    }
}
