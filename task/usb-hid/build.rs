//! Generates the `UsbHid` server stub and the table of subscribers app.toml gives this
//! task:
//!
//! ```toml
//! [tasks.usb-hid]
//! notify = { app = ["hid"] }                 # each subscriber's `hid` notification
//! [tasks.usb-hid.config]
//! subscribers = ["app"]
//! ```
//!
//! A subscriber missing from `notify` fails the build (`userlib::notify_mask` in a
//! constant). The table becomes `SUBSCRIBERS: [(task index, hid bit)]`.

use std::error::Error;
use std::fmt::Write as _;

use build_util::app::AppTask;

fn main() -> Result<(), Box<dyn Error>> {
    build_util::idl::generate_server_stub("../../idl/usb-hid.idol", "server_stub.rs")?;
    let (tasks, me) = build_util::app::task_being_built()?;
    let table = subscribers(&tasks, &me).map_err(|e| {
        let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
        format!("{file}: {e}")
    })?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("subscribers.rs");
    std::fs::write(out, table)?;
    Ok(())
}

fn subscribers(tasks: &[AppTask], me: &str) -> Result<String, String> {
    let at = format!("tasks.{me}.config.subscribers");
    let task = tasks
        .iter()
        .find(|t| t.name == me)
        .ok_or_else(|| format!("no task named \"{me}\""))?;
    let names = task
        .config
        .as_ref()
        .and_then(|c| c.get("subscribers"))
        .map_or(Ok(Vec::new()), |list| {
            list.as_array()
                .ok_or_else(|| format!("{at}: must be an array of task names"))?
                .iter()
                .map(|name| {
                    name.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{at}: must be an array of task names"))
                })
                .collect::<Result<Vec<_>, String>>()
        })?;
    let mut rows = String::new();
    for name in names {
        let index = tasks
            .iter()
            .position(|t| t.name == name)
            .ok_or_else(|| format!("{at}: no task named \"{name}\""))?;
        writeln!(
            rows,
            "    ({index}, userlib::notify_mask(env!(\"BULKHEAD_NOTIFY_BITS\"), {name:?}, &[\"hid\"])),"
        )
        .unwrap();
    }
    Ok(format!(
        "/// Tasks told of new events (app.toml `{at}`): task index, `hid` notification bit.\n\
         const SUBSCRIBERS: &[(usize, u32)] = &[\n{rows}];\n"
    ))
}
