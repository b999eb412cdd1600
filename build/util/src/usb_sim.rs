//! What `usb-sim` has plugged at start, from `app.toml`:
//!
//! ```toml
//! [tasks.usb-sim.config]
//! plugged-at-boot = "hub"                     # the device on the root port
//! hub-ports = ["keyboard", "serial", "flash"] # the devices in the hub's ports 1, 2, 3
//! ```
//!
//! Both keys are optional: the root port has the hub, and the hub has `hub-keyboard` in
//! port 1 and `hub-serial` in port 2. A device in `hub-ports` lives in its hub port (`plug`
//! and `unplug` take it out of the port and put it back), so it cannot also be the device on
//! the root port. Whether each name is a simulated device is checked when `usb-sim` compiles,
//! against its device table (the names are the firmware's, not the build tools').

use crate::app::AppTask;

/// The simulated hub's downstream ports (`usb_model::hub::PORTS`; `usb-sim` checks they agree).
pub const HUB_PORTS: usize = 4;

/// The devices plugged at start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimBoot {
    /// The device on the root port.
    pub root: String,
    /// The devices in the hub's ports, port 1 first.
    pub hub_ports: Vec<String>,
}

/// The boot topology of task `sim`. Errors name the key and the value at fault (the caller
/// adds the file).
pub fn boot(tasks: &[AppTask], sim: &str) -> Result<SimBoot, String> {
    let config = tasks
        .iter()
        .find(|t| t.name == sim)
        .ok_or_else(|| format!("no task named \"{sim}\""))?
        .config
        .as_ref();
    let key = |name: &str| format!("tasks.{sim}.config.{name}");
    let root = match config.and_then(|c| c.get("plugged-at-boot")) {
        None => "hub".to_owned(),
        Some(value) => value
            .as_str()
            .ok_or_else(|| {
                format!(
                    "{}: must be a device name such as \"flash\", not {value}",
                    key("plugged-at-boot")
                )
            })?
            .to_owned(),
    };
    let hub_ports = match config.and_then(|c| c.get("hub-ports")) {
        None => vec!["hub-keyboard".to_owned(), "hub-serial".to_owned()],
        Some(value) => {
            let at = key("hub-ports");
            let names: Vec<String> = value
                .as_array()
                .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_owned)).collect())
                .ok_or_else(|| {
                    format!("{at}: must be a list of device names such as [\"keyboard\", \"flash\"], not {value}")
                })?;
            names_fit_the_hub(&at, &names)?;
            names
        }
    };
    if let Some(port) = hub_ports.iter().position(|n| *n == root) {
        return Err(format!(
            "{}: \"{root}\" is in the hub's port {} ({}), so it cannot be on the root port too",
            key("plugged-at-boot"),
            port + 1,
            key("hub-ports")
        ));
    }
    Ok(SimBoot { root, hub_ports })
}

/// At most [`HUB_PORTS`] names, none of them the hub itself, none twice.
fn names_fit_the_hub(at: &str, names: &[String]) -> Result<(), String> {
    if names.len() > HUB_PORTS {
        return Err(format!(
            "{at}: {} devices, but the hub has {HUB_PORTS} ports",
            names.len()
        ));
    }
    for (i, name) in names.iter().enumerate() {
        if name == "hub" {
            return Err(format!("{at}: the hub cannot be in its own port {}", i + 1));
        }
        if let Some(first) = names[..i].iter().position(|n| n == name) {
            return Err(format!(
                "{at}: \"{name}\" is in ports {} and {}; each device is one instance",
                first + 1,
                i + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::tasks_of;

    fn sim_with(config: &str) -> Vec<AppTask> {
        tasks_of(&format!(
            "[tasks.jefe]\ncrate = \"task-jefe\"\npriority = 0\nstack-size = 1024\n\
             notifications = [\"fault\", \"timer\"]\n\
             [tasks.usb-sim]\ncrate = \"task-usb-sim\"\npriority = 1\nstack-size = 1024\n{config}"
        ))
        .unwrap()
    }

    #[test]
    fn without_config_the_hub_is_on_the_root_port_with_its_keyboard_and_adapter() {
        assert_eq!(
            boot(&sim_with(""), "usb-sim").unwrap(),
            SimBoot {
                root: "hub".into(),
                hub_ports: vec!["hub-keyboard".into(), "hub-serial".into()],
            }
        );
    }

    #[test]
    fn hub_ports_name_the_devices_of_ports_one_upwards() {
        let tasks = sim_with(
            "[tasks.usb-sim.config]\nplugged-at-boot = \"hub\"\n\
             hub-ports = [\"keyboard\", \"serial\", \"flash\"]\n",
        );
        assert_eq!(
            boot(&tasks, "usb-sim").unwrap(),
            SimBoot {
                root: "hub".into(),
                hub_ports: vec!["keyboard".into(), "serial".into(), "flash".into()],
            }
        );
        let tasks = sim_with("[tasks.usb-sim.config]\nplugged-at-boot = \"flash\"\n");
        assert_eq!(boot(&tasks, "usb-sim").unwrap().root, "flash");
    }

    #[test]
    fn errors_name_the_key_and_the_value_at_fault() {
        let cases = [
            (
                "plugged-at-boot = 3",
                "tasks.usb-sim.config.plugged-at-boot: must be a device name such as \"flash\", not 3",
            ),
            (
                "hub-ports = \"flash\"",
                "tasks.usb-sim.config.hub-ports: must be a list of device names such as [\"keyboard\", \"flash\"], not \"flash\"",
            ),
            (
                "hub-ports = [\"flash\", 2]",
                "tasks.usb-sim.config.hub-ports: must be a list of device names such as [\"keyboard\", \"flash\"], not [\"flash\", 2]",
            ),
            (
                "hub-ports = [\"a\", \"b\", \"c\", \"d\", \"e\"]",
                "tasks.usb-sim.config.hub-ports: 5 devices, but the hub has 4 ports",
            ),
            (
                "hub-ports = [\"flash\", \"hub\"]",
                "tasks.usb-sim.config.hub-ports: the hub cannot be in its own port 2",
            ),
            (
                "hub-ports = [\"flash\", \"serial\", \"flash\"]",
                "tasks.usb-sim.config.hub-ports: \"flash\" is in ports 1 and 3; each device is one instance",
            ),
            (
                "plugged-at-boot = \"flash\"\nhub-ports = [\"keyboard\", \"flash\"]",
                "tasks.usb-sim.config.plugged-at-boot: \"flash\" is in the hub's port 2 (tasks.usb-sim.config.hub-ports), so it cannot be on the root port too",
            ),
        ];
        for (config, error) in cases {
            let tasks = sim_with(&format!("[tasks.usb-sim.config]\n{config}\n"));
            assert_eq!(boot(&tasks, "usb-sim").unwrap_err(), error, "{config}");
        }
        assert_eq!(
            boot(&sim_with(""), "usb-sim2").unwrap_err(),
            "no task named \"usb-sim2\""
        );
    }
}
