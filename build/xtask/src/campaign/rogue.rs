//! The rogue task's activity in a boot (`test/task/campaign-rogue`): its moves, from the
//! bytes it writes on its serial port, and its faults, from the kernel's `FC` lines. A
//! campaign image with a rogue that sent nothing tested nothing of it, so the test fails.

use std::collections::BTreeMap;

/// The task name the runner looks for, and the symbol it patches with each boot's seed.
pub const TASK: &str = "rogue";
pub const SEED_SYMBOL: &str = "BULKHEAD_ROGUE_SEED";

/// The bytes the rogue writes for its moves, and what each counts.
pub const MOVES: [(u8, &str); 10] = [
    (b'c', "calls"),
    (b'p', "privileged"),
    (b'x', "refused"),
    (b'O', "obeyed"),
    (b'o', "ok"),
    (b'f', "reply-fault"),
    (b'g', "gone"),
    (b'e', "error"),
    (b's', "syscalls"),
    (b'r', "syscalls-returned"),
];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Each move of [`MOVES`], counted over the boot.
    pub counts: BTreeMap<&'static str, u64>,
    /// The rogue's incarnations the kernel ended, by outcome (`mpu`, `protocol`, `watchdog`...).
    pub faults: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts the rogue's serial output: one byte per move (`test/task/campaign-rogue`).
    pub fn add_moves(&mut self, bytes: &[u8]) -> Result<(), String> {
        for (at, byte) in bytes.iter().enumerate() {
            let (_, name) = MOVES.iter().find(|(b, _)| b == byte).ok_or_else(|| {
                format!("the rogue's serial port: byte {byte:#04x} at offset {at} is no move")
            })?;
            *self.counts.entry(name).or_insert(0) += 1;
        }
        Ok(())
    }

    pub fn add(&mut self, other: &Tally) {
        for (name, n) in &other.counts {
            *self.counts.entry(name).or_insert(0) += n;
        }
        for (outcome, n) in &other.faults {
            *self.faults.entry(outcome.clone()).or_insert(0) += n;
        }
    }

    pub fn count(&self, name: &str) -> u64 {
        self.counts.get(name).copied().unwrap_or(0)
    }

    /// Why the rogue did not do its job, if it did not: no malformed call or no random
    /// syscall in the whole run.
    pub fn idle(&self) -> Option<String> {
        match (self.count("calls"), self.count("syscalls")) {
            (0, _) => Some("the rogue sent no malformed call".into()),
            (_, 0) => Some("the rogue issued no random syscall".into()),
            _ if self.count("privileged") == 0 => {
                Some("the rogue called no privileged jefe operation".into())
            }
            _ => None,
        }
    }

    /// `rogue: N malformed calls (ok N, ...), N random syscalls (N returned); ...`
    pub fn summary(&self) -> String {
        let answers: Vec<String> = ["ok", "reply-fault", "gone", "error"]
            .iter()
            .map(|c| format!("{c} {}", self.count(c)))
            .collect();
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        format!(
            "rogue: {} malformed calls (answered: {}), {} random syscalls ({} returned), \
             {} privileged calls to jefe ({} refused); \
             incarnations ended by a fault: {} ({})",
            self.count("calls"),
            answers.join(", "),
            self.count("syscalls"),
            self.count("syscalls-returned"),
            self.count("privileged"),
            self.count("refused"),
            self.faults.values().sum::<u64>(),
            faults.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_counted() {
        let mut t = Tally::default();
        t.add_moves(b"cocfsrcgcesrpx").unwrap();
        assert_eq!(
            (t.count("calls"), t.count("ok"), t.count("syscalls")),
            (4, 1, 2)
        );
        assert_eq!(t.idle(), None);
    }

    #[test]
    fn a_rogue_that_did_nothing_is_idle() {
        assert!(
            Tally::default()
                .idle()
                .unwrap()
                .contains("no malformed call")
        );
        let mut t = Tally::default();
        t.add_moves(b"co").unwrap();
        assert!(t.idle().unwrap().contains("no random syscall"));
        t.add_moves(b"sr").unwrap();
        assert!(t.idle().unwrap().contains("no privileged jefe operation"));
    }

    #[test]
    fn a_byte_that_is_no_move_is_refused_with_its_offset() {
        let err = Tally::default().add_moves(b"coX").unwrap_err();
        assert!(err.contains("0x58 at offset 2"), "{err}");
    }
}
