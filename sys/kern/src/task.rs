//! The task control block and the transitions of a single task.
//!
//! `Task`'s member names and shapes are read by humility (doc/humility-contract.md 3.2): `save`
//! (a `SavedState`), `state`, `generation` (the 32-bit restart count), `priority`
//! (`Priority(u8)`), `descriptor` (a reference to the task's `TaskDesc` in flash) and
//! `timer` (`deadline: Option<Timestamp>`, `to_post: NotificationSet`). `save` must stay the
//! first member: the exception entry code stores registers at offset 0.
//!
//! | state                         | how it is left                                        |
//! |-------------------------------|-------------------------------------------------------|
//! | `Healthy(Stopped)`, detached  | kernel IPC restart                                    |
//! | `Healthy(Runnable)`           | a blocking syscall, a fault                           |
//! | `Healthy(InSend(p))`          | `p` receives; `p` detached/restarted (code); fault    |
//! | `Healthy(InReply(p))`         | `p` replies or reply-faults; `p` detached (code)      |
//! | `Healthy(InRecv(_))`          | a sender or notification arrives; peer detached       |
//! | `Faulted { .. }`              | detach (stays faulted, now detached), then restart    |

use abi::{FaultInfo, Generation, Kipcnum, SchedState, TaskDesc, TaskFlags, TaskId, TaskState};

use crate::arch::{self, FRAME_WORDS, SavedState};

/// Task priority: 0 is the most important.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Priority(pub u8);

impl Priority {
    pub fn is_more_important_than(self, other: Priority) -> bool {
        self.0 < other.0
    }
}

/// Kernel time in ticks (milliseconds since boot).
// Word-aligned (`packed(4)`; `ldrd` needs no more on ARMv7-M), so `timer` carries no padding
// and `Task` is 156 bytes. The stride matters as much as the size: at 160 bytes LLVM
// indexes the table with two shift-adds per index instead of one `mla` with the stride kept
// in a register, 2 to 6 instructions more per IPC round (measured); 156, like 168, takes
// the `mla`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(C, packed(4))]
pub struct Timestamp(pub u64);

/// A set of notification bits.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(transparent)]
pub struct NotificationSet(pub u32);

/// A task's single timer: when `deadline` passes, `to_post` is posted to the task.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct TimerState {
    pub deadline: Option<Timestamp>,
    pub to_post: NotificationSet,
}

/// 156 bytes on Cortex-M, the kernel's largest RAM user (one per task), with one byte of
/// padding (after `runnable`); see [`Timestamp`] for why the stride is 156 and not 160.
#[repr(C)]
pub struct Task {
    pub save: SavedState,
    pub priority: Priority,
    // The two flags sit in the bytes after `priority`, which `state`'s alignment leaves as
    // padding on Cortex-M, so the task table does not grow.
    /// Set by detach, cleared by restart. A detached task is never scheduled and nothing
    /// may block on it.
    pub detached: bool,
    /// `Healthy(Runnable)` and not detached, kept by every setter of `state` and `detached`
    /// (which must only change through them): the scheduler asks this of every task on
    /// every block, and one byte is cheaper to test than the nested state.
    runnable: bool,
    /// Ticks at which this task held the CPU (SysTick found it running), modulo 256: the
    /// supervisor compares two readings to tell a watched task that spins from one that more
    /// important tasks starve (`supervision`'s "Starvation"). It sits in the last padding
    /// byte before `state`; the supervisor never compares readings 256 ticks apart.
    pub ticks_held: u8,
    pub state: TaskState,
    /// Bit `i` is set exactly when task `i` is `Healthy(InSend(this task's current id))`:
    /// an open RECV picks its sender from these instead of testing every task. Kept by the
    /// only transitions into and out of that state (`ipc::send` blocking, `ipc::deliver`,
    /// `lifecycle::fault_task`, `lifecycle::end_incarnation`); see [`Task::waiting_senders`].
    senders: u32,
    pub timer: TimerState,
    /// Restart count; its low 6 bits are the IPC generation.
    pub generation: u32,
    /// Posted notification bits not yet consumed by a receive.
    pub notifications: u32,
    /// How many incarnations faulted (each counted once, at its first fault), modulo 2^16:
    /// with `generation`, it tells a restart on request from a death by fault after the
    /// fact, when the fault record itself is gone (kipc `read-fault-count`). Readers only
    /// ask whether it moved, and 65,536 faults between two looks do not happen.
    pub faulted_incarnations: u16,
    /// The low 16 bits of the tick at which this task's last message was delivered: while
    /// it waits in `InReply(server)`, the start of the wait its server's `reply_deadline`
    /// bounds (`time::enforce_reply_deadlines`; the builder keeps deadlines below 2^15
    /// ticks, and the check runs every tick, so the 16-bit difference is exact). The two
    /// halfwords share one word.
    pub reply_since: u16,
    pub descriptor: &'static TaskDesc,
}

