//! The Bulkhead kernel.
//!
//! Design principles, in order of precedence:
//!
//! 1. **Nothing a task does can break the kernel.** Every pointer a task hands over is checked
//!    against that task's own regions before the kernel touches it; misuse faults the *caller*
//!    with a `FaultInfo` humility can print. The kernel itself never panics on user input.
//! 2. **Identity is exact.** A `TaskId` names one incarnation (index + 6-bit generation).
//!    Every blocked state records the full peer id, and every such state ends with the
//!    incarnation it names, so a recorded id never refers to a later one. Ids that tasks
//!    keep are a different matter: 6 bits repeat every 64 restarts, so a server names the
//!    caller it replies to or borrows from by the 32-bit generation RECV handed it too, and
//!    the kernel compares that, never the 6 bits.
//! 3. **Revocation is a state change.** A lease is usable only while its lender is blocked
//!    waiting for a reply from exactly the borrowing server's current incarnation. Reply,
//!    fault, detach or restart of either side ends access at once; nothing is remapped and
//!    nothing is reference counted.
//! 4. **Detach is its own operation.** Detaching a task bumps its generation, wakes every task
//!    blocked on it with an "unavailable" code, masks its interrupts and cancels its timer, in
//!    one kernel entry. While detached, IPC to it fails immediately. Restart is a later step.
//! 5. **Static everything.** The task set, regions, interrupt routing and send permissions
//!    are fixed at build time (`app.toml`) and live in flash. No allocation.
//!
//! Shape: each syscall is a function `fn(&mut [Task], caller) -> Result<NextTask, UserError>`
//! in [`syscalls`]; one wrapper ([`syscalls::dispatch`]) applies faults and picks the next
//! task. Arguments are read through typed views over the saved registers ([`args`]). The
//! architecture-specific part is [`arch`] (services) and [`entry`] (exception entry);
//! everything else builds and runs in host tests.
//!
//! Layers, top-down. A module uses modules of its own layer and of the layers below it, never
//! one above, so each layer reads without the ones over it. `tests/layers.rs` reads this list
//! and checks every `crate::` path in `src/` against it; its one exception is the fault
//! injector's hooks (feature `fault-inject`), called from below.
//!
//! 1. Entry
//!    - [`entry`]: the exception handlers, their assembly shims, the vector table, the reset
//!      handler and `start_kernel`: every way into the kernel, and the running task.
//! 2. Requests
//!    - [`syscalls`]: one function per syscall, `dispatch`, and interrupts to their owners.
//!    - [`kipc`]: kernel IPC, the operations a task asks of the kernel itself, each granted.
//!    - [`inject`]: the fault injector of campaign images and its plan.
//! 3. Tasks together
//!    - [`ipc`]: SEND, RECV, REPLY, REPLY_FAULT and POST between two tasks.
//!    - [`lease`]: what a server may borrow of a lender waiting on it.
//!    - [`lifecycle`]: fault, detach and restart, and who is woken with which code.
//!    - [`time`]: per-task timers against the tick, and reply deadlines, which fault a
//!      server that left a client waiting too long.
//! 4. One task, and the kernel's own state
//!    - [`task`]: the task control block and the transitions of a single task.
//!    - [`sched`]: which task runs next.
//!    - [`umem`]: task memory, checked against the task's regions before any copy.
//!    - [`args`]: syscall arguments and results in the saved registers.
//!    - [`err`]: how a syscall ends other than as asked (misuse or refusal).
//!    - [`fail`]: kernel failure, its epitaph and the reset or halt after it.
//!    - [`startup`]: the task table's boot state and the configuration start-up installed.
//! 5. Machine and build
//!    - [`arch`]: hardware services (copies, NVIC, MPU, clock, reset, faults), or the host
//!      model of them.
//!    - [`config`]: the types of the configuration the build generates.
#![cfg_attr(target_os = "none", no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]

pub mod arch;
pub mod args;
pub mod config;
pub mod entry;
pub mod err;
pub mod fail;
pub mod inject;
pub mod ipc;
pub mod kipc;
pub mod lease;
pub mod lifecycle;
pub mod sched;
pub mod startup;
pub mod syscalls;
pub mod task;
pub mod time;
pub mod umem;

