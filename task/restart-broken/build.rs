//! Gives the task its own index (`MY_INDEX`), so it can ask the kernel for its generation:
//! the task being built is `BULKHEAD_TASK_NAME` of `BULKHEAD_APP_TOML`, which `cargo xtask
//! dist` sets.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let not_dist = "build this task with `cargo xtask dist`";
    let Some((_, tasks)) = build_util::app::from_env()? else {
        return Err(format!("BULKHEAD_APP_TOML is not set: {not_dist}").into());
    };
    println!("cargo::rerun-if-env-changed=BULKHEAD_TASK_NAME");
    let me = std::env::var("BULKHEAD_TASK_NAME")
        .map_err(|_| format!("BULKHEAD_TASK_NAME is not set: {not_dist}"))?;
    let index = tasks
        .iter()
        .position(|t| t.name == me)
        .ok_or_else(|| format!("no task named \"{me}\""))?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?).join("my_index.rs");
    std::fs::write(
        out,
        format!("/// This task's index in the app.\nconst MY_INDEX: usize = {index};\n"),
    )?;
    Ok(())
}
