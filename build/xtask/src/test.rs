//! `cargo xtask test [FILTER]`: every host test, then every QEMU system-test image.
//!
//! Host tests are `cargo test` over every workspace package that builds on the host.
//! System-test images report over their console with one line per test:
//!
//! ```text
//! TEST <name> ok
//! TEST <name> FAIL <why>
//! TESTS DONE
//! ```
//!
//! `restart-test` runs ([`RESTART_TESTS`]) drive `cargo xtask restart-test` on an app and
//! expect it healthy, or, on the broken-driver app, failing with one named anomaly at one
//! cycle.
//!
//! Each image declares the tests it must report in its `app.toml`, under `expected-tests`
//! (see `doc/app-toml.md`). The runner fails an image that hangs (no `TESTS DONE` before its
//! timeout), prints a line it does not expect (`FAULT ...` from a test supervisor, a kernel
//! epitaph), never reports a declared test, reports one twice, or reports a test it does not
//! declare: a test that silently stops running, or one added without being declared, is
//! caught here rather than passing unseen. The last line printed is `N passed, N failed`; the
//! exit status is non-zero on any failure.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::restart_test::{self, Anomaly, Trigger};
use crate::{Error, campaign, cargo, dist, qemu};

/// A QEMU system-test image: an app and the tests it must report.
pub struct SystemImage {
    pub app: &'static str,
    pub timeout: Duration,
    /// Extra QEMU arguments for this image.
    pub qemu_args: &'static [&'static str],
}

/// The timeouts are wall-clock hang detectors, about three times what each image takes on an
/// idle 2-core machine: a machine busy with other builds must not be mistaken for a hang.
pub const SYSTEM_IMAGES: &[SystemImage] = &[
    SystemImage {
        app: "kernel-tests",
        timeout: Duration::from_secs(240),
        qemu_args: &[],
    },
    SystemImage {
        app: "idol-tests",
        timeout: Duration::from_secs(120),
        qemu_args: &[],
    },
    SystemImage {
        app: "jefe-tests",
        timeout: Duration::from_secs(180),
        qemu_args: &[],
    },
    SystemImage {
        app: "usb-tests",
        // 200 restarts of usb-msc under load and a mebibyte through it: about 100 s on an
        // idle host, over 220 s on one shared by four builds; the margin is for such hosts.
        timeout: Duration::from_secs(360),
        // Virtual time from the instruction count, not the host's clock: the simulated bus
        // runs on the kernel's ticks, and a host that stalls QEMU (a loaded machine) would
        // otherwise move the frame number between two register accesses of usb-hcd that
        // are microseconds apart in the guest, which the model rightly flags. `sleep=off`:
        // while every task waits on a timer, virtual time jumps to the next deadline instead
        // of waiting for the host's clock to catch up (same instruction counts, same
        // results, the restart tests' waits cost no wall time).
        qemu_args: &["-icount", "shift=0,sleep=off"],
    },
];

/// A `restart-test` run and what it must find.
pub struct RestartTest {
    pub name: &'static str,
    pub app: &'static str,
    pub tasks: &'static [&'static str],
    pub cycles: u32,
    pub trigger: Trigger,
    /// `None`: no anomaly. `Some((cycles, check))`: exactly one anomaly, at one of those
    /// cycles, that `check` accepts. A range where the anomaly shows either during the cycle
    /// or in the quiet time after it, which a tick of timing decides (see the module doc of
    /// `restart_test`).
    pub expect: Option<ExpectedAnomaly>,
}

/// The cycles at which the one expected anomaly may show, and the check that accepts it.
pub type ExpectedAnomaly = (std::ops::RangeInclusive<u32>, fn(&Anomaly) -> bool);

