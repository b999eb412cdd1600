//! What `usb-hcd` does with the root port's power when the port reports over-current
//! (doc/usb-host.md 1.12), kept here so it is host-tested.
//!
//! An over-current means a device, its cable or a short draws more than the VBUS switch
//! allows. The switch limits the current on its own, but a port left powered into a short
//! heats the switch and browns out everything on it, so the driver switches VBUS off at
//! once, lets the port rest for [`REST_MS`], and powers it again: a device that drew a
//! surge at plug-in gets a second chance. [`STRIKES`] over-currents within [`WINDOW_MS`]
//! mean the fault is still there: VBUS stays off and USB stays down until someone asks for
//! power again (the console's `usb power on`), after removing the fault.
//!
//! The policy is the driver's, not the supervisor's: a restart of `usb-hcd` begins with
//! VBUS off (the core's reset on the boards, a fresh init in QEMU) and the driver's strikes
//! are forgotten, but a driver that keeps faulting is held by its supervisor's intensity
//! limit (app.toml), with VBUS off, which covers repeated controller faults.

use idol_runtime::zerocopy::{Immutable, IntoBytes, KnownLayout, TryFromBytes};

/// Over-currents within [`WINDOW_MS`] that cut the port's power for good.
pub const STRIKES: usize = 3;
/// The window [`STRIKES`] are counted in.
pub const WINDOW_MS: u64 = 10_000;
/// How long VBUS stays off after an over-current before the port is powered again.
pub const REST_MS: u64 = 250;

/// The root port's power.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortPower {
    On,
    /// Off after an over-current, until the kernel tick `until`.
    Resting {
        until: u64,
    },
    /// Off after [`STRIKES`] over-currents within [`WINDOW_MS`], until asked again.
    CutOff,
}

/// What the driver does after an over-current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Already off: the report came from a port the driver had switched off.
    Ignored,
    /// VBUS off, and on again at the tick given.
    RestUntil(u64),
    /// VBUS off until `power_on`.
    CutOff,
}

/// The over-currents of the root port and what they decided.
#[derive(Clone, Copy, Debug)]
pub struct OverCurrentGuard {
    /// When the latest over-currents happened (kernel ticks), newest last.
    recent: [Option<u64>; STRIKES],
    /// Over-currents since this incarnation of the driver started.
    total: u32,
    power: PortPower,
}

impl Default for OverCurrentGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl OverCurrentGuard {
    pub const fn new() -> Self {
        OverCurrentGuard {
            recent: [None; STRIKES],
            total: 0,
            power: PortPower::On,
        }
    }

    pub fn power(&self) -> PortPower {
        self.power
    }

    /// The port reported over-current at tick `now`.
    pub fn over_current(&mut self, now: u64) -> Verdict {
        if self.power != PortPower::On {
            return Verdict::Ignored;
        }
        self.total = self.total.saturating_add(1);
        self.recent.rotate_left(1);
        self.recent[STRIKES - 1] = Some(now);
        let strikes = self.strikes(now);
        if strikes >= STRIKES {
            self.power = PortPower::CutOff;
            Verdict::CutOff
        } else {
            let until = now + REST_MS;
            self.power = PortPower::Resting { until };
            Verdict::RestUntil(until)
        }
    }

    /// Over-currents within the last [`WINDOW_MS`] before `now`.
    pub fn strikes(&self, now: u64) -> usize {
        self.recent
            .iter()
            .flatten()
            .filter(|&&t| now.saturating_sub(t) < WINDOW_MS)
            .count()
    }

    /// Whether the port's rest is over at `now`: if so, the driver powers it again.
    pub fn rest_over(&mut self, now: u64) -> bool {
        match self.power {
            PortPower::Resting { until } if now >= until => {
                self.power = PortPower::On;
                true
            }
            _ => false,
        }
    }

    /// Someone asked for power again: strikes are forgotten. Whether the port was off
    /// (resting or cut off) and the driver must power it now.
    pub fn power_on(&mut self) -> bool {
        self.recent = [None; STRIKES];
        let was_off = self.power != PortPower::On;
        self.power = PortPower::On;
        was_off
    }

    /// The state as `power_status` reports it.
    pub fn status(&self, now: u64) -> PowerStatus {
        let (state, rest_ms) = match self.power {
            PortPower::On => (power_state::ON, 0),
            PortPower::Resting { until } => (power_state::RESTING, until.saturating_sub(now)),
            PortPower::CutOff => (power_state::CUT_OFF, 0),
        };
        PowerStatus {
            state,
            strikes: self.strikes(now) as u8,
            limit: STRIKES as u8,
            _reserved: 0,
            total: self.total,
            rest_ms: rest_ms.min(u64::from(u32::MAX)) as u32,
            window_ms: WINDOW_MS as u32,
        }
    }
}

