//! A campaign's boots added up: the table a person reads and `report.json`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use super::boot::{Boot, FAILURE_CLASSES, OUTCOMES};
use super::rogue;

/// One failure, with what repeats it.
pub struct Found {
    pub boot: u32,
    pub kernel_seed: u32,
    pub class: &'static str,
    pub detail: String,
    pub fault: Option<u32>,
    /// The dump of the failing moment, or why there is none.
    pub dump: Option<String>,
}

pub struct Report {
    /// `--app NAME` for an image other than the default, as the repeat command needs it.
    pub app_flag: String,
    pub seed: u32,
    tasks: Vec<String>,
    wall: Duration,
    pub boots: u32,
    pub faults_injected: u64,
    /// (kind, outcome) -> count.
    outcomes: BTreeMap<(String, String), u64>,
    pub failures: BTreeMap<&'static str, u64>,
    pub found: Vec<Found>,
    restarts: BTreeMap<usize, u64>,
    late: u64,
    pub silent_corruptions: u64,
    /// Answers the workload checked and found right, where it reports them.
    pub verified: u64,
    pub torn: u64,
    pub keys_checked: u64,
    pub keys_lost: u64,
    pub serial_checked: u64,
    pub serial_lost: u64,
    pub serial_resyncs: u64,
    progress: u64,
    /// The rogue's activity, in an image that has one.
    pub rogue: Option<rogue::Tally>,
    /// Supervisor faults, and the resets and halts seen after them (a supervisor run).
    supervisor: [u64; 3],
}

impl Report {
    pub fn new(seed: u32, tasks: Vec<String>, wall: Duration) -> Report {
        Report {
            app_flag: String::new(),
            seed,
            tasks,
            wall,
            boots: 0,
            faults_injected: 0,
            outcomes: BTreeMap::new(),
            failures: FAILURE_CLASSES.iter().map(|&c| (c, 0)).collect(),
            found: Vec::new(),
            restarts: BTreeMap::new(),
            late: 0,
            silent_corruptions: 0,
            verified: 0,
            torn: 0,
            keys_checked: 0,
            keys_lost: 0,
            serial_checked: 0,
            serial_lost: 0,
            serial_resyncs: 0,
            progress: 0,
            rogue: None,
            supervisor: [0; 3],
        }
    }

    pub fn add(&mut self, index: u32, kernel_seed: u32, boot: Boot) {
        self.boots += 1;
        self.faults_injected += boot.faults.len() as u64;
        for (key, n) in boot.outcomes() {
            *self.outcomes.entry(key).or_insert(0) += n;
        }
        for (task, n) in boot.restarts() {
            *self.restarts.entry(task).or_insert(0) += n;
        }
        self.late += boot.late.len() as u64;
        self.silent_corruptions += u64::from(boot.silent_corruptions);
        self.verified += boot.verified;
        self.torn += u64::from(boot.torn);
        self.keys_checked += boot.keys_checked;
        self.keys_lost += boot.keys_lost;
        self.serial_checked += boot.serial_checked;
        self.serial_lost += boot.serial_lost;
        self.serial_resyncs += u64::from(boot.serial_resyncs);
        self.progress += boot.progress;
        for (sum, n) in self.supervisor.iter_mut().zip([
            boot.supervisor_faults,
            boot.supervisor_resets,
            boot.supervisor_halts,
        ]) {
            *sum += u64::from(n);
        }
        if let Some(total) = &mut self.rogue {
            total.add(&boot.rogue);
        }
        for f in boot.failures {
            *self.failures.entry(f.class).or_insert(0) += 1;
            self.found.push(Found {
                boot: index,
                kernel_seed,
                class: f.class,
                detail: f.detail,
                fault: f.fault,
                dump: boot.dump.clone(),
            });
        }
    }

    /// In a supervisor run: why it did not show the policy at every supervisor fault (none
    /// caught, or one that neither reset nor halted the system), if it did not.
    pub fn supervisor_policy_unseen(&self) -> Option<String> {
        match self.supervisor {
            [0, _, _] => Some("no fault of the supervisor was caught".into()),
            [f, r, h] if f != r + h => Some(format!(
                "{f} supervisor faults, but {r} system resets and {h} halts"
            )),
            _ => None,
        }
    }

