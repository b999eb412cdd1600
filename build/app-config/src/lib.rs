//! The `app.toml` format: parsing, validation and the resolved application description.
//!
//! An `app.toml` names a board (`build/boards/<board>.toml`), which names a chip
//! (`build/chips/<chip>.toml`); together they give memories, MPU size, peripherals and IRQs.
//! [`load_app`] reads all three, checks every rule in `doc/app-toml.md`, and returns an [`App`]
//! whose tasks are in index order (the order of the `[tasks.*]` tables; index 0 is the
//! supervisor) with everything the kernel's tables need already resolved: peripheral regions,
//! IRQ routing, send and notify masks and flags.
//!
//! Errors are [`ConfigError`]s naming the file, the task and the key at fault. Loading stops at
//! the first error, in document order.
//!
//! The archive carries `app.toml` for humility, which parses it itself; [`App::archive_toml`]
//! produces a version humility can resolve on its own and [`check_humility_toml`] checks any
//! text against what humility requires (`doc/humility-contract.md` 1.4).

#![allow(
    clippy::result_large_err,
    reason = "a ConfigError is built at most once per run and ends it; its size costs nothing"
)]

mod app;
mod chip;
mod error;
pub mod fault_inject;
mod humility;
mod mpu;
mod source;
mod supervision;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;

pub use app::TARGET;
pub use chip::{Board, Chip, MemoryRange, Peripheral};
use error::Blame;
pub use error::{ConfigError, Problem};
pub use humility::check_humility_toml;
pub use mpu::MpuRegion;
pub use supervision::{Backoff, Escalation, Intensity, Restart, Supervision};

/// The base app and loader the config tests use, shared with the xtask's archive tests.
#[cfg(any(test, feature = "test-support"))]
pub use app::tests as app_tests;

/// A validated application.
#[derive(Clone, Debug)]
pub struct App {
    /// The `app.toml` this came from.
    pub file: PathBuf,
    pub name: String,
    pub board: Board,
    pub kernel: Kernel,
    /// In task index order.
    pub tasks: Vec<Task>,
    /// Every routed interrupt, sorted by IRQ number; each IRQ appears once.
    pub irqs: Vec<abi::IrqDesc>,
    /// `expected-tests`: the tests a system-test image must report, each exactly once.
    pub expected_tests: Vec<String>,
    /// The `app.toml` text exactly as read.
    pub text: String,
}

/// The `[kernel]` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// Package name of the app's kernel binary crate.
    pub krate: String,
    pub stack_size: u32,
    /// RAM reserved for the kernel at the start of `ram_memory`: data, bss and stack.
    pub ram: u32,
    /// The chip memory holding the kernel's RAM (`ram-memory`): `"ram"`, where the tasks
    /// are, unless the app keeps the kernel apart (the STM32H7 boards put it in DTCM,
    /// which no bus master but the CPU reaches; doc/usb-host.md 5.3 item 6).
    pub ram_memory: String,
    pub features: Vec<String>,
    pub on_supervisor_fault: SupervisorFault,
    pub on_kernel_failure: SupervisorFault,
    /// `[kernel.fault-inject]`: the injector's plan, in QEMU campaign images only.
    pub fault_inject: Option<fault_inject::FaultInject>,
}

/// What the kernel does when the supervisor itself faults (`on-supervisor-fault`) or the
/// kernel fails (`on-kernel-failure`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SupervisorFault {
    #[default]
    Reset,
    Halt,
}

