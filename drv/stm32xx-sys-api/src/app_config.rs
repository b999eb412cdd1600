//! Build time (host): turns the `sys` task's `config` in app.toml into the constants clients
//! and `sys` itself use, so a peripheral or pin name that app.toml does not give `sys`, or
//! that the chip does not have, is a build error naming it.
//!
//! ```toml
//! [tasks.sys]
//! crate = "drv-stm32xx-sys"
//!
//! [tasks.sys.config]
//! peripherals = ["gpiob", "gpiod", "usart3"]        # names from `rcc_table.rs`
//! pins = { led-green = "PB0", usart3-tx = "PD8" }   # P<port A..K><pin 0..15>
//! # The board's USB VBUS power switch and its over-current flag: two of `pins`, with the
//! # level that switches VBUS on and the level that signals over-current. Boards differ,
//! # so both levels are required; nothing is assumed.
//! usb-vbus = { switch = "usb-vbus-en", on = "high", over-current = "usb-oc", fault = "low" }
//! # The OTG core (one of `peripherals`), its D- and D+ pins (two of `pins`) and their
//! # alternate function number (the datasheet's alternate function table); `sys` hands the
//! # pins to the core at start, and switches VBUS off whenever it pulses the core's reset.
//! usb-otg = { core = "otg2", dm = "usb-dm", dp = "usb-dp", alternate = 10 }
//! ```
//!
//! An app whose `usb-hcd` drives the real controller (crate `task-usb-hcd` with feature
//! `mmio`) must name both `usb-vbus` and `usb-otg`: the build refuses it otherwise, naming
//! the file, the task and the missing key, so no board pin is ever guessed.
//!
//! Every pin's port must be among the peripherals (sys gates its clock), and every task's
//! `supervision.reset-peripherals` must name peripherals `sys` manages and can reset. An app
//! without a `sys` task (QEMU) gets the same items, empty.

use std::fmt::Write;

use build_util::app::AppTask;
use toml::Value;

use crate::exti_table::exti_interrupt;
use crate::rcc_table::{GPIO_PORTS, RccEntry, STM32H7_PERIPHERALS};

/// The package of the `sys` task; app.toml's task with this crate is the one configured.
pub const SYS_CRATE: &str = "drv-stm32xx-sys";
/// The USB host controller driver's package, and the feature that puts it on the real
/// OTG controller (instead of the simulator).
pub const USB_HCD_CRATE: &str = "task-usb-hcd";
pub const USB_HCD_MMIO: &str = "mmio";

const PORT_LETTERS: &[u8; GPIO_PORTS] = b"ABCDEFGHIJK";

/// `sys`'s notification the VBUS switch's flag raises, and its bit; `usb-hcd`'s (feature
/// `mmio`) that `sys` posts then, and its bit. Both tasks' code uses these bits.
const SYS_OVER_CURRENT: (&str, usize) = ("usb-over-current", 1);
const HCD_OVER_CURRENT: (&str, usize) = ("over-current", 4);

