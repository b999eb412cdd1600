//! Generates the `IdolTest` server stub with the caller allow-lists app.toml gives this
//! task:
//!
//! ```toml
//! [tasks.server.config]
//! allowed-callers = { restricted = ["suite"] }   # operation = [task names]
//! ```
//!
//! Task names become task indices. The app and the task being built come from
//! `BULKHEAD_APP_TOML` and `BULKHEAD_TASK_NAME`, which `cargo xtask dist` sets.

use std::error::Error;

use build_util::app::AppTask;
use build_util::idl::{ServerOptions, generate_server_stub_with};

fn main() -> Result<(), Box<dyn Error>> {
    let (tasks, me) = build_util::app::task_being_built()?;
    let options = allow_lists(&tasks, &me).map_err(|e| {
        let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
        format!("{file}: {e}")
    })?;
    generate_server_stub_with("../../idl/idol-test.idol", "server_stub.rs", &options)
}

/// The allow-lists in `tasks.<me>.config.allowed-callers`.
fn allow_lists(tasks: &[AppTask], me: &str) -> Result<ServerOptions, String> {
    let at = format!("tasks.{me}.config.allowed-callers");
    let task = tasks
        .iter()
        .find(|t| t.name == me)
        .ok_or_else(|| format!("no task named \"{me}\""))?;
    let mut options = ServerOptions::default();
    let Some(lists) = task.config.as_ref().and_then(|c| c.get("allowed-callers")) else {
        return Ok(options);
    };
    let lists = lists
        .as_table()
        .ok_or_else(|| format!("{at}: must be a table of operation = [task names]"))?;
    for (operation, callers) in lists {
        let not_names = || format!("{at}.{operation}: must be an array of task names");
        let indices = callers
            .as_array()
            .ok_or_else(not_names)?
            .iter()
            .map(|caller| {
                let name = caller.as_str().ok_or_else(not_names)?;
                let index = tasks
                    .iter()
                    .position(|t| t.name == name)
                    .ok_or_else(|| format!("{at}.{operation}: no task named \"{name}\""))?;
                // The builder refuses apps of more than 32 tasks.
                Ok(index as u16)
            })
            .collect::<Result<Vec<u16>, String>>()?;
        options.allowed_callers.insert(operation.clone(), indices);
    }
    Ok(options)
}