    /// In a USB campaign (one whose workload checked blocks): the first of its workloads
    /// that checked nothing, which tested nothing.
    pub fn idle_usb_workload(&self) -> Option<String> {
        if self.verified == 0 {
            return None;
        }
        [
            ("keyboard", self.keys_checked),
            ("serial", self.serial_checked),
        ]
        .into_iter()
        .find(|&(_, n)| n == 0)
        .map(|(what, _)| format!("the {what} workload checked nothing"))
    }

    pub fn total_failures(&self) -> u64 {
        self.failures.values().sum()
    }

    fn task(&self, index: usize) -> &str {
        self.tasks.get(index).map_or("?", String::as_str)
    }

    fn kinds(&self) -> Vec<String> {
        let mut kinds: Vec<String> = self.outcomes.keys().map(|(k, _)| k.clone()).collect();
        kinds.dedup();
        kinds
    }

    /// The outcome columns: every known outcome, then any other that occurred.
    fn outcome_columns(&self) -> Vec<String> {
        let mut columns: Vec<String> = OUTCOMES.iter().map(|s| s.to_string()).collect();
        for (_, o) in self.outcomes.keys() {
            if !columns.contains(o) {
                columns.push(o.clone());
            }
        }
        columns
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        let columns = self.outcome_columns();
        writeln!(
            out,
            "\nfault campaign: seed {}, {} faults in {} boots, wall time {:.1} s",
            self.seed,
            self.faults_injected,
            self.boots,
            self.wall.as_secs_f64()
        )
        .unwrap();
        write!(out, "\n{:<10}", "kind").unwrap();
        for c in &columns {
            write!(out, " {c:>9}").unwrap();
        }
        writeln!(out, " {:>9}", "total").unwrap();
        for kind in self.kinds() {
            write!(out, "{kind:<10}").unwrap();
            let mut total = 0;
            for c in &columns {
                let n = self
                    .outcomes
                    .get(&(kind.clone(), c.clone()))
                    .copied()
                    .unwrap_or(0);
                total += n;
                write!(out, " {n:>9}").unwrap();
            }
            writeln!(out, " {total:>9}").unwrap();
        }
        writeln!(
            out,
            "\nlate activations (a latent fault caught later): {}",
            self.late
        )
        .unwrap();
        writeln!(
            out,
            "silent corruptions (a wrong answer while the fault was undetected): {}",
            self.silent_corruptions
        )
        .unwrap();
        writeln!(out, "workload replies: {}", self.progress).unwrap();
        if self.verified != 0 {
            writeln!(
                out,
                "checks passed (blocks read back right): {}",
                self.verified
            )
            .unwrap();
            writeln!(
                out,
                "torn blocks (a failed write left part of its data): {}",
                self.torn
            )
            .unwrap();
        }
        if self.keys_checked != 0 || self.keys_lost != 0 {
            writeln!(
                out,
                "keys in order: {}; keys lost across faults: {}",
                self.keys_checked, self.keys_lost
            )
            .unwrap();
        }
        if self.serial_checked != 0 || self.serial_resyncs != 0 {
            writeln!(
                out,
                "serial bytes looped back right: {}; lost across faults: {}; resynchronisations \
                 after a failed call: {}",
                self.serial_checked, self.serial_lost, self.serial_resyncs
            )
            .unwrap();
        }
        if let Some(rogue) = &self.rogue {
            writeln!(out, "{}", rogue.summary()).unwrap();
        }
        let [faults, resets, halts] = self.supervisor;
        if faults != 0 {
            writeln!(
                out,
                "supervisor faults: {faults}; the policy seen: {resets} system resets, {halts} halts"
            )
            .unwrap();
        }
        writeln!(out, "\nrestarts per task:").unwrap();
        for (task, n) in &self.restarts {
            writeln!(out, "  {:<12} {n}", self.task(*task)).unwrap();
        }
        writeln!(out, "\nfailures by class:").unwrap();
        for (class, n) in &self.failures {
            writeln!(out, "  {class:<18} {n}").unwrap();
        }
        for f in &self.found {
            writeln!(
                out,
                "FAILURE {}: {} (boot {}, kernel seed {:#x}, after fault {}); repeat with \
                 `cargo xtask campaign{} --seed {} --boot {}`",
                f.class,
                f.detail,
                f.boot,
                f.kernel_seed,
                f.fault.map_or("none".to_string(), |n| n.to_string()),
                self.app_flag,
                self.seed,
                f.boot
            )
            .unwrap();
            if let Some(dump) = &f.dump {
                writeln!(out, "  {dump}").unwrap();
            }
        }
        out
    }

