//! The `app.toml` schema and its resolution into an [`App`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use abi::{IrqDesc, Kipcnum, TaskFlags};
use indexmap::IndexMap;
use serde::Deserialize;

use super::error::Blame;
use super::supervision::{self, Supervision, SupervisionEntry};
use super::{
    App, Board, Chip, ConfigError, Kernel, NotifyTarget, Peripheral, Problem, SupervisorFault,
    Task, check_name, source,
};

/// Send masks and notification words are 32 bits wide.
const MAX_TASKS: usize = 32;
const MAX_NOTIFICATIONS: usize = 32;
/// humility names the kernel object `kernel` and treats a task named `hiffy` as its agent.
const RESERVED_TASK_NAMES: [&str; 2] = ["kernel", "hiffy"];
/// The only target: every task runs with the FP exception frame, and humility infers that
/// from this `target`.
pub const TARGET: &str = "thumbv7em-none-eabihf";
/// Kernel RAM when `[kernel] ram` is not given.
const DEFAULT_KERNEL_RAM: u32 = 8192;
/// Each task's own flash and RAM regions; the rest of its MPU slots are for peripherals.
const OWN_REGIONS: usize = 2;
const SUPERVISOR_FAULT_NOTIFICATION: &str = "fault";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AppFile {
    name: String,
    board: String,
    target: String,
    kernel: KernelEntry,
    tasks: IndexMap<String, TaskEntry>,
    #[serde(default)]
    expected_tests: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct KernelEntry {
    #[serde(rename = "crate")]
    krate: String,
    stack_size: u32,
    #[serde(default = "default_kernel_ram")]
    ram: u32,
    #[serde(default = "default_ram_memory")]
    ram_memory: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    on_supervisor_fault: SupervisorFault,
    #[serde(default)]
    on_kernel_failure: SupervisorFault,
    fault_inject: Option<super::fault_inject::FaultInjectEntry>,
}

fn default_kernel_ram() -> u32 {
    DEFAULT_KERNEL_RAM
}

fn default_ram_memory() -> String {
    "ram".into()
}

/// A `ram-memory` at `key`: a memory of `chip` other than flash, of at least `at_least`
/// bytes.
fn check_ram_memory(
    doc: Blame<'_>,
    key: &str,
    name: &str,
    chip: &Chip,
    at_least: u32,
) -> Result<(), ConfigError> {
    let problem = |why| {
        doc.error(
            key,
            Problem::RamMemory {
                name: name.to_string(),
                why,
            },
        )
    };
    match chip.memory(name) {
        _ if name == "flash" => Err(problem("is flash, not RAM")),
        None => Err(problem("is no memory of the board's chip")),
        Some(m) if m.size < at_least => Err(problem("is smaller than kernel.ram")),
        Some(_) => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TaskEntry {
    #[serde(rename = "crate")]
    krate: String,
    priority: u8,
    #[serde(default = "start_by_default")]
    start: bool,
    stack_size: u32,
    #[serde(default = "fill_stack_by_default")]
    stack_fill: bool,
    #[serde(default = "default_ram_memory")]
    ram_memory: String,
    #[serde(default)]
    max_sizes: MaxSizes,
    #[serde(default)]
    uses: Vec<String>,
    #[serde(default)]
    interrupts: IndexMap<String, String>,
    #[serde(default)]
    notifications: Vec<String>,
    /// One of `notifications`, posted by the kernel when a client of this task is detached.
    client_gone: Option<String>,
    /// How long a client may wait for this task's reply before the kernel faults this task.
    reply_deadline_ms: Option<u32>,
    /// What a server's REPLY_FAULT does to this task.
    #[serde(default)]
    on_reply_fault: OnReplyFault,
    #[serde(default)]
    task_slots: Vec<String>,
    #[serde(default)]
    notify: IndexMap<String, Vec<String>>,
    #[serde(default)]
    kipc: Option<Vec<String>>,
    config: Option<toml::Table>,
    #[serde(default)]
    features: Vec<String>,
    supervision: Option<SupervisionEntry>,
    #[serde(default)]
    restart_test: super::RestartExpectations,
}

/// `on-reply-fault`: whether a server may fault this task (the default, as in Hubris), or
/// only end its call with an error code.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum OnReplyFault {
    #[default]
    Fault,
    Error,
}

/// The kernel records a wait's start in 16 bits of the tick (`Task::reply_since`).
pub const MAX_REPLY_DEADLINE_MS: u32 = (1 << 15) - 1;

fn start_by_default() -> bool {
    true
}

fn fill_stack_by_default() -> bool {
    true
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxSizes {
    flash: Option<u32>,
    ram: Option<u32>,
}

/// Parses and validates `text`, the contents of `file`, against the boards and chips under
/// `build_dir`; every `crate` must be one of `packages`.
pub(super) fn resolve(
    file: &Path,
    text: String,
    build_dir: &Path,
    packages: &BTreeSet<String>,
) -> Result<App, ConfigError> {
    resolve_with(file, text, build_dir, &|krate| packages.contains(krate))
}

/// [`resolve`] with `is_package` deciding whether a `crate` exists.
pub(super) fn resolve_with(
    file: &Path,
    text: String,
    build_dir: &Path,
    is_package: &dyn Fn(&str) -> bool,
) -> Result<App, ConfigError> {
    let mut raw: AppFile = source::parse(file, &text)?;
    let doc = Blame { file, task: None };
    if raw.target != TARGET {
        return Err(doc.error("target", Problem::UnsupportedTarget(raw.target)));
    }
    check_name(&raw.name).map_err(|p| doc.error("name", p))?;
    let board = Board::load(build_dir, &raw.board, file)?;
    if raw.kernel.fault_inject.is_some() {
        super::fault_inject::check_board(doc, &raw.name, &board)?;
    }
    let fault_inject_entry = raw.kernel.fault_inject.take();
    let mut kernel = resolve_kernel(doc, raw.kernel, &board, is_package)?;
    if raw.tasks.len() > MAX_TASKS {
        return Err(doc.error(
            "tasks",
            Problem::TooManyTasks {
                count: raw.tasks.len(),
            },
        ));
    }
    let names: Vec<&str> = raw.tasks.keys().map(String::as_str).collect();

    let mut tasks = Vec::with_capacity(raw.tasks.len());
    let mut irqs: BTreeMap<u32, IrqDesc> = BTreeMap::new();
    let mut peripheral_owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (index, (name, entry)) in raw.tasks.iter().enumerate() {
        let at = doc.task(name);
        check_task_name(name).map_err(|p| at.error("", p))?;
        if !is_package(&entry.krate) {
            return Err(at.error("crate", Problem::MissingCrate(entry.krate.clone())));
        }
        check_stack(entry.stack_size).map_err(|p| at.error("stack-size", p))?;
        if let Some(budget) = entry.max_sizes.ram
            && budget < entry.stack_size
        {
            return Err(at.error(
                "max-sizes.ram",
                Problem::BudgetBelowStack {
                    budget,
                    stack: entry.stack_size,
                },
            ));
        }
        check_notifications(index, &entry.notifications)
            .map_err(|p| at.error("notifications", p))?;

        let client_gone = client_gone_bit(index, entry).map_err(|p| at.error("client-gone", p))?;
        match (index, entry.reply_deadline_ms) {
            (_, Some(0)) => return Err(at.error("reply-deadline-ms", Problem::ZeroDuration)),
            (0, Some(_)) => {
                return Err(at.error("reply-deadline-ms", Problem::SupervisorReplyDeadline));
            }
            (_, Some(ms)) if ms > MAX_REPLY_DEADLINE_MS => {
                return Err(at.error("reply-deadline-ms", Problem::ReplyDeadlineTooLong(ms)));
            }
            _ => {}
        }

        check_ram_memory(at, "ram-memory", &entry.ram_memory, &board.chip, 0)?;
        let peripherals = resolve_peripherals(at, name, entry, &board.chip, &mut peripheral_owner)?;
        route_interrupts(at, index, entry, &board.chip, &names, &mut irqs)?;

        let mut flags = 0;
        if entry.start {
            flags |= TaskFlags::START_AT_BOOT;
        }
        if entry.on_reply_fault == OnReplyFault::Error {
            flags |= TaskFlags::REPLY_FAULT_AS_ERROR;
        }
        let kipc_grants =
            resolve_kipc(index, entry.kipc.as_deref()).map_err(|p| at.error("kipc", p))?;
        tasks.push(Task {
            name: name.clone(),
            index,
            krate: entry.krate.clone(),
            priority: entry.priority,
            flags: TaskFlags(flags),
            kipc_grants,
            stack_size: entry.stack_size,
            stack_fill: entry.stack_fill,
            max_flash: entry.max_sizes.flash,
            max_ram: entry.max_sizes.ram,
            ram_memory: entry.ram_memory.clone(),
            peripherals,
            notifications: entry.notifications.clone(),
            task_slots: entry.task_slots.clone(),
            send_targets: 0,
            notify: Vec::new(),
            notify_targets: 0,
            client_gone,
            client_gone_targets: 0,
            reply_deadline_ms: entry.reply_deadline_ms.unwrap_or(0),
            config: entry.config.clone(),
            features: entry.features.clone(),
            supervision: None,
            restart_test: check_restart_test(at, &entry.restart_test)?,
        });
    }

    check_priorities(doc, &tasks)?;
    for task in &mut tasks {
        let at = doc.task(&task.name);
        task.send_targets = send_targets(at, task, &raw.tasks, &names)?;
        task.notify = notify_targets(at, task.index, &raw.tasks[task.index].notify, &raw.tasks)?;
        task.notify_targets = task.notify.iter().fold(0, |mask, t| mask | 1 << t.index);
    }
    let declaring = tasks
        .iter()
        .filter(|t| t.client_gone != 0)
        .fold(0u32, |mask, t| mask | 1 << t.index);
    for task in &mut tasks {
        task.client_gone_targets = task.send_targets & declaring;
    }
    resolve_supervision(doc, &raw.tasks, &names, &mut tasks)?;
    if let Some(entry) = &fault_inject_entry {
        kernel.fault_inject = Some(super::fault_inject::resolve(doc, entry, &tasks)?);
    }
    for test in &raw.expected_tests {
        check_name(test).map_err(|p| doc.error("expected-tests", p))?;
    }
    check_unique(&raw.expected_tests).map_err(|p| doc.error("expected-tests", p))?;

    Ok(App {
        file: file.to_owned(),
        name: raw.name,
        board,
        kernel,
        tasks,
        irqs: irqs.into_values().collect(),
        expected_tests: raw.expected_tests,
        text,
    })
}

fn resolve_kernel(
    doc: Blame<'_>,
    raw: KernelEntry,
    board: &Board,
    is_package: &dyn Fn(&str) -> bool,
) -> Result<Kernel, ConfigError> {
    if !is_package(&raw.krate) {
        return Err(doc.error("kernel.crate", Problem::MissingCrate(raw.krate)));
    }
    check_stack(raw.stack_size).map_err(|p| doc.error("kernel.stack-size", p))?;
    if raw.ram < raw.stack_size {
        return Err(doc.error(
            "kernel.ram",
            Problem::BudgetBelowStack {
                budget: raw.ram,
                stack: raw.stack_size,
            },
        ));
    }
    check_ram_memory(
        doc,
        "kernel.ram-memory",
        &raw.ram_memory,
        &board.chip,
        raw.ram,
    )?;
    Ok(Kernel {
        krate: raw.krate,
        stack_size: raw.stack_size,
        ram: raw.ram,
        ram_memory: raw.ram_memory,
        features: raw.features,
        on_supervisor_fault: raw.on_supervisor_fault,
        on_kernel_failure: raw.on_kernel_failure,
        fault_inject: None,
    })
}

fn check_task_name(name: &str) -> Result<(), Problem> {
    check_name(name)?;
    if RESERVED_TASK_NAMES.contains(&name) {
        return Err(Problem::ReservedTaskName(name.into()));
    }
    Ok(())
}

/// The grant mask for `kipc`: every operation for the supervisor (index 0), which may not
/// list any; for other tasks exactly the operations named, none if the key is absent.
fn resolve_kipc(index: usize, names: Option<&[String]>) -> Result<u32, Problem> {
    match (index, names) {
        (0, None) => Ok(Kipcnum::ALL_GRANTS),
        (0, Some(_)) => Err(Problem::SupervisorKipc),
        (_, names) => {
            let names = names.unwrap_or_default();
            check_unique(names)?;
            names.iter().try_fold(0, |mask, name| {
                let op = Kipcnum::ALL.into_iter().find(|op| op.name() == name);
                op.map(|op| mask | op.grant_bit())
                    .ok_or_else(|| Problem::UnknownKipcOperation(name.clone()))
            })
        }
    }
}

/// The AAPCS requires an 8-byte aligned stack.
fn check_stack(size: u32) -> Result<(), Problem> {
    if size == 0 || !size.is_multiple_of(8) {
        Err(Problem::BadStackSize(size))
    } else {
        Ok(())
    }
}

fn check_unique<'a>(items: impl IntoIterator<Item = &'a String>) -> Result<(), Problem> {
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(item) {
            return Err(Problem::Duplicate(item.clone()));
        }
    }
    Ok(())
}

fn check_notifications(index: usize, notifications: &[String]) -> Result<(), Problem> {
    if notifications.len() > MAX_NOTIFICATIONS {
        return Err(Problem::TooManyNotifications {
            count: notifications.len(),
        });
    }
    for n in notifications {
        check_name(n)?;
    }
    check_unique(notifications)?;
    if index == 0
        && notifications.first().map(String::as_str) != Some(SUPERVISOR_FAULT_NOTIFICATION)
    {
        return Err(Problem::SupervisorFaultBit {
            found: notifications.first().cloned(),
        });
    }
    Ok(())
}

/// The bit of `client-gone` (0 if absent): one of the task's own notifications, with no
/// other meaning, since a server that finds it set scans its clients and nothing else. So it
/// may not be an interrupt's notification, nor the supervisor's fault bit.
fn client_gone_bit(index: usize, entry: &TaskEntry) -> Result<u32, Problem> {
    let Some(name) = &entry.client_gone else {
        return Ok(0);
    };
    let bit = entry
        .notifications
        .iter()
        .position(|n| n == name)
        .ok_or_else(|| Problem::UnknownNotification(name.clone()))?;
    let shared_with = if index == 0 && bit == 0 {
        Some("the kernel's fault notification".to_owned())
    } else {
        entry
            .interrupts
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(irq, _)| format!("interrupt \"{irq}\""))
    };
    match shared_with {
        Some(other) => Err(Problem::ClientGoneShared {
            notification: name.clone(),
            other,
        }),
        // At most 32 notifications (checked before).
        None => Ok(1 << bit),
    }
}