/// One task, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub name: String,
    pub index: usize,
    /// Package name of the task's crate.
    pub krate: String,
    pub priority: u8,
    /// `START_AT_BOOT`.
    pub flags: abi::TaskFlags,
    /// `Kipcnum::grant_bit` of each kernel IPC operation in `kipc`; all of them for the
    /// supervisor.
    pub kipc_grants: u32,
    pub stack_size: u32,
    /// `stack-fill`: `_start` paints the stack with humility's unused-stack pattern.
    pub stack_fill: bool,
    pub max_flash: Option<u32>,
    pub max_ram: Option<u32>,
    /// The chip memory holding the task's RAM region (`ram-memory`): `"ram"` unless the app
    /// keeps the task apart (the STM32H7 boards put the supervisor in DTCM with the kernel).
    pub ram_memory: String,
    /// The peripherals in `uses`, in that order, each mapped into one MPU region of the task.
    pub peripherals: IndexMap<String, Peripheral>,
    /// Bit `i` is named `notifications[i]`.
    pub notifications: Vec<String>,
    /// The tasks named in `task-slots`, in that order.
    pub task_slots: Vec<String>,
    /// Bit `i` set: this task may SEND and POST to task `i`. The supervisor may reach every
    /// other task (it notifies dependents and providers around restarts).
    pub send_targets: u32,
    /// `notify`: the tasks this task may POST to beyond its send targets, in the order
    /// written, each with the notifications it may raise there.
    pub notify: Vec<NotifyTarget>,
    /// Bit `i` set: task `i` is in `notify` (POST only; the kernel refuses SEND).
    pub notify_targets: u32,
    /// `client-gone`: the notification bit the kernel posts to this task when a task that may
    /// send to it is detached; 0 if the task declares none.
    pub client_gone: u32,
    /// The tasks among `send_targets` that declare `client-gone`: the ones the kernel posts
    /// when this task is detached.
    pub client_gone_targets: u32,
    /// `reply-deadline-ms`: a client left waiting this long for a reply faults this task
    /// (the kernel counts it in ticks); 0 when the task declares none.
    pub reply_deadline_ms: u32,
    /// The free-form `config` table, passed to the task's build.
    pub config: Option<toml::Table>,
    pub features: Vec<String>,
    /// `None` for the supervisor only.
    pub supervision: Option<Supervision>,
    /// `[tasks.X.restart-test]`: what `cargo xtask restart-test` checks beyond its generic
    /// checks, because only the app knows it.
    pub restart_test: RestartExpectations,
}

/// One entry of a task's `notify` table, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyTarget {
    /// The target task's name and index.
    pub task: String,
    pub index: usize,
    /// The target's notifications the poster may raise: each name with its bit number in
    /// the target's `notifications`, in the order written.
    pub bits: Vec<(String, u32)>,
}

/// `[tasks.X.restart-test]` in `app.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RestartExpectations {
    /// Variables of this task (4-byte counters, read through its DWARF like `humility`
    /// reads them) that must change across every restart cycle and between cycles.
    #[serde(default)]
    pub progress: Vec<String>,
    /// The longest this task may take to run again after it was asked to restart.
    pub max_recovery_ms: Option<u32>,
}

impl App {
    /// The task named `name`.
    pub fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }
}

impl Task {
    /// `start` in app.toml: the kernel starts the task at boot.
    pub fn starts_at_boot(&self) -> bool {
        self.flags.contains(abi::TaskFlags::START_AT_BOOT)
    }

    /// What the task's build gets of `notify`: `BULKHEAD_NOTIFY_TARGETS` as `task=index,...`
    /// and `BULKHEAD_NOTIFY_BITS` as `task.notification=bit,...`, which `userlib`'s
    /// `notify_target!` and `notify_bits!` resolve at compile time (names hold neither `.`,
    /// `=` nor `,`, see [`check_name`]).
    pub fn notify_env(&self) -> [(&'static str, String); 2] {
        let targets: Vec<String> = self
            .notify
            .iter()
            .map(|t| format!("{}={}", t.task, t.index))
            .collect();
        let bits: Vec<String> = self
            .notify
            .iter()
            .flat_map(|t| {
                t.bits
                    .iter()
                    .map(|(name, bit)| format!("{}.{name}={bit}", t.task))
            })
            .collect();
        [
            ("BULKHEAD_NOTIFY_TARGETS", targets.join(",")),
            ("BULKHEAD_NOTIFY_BITS", bits.join(",")),
        ]
    }
}

/// `build/`, where `boards/` and `chips/` live.
fn build_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Loads and validates `path`. `packages` are the workspace's package names (from
/// `cargo metadata`); every `crate` must be one of them.
pub fn load_app(path: &Path, packages: &BTreeSet<String>) -> Result<App, ConfigError> {
    app::resolve(path, read(path)?, &build_dir(), packages)
}

/// The text of the `app.toml` at `path`; an unreadable file is an error naming it.
fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| {
        Blame {
            file: path,
            task: None,
        }
        .error("", Problem::Io(e))
    })
}

/// Loads and validates `path` for a build script: everything [`load_app`] checks except
/// that each `crate` is a workspace package (a build script cannot ask cargo; the builder
/// checked it before any task was built).
pub fn load_built_app(path: &Path) -> Result<App, ConfigError> {
    resolve_built_app(path, read(path)?)
}

/// [`load_built_app`] of a text already read; `path` names it in errors.
pub fn resolve_built_app(path: &Path, text: String) -> Result<App, ConfigError> {
    app::resolve_with(path, text, &build_dir(), &|_| true)
}

/// Names of tasks, notifications, peripherals, boards and chips become file names, TOML bare
/// keys and Rust identifiers, so they are restricted to `[a-z][a-z0-9_-]*`.
fn check_name(name: &str) -> Result<(), Problem> {
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Problem::BadName(name.into()))
    }
}
