//! The command line: one line per command, echoed as typed, answered in sentences.
//!
//! Commands that change a task ask jefe, then watch `list_tasks` (every 10 ms, for at most
//! [`SETTLE_MS`]) until the task has settled, so the answer says what actually happened:
//! `pong: restarted (incarnation 3)`, not merely "request sent".

use core::fmt::Write;

use console_text as words;
use console_text::line::{Command, Entered, LineEditor, Verb, parse};
use idol_runtime::zerocopy::FromZeros;
use jefe_api::{JefeClient, JefeError, LogEntry, LogEvent, StateCode, TaskInfo};
use supervision::{HoldReason, TaskState};
use userlib::{TextBuf, sleep_for, sys_get_timer, task_slot};

use crate::Out;

task_slot!(JEFE, jefe);

/// app.toml: `notifications = ["rx", "timer"]`.
pub const RX_NOTIFICATION: u32 = 1 << 0;
const TIMER_NOTIFICATION: u32 = 1 << 1;

/// The image's tasks (`BULKHEAD_NUM_TASKS`).
const MAX_TASKS: usize = hubris_num_tasks::NUM_TASKS;
/// How long a command waits for the task to settle (detach deadlines plus back-off).
const SETTLE_MS: u64 = 3000;
pub use console_text::line::RxErrorCounts;

pub struct Shell {
    editor: LineEditor,
}

/// The tasks as jefe last listed them.
struct Tasks {
    infos: [TaskInfo; MAX_TASKS],
    count: usize,
}

impl Tasks {
    fn fetch(jefe: &JefeClient) -> Option<Tasks> {
        let mut infos = [TaskInfo::new_zeroed(); MAX_TASKS];
        let count = usize::from(jefe.list_tasks(0, &mut infos).ok()?);
        Some(Tasks { infos, count })
    }

    fn all(&self) -> &[TaskInfo] {
        &self.infos[..self.count]
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.all().iter().position(|t| t.name() == name)
    }

    fn name(&self, index: usize) -> &str {
        self.all().get(index).map_or("?", TaskInfo::name)
    }
}

fn sleep_ms(ms: u64) {
    sleep_for(ms, TIMER_NOTIFICATION);
}

impl Shell {
    pub const fn new() -> Self {
        Shell {
            editor: LineEditor::new(),
        }
    }

    /// A byte of the current line was lost or received with an error: the line will be
    /// discarded at Enter (`console_text::line`).
    pub fn on_damaged(&mut self, out: &mut Out<'_>, counts: RxErrorCounts) {
        self.editor.on_damaged(out, counts);
    }

    /// Takes one received byte: echoes it, edits the line, runs it on Enter.
    pub fn on_byte(&mut self, out: &mut Out<'_>, byte: u8) {
        if let Some(Entered::Line(line)) = self.editor.on_byte(out, byte) {
            run(out, line);
        }
    }
}

fn run(out: &mut Out<'_>, line: &str) {
    let (command, verb, name) = match parse(line) {
        Command::Empty => return,
        Command::Help => return help(out),
        Command::Tasks => return tasks(out),
        Command::Log => return log(out),
        #[cfg(feature = "usb")]
        Command::Usb {
            command: "serial",
            args,
        } => return crate::serial::run(out, args),
        #[cfg(feature = "usb")]
        Command::Usb { command, args } => return crate::usb::run(out, command, args),
        #[cfg(not(feature = "usb"))]
        Command::Usb { command, .. } => {
            let _ = writeln!(out, "{command}: this image has no USB stack; try: help");
            return;
        }
        Command::Act {
            command,
            verb,
            name,
        } => (command, verb, name),
        Command::MissingName(command) => {
            let _ = writeln!(out, "{command} needs a task name; try: tasks");
            return;
        }
        Command::Unknown(command) => {
            let _ = writeln!(out, "unknown command \"{command}\"; try: help");
            return;
        }
    };
    act(out, command, verb, name);
}

fn help(out: &mut Out<'_>) {
    let _ = out.write_str(
        "commands:\n  \
         tasks          every task: state, restarts, last fault\n  \
         restart NAME   tell its dependents, detach, back off, start it again\n  \
         unload NAME    tell its dependents, detach, and keep it stopped\n  \
         load NAME      start an unloaded or held task again\n  \
         fault NAME     inject a fault, as if it had crashed\n  \
         log            what the supervisor did recently\n",
    );
    #[cfg(feature = "usb")]
    let _ = out.write_str(crate::usb::HELP);
    #[cfg(feature = "usb-sim")]
    let _ = out.write_str(crate::usb::HELP_SIM);
    #[cfg(feature = "usb")]
    let _ = out.write_str(crate::serial::HELP);
    let _ = out.write_str("  help           this list\n");
}

#[inline(never)]
fn tasks(out: &mut Out<'_>) {
    let jefe = JefeClient::new(JEFE);
    let Some(tasks) = Tasks::fetch(&jefe) else {
        let _ = writeln!(out, "jefe did not answer");
        return;
    };
    let name = |i: usize| tasks.name(i);
    for (i, info) in tasks.all().iter().enumerate() {
        let mut state = Column::new();
        let _ = words::state(&mut state, info);
        let _ = write!(
            out,
            "{i:3} {:<12} {:<22} restarts {:<3} incarnation {}",
            info.name(),
            state.as_str(),
            info.restarts,
            info.incarnation
        );
        if let Some(fault) = info.last_fault() {
            let _ = out.write_str(" last fault: ");
            let _ = words::fault(out, &fault, &name);
        }
        let _ = out.write_str("\n");
    }
}

