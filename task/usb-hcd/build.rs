//! Generates the `UsbHcd` server stub with the caller allow-lists app.toml gives this task
//! (`[tasks.usb-hcd.config] allowed-callers = { open_pipe_for = ["usb-core"], ... }`).

/// Operations that reach a device the caller was not given, or the whole bus: every app must
/// say who may call them (doc/usb-host.md 6.2, "Who may call what").
const CORE_ONLY: &[&str] = &[
    "open_pipe",
    "open_pipe_for",
    "close_pipes_of",
    "close_pipe_for",
    "start_control",
    "finish_control",
    "reset_root_port",
    "begin_root_reset",
    "end_root_reset",
    "power_on",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (tasks, me) = build_util::app::task_being_built()?;
    let own = tasks
        .iter()
        .position(|t| t.name == me)
        .ok_or_else(|| format!("task {me} is not in app.toml"))?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("own_index.rs");
    std::fs::write(
        out,
        format!(
            "/// This task's index: its own restart count is the pipe epoch.\nconst OWN_INDEX: usize = {own};\n"
        ),
    )?;
    let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
    let options = build_util::idl::allow_lists(&tasks, &me).map_err(|e| format!("{file}: {e}"))?;
    build_util::idl::require_allow_lists(&options, &me, CORE_ONLY)
        .map_err(|e| format!("{file}: {e}"))?;
    build_util::idl::generate_server_stub_with("../../idl/usb-hcd.idol", "server_stub.rs", &options)
}
