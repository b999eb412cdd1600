//! Generates jefe's server stub (with `inject_fault`'s allow-list) and its policy table from
//! the app being built (`BULKHEAD_APP_TOML`; see `build_util::supervisor`). Outside
//! `cargo xtask dist` there is no app, and jefe is built supervising only itself.

use std::process::ExitCode;

use build_util::app::AppTask;
use build_util::idl::ServerOptions;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (file, tasks) = match build_util::app::from_env()? {
        Some(app) => (app.file.display().to_string(), app.tasks),
        None => ("(no app)".to_owned(), alone()?),
    };
    let options = ServerOptions {
        allowed_callers: build_util::supervisor::allowed_callers(&file, &tasks)?,
    };
    build_util::idl::generate_server_stub_with("../../idl/jefe.idol", "server_stub.rs", &options)?;
    let (table, warnings) = build_util::supervisor::table(&file, &tasks)?;
    for warning in warnings {
        println!("cargo::warning={warning}");
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("supervisor_table.rs"), table)?;
    Ok(())
}

/// jefe and the idle task every app needs, resolved as the builder resolves an app.
fn alone() -> Result<Vec<AppTask>, String> {
    const ALONE: &str = r#"
name = "jefe-alone"
board = "mps2-an500"
target = "thumbv7em-none-eabihf"

[kernel]
crate = "none"
stack-size = 1024

[tasks.jefe]
crate = "task-jefe"
priority = 0
stack-size = 4096
notifications = ["fault", "timer"]

[tasks.idle]
crate = "task-idle"
priority = 1
stack-size = 256
"#;
    Ok(build_util::app::parse("(no app)", ALONE)?.tasks)
}
