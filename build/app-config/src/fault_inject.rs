//! `[kernel.fault-inject]`: the fault-injection plan of a campaign image
//! (`doc/fault-campaign.md`). The kernel feature it drives exists for QEMU campaign images
//! only: its report channel is semihosting, and a board must never carry an injector, so a
//! plan on a board QEMU does not emulate is refused here, and `dist` refuses a kernel built
//! with the feature but without a plan (`check_kernel_feature`).

use indexmap::IndexMap;
use serde::Deserialize;

use super::error::Blame;
use super::{Board, ConfigError, Problem, Task};

/// The kinds of fault, as the kernel numbers them (`kern::inject::Kind`).
pub const KINDS: [&str; 6] = ["register", "ram", "panic", "stop", "code", "delay"];
/// The kernel's name for the feature.
pub const FEATURE: &str = "fault-inject";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct FaultInjectEntry {
    /// Task name to the kinds of fault it may take.
    targets: IndexMap<String, Vec<String>>,
    /// The task whose replies are the workload's progress.
    progress: String,
    #[serde(default = "default_faults")]
    faults: u32,
    #[serde(default = "default_gap")]
    gap_ms: [u32; 2],
    #[serde(default = "default_latent")]
    latent_ms: u32,
    /// How long a `delay` holds a reply: required when a target takes `delay`.
    #[serde(default)]
    delay_ms: Option<[u32; 2]>,
    #[serde(default = "default_recover")]
    recover_ms: u32,
    #[serde(default = "default_hang")]
    hang_ms: u32,
    /// How long the workload runs after the last fault before the boot's verdict.
    #[serde(default = "default_settle")]
    settle_ms: u32,
    /// Admits the supervisor as a target: a run that shows `on-supervisor-fault` at work.
    #[serde(default)]
    supervisor_run: bool,
}

fn default_faults() -> u32 {
    200
}
fn default_gap() -> [u32; 2] {
    [1, 5]
}
fn default_latent() -> u32 {
    20
}
fn default_recover() -> u32 {
    500
}
fn default_hang() -> u32 {
    500
}
fn default_settle() -> u32 {
    100
}

/// The plan, resolved to task indices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultInject {
    /// (task index, bit mask of `KINDS`).
    pub targets: Vec<(usize, u16)>,
    pub progress: usize,
    pub faults: u32,
    pub gap_ms: [u32; 2],
    pub latent_ms: u32,
    /// How long a `stop` may take to be caught: twice the longest `watchdog-ms` of a target
    /// that takes stops (jefe notices a miss on its next wake-up after the period), plus
    /// `latent-ms`.
    pub stop_latent_ms: u32,
    /// `[0, 0]` when no target takes `delay`.
    pub delay_ms: [u32; 2],
    pub recover_ms: u32,
    pub hang_ms: u32,
    pub settle_ms: u32,
    pub supervisor_run: bool,
}

impl FaultInject {
    /// The generated `BULKHEAD_FAULT_PLAN` (`kern::inject::Plan`).
    pub fn kernel_source(&self) -> String {
        let targets: Vec<String> = self
            .targets
            .iter()
            .map(|(index, kinds)| {
                format!("kern::inject::Target {{ index: {index}, kinds: {kinds:#x} }}")
            })
            .collect();
        format!(
            "#[unsafe(no_mangle)]\n\
             pub static BULKHEAD_FAULT_PLAN: kern::inject::Plan = kern::inject::Plan {{\n    \
             targets: &[{targets}],\n    faults: {faults},\n    min_gap_ms: {min},\n    \
             max_gap_ms: {max},\n    latent_ms: {latent},\n    stop_latent_ms: {stop_latent},\n    \
             min_delay_ms: {min_delay},\n    max_delay_ms: {max_delay},\n    recover_ms: {recover},\n    \
             hang_ms: {hang},\n    settle_ms: {settle},\n    progress: {progress},\n    supervisor_run: {supervisor_run},\n}};\n",
            targets = targets.join(", "),
            faults = self.faults,
            min = self.gap_ms[0],
            max = self.gap_ms[1],
            latent = self.latent_ms,
            stop_latent = self.stop_latent_ms,
            min_delay = self.delay_ms[0],
            max_delay = self.delay_ms[1],
            recover = self.recover_ms,
            hang = self.hang_ms,
            settle = self.settle_ms,
            progress = self.progress,
            supervisor_run = self.supervisor_run,
        )
    }
}

