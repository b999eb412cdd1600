//! `cargo xtask restart-test [APP] [--task NAME]... [--cycles N]
//! [--trigger restart|fault|unload-load|hang] [--seed S]`: does every task of an app come back healthy when the supervisor restarts it
//! at any moment, while the app does its own work?
//!
//! The app boots in QEMU under `-S -icount shift=0` (stopped at reset until the tool is
//! attached; virtual time advances one nanosecond per guest instruction). The schedule (which
//! task, after how many ticks) is fixed by the seed, and runs repeat closely, but not to the
//! instruction: with icount's default `sleep=on` the idle task's WFI lets virtual time follow
//! the host clock, so an event may move by a tick between runs. (`sleep=off` would be exact,
//! but under it jefe's timer never served the request; not understood yet.) Everything is then done the way humility does it on a board, through QEMU's
//! GDB stub and the archive's symbols and DWARF, never through a side channel:
//!
//! - **Time.** A breakpoint on the kernel's `SysTick` handler stops the guest once per
//!   millisecond of virtual time, so the tool waits in whole ticks and every request lands
//!   at the same instruction on every run.
//! - **Driving.** Each cycle waits a seeded random 1 to 200 ms, then writes `humility
//!   jefe`'s words (`JEFE_EXTERNAL_REQUEST`, `TASKINDEX`, `KICK`) and watches `REQUESTS` and
//!   `ERRORS`. `--trigger restart` is `humility jefe -s`; `--trigger fault` is `-f` (jefe
//!   holds the task and injects a fault) and then `-r` (release: restart it).
//!   `--trigger unload-load` writes Bulkhead's own request words 5 (unload) and, once the task
//!   is detached, 6 (load): the console's `unload` and `load` through the same channel.
//!   `--trigger hang` needs no request: the tool points the task's saved return address at
//!   `__bulkhead_stuck`, a loop in its own code, and its supervisor watchdog must end it
//!   (tasks without `watchdog-ms` are refused). jefe looks at
//!   the words on its next wake-up, at most 100 ms later, as it does for humility.
//! - **Reading.** Task states and generations come from the kernel's task table
//!   (`HUBRIS_TASK_TABLE_SPACE`, decoded like `humility tasks`), supervision counts from
//!   jefe's `TASK_COUNTERS` (like `humility counters`), and the epitaph and `TICKS` from the
//!   kernel.
//!
//! After the request the tool waits for the task to run again with a new generation (its
//! recovery time), lets the app run on for 100 ms plus the longest `watchdog-ms` (so a task
//! that hangs after coming back is caught by its watchdog), and compares a snapshot with the
//! one taken at the request (`checks::compare`). The quiet time between cycles is compared
//! too: nothing may change there. The first anomaly ends the run: the tool writes a
//! humility dump of that moment, prints the seed and cycle that reproduce it, and fails.

mod checks;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use dwarf_check::dies::{Dies, read_uint};
use object::{Object, ObjectSymbol};

use crate::contract::{self, ArchiveFiles, KernelLayout, TaskStatus};
use crate::gdb::{Gdb, GdbError};
use crate::{Error, cargo, dist, dump, qemu};
pub use checks::{Anomaly, Trigger};
use checks::{
    COUNTER_MEMBERS, Progress, Rng, Snapshot, TaskSnapshot, compare, counters_from_members, spread,
};

/// Virtual time the app runs before the first cycle.
const BOOT_SETTLE_MS: u64 = 500;
/// Virtual time the app runs after a task is back, before the snapshot (plus watchdogs).
const AFTER_SETTLE_MS: u64 = 100;
/// The longest wait before a cycle's request.
const MAX_DELAY_MS: u64 = 200;
/// How long jefe has to count a request (humility's default `-t`).
const ANSWER_MS: u64 = 5000;
/// How long a task has to run again after its request was counted.
const RECOVERY_LIMIT_MS: u64 = 2000;
/// Instructions per millisecond of virtual time under `-icount shift=0`.
const INSTRUCTIONS_PER_MS: u64 = 1_000_000;