/// The body of an app's kernel crate: includes the tables `cargo xtask dist` generated for
/// the app (`BULKHEAD_KCONFIG`) and defines the entry the reset handler calls, and the
/// handlers off the IPC paths, which are compiled here, for size (`entry::handlers`).
///
/// `app_kernel!(board_init = path::to::fn)` also runs `fn()` first: a board's power and
/// clock bring-up, privileged, once, after `.data`/`.bss` are initialised and before the
/// kernel starts the SysTick from the board file's `cpu-hz`, so it must leave the core
/// clock at exactly that rate.
///
/// `app_kernel!(board_init = ..., reset_reason = path::to::fn)` also lets the board refine
/// the reset reason the kernel's record gives (`fn(ResetReason) -> ResetReason`, called once
/// at start-up, privileged) with what the chip reports, e.g. STM32H7's `RCC_RSR`
/// (`drv-stm32h7-reset-reason`): a watchdog or pin reset leaves no record of its own.
///
/// `app_kernel!(pre_ram = path::to::fn, board_init = ..., reset_reason = ...)` also has the
/// reset handler call `fn` before it initialises `.data` and `.bss`
/// (`entry/reset_handler.rs`):
/// STM32H7's supply configuration. `fn` must be a routine that touches neither the stack
/// nor any RAM and returns with `bx lr`, i.e. a naked function.
#[macro_export]
macro_rules! app_kernel {
    () => {
        $crate::app_kernel!(@entry { "bx lr" } {} |recorded| recorded);
    };
    (board_init = $init:path) => {
        $crate::app_kernel!(@entry { "bx lr" } { $init(); } |recorded| recorded);
    };
    (board_init = $init:path, reset_reason = $reason:path) => {
        $crate::app_kernel!(@entry { "bx lr" } { $init(); } $reason);
    };
    (pre_ram = $pre:path, board_init = $init:path, reset_reason = $reason:path) => {
        $crate::app_kernel!(@entry { "b {pre}", pre = sym $pre } { $init(); } $reason);
    };
    (@entry { $($pre:tt)* } { $($init:tt)* } $($reason:tt)*) => {
        include!(env!("BULKHEAD_KCONFIG"));

        /// The vector table, through the last interrupt line the app routes.
        #[unsafe(no_mangle)]
        #[unsafe(link_section = ".vector_table")]
        #[used]
        static __vector_table: $crate::entry::VectorTable<KERNEL_IRQ_LINES> =
            $crate::entry::VectorTable::kernel();

        /// Called by the reset handler before RAM is initialised: a tail branch to the
        /// board's routine, or a bare return. Naked, so it has no prologue touching the stack.
        #[unsafe(no_mangle)]
        #[unsafe(naked)]
        extern "C" fn bulkhead_pre_ram() {
            core::arch::naked_asm!($($pre)*)
        }

        // The handlers off the IPC paths, compiled in this crate for size (`entry::handlers`).
        #[unsafe(no_mangle)]
        extern "C" fn pendsv_entry() {
            // SAFETY: this is the handler the vector table or shim names.
            unsafe { $crate::entry::pendsv() }
        }

        #[unsafe(no_mangle)]
        #[allow(non_snake_case)] // vector names follow the CMSIS spelling humility shows
        extern "C" fn SysTick() {
            // SAFETY: this is the handler the vector table or shim names.
            unsafe { $crate::entry::tick() }
        }

        #[unsafe(no_mangle)]
        extern "C" fn fault_entry(exception: u32) {
            // SAFETY: this is the handler the vector table or shim names.
            unsafe { $crate::entry::fault(exception) }
        }

        #[unsafe(no_mangle)]
        #[allow(non_snake_case)]
        extern "C" fn DefaultIrq() {
            // SAFETY: this is the handler the vector table or shim names.
            unsafe { $crate::entry::irq() }
        }

        #[unsafe(no_mangle)]
        extern "C" fn kernel_main() -> ! {
            $($init)*
            // SAFETY: the reset handler calls this once, before anything else touches the
            // task table.
            unsafe {
                $crate::entry::start_kernel(
                    &mut *core::ptr::addr_of_mut!(HUBRIS_TASK_TABLE_SPACE),
                    &HUBRIS_TASK_DESCS,
                    &KERNEL_CONFIG,
                    $($reason)*,
                )
            }
        }
    };
}
