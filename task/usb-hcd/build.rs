//! Generates the `UsbHcd` server stub with the caller allow-lists app.toml gives this task
//! (`[tasks.usb-hcd.config] allowed-callers = { open_pipe_for = ["usb-core"], ... }`).

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
    let options = build_util::idl::allow_lists(&tasks, &me).map_err(|e| {
        let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
        format!("{file}: {e}")
    })?;
    build_util::idl::generate_server_stub_with("../../idl/usb-hcd.idol", "server_stub.rs", &options)
}