/// `PowerStatus::state` values.
pub mod power_state {
    pub const ON: u8 = 0;
    pub const RESTING: u8 = 1;
    pub const CUT_OFF: u8 = 2;
}

/// The root port's power as `power_status` reports it.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, IntoBytes, TryFromBytes, KnownLayout, Immutable,
)]
#[zerocopy(crate = "idol_runtime::zerocopy")]
#[repr(C)]
pub struct PowerStatus {
    /// [`power_state`].
    pub state: u8,
    /// Over-currents within the last `window_ms`.
    pub strikes: u8,
    /// Strikes that cut the power off.
    pub limit: u8,
    pub _reserved: u8,
    /// Over-currents since this driver incarnation started.
    pub total: u32,
    /// While resting: milliseconds until the port is powered again.
    pub rest_ms: u32,
    pub window_ms: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_over_current_rests_the_port_then_powers_it_again() {
        let mut guard = OverCurrentGuard::new();
        assert_eq!(guard.over_current(1000), Verdict::RestUntil(1000 + REST_MS));
        assert_eq!(
            guard.power(),
            PortPower::Resting {
                until: 1000 + REST_MS
            }
        );
        assert!(
            !guard.rest_over(1000 + REST_MS - 1),
            "powered before its rest ended"
        );
        assert!(guard.rest_over(1000 + REST_MS));
        assert_eq!(guard.power(), PortPower::On);
        assert!(!guard.rest_over(5000), "powered twice");
    }

    #[test]
    fn a_report_from_a_port_already_off_is_no_strike() {
        let mut guard = OverCurrentGuard::new();
        guard.over_current(0);
        assert_eq!(guard.over_current(1), Verdict::Ignored);
        assert_eq!(guard.status(1).strikes, 1);
        assert_eq!(guard.status(1).total, 1);
    }

    #[test]
    fn the_third_strike_within_the_window_cuts_the_power_off() {
        let mut guard = OverCurrentGuard::new();
        let mut now = 0;
        for _ in 0..STRIKES - 1 {
            assert!(matches!(guard.over_current(now), Verdict::RestUntil(_)));
            now += REST_MS;
            assert!(guard.rest_over(now));
        }
        assert_eq!(guard.over_current(now), Verdict::CutOff);
        assert_eq!(guard.power(), PortPower::CutOff);
        assert!(
            !guard.rest_over(now + WINDOW_MS * 10),
            "a cut-off port came back alone"
        );
        let status = guard.status(now);
        assert_eq!(
            (status.state, status.strikes, status.limit, status.total),
            (
                power_state::CUT_OFF,
                STRIKES as u8,
                STRIKES as u8,
                STRIKES as u32
            )
        );
    }

    #[test]
    fn strikes_older_than_the_window_are_forgotten() {
        let mut guard = OverCurrentGuard::new();
        let mut now = 0;
        for _ in 0..10 * STRIKES {
            assert!(matches!(guard.over_current(now), Verdict::RestUntil(_)));
            now += WINDOW_MS / (STRIKES as u64 - 1);
            assert!(guard.rest_over(now));
        }
        assert_eq!(guard.status(now).total, 10 * STRIKES as u32);
    }

    #[test]
    fn the_edge_of_the_window_counts_one_tick_short_of_it() {
        let mut guard = OverCurrentGuard::new();
        guard.over_current(0);
        guard.rest_over(REST_MS);
        guard.over_current(REST_MS);
        guard.rest_over(2 * REST_MS);
        assert_eq!(guard.over_current(WINDOW_MS - 1), Verdict::CutOff);
        let mut guard = OverCurrentGuard::new();
        guard.over_current(0);
        guard.rest_over(REST_MS);
        guard.over_current(REST_MS);
        guard.rest_over(2 * REST_MS);
        assert!(matches!(
            guard.over_current(WINDOW_MS),
            Verdict::RestUntil(_)
        ));
    }

    #[test]
    fn power_on_brings_a_cut_off_port_back_with_no_strikes() {
        let mut guard = OverCurrentGuard::new();
        for now in 0..STRIKES as u64 {
            guard.over_current(now * REST_MS);
            guard.rest_over((now + 1) * REST_MS);
        }
        assert_eq!(guard.power(), PortPower::CutOff);
        assert!(guard.power_on());
        assert_eq!(guard.power(), PortPower::On);
        assert_eq!(guard.status(STRIKES as u64 * REST_MS).strikes, 0);
        assert!(!guard.power_on(), "a powered port was powered again");
        assert!(matches!(guard.over_current(10_000), Verdict::RestUntil(_)));
    }

    #[test]
    fn a_resting_port_reports_the_time_left() {
        let mut guard = OverCurrentGuard::new();
        guard.over_current(100);
        let status = guard.status(150);
        assert_eq!(status.state, power_state::RESTING);
        assert_eq!(u64::from(status.rest_ms), REST_MS - 50);
    }
}
