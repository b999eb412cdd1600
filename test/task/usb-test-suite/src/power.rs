//! The root port's power against over-current (doc/usb-host.md 1.12): `usb-sim` puts an
//! over-current load on the port, and `usb-hcd`'s `power_status` and the USB tree say what
//! became of VBUS and of the device.
//!
//! | behaviour | test |
//! |---|---|
//! | a lasting over-current: VBUS off for a rest and on again twice, then off for good at the third strike; the load removed, VBUS stays off until `power_on`, and then the keyboard is enumerated and bound again | `a_lasting_over_current_cuts_vbus_at_the_third_strike_until_power_on` |

use super::class::{device, keyboard_bound_to_usb_hid, plug, within};
use super::*;
use usb_hcd_api::PowerStatus;
use usb_hcd_api::power::{REST_MS, STRIKES, power_state};

pub const TESTS: &[Test] = &[(
    "a_lasting_over_current_cuts_vbus_at_the_third_strike_until_power_on",
    a_lasting_over_current_cuts_vbus_at_the_third_strike_until_power_on,
)];

fn power() -> Result<PowerStatus, &'static str> {
    hcd()
        .power_status()
        .map_err(|_| "usb-hcd: power_status failed")
}

fn a_lasting_over_current_cuts_vbus_at_the_third_strike_until_power_on() -> Outcome {
    plug(devices::KEYBOARD)?;
    keyboard_bound_to_usb_hid()?;
    let result = cut_off_and_back();
    // Whatever failed, the next test gets a port without a load on it.
    let _ = sim().over_current(false);
    let _ = hcd().power_on();
    result
}

fn cut_off_and_back() -> Outcome {
    let status = power()?;
    check!(
        status.state == power_state::ON && status.total == 0,
        "a fresh usb-hcd reports an over-current before any"
    );
    let _ = sim().over_current(true);
    let first = within(|| power().ok().filter(|s| s.total >= 1))
        .ok_or("usb-hcd never saw the over-current")?;
    check!(
        first.state == power_state::RESTING && first.strikes == 1,
        "the first over-current did not rest the port"
    );
    check!(
        within(|| device(KEYBOARD_VID_PID).is_err().then_some(())).is_some(),
        "the keyboard stayed in the tree without power"
    );
    // Each rest ends with VBUS on into the same load: the third strike comes after two rests.
    let started = sys_get_timer().now;
    let cut = within(|| power().ok().filter(|s| s.state == power_state::CUT_OFF))
        .ok_or("the port was never cut off")?;
    let took = sys_get_timer().now - started;
    check!(
        cut.strikes == STRIKES as u8 && cut.total == STRIKES as u32,
        "the port was cut off at another strike than the third"
    );
    check!(
        took + 50 >= (STRIKES as u64 - 1) * REST_MS,
        "the port was powered again before its rests ended"
    );
    // The load goes away: a cut-off port stays off.
    let _ = sim().over_current(false);
    let resets = stats()?.bus_resets;
    sleep_for(2 * REST_MS, TIMER);
    check!(
        power()?.state == power_state::CUT_OFF,
        "a cut-off port came back without power_on"
    );
    check!(
        !hcd()
            .root_port()
            .map_err(|_| "usb-hcd: root_port failed")?
            .connected
            && stats()?.bus_resets == resets,
        "a device on a cut-off port was seen or reset"
    );
    check!(
        hcd().power_on() == Ok(true),
        "power_on did not report the port as off"
    );
    keyboard_bound_to_usb_hid()?;
    let status = power()?;
    check!(
        status.state == power_state::ON && status.strikes == 0,
        "power_on left strikes behind"
    );
    check!(
        hcd().power_on() == Ok(false),
        "power_on of a powered port reported it off"
    );
    no_violation()
}
