//! Blinks the Nucleo-144's user LEDs (LD1 green, LD2 yellow, LD3 red; app.toml names their
//! pins in `sys`'s config) every 500 ms. It owns no hardware: every pin change is a call to
//! `sys`, so it shows the GPIO path end to end and survives a `sys` restart (the pins keep
//! their configuration; the next call reaches the new incarnation).
#![no_std]
#![no_main]

use drv_stm32xx_sys_api::{CallError, PinSet, SysClient, pins};
use userlib::{Lease, sleep_for, sys_send, task_slot};

task_slot!(SYS, sys);
task_slot!(CONSOLE, console);

/// Notification bit 0, `timer` in app.toml.
const TIMER: u32 = 1 << 0;
const PERIOD_MS: u64 = 500;
const LEDS: [PinSet; 3] = [pins::LED_GREEN, pins::LED_YELLOW, pins::LED_RED];
/// The console's write operation (one read lease: the text).
const CONSOLE_WRITE: u16 = 1;

#[unsafe(no_mangle)]
pub extern "C" fn main() -> ! {
    let sys = SysClient::new(SYS);
    for led in LEDS {
        if let Err(e) = sys.configure_output(led) {
            panic!("sys refused to configure an LED: {e:?}");
        }
    }
    sys_send(
        CONSOLE,
        CONSOLE_WRITE,
        &[],
        &mut [],
        &[Lease::read_only(b"blinky: LD1-LD3 toggle every 500 ms\n")],
    );
    loop {
        for led in LEDS {
            match sys.toggle(led) {
                // A restarted sys missed this toggle; the next one reaches it.
                Ok(()) | Err(CallError::Gone(_)) => {}
                Err(e) => panic!("sys refused to toggle an LED: {e:?}"),
            }
        }
        sleep_for(PERIOD_MS, TIMER);
    }
}
