//! Generates the `Sys` client stub from `idl/stm32xx-sys.idol`, and the peripheral and pin
//! constants from the `sys` task's config in the app being built (`BULKHEAD_APP_TOML`, set
//! by `cargo xtask dist`; see `src/app_config.rs`).

#[path = "src/app_config.rs"]
mod app_config;
#[path = "src/exti_table.rs"]
mod exti_table;
#[path = "src/rcc_table.rs"]
#[allow(dead_code)] // every RCC group is named, also those with no entry yet
mod rcc_table;

use std::path::PathBuf;
use std::process::ExitCode;

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
    build_util::idl::generate_client_stub("../../idl/stm32xx-sys.idol", "client_stub.rs")?;
    let code = match build_util::app::from_env()? {
        Some(app) => {
            let irqs: Vec<_> = app
                .irqs
                .iter()
                .map(|d| (d.irq, usize::from(d.task), d.notification))
                .collect();
            app_config::generate(&app.file.display().to_string(), &app.tasks, &irqs)?
        }
        None => app_config::empty("BULKHEAD_APP_TOML is unset (no app)", 0),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    std::fs::write(out.join("sys_config.rs"), code)?;
    Ok(())
}
