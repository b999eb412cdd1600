//! The USB core's driver table from `app.toml`, for every build script that needs to know
//! which task serves which class: the core itself (whom to bind and notify) and the
//! console (which task to name in its `usb` device tree).
//!
//! ```toml
//! [tasks.usb-core.config]
//! drivers = { usb-msc = "mass-storage", usb-hid = "hid" }   # task = driver kind
//! ```

use crate::app::AppTask;

/// One row of the table: a class-driver task and the kind of driver it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbDriver {
    pub task: String,
    /// The task's index (its position in `app.toml`).
    pub index: usize,
    /// The `DriverKind` (and `usb_core_api::wire::Driver`) variant name, e.g. `MassStorage`.
    pub kind: &'static str,
    /// The kind as app.toml spells it, e.g. `mass-storage`.
    pub kind_name: &'static str,
}

/// Each driver kind as app.toml spells it, and its `DriverKind` variant.
pub const KINDS: [(&str, &str); 4] = [
    ("hid", "Hid"),
    ("mass-storage", "MassStorage"),
    ("cdc-acm", "CdcAcm"),
    ("hub", "Hub"),
];

/// The driver table of task `core`, in file order. Errors name the key and the value at
/// fault (the caller adds the file).
pub fn drivers(tasks: &[AppTask], core: &str) -> Result<Vec<UsbDriver>, String> {
    let at = format!("tasks.{core}.config.drivers");
    let task = tasks
        .iter()
        .find(|t| t.name == core)
        .ok_or_else(|| format!("no task named \"{core}\""))?;
    let drivers = task
        .config
        .as_ref()
        .and_then(|c| c.get("drivers"))
        .and_then(|d| d.as_table())
        .ok_or_else(|| format!("{at}: required, a table of task name = driver kind"))?;
    drivers
        .iter()
        .map(|(name, kind)| {
            let &(kind_name, kind) = KINDS
                .iter()
                .find(|(spelled, _)| kind.as_str() == Some(*spelled))
                .ok_or_else(|| {
                    format!(
                        "{at}.{name}: must be one of \"hid\", \"mass-storage\", \"cdc-acm\", \"hub\""
                    )
                })?;
            let index = tasks
                .iter()
                .position(|t| t.name == *name)
                .ok_or_else(|| format!("{at}: no task named \"{name}\""))?;
            Ok(UsbDriver {
                task: name.clone(),
                index,
                kind,
                kind_name,
            })
        })
        .collect()
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
        [tasks.usb-core]
        crate = "task-usb-core"
        priority = 1
        stack-size = 1024
        [tasks.usb-core.config]
        drivers = { usb-msc = "mass-storage", usb-hid = "hid" }
        [tasks.usb-hid]
        crate = "task-usb-hid"
        priority = 2
        stack-size = 1024
        [tasks.usb-msc]
        crate = "task-usb-msc"
        priority = 2
        stack-size = 1024
    "#;

    #[test]
    fn drivers_come_in_file_order_with_their_task_index_and_kind() {
        let tasks = tasks_of(APP).unwrap();
        assert_eq!(
            drivers(&tasks, "usb-core").unwrap(),
            [
                UsbDriver {
                    task: "usb-msc".into(),
                    index: 3,
                    kind: "MassStorage",
                    kind_name: "mass-storage",
                },
                UsbDriver {
                    task: "usb-hid".into(),
                    index: 2,
                    kind: "Hid",
                    kind_name: "hid",
                },
            ]
        );
    }

    #[test]
    fn errors_name_the_key_and_the_value_at_fault() {
        let tasks = tasks_of(&APP.replace("\"hid\" }", "\"printer\" }")).unwrap();
        assert_eq!(
            drivers(&tasks, "usb-core").unwrap_err(),
            "tasks.usb-core.config.drivers.usb-hid: must be one of \"hid\", \"mass-storage\", \"cdc-acm\", \"hub\""
        );
        let tasks = tasks_of(&APP.replace("usb-msc = ", "usb-mcs = ")).unwrap();
        assert_eq!(
            drivers(&tasks, "usb-core").unwrap_err(),
            "tasks.usb-core.config.drivers: no task named \"usb-mcs\""
        );
        let tasks = tasks_of(APP).unwrap();
        assert_eq!(
            drivers(&tasks, "usb-hub").unwrap_err(),
            "no task named \"usb-hub\""
        );
    }
}