/// The peripherals in `uses`: known to the chip, each used once in the whole app, and few
/// enough to fit the task's MPU slots.
fn resolve_peripherals<'a>(
    at: Blame<'_>,
    task: &'a str,
    entry: &'a TaskEntry,
    chip: &Chip,
    owners: &mut BTreeMap<&'a str, &'a str>,
) -> Result<IndexMap<String, Peripheral>, ConfigError> {
    let mut peripherals = IndexMap::new();
    for used in &entry.uses {
        let peripheral = chip.peripherals.get(used).ok_or_else(|| {
            let problem = Problem::UnknownPeripheral {
                name: used.clone(),
                chip: chip.name.clone(),
            };
            at.error("uses", problem)
        })?;
        if let Some(owner) = owners.insert(used, task)
            && (owner == task || !peripheral.shared)
        {
            let problem = if owner == task {
                Problem::Duplicate(used.clone())
            } else {
                Problem::PeripheralTaken {
                    peripheral: used.clone(),
                    owner: owner.into(),
                }
            };
            return Err(at.error("uses", problem));
        }
        peripherals.insert(used.clone(), peripheral.clone());
    }
    if OWN_REGIONS + peripherals.len() > abi::REGIONS_PER_TASK {
        let problem = Problem::TooManyRegions {
            needed: OWN_REGIONS + peripherals.len(),
            available: abi::REGIONS_PER_TASK,
        };
        return Err(at.error("uses", problem));
    }
    Ok(peripherals)
}