/// The generated module for the app's `tasks` (validated by the builder; `file` names the
/// app in errors). `irqs` are the app's routed interrupts: (IRQ, task index, notification
/// mask).
pub fn generate(
    file: &str,
    tasks: &[AppTask],
    irqs: &[(u32, usize, u32)],
) -> Result<String, String> {
    let fail = |what: String| format!("{file}: {what}");
    let mut sys_tasks = tasks.iter().filter(|t| t.krate == SYS_CRATE);
    let usb_hcd = tasks
        .iter()
        .find(|t| t.krate == USB_HCD_CRATE && t.features.iter().any(|f| f == USB_HCD_MMIO));
    let Some(sys_task) = sys_tasks.next() else {
        if let Some(hcd) = usb_hcd {
            return Err(fail(format!(
                "tasks.{} runs {USB_HCD_CRATE} with feature {USB_HCD_MMIO} (the real OTG controller), \
                 but no task runs {SYS_CRATE} to name the board's usb-otg and usb-vbus pins",
                hcd.name
            )));
        }
        // No RCC to drive (a QEMU app, say): the client still builds, and manages nothing.
        return Ok(empty(
            &format!("{file} has no task with crate = \"{SYS_CRATE}\""),
            tasks.len(),
        ));
    };
    let sys_name = &sys_task.name;
    if let Some(other) = sys_tasks.next() {
        return Err(fail(format!(
            "tasks \"{sys_name}\" and \"{}\" both run {SYS_CRATE}; there is one sys",
            other.name
        )));
    }
    let at = format!("tasks.{sys_name}.config");
    let config = sys_task.config.clone().unwrap_or_default();
    if let Some(key) = config
        .keys()
        .find(|k| !matches!(k.as_str(), "peripherals" | "pins" | "usb-vbus" | "usb-otg"))
    {
        return Err(fail(format!(
            "{at}: unknown key \"{key}\" (expected peripherals, pins, usb-vbus, usb-otg)"
        )));
    }
    if let Some(hcd) = usb_hcd {
        for (key, what) in [
            (
                "usb-otg",
                "the OTG core's D-/D+ pins and their alternate function",
            ),
            (
                "usb-vbus",
                "the VBUS switch and over-current pins and their levels",
            ),
        ] {
            if !config.contains_key(key) {
                return Err(fail(format!(
                    "tasks.{} runs {USB_HCD_CRATE} with feature {USB_HCD_MMIO} (the real OTG \
                     controller), but {at} has no {key}: name {what} for this board \
                     (doc/usb-host.md 1.2; nothing is assumed)",
                    hcd.name
                )));
            }
        }
    }

    let mut managed: Vec<&'static RccEntry> = Vec::new();
    for name in strings(config.get("peripherals"), &format!("{at}.peripherals")).map_err(&fail)? {
        let entry = rcc_entry(&name).ok_or_else(|| {
            fail(format!(
                "{at}.peripherals: unknown peripheral \"{name}\" (STM32H7 sys knows {})",
                known_names()
            ))
        })?;
        if managed.iter().any(|m| m.name == entry.name) {
            return Err(fail(format!(
                "{at}.peripherals: \"{name}\" is listed more than once"
            )));
        }
        managed.push(entry);
    }

    let mut pins = Vec::new();
    let mut managed_pins = [0u16; GPIO_PORTS];
    if let Some(table) = config.get("pins") {
        let table = table.as_table().ok_or_else(|| {
            fail(format!(
                "{at}.pins: must be a table of name = \"P<port><pin>\""
            ))
        })?;
        for (name, pin) in table {
            check_name(name).map_err(|e| fail(format!("{at}.pins: {e}")))?;
            let text = pin.as_str().ok_or_else(|| {
                fail(format!(
                    "{at}.pins.{name}: must be a string such as \"PB0\""
                ))
            })?;
            let (port, bit) = parse_pin(text).ok_or_else(|| {
                fail(format!(
                    "{at}.pins.{name}: \"{text}\" is not a pin (P, a port A..K, a pin 0..15)"
                ))
            })?;
            let gpio = format!("gpio{}", (PORT_LETTERS[port] as char).to_ascii_lowercase());
            if !managed.iter().any(|m| m.name == gpio) {
                return Err(fail(format!(
                    "{at}.pins.{name}: {text} is on port {gpio}, which is not in {at}.peripherals"
                )));
            }
            if managed_pins[port] & (1 << bit) != 0 {
                return Err(fail(format!(
                    "{at}.pins.{name}: {text} is named more than once"
                )));
            }
            managed_pins[port] |= 1 << bit;
            pins.push((name.clone(), text.to_string(), port, bit));
        }
    }

    let usb_vbus = match config.get("usb-vbus") {
        Some(v) => {
            let vbus = usb_vbus(v, &format!("{at}.usb-vbus"), &pins).map_err(&fail)?;
            over_current_route(sys_task, usb_hcd, irqs, v, &pins).map_err(&fail)?;
            Some(vbus)
        }
        None => None,
    };

    let usb_otg = match config.get("usb-otg") {
        Some(v) => Some(usb_otg(v, &format!("{at}.usb-otg"), &managed, &pins).map_err(&fail)?),
        None => None,
    };

    let mut resets = Vec::new();
    for t in tasks {
        let at = format!("tasks.{}.supervision.reset-peripherals", t.name);
        let names = t
            .supervision
            .as_ref()
            .map_or(&[][..], |s| &s.reset_peripherals[..]);
        let mut list = Vec::new();
        for name in names {
            let entry = managed.iter().find(|m| m.name == *name).ok_or_else(|| {
                fail(format!("{at}: \"{name}\" is not in tasks.{sys_name}.config.peripherals, so sys cannot reset it"))
            })?;
            if !entry.has_reset {
                return Err(fail(format!("{at}: \"{name}\" has no RCC reset bit")));
            }
            list.push(constant_name(name));
        }
        resets.push(list);
    }

    let mut out = format!(
        "// Generated by drv-stm32xx-sys-api's build.rs from {file} ([tasks.{sys_name}.config]). Do not edit.\n\n"
    );
    out += "/// The peripherals `sys` manages, named as in app.toml.\npub mod peripherals {\n";
    for m in &managed {
        writeln!(
            out,
            "    /// `{}`\n    pub const {}: crate::Peripheral = crate::Peripheral::new(crate::Bus::{:?}, {});",
            m.name,
            constant_name(m.name),
            m.bus,
            m.bit
        )
        .expect("writing to a String");
    }
    out += "}\n\n/// The pins `sys` manages, named as in app.toml.\npub mod pins {\n";
    for (name, text, port, bit) in &pins {
        writeln!(
            out,
            "    /// `{name}` ({text})\n    pub const {}: crate::PinSet = crate::PinSet::new(crate::Port::{}, 1 << {bit});",
            constant_name(name),
            PORT_LETTERS[*port] as char
        )
        .expect("writing to a String");
    }
    out += "}\n\n";
    out += &usb_vbus_item(usb_vbus.as_deref());
    out += &usb_otg_item(usb_otg.as_deref());
    out += &managed_tables(
        &managed
            .iter()
            .map(|m| constant_name(m.name))
            .collect::<Vec<_>>(),
        &managed_pins,
        &resets,
    );
    Ok(out)
}

