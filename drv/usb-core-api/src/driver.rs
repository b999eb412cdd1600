//! What every class-driver task does with the core, once: say hello, pull its binding
//! events (and notice a core restart), read a binding with its configuration, and keep the
//! table of the bindings it serves ([`Bindings`]).
//!
//! Nothing here waits for the core: a hello the core does not answer (it is restarting, or
//! held by its supervisor) is tried again at the task's next [`Bindings::pull_events`], which
//! the task runs from its timer every [`HELLO_RETRY_MS`] while [`Bindings::needs_hello`].
//! Meanwhile the task serves its clients from what it has: no binding, so `NoDisk` and the
//! like, at once. (A driver that waited for its hello served no one: the USB campaign's
//! hang, doc/fault-campaign.md.)

use usb_core_logic::{BindingEvent, CONFIG_BUF};
use usb_host_api::PortError;
use usb_proto::walk::{Configuration, parse_configuration};

use idol_runtime::userlib::{Incarnation, sys_get_timer, sys_refresh_incarnation, sys_set_timer};
use usb_hcd_api::UsbHcdClient;

use crate::{BindingHandle, BindingSummary, IpcClassPort, UsbCoreClient};

/// Wait before saying hello again to a core that did not answer.
pub const HELLO_RETRY_MS: u64 = 10;

/// What a class driver learns from the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriverEvent {
    /// A binding to bring up; `resync` after this driver's own restart.
    Bound {
        binding: BindingHandle,
        resync: bool,
    },
    Unbound(BindingHandle),
    /// The core restarted (or cannot be reached): every binding is gone, and the driver
    /// must say hello again.
    CoreRestarted,
}

/// A class-driver task's start, first or after a restart: clients of its two servers that
/// name their current incarnations (they may have restarted before this task, and a client
/// holding an old one would get a dead code on its first call). The hello comes with the
/// first [`Bindings::pull_events`].
pub fn start(core: Incarnation, hcd: Incarnation) -> (UsbCoreClient, UsbHcdClient) {
    (
        UsbCoreClient::new(sys_refresh_incarnation(core)),
        UsbHcdClient::new(sys_refresh_incarnation(hcd)),
    )
}

/// The caller's next binding event, or `None` when there is none.
pub fn next_event(core: &UsbCoreClient) -> Option<DriverEvent> {
    match core.next_event() {
        Ok(record) => record.event().map(|event| match event {
            BindingEvent::Bound {
                binding, resync, ..
            } => DriverEvent::Bound {
                binding: binding.into(),
                resync,
            },
            BindingEvent::Unbound { binding, .. } => DriverEvent::Unbound(binding.into()),
        }),
        // A core that restarted has forgotten our hello: its bindings are gone.
        Err(_) => Some(DriverEvent::CoreRestarted),
    }
}

/// A binding as read from the core: its summary and configuration blob.
pub struct Bound {
    pub binding: BindingHandle,
    pub summary: BindingSummary,
    blob: [u8; CONFIG_BUF],
}

impl Bound {
    /// Reads `binding`; a binding the core no longer has (or a core that went) is `Stale`.
    pub fn read(core: &UsbCoreClient, binding: BindingHandle) -> Result<Self, PortError> {
        let mut blob = [0u8; CONFIG_BUF];
        let summary = core
            .binding_info(binding, &mut blob)
            .map_err(|_| PortError::Stale)?;
        Ok(Bound {
            binding,
            summary,
            blob,
        })
    }

    /// The configuration, walked again from the copy (the core validated it at enumeration).
    pub fn config(&self) -> Option<Configuration<'_>> {
        let len = usize::from(self.summary.config_len).min(CONFIG_BUF);
        parse_configuration(&self.blob[..len], len as u16, self.summary.speed()?).ok()
    }
}

/// One binding a class-driver task serves: what it needs for an [`IpcClassPort`] and its
/// class state (`usb_class_msc::MassStorage`, `usb_class_hid::BootHid`...).
pub struct Served<T> {
    pub binding: BindingHandle,
    pub summary: BindingSummary,
    pub state: T,
}

impl<T> Served<T> {
    /// The port of this binding.
    pub fn port<'a>(
        &self,
        core: &'a UsbCoreClient,
        hcd: &'a UsbHcdClient,
        timer_bit: u32,
    ) -> IpcClassPort<'a> {
        IpcClassPort::new(core, hcd, self.binding, &self.summary, timer_bit)
    }
}

/// What [`Bindings::pull_events`] changed, for the task's ring buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change<E> {
    Attached {
        binding: BindingHandle,
        resync: bool,
    },
    AttachFailed {
        binding: BindingHandle,
        error: E,
    },
    /// The core took this incarnation's hello.
    Hello,
    /// No room for another binding: the task serves at most `N`.
    Full(BindingHandle),
    Detached(BindingHandle),
    CoreRestarted,
}