/// `JEFE_EXTERNAL_REQUEST` values (doc/humility-contract.md 6.1; jefe's `external.rs`).
const START: u32 = 1;
const RELEASE: u32 = 3;
const FAULT: u32 = 4;
/// Bulkhead's own values (humility never writes them): unload, then load.
const UNLOAD: u32 = 5;
const LOAD: u32 = 6;

pub struct Options {
    pub app: String,
    pub tasks: Vec<String>,
    pub cycles: u32,
    pub trigger: Trigger,
    pub seed: u64,
}

impl Options {
    pub fn parse(args: &[String]) -> Result<Options, Error> {
        let mut options = Options {
            app: crate::DEFAULT_APP.into(),
            tasks: Vec::new(),
            cycles: 3,
            trigger: Trigger::Restart,
            seed: 1,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = |flag: &str| {
                args.next()
                    .ok_or_else(|| Error::new(format!("restart-test: {flag} needs a value")))
            };
            let number = |flag: &str, text: &str| {
                text.parse::<u64>()
                    .map_err(|_| Error::new(format!("restart-test: {flag} {text}: not a number")))
            };
            match arg.as_str() {
                "--task" => options.tasks.push(value("--task")?.clone()),
                "--cycles" => {
                    let text = value("--cycles")?;
                    options.cycles = u32::try_from(number("--cycles", text)?)
                        .ok()
                        .filter(|&c| c > 0)
                        .ok_or_else(|| {
                            Error::new(format!("restart-test: --cycles {text}: must be 1 or more"))
                        })?;
                }
                "--trigger" => {
                    options.trigger = Trigger::parse(value("--trigger")?).map_err(Error::new)?
                }
                "--seed" => options.seed = number("--seed", value("--seed")?)?,
                flag if flag.starts_with("--") => {
                    return Err(Error::new(format!("restart-test: unknown option {flag}")));
                }
                app => options.app = app.to_owned(),
            }
        }
        Ok(options)
    }

    /// The command line that repeats this run.
    fn command_line(&self) -> String {
        let mut line = format!("cargo xtask restart-test {}", self.app);
        for task in &self.tasks {
            write!(line, " --task {task}").unwrap();
        }
        write!(
            line,
            " --cycles {} --trigger {} --seed {}",
            self.cycles,
            self.trigger.name(),
            self.seed
        )
        .unwrap();
        line
    }
}

/// What a run found.
pub struct Outcome {
    /// The first anomaly's cycle (1-based) and everything wrong at that moment.
    pub failure: Option<(u32, Vec<Anomaly>)>,
    /// The report a person reads.
    pub report: String,
}

/// `cargo xtask restart-test ...`: prints the report, fails on any anomaly.
pub fn command(args: &[String]) -> Result<(), Error> {
    let options = Options::parse(args)?;
    let outcome = run(&options)?;
    print!("{}", outcome.report);
    match outcome.failure {
        None => Ok(()),
        Some((cycle, anomalies)) => Err(Error::new(format!(
            "restart-test of {}: {} anomal{} at cycle {cycle}",
            options.app,
            anomalies.len(),
            if anomalies.len() == 1 { "y" } else { "ies" }
        ))),
    }
}

/// Why driving stopped early: the tool failed, or the target showed an anomaly.
enum Stop {
    Tool(Error),
    Found(Vec<Anomaly>),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Tool(e)
    }
}

/// `Err` with the anomalies, if there are any.
fn found(anomalies: Vec<Anomaly>) -> Result<(), Stop> {
    if anomalies.is_empty() {
        Ok(())
    } else {
        Err(Stop::Found(anomalies))
    }
}

/// One task's results.
#[derive(Default)]
struct TaskResults {
    cycles: u32,
    recovery_ms: Vec<u64>,
    /// Dependents that acknowledged every going-away notice, and those that did not.
    dependents: Vec<String>,
}

