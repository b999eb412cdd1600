//! What `usb-sim` has plugged at start, from `app.toml`:
//!
//! ```toml
//! [tasks.usb-sim.config]
//! plugged-at-boot = "hub"                     # the device on the root port
//! hub-ports = ["keyboard", "serial", "flash"] # the devices in the hub's ports 1, 2, 3
//! # The flash drive turns malicious at random moments (`usb_model::chaos`): bouts of 1-20
//! # frames every 50-300 frames, seeded.
//! flash-chaos = { seed = 1, gap-ms = [50, 300], bout-ms = [1, 20] }
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
    /// `flash-chaos`: the seed, the quiet gap and the bout length (frames, least and most).
    pub flash_chaos: Option<FlashChaos>,
}

/// `flash-chaos` of `usb-sim`'s config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlashChaos {
    pub seed: u32,
    pub gap_ms: (u32, u32),
    pub bout_ms: (u32, u32),
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
    let flash_chaos = match config.and_then(|c| c.get("flash-chaos")) {
        None => None,
        Some(value) => Some(flash_chaos(value, &key("flash-chaos"))?),
    };
    Ok(SimBoot {
        root,
        hub_ports,
        flash_chaos,
    })
}

fn flash_chaos(value: &toml::Value, at: &str) -> Result<FlashChaos, String> {
    let table = value.as_table().ok_or_else(|| {
        format!("{at}: must be a table such as {{ seed = 1, gap-ms = [50, 300], bout-ms = [1, 20] }}, not {value}")
    })?;
    if let Some(unknown) = table
        .keys()
        .find(|k| !matches!(k.as_str(), "seed" | "gap-ms" | "bout-ms"))
    {
        return Err(format!(
            "{at}: unknown key \"{unknown}\" (expected seed, gap-ms, bout-ms)"
        ));
    }
    let seed = table
        .get("seed")
        .and_then(toml::Value::as_integer)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| format!("{at}.seed: must be a number from 0 to 2^32 - 1"))?;
    let range = |name: &str| -> Result<(u32, u32), String> {
        let bad = || format!("{at}.{name}: must be [least, most] in ms, 1 <= least <= most");
        let pair: Vec<u32> = table
            .get(name)
            .and_then(toml::Value::as_array)
            .ok_or_else(bad)?
            .iter()
            .map(|v| v.as_integer().and_then(|n| u32::try_from(n).ok()))
            .collect::<Option<_>>()
            .ok_or_else(bad)?;
        match pair[..] {
            [lo, hi] if 1 <= lo && lo <= hi => Ok((lo, hi)),
            _ => Err(bad()),
        }
    };
    Ok(FlashChaos {
        seed,
        gap_ms: range("gap-ms")?,
        bout_ms: range("bout-ms")?,
    })
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
                flash_chaos: None,
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
                flash_chaos: None,
            }
        );
        let tasks = sim_with("[tasks.usb-sim.config]\nplugged-at-boot = \"flash\"\n");
        assert_eq!(boot(&tasks, "usb-sim").unwrap().root, "flash");
    }

    #[test]
    fn flash_chaos_gives_its_seed_and_ranges() {
        let tasks = sim_with(
            "[tasks.usb-sim.config]\nflash-chaos = { seed = 9, gap-ms = [50, 300], bout-ms = [1, 1] }\n",
        );
        assert_eq!(
            boot(&tasks, "usb-sim").unwrap().flash_chaos,
            Some(FlashChaos {
                seed: 9,
                gap_ms: (50, 300),
                bout_ms: (1, 1),
            })
        );
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
                "flash-chaos = 3",
                "tasks.usb-sim.config.flash-chaos: must be a table such as { seed = 1, gap-ms = [50, 300], bout-ms = [1, 20] }, not 3",
            ),
            (
                "flash-chaos = { seed = 1, gap-ms = [50, 300], bout-ms = [1, 2], often = 1 }",
                "tasks.usb-sim.config.flash-chaos: unknown key \"often\" (expected seed, gap-ms, bout-ms)",
            ),
            (
                "flash-chaos = { seed = -1, gap-ms = [50, 300], bout-ms = [1, 2] }",
                "tasks.usb-sim.config.flash-chaos.seed: must be a number from 0 to 2^32 - 1",
            ),
            (
                "flash-chaos = { seed = 1, gap-ms = [300, 50], bout-ms = [1, 2] }",
                "tasks.usb-sim.config.flash-chaos.gap-ms: must be [least, most] in ms, 1 <= least <= most",
            ),
            (
                "flash-chaos = { seed = 1, gap-ms = [50, 300], bout-ms = [0, 2] }",
                "tasks.usb-sim.config.flash-chaos.bout-ms: must be [least, most] in ms, 1 <= least <= most",
            ),
            (
                "flash-chaos = { seed = 1, gap-ms = [50, 300, 9], bout-ms = [1, 2] }",
                "tasks.usb-sim.config.flash-chaos.gap-ms: must be [least, most] in ms, 1 <= least <= most",
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
