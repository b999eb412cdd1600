//! Idol stubs from `build.rs`: read an `.idol` file, write the stub into `OUT_DIR`.
//!
//! An API crate needs only
//!
//! ```ignore
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     build_util::idl::generate_client_stub("../../idl/ping.idol", "client_stub.rs")
//! }
//! // src/lib.rs
//! include!(concat!(env!("OUT_DIR"), "/client_stub.rs"));
//! ```
//!
//! and a server the same with [`generate_server_stub`] (or [`generate_server_stub_with`] for
//! per-operation caller allow-lists). Both crates depend on `idol-runtime`.

use std::error::Error;
use std::path::PathBuf;

use crate::app::AppTask;

pub use idol::ServerOptions;

/// Writes the client stub of `idol_file` (relative to the crate's `Cargo.toml`) to
/// `$OUT_DIR/out_name`.
pub fn generate_client_stub(idol_file: &str, out_name: &str) -> Result<(), Box<dyn Error>> {
    let (idol_file, out) = paths(idol_file, out_name)?;
    Ok(idol::write_client_stub(&idol_file, &out)?)
}

/// Writes the server stub of `idol_file` (relative to the crate's `Cargo.toml`) to
/// `$OUT_DIR/out_name`, accepting calls from any task.
pub fn generate_server_stub(idol_file: &str, out_name: &str) -> Result<(), Box<dyn Error>> {
    generate_server_stub_with(idol_file, out_name, &ServerOptions::default())
}

/// [`generate_server_stub`] with application settings, such as the task indices allowed to
/// call each operation (resolved from `app.toml` by the caller).
pub fn generate_server_stub_with(
    idol_file: &str,
    out_name: &str,
    options: &ServerOptions,
) -> Result<(), Box<dyn Error>> {
    let (idol_file, out) = paths(idol_file, out_name)?;
    Ok(idol::write_server_stub(&idol_file, &out, options)?)
}

/// The `.idol` file's full path and the stub's, after telling cargo to rerun when the
/// `.idol` file changes.
fn paths(idol_file: &str, out_name: &str) -> Result<(PathBuf, PathBuf), Box<dyn Error>> {
    let manifest_dir = env_dir("CARGO_MANIFEST_DIR")?;
    let out_dir = env_dir("OUT_DIR")?;
    let idol_file = manifest_dir.join(idol_file);
    println!("cargo::rerun-if-changed={}", idol_file.display());
    Ok((idol_file, out_dir.join(out_name)))
}

fn env_dir(name: &str) -> Result<PathBuf, Box<dyn Error>> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .ok_or_else(|| format!("{name} is not set: call this from a build script").into())
}

/// The allow-lists in `tasks.<me>.config.allowed-callers` (`operation = [task names]`),
/// task names turned into task indices.
pub fn allow_lists(tasks: &[AppTask], me: &str) -> Result<ServerOptions, String> {
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

/// Refuses a server whose `operations` (those that reach beyond the caller's own resources)
/// have no allow-list in `tasks.<me>.config.allowed-callers`: left out, any task holding a
/// send grant to the server could call them.
pub fn require_allow_lists(
    options: &ServerOptions,
    me: &str,
    operations: &[&str],
) -> Result<(), String> {
    let open: Vec<&str> = operations
        .iter()
        .copied()
        .filter(|op| !options.allowed_callers.contains_key(*op))
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    Err(format!(
        "tasks.{me}.config.allowed-callers: {} must name their callers; without a list, every \
         task with a send grant to {me} could call them",
        open.iter()
            .map(|op| format!("`{op}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_without_its_allow_list_is_named() {
        let mut options = ServerOptions::default();
        options.allowed_callers.insert("open_pipe".into(), vec![3]);
        assert_eq!(
            require_allow_lists(&options, "usb-hcd", &["open_pipe"]),
            Ok(())
        );
        let e = require_allow_lists(
            &options,
            "usb-hcd",
            &["open_pipe", "power_on", "reset_root_port"],
        )
        .unwrap_err();
        assert!(
            e.starts_with(
                "tasks.usb-hcd.config.allowed-callers: `power_on`, `reset_root_port` must name"
            ),
            "{e}"
        );
    }
}
