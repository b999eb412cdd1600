//! Generates the `UsbSim` server stub and the name of the device on the root port at start,
//! from app.toml (the hub, with its keyboard and serial adapter, when the key is absent):
//!
//! ```toml
//! [tasks.usb-sim.config]
//! plugged-at-boot = "flash"
//! ```

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    build_util::idl::generate_server_stub("../../idl/usb-sim.idol", "server_stub.rs")?;
    let (tasks, me) = build_util::app::task_being_built()?;
    let at = format!("tasks.{me}.config.plugged-at-boot");
    let name = match tasks
        .iter()
        .find(|t| t.name == me)
        .and_then(|t| t.config.as_ref())
        .and_then(|c| c.get("plugged-at-boot"))
    {
        None => "hub",
        Some(value) => value.as_str().ok_or_else(|| {
            let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
            format!("{file}: {at}: must be a device name such as \"flash\", not {value}")
        })?,
    };
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("boot.rs");
    std::fs::write(
        out,
        format!(
            "/// The device on the root port at start (app.toml `{at}`).\n\
             const PLUGGED_AT_BOOT: &str = {name:?};\n\
             /// Where that name comes from, for the error when no device has it.\n\
             const PLUGGED_AT_BOOT_KEY: &str = {at:?};\n"
        ),
    )?;
    Ok(())
}
