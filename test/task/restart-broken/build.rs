//! Gives the task its own index (`MY_INDEX`), so it can ask the kernel for its generation:
//! the task being built is `BULKHEAD_TASK_NAME` of `BULKHEAD_APP_TOML`, which `cargo xtask
//! dist` sets.

use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let (tasks, me) = build_util::app::task_being_built()?;
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
