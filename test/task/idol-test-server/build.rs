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

use build_util::idl::generate_server_stub_with;

fn main() -> Result<(), Box<dyn Error>> {
    let (tasks, me) = build_util::app::task_being_built()?;
    let options = build_util::idl::allow_lists(&tasks, &me).map_err(|e| {
        let file = std::env::var("BULKHEAD_APP_TOML").unwrap_or_default();
        format!("{file}: {e}")
    })?;
    generate_server_stub_with("../../../idl/idol-test.idol", "server_stub.rs", &options)
}