pub const RESTART_TESTS: &[RestartTest] = &[
    RestartTest {
        name: "qemu-m7::restart",
        app: "qemu-m7",
        tasks: &[
            "console", "pong", "ping", "usb-msc", "usb-hid", "usb-cdc", "usb-hub", "usb-core",
            "usb-hcd", "idle",
        ],
        cycles: 2,
        trigger: Trigger::Restart,
        expect: None,
    },
    RestartTest {
        name: "qemu-m7::fault",
        app: "qemu-m7",
        tasks: &[
            "pong", "usb-msc", "usb-hid", "usb-cdc", "usb-hub", "usb-core", "usb-hcd",
        ],
        cycles: 2,
        trigger: Trigger::Fault,
        expect: None,
    },
    RestartTest {
        name: "qemu-m7::unload-load",
        app: "qemu-m7",
        // Not idle: the supervisor refuses to unload it (nothing would be left to run).
        tasks: &[
            "console", "pong", "ping", "usb-msc", "usb-hid", "usb-cdc", "usb-hub", "usb-core",
            "usb-hcd",
        ],
        cycles: 1,
        trigger: Trigger::UnloadLoad,
        expect: None,
    },
    RestartTest {
        // `fragile` is sound until its third restart; two hangs are caught by its watchdog.
        name: "restart-broken::hang_is_ended_by_the_watchdog",
        app: "restart-broken",
        tasks: &["fragile"],
        cycles: 2,
        trigger: Trigger::Hang,
        expect: None,
    },
    RestartTest {
        name: "restart-broken::dependent_lets_go_and_rebinds",
        app: "restart-broken",
        tasks: &["provider"],
        cycles: 2,
        trigger: Trigger::Restart,
        expect: None,
    },
    RestartTest {
        name: "restart-broken::deaf_dependent_does_not_let_go",
        app: "restart-broken",
        tasks: &["shunned"],
        cycles: 2,
        trigger: Trigger::Restart,
        expect: Some((
            1..=1,
            |a| matches!(a, Anomaly::DidNotLetGo { dependent, provider } if dependent == "deaf" && provider == "shunned"),
        )),
    },
    RestartTest {
        name: "restart-broken::forgets_registration",
        app: "restart-broken",
        tasks: &["forgetful"],
        cycles: 2,
        trigger: Trigger::Restart,
        expect: Some((
            1..=2,
            |a| matches!(a, Anomaly::NoProgress { task, variable, .. } if task == "registry" && variable == "ACCEPTED"),
        )),
    },
    RestartTest {
        name: "restart-broken::faults_a_bystander",
        app: "restart-broken",
        tasks: &["clumsy"],
        cycles: 2,
        trigger: Trigger::Restart,
        expect: Some((
            1..=1,
            |a| matches!(a, Anomaly::Faulted { task, fault } if task == "bystander" && fault == "Panic"),
        )),
    },
    RestartTest {
        name: "restart-broken::hangs_after_three",
        app: "restart-broken",
        tasks: &["fragile"],
        cycles: 4,
        trigger: Trigger::Restart,
        expect: Some((
            3..=3,
            |a| matches!(a, Anomaly::Hung { task } if task == "fragile"),
        )),
    },
];

#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, ok: bool, why: &str) {
        if ok {
            self.passed += 1;
            println!("test {name} ... ok");
        } else {
            self.failed += 1;
            println!("test {name} ... FAILED {why}");
            self.failures.push(format!("{name}: {why}"));
        }
    }
}

