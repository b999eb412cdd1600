//! Compiles `devices/*.json` into a Rust table (`$OUT_DIR/devices.rs`) so that `no_std` code
//! (the device model, later a `plug NAME` command in QEMU) can present any corpus device
//! without a JSON reader. Every field the table needs is checked here; a bad file stops the
//! build with a message naming the file and the key at fault.

use std::fmt::Write as _;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("devices");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut out = String::from("&[\n");
    for path in &files {
        Device::read(path)
            .and_then(|device| device.emit(&mut out))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    out.push_str("]\n");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out_dir.join("devices.rs"), out).expect("write devices.rs");
}

struct Device {
    name: String,
    json: Value,
    device: Vec<u8>,
    configuration: Vec<u8>,
    hub_descriptor: Option<Vec<u8>>,
}

fn field<'a>(json: &'a Value, key: &str) -> Result<&'a Value, String> {
    json.get(key).ok_or_else(|| format!("missing key `{key}`"))
}

fn text<'a>(json: &'a Value, key: &str) -> Result<&'a str, String> {
    field(json, key)?
        .as_str()
        .ok_or_else(|| format!("key `{key}` is not a string"))
}

fn number(json: &Value, key: &str, max: u64) -> Result<u64, String> {
    field(json, key)?
        .as_u64()
        .filter(|&n| n <= max)
        .ok_or_else(|| format!("key `{key}` is not an integer in 0..={max}"))
}

fn hex(json: &Value, key: &str) -> Result<Vec<u8>, String> {
    let s = text(json, key)?;
    if s.len() % 2 != 0 {
        return Err(format!("key `{key}`: odd number of hex digits"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&s[i..i + 2], 16)
                .map_err(|e| format!("key `{key}`: bad hex at {i}: {e}"))
        })
        .collect()
}

fn id(json: &Value, key: &str) -> Result<u16, String> {
    u16::from_str_radix(text(json, key)?, 16).map_err(|e| format!("key `{key}`: {e}"))
}

impl Device {
    fn read(path: &Path) -> Result<Device, String> {
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("file name is not UTF-8")?
            .to_string();
        let raw = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        let json: Value = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
        let device = hex(&json, "device")?;
        if device.len() != 18 {
            return Err(format!("key `device`: {} bytes, expected 18", device.len()));
        }
        let configuration = hex(&json, "configuration")?;
        let total = configuration
            .get(2..4)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
        if total != Some(configuration.len()) {
            return Err(format!(
                "key `configuration`: {} bytes but wTotalLength says {total:?}",
                configuration.len()
            ));
        }
        let hub_descriptor = match json.get("hub_descriptor") {
            Some(_) => Some(hex(&json, "hub_descriptor")?),
            None => None,
        };
        let lsusb = text(&json, "lsusb_text")?;
        let source = path.parent().expect("devices dir").join(lsusb);
        if !source.is_file() {
            return Err(format!("key `lsusb_text`: {} is missing", source.display()));
        }
        Ok(Device {
            name,
            json,
            device,
            configuration,
            hub_descriptor,
        })
    }

    fn emit(&self, out: &mut String) -> Result<(), String> {
        let j = &self.json;
        let speed = match text(j, "speed")? {
            "low" => "Low",
            "full" => "Full",
            "high" => "High",
            other => return Err(format!("key `speed`: unknown speed {other:?}")),
        };
        let list = |v: &'_ Value, key: &str| -> Result<Vec<Value>, String> {
            field(v, key)?
                .as_array()
                .cloned()
                .ok_or_else(|| format!("key `{key}` is not a list"))
        };
        let w = &mut *out;
        let _ = writeln!(w, "    CorpusDevice {{");
        let _ = writeln!(w, "        name: {:?},", self.name);
        let _ = writeln!(w, "        product: {:?},", text(j, "name")?);
        let _ = writeln!(w, "        vendor_id: {:#06x},", id(j, "vid")?);
        let _ = writeln!(w, "        product_id: {:#06x},", id(j, "pid")?);
        let _ = writeln!(w, "        speed: Speed::{speed},");
        let _ = writeln!(w, "        device: {:?},", self.device);
        let _ = writeln!(w, "        configuration: &{:?},", self.configuration);
        let _ = match &self.hub_descriptor {
            Some(bytes) => writeln!(w, "        hub_descriptor: Some(&{bytes:?}),"),
            None => writeln!(w, "        hub_descriptor: None,"),
        };
        let _ = writeln!(w, "        source: {:?},", text(j, "source")?);
        let _ = writeln!(w, "        interfaces: &[");
        for iface in list(j, "interfaces")? {
            let _ = writeln!(
                w,
                "            InterfaceFacts {{ number: {}, alternate: {}, class: {:#04x}, subclass: {:#04x}, protocol: {:#04x}, endpoints: &[",
                number(&iface, "number", 255)?,
                number(&iface, "alt", 255)?,
                number(&iface, "class", 255)?,
                number(&iface, "subclass", 255)?,
                number(&iface, "protocol", 255)?,
            );
            for ep in list(&iface, "endpoints")? {
                let ty = match text(&ep, "type")? {
                    "control" => "Control",
                    "isochronous" => "Isochronous",
                    "bulk" => "Bulk",
                    "interrupt" => "Interrupt",
                    other => return Err(format!("endpoint key `type`: unknown {other:?}")),
                };
                let _ = writeln!(
                    w,
                    "                EndpointFacts {{ address: {:#04x}, ty: EpType::{ty}, max_packet: {}, interval: {} }},",
                    number(&ep, "address", 255)?,
                    number(&ep, "max_packet", 0xFFFF)?,
                    number(&ep, "interval", 255)?,
                );
            }
            let _ = writeln!(w, "            ] }},");
        }
        let _ = writeln!(w, "        ],");
        let _ = writeln!(w, "    }},");
        Ok(())
    }
}
