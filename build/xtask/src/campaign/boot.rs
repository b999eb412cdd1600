//! One boot of a campaign image, read back: the kernel's report lines (semihosting, see
//! `sys/kern/src/inject.rs`) and the workload's console lines, turned into faults with their
//! outcomes and failures by class.

use std::collections::BTreeMap;

use super::rogue;

/// Failure classes, each counted in `report.json` even when zero.
pub const FAILURE_CLASSES: [&str; 11] = [
    "kernel-fault",
    "supervisor-fault",
    "system-reset",
    "hang",
    "corruption",
    // Keys or looped-back bytes that never arrived though no fault was in flight and none
    // was undetected: a healthy stack lost input.
    "unexplained-loss",
    "wrong-incarnation",
    "held",
    // A task that was not a target faulted: a fault spread beyond its driver.
    "collateral-fault",
    // The boot ended without the kernel's last line (QEMU died or the wall-clock limit
    // passed): nothing can be said about it, so it fails.
    "lost-boot",
    // jefe ran a `restart`, `unload`, `load` or `inject_fault` for the rogue, which app.toml
    // does not allow to call them.
    "privilege",
];

/// How long before a loss's window a fault still explains it. T0 is when the last key in
/// order reached the workload, which can be a round of its loop (a few to tens of ms) after
/// the driver logged it: a fault caught just before T0 may have lost the keys after it.
const LOSS_SLACK_MS: u64 = 100;

/// Outcomes a fault can have, in table order.
pub const OUTCOMES: [&str; 11] = [
    "latent",
    "delayed",
    "mpu",
    "bus",
    "cpu",
    "protocol",
    "panic",
    "watchdog",
    "deadline",
    "restarted",
    "skipped",
];

/// Outcomes that mean the target was caught faulting (and is restarted by its supervisor).
pub fn is_caught(outcome: &str) -> bool {
    !matches!(outcome, "latent" | "delayed" | "restarted" | "skipped")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    pub n: u32,
    pub tick: u64,
    pub task: usize,
    pub kind: String,
    pub detail: String,
    pub outcome: Option<String>,
    pub resolved_at: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub class: &'static str,
    /// What happened; at a hang or held failure followed by every task's state.
    pub detail: String,
    /// The last fault injected before the failure, if any.
    pub fault: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Boot {
    pub faults: Vec<Fault>,
    pub failures: Vec<Failure>,
    /// Faults of a target outside any injection's window (a latent fault activating late),
    /// by task and outcome.
    pub late: Vec<(usize, String)>,
    /// Wrong answers reported as success while a fault injected into the answering server
    /// was still undetected: what no check can see (counted, not failed).
    pub silent_corruptions: u32,
    /// Checks the workload reported passing (`campaign: verified N`, the last N seen): a
    /// workload that never gets an answer to check is not testing anything.
    pub verified: u64,
    /// Blocks a failed (unacknowledged) write left torn (`campaign: torn ...`): allowed, as
    /// a failed SCSI WRITE leaves its blocks indeterminate, but counted.
    pub torn: u32,
    /// The keyboard's key presses the workload found in order (`campaign: keys checked N`).
    pub keys_checked: u64,
    /// Bytes the serial workload read back right (`campaign: serial checked N`).
    pub serial_checked: u64,
    /// Keys and looped-back bytes lost while a fault was in flight or undetected
    /// (`campaign: lost WHAT N ...`): counted, not failed.
    pub keys_lost: u64,
    pub serial_lost: u64,
    /// Times the serial workload abandoned its chunk at a failed call and resynchronised
    /// the stream (`campaign: resync serial ...`, once per run of failed calls).
    pub serial_resyncs: u32,
    /// Replies the workload received (the kernel's count).
    pub progress: u64,
    pub ended: bool,
    /// Each task's state as the kernel saw it at a hang or held failure (`FS` lines).
    pub states: Vec<String>,
    /// Where the dump of a failure is (or why there is none): the runner's replay.
    pub dump: Option<String>,
    /// What the rogue did, in an image that has one.
    pub rogue: rogue::Tally,
    /// A supervisor run (`supervisor-run`): jefe's faults (`FV`), and the policy seen to
    /// act on them: the next boot's reset (`FR`) or the kernel's halt (`FH`).
    pub supervisor_faults: u32,
    pub supervisor_resets: u32,
    pub supervisor_halts: u32,
}

/// What the parser needs to know of the image.
pub struct Image<'a> {
    pub targets: &'a [usize],
    /// Which targets answer each operation the workload reports (`ping` -> pong's index); an
    /// operation may pass through several (a disk block through every USB layer).
    pub answered_by: &'a [(&'a str, usize)],
    /// The rogue task (`test/task/campaign-rogue`), whose faults are its job, not a spread.
    pub rogue: Option<usize>,
}

