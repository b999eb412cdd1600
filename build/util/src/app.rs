//! The parts of `app.toml` that tasks' build scripts need, read from the file the builder
//! names in `BULKHEAD_APP_TOML` (`cargo xtask dist` sets it for every task build).
//!
//! The builder has already validated the file (`build/xtask/src/config`); this reader only
//! converts, with the same defaults (`doc/app-toml.md`), and still names the file and key
//! when something is not what it expects, so a build script never fails silently.

use std::path::PathBuf;

use toml::{Table, Value};

/// One `[tasks.<name>]`, in file order (the order is the task index).
#[derive(Clone, Debug, PartialEq)]
pub struct AppTask {
    pub name: String,
    pub krate: String,
    pub start: bool,
    pub notifications: Vec<String>,
    pub task_slots: Vec<String>,
    pub supervision: Supervision,
    pub config: Option<Table>,
}

/// `[tasks.<name>.supervision]` with defaults filled in; `depends_on` as task indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervision {
    pub restart: Restart,
    pub depends_on: Vec<usize>,
    pub detach_deadline_ms: u32,
    pub backoff_initial_ms: u32,
    pub backoff_max_ms: u32,
    pub intensity: Option<Intensity>,
    pub watchdog_ms: Option<u32>,
    pub reset_peripherals: Vec<String>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFault,
    Never,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Intensity {
    pub restarts: u32,
    pub window_ms: u32,
    pub then: Escalation,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Escalation {
    Hold,
    RestartDependents,
    Reset,
}

impl Default for Supervision {
    fn default() -> Self {
        Supervision {
            restart: Restart::OnFault,
            depends_on: Vec::new(),
            detach_deadline_ms: 50,
            backoff_initial_ms: 10,
            backoff_max_ms: 5000,
            intensity: None,
            watchdog_ms: None,
            reset_peripherals: Vec::new(),
        }
    }
}

/// The app's tasks, or `None` when `BULKHEAD_APP_TOML` is not set (a plain `cargo build` or
/// `cargo test` of the crate). Tells cargo to rerun the build script when the file changes.
pub fn from_env() -> Result<Option<(String, Vec<AppTask>)>, String> {
    println!("cargo::rerun-if-env-changed=BULKHEAD_APP_TOML");
    let Some(path) = std::env::var_os("BULKHEAD_APP_TOML").map(PathBuf::from) else {
        return Ok(None);
    };
    println!("cargo::rerun-if-changed={}", path.display());
    let file = path.display().to_string();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{file}: {e}"))?;
    parse(&file, &text).map(Some)
}

/// The app's tasks and the name of the task whose build script is running, both set by
/// `cargo xtask dist` (`BULKHEAD_APP_TOML`, `BULKHEAD_TASK_NAME`); an error saying so when
/// either is missing, since a task that needs them cannot be built by plain `cargo build`.
pub fn task_being_built() -> Result<(Vec<AppTask>, String), String> {
    let not_dist = "build this task with `cargo xtask dist`";
    let Some((_, tasks)) = from_env()? else {
        return Err(format!("BULKHEAD_APP_TOML is not set: {not_dist}"));
    };
    println!("cargo::rerun-if-env-changed=BULKHEAD_TASK_NAME");
    let me = std::env::var("BULKHEAD_TASK_NAME")
        .map_err(|_| format!("BULKHEAD_TASK_NAME is not set: {not_dist}"))?;
    Ok((tasks, me))
}

/// Parses the text of an `app.toml`; `file` names it in errors. Returns the app's name and
/// its tasks in index order.
pub fn parse(file: &str, text: &str) -> Result<(String, Vec<AppTask>), String> {
    let fail = |what: String| format!("{file}: {what}");
    let app: Table = text.parse().map_err(|e| fail(format!("TOML: {e}")))?;
    let name = app
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let entries = app
        .get("tasks")
        .and_then(Value::as_table)
        .ok_or_else(|| fail("no [tasks]".into()))?;
    let names: Vec<&str> = entries.keys().map(String::as_str).collect();
    let tasks = entries
        .iter()
        .map(|(name, entry)| {
            task(name, entry, &names).map_err(|e| fail(format!("tasks.{name}.{e}")))
        })
        .collect::<Result<_, _>>()?;
    Ok((name, tasks))
}

fn task(name: &str, entry: &Value, names: &[&str]) -> Result<AppTask, String> {
    let entry = entry.as_table().ok_or("must be a table")?;
    let krate = entry
        .get("crate")
        .and_then(Value::as_str)
        .ok_or("crate: missing")?;
    let start = match entry.get("start") {
        None => true,
        Some(v) => v.as_bool().ok_or("start: must be true or false")?,
    };
    let supervision = match entry.get("supervision") {
        None => Supervision::default(),
        Some(v) => supervision(v.as_table().ok_or("supervision: must be a table")?, names)
            .map_err(|e| format!("supervision.{e}"))?,
    };
    Ok(AppTask {
        name: name.to_owned(),
        krate: krate.to_owned(),
        start,
        notifications: strings(entry, "notifications")?,
        task_slots: strings(entry, "task-slots")?,
        supervision,
        config: match entry.get("config") {
            None => None,
            Some(v) => Some(v.as_table().ok_or("config: must be a table")?.clone()),
        },
    })
}

fn supervision(table: &Table, names: &[&str]) -> Result<Supervision, String> {
    let mut s = Supervision::default();
    for (key, value) in table {
        match key.as_str() {
            "restart" => {
                s.restart = match value.as_str() {
                    Some("always") => Restart::Always,
                    Some("on-fault") => Restart::OnFault,
                    Some("never") => Restart::Never,
                    _ => {
                        return Err("restart: must be \"always\", \"on-fault\" or \"never\"".into());
                    }
                }
            }
            "depends-on" => {
                s.depends_on = strings(table, key)?
                    .iter()
                    .map(|n| {
                        names
                            .iter()
                            .position(|t| t == n)
                            .ok_or_else(|| format!("depends-on: unknown task \"{n}\""))
                    })
                    .collect::<Result<_, _>>()?
            }
            "detach-deadline-ms" => s.detach_deadline_ms = millis(value, key)?,
            "watchdog-ms" => s.watchdog_ms = Some(millis(value, key)?),
            "backoff" => {
                let b = value.as_table().ok_or("backoff: must be a table")?;
                if let Some(v) = b.get("initial-ms") {
                    s.backoff_initial_ms = millis(v, "backoff.initial-ms")?;
                }
                if let Some(v) = b.get("max-ms") {
                    s.backoff_max_ms = millis(v, "backoff.max-ms")?;
                }
            }
            "intensity" => {
                let i = value.as_table().ok_or("intensity: must be a table")?;
                let field = |k: &str| {
                    i.get(k)
                        .ok_or_else(|| format!("intensity.{k}: missing"))
                        .and_then(|v| millis(v, &format!("intensity.{k}")))
                };
                let then = match i.get("then").map(Value::as_str) {
                    None | Some(Some("hold")) => Escalation::Hold,
                    Some(Some("restart-dependents")) => Escalation::RestartDependents,
                    Some(Some("reset")) => Escalation::Reset,
                    Some(_) => {
                        return Err(
                            "intensity.then: must be \"hold\", \"restart-dependents\" or \"reset\""
                                .into(),
                        );
                    }
                };
                s.intensity = Some(Intensity {
                    restarts: field("restarts")?,
                    window_ms: field("window-ms")?,
                    then,
                });
            }
            "reset-peripherals" => s.reset_peripherals = strings(table, key)?,
            other => return Err(format!("{other}: unknown key")),
        }
    }
    Ok(s)
}

fn millis(value: &Value, key: &str) -> Result<u32, String> {
    value
        .as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{key}: must be an integer from 0 to {}", u32::MAX))
}

fn strings(table: &Table, key: &str) -> Result<Vec<String>, String> {
    let Some(value) = table.get(key) else {
        return Ok(Vec::new());
    };
    let not_strings = || format!("{key}: must be an array of strings");
    value
        .as_array()
        .ok_or_else(not_strings)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(not_strings))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
        name = "demo"
        [tasks.jefe]
        crate = "task-jefe"
        notifications = ["fault", "timer"]
        [tasks.jefe.config]
        inject-fault-callers = ["client"]
        [tasks.server]
        crate = "task-server"
        start = false
        [tasks.server.supervision]
        restart = "always"
        backoff = { max-ms = 400 }
        intensity = { restarts = 3, window-ms = 1000, then = "restart-dependents" }
        watchdog-ms = 100
        reset-peripherals = ["uart0"]
        [tasks.client]
        crate = "task-client"
        notifications = ["provider-going", "provider-back"]
        task-slots = ["jefe", "server"]
        supervision = { depends-on = ["server"], detach-deadline-ms = 20 }
    "#;

    #[test]
    fn tasks_come_in_file_order_with_defaults_filled_in() {
        let (name, tasks) = parse("app.toml", APP).unwrap();
        assert_eq!(name, "demo");
        let names: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["jefe", "server", "client"]);
        assert_eq!(tasks[0].supervision, Supervision::default());
        assert!(
            tasks[0]
                .config
                .as_ref()
                .unwrap()
                .contains_key("inject-fault-callers")
        );
        let server = &tasks[1];
        assert!(!server.start);
        assert_eq!(
            server.supervision,
            Supervision {
                restart: Restart::Always,
                backoff_max_ms: 400,
                intensity: Some(Intensity {
                    restarts: 3,
                    window_ms: 1000,
                    then: Escalation::RestartDependents
                }),
                watchdog_ms: Some(100),
                reset_peripherals: vec!["uart0".into()],
                ..Supervision::default()
            }
        );
        let client = &tasks[2];
        assert_eq!(client.supervision.depends_on, [1]);
        assert_eq!(client.supervision.detach_deadline_ms, 20);
        assert_eq!(client.task_slots, ["jefe", "server"]);
    }

    #[test]
    fn errors_name_the_file_task_and_key() {
        let bad = APP.replace("depends-on = [\"server\"]", "depends-on = [\"srever\"]");
        assert_eq!(
            parse("app.toml", &bad).unwrap_err(),
            "app.toml: tasks.client.supervision.depends-on: unknown task \"srever\""
        );
        let bad = APP.replace("restart = \"always\"", "restart = \"sometimes\"");
        assert!(
            parse("app.toml", &bad)
                .unwrap_err()
                .starts_with("app.toml: tasks.server.supervision.restart:")
        );
    }
}
