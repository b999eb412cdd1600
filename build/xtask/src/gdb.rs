//! A client for the GDB remote serial protocol: just enough to halt a QEMU guest, read its
//! memory and registers, and let it go again (`cargo xtask dump`).
//!
//! Framing: a packet is `$data#xx`, `xx` the modulo-256 sum of `data` in hex. Each side
//! acknowledges every packet with `+` (or asks for it again with `-`); we keep acks on, which
//! every stub supports. Replies may be run-length encoded (`c*n`: `n - 29` more copies of
//! `c`); binary replies (`qXfer`) escape `#$}*` as `}` followed by the byte XOR 0x20.
//!
//! What QEMU's stub (checked on QEMU 7.2, machine `mps2-an500`, Cortex-M7) does:
//!
//! - It stops the guest as soon as a debugger connects, and `\x03` stops a running guest;
//!   either way `?` then answers with a stop reply (`T05thread:p01.01;`, `S02`, ...).
//! - Memory reads (`m addr,len`) go through the CPU's *current* MPU view: while an
//!   unprivileged task is running, kernel and other tasks' RAM read as `E14`. QEMU's
//!   `Qqemu.PhyMemMode:1` switches the stub to physical accesses, which see everything;
//!   the mode is global to the QEMU process, so [`Gdb::physical_memory`] is undone before
//!   detaching. A reply may carry at most 2 KiB of memory (QEMU's 4096-character packets).
//! - Register numbers come from the target description (`qXfer:features:read`):
//!   `org.gnu.gdb.arm.m-profile` has r0-r12, sp, lr, pc as 0-15 and `xpsr` as 25;
//!   `org.gnu.gdb.arm.m-system` (a generated `system-registers.xml`) has `msp`, `psp`,
//!   `primask`, `basepri`, `faultmask` and `control`, numbered after the FPU registers.
//!   Once the description was read, `g` returns r0-r15 then xpsr (68 bytes); [`Gdb::registers`]
//!   reads `g` with that layout and asks for anything else with `p n`.
//! - `D` (detach) resumes the guest.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// The most memory one `m` request asks for (QEMU refuses more than 2 KiB).
pub const MAX_READ: usize = 2048;
/// How long any one reply may take.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a packet is sent again after a `-` before giving up.
const RETRIES: usize = 3;

#[derive(Debug)]
pub enum GdbError {
    Connect {
        address: String,
        error: io::Error,
    },
    Io(io::Error),
    /// The stub closed the connection.
    Closed,
    Timeout {
        request: String,
    },
    /// The stub kept rejecting a packet, or sent one with a bad checksum.
    Checksum {
        request: String,
    },
    /// An `Exx` reply.
    Refused {
        request: String,
        code: String,
    },
    /// A reply that does not have the shape the request calls for.
    Unexpected {
        request: String,
        reply: String,
    },
}

impl fmt::Display for GdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GdbError::Connect { address, error } => write!(
                f,
                "cannot connect to a GDB stub at {address}: {error} (start QEMU with `cargo xtask run --gdb` or `-gdb tcp::PORT`)"
            ),
            GdbError::Io(e) => write!(f, "GDB connection: {e}"),
            GdbError::Closed => write!(f, "the GDB stub closed the connection"),
            GdbError::Timeout { request } => write!(f, "no reply from the GDB stub to `{request}`"),
            GdbError::Checksum { request } => {
                write!(f, "the GDB stub kept rejecting or garbling `{request}`")
            }
            GdbError::Refused { request, code } => {
                write!(f, "the GDB stub refused `{request}` with error {code}")
            }
            GdbError::Unexpected { request, reply } => {
                write!(
                    f,
                    "unexpected reply to `{request}` from the GDB stub: `{reply}`"
                )
            }
        }
    }
}

impl std::error::Error for GdbError {}

impl From<io::Error> for GdbError {
    fn from(e: io::Error) -> Self {
        GdbError::Io(e)
    }
}

/// A register in the target description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Register {
    pub name: String,
    pub number: u32,
    pub bits: u32,
}

/// The packet for `data`: `$data#xx`.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 4);
    out.push(b'$');
    out.extend_from_slice(data);
    out.extend_from_slice(format!("#{:02x}", checksum(data)).as_bytes());
    out
}

pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}

/// Expands run-length encoding: `c*n` stands for `c` and `n - 29` more copies of it.
pub fn expand_run_lengths(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter();
    while let Some(&b) = bytes.next() {
        if b != b'*' {
            out.push(b);
            continue;
        }
        let (Some(&last), Some(&count)) = (out.last(), bytes.next()) else {
            return Err("a run length with nothing to repeat".into());
        };
        let extra = count
            .checked_sub(29)
            .filter(|_| count >= b' ')
            .ok_or("a bad run length")?;
        out.extend(std::iter::repeat_n(last, usize::from(extra)));
    }
    Ok(out)
}

/// Removes binary escapes: `}` then the byte XOR 0x20.
pub fn unescape(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut bytes = data.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'}' => out.extend(bytes.next().map(|n| n ^ 0x20)),
            _ => out.push(b),
        }
    }
    out
}

pub fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The registers of a target description document and the documents it includes
/// (`<xi:include href="..."/>`). GDB numbers registers in document order, continuing from
/// the previous one, unless a `regnum` says otherwise.
pub fn parse_target_xml(
    document: &str,
    mut include: impl FnMut(&str) -> Result<String, GdbError>,
) -> Result<Vec<Register>, GdbError> {
    let mut registers = Vec::new();
    let mut next = 0;
    parse_xml_into(document, &mut include, &mut registers, &mut next, 0)?;
    Ok(registers)
}

fn parse_xml_into(
    document: &str,
    include: &mut impl FnMut(&str) -> Result<String, GdbError>,
    registers: &mut Vec<Register>,
    next: &mut u32,
    depth: usize,
) -> Result<(), GdbError> {
    for tag in document.split('<').skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        if let Some(attrs) = tag.strip_prefix("xi:include") {
            if let (Some(href), true) = (attribute(attrs, "href"), depth < 4) {
                let included = include(&href)?;
                parse_xml_into(&included, include, registers, next, depth + 1)?;
            }
        } else if let Some(attrs) = tag.strip_prefix("reg ") {
            let (Some(name), Some(bits)) = (attribute(attrs, "name"), attribute(attrs, "bitsize"))
            else {
                continue;
            };
            let number = attribute(attrs, "regnum")
                .and_then(|n| n.parse().ok())
                .unwrap_or(*next);
            registers.push(Register {
                name,
                number,
                bits: bits.parse().unwrap_or(0),
            });
            *next = number + 1;
        }
    }
    Ok(())
}