/// Adds task `index`'s `interrupts` to `irqs`, refusing IRQs already routed.
fn route_interrupts(
    at: Blame<'_>,
    index: usize,
    entry: &TaskEntry,
    chip: &Chip,
    names: &[&str],
    irqs: &mut BTreeMap<u32, IrqDesc>,
) -> Result<(), ConfigError> {
    for (key, notification) in &entry.interrupts {
        let interrupt_key = format!("interrupts.\"{key}\"");
        let irq = resolve_irq(chip, &entry.uses, key)
            .map_err(|reason| at.error(&interrupt_key, Problem::UnknownInterrupt(reason)))?;
        let bit = entry
            .notifications
            .iter()
            .position(|n| n == notification)
            .ok_or_else(|| {
                at.error(
                    &interrupt_key,
                    Problem::UnknownNotification(notification.clone()),
                )
            })?;
        if let Some(taken) = irqs.get(&irq) {
            let owner = names[usize::from(taken.task)].to_owned();
            return Err(at.error(&interrupt_key, Problem::IrqTaken { irq, owner }));
        }
        // Both fit: at most 32 tasks and 32 notifications.
        let desc = IrqDesc {
            irq,
            task: index as u16,
            notification: 1 << bit,
        };
        irqs.insert(irq, desc);
    }
    Ok(())
}

/// An `interrupts` key: `"<peripheral>.<interrupt>"` for a peripheral in `uses` (a task cannot
/// clear an interrupt in registers it cannot reach), or a decimal IRQ number.
fn resolve_irq(chip: &Chip, uses: &[String], key: &str) -> Result<u32, String> {
    if let Ok(irq) = key.parse::<u32>() {
        return if irq < chip.irq_count {
            Ok(irq)
        } else {
            Err(format!(
                "chip \"{}\" has IRQs 0..{}",
                chip.name, chip.irq_count
            ))
        };
    }
    let Some((name, irq_name)) = key.split_once('.') else {
        return Err("expected \"<peripheral>.<interrupt>\" or an IRQ number".into());
    };
    let Some(peripheral) = chip.peripherals.get(name) else {
        return Err(format!(
            "no peripheral \"{name}\" in chip \"{}\"",
            chip.name
        ));
    };
    if !uses.iter().any(|u| u == name) {
        return Err(format!(
            "peripheral \"{name}\" is not in this task's `uses`"
        ));
    }
    peripheral.interrupts.get(irq_name).copied().ok_or_else(|| {
        let known: Vec<&str> = peripheral.interrupts.keys().map(String::as_str).collect();
        format!(
            "peripheral \"{name}\" has no interrupt \"{irq_name}\" (it has: {})",
            known.join(", ")
        )
    })
}

/// Index 0 (the supervisor) alone has priority 0; `idle` exists and is strictly the least
/// important.
fn check_priorities(doc: Blame<'_>, tasks: &[Task]) -> Result<(), ConfigError> {
    let supervisor = tasks
        .first()
        .ok_or_else(|| doc.error("tasks", Problem::NoIdleTask))?;
    if supervisor.priority != 0 {
        return Err(doc.task(&supervisor.name).error(
            "priority",
            Problem::SupervisorPriority {
                task: supervisor.name.clone(),
                priority: supervisor.priority,
            },
        ));
    }
    if let Some(other) = tasks[1..].iter().find(|t| t.priority == 0) {
        return Err(doc.task(&other.name).error(
            "priority",
            Problem::SharesSupervisorPriority {
                supervisor: supervisor.name.clone(),
            },
        ));
    }
    let idle = tasks
        .iter()
        .find(|t| t.name == "idle")
        .ok_or_else(|| doc.error("tasks", Problem::NoIdleTask))?;
    if let Some(other) = tasks
        .iter()
        .find(|t| t.name != "idle" && t.priority >= idle.priority)
    {
        return Err(doc.task("idle").error(
            "priority",
            Problem::IdleNotLowest {
                idle_priority: idle.priority,
                other: other.name.clone(),
                other_priority: other.priority,
            },
        ));
    }
    Ok(())
}

/// The send mask from `task-slots`, refusing sends to less important tasks (the sender would
/// block on a task that can be starved by tasks more important than the sender). The
/// supervisor is exempt and may reach every task.
fn send_targets(
    at: Blame<'_>,
    task: &Task,
    entries: &IndexMap<String, TaskEntry>,
    names: &[&str],
) -> Result<u32, ConfigError> {
    check_unique(&task.task_slots).map_err(|p| at.error("task-slots", p))?;
    let mut mask = 0u32;
    for slot in &task.task_slots {
        let (target, _, entry) = entries
            .get_full(slot)
            .ok_or_else(|| at.error("task-slots", Problem::UnknownTask(slot.clone())))?;
        if target == task.index {
            return Err(at.error("task-slots", Problem::SlotIsSelf));
        }
        if task.index != 0 && entry.priority > task.priority {
            return Err(at.error(
                "task-slots",
                Problem::PriorityInversion {
                    sender_priority: task.priority,
                    target: slot.clone(),
                    target_priority: entry.priority,
                },
            ));
        }
        mask |= 1 << target;
    }
    if task.index == 0 {
        mask |= all_tasks_mask(names.len()) & !1;
    }
    Ok(mask)
}

