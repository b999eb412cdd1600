//! Generates jefe's server stub (with the allow-lists of `inject_fault`, `restart`, `unload`
//! and `load`) and its policy table from the app being built (`BULKHEAD_APP_TOML`; see
//! `build_util::supervisor`). Outside `cargo xtask dist` there is no app, and jefe is built
//! supervising only itself.

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
    if std::env::var_os("CARGO_FEATURE_STM32H7_IWDG").is_some() {
        check_iwdg_period(&file, &tasks)?;
    }
    for warning in warnings {
        println!("cargo::warning={warning}");
    }
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("supervisor_table.rs"), table)?;
    Ok(())
}

/// `watchdog-ms` must be a period IWDG1 can count: at most (0xFFF + 1) * 256 cycles of its
/// 32 kHz LSI. (`build_util::supervisor::table` has checked that it is an integer of at
/// least its minimum.)
fn check_iwdg_period(file: &str, tasks: &[AppTask]) -> Result<(), String> {
    use drv_stm32h7_iwdg::{LSI_HZ, max_ms, period_for_ms};
    let jefe = &tasks[0];
    let Some(ms) = jefe.config.as_ref().and_then(|c| c.get("watchdog-ms")) else {
        return Ok(());
    };
    let ms = ms.as_integer().unwrap_or(0);
    match u32::try_from(ms)
        .ok()
        .and_then(|ms| period_for_ms(ms, LSI_HZ))
    {
        Some(_) => Ok(()),
        None => Err(format!(
            "{file}: tasks.{}.config.watchdog-ms: {ms} ms is beyond the STM32H7 IWDG's longest \
             period, {} ms (reload 0xFFF at prescaler /256 of the {} kHz LSI)",
            jefe.name,
            max_ms(LSI_HZ),
            LSI_HZ / 1000
        )),
    }
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
