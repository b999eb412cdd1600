//! `serial [TEXT]` (feature `usb`): a loopback check of the first port usb-cdc serves. It
//! writes TEXT (default [`DEFAULT_TEXT`]) to the adapter and reads until as many bytes came
//! back or [`READS`] reads brought nothing more, then says what came back. The simulated
//! adapter (`plug serial`) loops its bulk OUT data back to bulk IN; on a real adapter the same
//! check needs TX wired to RX.

use core::fmt::Write;
use core::str::SplitWhitespace;

use idol_runtime::CallError;
use usb_cdc_api::{SerialError, UsbCdcClient};
use userlib::{sys_refresh_incarnation, task_slot};

use crate::Out;
use crate::usb::gone;

task_slot!(USB_CDC, "usb-cdc");

const DEFAULT_TEXT: &str = "bulkhead-loopback";
/// The longest TEXT: one line of the console, sent as one write.
const MAX_TEXT: usize = 64;
/// Empty reads in a row after which the bytes still missing are called lost. usb-cdc waits
/// up to a few milliseconds per read, so this bounds the command to well under a second.
const READS: usize = 20;
/// The largest bulk IN packet the console reads (full speed is 64, high speed 512).
const PACKET: usize = 512;

pub const HELP: &str = "  \
    serial [TEXT]  send TEXT to the first USB serial port and check it loops back\n";

#[inline(never)]
pub fn run(out: &mut Out<'_>, mut args: SplitWhitespace<'_>) {
    let text = args.next().unwrap_or(DEFAULT_TEXT);
    if text.len() > MAX_TEXT {
        let _ = writeln!(
            out,
            "serial: TEXT of {} bytes is longer than {MAX_TEXT}",
            text.len()
        );
        return;
    }
    let cdc = UsbCdcClient::new(sys_refresh_incarnation(USB_CDC));
    let port = match cdc.open(0) {
        Ok(port) => port,
        Err(CallError::Op(SerialError::NoPort)) => {
            let _ = writeln!(
                out,
                "serial: usb-cdc serves no port (plug serial, then check `usb`)"
            );
            return;
        }
        Err(e) => return failed(out, "open", e),
    };
    let read_len = usize::from(port.read_len);
    if read_len == 0 || read_len > PACKET {
        let _ = writeln!(
            out,
            "serial: the port's packets of {read_len} bytes do not fit the console's {PACKET}-byte buffer"
        );
        return;
    }
    let sent = match cdc.write(port.handle, text.as_bytes()) {
        Ok(n) => usize::from(n),
        Err(e) => return failed(out, "write", e),
    };
    let mut back = [0u8; MAX_TEXT];
    let mut got = 0;
    let mut packet = [0u8; PACKET];
    let mut idle = 0;
    while got < sent && idle < READS {
        match cdc.read(port.handle, &mut packet[..read_len]) {
            Ok(0) => idle += 1,
            Ok(n) => {
                let n = usize::from(n);
                // More than was sent counts too (and is not kept): the answer names it.
                let rest = back.get_mut(got..).unwrap_or_default();
                let keep = n.min(rest.len());
                rest[..keep].copy_from_slice(&packet[..keep]);
                got += n;
                idle = 0;
            }
            Err(e) => return failed(out, "read", e),
        }
    }
    let sent_bytes = &text.as_bytes()[..sent];
    let _ = if got == sent && back[..got] == *sent_bytes {
        writeln!(
            out,
            "serial: {sent} bytes out, {got} back, equal (loopback ok)"
        )
    } else if got != sent {
        writeln!(
            out,
            "serial: {sent} bytes out, {got} back (loopback broken)"
        )
    } else {
        let at = sent_bytes
            .iter()
            .zip(&back[..got])
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        writeln!(
            out,
            "serial: {sent} bytes out, {got} back, differing from byte {at} (loopback broken)"
        )
    };
}

fn failed(out: &mut Out<'_>, step: &str, e: CallError<SerialError>) {
    let _ = match e {
        CallError::Op(e) => writeln!(out, "serial: {step}: usb-cdc: {}", why(e)),
        e => writeln!(out, "serial: {step}: {}", gone(e, "usb-cdc")),
    };
}

fn why(e: SerialError) -> &'static str {
    match e {
        SerialError::Stale => "the port went away (unplugged or usb-cdc restarted); try again",
        SerialError::NoPort => "no port",
        SerialError::BadLineCoding => "the line coding is out of range",
        SerialError::ShortLease => "the read buffer is shorter than a packet",
        SerialError::Timeout => "the adapter did not take the bytes in time",
        SerialError::Disconnected => "the adapter went away mid-transfer",
        SerialError::Transport => "the bus transfer failed",
    }
}