/// The module for a build where `sys` manages nothing (`why`), for an app of `tasks` tasks:
/// without an app (host tests) or for an app without a `sys` task.
pub fn empty(why: &str, tasks: usize) -> String {
    let mut out = format!(
        "// Generated by drv-stm32xx-sys-api's build.rs: {why}, so sys manages no peripheral and no pin.\n\n\
         /// The peripherals `sys` manages (none).\npub mod peripherals {{}}\n\n\
         /// The pins `sys` manages (none).\npub mod pins {{}}\n\n"
    );
    out += &usb_vbus_item(None);
    out += &usb_otg_item(None);
    out += &managed_tables(&[], &[0; GPIO_PORTS], &vec![Vec::new(); tasks]);
    out
}

fn managed_tables(
    peripherals: &[String],
    pins: &[u16; GPIO_PORTS],
    resets: &[Vec<String>],
) -> String {
    let list = |names: &[String]| {
        names
            .iter()
            .map(|n| format!("peripherals::{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pins: Vec<String> = pins.iter().map(|p| format!("{p:#06x}")).collect();
    let resets: Vec<String> = resets.iter().map(|r| format!("&[{}]", list(r))).collect();
    format!(
        "/// Every peripheral `sys` manages; it refuses the others.\n\
         pub const MANAGED_PERIPHERALS: &[crate::Peripheral] = &[{}];\n\n\
         /// For each GPIO port A..K, the pins `sys` manages; it refuses the others.\n\
         pub const MANAGED_PINS: [u16; {GPIO_PORTS}] = [{}];\n\n\
         /// For each task, by index, the peripherals its supervision policy pulses through\n\
         /// reset before a restart (`reset-peripherals`), in app.toml order.\n\
         pub const RESET_PERIPHERALS: &[&[crate::Peripheral]] = &[{}];\n",
        list(peripherals),
        pins.join(", "),
        resets.join(", "),
    )
}

/// `value` at `at` as a table with no keys but `keys`.
fn keyed_table<'a>(value: &'a Value, at: &str, keys: &[&str]) -> Result<&'a toml::Table, String> {
    let expected = keys.join(", ");
    let table = value
        .as_table()
        .ok_or_else(|| format!("{at}: must be a table {{ {expected} }}"))?;
    match table.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(key) => Err(format!("{at}: unknown key \"{key}\" (expected {expected})")),
        None => Ok(table),
    }
}

/// `usb-vbus` at `at`: the Rust expression of its `crate::UsbVbus`, from names in `pins`.
fn usb_vbus(
    value: &Value,
    at: &str,
    pins: &[(String, String, usize, u8)],
) -> Result<String, String> {
    let table = keyed_table(value, at, &["switch", "on", "over-current", "fault"])?;
    let text = |key: &str| {
        table
            .get(key)
            .ok_or_else(|| format!("{at}: \"{key}\" is missing (boards differ; say it)"))?
            .as_str()
            .ok_or_else(|| format!("{at}.{key}: must be a string"))
    };
    let pin = |key: &str| named_pin(text(key)?, at, key, pins);
    let level = |key: &str| -> Result<&str, String> {
        match text(key)? {
            "high" => Ok("crate::Level::High"),
            "low" => Ok("crate::Level::Low"),
            other => Err(format!(
                "{at}.{key}: \"{other}\" is not \"high\" or \"low\""
            )),
        }
    };
    let (switch, over_current) = (pin("switch")?, pin("over-current")?);
    if switch == over_current {
        return Err(format!("{at}: switch and over-current are the same pin"));
    }
    Ok(format!(
        "crate::UsbVbus {{ switch: {switch}, on: {}, over_current: {over_current}, fault: {} }}",
        level("on")?,
        level("fault")?
    ))
}

/// The VBUS switch's flag reaches `usb-hcd` through `sys` (doc/usb-host.md 1.12): `sys` maps
/// EXTI and SYSCFG, the flag's EXTI interrupt is routed to `sys`'s `usb-over-current`, and
/// `sys` may post `usb-hcd`'s `over-current`. `vbus` was checked by [`usb_vbus`].
fn over_current_route(
    sys: &AppTask,
    usb_hcd: Option<&AppTask>,
    irqs: &[(u32, usize, u32)],
    vbus: &Value,
    pins: &[(String, String, usize, u8)],
) -> Result<(), String> {
    let at = format!("tasks.{}", sys.name);
    let why = "the usb-vbus over-current flag interrupts sys (doc/usb-host.md 1.12)";
    for needed in ["exti", "syscfg"] {
        if !sys.peripherals.contains_key(needed) {
            return Err(format!("{at}.uses: \"{needed}\" is missing: {why}"));
        }
    }
    let (name, bit) = SYS_OVER_CURRENT;
    if sys.notifications.get(bit).map(String::as_str) != Some(name) {
        return Err(format!(
            "{at}.notifications: \"{name}\" must be notification {bit} (after \"reset-request\"): {why}"
        ));
    }
    let flag = vbus
        .get("over-current")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some((_, text, _, line)) = pins.iter().find(|(n, ..)| n == flag) else {
        return Err(format!(
            "{at}.config.usb-vbus.over-current: \"{flag}\" is not a pin"
        ));
    };
    let (irq, irq_name) = exti_interrupt(*line);
    if !irqs.contains(&(irq, sys.index, 1 << bit)) {
        return Err(format!(
            "{at}.interrupts: \"exti.{irq_name}\" must be routed to \"{name}\": EXTI line {line} \
             (the over-current flag {flag} on {text}) raises it"
        ));
    }
    let Some(hcd) = usb_hcd else {
        return Ok(());
    };
    let (hcd_name, hcd_bit) = HCD_OVER_CURRENT;
    if hcd.notifications.get(hcd_bit).map(String::as_str) != Some(hcd_name) {
        return Err(format!(
            "tasks.{}.notifications: \"{hcd_name}\" must be notification {hcd_bit}: sys posts it \
             when the usb-vbus over-current flag signals",
            hcd.name
        ));
    }
    let posts = sys
        .notify
        .iter()
        .any(|t| t.task == hcd.name && t.bits.iter().any(|(n, _)| n == hcd_name));
    if !posts {
        return Err(format!(
            "{at}.notify: must name {} = [\"{hcd_name}\"]: {why}",
            hcd.name
        ));
    }
    Ok(())
}

/// The expression `crate::pins::NAME` of the pin `pins` calls `name`, for `at.key`.
fn named_pin(
    name: &str,
    at: &str,
    key: &str,
    pins: &[(String, String, usize, u8)],
) -> Result<String, String> {
    if pins.iter().any(|(n, ..)| n == name) {
        Ok(format!("pins::{}", constant_name(name)))
    } else {
        Err(format!(
            "{at}.{key}: \"{name}\" is not one of the pins named in the same config's pins"
        ))
    }
}

/// `usb-otg` at `at`: the Rust expression of its `crate::UsbOtgPins`.
fn usb_otg(
    value: &Value,
    at: &str,
    managed: &[&RccEntry],
    pins: &[(String, String, usize, u8)],
) -> Result<String, String> {
    let table = keyed_table(value, at, &["core", "dm", "dp", "alternate"])?;
    let missing = |key: &str| format!("{at}: \"{key}\" is missing (boards differ; say it)");
    let pin = |key: &str| -> Result<String, String> {
        let name = table
            .get(key)
            .ok_or_else(|| missing(key))?
            .as_str()
            .ok_or_else(|| format!("{at}.{key}: must be a string"))?;
        named_pin(name, at, key, pins)
    };
    let (dm, dp) = (pin("dm")?, pin("dp")?);
    if dm == dp {
        return Err(format!("{at}: dm and dp are the same pin"));
    }
    let core = table
        .get("core")
        .ok_or_else(|| missing("core"))?
        .as_str()
        .ok_or_else(|| format!("{at}.core: must be a string"))?;
    if !matches!(core, "otg1" | "otg2") || !managed.iter().any(|m| m.name == core) {
        return Err(format!(
            "{at}.core: \"{core}\" is not otg1 or otg2 among the same config's peripherals"
        ));
    }
    let alternate = table.get("alternate").ok_or_else(|| missing("alternate"))?;
    let af = alternate
        .as_integer()
        .filter(|n| (0..16).contains(n))
        .ok_or_else(|| {
            format!("{at}.alternate: {alternate} is not an alternate function number 0..15")
        })?;
    Ok(format!(
        "crate::UsbOtgPins {{ core: peripherals::{}, dm: {dm}, dp: {dp}, alternate: crate::Alternate::Af{af} }}",
        constant_name(core)
    ))
}

fn usb_otg_item(expression: Option<&str>) -> String {
    format!(
        "/// The board's OTG D-/D+ pins and their alternate function (app.toml `usb-otg`), if it names them.\n\
         pub const USB_OTG: Option<crate::UsbOtgPins> = {};\n\n",
        expression.map_or_else(|| "None".to_string(), |e| format!("Some({e})"))
    )
}

fn usb_vbus_item(expression: Option<&str>) -> String {
    format!(
        "/// The board's USB VBUS switch and over-current flag (app.toml `usb-vbus`), if it names one.\n\
         pub const USB_VBUS: Option<crate::UsbVbus> = {};\n\n",
        expression.map_or_else(|| "None".to_string(), |e| format!("Some({e})"))
    )
}

fn strings(value: Option<&Value>, at: &str) -> Result<Vec<String>, String> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let array = value
        .as_array()
        .ok_or_else(|| format!("{at}: must be an array of strings"))?;
    array
        .iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{at}: must be an array of strings"))
        })
        .collect()
}

