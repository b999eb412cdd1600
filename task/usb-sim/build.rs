//! Generates the `UsbSim` server stub and what is plugged at start, from app.toml
//! (`build_util::usb_sim`: the hub, with `hub-keyboard` and `hub-serial` in its ports, when
//! the keys are absent):
//!
//! ```toml
//! [tasks.usb-sim.config]
//! plugged-at-boot = "hub"
//! hub-ports = ["keyboard", "serial", "flash"]
//! ```
//!
//! Each name must be a device of `usb-sim`'s table; the generated constant asserts say so at
//! compile time, naming the file, the key and the value.

use std::error::Error;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn Error>> {
    build_util::idl::generate_server_stub("../../idl/usb-sim.idol", "server_stub.rs")?;
    let (tasks, me) = build_util::app::task_being_built()?;
    let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
    let boot = build_util::usb_sim::boot(&tasks, &me).map_err(|e| format!("{file}: {e}"))?;
    let root_key = format!("tasks.{me}.config.plugged-at-boot");
    let ports_key = format!("tasks.{me}.config.hub-ports");
    let mut out = format!(
        "/// The device on the root port at start (app.toml `{root_key}`).\n\
         const PLUGGED_AT_BOOT: &str = {root:?};\n\
         /// Where that name comes from, for the error when no device has it.\n\
         const PLUGGED_AT_BOOT_KEY: &str = {root_key:?};\n\
         /// The devices in the hub's ports, port 1 first (app.toml `{ports_key}`).\n\
         const HUB_PORTS_AT_BOOT: [&str; {n}] = {ports:?};\n\
         const _: () = assert!(\n    {n} <= usb_model::hub::PORTS,\n    \
         {too_many:?}\n);\n",
        root = boot.root,
        n = boot.hub_ports.len(),
        ports = boot.hub_ports,
        too_many = format!("{file}: {ports_key}: more devices than the simulated hub has ports"),
    );
    let chaos_key = format!("tasks.{me}.config.flash-chaos");
    let chaos = match boot.flash_chaos {
        None => "None".to_string(),
        Some(c) => format!(
            "Some(usb_model::chaos::Schedule {{ seed: {}, gap: ({}, {}), bout: ({}, {}) }})",
            c.seed, c.gap_ms.0, c.gap_ms.1, c.bout_ms.0, c.bout_ms.1
        ),
    };
    writeln!(
        out,
        "/// The flash drive's bouts of malice (app.toml `{chaos_key}`).\n\
         const FLASH_CHAOS: Option<usb_model::chaos::Schedule> = {chaos};"
    )?;
    for name in &boot.hub_ports {
        let message = format!(
            "{file}: {ports_key}: no device named {name:?} in usb-sim's table (FIXED_NAMES)"
        );
        writeln!(
            out,
            "const _: () = assert!(is_fixed_device({name:?}), {message:?});"
        )?;
    }
    let path = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("boot.rs");
    std::fs::write(path, out)?;
    Ok(())
}