/// Builds the app, boots it and drives the cycles.
pub fn run(options: &Options) -> Result<Outcome, Error> {
    cargo::ensure_firmware_target()?;
    let built = dist::dist(&dist::app_toml_path(&options.app)?)?;
    let app = &built.app;
    let machine = qemu::machine_of(app)?;
    let driven = driven_tasks(app, &options.tasks)?;
    if options.trigger == Trigger::Hang {
        hang_needs_watchdogs(app, &driven)?;
    }
    let settle_ms = AFTER_SETTLE_MS
        + app
            .tasks
            .iter()
            .filter_map(|t| t.supervision.as_ref()?.watchdog_ms)
            .max()
            .map_or(0, u64::from);

    let archive = dist::read(&built.archive)?;
    let port = qemu::free_port()?;
    let extra = [
        "-S",
        "-icount",
        "shift=0",
        "-gdb",
        &format!("tcp:127.0.0.1:{port}"),
    ]
    .map(String::from);
    let (_session, _console) = qemu::start(&machine, &built.final_elf, &extra)?;
    let mut target = Target::connect(port, &archive, app)?;

    let mut results: Vec<TaskResults> = app.tasks.iter().map(|_| TaskResults::default()).collect();
    for &task in &driven {
        results[task].dependents = app
            .tasks
            .iter()
            .filter(|t| {
                t.supervision
                    .as_ref()
                    .is_some_and(|s| s.depends_on.contains(&task))
            })
            .map(|t| t.name.clone())
            .collect();
    }
    let mut rng = Rng::new(options.seed);
    let mut last = Snapshot {
        ticks: 0,
        epitaph: None,
        tasks: Vec::new(),
        progress: Vec::new(),
    };
    let mut failure = None;
    let mut cycle = 0;
    let mut driving = || -> Result<(), Stop> {
        target.wait(BOOT_SETTLE_MS)?;
        last = target.snapshot()?;
        for c in 1..=options.cycles {
            cycle = c;
            for &task in &driven {
                target.wait(rng.between(1, MAX_DELAY_MS))?;
                let before = target.snapshot()?;
                eprintln!(
                    "  cycle {c}: {} `{}` at {} ms",
                    options.trigger.name(),
                    app.tasks[task].name,
                    before.ticks
                );
                found(compare(&last, &before, None))?;
                results[task].cycles += 1;
                let recovery = target.cycle(
                    task,
                    &app.tasks[task].name,
                    options.trigger,
                    &before.tasks[task].status,
                )?;
                results[task].recovery_ms.push(recovery);
                if let Some(max_ms) = app.tasks[task].restart_test.max_recovery_ms
                    && recovery > u64::from(max_ms)
                {
                    let task = app.tasks[task].name.clone();
                    found(vec![Anomaly::SlowRecovery {
                        task,
                        ms: recovery,
                        max_ms,
                    }])?;
                }
                target.wait(settle_ms)?;
                last = target.snapshot()?;
                found(compare(&before, &last, Some((task, options.trigger))))?;
            }
        }
        Ok(())
    };
    match driving() {
        Ok(()) => {}
        Err(Stop::Tool(e)) => return Err(e),
        Err(Stop::Found(anomalies)) => failure = Some((cycle, anomalies)),
    }

    let mut report = format!(
        "restart-test {}: {} cycle(s) of `{}` per task, seed {}\n",
        app.name,
        options.cycles,
        options.trigger.name(),
        options.seed
    );
    report.push_str("recovery = request written to task running with a new generation, in whole ms of virtual time (1 ms = 10^6 instructions)\n");
    for &task in &driven {
        report.push_str(&task_line(
            &app.tasks[task].name,
            &results[task],
            failure.is_none(),
        ));
    }
    if let Some((cycle, anomalies)) = &mut failure {
        let dump = dump_path(&built.dir);
        let dumped = dump::take(&mut target.gdb, &archive, true)
            .and_then(|d| std::fs::write(&dump, &d.core).map_err(|e| Error::io(&dump, e)));
        // The dump halted the guest and left the stub in its CPU view of memory.
        let now = target.physical().and_then(|()| target.snapshot());
        let at = now.as_ref().map_or_else(
            |e| format!("virtual time unknown: {e}"),
            |n| format!("virtual time {} ms", n.ticks),
        );
        // A system that stopped ticking may have stopped on purpose: say why.
        if let Ok(Snapshot {
            epitaph: Some(epitaph),
            ..
        }) = now
            && !anomalies.contains(&Anomaly::KernelFailed {
                epitaph: epitaph.clone(),
            })
        {
            anomalies.push(Anomaly::KernelFailed { epitaph });
        }
        writeln!(report, "ANOMALY at cycle {cycle} ({at}):").unwrap();
        for anomaly in anomalies {
            writeln!(report, "  {anomaly}").unwrap();
        }
        writeln!(report, "reproduce: {}", options.command_line()).unwrap();
        match dumped {
            Ok(()) => writeln!(
                report,
                "humility dump of that moment: {} (`humility -d {} tasks`)",
                dump.display(),
                dump.display()
            ),
            Err(e) => writeln!(report, "no dump: {e}"),
        }
        .unwrap();
    } else {
        writeln!(
            report,
            "ok: every task came back healthy; jefe's counters match the cycles driven"
        )
        .unwrap();
    }
    Ok(Outcome { failure, report })
}

