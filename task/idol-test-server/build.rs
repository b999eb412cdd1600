//! Generates the `IdolTest` server stub with the caller allow-lists app.toml gives this
//! task:
//!
//! ```toml
//! [tasks.server.config]
//! allowed-callers = { restricted = ["suite"] }   # operation = [task names]
//! ```
//!
//! Task names become task indices (their order in app.toml). The app and the task being
//! built come from `BULKHEAD_APP_TOML` and `BULKHEAD_TASK_NAME`, set by `cargo xtask dist`.

use std::error::Error;
use std::path::PathBuf;

use build_util::idl::{ServerOptions, generate_server_stub_with};
use toml::{Table, Value};

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo::rerun-if-env-changed=BULKHEAD_APP_TOML");
    println!("cargo::rerun-if-env-changed=BULKHEAD_TASK_NAME");
    let (Some(app_toml), Some(task)) = (std::env::var_os("BULKHEAD_APP_TOML"), std::env::var_os("BULKHEAD_TASK_NAME")) else {
        return Err("BULKHEAD_APP_TOML or BULKHEAD_TASK_NAME is not set: build this task with `cargo xtask dist`".into());
    };
    let app_toml = PathBuf::from(app_toml);
    println!("cargo::rerun-if-changed={}", app_toml.display());
    let text = std::fs::read_to_string(&app_toml).map_err(|e| format!("{}: {e}", app_toml.display()))?;
    let options = allow_lists(&text, &task.to_string_lossy()).map_err(|e| format!("{}: {e}", app_toml.display()))?;
    generate_server_stub_with("../../idl/idol-test.idol", "server_stub.rs", &options)
}

/// The allow-lists in `tasks.<task>.config.allowed-callers` of the app.toml text `text`.
fn allow_lists(text: &str, task: &str) -> Result<ServerOptions, String> {
    let app: Table = text.parse().map_err(|e| format!("TOML: {e}"))?;
    let tasks = app.get("tasks").and_then(Value::as_table).ok_or("no [tasks]")?;
    let at = format!("tasks.{task}.config.allowed-callers");
    let lists = match tasks.get(task).and_then(|t| t.get("config")).and_then(|c| c.get("allowed-callers")) {
        None => return Ok(ServerOptions::default()),
        Some(Value::Table(lists)) => lists,
        Some(_) => return Err(format!("{at}: must be a table of operation = [task names]")),
    };
    let mut options = ServerOptions::default();
    for (operation, callers) in lists {
        let callers = callers.as_array().ok_or_else(|| format!("{at}.{operation}: must be an array of task names"))?;
        let indices = callers
            .iter()
            .map(|caller| {
                let name = caller.as_str().ok_or_else(|| format!("{at}.{operation}: {caller} is not a task name"))?;
                let index = tasks.keys().position(|t| t == name).ok_or_else(|| format!("{at}.{operation}: no task named \"{name}\""))?;
                u16::try_from(index).map_err(|_| format!("{at}.{operation}: task \"{name}\" has index {index}, past u16"))
            })
            .collect::<Result<Vec<u16>, String>>()?;
        options.allowed_callers.insert(operation.clone(), indices);
    }
    Ok(options)
}