fn rcc_entry(name: &str) -> Option<&'static RccEntry> {
    STM32H7_PERIPHERALS.iter().find(|e| e.name == name)
}

fn known_names() -> String {
    STM32H7_PERIPHERALS
        .iter()
        .map(|e| e.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `PB14` -> (port index 1, pin 14).
fn parse_pin(text: &str) -> Option<(usize, u8)> {
    let rest = text.strip_prefix('P')?;
    let port = PORT_LETTERS
        .iter()
        .position(|&l| rest.as_bytes().first() == Some(&l))?;
    let digits = &rest[1..];
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits.len() == 1 || !digits.starts_with('0'));
    let pin: u8 = digits.parse().ok().filter(|p| canonical && *p < 16)?;
    Some((port, pin))
}

/// Pin names become Rust constants: lower-case letters, digits and `-`, starting with a letter.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "\"{name}\" is not a valid pin name ([a-z][a-z0-9-]*)"
        ))
    }
}

fn constant_name(name: &str) -> String {
    name.replace('-', "_").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = r#"
        name = "demo"
        board = "nucleo-h753zi"
        target = "thumbv7em-none-eabihf"
        [kernel]
        crate = "app-demo"
        stack-size = 1024
        [tasks.jefe]
        crate = "task-jefe"
        priority = 0
        stack-size = 1024
        notifications = ["fault", "timer"]
        [tasks.sys]
        crate = "drv-stm32xx-sys"
        priority = 1
        stack-size = 1024
        uses = ["exti", "syscfg"]
        notifications = ["reset-request", "usb-over-current"]
        interrupts = { "exti.exti0" = "usb-over-current" }
        [tasks.sys.config]
        peripherals = ["gpiob", "gpiod", "usart3"]
        pins = { led-green = "PB0", led-red = "PB14", usart3-tx = "PD8" }
        [tasks.console]
        crate = "task-console"
        priority = 2
        stack-size = 1024
        uses = ["usart3", "otg2"]
        [tasks.console.supervision]
        reset-peripherals = ["usart3"]
        [tasks.idle]
        crate = "task-idle"
        priority = 3
        stack-size = 256
    "#;

    /// The module for the app `text`, resolved by the builder's own rules.
    fn generate_text(text: &str) -> Result<String, String> {
        let app = build_util::app::parse("app.toml", text)?;
        let irqs: Vec<_> = app
            .irqs
            .iter()
            .map(|d| (d.irq, usize::from(d.task), d.notification))
            .collect();
        generate("app.toml", &app.tasks, &irqs)
    }

    fn error_of(text: &str) -> String {
        generate_text(text).expect_err("the config is invalid")
    }

    #[test]
    fn named_peripherals_and_pins_become_constants() {
        let out = generate_text(APP).unwrap();
        assert!(out.contains(
            "pub const USART3: crate::Peripheral = crate::Peripheral::new(crate::Bus::Apb1L, 18);"
        ));
        assert!(out.contains(
            "pub const GPIOB: crate::Peripheral = crate::Peripheral::new(crate::Bus::Ahb4, 1);"
        ));
        assert!(out.contains(
            "pub const LED_RED: crate::PinSet = crate::PinSet::new(crate::Port::B, 1 << 14);"
        ));
        assert!(out.contains(
            "pub const USART3_TX: crate::PinSet = crate::PinSet::new(crate::Port::D, 1 << 8);"
        ));
    }

    const VBUS: &str = "usb-vbus = { switch = \"led-red\", on = \"low\", over-current = \"led-green\", fault = \"low\" }\n        [tasks.console]";

    #[test]
    fn usb_vbus_names_two_pins_and_both_levels() {
        let out = generate_text(&APP.replace("[tasks.console]", VBUS)).unwrap();
        assert!(out.contains(
            "pub const USB_VBUS: Option<crate::UsbVbus> = Some(crate::UsbVbus { switch: pins::LED_RED, on: crate::Level::Low, over_current: pins::LED_GREEN, fault: crate::Level::Low });"
        ));
        let none = generate_text(APP).unwrap();
        assert!(none.contains("pub const USB_VBUS: Option<crate::UsbVbus> = None;"));
    }

    /// Each (from, to, expected) edit of the config line `line` is refused with an error
    /// containing `expected`.
    fn refused_edits(line: &str, edits: &[(&str, &str, &str)]) {
        for (from, to, expected) in edits {
            let e = error_of(&with_otg2(APP).replace("[tasks.console]", &line.replace(from, to)));
            assert!(e.contains(expected), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn usb_vbus_errors_name_the_key_and_value() {
        refused_edits(
            VBUS,
            &[
                (
                    "on = \"low\", ",
                    "",
                    "tasks.sys.config.usb-vbus: \"on\" is missing",
                ),
                (
                    "\"led-red\"",
                    "\"usb-en\"",
                    "tasks.sys.config.usb-vbus.switch: \"usb-en\" is not one of the pins",
                ),
                (
                    "fault = \"low\"",
                    "fault = \"1\"",
                    "usb-vbus.fault: \"1\" is not \"high\" or \"low\"",
                ),
                (
                    "\"led-green\"",
                    "\"led-red\"",
                    "switch and over-current are the same pin",
                ),
            ],
        );
    }

    /// `app` with OTG2 among sys's peripherals.
    fn with_otg2(app: &str) -> String {
        app.replace(
            "\"usart3\"]\n        pins",
            "\"usart3\", \"otg2\"]\n        pins",
        )
    }

    const OTG: &str = "usb-otg = { core = \"otg2\", dm = \"led-red\", dp = \"led-green\", alternate = 10 }\n        [tasks.console]";

    #[test]
    fn usb_otg_names_two_pins_and_their_alternate_function() {
        let out = generate_text(&with_otg2(APP).replace("[tasks.console]", OTG)).unwrap();
        assert!(out.contains(
            "pub const USB_OTG: Option<crate::UsbOtgPins> = Some(crate::UsbOtgPins { core: peripherals::OTG2, dm: pins::LED_RED, dp: pins::LED_GREEN, alternate: crate::Alternate::Af10 });"
        ));
        let none = generate_text(APP).unwrap();
        assert!(none.contains("pub const USB_OTG: Option<crate::UsbOtgPins> = None;"));
    }

    #[test]
    fn usb_otg_errors_name_the_key_and_value() {
        refused_edits(
            OTG,
            &[
                (
                    ", alternate = 10",
                    "",
                    "tasks.sys.config.usb-otg: \"alternate\" is missing",
                ),
                (
                    "10",
                    "16",
                    "usb-otg.alternate: 16 is not an alternate function number",
                ),
                (
                    "\"led-red\"",
                    "\"dm\"",
                    "tasks.sys.config.usb-otg.dm: \"dm\" is not one of the pins",
                ),
                ("\"led-green\"", "\"led-red\"", "dm and dp are the same pin"),
                (
                    "\"otg2\"",
                    "\"usart3\"",
                    "usb-otg.core: \"usart3\" is not otg1 or otg2 among",
                ),
                (
                    "\"otg2\"",
                    "\"otg1\"",
                    "usb-otg.core: \"otg1\" is not otg1 or otg2 among",
                ),
            ],
        );
    }

    /// A usb-hcd on the real controller in `app`, after its sys task.
    fn with_mmio_hcd(app: &str) -> String {
        app.replace(
            "[tasks.idle]",
            "[tasks.usb-hcd]\n        crate = \"task-usb-hcd\"\n        features = [\"mmio\"]\n        priority = 2\n        stack-size = 1024\n        notifications = [\"timer\", \"port-check\", \"client-gone\", \"otg\", \"over-current\"]\n        [tasks.idle]",
        )
        .replace(
            "= \"usb-over-current\" }\n",
            "= \"usb-over-current\" }\n        notify = { usb-hcd = [\"over-current\"] }\n",
        )
    }

    /// Both USB keys, and a board usb-hcd.
    fn board_usb_app() -> String {
        with_mmio_hcd(&with_otg2(APP).replace(
            "[tasks.console]",
            &format!(
                "{}\n        {OTG}",
                VBUS.replace("\n        [tasks.console]", "")
            ),
        ))
    }

    #[test]
    fn the_over_current_flag_must_reach_usb_hcd_through_sys() {
        generate_text(&board_usb_app()).expect("the flag's route is complete");
        for (from, to, expected) in [
            (
                "uses = [\"exti\", \"syscfg\"]\n        notifications = [\"reset-request\", \"usb-over-current\"]\n        interrupts = { \"exti.exti0\" = \"usb-over-current\" }\n",
                "uses = [\"syscfg\"]\n        notifications = [\"reset-request\", \"usb-over-current\"]\n",
                "app.toml: tasks.sys.uses: \"exti\" is missing: the usb-vbus over-current flag interrupts sys",
            ),
            ("\"syscfg\"]", "]", "tasks.sys.uses: \"syscfg\" is missing"),
            (
                "[\"reset-request\", \"usb-over-current\"]",
                "[\"usb-over-current\", \"reset-request\"]",
                "tasks.sys.notifications: \"usb-over-current\" must be notification 1",
            ),
            (
                "\"exti.exti0\"",
                "\"exti.exti9-5\"",
                "tasks.sys.interrupts: \"exti.exti0\" must be routed to \"usb-over-current\": EXTI line 0 (the over-current flag led-green on PB0)",
            ),
            (
                "\"otg\", \"over-current\"]\n",
                "\"over-current\", \"otg\"]\n",
                "tasks.usb-hcd.notifications: \"over-current\" must be notification 4",
            ),
            (
                "        notify = { usb-hcd = [\"over-current\"] }\n",
                "",
                "tasks.sys.notify: must name usb-hcd = [\"over-current\"]",
            ),
        ] {
            let app = board_usb_app();
            assert!(app.contains(from), "{from}");
            let e = error_of(&app.replace(from, to));
            assert!(e.contains(expected), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn a_board_usb_hcd_needs_both_usb_keys_and_the_error_names_file_task_and_key() {
        generate_text(&board_usb_app()).expect("both keys named");
        let e = error_of(&with_mmio_hcd(&APP.replace("[tasks.console]", VBUS)));
        assert!(
            e.starts_with("app.toml: tasks.usb-hcd runs task-usb-hcd with feature mmio")
                && e.contains("tasks.sys.config has no usb-otg"),
            "{e}"
        );
        let e = error_of(&with_mmio_hcd(
            &with_otg2(APP).replace("[tasks.console]", OTG),
        ));
        assert!(e.contains("tasks.sys.config has no usb-vbus"), "{e}");
        // The simulator's usb-hcd (no mmio) needs neither.
        generate_text(&with_mmio_hcd(APP).replace("[\"mmio\"]", "[\"sim\"]")).unwrap();
        // Without sys at all, the board usb-hcd is refused too.
        let e = error_of(&with_mmio_hcd(
            &APP.replace("crate = \"drv-stm32xx-sys\"", "crate = \"task-other\""),
        ));
        assert!(
            e.contains("tasks.usb-hcd runs task-usb-hcd with feature mmio")
                && e.contains("no task runs drv-stm32xx-sys"),
            "{e}"
        );
    }

    #[test]
    fn managed_pins_are_one_mask_per_port() {
        let out = generate_text(APP).unwrap();
        // Port B: pins 0 and 14; port D: pin 8.
        assert!(out.contains(
            "pub const MANAGED_PINS: [u16; 11] = [0x0000, 0x4001, 0x0000, 0x0100, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000, 0x0000];"
        ));
    }

    #[test]
    fn reset_peripherals_are_listed_per_task_index() {
        let out = generate_text(APP).unwrap();
        assert!(
            out.contains("pub const RESET_PERIPHERALS: &[&[crate::Peripheral]] = &[&[], &[], &[peripherals::USART3], &[]];")
        );
    }

    #[test]
    fn an_unknown_peripheral_is_named_in_the_error() {
        let e = error_of(&APP.replace("\"usart3\"]\n        pins", "\"usart9\"]\n        pins"));
        assert!(
            e.starts_with("app.toml: tasks.sys.config.peripherals: unknown peripheral \"usart9\""),
            "{e}"
        );
    }

    #[test]
    fn a_pin_on_an_unmanaged_port_is_refused() {
        let e = error_of(&APP.replace("\"PB14\"", "\"PE1\""));
        assert!(
            e.contains("tasks.sys.config.pins.led-red: PE1 is on port gpioe"),
            "{e}"
        );
    }

    #[test]
    fn malformed_pins_are_refused() {
        for bad in ["PB16", "PZ1", "B1", "P", "PB", "PB+1", "PB01", "pb1"] {
            let e = error_of(&APP.replace("\"PB14\"", &format!("\"{bad}\"")));
            assert!(e.contains(&format!("\"{bad}\" is not a pin")), "{bad}: {e}");
        }
    }

    #[test]
    fn a_reset_peripheral_sys_does_not_manage_is_refused() {
        let e = error_of(&APP.replace(
            "reset-peripherals = [\"usart3\"]",
            "reset-peripherals = [\"otg2\"]",
        ));
        assert!(
            e.contains("tasks.console.supervision.reset-peripherals: \"otg2\" is not in tasks.sys.config.peripherals"),
            "{e}"
        );
    }

    #[test]
    fn an_app_without_sys_manages_nothing_but_keeps_one_reset_list_per_task() {
        let out =
            generate_text(&APP.replace("crate = \"drv-stm32xx-sys\"", "crate = \"task-other\""))
                .unwrap();
        assert!(out.contains("app.toml has no task with crate = \"drv-stm32xx-sys\""));
        assert!(out.contains("pub const MANAGED_PERIPHERALS: &[crate::Peripheral] = &[];"));
        assert!(out.contains("pub mod pins {}"));
        assert!(out.contains(
            "pub const RESET_PERIPHERALS: &[&[crate::Peripheral]] = &[&[], &[], &[], &[]];"
        ));
    }

    #[test]
    fn two_sys_tasks_are_refused() {
        let e = error_of(&APP.replace("crate = \"task-jefe\"", "crate = \"drv-stm32xx-sys\""));
        assert!(
            e.contains("tasks \"jefe\" and \"sys\" both run drv-stm32xx-sys"),
            "{e}"
        );
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let e = error_of(&APP.replace("pins = {", "pinz = {"));
        assert!(e.contains("tasks.sys.config: unknown key \"pinz\""), "{e}");
    }
}