/// `NAME  cycles N  recovery min/median/max ...  dependents ...`
fn task_line(name: &str, results: &TaskResults, clean: bool) -> String {
    let recovery = match spread(&results.recovery_ms) {
        Some((min, median, max)) => format!(
            "recovery {min}/{median}/{max} ms ({}/{}/{} M instructions)",
            min * INSTRUCTIONS_PER_MS / 1_000_000,
            median * INSTRUCTIONS_PER_MS / 1_000_000,
            max * INSTRUCTIONS_PER_MS / 1_000_000
        ),
        None => "recovery -".to_owned(),
    };
    let dependents = if results.dependents.is_empty() {
        "no dependents".to_owned()
    } else if clean {
        format!(
            "dependents {} let go and rebound every time",
            results.dependents.join(", ")
        )
    } else {
        format!("dependents {}", results.dependents.join(", "))
    };
    format!(
        "  {name:<16} cycles {:<3} {recovery:<44} {dependents}\n",
        results.cycles
    )
}

/// A hang is ended only by the task's supervisor watchdog: refuse to drive one that has none.
fn hang_needs_watchdogs(app: &crate::config::App, driven: &[usize]) -> Result<(), Error> {
    let unwatched: Vec<&str> = driven
        .iter()
        .map(|&t| &app.tasks[t])
        .filter(|t| t.supervision.as_ref().and_then(|s| s.watchdog_ms).is_none())
        .map(|t| t.name.as_str())
        .collect();
    if unwatched.is_empty() {
        return Ok(());
    }
    Err(Error::new(format!(
        "{}: --trigger hang: task(s) {} have no `watchdog-ms` in [tasks.NAME.supervision]; \
         nothing would ever end their hang (choose --task among those with a watchdog)",
        app.file.display(),
        unwatched.join(", ")
    )))
}

/// The tasks named by `--task` (all but the supervisor without any), as indices.
fn driven_tasks(app: &crate::config::App, names: &[String]) -> Result<Vec<usize>, Error> {
    if names.is_empty() {
        return Ok((1..app.tasks.len()).collect());
    }
    names
        .iter()
        .map(
            |name| match app.tasks.iter().position(|t| &t.name == name) {
                Some(0) => Err(Error::new(format!(
                    "{}: --task {name}: the supervisor cannot be restarted",
                    app.file.display()
                ))),
                Some(index) => Ok(index),
                None => Err(Error::new(format!(
                    "{}: --task {name}: no such task",
                    app.file.display()
                ))),
            },
        )
        .collect()
}

/// The word addresses of `humility jefe`'s protocol.
struct JefeWords {
    ready: u32,
    kick: u32,
    request: u32,
    task_index: u32,
    requests: u32,
    errors: u32,
}