// A member added or resized changes the table's stride, which the IPC paths' cost depends
// on: measure, then change this.
#[cfg(target_arch = "arm")]
const _: () = assert!(size_of::<Task>() == 156);

/// The bit of task index `sender` in a `senders` mask.
///
/// `1 << sender` would mask the shift to 31 wherever LLVM cannot see the index's range,
/// one instruction in `ipc::deliver` on every round; every task index is below 32, which
/// `start_kernel` checks of the table.
#[inline(always)]
fn sender_bit(sender: usize) -> u32 {
    debug_assert!(sender < 32);
    // SAFETY: `sender` indexes the task table, which has at most 32 entries (above).
    unsafe { 1u32.unchecked_shl(sender as u32) }
}

impl Task {
    /// A task as the kernel creates it at boot: detached (unloaded) until started.
    pub fn new(descriptor: &'static TaskDesc) -> Self {
        Task {
            save: SavedState::default(),
            priority: Priority(descriptor.priority),
            state: TaskState::Healthy(SchedState::Stopped),
            senders: 0,
            timer: TimerState {
                deadline: None,
                to_post: NotificationSet(0),
            },
            generation: 0,
            notifications: 0,
            faulted_incarnations: 0,
            reply_since: 0,
            descriptor,
            detached: true,
            runnable: false,
            ticks_held: 0,
        }
    }

    /// Sets up the task's registers and stack to start from its entry point.
    pub fn reinitialize(&mut self) {
        let desc = self.descriptor;
        let frame_base = desc.initial_stack - (FRAME_WORDS * 4) as u32;
        self.save = SavedState {
            psp: frame_base,
            ..SavedState::default()
        };
        // SAFETY: the builder places `initial_stack` inside the task's RAM region with room
        // for at least one frame below it; the region belongs to no other task.
        unsafe { arch::write_frame(frame_base, &arch::initial_frame(desc.entry_point)) };
    }

    pub fn index(&self) -> usize {
        self.descriptor.index as usize
    }

    pub fn current_id(&self) -> TaskId {
        TaskId::for_index_and_gen(
            self.index(),
            Generation::from_restart_count(self.generation),
        )
    }

    pub fn starts_at_boot(&self) -> bool {
        self.descriptor.flags.contains(TaskFlags::START_AT_BOOT)
    }

    pub fn may_use_kipc(&self, op: Kipcnum) -> bool {
        self.descriptor.kipc_grants & op.grant_bit() != 0
    }

    pub fn may_send_to(&self, index: usize) -> bool {
        index < 32 && self.descriptor.send_targets & (1 << index) != 0
    }

    /// POST reaches every SEND target and, beyond them, the `notify` targets, which may be
    /// less important: a post never blocks, so it cannot wait on a starved task.
    pub fn may_post_to(&self, index: usize) -> bool {
        let targets = self.descriptor.send_targets | self.descriptor.notify_targets;
        index < 32 && targets & (1 << index) != 0
    }

    pub fn is_runnable(&self) -> bool {
        debug_assert_eq!(
            self.runnable,
            self.state.is_runnable() && !self.detached,
            "stale runnable flag"
        );
        self.runnable
    }