    pub fn json(&self) -> String {
        let mut outcomes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut mix: BTreeMap<String, u64> = BTreeMap::new();
        for ((kind, outcome), n) in &self.outcomes {
            *outcomes
                .entry(kind.clone())
                .or_default()
                .entry(outcome.clone())
                .or_insert(0) += n;
            *mix.entry(kind.clone()).or_insert(0) += n;
        }
        let restarts: BTreeMap<&str, u64> = self
            .restarts
            .iter()
            .map(|(t, n)| (self.task(*t), *n))
            .collect();
        let found: Vec<Value> = self
            .found
            .iter()
            .map(|f| {
                json!({
                    "class": f.class, "detail": f.detail, "boot": f.boot,
                    "kernel_seed": f.kernel_seed, "fault": f.fault,
                })
            })
            .collect();
        let rogue = self
            .rogue
            .as_ref()
            .map(|r| json!({ "counts": r.counts, "incarnations_ended": r.faults }));
        serde_json::to_string_pretty(&json!({
            "seed": self.seed,
            "boots": self.boots,
            "faults_injected": self.faults_injected,
            "wall_seconds": self.wall.as_secs_f64(),
            "mix": mix,
            "outcomes": outcomes,
            "failures": self.failures,
            "failure_details": found,
            "late_activations": self.late,
            "silent_corruptions": self.silent_corruptions,
            "restarts": restarts,
            "workload_replies": self.progress,
            "checks_passed": self.verified,
            "torn_writes": self.torn,
            "keys_checked": self.keys_checked,
            "keys_lost": self.keys_lost,
            "serial_bytes_checked": self.serial_checked,
            "serial_bytes_lost": self.serial_lost,
            "serial_resyncs": self.serial_resyncs,
            "rogue": rogue,
            "supervisor": {
                "faults": self.supervisor[0],
                "resets": self.supervisor[1],
                "halts": self.supervisor[2],
            },
        }))
        .expect("a JSON value always serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::boot::Image;

    fn boot(kernel: &str) -> Boot {
        let image = Image {
            targets: &[1],
            answered_by: &[],
            rogue: None,
        };
        Boot::parse(&image, kernel, &[], false).unwrap()
    }

    #[test]
    fn every_failure_class_is_in_the_json_even_at_zero() {
        let mut report = Report::new(3, vec!["jefe".into(), "pong".into()], Duration::ZERO);
        report.add(0, 7, boot("FI 1 50 1 panic - -\nFO 1 50 panic\nFE 1 10\n"));
        let v: Value = serde_json::from_str(&report.json()).unwrap();
        assert_eq!(v["faults_injected"], 1);
        for class in FAILURE_CLASSES {
            assert_eq!(v["failures"][class], 0, "{class}");
        }
        assert_eq!(v["restarts"]["pong"], 1);
        assert_eq!(report.total_failures(), 0);
    }

    #[test]
    fn a_failure_is_counted_and_printed_with_what_repeats_it() {
        let mut report = Report::new(3, vec!["jefe".into(), "pong".into()], Duration::ZERO);
        report.add(
            4,
            0x30004,
            boot("FI 9 50 1 stop 0x6000 -\nFX hang 3 700\nFE 9 10\n"),
        );
        assert_eq!(report.failures["hang"], 1);
        let table = report.table();
        assert!(
            table.contains("after fault 9")
                && table.contains("cargo xtask campaign --seed 3 --boot 4"),
            "{table}"
        );
    }
}