/// The guest behind QEMU's GDB stub, stopped at a `SysTick` entry between calls.
struct Target {
    gdb: Gdb,
    /// The kernel's `SysTick` handler, where the guest is stopped once per tick.
    systick: u32,
    /// The declared progress variables: task, variable, address.
    progress: Vec<(String, String, u32)>,
    kernel_dies: Dies,
    layout: KernelLayout,
    names: Vec<String>,
    words: JefeWords,
    /// `TASK_COUNTERS`: address and size, and per task the offsets of its counters.
    counters: (u32, usize, Vec<Option<[u64; 5]>>),
    /// Per task, the address of its `__bulkhead_stuck` loop (`--trigger hang`).
    stuck: Vec<Option<u32>>,
}

fn gdb_error(e: GdbError) -> Error {
    Error::new(format!("GDB stub: {e}"))
}

impl Target {
    fn connect(port: u16, archive: &[u8], app: &crate::config::App) -> Result<Target, Error> {
        let files =
            ArchiveFiles::parse(archive).map_err(|e| Error::new(format!("archive: {e}")))?;
        let layout = contract::check_objects(&files.kernel, &files.tasks)
            .map_err(|p| Error::new(format!("archive: {}", p.join("; "))))?;
        let kernel_dies =
            Dies::load(&files.kernel).map_err(|e| Error::new(format!("elf/kernel: {e}")))?;
        let kernel = object::File::parse(files.kernel.as_slice())
            .map_err(|e| Error::new(format!("elf/kernel: {e}")))?;
        let systick = kernel
            .symbols()
            .find(|s| s.name() == Ok("SysTick"))
            .ok_or_else(|| Error::new("elf/kernel: no `SysTick` symbol to stop at every tick"))?
            .address() as u32
            & !1;
        let (supervisor, jefe) = files
            .tasks
            .first()
            .ok_or_else(|| Error::new("archive: no tasks"))?;
        let object = format!("elf/task/{supervisor}");
        let word = |name: &str| -> Result<u32, Error> {
            match contract::find_variable(&object, jefe, name).map_err(Error::new)? {
                (address, 4, _, _) => Ok(address as u32),
                (_, size, _, _) => Err(Error::new(format!(
                    "{object}: `{name}` is {size} bytes, humility needs 4"
                ))),
            }
        };
        let words = JefeWords {
            ready: word("JEFE_EXTERNAL_READY")?,
            kick: word("JEFE_EXTERNAL_KICK")?,
            request: word("JEFE_EXTERNAL_REQUEST")?,
            task_index: word("JEFE_EXTERNAL_TASKINDEX")?,
            requests: word("JEFE_EXTERNAL_REQUESTS")?,
            errors: word("JEFE_EXTERNAL_ERRORS")?,
        };
        let names: Vec<String> = files.tasks.iter().map(|(n, _)| n.clone()).collect();
        let (address, size, ty, dies) =
            contract::find_variable(&object, jefe, "TASK_COUNTERS").map_err(Error::new)?;
        // humility's `counters`: one member per supervised task (every task but jefe, task
        // 0), each with one member per counter. A supervised task without its member would
        // read as never restarted, so that is an error naming it.
        let offsets = names
            .iter()
            .enumerate()
            .map(|(index, name)| {
                let member = build_util::supervisor::counters_member(name);
                let Some((base, per_task)) = dies.member_at(ty, &member) else {
                    return match index {
                        0 => Ok(None),
                        _ => Err(Error::new(format!(
                            "{object}: TASK_COUNTERS has no member `{member}` for task `{name}`"
                        ))),
                    };
                };
                let mut offsets = [0; 5];
                for (slot, counter) in offsets.iter_mut().zip(COUNTER_MEMBERS) {
                    let (at, _) = dies.member_at(per_task, counter).ok_or_else(|| {
                        Error::new(format!(
                            "{object}: TASK_COUNTERS.{member} has no counter `{counter}`"
                        ))
                    })?;
                    *slot = base + at;
                }
                Ok(Some(offsets))
            })
            .collect::<Result<_, Error>>()?;

        let mut progress = Vec::new();
        for task in &app.tasks {
            let object = format!("elf/task/{}", task.name);
            let elf = &files
                .tasks
                .get(task.index)
                .ok_or_else(|| Error::new(format!("archive: no {object}")))?
                .1;
            for variable in &task.restart_test.progress {
                let at = || {
                    format!(
                        "{}: task \"{}\": restart-test.progress: `{variable}`",
                        app.file.display(),
                        task.name
                    )
                };
                match contract::find_variable(&object, elf, variable) {
                    Ok((address, 4, _, _)) => {
                        progress.push((task.name.clone(), variable.clone(), address as u32))
                    }
                    Ok((_, size, _, _)) => {
                        return Err(Error::new(format!(
                            "{}: is {size} bytes, not a 4-byte counter",
                            at()
                        )));
                    }
                    Err(e) => return Err(Error::new(format!("{}: {e}", at()))),
                }
            }
        }

        let stuck = files
            .tasks
            .iter()
            .map(|(name, elf)| {
                let object = object::File::parse(elf.as_slice())
                    .map_err(|e| Error::new(format!("elf/task/{name}: {e}")))?;
                Ok(object
                    .symbols()
                    .find(|s| s.name() == Ok("__bulkhead_stuck"))
                    .map(|s| s.address() as u32))
            })
            .collect::<Result<_, Error>>()?;

        let mut gdb = Gdb::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(10))
            .map_err(gdb_error)?;
        gdb.halt().map_err(gdb_error)?;
        gdb.breakpoint(systick, true).map_err(gdb_error)?;
        // Stop at a tick, as every later call expects.
        gdb.run_until_stop(false).map_err(gdb_error)?;
        let mut target = Target {
            gdb,
            systick,
            progress,
            kernel_dies,
            layout,
            names,
            words,
            counters: (address as u32, size as usize, offsets),
            stuck,
        };
        target.physical()?;
        Ok(target)
    }

    /// Reads see all memory, not the MPU view of whatever runs (QEMU's `PhyMemMode`).
    fn physical(&mut self) -> Result<(), Error> {
        if !self.gdb.physical_memory(true).map_err(gdb_error)? {
            return Err(Error::new(
                "QEMU's GDB stub has no physical memory mode (Qqemu.PhyMemMode)",
            ));
        }
        Ok(())
    }

    /// Runs the guest for `ms` ticks: steps off the `SysTick` breakpoint it is stopped at
    /// (QEMU would stop there again at once) and runs to the next. A tick that does not
    /// come within the stub's reply timeout (10 s) means the system stopped ticking.
    fn wait(&mut self, ms: u64) -> Result<(), Stop> {
        for _ in 0..ms {
            self.gdb
                .breakpoint(self.systick, false)
                .map_err(gdb_error)?;
            self.gdb.run_until_stop(true).map_err(gdb_error)?;
            self.gdb.breakpoint(self.systick, true).map_err(gdb_error)?;
            match self.gdb.run_until_stop(false) {
                Ok(_) => {}
                Err(GdbError::Timeout { .. }) => return Err(Stop::Found(vec![Anomaly::Stalled])),
                Err(e) => return Err(gdb_error(e).into()),
            }
        }
        Ok(())
    }

    fn read(&mut self, address: u64, len: u64) -> Result<Vec<u8>, Error> {
        self.gdb
            .read_memory(address as u32, len as usize)
            .map_err(|e| Error::new(format!("reading {len} bytes at {address:#010x}: {e}")))
    }

    fn word(&mut self, address: u32) -> Result<u32, Error> {
        let bytes = self.read(address.into(), 4)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("four bytes")))
    }

    fn status(&self, index: usize, entry: &[u8]) -> Result<TaskStatus, Error> {
        contract::decode_task_status(&self.kernel_dies, &self.layout, entry)
            .map_err(|e| Error::new(format!("task {index} ({}): {e}", self.names[index])))
    }

    fn task_status(&mut self, index: usize) -> Result<TaskStatus, Error> {
        let size = self.layout.task_size;
        let entry = self.read(self.layout.task_table + index as u64 * size, size)?;
        self.status(index, &entry)
    }

    fn snapshot(&mut self) -> Result<Snapshot, Error> {
        let ticks = self.ticks()?;
        let epitaph_at = self.layout.epitaph;
        let epitaph = match epitaph_at {
            Some((failed, text, len)) if self.read(failed, 1)? == [1] => {
                let text = self.read(text, len)?;
                Some(
                    String::from_utf8_lossy(text.split(|&b| b == 0).next().unwrap_or(&[]))
                        .into_owned(),
                )
            }
            _ => None,
        };
        let table = self.read(
            self.layout.task_table,
            self.layout.task_count * self.layout.task_size,
        )?;
        let (address, size, _) = self.counters;
        let counters = self.read(address.into(), size as u64)?;
        let mut tasks = Vec::new();
        for (index, entry) in table.chunks(self.layout.task_size as usize).enumerate() {
            let offsets = self.counters.2.get(index).copied().flatten();
            tasks.push(TaskSnapshot {
                name: self.names[index].clone(),
                status: self.status(index, entry)?,
                counters: offsets.map(|o| {
                    counters_from_members(
                        o.map(|at| read_uint(&counters, at, 4).unwrap_or_default() as u32),
                    )
                }),
            });
        }
        let mut progress = Vec::new();
        for (task, variable, address) in self.progress.clone() {
            let value = self.word(address)?;
            progress.push(Progress {
                task,
                variable,
                value,
            });
        }
        Ok(Snapshot {
            ticks,
            epitaph,
            tasks,
            progress,
        })
    }

    /// One `humility jefe` request: written like humility writes it, then waited for tick by
    /// tick. `Ok(true)`: counted in `REQUESTS`; `Ok(false)`: in `ERRORS`; `Err` on no answer.
    fn request(
        &mut self,
        request: u32,
        task: usize,
        name: &str,
        what: &'static str,
    ) -> Result<(), Stop> {
        if self.word(self.words.ready)? != 1 {
            return Err(Error::new(
                "JEFE_EXTERNAL_READY is not 1: jefe is not serving humility's requests",
            )
            .into());
        }
        let w = &self.words;
        let (request_at, index_at, kick_at, requests_at, errors_at) =
            (w.request, w.task_index, w.kick, w.requests, w.errors);
        self.gdb
            .write_memory(request_at, &request.to_le_bytes())
            .map_err(gdb_error)?;
        self.gdb
            .write_memory(index_at, &(task as u32).to_le_bytes())
            .map_err(gdb_error)?;
        self.gdb
            .write_memory(kick_at, &1u32.to_le_bytes())
            .map_err(gdb_error)?;
        let (requests, errors) = (self.word(requests_at)?, self.word(errors_at)?);
        for _ in 0..ANSWER_MS {
            self.wait(1)?;
            if self.word(requests_at)? != requests {
                return Ok(());
            }
            if self.word(errors_at)? != errors {
                return Err(Stop::Found(vec![Anomaly::Refused {
                    task: name.into(),
                    request: what,
                }]));
            }
        }
        Err(Stop::Found(vec![Anomaly::NotAnswered {
            task: name.into(),
            request: what,
            waited_ms: ANSWER_MS,
        }]))
    }

    /// Drives one cycle of `trigger` on `task` and waits until it runs with a generation
    /// other than `before`'s. Returns its recovery time in ms.
    fn cycle(
        &mut self,
        task: usize,
        name: &str,
        trigger: Trigger,
        before: &TaskStatus,
    ) -> Result<u64, Stop> {
        let mut elapsed = 0;
        let steps: &[(u32, &'static str)] = match trigger {
            Trigger::Restart => &[(START, "start")],
            Trigger::Fault => &[(FAULT, "fault"), (RELEASE, "release")],
            Trigger::UnloadLoad => &[(UNLOAD, "unload"), (LOAD, "load")],
            Trigger::Hang => &[],
        };
        if trigger == Trigger::Hang {
            let start = self.ticks()?;
            self.send_to_stuck(task, name)?;
            elapsed += self.ticks()? - start;
        }
        for &(request, what) in steps {
            let start = self.ticks()?;
            self.request(request, task, name, what)?;
            if request == UNLOAD {
                // Load is refused until the detach is complete (dependents may still be
                // letting go), and applications are meant to see the task gone meanwhile.
                self.await_detached(task, name, before)?;
            }
            elapsed += self.ticks()? - start;
        }
        let mut waited = 0;
        loop {
            let now = self.task_status(task)?;
            if now.generation != before.generation
                && now.state == "Healthy"
                && now.detail != "Stopped"
            {
                return Ok(elapsed + waited);
            }
            if waited == RECOVERY_LIMIT_MS {
                let state = format!(
                    "{} {}, generation {}",
                    now.state, now.detail, now.generation
                );
                return Err(Stop::Found(vec![Anomaly::DidNotComeBack {
                    task: name.into(),
                    state,
                    waited_ms: elapsed + waited,
                }]));
            }
            self.wait(1)?;
            waited += 1;
        }
    }

    /// Makes `task` spin in `__bulkhead_stuck` from its next run on: waits until it is not
    /// the running task (its exception frame is then on its stack, where the kernel saved
    /// its stack pointer) and points the frame's return address there. xPSR becomes plain
    /// Thumb state, so no interrupted IT block or multiple load resumes at the new address.
    fn send_to_stuck(&mut self, task: usize, name: &str) -> Result<(), Stop> {
        let stuck = self.stuck[task].ok_or_else(|| {
            Error::new(format!(
                "elf/task/{name}: no `__bulkhead_stuck` symbol (userlib's start.rs provides it)"
            ))
        })?;
        let entry = self.layout.task_table + task as u64 * self.layout.task_size;
        let mut waited = 0;
        while self.word(self.layout.current_task_ptr as u32)? as u64 == entry {
            if waited == RECOVERY_LIMIT_MS {
                return Err(Error::new(format!(
                    "{name}: still the running task after {waited} ms; cannot send it to \
                     `__bulkhead_stuck`"
                ))
                .into());
            }
            self.wait(1)?;
            waited += 1;
        }
        let psp = self.word(self.layout.saved_psp_at(entry) as u32)?;
        let write = |gdb: &mut Gdb, at: u32, value: u32| {
            gdb.write_memory(at, &value.to_le_bytes())
                .map_err(gdb_error)
        };
        // The basic frame: r0-r3, r12, lr, pc, xpsr (an FP frame extends it above).
        write(&mut self.gdb, psp + 24, stuck & !1)?;
        write(&mut self.gdb, psp + 28, 1 << 24)?;
        Ok(())
    }

    /// Waits until `task` is detached: stopped, with the generation after `before`'s.
    fn await_detached(&mut self, task: usize, name: &str, before: &TaskStatus) -> Result<(), Stop> {
        for _ in 0..RECOVERY_LIMIT_MS {
            let now = self.task_status(task)?;
            if now.generation != before.generation && now.detail == "Stopped" {
                return Ok(());
            }
            self.wait(1)?;
        }
        let now = self.task_status(task)?;
        Err(Stop::Found(vec![Anomaly::NotDetached {
            task: name.into(),
            state: format!(
                "{} {}, generation {}",
                now.state, now.detail, now.generation
            ),
            waited_ms: RECOVERY_LIMIT_MS,
        }]))
    }

    /// The kernel's `TICKS`.
    fn ticks(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(
            self.read(self.layout.ticks, 8)?
                .try_into()
                .expect("eight bytes"),
        ))
    }
}

/// Where the last failed run's dump goes, for tests that look at it.
pub fn dump_path(app_dir: &std::path::Path) -> PathBuf {
    app_dir.join("hubris.core.restart-test")
}
