//! The STM32H7 boards: OTG2_FS through `sys` (doc/usb-host.md 1.1, 1.4 steps 2-3 and 15).
//!
//! The pins and the window come from app.toml; `sys` clocks the core and switches VBUS.

use drv_stm32xx_sys_api::{SysClient, USB_OTG, USB_VBUS, UsbOtgPins, UsbVbus};
use userlib::task_slot;

task_slot!(SYS, sys);

/// RM0433 memory map: OTG2_FS, the core on the Nucleo's user USB connector; app.toml's
/// `uses = ["otg2"]` maps its 128 KiB window (registers and 16 FIFO windows) to this
/// task only.
const OTG2_BASE: usize = 0x4008_0000;
const _: () = assert!(dwc2_regs::WINDOW_LEN <= 0x2_0000);

/// The board's pins, named in app.toml; the build refuses an `mmio` image without them
/// (drv-stm32xx-sys-api's app_config), so these never fail.
const OTG: UsbOtgPins = match USB_OTG {
    Some(otg) => otg,
    None => panic!("app.toml names no usb-otg for sys"),
};
const VBUS: UsbVbus = match USB_VBUS {
    Some(vbus) => vbus,
    None => panic!("app.toml names no usb-vbus for sys"),
};

/// Clocks the core (its pins are the core's since `sys` started) and returns its
/// registers, with VBUS off until [`vbus_on`].
pub fn regs() -> dwc2_regs::MmioRegs {
    let sys = SysClient::new(SYS);
    if sys.usb_vbus(&VBUS, false).is_err() || sys.enable_clock(OTG.core).is_err() {
        panic!("sys refused the OTG core's clock or VBUS");
    }
    // SAFETY: sys has just clocked the core; app.toml maps its window to this task only.
    unsafe { dwc2_regs::MmioRegs::new(OTG2_BASE) }
}

/// Switches the port's power: on once the core is initialised (doc/usb-host.md 1.4
/// step 15), off and on again after an over-current (1.12).
pub fn vbus(on: bool) {
    if SysClient::new(SYS).usb_vbus(&VBUS, on).is_err() {
        panic!("sys refused to switch VBUS");
    }
}

/// Whether the switch's flag signals over-current now: `sys`'s post said it changed,
/// and a glitch (an inrush at power-on, say) is over by the time this asks. A flag `sys`
/// cannot read counts as signalled: VBUS then goes off rather than stay on into what may
/// be a short.
pub fn over_current() -> bool {
    SysClient::new(SYS).usb_over_current(&VBUS).unwrap_or(true)
}