fn field<'a>(words: &[&'a str], i: usize, line: &str) -> Result<&'a str, String> {
    words
        .get(i)
        .copied()
        .ok_or_else(|| format!("kernel report line too short: \"{line}\""))
}

fn number<T: std::str::FromStr>(words: &[&str], i: usize, line: &str) -> Result<T, String> {
    field(words, i, line)?
        .parse()
        .map_err(|_| format!("kernel report line: field {i} is not a number: \"{line}\""))
}

impl Boot {
    /// Counts the rogue's moves (its serial port); a privileged jefe call it made that was
    /// not refused is a failure.
    pub fn add_rogue_moves(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut moves = rogue::Tally::default();
        moves.add_moves(bytes)?;
        let obeyed = moves.count("obeyed");
        if obeyed > 0 {
            self.fail(
                "privilege",
                format!(
                    "jefe did not refuse {obeyed} privileged call(s) of the rogue, which \
                     app.toml does not allow to make them"
                ),
            );
        }
        self.rogue.add(&moves);
        Ok(())
    }

    fn last_fault(&self) -> Option<u32> {
        self.faults.last().map(|f| f.n)
    }

    fn fail(&mut self, class: &'static str, detail: String) {
        let fault = self.last_fault();
        self.failures.push(Failure {
            class,
            detail,
            fault,
        });
    }

