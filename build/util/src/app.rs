//! The app being built, for tasks' build scripts: the builder's own schema, defaults and
//! validation (`build/app-config`), read from the file `cargo xtask dist` names in
//! `BULKHEAD_APP_TOML`. A build script sees exactly the app the builder checked, so a key or a
//! default is defined once.

use std::path::{Path, PathBuf};

pub use app_config::{App, Backoff, Escalation, Intensity, Restart, Supervision, Task as AppTask};

/// The app, or `None` when `BULKHEAD_APP_TOML` is not set (a plain `cargo build` or `cargo
/// test` of the crate). Tells cargo to rerun the build script when the file changes.
pub fn from_env() -> Result<Option<App>, String> {
    println!("cargo::rerun-if-env-changed=BULKHEAD_APP_TOML");
    let Some(path) = std::env::var_os("BULKHEAD_APP_TOML").map(PathBuf::from) else {
        return Ok(None);
    };
    println!("cargo::rerun-if-changed={}", path.display());
    app_config::load_built_app(&path)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The app's tasks and the name of the task whose build script is running, both set by
/// `cargo xtask dist` (`BULKHEAD_APP_TOML`, `BULKHEAD_TASK_NAME`); an error saying so when
/// either is missing, since a task that needs them cannot be built by plain `cargo build`.
pub fn task_being_built() -> Result<(Vec<AppTask>, String), String> {
    let not_dist = "build this task with `cargo xtask dist`";
    let Some(app) = from_env()? else {
        return Err(format!("BULKHEAD_APP_TOML is not set: {not_dist}"));
    };
    println!("cargo::rerun-if-env-changed=BULKHEAD_TASK_NAME");
    let me = std::env::var("BULKHEAD_TASK_NAME")
        .map_err(|_| format!("BULKHEAD_TASK_NAME is not set: {not_dist}"))?;
    Ok((app.tasks, me))
}

/// Resolves the text of an `app.toml` as the builder does (against the real boards and
/// chips); `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<App, String> {
    app_config::resolve_built_app(Path::new(file), text.to_owned()).map_err(|e| e.to_string())
}

/// The tasks of an app on the QEMU board whose `[tasks.*]` tables are `tasks` (and an idle
/// task last, which every app needs, unless `tasks` has one), named `app.toml` in errors:
/// what the generators' tests start from.
#[cfg(test)]
pub(crate) fn tasks_of(tasks: &str) -> Result<Vec<AppTask>, String> {
    let header = "name = \"test\"\nboard = \"mps2-an500\"\ntarget = \"thumbv7em-none-eabihf\"\n\
                  [kernel]\ncrate = \"app-test\"\nstack-size = 1024\n";
    let idle = if tasks.contains("[tasks.idle]") {
        ""
    } else {
        "\n[tasks.idle]\ncrate = \"task-idle\"\npriority = 7\nstack-size = 256\n"
    };
    parse("app.toml", &format!("{header}{tasks}{idle}")).map(|app| app.tasks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASKS: &str = r#"
        [tasks.jefe]
        crate = "task-jefe"
        priority = 0
        stack-size = 1024
        notifications = ["fault", "timer"]
        [tasks.jefe.config]
        inject-fault-callers = ["client"]
        [tasks.server]
        crate = "task-server"
        priority = 1
        stack-size = 1024
        start = false
        uses = ["uart0"]
        task-slots = ["jefe"]
        [tasks.server.supervision]
        restart = "always"
        backoff = { max-ms = 400 }
        intensity = { restarts = 3, window-ms = 1000, then = "restart-dependents" }
        watchdog-ms = 100
        reset-peripherals = ["uart0"]
        [tasks.client]
        crate = "task-client"
        priority = 2
        stack-size = 1024
        notifications = ["provider-going", "provider-back"]
        task-slots = ["jefe", "server"]
        supervision = { depends-on = ["server"], detach-deadline-ms = 20 }
    "#;

    #[test]
    fn build_scripts_see_the_builders_resolved_tasks_with_its_defaults() {
        let tasks = tasks_of(TASKS).unwrap();
        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["jefe", "server", "client", "idle"]);
        assert_eq!(tasks[0].supervision, None, "the supervisor has no policy");
        assert!(
            tasks[0]
                .config
                .as_ref()
                .unwrap()
                .contains_key("inject-fault-callers")
        );
        let server = &tasks[1];
        assert!(!server.starts_at_boot());
        assert_eq!(
            server.supervision,
            Some(Supervision {
                restart: Restart::Always,
                backoff: Backoff {
                    max_ms: 400,
                    ..Supervision::default().backoff
                },
                intensity: Some(Intensity {
                    restarts: 3,
                    window_ms: 1000,
                    then: Escalation::RestartDependents
                }),
                watchdog_ms: Some(100),
                reset_peripherals: vec!["uart0".into()],
                ..Supervision::default()
            })
        );
        let client = tasks[2].supervision.as_ref().unwrap();
        assert_eq!(client.depends_on, [1]);
        assert_eq!(client.detach_deadline_ms, 20);
        assert_eq!(tasks[2].task_slots, ["jefe", "server"]);
    }

    #[test]
    fn errors_are_the_builders_naming_the_file_task_and_key() {
        let bad = TASKS.replace("depends-on = [\"server\"]", "depends-on = [\"srever\"]");
        let e = tasks_of(&bad).unwrap_err();
        assert!(e.starts_with("app.toml: task \"client\""), "{e}");
        assert!(e.contains("srever"), "{e}");
    }
}