/// The bindings a class-driver task serves, at most `N`.
pub struct Bindings<T, const N: usize> {
    slots: [Option<Served<T>>; N],
    /// The core has not taken a hello from this incarnation (or restarted since).
    needs_hello: bool,
}

impl<T, const N: usize> Default for Bindings<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Bindings<T, N> {
    pub const fn new() -> Self {
        Bindings {
            slots: [const { None }; N],
            needs_hello: true,
        }
    }

    /// Whether the core still has to take a hello: the task then runs
    /// [`Bindings::pull_events`] from its timer every [`HELLO_RETRY_MS`].
    pub fn needs_hello(&self) -> bool {
        self.needs_hello
    }

    /// The notifications a class task serving these bindings waits for: its `usb` bit, and
    /// its timer while the core has to take a hello.
    pub fn notification_mask(&self, usb_bit: u32, timer_bit: u32) -> u32 {
        if self.needs_hello {
            usb_bit | timer_bit
        } else {
            usb_bit
        }
    }

    /// Arms the task's timer for the next hello, if the core still has to take one: what a
    /// class task does before each receive.
    pub fn arm_hello_retry(&self, timer_bit: u32) {
        if self.needs_hello {
            sys_set_timer(Some(sys_get_timer().now + HELLO_RETRY_MS), timer_bit);
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Served<T>> {
        self.slots.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Served<T>> {
        self.slots.iter_mut().flatten()
    }

    /// The binding `binding` names, if it is still one this task serves.
    pub fn find_mut(&mut self, binding: BindingHandle) -> Option<&mut Served<T>> {
        self.iter_mut().find(|s| s.binding == binding)
    }

    /// Says hello if the core has not taken one yet (returning at once if it does not
    /// answer), then pulls every pending event from the core: a new binding is read and
    /// brought up with `bring_up` (its class's initialisation, which is also the
    /// resynchronisation after a restart of the task) and then reported `ready`; an unbound
    /// one is forgotten; after a core restart every one is, and hello is said again. `note`
    /// hears each change.
    pub fn pull_events<E: From<PortError>>(
        &mut self,
        core: &UsbCoreClient,
        hcd: &UsbHcdClient,
        timer_bit: u32,
        mut bring_up: impl FnMut(&mut IpcClassPort<'_>, &Configuration<'_>, u8) -> Result<T, E>,
        mut note: impl FnMut(Change<E>),
    ) {
        let mut core_restarts = 0;
        loop {
            if self.needs_hello {
                if core.hello().is_err() {
                    return;
                }
                self.needs_hello = false;
                note(Change::Hello);
            }
            let Some(event) = next_event(core) else {
                return;
            };
            match event {
                DriverEvent::Bound { binding, resync } => {
                    let Some(free) = self.slots.iter_mut().find(|s| s.is_none()) else {
                        note(Change::Full(binding));
                        continue;
                    };
                    let served = Bound::read(core, binding)
                        .map_err(E::from)
                        .and_then(|bound| {
                            // Validated by the core at enumeration: unreadable means stale.
                            let config = bound.config().ok_or(E::from(PortError::Stale))?;
                            // The core opened the binding's pipes on the controller driver's
                            // current incarnation, which may be newer than the one this task
                            // last called (after a restart of usb-hcd alone, this task's
                            // first transfer would otherwise be refused as dead and the
                            // bring-up fail).
                            hcd.refresh();
                            let mut port =
                                IpcClassPort::new(core, hcd, binding, &bound.summary, timer_bit);
                            let state =
                                bring_up(&mut port, &config, bound.summary.first_interface)?;
                            Ok(Served {
                                binding,
                                summary: bound.summary,
                                state,
                            })
                        });
                    match served {
                        Ok(served) => {
                            *free = Some(served);
                            // From here a death of this task is not blamed on this device alone.
                            let _ = core.ready(binding);
                            note(Change::Attached { binding, resync });
                        }
                        Err(error) => note(Change::AttachFailed { binding, error }),
                    }
                }
                DriverEvent::Unbound(binding) => {
                    for slot in self.slots.iter_mut() {
                        if slot.as_ref().is_some_and(|s| s.binding == binding) {
                            *slot = None;
                            note(Change::Detached(binding));
                        }
                    }
                }
                DriverEvent::CoreRestarted => {
                    self.slots = [const { None }; N];
                    self.needs_hello = true;
                    note(Change::CoreRestarted);
                    // Once more at most: a core that takes the hello and then refuses the
                    // events is asked again at the next pull, not in a loop.
                    core_restarts += 1;
                    if core_restarts > 1 {
                        return;
                    }
                }
            }
        }
    }
}
