//! The supervisor's tables, generated from `app.toml` for `task/jefe` (its `build.rs`).
//!
//! The builder has validated every policy (`build/app-config/src/supervision.rs`); this
//! converts them to `supervision::Policy` values and checks what only jefe cares about, each
//! refusal naming the file, task and key:
//!
//! - at most 32 tasks (task sets are `u32` masks), names of at most 16 bytes (the console
//!   and `list_tasks` carry them in 16 bytes);
//! - jefe has a notification named `timer`;
//! - a task with `depends-on` declares the notifications `provider-going` and `provider-back`
//!   (jefe posts them around a provider's restart) and has jefe in its `task-slots` (it
//!   acknowledges over IPC). Declaring neither makes it a passive dependent, with a warning:
//!   it is never told, and its providers' detaches wait out their deadline for it. A task
//!   with `watchdog-ms` has jefe in its `task-slots` (it checks in over IPC);
//! - `intensity.restarts` is at most `supervision::MAX_INTENSITY_RESTARTS`;
//! - `[tasks.<jefe>.config] inject-fault-callers` and `control-callers` name tasks (the
//!   allow-lists of `inject_fault` and of `restart`, `unload` and `load`; [`ALLOW_LISTS`]);
//!   `watchdog-ms`, the hardware watchdog's period, is at least [`MIN_WATCHDOG_MS`] (jefe
//!   feeds it from its loop, which turns at least every 100 ms);
//! - at most one task, the board's reset server (`sys`), declares the notification
//!   `reset-request` (`jefe_api::reset`); it has jefe in its `task-slots` (it takes its work
//!   from jefe over IPC) and no `reset-peripherals` of its own (it is detached while they
//!   would be reset, so nobody could reset them).
//!
//! A task without `intensity` has no restart limit: `intensity_restarts = 1` with an
//! `intensity_window_ms` of 0 never counts a strike. The policy crate also measures "ran
//! long enough to forget the back-off" with that window, so such a task always backs off
//! `backoff.initial-ms`; give it an `intensity` for a growing back-off.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::app::{AppTask, Escalation, Restart};

/// Notifications a dependent declares.
pub const PROVIDER_GOING: &str = "provider-going";
pub const PROVIDER_BACK: &str = "provider-back";
/// The longest task name jefe reports.
pub const MAX_NAME_LEN: usize = 16;
/// The console's crate: calls from its task are recorded as the console's.
pub const CONSOLE_CRATE: &str = "task-console";
/// The shortest hardware watchdog period: twice jefe's longest sleep (100 ms).
pub const MIN_WATCHDOG_MS: i64 = 200;

/// The notification that makes a task the board's reset server (`jefe_api::reset`).
pub const RESET_REQUEST: &str = "reset-request";
/// The kernel's idle task, which the supervisor restarts at once and never holds
/// (`supervision::Policy::idle`).
pub const IDLE_TASK: &str = "idle";

/// The member of jefe's `TASK_COUNTERS` (`humility counters jefe`) that holds `task`'s
/// counters: its name, with the `-` a Rust field cannot hold as `_` (`usb-msc` -> `usb_msc`).
pub fn counters_member(task: &str) -> String {
    task.replace('-', "_")
}

