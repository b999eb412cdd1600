//! Generates the `Console` server stub and, with feature `usb`, the USB core's table of
//! class-driver tasks (app.toml `[tasks.usb-core.config] drivers`), so the `usb` command
//! names the task serving each interface as the core binds it:
//! `USB_DRIVERS: [(Driver code, kind as app.toml spells it, task name if one serves it)]`,
//! one row per driver kind.

use std::error::Error;
use std::fmt::Write as _;

fn main() -> Result<(), Box<dyn Error>> {
    build_util::idl::generate_server_stub("../../idl/console.idol", "server_stub.rs")?;
    if std::env::var_os("CARGO_FEATURE_USB").is_some() {
        let (tasks, _) = build_util::app::task_being_built()?;
        let drivers = build_util::usb::drivers(&tasks, "usb-core").map_err(|e| {
            let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
            format!("{file}: {e} (the console's `usb` feature reads the core's driver table)")
        })?;
        let mut rows = String::new();
        for (kind_name, kind) in build_util::usb::KINDS {
            let task = drivers.iter().find(|d| d.kind == kind).map(|d| &d.task);
            writeln!(rows, "    (Driver::{kind} as u8, {kind_name:?}, {task:?}),")?;
        }
        let table = format!(
            "/// Each USB driver kind: its code, its name, and the task serving it in this image.\n\
             const USB_DRIVERS: &[(u8, &str, Option<&str>)] = &[\n{rows}];\n"
        );
        let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("usb_drivers.rs");
        std::fs::write(out, table)?;
    }
    Ok(())
}
