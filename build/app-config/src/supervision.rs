//! Per-task supervision policy (`[tasks.<name>.supervision]`, doc/architecture.md section 4).
//!
//! Rules beyond the schema, each with its reason:
//! - `depends-on` names other tasks, each once, and the dependency graph has no cycle (a cycle
//!   would make every restart of one member wait on itself);
//! - `detach-deadline-ms`, `watchdog-ms`, `intensity.window-ms` are at least 1 ms (the
//!   supervisor's timer ticks in milliseconds; 0 would mean "never" or "at once");
//! - `backoff.initial-ms = 0` (restart at once, every time: a back-off from 0 never grows) is
//!   allowed only with an `intensity` limit, which is then all that stops a crash loop;
//! - `detach-deadline-ms < watchdog-ms` when both are set: the watchdog period is the longest the
//!   task may go without checking in, so a graceful hand-over that may take longer than that
//!   contradicts the claim that the task is alive on that time scale;
//! - `backoff.initial-ms <= backoff.max-ms`; `intensity.restarts >= 1`;
//! - `reset-peripherals` only names peripherals in the task's own `uses`.
//!
//! The supervisor (task 0) cannot have a policy: its faults are the kernel's business
//! (`[kernel] on-supervisor-fault`).

use serde::Deserialize;

/// When the supervisor restarts a task that stopped.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restart {
    /// After a fault and after a clean exit alike.
    Always,
    #[default]
    OnFault,
    Never,
}

/// Exponential restart back-off: `initial-ms`, doubling per consecutive restart, capped.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct Backoff {
    pub initial_ms: u32,
    pub max_ms: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 10,
            max_ms: 5000,
        }
    }
}

/// Restart intensity limit: more than `restarts` restarts within `window-ms` escalates.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Intensity {
    pub restarts: u32,
    pub window_ms: u32,
    #[serde(default)]
    pub then: Escalation,
}

/// What happens when the intensity limit is reached.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Escalation {
    /// Leave the task stopped (detached) until asked to restart it.
    #[default]
    Hold,
    /// Restart the task's dependents too.
    RestartDependents,
    /// Reset the whole system.
    Reset,
}

/// The resolved policy for one (non-supervisor) task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Supervision {
    pub restart: Restart,
    /// Indices of the tasks this task depends on (its providers).
    pub depends_on: Vec<usize>,
    pub detach_deadline_ms: u32,
    pub backoff: Backoff,
    pub intensity: Option<Intensity>,
    pub watchdog_ms: Option<u32>,
    pub reset_peripherals: Vec<String>,
}

/// `detach-deadline-ms` when not given.
const DEFAULT_DETACH_DEADLINE_MS: u32 = 50;

/// The policy of a task without a `[tasks.<name>.supervision]` table: every default, and no
/// providers. The one place defaults live: the table as written defaults to the same values.
impl Default for Supervision {
    fn default() -> Self {
        let entry = SupervisionEntry::default();
        Supervision {
            restart: entry.restart,
            depends_on: Vec::new(),
            detach_deadline_ms: entry.detach_deadline_ms,
            backoff: entry.backoff,
            intensity: entry.intensity,
            watchdog_ms: entry.watchdog_ms,
            reset_peripherals: entry.reset_peripherals,
        }
    }
}

/// The `[tasks.<name>.supervision]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct SupervisionEntry {
    #[serde(default)]
    pub restart: Restart,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default = "default_deadline")]
    pub detach_deadline_ms: u32,
    #[serde(default)]
    pub backoff: Backoff,
    pub intensity: Option<Intensity>,
    pub watchdog_ms: Option<u32>,
    #[serde(default)]
    pub reset_peripherals: Vec<String>,
}

impl Default for SupervisionEntry {
    fn default() -> Self {
        SupervisionEntry {
            restart: Restart::default(),
            depends_on: Vec::new(),
            detach_deadline_ms: DEFAULT_DETACH_DEADLINE_MS,
            backoff: Backoff::default(),
            intensity: None,
            watchdog_ms: None,
            reset_peripherals: Vec::new(),
        }
    }
}

fn default_deadline() -> u32 {
    DEFAULT_DETACH_DEADLINE_MS
}

/// A dependency cycle, as task indices from a task back to itself (`[a, b, a]`), if the graph
/// `depends_on[i]` = providers of task `i` has one.
pub(super) fn find_cycle(depends_on: &[Vec<usize>]) -> Option<Vec<usize>> {
    #[derive(Copy, Clone, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit(
        task: usize,
        graph: &[Vec<usize>],
        marks: &mut [Mark],
        path: &mut Vec<usize>,
    ) -> Option<Vec<usize>> {
        marks[task] = Mark::OnPath;
        path.push(task);
        for &next in &graph[task] {
            match marks[next] {
                Mark::OnPath => {
                    let start = path.iter().position(|&t| t == next).unwrap_or(0);
                    let mut cycle = path[start..].to_vec();
                    cycle.push(next);
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks[task] = Mark::Done;
        None
    }
    let mut marks = vec![Mark::New; depends_on.len()];
    (0..depends_on.len()).find_map(|task| {
        if marks[task] == Mark::New {
            visit(task, depends_on, &mut marks, &mut Vec::new())
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_table_and_an_empty_one_resolve_to_the_same_defaults() {
        let empty: SupervisionEntry = toml::from_str("").unwrap();
        let d = Supervision::default();
        assert_eq!(
            (
                d.restart,
                d.detach_deadline_ms,
                d.backoff,
                d.intensity,
                d.watchdog_ms
            ),
            (
                empty.restart,
                empty.detach_deadline_ms,
                empty.backoff,
                empty.intensity,
                empty.watchdog_ms
            )
        );
        assert_eq!(
            (d.detach_deadline_ms, d.backoff.initial_ms, d.backoff.max_ms),
            (50, 10, 5000),
            "doc/app-toml.md gives these"
        );
    }

    #[test]
    fn acyclic_graphs_have_no_cycle() {
        assert_eq!(find_cycle(&[vec![], vec![0], vec![0, 1]]), None);
    }

    #[test]
    fn cycle_path_returns_to_its_start() {
        assert_eq!(
            find_cycle(&[vec![], vec![2], vec![3], vec![1]]),
            Some(vec![1, 2, 3, 1])
        );
        assert_eq!(find_cycle(&[vec![0]]), Some(vec![0, 0]));
    }
}