pub fn run(filter: Option<&str>) -> Result<bool, Error> {
    cargo::ensure_firmware_target()?;
    qemu::ensure_qemu()?;
    let mut tally = Tally::default();
    format_check(&mut tally)?;
    if filter.is_none_or(|f| "clippy".contains(f)) {
        clippy_check(&mut tally)?;
    }
    host_tests(filter, &mut tally)?;
    for image in SYSTEM_IMAGES {
        system_image(image, filter, &mut tally)?;
    }
    for run in RESTART_TESTS {
        restart_run(run, filter, &mut tally)?;
    }
    for run in CAMPAIGNS {
        campaign_run(run, filter, &mut tally)?;
    }
    if !tally.failures.is_empty() {
        println!("\nfailures:");
        for f in &tally.failures {
            println!("    {f}");
        }
    }
    println!("\n{} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

/// `cargo fmt --all --check`: the tree is formatted the way rustfmt formats it, so a
/// change shows only what it changes.
fn format_check(tally: &mut Tally) -> Result<(), Error> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(cargo::workspace_root())
        .args(["fmt", "--all", "--check"])
        .output()
        .map_err(|e| Error::new(format!("cannot run cargo fmt: {e}")))?;
    let unformatted: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            l.strip_prefix("Diff in ")
                .map(|at| at.trim_end_matches(':'))
        })
        .collect();
    let why = match (output.status.success(), unformatted.first()) {
        (true, _) => String::new(),
        (false, Some(first)) => {
            format!(
                "{} unformatted hunk(s), first in {first}: run `cargo fmt --all`",
                unformatted.len()
            )
        }
        (false, None) => format!(
            "cargo fmt failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    };
    tally.record("fmt::check", why.is_empty(), &why);
    Ok(())
}

/// Clippy with warnings denied: one verdict for the host packages, one per firmware binary
/// it objects to (a clean run is one verdict for all of them).
fn clippy_check(tally: &mut Tally) -> Result<(), Error> {
    let (host, firmware) = crate::clippy::lint(|_| ())?;
    let first_lines = |d: &str| d.lines().take(12).collect::<Vec<_>>().join("\n");
    match host {
        Some(f) => tally.record("clippy::host", false, &first_lines(&f.diagnostics)),
        None => tally.record("clippy::host", true, ""),
    }
    if firmware.is_empty() {
        tally.record("clippy::firmware", true, "");
    }
    for f in firmware {
        let why = format!("{}:\n{}", f.what, first_lines(&f.diagnostics));
        tally.record("clippy::firmware", false, &why);
    }
    Ok(())
}

/// Runs `cargo test` on the host packages, streaming its output and adding up its
/// `test result:` lines.
fn host_tests(filter: Option<&str>, tally: &mut Tally) -> Result<(), Error> {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(cargo::workspace_root())
        .args(["test", "--workspace", "--no-fail-fast"]);
    for package in cargo::target_only_packages()? {
        cmd.args(["--exclude", &package]);
    }
    if let Some(f) = filter {
        cmd.args(["--", f]);
    }
    cmd.stdout(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::new(format!("cannot run cargo test: {e}")))?;
    let stdout = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| Error::new(format!("reading cargo test output: {e}")))?;
        println!("{line}");
        if let Some((passed, failed)) = parse_test_result(&line) {
            tally.passed += passed;
            tally.failed += failed;
        }
        if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            tally.failures.push(format!("host: {name}"));
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::new(format!("cargo test: {e}")))?;
    if !status.success() && tally.failures.is_empty() {
        // Failed before running tests (a compile error): count it, or CI would pass.
        tally.record(
            "host::build",
            false,
            &format!("cargo test exited with {status}"),
        );
    }
    Ok(())
}

/// `test result: ok. 12 passed; 0 failed; ...` -> (12, 0)
fn parse_test_result(line: &str) -> Option<(usize, usize)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let number_before = |word: &str| {
        rest.split(';').find_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(word)?
                .trim()
                .parse()
                .ok()
        })
    };
    Some((number_before("passed")?, number_before("failed")?))
}

