//! The servers the rogue reaches, by image: `test/app/campaign`'s test servers, or with
//! feature `usb` the USB stack of `test/app/campaign-usb`. jefe is in both.

use userlib::{Incarnation, sys_refresh_incarnation, task_slot};

use crate::ipc::Server;

/// jefe spares nothing: it must refuse `restart`, `unload` and `load` to a task its
/// `control-callers` does not name (the campaign images name none), and `inject_fault` to
/// one `inject-fault-callers` does not ([`crate::ipc::privileged`] tries them well-formed).
fn jefe() -> Server {
    Server {
        incarnation: userlib::SUPERVISOR,
        spared: &[],
    }
}

fn plain(slot: Incarnation) -> Server {
    Server {
        incarnation: sys_refresh_incarnation(slot),
        spared: &[],
    }
}

#[cfg(not(feature = "usb"))]
pub fn servers() -> [Server; 3] {
    use jefe_test_api::server as test_server;
    task_slot!(PONG, pong);
    task_slot!(SERVER, server);
    [
        plain(PONG),
        Server {
            incarnation: sys_refresh_incarnation(SERVER),
            spared: &[test_server::CRASH, test_server::HANG],
        },
        jefe(),
    ]
}

/// Every operation of the USB stack is open to the rogue: those only the core or the console
/// may call must be refused by their allow-lists, and the rest must take any argument from
/// any caller without harm to the workload's disk.
#[cfg(feature = "usb")]
pub fn servers() -> [Server; 4] {
    task_slot!(USB_HCD, "usb-hcd");
    task_slot!(USB_CORE, "usb-core");
    task_slot!(USB_MSC, "usb-msc");
    [plain(USB_HCD), plain(USB_CORE), plain(USB_MSC), jefe()]
}