/// The generated Rust source (`include!`d by jefe) for `tasks`, and warnings for the build
/// to print; `file` names app.toml.
pub fn table(file: &str, tasks: &[AppTask]) -> Result<(String, Vec<String>), String> {
    let mut warnings = Vec::new();
    let fail = |what: String| format!("{file}: {what}");
    let supervisor = tasks.first().ok_or_else(|| fail("no tasks".into()))?;
    if tasks.len() > 32 {
        return Err(fail(format!(
            "{} tasks; the supervisor handles at most 32",
            tasks.len()
        )));
    }
    let timer = bit(supervisor, "timer").ok_or_else(|| {
        fail(format!(
            "tasks.{}.notifications: the supervisor needs a notification named \"timer\"",
            supervisor.name
        ))
    })?;
    let mut policies = String::new();
    let mut going = Vec::new();
    let mut back = Vec::new();
    for task in tasks {
        let at = |key: &str| format!("tasks.{}{key}", task.name);
        if task.name.len() > MAX_NAME_LEN {
            return Err(fail(format!(
                "tasks.{}: names longer than {MAX_NAME_LEN} bytes are cut on the console; shorten it",
                task.name
            )));
        }
        // The supervisor's own entry is ignored by jefe; it gets the defaults.
        let s = task.supervision.clone().unwrap_or_default();
        let talks_to_jefe = task.task_slots.contains(&supervisor.name);
        let (g, b) = match (
            s.depends_on.is_empty(),
            bit(task, PROVIDER_GOING),
            bit(task, PROVIDER_BACK),
        ) {
            (true, _, _) => (0, 0),
            // A passive dependent: never told, so its providers' detaches wait out the deadline.
            (false, None, None) => {
                warnings.push(format!(
                    "{file}: {}: {} depends on other tasks but declares neither \"{PROVIDER_GOING}\" nor \"{PROVIDER_BACK}\": it will not be told when they go away, and each of their detaches waits detach-deadline-ms for it (see task/jefe/README.md)",
                    at(".notifications"), task.name
                ));
                (0, 0)
            }
            (false, Some(_), None) | (false, None, Some(_)) => {
                return Err(fail(format!(
                    "{}: a task with supervision.depends-on declares both notifications \"{PROVIDER_GOING}\" and \"{PROVIDER_BACK}\", or neither (see task/jefe/README.md)",
                    at(".notifications")
                )));
            }
            (false, Some(_), Some(_)) if !talks_to_jefe => {
                return Err(fail(format!(
                    "{}: a task with supervision.depends-on acknowledges to the supervisor, so it needs \"{}\" in its task-slots",
                    at(".task-slots"),
                    supervisor.name
                )));
            }
            (false, Some(g), Some(b)) => (g, b),
        };
        if s.watchdog_ms.is_some() && !talks_to_jefe {
            return Err(fail(format!(
                "{}: a task with supervision.watchdog-ms checks in with the supervisor, so it needs \"{}\" in its task-slots",
                at(".task-slots"),
                supervisor.name
            )));
        }
        going.push(g);
        back.push(b);
        let (restarts, window_ms, then) = match s.intensity {
            Some(i) => (i.restarts, i.window_ms, i.then),
            None => (1, 0, Escalation::Hold),
        };
        if restarts > MAX_INTENSITY_RESTARTS {
            return Err(fail(format!(
                "{}: at most {MAX_INTENSITY_RESTARTS} restarts per window (the supervisor keeps that many restart times per task)",
                at(".supervision.intensity.restarts")
            )));
        }
        let depends_on = s.depends_on.iter().fold(0u32, |m, &p| m | 1 << p);
        let reset_peripherals = (1u64 << s.reset_peripherals.len()) as u32 - 1;
        let watchdog = s
            .watchdog_ms
            .map_or("None".into(), |ms| format!("Some({ms})"));
        write!(
            policies,
            "    // {name}\n    supervision::Policy {{\n        restart: supervision::RestartMode::{restart},\n        \
             depends_on: {depends_on:#b},\n        detach_deadline_ms: {deadline},\n        \
             backoff_initial_ms: {initial},\n        backoff_max_ms: {max},\n        \
             intensity_restarts: {restarts},\n        intensity_window_ms: {window_ms},\n        \
             intensity_then: supervision::Escalation::{then:?},\n        watchdog_ms: {watchdog},\n        \
             reset_peripherals: {reset_peripherals:#b},\n        start_at_boot: {start},\n        \
             idle: {idle},\n        priority: {priority},\n    }},\n",
            name = task.name,
            restart = match s.restart {
                Restart::Always => "Always",
                Restart::OnFault => "OnFault",
                Restart::Never => "Never",
            },
            deadline = s.detach_deadline_ms,
            initial = s.backoff.initial_ms,
            max = s.backoff.max_ms,
            start = task.starts_at_boot(),
            idle = task.name == IDLE_TASK,
            priority = task.priority,
        )
        .expect("writing to a String");
    }
    let names: Vec<String> = tasks.iter().map(|t| format!("{:?}", t.name)).collect();
    let masks = |bits: &[u32]| {
        bits.iter()
            .map(|b| format!("{b:#x}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let console = match tasks.iter().position(|t| t.krate == CONSOLE_CRATE) {
        Some(i) => format!("Some({i})"),
        None => "None".into(),
    };
    let watchdog = match supervisor
        .config
        .as_ref()
        .and_then(|c| c.get("watchdog-ms"))
    {
        None => "None".to_owned(),
        Some(v) => match v.as_integer() {
            Some(ms) if (MIN_WATCHDOG_MS..=i64::from(u32::MAX)).contains(&ms) => {
                format!("Some({ms})")
            }
            _ => {
                return Err(fail(format!(
                    "tasks.{}.config.watchdog-ms: {v} is not a period of at least {MIN_WATCHDOG_MS} ms",
                    supervisor.name
                )));
            }
        },
    };
    let sys = match reset_server(tasks, supervisor).map_err(fail)? {
        Some((i, bit)) => format!("Some(({i}, {bit:#x}))"),
        None => "None".into(),
    };
    let fields: Vec<String> = tasks[1..]
        .iter()
        .map(|t| counters_member(&t.name))
        .collect();
    let members: String = fields
        .iter()
        .map(|f| format!("    pub {f}: TaskEventCounts,\n"))
        .collect();
    let inits: String = fields
        .iter()
        .map(|f| format!("            {f}: TaskEventCounts::new(),\n"))
        .collect();
    let arms: String = fields
        .iter()
        .enumerate()
        .map(|(i, f)| format!("            {} => Some(&self.{f}),\n", i + 1))
        .collect();
    let code = format!(
        "// Generated by build-util (supervisor.rs) from app.toml. Do not edit: change app.toml.\n\n\
         /// Tasks in the image; index 0 is the supervisor.\n\
         pub const NUM_TASKS: usize = {n};\n\n\
         /// Task names, by index (app.toml order).\n\
         pub const TASK_NAMES: [&str; NUM_TASKS] = [{names}];\n\n\
         /// Each task's `[tasks.X.supervision]`; the supervisor's own entry is ignored.\n\
         pub const POLICIES: [supervision::Policy; NUM_TASKS] = [\n{policies}];\n\n\
         /// Per task, its `{PROVIDER_GOING}` notification bit (0: it has no providers).\n\
         pub const PROVIDER_GOING: [u32; NUM_TASKS] = [{going}];\n\n\
         /// Per task, its `{PROVIDER_BACK}` notification bit (0: it has no providers).\n\
         pub const PROVIDER_BACK: [u32; NUM_TASKS] = [{back}];\n\n\
         /// The supervisor's `timer` notification bit.\n\
         pub const TIMER_NOTIFICATION: u32 = {timer:#x};\n\n\
         /// The console task (crate `{CONSOLE_CRATE}`), if the image has one.\n\
         pub const CONSOLE: Option<usize> = {console};\n\n\
         /// The reset server `sys` (the task declaring `{RESET_REQUEST}`) and that notification's\n\
         /// bit, if the board has one.\n\
         pub const SYS: Option<(usize, u32)> = {sys};\n\n\
         /// The hardware watchdog's period (`[tasks.<jefe>.config] watchdog-ms`), if any.\n\
         pub const WATCHDOG_MS: Option<u32> = {watchdog};\n\n\
         /// Supervision counters per task, one member per supervised task (`humility counters`).\n\
         pub struct PerTaskCounts {{\n{members}}}\n\n\
         impl PerTaskCounts {{\n    \
             pub const fn new() -> Self {{\n        PerTaskCounts {{\n{inits}        }}\n    }}\n\n    \
             pub fn get(&self, task: usize) -> Option<&TaskEventCounts> {{\n        match task {{\n{arms}            _ => None,\n        }}\n    }}\n\
         }}\n\n\
         impl Default for PerTaskCounts {{\n    \
             fn default() -> Self {{\n        Self::new()\n    }}\n\
         }}\n",
        n = tasks.len(),
        names = names.join(", "),
        going = masks(&going),
        back = masks(&back),
    );
    Ok((code, warnings))
}

/// jefe's allow-listed operations and the `[tasks.<supervisor>.config]` key naming their
/// callers. Each stops or faults tasks, and every task with `watchdog-ms` may send to jefe
/// (to check in), so a key left out lets nobody call its operations.
pub const ALLOW_LISTS: &[(&str, &[&str])] = &[
    ("inject-fault-callers", &["inject_fault"]),
    ("control-callers", &["restart", "unload", "load"]),
];

/// The server stub's allow-lists ([`ALLOW_LISTS`]): operation name to caller indices.
pub fn allowed_callers(
    file: &str,
    tasks: &[AppTask],
) -> Result<BTreeMap<String, Vec<u16>>, String> {
    let supervisor = tasks.first().ok_or_else(|| format!("{file}: no tasks"))?;
    let mut lists = BTreeMap::new();
    for (key, operations) in ALLOW_LISTS {
        let callers = callers_named_by(file, tasks, supervisor, key)?;
        for operation in *operations {
            lists.insert((*operation).to_owned(), callers.clone());
        }
    }
    Ok(lists)
}

/// The indices of the tasks `[tasks.<supervisor>.config] <key>` names (none if absent).
fn callers_named_by(
    file: &str,
    tasks: &[AppTask],
    supervisor: &AppTask,
    key: &str,
) -> Result<Vec<u16>, String> {
    let at = format!("tasks.{}.config.{key}", supervisor.name);
    let Some(value) = supervisor.config.as_ref().and_then(|c| c.get(key)) else {
        return Ok(Vec::new());
    };
    let not_names = || format!("{file}: {at}: must be an array of task names");
    value
        .as_array()
        .ok_or_else(not_names)?
        .iter()
        .map(|v| {
            let name = v.as_str().ok_or_else(not_names)?;
            tasks
                .iter()
                .position(|t| t.name == name)
                // The builder refuses apps of more than 32 tasks.
                .map(|i| i as u16)
                .ok_or_else(|| format!("{file}: {at}: unknown task \"{name}\""))
        })
        .collect()
}

/// `supervision::MAX_INTENSITY_RESTARTS`, repeated so build scripts need not build the policy
/// crate; jefe asserts at compile time that the two agree.
pub const MAX_INTENSITY_RESTARTS: u32 = 8;

/// The reset server's index and `reset-request` bit, checked as the module doc says.
fn reset_server(tasks: &[AppTask], supervisor: &AppTask) -> Result<Option<(usize, u32)>, String> {
    let mut servers = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((i, t, bit(t, RESET_REQUEST)?)));
    let Some((index, server, bit)) = servers.next() else {
        return Ok(None);
    };
    if let Some((_, other, _)) = servers.next() {
        return Err(format!(
            "tasks.{}.notifications: \"{RESET_REQUEST}\" is already declared by \"{}\"; one task resets peripherals",
            other.name, server.name
        ));
    }
    if !server.task_slots.contains(&supervisor.name) {
        return Err(format!(
            "tasks.{}.task-slots: the task declaring \"{RESET_REQUEST}\" takes its work from the supervisor, so it needs \"{}\" in its task-slots",
            server.name, supervisor.name
        ));
    }
    if server
        .supervision
        .as_ref()
        .is_some_and(|s| !s.reset_peripherals.is_empty())
    {
        return Err(format!(
            "tasks.{}.supervision.reset-peripherals: the task declaring \"{RESET_REQUEST}\" cannot reset its own peripherals (it is detached while they would be)",
            server.name
        ));
    }
    Ok(Some((index, bit)))
}

fn bit(task: &AppTask, notification: &str) -> Option<u32> {
    task.notifications
        .iter()
        .position(|n| n == notification)
        .map(|i| 1 << i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tasks_of;

    const APP: &str = r#"
        [tasks.jefe]
        crate = "task-jefe"
        priority = 0
        stack-size = 1024
        notifications = ["fault", "timer"]
        config = { inject-fault-callers = ["client"], control-callers = ["console"] }
        [tasks.console]
        crate = "task-console"
        priority = 2
        stack-size = 1024
        [tasks.server]
        crate = "task-server"
        priority = 1
        stack-size = 1024
        start = false
        uses = ["uart0"]
        task-slots = ["jefe"]
        supervision = { restart = "always", intensity = { restarts = 3, window-ms = 1000 }, reset-peripherals = ["uart0"], watchdog-ms = 100 }
        [tasks.client]
        crate = "task-client"
        priority = 2
        stack-size = 1024
        notifications = ["timer", "provider-going", "provider-back"]
        task-slots = ["jefe", "server"]
        supervision = { depends-on = ["server"] }
    "#;

    fn generate(text: &str) -> Result<String, String> {
        let tasks = tasks_of(text)?;
        table("app.toml", &tasks).map(|(code, _)| code)
    }

    #[test]
    fn table_snapshot() {
        let code = generate(APP).unwrap();
        let snapshot = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/snapshots/supervisor_table.rs"
        );
        if std::env::var_os("BULKHEAD_BLESS").is_some() {
            std::fs::write(snapshot, &code).unwrap();
        }
        let expected = std::fs::read_to_string(snapshot).unwrap();
        assert_eq!(code, expected, "snapshot differs; new output:\n{code}");
    }

    #[test]
    fn the_task_named_idle_alone_is_marked_idle() {
        let code = generate(&format!(
            "{APP}\n[tasks.idle]\ncrate = \"task-idle\"\npriority = 7\nstack-size = 256\n"
        ))
        .unwrap();
        let idle = code.split("// idle\n").nth(1).expect("an entry for idle");
        assert!(idle.contains("idle: true,"), "{code}");
        assert_eq!(code.matches("idle: true,").count(), 1, "{code}");
    }

    #[test]
    fn watched_task_must_be_able_to_check_in() {
        assert_eq!(
            generate(&APP.replace("task-slots = [\"jefe\"]", "task-slots = []")).unwrap_err(),
            "app.toml: tasks.server.task-slots: a task with supervision.watchdog-ms checks in with the supervisor, so it needs \"jefe\" in its task-slots"
        );
    }

    #[test]
    fn dependent_must_declare_both_notifications_or_neither() {
        let e = generate(&APP.replace(", \"provider-back\"", "")).unwrap_err();
        assert!(e.starts_with("app.toml: tasks.client.notifications: a task with supervision.depends-on declares both"), "{e}");
        let passive = APP.replace(", \"provider-going\", \"provider-back\"", "");
        let tasks = tasks_of(&passive).unwrap();
        let (code, warnings) = table("app.toml", &tasks).unwrap();
        assert!(
            code.contains(
                "pub const PROVIDER_GOING: [u32; NUM_TASKS] = [0x0, 0x0, 0x0, 0x0, 0x0];"
            )
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("client depends on other tasks but declares neither"),
            "{}",
            warnings[0]
        );
    }

    const SYS: &str = r#"
        [tasks.sys]
        crate = "task-sys"
        priority = 1
        stack-size = 1024
        uses = ["timer0"]
        notifications = ["reset-request"]
        task-slots = ["jefe"]
    "#;

    #[test]
    fn reset_server_is_found_by_its_notification() {
        let code = generate(&format!("{APP}{SYS}")).unwrap();
        assert!(
            code.contains("pub const SYS: Option<(usize, u32)> = Some((4, 0x1));"),
            "{code}"
        );
    }

    #[test]
    fn reset_server_is_checked() {
        let twice = format!("{APP}{SYS}{}", SYS.replace("tasks.sys", "tasks.sys2"));
        assert_eq!(
            generate(&twice).unwrap_err(),
            "app.toml: tasks.sys2.notifications: \"reset-request\" is already declared by \"sys\"; one task resets peripherals"
        );
        let mute = format!("{APP}{}", SYS.replace("task-slots = [\"jefe\"]", ""));
        assert!(
            generate(&mute)
                .unwrap_err()
                .starts_with("app.toml: tasks.sys.task-slots: the task declaring")
        );
        let own = format!("{APP}{SYS}supervision = {{ reset-peripherals = [\"timer0\"] }}\n");
        assert!(
            generate(&own).unwrap_err().starts_with(
                "app.toml: tasks.sys.supervision.reset-peripherals: the task declaring"
            )
        );
    }

    #[test]
    fn hardware_watchdog_period_is_read_and_checked() {
        let with = |v: &str| {
            generate(&APP.replace(
                "config = { inject-fault-callers",
                &format!("config = {{ watchdog-ms = {v}, inject-fault-callers"),
            ))
        };
        assert!(
            with("500")
                .unwrap()
                .contains("pub const WATCHDOG_MS: Option<u32> = Some(500);")
        );
        assert_eq!(
            with("100").unwrap_err(),
            "app.toml: tasks.jefe.config.watchdog-ms: 100 is not a period of at least 200 ms"
        );
        assert!(
            with("\"1s\"")
                .unwrap_err()
                .contains("watchdog-ms: \"1s\" is not a period")
        );
    }

    #[test]
    fn intensity_beyond_what_jefe_tracks_is_refused() {
        let e = generate(&APP.replace("restarts = 3", "restarts = 9")).unwrap_err();
        assert!(
            e.starts_with("app.toml: tasks.server.supervision.intensity.restarts: at most 8"),
            "{e}"
        );
    }

    #[test]
    fn inject_fault_callers_resolve_to_indices() {
        let tasks = tasks_of(APP).unwrap();
        let callers = allowed_callers("app.toml", &tasks).unwrap();
        assert_eq!(callers["inject_fault"], [3]);
        let bad = APP.replace("[\"client\"]", "[\"clinet\"]");
        let tasks = tasks_of(&bad).unwrap();
        assert_eq!(
            allowed_callers("app.toml", &tasks).unwrap_err(),
            "app.toml: tasks.jefe.config.inject-fault-callers: unknown task \"clinet\""
        );
    }

    #[test]
    fn control_callers_guard_restart_unload_and_load() {
        let tasks = tasks_of(APP).unwrap();
        let callers = allowed_callers("app.toml", &tasks).unwrap();
        for operation in ["restart", "unload", "load"] {
            assert_eq!(callers[operation], [1], "{operation}");
        }
    }

    #[test]
    fn without_control_callers_nobody_may_restart_unload_or_load() {
        let tasks = tasks_of(&APP.replace(", control-callers = [\"console\"]", "")).unwrap();
        let callers = allowed_callers("app.toml", &tasks).unwrap();
        for operation in ["restart", "unload", "load"] {
            assert_eq!(callers[operation], [] as [u16; 0], "{operation}");
        }
        assert_eq!(callers["inject_fault"], [3]);
    }

    #[test]
    fn control_callers_must_name_tasks() {
        let with = |list: &str| {
            let text = APP.replace(
                "control-callers = [\"console\"]",
                &format!("control-callers = {list}"),
            );
            allowed_callers("app.toml", &tasks_of(&text).unwrap())
        };
        assert_eq!(
            with("[\"console\", \"consol\"]").unwrap_err(),
            "app.toml: tasks.jefe.config.control-callers: unknown task \"consol\""
        );
        assert_eq!(
            with("\"console\"").unwrap_err(),
            "app.toml: tasks.jefe.config.control-callers: must be an array of task names"
        );
        assert_eq!(
            with("[1]").unwrap_err(),
            "app.toml: tasks.jefe.config.control-callers: must be an array of task names"
        );
    }
}
