//! Generates the `UsbCore` server stub and the table of class-driver tasks that app.toml
//! gives this task:
//!
//! ```toml
//! [tasks.usb-core.config]
//! drivers = { usb-msc = "mass-storage", usb-hid = "hid" }   # task = driver kind
//! ```
//!
//! The core posts each driver task's notification `usb` when events for it are queued, so
//! the core's `notify` table must list it (`notify = { usb-msc = ["usb"] }`); a driver
//! missing there fails the build (`userlib::notify_mask` in a constant). The table becomes
//! `DRIVER_TASKS: [(DriverKind, task index, usb bit)]`.

use std::error::Error;
use std::fmt::Write as _;

use build_util::app::AppTask;

fn main() -> Result<(), Box<dyn Error>> {
    build_util::idl::generate_server_stub("../../idl/usb-core.idol", "server_stub.rs")?;
    let (tasks, me) = build_util::app::task_being_built()?;
    let table = driver_tasks(&tasks, &me).map_err(|e| {
        let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
        format!("{file}: {e}")
    })?;
    let own = tasks
        .iter()
        .position(|t| t.name == me)
        .ok_or_else(|| format!("task {me} is not in app.toml"))?;
    let table = format!(
        "{table}/// This task's index: its own restart count names the ids' incarnation.\nconst OWN_INDEX: usize = {own};\n"
    );
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("drivers.rs");
    std::fs::write(out, table)?;
    Ok(())
}

fn driver_tasks(tasks: &[AppTask], me: &str) -> Result<String, String> {
    let mut rows = String::new();
    for driver in build_util::usb::drivers(tasks, me)? {
        writeln!(
            rows,
            "    (DriverKind::{}, {}, userlib::notify_mask(env!(\"BULKHEAD_NOTIFY_BITS\"), {:?}, &[\"usb\"])),",
            driver.kind, driver.index, driver.task
        )
        .unwrap();
    }
    Ok(format!(
        "/// Class-driver tasks (app.toml `tasks.{me}.config.drivers`): driver kind, task index, `usb` notification bit.\n\
         const DRIVER_TASKS: &[(DriverKind, usize, u32)] = &[\n{rows}];\n"
    ))
}