fn refusal(doc: Blame<'_>, key: &str, message: String) -> ConfigError {
    doc.error(
        &format!("kernel.fault-inject{key}"),
        Problem::FaultInject(message),
    )
}

/// Checked before anything else of the app, so that a board image is refused for what it
/// is rather than for a task the plan names.
pub(super) fn check_board(
    doc: Blame<'_>,
    app_name: &str,
    board: &Board,
) -> Result<(), ConfigError> {
    match board.qemu_machine {
        Some(_) => Ok(()),
        None => Err(refusal(
            doc,
            "",
            format!(
                "app \"{app_name}\": kernel feature \"{FEATURE}\" is for QEMU campaign images only, \
                 and board \"{}\" is real hardware",
                board.name
            ),
        )),
    }
}

/// Resolves the plan against the app's tasks (supervision already resolved).
pub(super) fn resolve(
    doc: Blame<'_>,
    entry: &FaultInjectEntry,
    tasks: &[Task],
) -> Result<FaultInject, ConfigError> {
    let refuse = |k: &str, message: String| refusal(doc, k, message);
    let find = |k: &str, name: &str| {
        tasks
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| refuse(k, format!("unknown task \"{name}\"")))
    };
    if entry.targets.is_empty() {
        return Err(refuse(".targets", "names no task".into()));
    }
    let progress_task = find(".progress", &entry.progress)?;
    let progress = progress_task.index;
    // A server that holds the workload's call without faulting is caught by its reply
    // deadline; the boot's verdict must not come before that deadline could.
    if let Some(server) = progress_task
        .task_slots
        .iter()
        .filter_map(|slot| tasks.iter().find(|t| &t.name == slot))
        .max_by_key(|t| t.reply_deadline_ms)
        && entry.settle_ms <= server.reply_deadline_ms
    {
        return Err(refuse(
            ".settle-ms",
            format!(
                "{} ms must be longer than the reply deadline of \"{}\" ({} ms), which \"{}\" \
                 calls: a server holding the workload's call is caught only by that deadline",
                entry.settle_ms, server.name, server.reply_deadline_ms, entry.progress
            ),
        ));
    }
    let mut targets = Vec::new();
    let mut longest_watchdog = 0;
    for (name, kinds) in &entry.targets {
        let at = format!(".targets.{name}");
        let task = find(&at, name)?;
        if task.index == 0 && !entry.supervisor_run {
            return Err(refuse(
                &at,
                format!(
                    "\"{name}\" is the supervisor; a campaign injects into drivers \
                     (a run meant to fault the supervisor says `supervisor-run = true`)"
                ),
            ));
        }
        // Nothing watches the supervisor's check-ins; only the hardware watchdog it feeds
        // (`[tasks.jefe.config] watchdog-ms`) can catch it spinning, by resetting the system.
        let hardware_watchdog = (task.index == 0)
            .then(|| task.config.as_ref()?.get("watchdog-ms")?.as_integer())
            .flatten()
            .and_then(|ms| u32::try_from(ms).ok());
        if task.index == 0 && kinds.iter().any(|k| k == "stop") {
            let Some(ms) = hardware_watchdog else {
                return Err(refuse(
                    &at,
                    format!(
                        "\"{name}\" is the supervisor, which no watchdog catches: no \"stop\" \
                         without a hardware watchdog ([tasks.{name}.config] watchdog-ms)"
                    ),
                ));
            };
            longest_watchdog = longest_watchdog.max(ms);
        }
        if task.index == progress {
            return Err(refuse(
                &at,
                format!("\"{name}\" is the progress task, whose oracle must stay sound"),
            ));
        }
        if kinds.is_empty() {
            return Err(refuse(&at, "names no kind of fault".into()));
        }
        let mut mask = 0u16;
        for kind in kinds {
            let bit = KINDS.iter().position(|k| k == kind).ok_or_else(|| {
                refuse(
                    &at,
                    format!("unknown kind \"{kind}\" (one of {})", KINDS.join(", ")),
                )
            })?;
            let watchdog = task.supervision.as_ref().and_then(|s| s.watchdog_ms);
            if kind == "stop" {
                longest_watchdog = longest_watchdog.max(watchdog.unwrap_or(0));
            }
            if kind == "stop" && watchdog.is_none() && task.index != 0 {
                return Err(refuse(
                    &at,
                    format!(
                        "\"stop\" needs a watchdog: task \"{name}\" has no supervision.watchdog-ms, \
                         so nothing would catch it"
                    ),
                ));
            }
            mask |= 1 << bit;
        }
        // A flip can leave a task spinning in a loop of its own. A caller waiting on it has a
        // reply deadline to end that, but a spin between calls (or in a task nobody calls)
        // starves every task below it for the rest of the boot, and only a watchdog sees it:
        // its own, or that of a less important task, whose starvation jefe lays at the door
        // of the task that held the CPU (`supervision`'s "Starvation"). The campaign found
        // both: `pong` and `usb-hub` looping between calls.
        let watched = |t: &Task| {
            t.supervision
                .as_ref()
                .is_some_and(|s| s.watchdog_ms.is_some())
        };
        let can_spin = kinds.iter().any(|k| k != "panic");
        let watched_below = tasks
            .iter()
            .any(|t| t.priority > task.priority && watched(t));
        if task.index != 0 && can_spin && !watched(task) && !watched_below {
            return Err(refuse(
                &at,
                format!(
                    "\"{name}\" may spin after a flip, and between calls no reply deadline \
                     catches it: it needs supervision.watchdog-ms, or a less important task \
                     that has one (jefe blames that task's starvation on it), or only \
                     \"panic\" faults"
                ),
            ));
        }
        targets.push((task.index, mask));
    }
    let delays = entry.targets.values().flatten().any(|k| k == "delay");
    let delay_ms = match (entry.delay_ms, delays) {
        (None, true) => {
            return Err(refuse(
                ".delay-ms",
                "a target takes \"delay\", so the plan needs `delay-ms = [min, max]`: how long a reply is held".into(),
            ));
        }
        (Some([min, max]), _) if min == 0 || min > max => {
            return Err(refuse(
                ".delay-ms",
                format!("[{min}, {max}] must be 1 ms or more, the first at most the second"),
            ));
        }
        (Some(range), true) => range,
        (Some(_), false) => {
            return Err(refuse(
                ".delay-ms",
                "no target takes \"delay\", so nothing would use it".into(),
            ));
        }
        (None, false) => [0, 0],
    };
    let [min, max] = entry.gap_ms;
    if min == 0 || min > max {
        return Err(refuse(
            ".gap-ms",
            format!("[{min}, {max}] must be 1 ms or more, the first at most the second"),
        ));
    }
    for (k, v) in [
        (".latent-ms", entry.latent_ms),
        (".recover-ms", entry.recover_ms),
        (".hang-ms", entry.hang_ms),
        (".settle-ms", entry.settle_ms),
        (".faults", entry.faults),
    ] {
        if v == 0 {
            return Err(refuse(k, "must be at least 1".into()));
        }
    }
    Ok(FaultInject {
        targets,
        progress,
        faults: entry.faults,
        gap_ms: entry.gap_ms,
        latent_ms: entry.latent_ms,
        stop_latent_ms: 2 * longest_watchdog + entry.latent_ms,
        delay_ms,
        recover_ms: entry.recover_ms,
        hang_ms: entry.hang_ms,
        settle_ms: entry.settle_ms,
        supervisor_run: entry.supervisor_run,
    })
}