fn system_image(image: &SystemImage, filter: Option<&str>, tally: &mut Tally) -> Result<(), Error> {
    let app_toml = dist::app_toml_path(image.app)?;
    let shown = app_toml
        .strip_prefix(cargo::workspace_root())
        .unwrap_or(&app_toml);
    println!("\nrunning system tests of {} in QEMU", shown.display());
    let built = dist::dist(&app_toml)?;
    let machine =
        built.app.board.qemu_machine.clone().ok_or_else(|| {
            Error::new(format!("{}: board has no qemu-machine", app_toml.display()))
        })?;
    let port = qemu::free_port()?;
    let mut extra = vec!["-gdb".to_string(), format!("tcp:127.0.0.1:{port}")];
    extra.extend(image.qemu_args.iter().map(|a| a.to_string()));
    let capture = qemu::capture(&machine, &built.final_elf, &extra, image.timeout, |line| {
        line.starts_with("TESTS DONE")
    })?;
    let report = parse_report(&capture.lines);
    let failed_before = tally.failed;
    let declared_in = built.app.file.display().to_string();
    if built.app.expected_tests.is_empty() {
        tally.record(
            &format!("{}::expected-tests", image.app),
            false,
            &format!(
                "{declared_in} declares no `expected-tests`, so nothing it reports can be checked"
            ),
        );
    }
    for (name, ok, why) in verdicts(&report, &built.app.expected_tests, &declared_in) {
        let full = format!("{}::{name}", image.app);
        if filter.is_none_or(|f| full.contains(f)) {
            tally.record(&full, ok, &why);
        }
    }
    for unexpected in &report.unexpected {
        tally.record(&format!("{}::unexpected", image.app), false, unexpected);
    }
    if capture.timed_out || !report.done {
        let last: Vec<&String> = capture.lines.iter().rev().take(5).collect();
        tally.record(
            &format!("{}::completed", image.app),
            false,
            &format!(
                "no `TESTS DONE` within {:?} (hang?); last lines: {last:?}",
                image.timeout
            ),
        );
    }
    if tally.failed > failed_before {
        save_dump(&built, port);
    }
    Ok(())
}

/// One `restart-test` run, checked against what it must find.
fn restart_run(run: &RestartTest, filter: Option<&str>, tally: &mut Tally) -> Result<(), Error> {
    let name = format!("restart-test::{}", run.name);
    if filter.is_some_and(|f| !name.contains(f)) {
        return Ok(());
    }
    println!("\nrunning {name} in QEMU");
    let options = restart_test::Options {
        app: run.app.into(),
        tasks: run.tasks.iter().map(|t| t.to_string()).collect(),
        cycles: run.cycles,
        trigger: run.trigger,
        seed: 1,
    };
    let outcome = restart_test::run(&options)?;
    print!("{}", outcome.report);
    let why = match (&outcome.failure, &run.expect) {
        (None, None) => None,
        (Some((cycle, anomalies)), Some((cycles, check)))
            if cycles.contains(cycle) && anomalies.len() == 1 && check(&anomalies[0]) =>
        {
            None
        }
        (None, Some((cycles, _))) => Some(format!(
            "expected one specific anomaly at cycle {cycles:?}, found none"
        )),
        (Some((cycle, anomalies)), _) => Some(format!(
            "unexpected at cycle {cycle}: {}",
            anomalies
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )),
    };
    tally.record(&name, why.is_none(), why.as_deref().unwrap_or_default());
    Ok(())
}

/// A seeded short fault campaign: any failure of any class fails it.
pub struct CampaignRun {
    pub app: &'static str,
    pub faults: u32,
    pub seed: u32,
    /// The supervisor is a target (`supervisor-run`): each boot ends at its first caught
    /// fault, so fewer faults are injected than asked, and the test is that every one of
    /// them ended in the `on-supervisor-fault` policy.
    pub supervisor_run: bool,
}

/// The test drivers with the rogue (`test/app/campaign`), the USB stack under a block
/// workload (`test/app/campaign-usb`), and the supervisor as a target
/// (`test/app/campaign-supervisor`; doc/fault-campaign.md).
pub const CAMPAIGNS: &[CampaignRun] = &[
    CampaignRun {
        app: campaign::APP,
        faults: 2000,
        seed: 16,
        supervisor_run: false,
    },
    CampaignRun {
        app: "campaign-usb",
        faults: 200,
        seed: 1,
        supervisor_run: false,
    },
    CampaignRun {
        app: "campaign-supervisor",
        faults: 300,
        seed: 1,
        supervisor_run: true,
    },
];