/// The value of `name="value"` (or single quotes) in a tag's attribute text.
fn attribute(attrs: &str, name: &str) -> Option<String> {
    let mut rest = attrs;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest.as_bytes()[at - 1].is_ascii_whitespace();
        let after = rest[at + name.len()..].trim_start();
        if before_ok && let Some(value) = after.strip_prefix('=') {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                return value[1..].split(quote).next().map(str::to_owned);
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

/// A connection to a GDB stub.
pub struct Gdb {
    stream: TcpStream,
    /// Bytes received and not yet consumed.
    input: Vec<u8>,
    registers: Option<Vec<Register>>,
}

impl Gdb {
    /// Connects to the stub at `address` (e.g. `localhost:3333`), retrying until `patience`
    /// runs out: QEMU may still be starting.
    pub fn connect(address: &str, patience: Duration) -> Result<Gdb, GdbError> {
        let deadline = Instant::now() + patience;
        let connect_error = |error| GdbError::Connect {
            address: address.to_owned(),
            error,
        };
        loop {
            let attempt = address
                .to_socket_addrs()
                .and_then(|mut addrs| addrs.next().ok_or_else(|| io::Error::other("no address")))
                .and_then(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)));
            match attempt {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(Gdb {
                        stream,
                        input: Vec::new(),
                        registers: None,
                    });
                }
                Err(e) if Instant::now() >= deadline => return Err(connect_error(e)),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Stops the guest and returns the stop reply. Stopping a guest that is already stopped
    /// (QEMU stops it when we connect) sends no reply, so any reply to the interrupt itself
    /// is drained before asking why the guest stopped.
    pub fn halt(&mut self) -> Result<String, GdbError> {
        self.stream.write_all(b"\x03")?;
        while self
            .receive_within(Duration::from_millis(300), "\\x03")?
            .is_some()
        {}
        let reply = self.request_text("?")?;
        if !reply.starts_with(['T', 'S']) {
            return Err(GdbError::Unexpected {
                request: "?".into(),
                reply,
            });
        }
        Ok(reply)
    }

    /// Switches QEMU's stub between physical (`true`) and CPU-view memory accesses. Returns
    /// `false` if the stub does not know the command.
    pub fn physical_memory(&mut self, on: bool) -> Result<bool, GdbError> {
        let request = format!("Qqemu.PhyMemMode:{}", u8::from(on));
        match self.request_text(&request)?.as_str() {
            "OK" => Ok(true),
            "" => Ok(false),
            reply => Err(GdbError::Unexpected {
                request,
                reply: reply.into(),
            }),
        }
    }

    /// Reads `len` bytes at `address`, in requests of at most [`MAX_READ`] bytes.
    pub fn read_memory(&mut self, address: u32, len: usize) -> Result<Vec<u8>, GdbError> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let at = address.wrapping_add(out.len() as u32);
            let chunk = (len - out.len()).min(MAX_READ);
            let request = format!("m{at:x},{chunk:x}");
            let reply = self.request(&request)?;
            let bytes = decode_hex(&reply).filter(|b| !b.is_empty() && b.len() <= chunk);
            let Some(bytes) = bytes else {
                return Err(self.refusal(request, &reply));
            };
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }

    /// Writes `bytes` at `address` (`M`).
    pub fn write_memory(&mut self, address: u32, bytes: &[u8]) -> Result<(), GdbError> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let request = format!("M{address:x},{:x}:{hex}", bytes.len());
        let reply = self.request(&request)?;
        if reply != b"OK" {
            return Err(self.refusal(request, &reply));
        }
        Ok(())
    }

    /// Sets (`Z0`) or removes (`z0`) a breakpoint on the Thumb instruction at `address`.
    pub fn breakpoint(&mut self, address: u32, on: bool) -> Result<(), GdbError> {
        let request = format!("{}0,{address:x},2", if on { 'Z' } else { 'z' });
        let reply = self.request(&request)?;
        if reply != b"OK" {
            return Err(self.refusal(request, &reply));
        }
        Ok(())
    }

    /// Lets the guest run (`c`) or execute one instruction (`s`) until it stops again, and
    /// returns the stop reply. QEMU stops again at once on a breakpoint at the current PC:
    /// to go past it, remove it and step first.
    pub fn run_until_stop(&mut self, step: bool) -> Result<String, GdbError> {
        let request = if step { "s" } else { "c" };
        let reply = self.request_text(request)?;
        if !reply.starts_with(['T', 'S']) {
            return Err(GdbError::Unexpected {
                request: request.into(),
                reply,
            });
        }
        Ok(reply)
    }

    /// The registers of the target description, read once.
    pub fn register_list(&mut self) -> Result<Vec<Register>, GdbError> {
        if let Some(registers) = &self.registers {
            return Ok(registers.clone());
        }
        let main = self.read_feature("target.xml")?;
        let registers = parse_target_xml(&main, |annex| self.read_feature(annex))?;
        self.registers = Some(registers.clone());
        Ok(registers)
    }

    /// Values of the registers named in `names` (absent ones are left out), from `g` where
    /// the description places them there and from `p` otherwise.
    pub fn registers(&mut self, names: &[&str]) -> Result<Vec<(String, u32)>, GdbError> {
        let mut described = self.register_list()?;
        described.sort_by_key(|r| r.number);
        let all = self.request("g")?;
        let Some(all) = decode_hex(&all) else {
            return Err(self.refusal("g".into(), &all));
        };
        // `g` holds the described registers in number order, as far as it goes.
        let mut in_g = Vec::new();
        let mut offset = 0;
        for r in &described {
            let size = (r.bits / 8) as usize;
            if offset + size > all.len() {
                break;
            }
            in_g.push((r.name.clone(), all[offset..offset + size].to_vec()));
            offset += size;
        }
        let mut out = Vec::new();
        for &name in names {
            let Some(r) = described.iter().find(|r| r.name == name) else {
                continue;
            };
            let bytes = match in_g.iter().find(|(n, _)| n == name) {
                Some((_, bytes)) => bytes.clone(),
                None => {
                    let request = format!("p{:x}", r.number);
                    let reply = self.request(&request)?;
                    match decode_hex(&reply).filter(|b| !b.is_empty()) {
                        Some(bytes) => bytes,
                        None => return Err(self.refusal(request, &reply)),
                    }
                }
            };
            let mut word = [0u8; 4];
            let n = bytes.len().min(4);
            word[..n].copy_from_slice(&bytes[..n]);
            out.push((name.to_owned(), u32::from_le_bytes(word)));
        }
        Ok(out)
    }

    /// Detaches; QEMU lets the guest run again.
    pub fn detach(&mut self) -> Result<(), GdbError> {
        let reply = self.request_text("D")?;
        if reply != "OK" {
            return Err(GdbError::Unexpected {
                request: "D".into(),
                reply,
            });
        }
        Ok(())
    }

    fn read_feature(&mut self, annex: &str) -> Result<String, GdbError> {
        let mut document = Vec::new();
        loop {
            let request = format!(
                "qXfer:features:read:{annex}:{:x},{:x}",
                document.len(),
                0xffb
            );
            let reply = self.request(&request)?;
            let (more, data) = match reply.split_first() {
                Some((b'm', data)) => (true, data),
                Some((b'l', data)) => (false, data),
                _ => return Err(self.refusal(request, &reply)),
            };
            document.extend_from_slice(&unescape(data));
            if !more || data.is_empty() {
                break;
            }
        }
        String::from_utf8(document).map_err(|_| GdbError::Unexpected {
            request: format!("qXfer:features:read:{annex}"),
            reply: "a document that is not UTF-8".into(),
        })
    }

    fn refusal(&self, request: String, reply: &[u8]) -> GdbError {
        let text = String::from_utf8_lossy(reply).into_owned();
        match text.strip_prefix('E') {
            Some(code) if code.len() == 2 => GdbError::Refused {
                request,
                code: code.to_owned(),
            },
            _ => GdbError::Unexpected {
                request,
                reply: text,
            },
        }
    }

    fn request_text(&mut self, request: &str) -> Result<String, GdbError> {
        Ok(String::from_utf8_lossy(&self.request(request)?).into_owned())
    }

    /// Sends `request` and returns the data of the reply, run lengths expanded.
    pub fn request(&mut self, request: &str) -> Result<Vec<u8>, GdbError> {
        let packet = frame(request.as_bytes());
        let mut acked = false;
        for _ in 0..RETRIES {
            self.stream.write_all(&packet)?;
            match self.next_byte_within(REPLY_TIMEOUT, request)? {
                b'+' => {
                    acked = true;
                    break;
                }
                b'-' => continue,
                // Stubs in no-ack mode answer straight away.
                b'$' => {
                    self.input.insert(0, b'$');
                    acked = true;
                    break;
                }
                _ => continue,
            }
        }
        if !acked {
            return Err(GdbError::Checksum {
                request: request.into(),
            });
        }
        self.receive_within(REPLY_TIMEOUT, request)?
            .ok_or_else(|| GdbError::Timeout {
                request: request.into(),
            })
    }

    /// The next packet, if one arrives within `wait`. Bytes outside packets (stray acks) are
    /// skipped; a packet with a bad checksum is asked for again.
    fn receive_within(
        &mut self,
        wait: Duration,
        request: &str,
    ) -> Result<Option<Vec<u8>>, GdbError> {
        let deadline = Instant::now() + wait;
        let mut bad = 0;
        loop {
            if let Some(start) = self.input.iter().position(|&b| b == b'$')
                && let Some(hash) = self.input[start..]
                    .iter()
                    .position(|&b| b == b'#')
                    .map(|h| start + h)
                && self.input.len() >= hash + 3
            {
                let data = self.input[start + 1..hash].to_vec();
                let sum = std::str::from_utf8(&self.input[hash + 1..hash + 3])
                    .ok()
                    .and_then(|s| u8::from_str_radix(s, 16).ok());
                self.input.drain(..hash + 3);
                if sum == Some(checksum(&data)) {
                    self.stream.write_all(b"+")?;
                    let data =
                        expand_run_lengths(&data).map_err(|reason| GdbError::Unexpected {
                            request: request.into(),
                            reply: reason,
                        })?;
                    return Ok(Some(data));
                }
                bad += 1;
                if bad > RETRIES {
                    return Err(GdbError::Checksum {
                        request: request.into(),
                    });
                }
                self.stream.write_all(b"-")?;
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.fill(left)? {
                return Ok(None);
            }
        }
    }

    fn next_byte_within(&mut self, wait: Duration, request: &str) -> Result<u8, GdbError> {
        let deadline = Instant::now() + wait;
        while self.input.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.fill(left)? {
                return Err(GdbError::Timeout {
                    request: request.into(),
                });
            }
        }
        Ok(self.input.remove(0))
    }

    /// Reads what the stub sent within `wait`; `false` if nothing came.
    fn fill(&mut self, wait: Duration) -> Result<bool, GdbError> {
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
        let mut chunk = [0u8; 8192];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(GdbError::Closed),
            Ok(n) => {
                self.input.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_framed_with_their_checksum() {
        assert_eq!(frame(b"?"), b"$?#3f");
        assert_eq!(frame(b"m0,4"), b"$m0,4#fd");
        assert_eq!(frame(b""), b"$#00");
    }

    #[test]
    fn run_lengths_expand() {
        // `0* ` is "0" and 3 more zeros (' ' = 32 = 29 + 3).
        assert_eq!(expand_run_lengths(b"0* ").unwrap(), b"0000");
        assert_eq!(expand_run_lengths(b"ab*\"c").unwrap(), b"abbbbbbc");
        assert_eq!(expand_run_lengths(b"plain").unwrap(), b"plain");
        assert!(expand_run_lengths(b"*x").is_err());
        assert!(expand_run_lengths(b"a*").is_err());
    }

    #[test]
    fn binary_escapes_are_removed() {
        assert_eq!(unescape(b"a}\x03b}]"), b"a#b}");
    }

    #[test]
    fn hex_decodes_exactly() {
        assert_eq!(decode_hex(b"00ff10"), Some(vec![0, 0xff, 0x10]));
        assert_eq!(decode_hex(b"0"), None);
        assert_eq!(decode_hex(b"E1x"), None);
        assert_eq!(decode_hex(b""), Some(vec![]));
    }

    #[test]
    fn target_description_numbers_follow_document_order_and_regnum() {
        let main = r#"<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd">
            <target><architecture>arm</architecture>
            <xi:include href="arm-m-profile.xml"/><xi:include href="system-registers.xml"/></target>"#;
        let profile = r#"<feature name="org.gnu.gdb.arm.m-profile">
            <reg name="r0" bitsize="32"/><reg name="pc" bitsize="32" type="code_ptr"/>
            <reg name="xpsr" bitsize="32" regnum="25"/></feature>"#;
        let system = r#"<feature name="org.gnu.gdb.arm.m-system">
            <reg name='msp' bitsize='32'/><reg name="psp" bitsize="32" regnum="30"/></feature>"#;
        let registers = parse_target_xml(main, |href| {
            Ok(match href {
                "arm-m-profile.xml" => profile.to_owned(),
                "system-registers.xml" => system.to_owned(),
                other => panic!("unexpected include {other}"),
            })
        })
        .unwrap();
        let got: Vec<(&str, u32)> = registers
            .iter()
            .map(|r| (r.name.as_str(), r.number))
            .collect();
        assert_eq!(
            got,
            [("r0", 0), ("pc", 1), ("xpsr", 25), ("msp", 26), ("psp", 30)]
        );
        assert!(registers.iter().all(|r| r.bits == 32));
    }

    #[test]
    fn attributes_match_whole_names_only() {
        assert_eq!(
            attribute(r#" bitsize="32" name="r1""#, "name").as_deref(),
            Some("r1")
        );
        assert_eq!(
            attribute(r#" regnum="7" name='x'"#, "name").as_deref(),
            Some("x")
        );
        assert_eq!(attribute(r#" name="r1""#, "size"), None);
    }
}