    /// Parses a boot's kernel report and console. `timed_out`: the wall-clock limit ended
    /// the boot.
    pub fn parse(
        image: &Image<'_>,
        kernel: &str,
        console: &[String],
        timed_out: bool,
    ) -> Result<Boot, String> {
        let mut boot = Boot::default();
        for line in kernel.lines().filter(|l| !l.trim().is_empty()) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[0] {
                "FI" => boot.faults.push(Fault {
                    n: number(&words, 1, line)?,
                    tick: number(&words, 2, line)?,
                    task: number(&words, 3, line)?,
                    kind: field(&words, 4, line)?.to_string(),
                    detail: words.get(5..).unwrap_or_default().join(" "),
                    outcome: None,
                    resolved_at: None,
                }),
                "FO" => {
                    let n: u32 = number(&words, 1, line)?;
                    let fault = boot
                        .faults
                        .iter_mut()
                        .rev()
                        .find(|f| f.n == n)
                        .ok_or_else(|| format!("outcome of a fault never injected: \"{line}\""))?;
                    fault.resolved_at = Some(number(&words, 2, line)?);
                    fault.outcome = Some(field(&words, 3, line)?.to_string());
                }
                "FC" => {
                    let task: usize = number(&words, 1, line)?;
                    let outcome = field(&words, 2, line)?.to_string();
                    if image.targets.contains(&task) {
                        boot.late.push((task, outcome));
                    } else if image.rogue == Some(task) {
                        *boot.rogue.faults.entry(outcome).or_insert(0) += 1;
                    } else {
                        let detail = match spread_fault(&words[3..]) {
                            Some(fault) => format!("task {task} faulted ({outcome}: {fault:?})"),
                            None => format!("task {task} faulted ({outcome})"),
                        };
                        boot.fail("collateral-fault", detail);
                    }
                }
                "FX" => {
                    let class = match field(&words, 1, line)? {
                        "kernel-fault" => "kernel-fault",
                        "supervisor-fault" => "supervisor-fault",
                        "reset" => "system-reset",
                        "hang" => "hang",
                        "held" => "held",
                        "wrong-incarnation" => "wrong-incarnation",
                        other => {
                            return Err(format!("unknown failure class \"{other}\": \"{line}\""));
                        }
                    };
                    let detail = match (class, &words[2..]) {
                        ("hang", [task, tick]) => {
                            format!("task {task} (the workload) got no reply by tick {tick}")
                        }
                        ("held", [task]) => format!("task {task} did not run again"),
                        ("system-reset", [code]) => {
                            format!("the boot began with reset reason {code} (abi::ResetReason)")
                        }
                        ("wrong-incarnation", [client, generation]) => format!(
                            "task {client} was answered by generation {generation} of a server \
                             its message had not reached"
                        ),
                        (_, rest) => rest.join(" "),
                    };
                    boot.fail(class, detail);
                }
                "FV" => boot.supervisor_faults += 1,
                "FR" => boot.supervisor_resets += 1,
                "FH" => boot.supervisor_halts += 1,
                "FS" => boot.states.push(format!(
                    "task {} {}",
                    field(&words, 1, line)?,
                    words[2..].join(" ")
                )),
                "FE" => {
                    boot.progress = number(&words, 2, line)?;
                    boot.ended = true;
                }
                _ => return Err(format!("unknown kernel report line \"{line}\"")),
            }
        }
        for line in console {
            if let Some(rest) = line.strip_prefix("campaign: corrupt ") {
                boot.corruption(image, rest, line)?;
            } else if let Some(rest) = line.strip_prefix("campaign: lost ") {
                boot.loss(image, rest, line)?;
            } else if line.starts_with("campaign: torn ") {
                boot.torn += 1;
            } else if line.starts_with("campaign: resync serial ") {
                boot.serial_resyncs += 1;
            } else if let Some(n) = line.strip_prefix("campaign: verified ") {
                boot.verified = count(n, line)?;
            } else if let Some(n) = line.strip_prefix("campaign: keys checked ") {
                boot.keys_checked = count(n, line)?;
            } else if let Some(n) = line.strip_prefix("campaign: serial checked ") {
                boot.serial_checked = count(n, line)?;
            }
        }
        if !boot.states.is_empty()
            && let Some(last) = boot.failures.last_mut()
        {
            last.detail = format!("{}; states: {}", last.detail, boot.states.join(", "));
        }
        if !boot.ended {
            let why = if timed_out {
                "the wall-clock limit passed"
            } else {
                "QEMU exited"
            };
            boot.fail("lost-boot", format!("{why} before the kernel's last line"));
        }
        Ok(boot)
    }

    /// `WHAT round R tick T`: silent if the server that answered still carried a fault the
    /// system had not detected at tick T; a failure if every fault injected into it had been
    /// caught (and so its incarnation replaced) before.
    fn corruption(&mut self, image: &Image<'_>, rest: &str, line: &str) -> Result<(), String> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (what, tick) = match words.as_slice() {
            [what, "round", _, "tick", tick] => (
                *what,
                tick.parse::<u64>()
                    .map_err(|_| format!("console: bad tick in \"{line}\""))?,
            ),
            _ => return Err(format!("console: malformed corruption report \"{line}\"")),
        };
        let servers = servers_of(image, what, line)?;
        if servers.iter().any(|&server| self.undetected(server, tick)) {
            self.silent_corruptions += 1;
        } else {
            let fault = self.faults.iter().rfind(|f| f.tick <= tick).map(|f| f.n);
            self.failures.push(Failure {
                class: "corruption",
                detail: format!("{what} answered wrongly at tick {tick} by a clean incarnation"),
                fault,
            });
        }
        Ok(())
    }

    /// Whether `task` still carried a fault the system had not detected at `tick`: its last
    /// fault injected by then was not caught before it (in flight, latent, or resolved
    /// otherwise).
    fn undetected(&self, task: usize, tick: u64) -> bool {
        self.faults
            .iter()
            .rfind(|f| f.task == task && f.tick <= tick)
            .is_some_and(|f| match (&f.outcome, f.resolved_at) {
                (Some(outcome), Some(at)) => !(is_caught(outcome) && at < tick),
                _ => true,
            })
    }

    /// `WHAT N since T0 tick T`: N keys or bytes that never arrived between T0 and T. Lost
    /// across a fault if some target had a fault in flight in that window (injected by T,
    /// resolved at T0 - [`LOSS_SLACK_MS`] or later: the workload is one task, so a driver
    /// that holds it holds every workload), or a task on WHAT's path carried an undetected
    /// fault at T0 (as for a silent corruption); otherwise the stack lost it healthy, a
    /// failure.
    fn loss(&mut self, image: &Image<'_>, rest: &str, line: &str) -> Result<(), String> {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let [what, n, "since", since, "tick", tick] = words.as_slice() else {
            return Err(format!("console: malformed loss report \"{line}\""));
        };
        let number = |w: &str| {
            w.parse::<u64>()
                .map_err(|_| format!("console: bad number in \"{line}\""))
        };
        let (n, since, tick) = (number(n)?, number(since)?, number(tick)?);
        let path = servers_of(image, what, line)?;
        let in_flight = self.faults.iter().any(|f| {
            image.targets.contains(&f.task)
                && f.tick <= tick
                && f.resolved_at.is_none_or(|at| at + LOSS_SLACK_MS >= since)
        });
        if in_flight || path.iter().any(|&task| self.undetected(task, since)) {
            match *what {
                "keys" => self.keys_lost += n,
                _ => self.serial_lost += n,
            }
        } else {
            let fault = self.faults.iter().rfind(|f| f.tick <= tick).map(|f| f.n);
            self.failures.push(Failure {
                class: "unexplained-loss",
                detail: format!(
                    "{n} {what} lost between ticks {since} and {tick} with no fault in flight"
                ),
                fault,
            });
        }
        Ok(())
    }

    /// Faults by kind, then outcome.
    pub fn outcomes(&self) -> BTreeMap<(String, String), u64> {
        let mut table = BTreeMap::new();
        for f in &self.faults {
            let outcome = f.outcome.clone().unwrap_or_else(|| "unresolved".into());
            *table.entry((f.kind.clone(), outcome)).or_insert(0) += 1;
        }
        table
    }

    /// Restarts of each target the faults caused: one per caught fault and late activation.
    /// The supervisor (task 0) is never restarted: its caught fault resets or halts the
    /// system, which `supervisor_resets` and `supervisor_halts` count.
    pub fn restarts(&self) -> BTreeMap<usize, u64> {
        let mut restarts = BTreeMap::new();
        for f in &self.faults {
            if f.task != 0 && f.outcome.as_deref().is_some_and(is_caught) {
                *restarts.entry(f.task).or_insert(0) += 1;
            }
        }
        for (task, _) in &self.late {
            *restarts.entry(*task).or_insert(0) += 1;
        }
        restarts
    }
}