#[cfg(test)]
mod tests {
    use crate::app_tests::{BASE, load};

    const PLAN: &str = "[kernel.fault-inject]\n\
        targets = { console = [\"stop\", \"ram\"], sys = [\"register\", \"panic\"] }\n\
        progress = \"idle\"\nlatent-ms = 7\n\n[tasks.jefe]";

    fn with_plan(plan: &str) -> String {
        BASE.replacen("[tasks.jefe]", plan, 1)
    }

    #[test]
    fn a_plan_resolves_to_task_indices_and_kind_bits() {
        let app = load(&with_plan(PLAN)).expect("a valid plan");
        let plan = app.kernel.fault_inject.expect("the plan");
        // console (index 2): stop (bit 3) and ram (bit 1); sys (index 1): register, panic.
        assert_eq!(plan.targets, vec![(2, 0b1010), (1, 0b0101)]);
        assert_eq!(plan.progress, 3);
        // console's watchdog-ms is 500: a stop may take two periods to be caught.
        assert_eq!(plan.stop_latent_ms, 2 * 500 + 7);
        assert!(plan.kernel_source().contains("BULKHEAD_FAULT_PLAN"));
    }

    #[test]
    fn a_board_image_is_refused_naming_the_app_and_the_feature() {
        let text = with_plan(PLAN).replace("mps2-an500", "nucleo-h753zi");
        let e = load(&text).expect_err("no injector on a board");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: kernel.fault-inject: app \"demo\": kernel feature \"fault-inject\" \
             is for QEMU campaign images only, and board \"nucleo-h753zi\" is real hardware"
        );
    }

    #[test]
    fn a_stop_needs_a_watchdog_to_catch_it() {
        let e = load(&with_plan(
            &PLAN.replace("\"register\", \"panic\"", "\"stop\""),
        ))
        .expect_err("sys has no watchdog");
        assert_eq!(e.key, "kernel.fault-inject.targets.sys");
        assert!(e.to_string().contains("no supervision.watchdog-ms"), "{e}");
    }

    #[test]
    fn a_target_that_may_spin_needs_a_watchdog_or_a_watched_task_below_it() {
        // idle has no watchdog and nothing below it (campaign-usb's usb-hub was such a
        // target: a code flip made it loop, and the workload below it starved).
        let plan = PLAN.replace("progress = \"idle\"", "progress = \"console\"");
        let plan = plan.replace("console = [\"stop\", \"ram\"]", "idle = [\"code\"]");
        let e = load(&with_plan(&plan)).expect_err("idle could spin unseen");
        assert_eq!(e.key, "kernel.fault-inject.targets.idle");
        assert!(
            e.to_string().contains("needs supervision.watchdog-ms"),
            "{e}"
        );
        let panics = plan.replace("idle = [\"code\"]", "idle = [\"panic\"]");
        load(&with_plan(&panics)).expect("a panic is always caught");

        // `sys` is called by `console`, but may spin between its calls (the campaign's
        // `pong` did, and starved the workload): `console`, below it, is watched, and its
        // starvation would be laid at `sys`'s door. Without that watchdog nothing sees it.
        let sys_only = PLAN.replace("console = [\"stop\", \"ram\"], ", "");
        load(&with_plan(&sys_only)).expect("console's watchdog watches over sys");
        let unwatched = with_plan(&sys_only).replace("watchdog-ms = 500\n", "");
        let e = load(&unwatched).expect_err("nothing below sys is watched");
        assert_eq!(e.key, "kernel.fault-inject.targets.sys");
        assert!(
            e.to_string().contains("a less important task that has one"),
            "{e}"
        );
    }

    #[test]
    fn the_supervisor_is_a_target_only_in_a_supervisor_run_and_stopped_only_with_a_hardware_watchdog()
     {
        let with_jefe = PLAN.replace("sys = [", "jefe = [");
        let run = with_jefe.replace("latent-ms = 7", "latent-ms = 7\nsupervisor-run = true");
        let plan = load(&with_plan(&run))
            .expect("admitted in a supervisor run")
            .kernel
            .fault_inject
            .expect("the plan");
        assert!(plan.supervisor_run && plan.targets.contains(&(0, 0b0101)));
        assert!(plan.kernel_source().contains("supervisor_run: true"));
        let e = load(&with_plan(
            &run.replace("\"register\", \"panic\"", "\"stop\""),
        ))
        .expect_err("nothing catches a stopped supervisor");
        assert_eq!(e.key, "kernel.fault-inject.targets.jefe");
        assert!(e.to_string().contains("no watchdog catches"), "{e}");
        // With its hardware watchdog, a stopped supervisor is caught by a reset.
        let watched = with_plan(&run.replace("\"register\", \"panic\"", "\"stop\"")).replacen(
            "[tasks.jefe]",
            "[tasks.jefe]\nconfig = { watchdog-ms = 150 }",
            1,
        );
        let plan = load(&watched)
            .expect("a supervisor with a hardware watchdog may be stopped")
            .kernel
            .fault_inject
            .expect("the plan");
        assert_eq!(
            plan.stop_latent_ms,
            2 * 500 + 7,
            "console's 500 ms is the longest"
        );
    }

    #[test]
    fn targets_are_drivers_with_known_kinds() {
        for (edit, key, says) in [
            ("sys = [", "jefe = [", "is the supervisor"),
            ("sys = [", "idle = [", "is the progress task"),
            ("sys = [", "nosuch = [", "unknown task \"nosuch\""),
            ("\"panic\"", "\"melt\"", "unknown kind \"melt\""),
        ] {
            let e = load(&with_plan(&PLAN.replace(edit, key))).expect_err(key);
            assert!(e.to_string().contains(says), "{key}: {e}");
        }
        let e = load(&with_plan(
            &PLAN.replace("latent-ms = 7", "gap-ms = [3, 2]"),
        ))
        .expect_err("inverted gap");
        assert_eq!(e.key, "kernel.fault-inject.gap-ms");
    }

    #[test]
    fn the_verdict_waits_for_the_deadlines_that_guard_the_workload() {
        // The progress task calls sys, whose reply deadline is 300 ms.
        let plan = PLAN
            .replace("console = [\"stop\", \"ram\"], ", "")
            .replace("progress = \"idle\"", "progress = \"console\"");
        let base =
            with_plan(&plan).replacen("[tasks.sys]\n", "[tasks.sys]\nreply-deadline-ms = 300\n", 1);
        let e = load(&base).expect_err("100 ms is shorter than sys's deadline");
        assert_eq!(e.key, "kernel.fault-inject.settle-ms");
        assert!(
            e.to_string().contains("reply deadline of \"sys\" (300 ms)"),
            "{e}"
        );
        let plan = load(&base.replace("latent-ms = 7", "latent-ms = 7\nsettle-ms = 301"))
            .expect("a settling longer than the deadline")
            .kernel
            .fault_inject
            .expect("the plan");
        assert!(plan.kernel_source().contains("settle_ms: 301,"));
    }

    #[test]
    fn a_delay_needs_its_range_and_the_range_a_delay() {
        let delayed = PLAN.replace("\"register\", \"panic\"", "\"delay\"");
        let with_range = delayed.replace("latent-ms = 7", "latent-ms = 7\ndelay-ms = [2, 9]");
        let plan = load(&with_plan(&with_range))
            .expect("a delay with its range")
            .kernel
            .fault_inject
            .expect("the plan");
        // delay is bit 5.
        assert!(plan.targets.contains(&(1, 1 << 5)));
        assert!(
            plan.kernel_source()
                .contains("min_delay_ms: 2,\n    max_delay_ms: 9,")
        );
        for (text, says) in [
            (delayed.clone(), "needs `delay-ms"),
            (
                with_range.replace("[2, 9]", "[0, 9]"),
                "must be 1 ms or more",
            ),
            (
                with_range.replace("[2, 9]", "[9, 2]"),
                "the first at most the second",
            ),
            (
                PLAN.replace("latent-ms = 7", "latent-ms = 7\ndelay-ms = [2, 9]"),
                "nothing would use it",
            ),
        ] {
            let e = load(&with_plan(&text)).expect_err(says);
            assert_eq!(e.key, "kernel.fault-inject.delay-ms");
            assert!(e.to_string().contains(says), "{e}");
        }
    }
}