#[inline(never)]
/// Every entry of jefe's log still held, oldest first, until `f` says stop (false).
fn each_logged(jefe: &JefeClient, mut f: impl FnMut(&LogEntry) -> bool) {
    let mut after = 0;
    loop {
        let mut entries = [LogEntry::new_zeroed(); 16];
        let Ok(n) = jefe.read_log(after, &mut entries) else {
            return;
        };
        if n == 0 {
            return;
        }
        for entry in &entries[..usize::from(n)] {
            after = entry.seq;
            if !f(entry) {
                return;
            }
        }
    }
}

/// The boot line: why the system last reset, from jefe's first event.
pub fn boot(out: &mut Out<'_>) {
    each_logged(&JefeClient::new(JEFE), |entry| {
        match entry.decode().map(|l| l.event) {
            Some(LogEvent::Booted { reason }) => {
                let _ = writeln!(out, "bulkhead: {}", words::reset_reason(reason));
                false
            }
            _ => true,
        }
    });
}

fn log(out: &mut Out<'_>) {
    let jefe = JefeClient::new(JEFE);
    let Some(tasks) = Tasks::fetch(&jefe) else {
        let _ = writeln!(out, "jefe did not answer");
        return;
    };
    let name = |i: usize| tasks.name(i);
    let mut any = false;
    each_logged(&jefe, |entry| {
        any = true;
        match entry.decode() {
            Some(logged) => {
                let _ = words::event(out, &logged, &name);
                let _ = out.write_str("\n");
            }
            None => {
                let _ = writeln!(
                    out,
                    "(event {} of a kind this console does not know)",
                    entry.seq
                );
            }
        }
        true
    });
    if !any {
        let _ = writeln!(out, "nothing logged yet");
    }
}

#[inline(never)]
fn act(out: &mut Out<'_>, command: &str, verb: Verb, name: &str) {
    let jefe = JefeClient::new(JEFE);
    let Some((task, old)) = find(&jefe, name) else {
        let _ = writeln!(out, "no task named \"{name}\"; try: tasks");
        return;
    };
    let index = task as u16;
    let result = match verb {
        Verb::Restart => jefe.restart(index),
        Verb::Unload => jefe.unload(index),
        Verb::Load => jefe.load(index),
        Verb::Fault => jefe.inject_fault(index),
    };
    match result {
        Ok(()) => {}
        Err(idol_runtime::CallError::Op(JefeError::Supervisor)) => {
            let _ = writeln!(
                out,
                "{command} {name}: refused: the supervisor cannot be {}",
                verb.participle()
            );
            return;
        }
        Err(idol_runtime::CallError::Op(e)) => {
            let _ = writeln!(out, "{command} {name}: refused: {}", words::error(e));
            return;
        }
        Err(_) => {
            let _ = writeln!(out, "{command} {name}: jefe did not answer");
            return;
        }
    }
    let Some(info) = settle(&jefe, task, verb, old.incarnation) else {
        let _ = writeln!(out, "{name}: request accepted, but jefe stopped answering");
        return;
    };
    let mut state = Column::new();
    let _ = words::state(&mut state, &info);
    match (verb, info.state()) {
        (Verb::Restart | Verb::Load, Some(TaskState::Running)) => {
            let _ = writeln!(
                out,
                "{name}: {} (incarnation {})",
                verb.participle(),
                info.incarnation
            );
        }
        (Verb::Unload, Some(TaskState::Held(HoldReason::Unloaded))) => {
            let _ = writeln!(
                out,
                "{name}: unloaded (callers now get \"unavailable\" at once)"
            );
        }
        (Verb::Fault, _) => {
            let _ = writeln!(out, "{name}: fault injected; now {}", state.as_str());
        }
        _ => {
            let _ = writeln!(
                out,
                "{name}: request accepted; still {} after {SETTLE_MS} ms",
                state.as_str()
            );
        }
    }
}

/// The index and status of the task called `name`.
#[inline(never)]
fn find(jefe: &JefeClient, name: &str) -> Option<(usize, TaskInfo)> {
    let tasks = Tasks::fetch(jefe)?;
    let index = tasks.find(name)?;
    Some((index, tasks.all()[index]))
}

fn status(jefe: &JefeClient, task: usize) -> Option<TaskInfo> {
    let mut info = [TaskInfo::new_zeroed()];
    match jefe.list_tasks(task as u16, &mut info) {
        Ok(1) => Some(info[0]),
        _ => None,
    }
}

/// Watches `task` until it has done what `verb` asked (or `SETTLE_MS` passed).
fn settle(jefe: &JefeClient, task: usize, verb: Verb, old_incarnation: u32) -> Option<TaskInfo> {
    let deadline = sys_get_timer().now + SETTLE_MS;
    loop {
        let info = status(jefe, task)?;
        let done = match verb {
            Verb::Restart | Verb::Load => {
                info.state_code() == Some(StateCode::Running) && info.incarnation != old_incarnation
            }
            Verb::Unload => info.state() == Some(TaskState::Held(HoldReason::Unloaded)),
            // The fault has been seen once the task is no longer simply running.
            Verb::Fault => {
                info.state_code() != Some(StateCode::Running) || info.incarnation != old_incarnation
            }
        };
        if done || sys_get_timer().now >= deadline {
            return Some(info);
        }
        sleep_ms(10);
    }
}

/// A short piece of text formatted for a column.
struct Column(TextBuf<40>);

impl Column {
    fn new() -> Self {
        Column(TextBuf::new())
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(self.0.as_bytes()).unwrap_or("?")
    }
}

impl Write for Column {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.write_str(s)
    }
}