/// The `notify` table: each key a task other than this one, each value a non-empty list of
/// that task's `notifications`, none twice. Unlike `task-slots`, any priority may be named:
/// POST never blocks.
fn notify_targets(
    at: Blame<'_>,
    index: usize,
    notify: &IndexMap<String, Vec<String>>,
    entries: &IndexMap<String, TaskEntry>,
) -> Result<Vec<NotifyTarget>, ConfigError> {
    let mut resolved = Vec::with_capacity(notify.len());
    for (target, names) in notify {
        let (target_index, _, entry) = entries
            .get_full(target)
            .ok_or_else(|| at.error("notify", Problem::UnknownTask(target.clone())))?;
        if target_index == index {
            return Err(at.error("notify", Problem::NotifySelf(target.clone())));
        }
        let key = format!("notify.\"{target}\"");
        if names.is_empty() {
            return Err(at.error(&key, Problem::NoNotificationsNamed));
        }
        check_unique(names).map_err(|p| at.error(&key, p))?;
        let bits = names
            .iter()
            .map(|name| {
                let bit = entry.notifications.iter().position(|n| n == name);
                // At most 32 notifications, so the bit number fits.
                bit.map(|bit| (name.clone(), bit as u32)).ok_or_else(|| {
                    at.error(
                        &key,
                        Problem::NotTargetNotification {
                            target: target.clone(),
                            name: name.clone(),
                            known: entry.notifications.clone(),
                        },
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        resolved.push(NotifyTarget {
            task: target.clone(),
            index: target_index,
            bits,
        });
    }
    Ok(resolved)
}

fn all_tasks_mask(count: usize) -> u32 {
    if count >= 32 {
        u32::MAX
    } else {
        (1 << count) - 1
    }
}

fn resolve_supervision(
    doc: Blame<'_>,
    entries: &IndexMap<String, TaskEntry>,
    names: &[&str],
    tasks: &mut [Task],
) -> Result<(), ConfigError> {
    let mut depends_on = vec![Vec::new(); tasks.len()];
    for (index, task) in tasks.iter_mut().enumerate() {
        let at = doc.task(names[index]);
        let entry = &entries[index];
        if index == 0 {
            if entry.supervision.is_some() {
                return Err(at.error("supervision", Problem::SupervisorSupervised));
            }
            continue;
        }
        let default = SupervisionEntry::default();
        let policy = entry.supervision.as_ref().unwrap_or(&default);
        let supervision = check_policy(at, policy, entries, &entry.uses)?;
        depends_on[index] = supervision.depends_on.clone();
        task.supervision = Some(supervision);
    }
    if let Some(cycle) = supervision::find_cycle(&depends_on) {
        let path = cycle.iter().map(|&i| names[i].to_owned()).collect();
        return Err(doc
            .task(names[cycle[0]])
            .error("supervision.depends-on", Problem::DependencyCycle(path)));
    }
    Ok(())
}

fn check_policy(
    at: Blame<'_>,
    policy: &SupervisionEntry,
    entries: &IndexMap<String, TaskEntry>,
    uses: &[String],
) -> Result<Supervision, ConfigError> {
    check_unique(&policy.depends_on).map_err(|p| at.error("supervision.depends-on", p))?;
    let depends_on = policy
        .depends_on
        .iter()
        .map(|name| match entries.get_index_of(name) {
            None => Err(at.error("supervision.depends-on", Problem::UnknownTask(name.clone()))),
            // The supervisor restarts idle at once and never waits for its dependents.
            Some(_) if name == "idle" => {
                Err(at.error("supervision.depends-on", Problem::DependsOnIdle))
            }
            Some(index) => Ok(index),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let durations = [
        (
            "supervision.detach-deadline-ms",
            Some(policy.detach_deadline_ms),
        ),
        ("supervision.watchdog-ms", policy.watchdog_ms),
        (
            "supervision.intensity.window-ms",
            policy.intensity.map(|i| i.window_ms),
        ),
    ];
    if let Some((key, _)) = durations.iter().find(|(_, ms)| *ms == Some(0)) {
        return Err(at.error(key, Problem::ZeroDuration));
    }
    // No back-off means a crash loop restarts as fast as the task can crash; only an
    // intensity limit then stops it.
    if policy.backoff.initial_ms == 0 && policy.intensity.is_none() {
        return Err(at.error(
            "supervision.backoff.initial-ms",
            Problem::ImmediateRestartUnbounded,
        ));
    }
    if let Some(watchdog_ms) = policy.watchdog_ms
        && policy.detach_deadline_ms >= watchdog_ms
    {
        return Err(at.error(
            "supervision.detach-deadline-ms",
            Problem::DeadlineNotBelowWatchdog {
                deadline_ms: policy.detach_deadline_ms,
                watchdog_ms,
            },
        ));
    }
    if policy.backoff.initial_ms > policy.backoff.max_ms {
        return Err(at.error(
            "supervision.backoff",
            Problem::BackoffInverted {
                initial_ms: policy.backoff.initial_ms,
                max_ms: policy.backoff.max_ms,
            },
        ));
    }
    if policy.intensity.is_some_and(|i| i.restarts == 0) {
        return Err(at.error("supervision.intensity.restarts", Problem::ZeroRestarts));
    }
    check_unique(&policy.reset_peripherals)
        .map_err(|p| at.error("supervision.reset-peripherals", p))?;
    if let Some(foreign) = policy.reset_peripherals.iter().find(|p| !uses.contains(p)) {
        return Err(at.error(
            "supervision.reset-peripherals",
            Problem::ResetsForeignPeripheral(foreign.clone()),
        ));
    }
    Ok(Supervision {
        restart: policy.restart,
        depends_on,
        detach_deadline_ms: policy.detach_deadline_ms,
        backoff: policy.backoff,
        intensity: policy.intensity,
        watchdog_ms: policy.watchdog_ms,
        reset_peripherals: policy.reset_peripherals.clone(),
    })
}

/// `[tasks.X.restart-test]`: progress names are variable names, a recovery limit is not 0.
fn check_restart_test(
    at: Blame<'_>,
    expect: &super::RestartExpectations,
) -> Result<super::RestartExpectations, ConfigError> {
    let is_variable = |name: &str| {
        name.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if let Some(bad) = expect.progress.iter().find(|n| !is_variable(n)) {
        return Err(at.error("restart-test.progress", Problem::NotAVariable(bad.clone())));
    }
    check_unique(&expect.progress).map_err(|p| at.error("restart-test.progress", p))?;
    if expect.max_recovery_ms == Some(0) {
        return Err(at.error("restart-test.max-recovery-ms", Problem::ZeroDuration));
    }
    Ok(expect.clone())
}

#[cfg(any(test, feature = "test-support"))]
#[cfg_attr(
    not(test),
    allow(
        dead_code,
        unused_imports,
        reason = "only BASE and load serve the xtask's tests"
    )
)]
pub mod tests {
    use super::*;
    use crate::build_dir;
    use crate::supervision::{Backoff, Escalation, Intensity, Restart};

    /// A valid app on the QEMU board; tests break it one rule at a time.
    pub const BASE: &str = r#"
name = "demo"
board = "mps2-an500"
target = "thumbv7em-none-eabihf"

[kernel]
crate = "app-demo"
stack-size = 2048

[tasks.jefe]
crate = "task-jefe"
priority = 0
stack-size = 1024
notifications = ["fault", "timer"]
task-slots = ["console"]

[tasks.sys]
crate = "drv-sys"
priority = 1
stack-size = 512
uses = ["timer0"]
interrupts = { "timer0.irq" = "tick" }
notifications = ["tick"]

[tasks.console]
crate = "drv-console"
priority = 2
stack-size = 1024
max-sizes = { flash = 16384, ram = 4096 }
uses = ["uart0"]
interrupts = { "uart0.rx" = "rx-irq", "uart0.tx" = "tx-irq" }
notifications = ["rx-irq", "tx-irq"]
task-slots = ["sys"]
config = { baud = 115200 }

[tasks.console.supervision]
restart = "always"
depends-on = ["sys"]
detach-deadline-ms = 20
backoff = { initial-ms = 5, max-ms = 1000 }
intensity = { restarts = 3, window-ms = 1000, then = "restart-dependents" }
watchdog-ms = 500
reset-peripherals = ["uart0"]

[tasks.idle]
crate = "task-idle"
priority = 3
stack-size = 256
"#;

    pub fn packages() -> BTreeSet<String> {
        [
            "app-demo",
            "task-jefe",
            "drv-sys",
            "drv-console",
            "task-idle",
        ]
        .map(String::from)
        .into()
    }

    pub fn load(text: &str) -> Result<App, ConfigError> {
        resolve(
            Path::new("app/demo/app.toml"),
            text.to_owned(),
            &build_dir(),
            &packages(),
        )
    }

    /// `BASE` with `from` replaced by `to` (which must occur).
    fn load_edited(from: &str, to: &str) -> Result<App, ConfigError> {
        assert!(BASE.contains(from), "{from:?} is not in BASE");
        load(&BASE.replacen(from, to, 1))
    }

    fn error(from: &str, to: &str) -> ConfigError {
        load_edited(from, to).expect_err("the edit should be refused")
    }

    #[test]
    fn base_app_resolves() {
        let app = load(BASE).unwrap();
        let names: Vec<&str> = app.tasks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["jefe", "sys", "console", "idle"]);
        assert_eq!(app.kernel.ram, DEFAULT_KERNEL_RAM);
        assert_eq!(app.kernel.on_supervisor_fault, SupervisorFault::Reset);
        assert_eq!(app.kernel.on_kernel_failure, SupervisorFault::Reset);
        let jefe = &app.tasks[0];
        assert_eq!(jefe.flags, TaskFlags(TaskFlags::START_AT_BOOT));
        assert_eq!(jefe.kipc_grants, Kipcnum::ALL_GRANTS);
        assert_eq!(jefe.send_targets, 0b1110);
        assert_eq!(jefe.supervision, None);
        assert!(
            app.tasks.iter().all(|t| t.stack_fill),
            "stacks are filled unless a task opts out"
        );
        let console = app.task("console").unwrap();
        assert_eq!(console.flags, TaskFlags(TaskFlags::START_AT_BOOT));
        assert_eq!(console.kipc_grants, 0, "no kipc key: no kernel IPC");
        assert_eq!(console.send_targets, 0b0010);
        assert_eq!(console.peripherals["uart0"].region.base(), 0x4000_4000);
        assert_eq!(console.max_flash, Some(16384));
        assert_eq!(
            console.config.as_ref().unwrap()["baud"].as_integer(),
            Some(115200)
        );
        assert_eq!(
            console.supervision,
            Some(Supervision {
                restart: Restart::Always,
                depends_on: vec![1],
                detach_deadline_ms: 20,
                backoff: Backoff {
                    initial_ms: 5,
                    max_ms: 1000
                },
                intensity: Some(Intensity {
                    restarts: 3,
                    window_ms: 1000,
                    then: Escalation::RestartDependents
                }),
                watchdog_ms: Some(500),
                reset_peripherals: vec!["uart0".into()],
            })
        );
        let idle = app.task("idle").unwrap();
        assert_eq!(idle.supervision.as_ref().unwrap().restart, Restart::OnFault);
        assert_eq!(idle.supervision.as_ref().unwrap().detach_deadline_ms, 50);
        assert_eq!(
            app.irqs,
            [
                IrqDesc {
                    irq: 0,
                    task: 2,
                    notification: 0b01
                },
                IrqDesc {
                    irq: 1,
                    task: 2,
                    notification: 0b10
                },
                IrqDesc {
                    irq: 8,
                    task: 1,
                    notification: 0b1
                },
            ]
        );
        assert_eq!(app.text, BASE);
    }

    #[test]
    fn load_app_reads_the_file() {
        let dir = std::env::temp_dir().join(format!("app-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("app.toml");
        let _ = std::fs::remove_file(&path);
        let e = crate::load_app(&path, &packages()).unwrap_err();
        assert!(matches!(e.problem, Problem::Io(_)), "{e}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: cannot read: ", path.display())),
            "{e}"
        );
        std::fs::write(&path, BASE).unwrap();
        let app = crate::load_app(&path, &packages()).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!((app.file.as_path(), app.tasks.len()), (path.as_path(), 4));
    }

    #[test]
    fn kipc_grants_exactly_the_named_operations_and_start_flag() {
        let app = load_edited(
            "task-slots = [\"sys\"]",
            "task-slots = [\"sys\"]\nkipc = [\"read-task-status\", \"restart-task\"]\nstart = false",
        )
        .unwrap();
        let console = app.task("console").unwrap();
        assert_eq!(console.flags, TaskFlags(0));
        assert_eq!(
            console.kipc_grants,
            Kipcnum::ReadTaskStatus.grant_bit() | Kipcnum::RestartTask.grant_bit()
        );
        let app = load_edited(
            "task-slots = [\"sys\"]",
            "task-slots = [\"sys\"]\nkipc = []",
        )
        .unwrap();
        assert_eq!(app.task("console").unwrap().kipc_grants, 0);
    }

    #[test]
    fn kipc_every_operation_name_is_accepted() {
        for op in Kipcnum::ALL {
            let edited = format!("task-slots = [\"sys\"]\nkipc = [\"{}\"]", op.name());
            let app = load_edited("task-slots = [\"sys\"]", &edited).unwrap();
            assert_eq!(
                app.task("console").unwrap().kipc_grants,
                op.grant_bit(),
                "{op:?}"
            );
        }
    }

    #[test]
    fn kipc_unknown_operation_is_refused_naming_file_task_key_and_value() {
        let e = error(
            "task-slots = [\"sys\"]",
            "task-slots = [\"sys\"]\nkipc = [\"read-task-status\", \"reboot\"]",
        );
        assert!(
            matches!(&e.problem, Problem::UnknownKipcOperation(name) if name == "reboot"),
            "{e}"
        );
        assert!(
            e.to_string().starts_with(
                "app/demo/app.toml: task \"console\": kipc: unknown kernel IPC operation \"reboot\" (known: read-task-status, "
            ),
            "{e}"
        );
    }

    #[test]
    fn kipc_true_is_refused_operations_must_be_named() {
        let e = error(
            "task-slots = [\"sys\"]",
            "task-slots = [\"sys\"]\nkipc = true",
        );
        assert!(matches!(e.problem, Problem::Schema { .. }), "{e}");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("console"), "kipc"),
            "{e}"
        );
    }

    #[test]
    fn kipc_duplicate_and_supervisor_kipc_are_refused() {
        let e = error(
            "task-slots = [\"sys\"]",
            "task-slots = [\"sys\"]\nkipc = [\"reset\", \"reset\"]",
        );
        assert!(
            matches!(&e.problem, Problem::Duplicate(name) if name == "reset"),
            "{e}"
        );
        let jefe_key = "[tasks.jefe]\n";
        assert!(BASE.contains(jefe_key));
        let e = error(jefe_key, "[tasks.jefe]\nkipc = [\"reset\"]\n");
        assert!(matches!(e.problem, Problem::SupervisorKipc), "{e}");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("jefe"), "kipc"),
            "{e}"
        );
    }

    #[test]
    fn syntax_error() {
        let e = error("[tasks.idle]", "[tasks.idle");
        assert!(matches!(e.problem, Problem::Syntax { .. }), "{e}");
        assert!(e.to_string().starts_with("app/demo/app.toml:"), "{e}");
    }

    #[test]
    fn missing_required_key() {
        let e = error("stack-size = 256\n", "");
        assert_eq!(e.task.as_deref(), Some("idle"));
        assert!(
            e.to_string()
                .ends_with("task \"idle\": missing field `stack-size`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key() {
        let e = error("priority = 3", "priority = 3\nstacksize = 1");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("idle"), "stacksize")
        );
        assert!(e.to_string().contains("unknown field `stacksize`"), "{e}");
        let e = error("watchdog-ms = 500", "watchdog-ms = 500\nwatchdog = 1");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("console"), "supervision.watchdog")
        );
    }

    #[test]
    fn wrong_type() {
        let e = error("priority = 3", "priority = \"low\"");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("idle"), "priority")
        );
        let e = error("then = \"restart-dependents\"", "then = \"panic\"");
        assert_eq!(e.key, "supervision.intensity.then");
        assert!(e.to_string().contains("unknown variant `panic`"), "{e}");
    }

    #[test]
    fn unsupported_target_and_unknown_board() {
        let e = error("thumbv7em-none-eabihf", "thumbv6m-none-eabi");
        assert_eq!(e.key, "target");
        let e = error("board = \"mps2-an500\"", "board = \"mps3\"");
        assert_eq!(e.key, "board");
        assert!(
            e.to_string().contains("unknown board \"mps3\" (no file "),
            "{e}"
        );
    }

    #[test]
    fn unknown_task_in_task_slots() {
        let e = error("task-slots = [\"sys\"]", "task-slots = [\"pong2\"]");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"console\": task-slots: unknown task \"pong2\""
        );
    }

    #[test]
    fn slot_to_self_or_twice() {
        assert!(matches!(
            error("task-slots = [\"sys\"]", "task-slots = [\"console\"]").problem,
            Problem::SlotIsSelf
        ));
        assert!(matches!(
            error("task-slots = [\"sys\"]", "task-slots = [\"sys\", \"sys\"]").problem,
            Problem::Duplicate(_)
        ));
    }

    #[test]
    fn priority_inversion_names_both_tasks_and_priorities() {
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\ntask-slots = [\"console\"]",
        );
        assert_eq!(e.task.as_deref(), Some("sys"));
        let text = e.to_string();
        assert!(
            text.contains("priority 1") && text.contains("\"console\" (priority 2)"),
            "{text}"
        );
    }

    #[test]
    fn equal_priority_send_is_allowed() {
        let app = load_edited("priority = 1", "priority = 2").unwrap();
        assert_eq!(app.task("console").unwrap().send_targets, 0b10);
    }

    /// BASE with `notify` on `sys` (priority 1), which is more important than `console`.
    fn sys_notifies(table: &str) -> Result<App, ConfigError> {
        load_edited(
            "notifications = [\"tick\"]",
            &format!("notifications = [\"tick\"]\nnotify = {table}"),
        )
    }

    fn sys_notify_error(table: &str) -> ConfigError {
        sys_notifies(table).expect_err("the notify table should be refused")
    }

    #[test]
    fn notify_down_the_priority_order_is_allowed_and_resolved() {
        let app = sys_notifies("{ \"console\" = [\"tx-irq\", \"rx-irq\"] }").unwrap();
        let sys = app.task("sys").unwrap();
        assert_eq!(
            sys.notify,
            [NotifyTarget {
                task: "console".into(),
                index: 2,
                bits: vec![("tx-irq".into(), 1), ("rx-irq".into(), 0)],
            }]
        );
        assert_eq!(sys.notify_targets, 0b100);
        assert_eq!(sys.send_targets, 0, "notify grants no SEND");
        assert_eq!(
            sys.notify_env(),
            [
                ("BULKHEAD_NOTIFY_TARGETS", "console=2".to_owned()),
                (
                    "BULKHEAD_NOTIFY_BITS",
                    "console.tx-irq=1,console.rx-irq=0".to_owned()
                ),
            ]
        );
        let console = app.task("console").unwrap();
        assert_eq!(
            (console.notify_targets, console.notify_env()[1].1.as_str()),
            (0, "")
        );
    }

    #[test]
    fn notify_several_targets_sets_one_bit_each_and_lists_them_in_order() {
        let app = sys_notifies("{ \"console\" = [\"rx-irq\"], \"jefe\" = [\"timer\"] }").unwrap();
        let sys = app.task("sys").unwrap();
        assert_eq!(sys.notify_targets, 0b101);
        assert_eq!(
            sys.notify_env(),
            [
                ("BULKHEAD_NOTIFY_TARGETS", "console=2,jefe=0".to_owned()),
                (
                    "BULKHEAD_NOTIFY_BITS",
                    "console.rx-irq=0,jefe.timer=1".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn notify_unknown_task_is_refused_naming_file_task_key_and_value() {
        let e = sys_notify_error("{ \"consle\" = [\"rx-irq\"] }");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notify: unknown task \"consle\""
        );
    }

    #[test]
    fn notify_to_self_is_refused() {
        let e = sys_notify_error("{ \"sys\" = [\"tick\"] }");
        assert!(
            matches!(&e.problem, Problem::NotifySelf(name) if name == "sys"),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notify: \"sys\" is this task, which may always \
             post to itself; list only other tasks"
        );
    }

    #[test]
    fn notify_a_notification_the_target_does_not_declare_is_refused() {
        let e = sys_notify_error("{ \"console\" = [\"rx-irq\", \"tick\"] }");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notify.\"console\": \"tick\" is not one of task \
             \"console\"'s notifications (it has: rx-irq, tx-irq)"
        );
        let e = sys_notify_error("{ \"idle\" = [\"wake\"] }");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notify.\"idle\": \"wake\" is not one of task \
             \"idle\"'s notifications (it declares none)"
        );
    }

    #[test]
    fn notify_duplicate_or_empty_list_is_refused() {
        let e = sys_notify_error("{ \"console\" = [\"rx-irq\", \"rx-irq\"] }");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notify.\"console\": \"rx-irq\" is listed more than once"
        );
        let e = sys_notify_error("{ \"console\" = [] }");
        assert!(matches!(e.problem, Problem::NoNotificationsNamed), "{e}");
        assert_eq!(e.key, "notify.\"console\"");
    }

    #[test]
    fn notify_target_listed_twice_or_of_the_wrong_shape_is_refused() {
        let e = sys_notify_error("{ \"console\" = [\"rx-irq\"], \"console\" = [\"tx-irq\"] }");
        assert!(matches!(e.problem, Problem::Syntax { .. }), "{e}");
        let e = sys_notify_error("[\"console\"]");
        assert!(matches!(e.problem, Problem::Schema { .. }), "{e}");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("sys"), "notify"),
            "{e}"
        );
        let e = sys_notify_error("{ \"console\" = \"rx-irq\" }");
        assert!(matches!(e.problem, Problem::Schema { .. }), "{e}");
    }

    #[test]
    fn client_gone_reaches_the_declaring_servers_in_each_send_mask() {
        let app = load(BASE).unwrap();
        assert!(
            app.tasks
                .iter()
                .all(|t| t.client_gone == 0 && t.client_gone_targets == 0),
            "nothing declared, nothing posted"
        );
        let app = load_edited(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\", \"gone\"]\nclient-gone = \"gone\"",
        )
        .unwrap();
        let bits = |name: &str| {
            let t = app.task(name).unwrap();
            (t.client_gone, t.client_gone_targets)
        };
        assert_eq!(bits("sys"), (0b10, 0), "sys sends to nobody");
        assert_eq!(bits("console"), (0, 0b10), "console sends to sys");
        assert_eq!(bits("jefe"), (0, 0b10), "the supervisor reaches every task");
        assert_eq!(bits("idle"), (0, 0), "idle sends to nobody");
    }

    #[test]
    fn reply_deadline_reaches_the_task_and_is_checked() {
        assert!(
            load(BASE)
                .unwrap()
                .tasks
                .iter()
                .all(|t| t.reply_deadline_ms == 0)
        );
        let app = load_edited(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\nreply-deadline-ms = 25",
        )
        .unwrap();
        assert_eq!(app.task("sys").unwrap().reply_deadline_ms, 25);
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\nreply-deadline-ms = 0",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": reply-deadline-ms: must be at least 1 ms"
        );
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\nreply-deadline-ms = 32768",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": reply-deadline-ms: 32768 ms is longer than the \
             kernel can time (at most 32767 ms)"
        );
        assert!(
            load_edited(
                "notifications = [\"tick\"]",
                "notifications = [\"tick\"]\nreply-deadline-ms = 32767",
            )
            .is_ok()
        );
        let e = error("[tasks.jefe]\n", "[tasks.jefe]\nreply-deadline-ms = 10\n");
        assert!(matches!(e.problem, Problem::SupervisorReplyDeadline), "{e}");
        assert_eq!(e.key, "reply-deadline-ms");
    }

    #[test]
    fn on_reply_fault_error_sets_the_flag_and_anything_else_is_refused() {
        let flags = |app: &App| app.task("sys").unwrap().flags;
        assert!(!flags(&load(BASE).unwrap()).contains(TaskFlags::REPLY_FAULT_AS_ERROR));
        let edit = |value: &str| {
            load_edited(
                "notifications = [\"tick\"]",
                &format!("notifications = [\"tick\"]\non-reply-fault = \"{value}\""),
            )
        };
        assert!(!flags(&edit("fault").unwrap()).contains(TaskFlags::REPLY_FAULT_AS_ERROR));
        assert!(flags(&edit("error").unwrap()).contains(TaskFlags::REPLY_FAULT_AS_ERROR));
        let e = edit("ignore").unwrap_err().to_string();
        assert!(
            e.contains("app/demo/app.toml") && e.contains("ignore"),
            "{e}"
        );
    }

    #[test]
    fn client_gone_must_name_a_notification_of_its_own() {
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\nclient-gone = \"gone\"",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": client-gone: \"gone\" is not one of this task's notifications"
        );
    }

    #[test]
    fn client_gone_cannot_share_an_interrupt_or_the_fault_bit() {
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\nclient-gone = \"tick\"",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": client-gone: \"tick\" is also interrupt \"timer0.irq\"; \
             the client-gone notification must mean nothing else (a server that sees it scans its clients)"
        );
        let e = error(
            "notifications = [\"fault\", \"timer\"]",
            "notifications = [\"fault\", \"timer\"]\nclient-gone = \"fault\"",
        );
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("jefe"), "client-gone")
        );
        assert!(
            matches!(&e.problem, Problem::ClientGoneShared { other, .. } if other == "the kernel's fault notification"),
            "{e}"
        );
        let app = load_edited(
            "notifications = [\"fault\", \"timer\"]",
            "notifications = [\"fault\", \"timer\"]\nclient-gone = \"timer\"",
        )
        .unwrap();
        assert_eq!(
            app.tasks[0].client_gone, 0b10,
            "any other bit of the supervisor"
        );
    }

    #[test]
    fn nobody_may_depend_on_idle() {
        let e = error("depends-on = [\"sys\"]", "depends-on = [\"idle\"]");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"console\": supervision.depends-on: \"idle\" is restarted at once \
             whenever it stops and cannot be unloaded, so there is nothing to depend on"
        );
    }

    #[test]
    fn supervisor_must_have_priority_zero_alone() {
        let e = error("priority = 0", "priority = 1");
        assert!(
            matches!(e.problem, Problem::SupervisorPriority { priority: 1, .. }),
            "{e}"
        );
        let e = error("priority = 1", "priority = 0");
        assert_eq!(e.task.as_deref(), Some("sys"));
        assert!(
            matches!(e.problem, Problem::SharesSupervisorPriority { .. }),
            "{e}"
        );
    }

    #[test]
    fn idle_must_exist_and_be_lowest() {
        let e = error("[tasks.idle]", "[tasks.idler]");
        assert!(matches!(e.problem, Problem::NoIdleTask), "{e}");
        let e = error("priority = 3", "priority = 2");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"idle\": priority: \"idle\" (priority 2) must be strictly less \
             important than every other task, but \"console\" has priority 2"
        );
    }

    #[test]
    fn unknown_peripheral() {
        let e = error("uses = [\"timer0\"]", "uses = [\"timer9\"]");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": uses: unknown peripheral \"timer9\" (not in chip \"mps2-an500\")"
        );
    }

    #[test]
    fn a_task_can_opt_out_of_the_stack_fill() {
        let app = load_edited(
            "priority = 3\nstack-size = 256",
            "priority = 3\nstack-size = 256\nstack-fill = false",
        )
        .unwrap();
        let filled: Vec<bool> = app.tasks.iter().map(|t| t.stack_fill).collect();
        assert_eq!(filled, [true, true, true, false]);
    }

    #[test]
    fn expected_tests_are_names_declared_once() {
        assert_eq!(load(BASE).unwrap().expected_tests, Vec::<String>::new());
        let declared =
            "target = \"thumbv7em-none-eabihf\"\nexpected-tests = [\"round_trip\", \"detach\"]";
        let app = load_edited("target = \"thumbv7em-none-eabihf\"", declared).unwrap();
        assert_eq!(app.expected_tests, ["round_trip", "detach"]);
        let twice = "target = \"thumbv7em-none-eabihf\"\nexpected-tests = [\"detach\", \"detach\"]";
        let e = error("target = \"thumbv7em-none-eabihf\"", twice);
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (None, "expected-tests")
        );
        assert!(
            matches!(&e.problem, Problem::Duplicate(name) if name == "detach"),
            "{e}"
        );
        let spaced = "target = \"thumbv7em-none-eabihf\"\nexpected-tests = [\"round trip\"]";
        let e = error("target = \"thumbv7em-none-eabihf\"", spaced);
        assert!(
            matches!(&e.problem, Problem::BadName(name) if name == "round trip"),
            "{e}"
        );
    }

    #[test]
    fn peripheral_used_twice() {
        let e = error("uses = [\"timer0\"]", "uses = [\"timer0\", \"uart0\"]");
        assert_eq!(e.task.as_deref(), Some("console"));
        assert!(
            matches!(&e.problem, Problem::PeripheralTaken { owner, .. } if owner == "sys"),
            "{e}"
        );
        let e = error("uses = [\"timer0\"]", "uses = [\"timer0\", \"timer0\"]");
        assert!(matches!(e.problem, Problem::Duplicate(_)), "{e}");
    }

    #[test]
    fn too_many_peripherals_for_the_mpu() {
        let five = BASE.replacen(
            "[\"timer0\"]",
            "[\"timer0\", \"timer1\", \"dualtimer\", \"uart1\", \"uart2\"]",
            1,
        );
        assert_eq!(
            load(&five).unwrap().task("sys").unwrap().peripherals.len(),
            5
        );
        let seven = BASE.replace("mps2-an500", "nucleo-h753zi").replacen(
            "[\"timer0\"]",
            "[\"exti\", \"syscfg\", \"gpio\", \"rcc\", \"pwr\", \"otg1\", \"otg2\"]",
            1,
        );
        let e = load(&seven).unwrap_err();
        assert_eq!(e.task.as_deref(), Some("sys"));
        assert!(
            matches!(
                e.problem,
                Problem::TooManyRegions {
                    needed: 9,
                    available: 8
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_interrupt() {
        let e = error(
            "\"timer0.irq\" = \"tick\"",
            "\"timer0.overflow\" = \"tick\"",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": interrupts.\"timer0.overflow\": unknown interrupt: \
             peripheral \"timer0\" has no interrupt \"overflow\" (it has: irq)"
        );
        let e = error("\"timer0.irq\" = \"tick\"", "\"32\" = \"tick\"");
        assert!(
            e.to_string()
                .ends_with("chip \"mps2-an500\" has IRQs 0..32"),
            "{e}"
        );
        let e = error("\"timer0.irq\" = \"tick\"", "\"timer1.irq\" = \"tick\"");
        assert!(e.to_string().contains("not in this task's `uses`"), "{e}");
        let e = error("\"timer0.irq\" = \"tick\"", "\"timer0\" = \"tick\"");
        assert!(matches!(e.problem, Problem::UnknownInterrupt(_)), "{e}");
    }

    #[test]
    fn raw_irq_number_routes() {
        let app = load_edited("\"timer0.irq\" = \"tick\"", "\"9\" = \"tick\"").unwrap();
        assert!(app.irqs.contains(&IrqDesc {
            irq: 9,
            task: 1,
            notification: 1
        }));
    }

    #[test]
    fn interrupt_to_undeclared_notification() {
        let e = error("\"timer0.irq\" = \"tick\"", "\"timer0.irq\" = \"tock\"");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": interrupts.\"timer0.irq\": \"tock\" is not one of this \
             task's notifications"
        );
    }

    #[test]
    fn same_irq_mapped_twice() {
        let e = error(
            "\"uart0.tx\" = \"tx-irq\"",
            "\"uart0.tx\" = \"tx-irq\", \"8\" = \"tx-irq\"",
        );
        assert!(
            matches!(&e.problem, Problem::IrqTaken { irq: 8, owner } if owner == "sys"),
            "{e}"
        );
        let e = error(
            "\"uart0.tx\" = \"tx-irq\"",
            "\"uart0.tx\" = \"tx-irq\", \"0\" = \"tx-irq\"",
        );
        assert!(
            matches!(&e.problem, Problem::IrqTaken { irq: 0, owner } if owner == "console"),
            "{e}"
        );
    }

    #[test]
    fn unknown_task_in_depends_on() {
        let e = error("depends-on = [\"sys\"]", "depends-on = [\"sis\"]");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"console\": supervision.depends-on: unknown task \"sis\""
        );
    }

    #[test]
    fn dependency_cycle_prints_its_path() {
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\"]\n[tasks.sys.supervision]\ndepends-on = [\"console\"]",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": supervision.depends-on: dependency cycle: sys -> console -> sys"
        );
    }

    #[test]
    fn restart_test_expectations_are_read_and_checked() {
        let app = load(&format!(
            "{BASE}\n[tasks.idle.restart-test]\nprogress = [\"ACCEPTED\", \"_n2\"]\nmax-recovery-ms = 50\n"
        ))
        .unwrap();
        let idle = app.task("idle").unwrap();
        assert_eq!(idle.restart_test.progress, ["ACCEPTED", "_n2"]);
        assert_eq!(idle.restart_test.max_recovery_ms, Some(50));
        assert_eq!(
            app.task("console").unwrap().restart_test,
            Default::default()
        );

        let refused = |body: &str| {
            load(&format!("{BASE}\n[tasks.idle.restart-test]\n{body}\n")).expect_err(body)
        };
        let e = refused("progress = [\"2fast\"]");
        assert_eq!(
            (e.task.as_deref(), e.key.as_str()),
            (Some("idle"), "restart-test.progress")
        );
        assert!(
            matches!(&e.problem, Problem::NotAVariable(n) if n == "2fast"),
            "{e}"
        );
        let e = refused("progress = [\"A\", \"A\"]");
        assert!(
            matches!(&e.problem, Problem::Duplicate(n) if n == "A"),
            "{e}"
        );
        let e = refused("max-recovery-ms = 0");
        assert_eq!(e.key, "restart-test.max-recovery-ms");
        assert!(matches!(e.problem, Problem::ZeroDuration), "{e}");
        assert!(matches!(
            refused("progres = []").problem,
            Problem::Schema { .. }
        ));
    }

    #[test]
    fn impossible_deadlines() {
        let e = error("detach-deadline-ms = 20", "detach-deadline-ms = 0");
        assert_eq!(e.key, "supervision.detach-deadline-ms");
        assert!(matches!(e.problem, Problem::ZeroDuration), "{e}");
        let e = error("detach-deadline-ms = 20", "detach-deadline-ms = 500");
        assert!(
            matches!(
                e.problem,
                Problem::DeadlineNotBelowWatchdog {
                    deadline_ms: 500,
                    watchdog_ms: 500
                }
            ),
            "{e}"
        );
        let e = error("watchdog-ms = 500", "watchdog-ms = 0");
        assert_eq!(e.key, "supervision.watchdog-ms");
    }

    #[test]
    fn immediate_restart_needs_an_intensity_limit() {
        let with_limit = load_edited("initial-ms = 5,", "initial-ms = 0,").unwrap();
        assert_eq!(
            with_limit.tasks[2]
                .supervision
                .as_ref()
                .unwrap()
                .backoff
                .initial_ms,
            0
        );
        let text = BASE
            .replacen("initial-ms = 5,", "initial-ms = 0,", 1)
            .replacen(
                "intensity = { restarts = 3, window-ms = 1000, then = \"restart-dependents\" }\n",
                "",
                1,
            );
        let e = load(&text).expect_err("unbounded immediate restarts are refused");
        assert_eq!(e.key, "supervision.backoff.initial-ms");
        assert!(e.to_string().contains("needs an `intensity` limit"), "{e}");
    }

    #[test]
    fn backoff_and_intensity_rules() {
        let e = error("initial-ms = 5", "initial-ms = 5000");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"console\": supervision.backoff: initial-ms (5000) is greater than max-ms (1000)"
        );
        let e = error("restarts = 3", "restarts = 0");
        assert_eq!(e.key, "supervision.intensity.restarts");
        assert!(matches!(e.problem, Problem::ZeroRestarts));
    }

    #[test]
    fn reset_peripherals_must_be_used_by_the_task() {
        let e = error(
            "reset-peripherals = [\"uart0\"]",
            "reset-peripherals = [\"timer0\"]",
        );
        assert!(
            matches!(e.problem, Problem::ResetsForeignPeripheral(_)),
            "{e}"
        );
    }

    #[test]
    fn kernel_failure_policy_is_read_and_checked() {
        let app = load_edited(
            "stack-size = 2048",
            "stack-size = 2048\non-kernel-failure = \"halt\"",
        )
        .unwrap();
        assert_eq!(app.kernel.on_kernel_failure, SupervisorFault::Halt);
        assert_eq!(app.kernel.on_supervisor_fault, SupervisorFault::Reset);
        let e = error(
            "stack-size = 2048",
            "stack-size = 2048\non-kernel-failure = \"reboot\"",
        );
        assert!(e.to_string().contains("on-kernel-failure"), "{e}");
    }

    #[test]
    fn supervisor_cannot_be_supervised() {
        let e = error(
            "task-slots = [\"console\"]",
            "task-slots = [\"console\"]\nsupervision = {}",
        );
        assert!(matches!(e.problem, Problem::SupervisorSupervised), "{e}");
    }

    #[test]
    fn supervisor_bit_zero_is_fault() {
        let e = error("[\"fault\", \"timer\"]", "[\"timer\", \"fault\"]");
        assert!(
            matches!(&e.problem, Problem::SupervisorFaultBit { found: Some(n) } if n == "timer"),
            "{e}"
        );
    }

    #[test]
    fn more_than_32_tasks() {
        let mut text = BASE.to_owned();
        for i in 0..29 {
            text.push_str(&format!(
                "[tasks.t{i}]\ncrate = \"task-idle\"\npriority = 2\nstack-size = 8\n"
            ));
        }
        assert!(matches!(
            load(&text).unwrap_err().problem,
            Problem::TooManyTasks { count: 33 }
        ));
    }

    #[test]
    fn notification_limits() {
        let many: Vec<String> = (0..33).map(|i| format!("\"n{i}\"")).collect();
        let e = error(
            "notifications = [\"tick\"]",
            &format!("notifications = [{}]", many.join(", ")),
        );
        assert!(
            matches!(e.problem, Problem::TooManyNotifications { count: 33 }),
            "{e}"
        );
        let e = error(
            "notifications = [\"tick\"]",
            "notifications = [\"tick\", \"tick\"]",
        );
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": notifications: \"tick\" is listed more than once"
        );
        let e = error("notifications = [\"tick\"]", "notifications = [\"Tick\"]");
        assert!(matches!(e.problem, Problem::BadName(_)), "{e}");
    }

    #[test]
    fn reserved_task_names() {
        for name in ["kernel", "hiffy"] {
            let e = error("[tasks.sys]", &format!("[tasks.{name}]"));
            assert!(matches!(e.problem, Problem::ReservedTaskName(_)), "{e}");
        }
    }

    #[test]
    fn missing_crate() {
        let e = error("crate = \"drv-sys\"", "crate = \"drv-sys2\"");
        assert_eq!(
            e.to_string(),
            "app/demo/app.toml: task \"sys\": crate: missing crate: no package named \"drv-sys2\" in the workspace"
        );
        let e = error("crate = \"app-demo\"", "crate = \"app-nope\"");
        assert_eq!(e.key, "kernel.crate");
    }

    #[test]
    fn stack_sizes() {
        let e = error("stack-size = 256", "stack-size = 250");
        assert!(matches!(e.problem, Problem::BadStackSize(250)), "{e}");
        let e = error("ram = 4096 }", "ram = 512 }");
        assert!(
            matches!(
                e.problem,
                Problem::BudgetBelowStack {
                    budget: 512,
                    stack: 1024
                }
            ),
            "{e}"
        );
        let e = error("stack-size = 2048", "stack-size = 2048\nram = 1024");
        assert_eq!(e.key, "kernel.ram");
    }

    #[test]
    fn kernel_ram_memory_is_a_ram_of_the_chip_that_holds_it() {
        let app = load(BASE).unwrap();
        assert_eq!(app.kernel.ram_memory, "ram");
        for (memory, why) in [
            ("flash", "\"flash\" is flash, not RAM"),
            ("dtcm", "\"dtcm\" is no memory of the board's chip"),
        ] {
            let e = error(
                "stack-size = 2048",
                &format!("stack-size = 2048\nram-memory = \"{memory}\""),
            );
            assert_eq!(e.key, "kernel.ram-memory");
            assert!(e.to_string().contains(why), "{e}");
        }
        let e = error(
            "priority = 0\nstack-size = 1024",
            "priority = 0\nstack-size = 1024\nram-memory = \"sram9\"",
        );
        assert_eq!(e.key, "ram-memory", "{e}");
        assert!(e.to_string().contains("task \"jefe\": ram-memory"), "{e}");
        assert!(
            e.to_string()
                .contains("\"sram9\" is no memory of the board's chip"),
            "{e}"
        );
        let e = error(
            "stack-size = 2048",
            "stack-size = 2048\nram = 0x800000\nram-memory = \"ram\"",
        );
        assert!(
            e.to_string().contains("\"ram\" is smaller than kernel.ram"),
            "{e}"
        );
    }
}
