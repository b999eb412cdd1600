//! Corpus devices answer the requests their descriptors promise and nothing more.

use usb_model::corpus;
use usb_model::device::{Handshake, InReply, MAX_BUS_PACKET, SimDevice};

/// Runs one control IN request on EP0 and returns the data stage, or `None` if it stalled.
/// The data stage ends with `wLength` bytes or a packet shorter than bMaxPacketSize0.
fn control_in(device: &mut dyn SimDevice, mps0: u8, setup: [u8; 8]) -> Option<Vec<u8>> {
    assert_eq!(device.setup(&setup), Handshake::Ack);
    let wanted = usize::from(u16::from_le_bytes([setup[6], setup[7]]));
    let mut data = Vec::new();
    let mut out = [0u8; MAX_BUS_PACKET];
    loop {
        match device.data_in(0, &mut out) {
            InReply::Data { len, .. } => {
                data.extend_from_slice(&out[..len]);
                if data.len() >= wanted || len < usize::from(mps0) {
                    return Some(data);
                }
            }
            InReply::Stall => return None,
            other => panic!("unexpected EP0 reply {other:?}"),
        }
    }
}

const GET_HUB_DESCRIPTOR: [u8; 8] = [0xA0, 6, 0, 0x29, 0, 0, 16, 0];

#[test]
fn a_hub_answers_its_published_hub_descriptor() {
    let genesys = usb_corpus::find("genesys-usb2-hub").unwrap();
    let mut device = corpus::device(genesys);
    assert_eq!(
        control_in(&mut device, genesys.device[7], GET_HUB_DESCRIPTOR).as_deref(),
        genesys.hub_descriptor
    );
}

#[test]
fn requests_the_dump_cannot_answer_stall() {
    let micov = usb_corpus::find("micov-mw7211-fs-hub").unwrap();
    assert_eq!(
        micov.hub_descriptor, None,
        "the dump printed no hub descriptor"
    );
    let mut hub = corpus::device(micov);
    assert_eq!(
        control_in(&mut hub, micov.device[7], GET_HUB_DESCRIPTOR),
        None
    );

    let ftdi = usb_corpus::find("ftdi-ft232r").unwrap();
    let mut serial = corpus::device(ftdi);
    let vendor_read = [0xC0, 0x05, 0, 0, 0, 0, 2, 0];
    assert_eq!(control_in(&mut serial, ftdi.device[7], vendor_read), None);
}

#[test]
fn standard_descriptor_reads_return_the_captured_bytes() {
    let daplink = usb_corpus::find("microbit-daplink").unwrap();
    let mut device = corpus::device(daplink);
    let total = daplink.configuration.len() as u16;
    let [lo, hi] = total.to_le_bytes();
    assert_eq!(
        control_in(&mut device, daplink.device[7], [0x80, 6, 0, 1, 0, 0, 18, 0]).as_deref(),
        Some(&daplink.device[..])
    );
    assert_eq!(
        control_in(
            &mut device,
            daplink.device[7],
            [0x80, 6, 0, 2, 0, 0, lo, hi]
        )
        .as_deref(),
        Some(daplink.configuration)
    );
}