    fn refresh_runnable(&mut self) {
        self.runnable = self.state.is_runnable() && !self.detached;
    }

    /// The tasks blocked sending to this one, one bit per task index (apps have at most
    /// 32 tasks).
    pub fn waiting_senders(&self) -> u32 {
        self.senders
    }

    pub(crate) fn add_sender(&mut self, sender: usize) {
        self.senders |= sender_bit(sender);
    }

    pub(crate) fn remove_sender(&mut self, sender: usize) {
        self.senders &= !sender_bit(sender);
    }

    /// Every sender was woken or has left: the incarnation they sent to has ended.
    pub(crate) fn clear_senders(&mut self) {
        self.senders = 0;
    }

    pub fn set_state(&mut self, state: TaskState) {
        self.state = state;
        self.refresh_runnable();
    }

    pub fn set_detached(&mut self, detached: bool) {
        self.detached = detached;
        self.refresh_runnable();
    }

    /// The scheduling state, if the task is healthy.
    pub fn healthy_state(&self) -> Option<SchedState> {
        match self.state {
            TaskState::Healthy(s) => Some(s),
            TaskState::Faulted { .. } => None,
        }
    }

    /// Whether the task is healthy and in exactly state `s`. Written out because the
    /// derived comparison of the nested enums is several times slower on the IPC path.
    #[inline(always)]
    pub fn is_healthy_in(&self, s: SchedState) -> bool {
        match (&self.state, s) {
            (TaskState::Healthy(SchedState::InSend(a)), SchedState::InSend(b))
            | (TaskState::Healthy(SchedState::InReply(a)), SchedState::InReply(b))
            | (TaskState::Healthy(SchedState::InRecv(Some(a))), SchedState::InRecv(Some(b))) => {
                *a == b
            }
            (TaskState::Healthy(SchedState::InRecv(None)), SchedState::InRecv(None))
            | (TaskState::Healthy(SchedState::Runnable), SchedState::Runnable)
            | (TaskState::Healthy(SchedState::Stopped), SchedState::Stopped) => true,
            _ => false,
        }
    }

    #[inline(always)]
    pub fn set_healthy_state(&mut self, s: SchedState) {
        self.state = TaskState::Healthy(s);
        // The state is known here, so only a runnable one asks about detach.
        self.runnable = matches!(s, SchedState::Runnable) && !self.detached;
    }

    /// Records a fault. A second fault replaces the first but keeps the scheduling state the
    /// task had before it first faulted. Returns `true` if the task was healthy.
    /// A fault counts against the running incarnation only: a detached task's incarnation
    /// has already ended, and the one after it has not begun.
    pub fn record_fault(&mut self, fault: FaultInfo) -> bool {
        match self.state {
            TaskState::Healthy(original_state) => {
                if !self.detached {
                    self.faulted_incarnations = self.faulted_incarnations.wrapping_add(1);
                }
                self.set_state(TaskState::Faulted {
                    fault,
                    original_state,
                });
                true
            }
            TaskState::Faulted { original_state, .. } => {
                self.set_state(TaskState::Faulted {
                    fault,
                    original_state,
                });
                false
            }
        }
    }

    /// Tells whether `generation` is this task's full restart count, or why not: exact
    /// however many restarts ago the caller learned it, where 6 bits repeat every 64.
    #[inline(always)]
    pub fn check_incarnation(&self, generation: u32) -> Result<(), abi::PeerGone> {
        // The answer on every IPC path: two tests, before any generation arithmetic.
        if generation == self.generation && !self.detached {
            return Ok(());
        }
        self.peer_gone_unless(generation == self.generation)
    }

    /// Detached takes precedence over restarted: a client must not retry a detached peer.
    #[cold]
    fn peer_gone_unless(&self, same_incarnation: bool) -> Result<(), abi::PeerGone> {
        let current = self.current_id().generation();
        if self.detached {
            Err(abi::PeerGone::Unavailable(current))
        } else if !same_incarnation {
            Err(abi::PeerGone::Restarted(current))
        } else {
            Ok(())
        }
    }
}