fn campaign_run(run: &CampaignRun, filter: Option<&str>, tally: &mut Tally) -> Result<(), Error> {
    let CampaignRun {
        app,
        faults,
        seed,
        supervisor_run,
    } = *run;
    let name = if app == campaign::APP {
        format!("campaign::seed_{seed}_{faults}_faults")
    } else {
        format!("campaign::{app}_seed_{seed}_{faults}_faults")
    };
    if filter.is_some_and(|f| !name.contains(f)) {
        return Ok(());
    }
    println!("\nrunning {name} in QEMU");
    let report = campaign::run(&campaign::Options {
        app: app.to_string(),
        faults,
        seed,
        boot: None,
    })?;
    print!("{}", report.table());
    let why = if report.total_failures() > 0 {
        format!("{} failure(s), listed above", report.total_failures())
    } else if supervisor_run {
        report.supervisor_policy_unseen().unwrap_or_default()
    } else if let Some(idle) = report.idle_usb_workload() {
        idle
    } else if report.faults_injected < u64::from(faults) {
        format!(
            "only {} of {faults} faults were injected",
            report.faults_injected
        )
    } else {
        // A rogue that did nothing tested nothing (`campaign::rogue`).
        report
            .rogue
            .as_ref()
            .and_then(|r| r.idle())
            .unwrap_or_default()
    };
    tally.record(&name, why.is_empty(), &why);
    Ok(())
}

/// Leaves a humility dump of a failed image next to its archive, so the failure can be
/// read later with `humility -d`. A dump that cannot be taken is reported, not fatal.
fn save_dump(built: &dist::Dist, port: u16) {
    let out = built.dir.join("hubris.core.failed");
    let result = dist::read(&built.archive).and_then(|archive| {
        let mut gdb =
            crate::gdb::Gdb::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(5))
                .map_err(|e| Error::new(e.to_string()))?;
        let dump = crate::dump::take(&mut gdb, &archive, true)?;
        std::fs::write(&out, &dump.core).map_err(|e| Error::io(&out, e))
    });
    match result {
        Ok(()) => println!(
            "wrote a humility dump of the failed image: {}",
            out.display()
        ),
        Err(e) => println!("could not dump the failed image: {e}"),
    }
}

pub struct Report {
    pub results: Vec<(String, bool, String)>,
    pub unexpected: Vec<String>,
    pub done: bool,
}

/// One verdict per test: each declared test as reported, or failed if it was never reported
/// or reported more than once; then each reported test that `declared` lacks, failed.
/// `declared_in` names the file of the declaration, for the messages.
pub fn verdicts(
    report: &Report,
    declared: &[String],
    declared_in: &str,
) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    for name in declared {
        let mut reported = report.results.iter().filter(|(n, _, _)| n == name);
        out.push(match (reported.next(), reported.count()) {
            (None, _) => (
                name.clone(),
                false,
                format!("declared in {declared_in} but never reported (did it stop running?)"),
            ),
            (Some((_, ok, why)), 0) => (name.clone(), *ok, why.clone()),
            (Some(_), more) => (
                name.clone(),
                false,
                format!("reported {} times; a test reports once", more + 1),
            ),
        });
    }
    for (name, _, _) in &report.results {
        let undeclared = !declared.contains(name);
        if undeclared && !out.iter().any(|(n, _, _)| n == name) {
            out.push((
                name.clone(),
                false,
                format!("reported but not declared: add it to `expected-tests` in {declared_in}"),
            ));
        }
    }
    out
}

