//! Runs the checker on this test's own executable, a host ELF whose DWARF holds real
//! `ringbuf` and `counters` statics next to deliberately broken look-alikes.

use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU32;

use counters::Count;

#[derive(Copy, Clone, PartialEq, Count)]
enum Event {
    Idle,
    Moved { from: u16, to: u16 },
}

ringbuf::ringbuf!(GOOD_RINGBUF, Event, 4, Event::Idle);
ringbuf::counted_ringbuf!(GOOD_COUNTED, Event, 4, Event::Idle);
counters::counters!(GOOD_COUNTERS, Event);

/// `last` of the wrong width, a `u32` line, and a `char` payload.
#[allow(dead_code)] // Only its DWARF is read.
struct BrokenRingbuf {
    last: Option<u16>,
    buffer: [BrokenEntry; 2],
}

#[allow(dead_code)]
#[derive(Copy, Clone)]
struct BrokenEntry {
    line: u32,
    generation: u16,
    count: u16,
    payload: (u8, char),
}

static BROKEN_RINGBUF: BrokenRingbuf = BrokenRingbuf {
    last: None,
    buffer: [BrokenEntry {
        line: 0,
        generation: 0,
        count: 0,
        payload: (0, 'x'),
    }; 2],
};

/// A bare `u32` counter, which humility does not accept.
#[allow(dead_code)]
struct BrokenCounts {
    fine: AtomicU32,
    bare: u32,
}

static BROKEN_COUNTS: BrokenCounts = BrokenCounts {
    fine: AtomicU32::new(0),
    bare: 0,
};

/// The findings for this executable, computed once: reading its DWARF is slow.
fn findings() -> &'static dwarf_check::Findings {
    static FINDINGS: OnceLock<dwarf_check::Findings> = OnceLock::new();
    FINDINGS.get_or_init(inspect_self)
}

fn inspect_self() -> dwarf_check::Findings {
    // Keep every static (and its DWARF) in the executable.
    ringbuf::ringbuf_entry!(GOOD_RINGBUF, Event::Moved { from: 1, to: 2 });
    ringbuf::ringbuf_entry!(GOOD_COUNTED, Event::Idle);
    counters::count!(GOOD_COUNTERS, Event::Idle);
    black_box(&BROKEN_RINGBUF);
    black_box(&BROKEN_COUNTS);
    let elf = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    dwarf_check::inspect_elf(&elf).unwrap()
}

/// Violations are reported as `host_elf::NAME: problem`.
fn violations_of(findings: &dwarf_check::Findings, variable: &str) -> Vec<String> {
    let prefix = format!("host_elf::{variable}: ");
    findings
        .violations
        .iter()
        .filter(|v| v.starts_with(&prefix))
        .cloned()
        .collect()
}

#[test]
fn real_ring_buffers_and_counters_pass() {
    let findings = findings();
    for name in ["GOOD_RINGBUF", "GOOD_COUNTED", "GOOD_COUNTERS"] {
        assert!(
            findings.checked.iter().any(|c| c.contains(name)),
            "{name} not found among {:#?}",
            findings.checked
        );
        assert_eq!(violations_of(findings, name), Vec::<String>::new());
    }
}

#[test]
fn broken_ring_buffer_is_reported_member_by_member() {
    let findings = findings();
    let violations = violations_of(findings, "BROKEN_RINGBUF");
    let expect = [
        "`last` must be an Option",
        "`line` must be u16",
        "contains `char`",
    ];
    for problem in expect {
        assert!(
            violations.iter().any(|v| v.contains(problem)),
            "{problem} missing from {violations:#?}"
        );
    }
    assert_eq!(violations.len(), expect.len(), "{violations:#?}");
}

#[test]
fn bare_integer_counter_is_reported() {
    let findings = findings();
    let violations = violations_of(findings, "BROKEN_COUNTS");
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(violations[0].contains("counter `bare`"), "{violations:#?}");
}

#[test]
fn only_the_broken_statics_are_reported() {
    let findings = findings();
    assert_eq!(findings.violations.len(), 4, "{:#?}", findings.violations);
}

#[test]
fn non_elf_input_is_an_error() {
    assert!(dwarf_check::check_elf(b"not an elf").is_err());
}