/// The tasks `answered_by` names for the workload's operation `what`.
fn servers_of(image: &Image<'_>, what: &str, line: &str) -> Result<Vec<usize>, String> {
    let servers: Vec<usize> = image
        .answered_by
        .iter()
        .filter(|(op, _)| *op == what)
        .map(|&(_, task)| task)
        .collect();
    if servers.is_empty() {
        return Err(format!("console: unknown operation in \"{line}\""));
    }
    Ok(servers)
}

/// The count a workload's `campaign: ... N` line ends with.
fn count(n: &str, line: &str) -> Result<u64, String> {
    n.trim()
        .parse()
        .map_err(|_| format!("console: bad count in \"{line}\""))
}

/// The fault an `FC` line carries after its outcome (`FaultInfo::encode`'s words: the tag in
/// decimal, the two payload words in hex), or `None` for a line without them.
fn spread_fault(words: &[&str]) -> Option<abi::FaultInfo> {
    let [tag, a, b] = words else { return None };
    let hex = |w: &str| u32::from_str_radix(w.strip_prefix("0x")?, 16).ok();
    abi::FaultInfo::decode([tag.parse().ok()?, hex(a)?, hex(b)?])
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMAGE: Image<'static> = Image {
        targets: &[1, 2],
        answered_by: &[("ping", 2), ("echo", 2), ("server-ping", 1)],
        rogue: Some(4),
    };

    fn parse(kernel: &str, console: &[&str]) -> Boot {
        let console: Vec<String> = console.iter().map(|s| s.to_string()).collect();
        Boot::parse(&IMAGE, kernel, &console, false).expect("parses")
    }

    #[test]
    fn faults_get_their_outcomes_and_a_clean_boot_has_no_failure() {
        let boot = parse(
            "FI 1 50 2 ram 0x20005000 3\nFO 1 55 latent\nFI 2 57 1 stop 0x0000603a -\n\
             FO 2 88 watchdog\nFE 2 1234\n",
            &[],
        );
        assert_eq!(boot.faults.len(), 2);
        assert_eq!(boot.faults[1].outcome.as_deref(), Some("watchdog"));
        assert_eq!(boot.failures, vec![]);
        assert_eq!(boot.progress, 1234);
        assert_eq!(boot.restarts(), BTreeMap::from([(1, 1)]));
    }

    #[test]
    fn kernel_failures_are_classed_and_name_the_last_fault() {
        let boot = parse(
            "FI 7 90 2 register pc 3\nFS 2 detached\nFS 3 awaiting-reply-from 2\nFX held 2\nFE 7 10\n",
            &[],
        );
        assert_eq!(
            boot.failures,
            vec![Failure {
                class: "held",
                detail: "task 2 did not run again; states: task 2 detached, \
                         task 3 awaiting-reply-from 2"
                    .into(),
                fault: Some(7)
            }]
        );
        let boot = parse("FX reset 4\nFE 0 0\n", &[]);
        assert_eq!(boot.failures[0].class, "system-reset");
    }

    #[test]
    fn a_boot_without_its_last_line_is_lost() {
        let boot = parse("FI 1 50 2 panic - -\n", &[]);
        assert_eq!(boot.failures[0].class, "lost-boot");
    }

    #[test]
    fn a_fault_of_a_task_that_is_not_a_target_spread() {
        let boot = parse("FC 3 mpu\nFC 2 panic\nFE 0 0\n", &[]);
        assert_eq!(boot.failures.len(), 1);
        assert_eq!(boot.failures[0].class, "collateral-fault");
        assert_eq!(boot.late, vec![(2, "panic".to_string())]);
    }

    #[test]
    fn a_supervisor_fault_ends_the_boot_by_its_policy_or_the_boot_is_lost() {
        let reset = parse(
            "FI 3 90 0 panic - -\nFO 3 90 panic\nFV panic\nFR 3\nFE 0 0\n",
            &[],
        );
        assert_eq!(reset.failures, vec![]);
        assert_eq!((reset.supervisor_faults, reset.supervisor_resets), (1, 1));
        let halt = parse("FV mpu\nFH\nFE 4 10\n", &[]);
        assert_eq!((halt.supervisor_halts, halt.failures.len()), (1, 0));
        // A stopped supervisor, caught by the hardware watchdog's reset.
        let stuck = parse(
            "FI 2 60 0 stop 0x00010000 -\nFO 2 262 watchdog\nFV watchdog\nFR 6\nFE 0 0\n",
            &[],
        );
        assert_eq!(stuck.failures, vec![]);
        assert_eq!((stuck.supervisor_faults, stuck.supervisor_resets), (1, 1));
        // A supervisor fault after which nothing ended the boot: silence is a failure.
        let silent = parse("FV panic\n", &[]);
        assert_eq!(silent.failures[0].class, "lost-boot");
    }

    #[test]
    fn a_privileged_call_jefe_obeyed_fails_the_boot() {
        let mut boot = Boot::default();
        boot.add_rogue_moves(b"cocopxpx").unwrap();
        assert!(boot.failures.is_empty());
        assert_eq!(boot.rogue.count("refused"), 2);
        boot.add_rogue_moves(b"pO").unwrap();
        assert_eq!(boot.failures.len(), 1);
        assert_eq!(boot.failures[0].class, "privilege");
    }

    #[test]
    fn the_rogues_faults_are_counted_not_failed() {
        let boot = parse(
            "FC 4 protocol 3 0x00000000 0x00000000\nFC 4 mpu\nFE 0 0\n",
            &[],
        );
        assert_eq!(boot.failures, vec![]);
        assert_eq!(boot.rogue.faults.values().sum::<u64>(), 2);
    }

    #[test]
    fn a_spread_fault_names_what_faulted_the_task() {
        let boot = parse("FC 3 protocol 11 0x00000002 0x00000002\nFE 0 0\n", &[]);
        assert!(
            boot.failures[0]
                .detail
                .contains("FromServer(TaskId(2), BadMessageContents)"),
            "{}",
            boot.failures[0].detail
        );
    }

    #[test]
    fn a_wrong_answer_under_an_undetected_fault_is_silent_but_from_a_clean_incarnation_fails() {
        let kernel = "FI 1 50 2 register r4 3\nFO 1 55 latent\nFI 2 60 2 panic - -\n\
                      FO 2 60 panic\nFI 3 70 1 ram 0x20001000 1\nFO 3 75 latent\nFE 3 9\n";
        // Tick 52: pong's r4 flip was in flight.
        let boot = parse(kernel, &["campaign: corrupt ping round 5 tick 52"]);
        assert_eq!((boot.silent_corruptions, boot.failures.len()), (1, 0));
        // Tick 72: pong's last fault was caught at 60 and it was restarted since.
        let boot = parse(kernel, &["campaign: corrupt echo round 9 tick 72"]);
        assert_eq!(boot.silent_corruptions, 0);
        assert_eq!(boot.failures[0].class, "corruption");
        assert_eq!(boot.failures[0].fault, Some(3));
        // A wrong answer from a server no fault was ever injected into fails too.
        let boot = parse(
            "FE 0 0\n",
            &["campaign: corrupt server-ping round 1 tick 3"],
        );
        assert_eq!(boot.failures[0].class, "corruption");
    }

    #[test]
    fn a_loss_in_a_faults_window_is_counted_and_one_with_no_fault_fails() {
        // Task 1 on the keys' path, task 2 a target off it; task 3's fault is long caught.
        let image = Image {
            targets: &[1, 2, 3],
            answered_by: &[("keys", 1), ("keys", 3), ("serial", 3)],
            rogue: None,
        };
        let kernel = "FI 1 100 3 panic - -\nFO 1 100 panic\nFI 2 500 2 panic - -\n\
                      FO 2 500 panic\nFI 3 900 1 ram 0x20001000 1\nFO 3 905 latent\nFE 3 9\n";
        let parse = |console: &[&str]| {
            let console: Vec<String> = console.iter().map(|s| s.to_string()).collect();
            Boot::parse(&image, kernel, &console, false).expect("parses")
        };
        // Task 2's panic at 500 held the one workload task: any target explains it.
        let boot = parse(&["campaign: lost keys 3 since 490 tick 520"]);
        assert_eq!((boot.keys_lost, boot.failures.len()), (3, 0));
        // Caught at 500, just before the last key in order reached the workload at 560.
        let boot = parse(&["campaign: lost keys 1 since 560 tick 580"]);
        assert_eq!((boot.keys_lost, boot.failures.len()), (1, 0));
        // Task 1 carries its latent flip from 900 on: silent, counted.
        let boot = parse(&["campaign: lost keys 2 since 1100 tick 1120"]);
        assert_eq!((boot.keys_lost, boot.failures.len()), (2, 0));
        // Nothing in flight at 700-720, and task 3's only fault was caught at 100.
        let boot = parse(&["campaign: lost serial 40 since 700 tick 720"]);
        assert_eq!(boot.serial_lost, 0);
        assert_eq!(boot.failures[0].class, "unexplained-loss");
        assert_eq!(boot.failures[0].fault, Some(2));
        // Task 1's latent flip does not explain a serial loss: task 1 is not on its path.
        let boot = parse(&["campaign: lost serial 5 since 1100 tick 1120"]);
        assert_eq!(boot.failures[0].class, "unexplained-loss");
        let err = Boot::parse(&image, kernel, &["campaign: lost keys x".into()], false);
        assert!(err.unwrap_err().contains("lost keys x"));
    }

    #[test]
    fn the_workloads_counts_are_their_last_lines() {
        let boot = parse(
            "FE 0 0\n",
            &[
                "campaign: verified 64",
                "campaign: keys checked 64",
                "campaign: keys checked 128",
                "campaign: serial checked 2048",
                "campaign: resync serial round 7 tick 90",
            ],
        );
        assert_eq!(
            (boot.verified, boot.keys_checked, boot.serial_checked),
            (64, 128, 2048)
        );
        assert_eq!(boot.serial_resyncs, 1);
    }

    #[test]
    fn malformed_lines_are_refused_with_the_line() {
        let console: Vec<String> = vec![];
        let err = Boot::parse(&IMAGE, "FI 1 x\n", &console, false).unwrap_err();
        assert!(err.contains("FI 1 x"), "{err}");
        let err = Boot::parse(&IMAGE, "FX melted\n", &console, false).unwrap_err();
        assert!(err.contains("melted"), "{err}");
    }
}