pub fn parse_report(lines: &[String]) -> Report {
    let mut report = Report {
        results: Vec::new(),
        unexpected: Vec::new(),
        done: false,
    };
    for line in lines {
        if let Some(rest) = line.strip_prefix("TEST ") {
            let mut parts = rest.splitn(3, ' ');
            let name = parts.next().unwrap_or_default().to_string();
            let verdict = parts.next().unwrap_or_default();
            let why = parts.next().unwrap_or_default().to_string();
            report.results.push((name, verdict == "ok", why));
        } else if line.starts_with("FAULT ") || line.starts_with("KERNEL ") {
            report.unexpected.push(line.clone());
        } else if line.starts_with("TESTS DONE") {
            report.done = true;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_test_result_lines_are_summed() {
        assert_eq!(
            parse_test_result(
                "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
            ),
            Some((12, 0))
        );
        assert_eq!(
            parse_test_result("test result: FAILED. 3 passed; 2 failed; 0 ignored"),
            Some((3, 2))
        );
        assert_eq!(parse_test_result("running 3 tests"), None);
    }

    #[test]
    fn report_lines_give_results_unexpected_faults_and_completion() {
        let lines: Vec<String> = [
            "noise",
            "TEST round_trip ok",
            "TEST detach FAIL woke 1 of 3",
            "FAULT ping MemoryAccess",
            "TESTS DONE",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = parse_report(&lines);
        assert_eq!(
            r.results,
            vec![
                ("round_trip".into(), true, String::new()),
                ("detach".into(), false, "woke 1 of 3".into())
            ]
        );
        assert_eq!(r.unexpected, vec!["FAULT ping MemoryAccess".to_string()]);
        assert!(r.done);
    }

    fn report_of(lines: &[&str]) -> Report {
        parse_report(&lines.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn declared(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn declared_tests_take_their_reported_verdicts() {
        let report = report_of(&["TEST a ok", "TEST b FAIL woke 1 of 3", "TESTS DONE"]);
        assert_eq!(
            verdicts(&report, &declared(&["a", "b"]), "app/x/app.toml"),
            [
                ("a".to_string(), true, String::new()),
                ("b".to_string(), false, "woke 1 of 3".to_string())
            ]
        );
    }

    #[test]
    fn a_declared_test_never_reported_fails_naming_the_declaration() {
        let report = report_of(&["TEST a ok", "TESTS DONE"]);
        let v = verdicts(&report, &declared(&["a", "last"]), "app/x/app.toml");
        assert_eq!(v.len(), 2);
        assert_eq!((v[1].0.as_str(), v[1].1), ("last", false));
        assert_eq!(
            v[1].2,
            "declared in app/x/app.toml but never reported (did it stop running?)"
        );
    }

    #[test]
    fn an_undeclared_test_fails_once_even_if_reported_twice() {
        let report = report_of(&["TEST first ok", "TEST a ok", "TEST first ok", "TESTS DONE"]);
        let v = verdicts(&report, &declared(&["a"]), "app/x/app.toml");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], ("a".to_string(), true, String::new()));
        assert_eq!((v[1].0.as_str(), v[1].1), ("first", false));
        assert_eq!(
            v[1].2,
            "reported but not declared: add it to `expected-tests` in app/x/app.toml"
        );
    }

    #[test]
    fn a_declared_test_reported_twice_fails() {
        let report = report_of(&["TEST a ok", "TEST a ok", "TESTS DONE"]);
        let v = verdicts(&report, &declared(&["a"]), "app/x/app.toml");
        assert_eq!(
            v,
            [(
                "a".to_string(),
                false,
                "reported 2 times; a test reports once".to_string()
            )]
        );
    }

    #[test]
    fn nothing_reported_fails_every_declared_test() {
        let v = verdicts(&report_of(&[]), &declared(&["a", "b"]), "f");
        assert_eq!(
            v.iter()
                .map(|(n, ok, _)| (n.as_str(), *ok))
                .collect::<Vec<_>>(),
            [("a", false), ("b", false)]
        );
    }

    #[test]
    fn a_report_without_done_is_incomplete() {
        assert!(!parse_report(&["TEST a ok".to_string()]).done);
    }
}
