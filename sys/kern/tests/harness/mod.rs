//! A simulated Bulkhead system for host tests: N tasks with their own RAM and flash in the
//! host arch's address space, and one method per syscall that makes a task "execute" it.
//!
//! A syscall method writes the task's message, buffers and lease table into its RAM, sets
//! its saved r4-r11, runs `syscalls::dispatch` and records the task chosen to run next in
//! `Sim::current`. Results are read back from the caller's saved registers by the
//! `*_result` methods (a blocking call's results arrive when it is woken).
//!
//! Task memory layout (offsets into the task's 4 KiB RAM region):
//!
//! | offset  | use                                                   |
//! |---------|-------------------------------------------------------|
//! | 0x000   | stack (grows down from `STACK_TOP`)                   |
//! | 0x400   | outgoing message (SEND, REPLY, kernel IPC request)    |
//! | 0x500   | receive buffer (RECV)                                 |
//! | 0x600   | reply buffer (SEND)                                   |
//! | 0x700   | lease table (12-byte `ULease` entries)                |
//! | 0x800   | lent data                                             |
//! | 0xC00   | borrow buffer (BORROW_*)                              |
//! | 0xE00   | panic message                                         |
//! | 0xF00   | scratch for invariant probes                          |
#![allow(dead_code)]

use std::cell::RefCell;
use std::collections::BTreeSet;

use abi::{
    FAULT_NOTIFICATION, FaultInfo, Generation, Incarnation, IrqDesc, Kipcnum, RECV_CLOSED,
    RegionAttributes, RegionDesc, SchedState, Sysnum, TaskDesc, TaskFlags, TaskId, TaskState,
    ULease,
};
use kern::arch;
use kern::lifecycle::{self, SupervisorFaultPolicy};
use kern::sched;
use kern::startup::{self, KernelConfig};
use kern::syscalls;
use kern::task::{Task, Timestamp};
use kern::time;

pub const RAM_BASE: u32 = 0x2000_0000;
pub const FLASH_BASE: u32 = 0x0800_0000;
pub const REGION_SIZE: u32 = 0x1000;

pub const STACK_TOP: u32 = 0x400;
pub const MSG: u32 = 0x400;
pub const RECV_BUF: u32 = 0x500;
pub const REPLY_BUF: u32 = 0x600;
pub const LEASE_TABLE: u32 = 0x700;
pub const LEASE_DATA: u32 = 0x800;
pub const BORROW_BUF: u32 = 0xC00;
pub const PANIC_MSG: u32 = 0xE00;
pub const PROBE: u32 = 0xF00;

/// The notification bit each task's interrupt posts in `Sim::standard` systems.
pub const IRQ_BIT: u32 = 1 << 8;
pub const IMAGE_ID: u64 = 0x0123_4567_89AB_CDEF;
pub const IDLE_PRIORITY: u8 = 7;

static NO_REGION: RegionDesc = RegionDesc {
    base: 0,
    size: 0,
    attributes: RegionAttributes(0),
};

pub fn ram(task: usize) -> u32 {
    RAM_BASE + task as u32 * REGION_SIZE
}

pub fn flash(task: usize) -> u32 {
    FLASH_BASE + task as u32 * REGION_SIZE
}

/// The interrupt line task `i` owns in `Sim::standard` systems.
pub fn irq_of(task: usize) -> u32 {
    100 + task as u32
}

/// How one task is declared in the simulated `app.toml`.
#[derive(Copy, Clone, Debug)]
pub struct TaskSpec {
    pub priority: u8,
    pub send_targets: u32,
    pub notify_targets: u32,
    pub flags: u32,
    pub kipc_grants: u32,
    /// `client-gone`: the bit the kernel posts when a client of this task is detached.
    pub client_gone: u32,
    /// `reply-deadline-ms` in ticks; 0 for none.
    pub reply_deadline: u32,
}

impl TaskSpec {
    /// A task that starts at boot and may send to every task.
    pub fn task(priority: u8) -> Self {
        TaskSpec {
            priority,
            send_targets: u32::MAX,
            notify_targets: 0,
            flags: TaskFlags::START_AT_BOOT,
            kipc_grants: 0,
            client_gone: 0,
            reply_deadline: 0,
        }
    }

    /// Task 0: most important, granted every kernel IPC operation, sends to nobody.
    pub fn supervisor() -> Self {
        TaskSpec {
            priority: 0,
            send_targets: 0,
            notify_targets: 0,
            flags: TaskFlags::START_AT_BOOT,
            kipc_grants: Kipcnum::ALL_GRANTS,
            client_gone: 0,
            reply_deadline: 0,
        }
    }

    pub fn targets(self, send_targets: u32) -> Self {
        TaskSpec {
            send_targets,
            ..self
        }
    }

    /// May POST (but not SEND) to the tasks in `notify_targets` (`app.toml` `notify`).
    pub fn notifies(self, notify_targets: u32) -> Self {
        TaskSpec {
            notify_targets,
            ..self
        }
    }

    /// Granted every kernel IPC operation.
    pub fn kipc(self) -> Self {
        TaskSpec {
            kipc_grants: Kipcnum::ALL_GRANTS,
            ..self
        }
    }

    /// Granted exactly the kernel IPC operations in `ops`.
    pub fn kipc_only(self, ops: &[Kipcnum]) -> Self {
        TaskSpec {
            kipc_grants: ops.iter().fold(0, |mask, op| mask | op.grant_bit()),
            ..self
        }
    }

    /// Declares `client-gone`: `bit` is posted when a task that may send to this one is
    /// detached.
    pub fn client_gone(self, bit: u32) -> Self {
        TaskSpec {
            client_gone: bit,
            ..self
        }
    }

    /// Declares `reply-deadline-ms`: a client waiting `ticks` for this task's reply gets it
    /// faulted.
    pub fn reply_deadline(self, ticks: u32) -> Self {
        TaskSpec {
            reply_deadline: ticks,
            ..self
        }
    }

    pub fn flags(self, flags: u32) -> Self {
        TaskSpec { flags, ..self }
    }

    pub fn not_started(self) -> Self {
        TaskSpec {
            flags: self.flags & !TaskFlags::START_AT_BOOT,
            ..self
        }
    }
}

/// RECV results (r4-r10).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub rc: u32,
    pub sender: TaskId,
    pub operation: u32,
    pub len: u32,
    pub reply_capacity: u32,
    pub lease_count: u32,
    pub sender_generation: u32,
}

impl Received {
    /// The sender as a server names it back to the kernel (REPLY, REPLY_FAULT, BORROW_*).
    pub fn sender_incarnation(&self) -> Incarnation {
        Incarnation {
            id: self.sender,
            generation: self.sender_generation,
        }
    }
}

/// How a test names the peer of a REPLY, REPLY_FAULT, BORROW_*, POST or closed RECV: exactly, by an
/// `Incarnation`, or by a bare `TaskId`, which stands for the incarnation whose restart count
/// equals its 6 generation bits (so only in tests that restart the task fewer than 64 times).
pub trait PeerName {
    fn incarnation(self) -> Incarnation;
}

impl PeerName for Incarnation {
    fn incarnation(self) -> Incarnation {
        self
    }
}

impl PeerName for TaskId {
    fn incarnation(self) -> Incarnation {
        Incarnation {
            id: self,
            generation: u32::from(self.generation().0),
        }
    }
}

/// GET_TIMER results.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TimerView {
    pub now: u64,
    pub deadline: Option<u64>,
    pub bits: u32,
}

pub struct Sim {
    pub tasks: Vec<Task>,
    /// The task the kernel chose to run after the last operation.
    pub current: usize,
}

thread_local! {
    /// Base addresses already mapped on this thread: the host machine has no unmap, so a
    /// second `Sim` on the same thread (proptest cases) zeroes them instead.
    static MAPPED: RefCell<BTreeSet<u32>> = const { RefCell::new(BTreeSet::new()) };
}

fn map_fresh(base: u32, size: u32) {
    let known = MAPPED.with_borrow_mut(|m| !m.insert(base));
    if known {
        arch::poke(base, &vec![0; size as usize]);
    } else {
        arch::map_memory(base, size);
    }
}

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

impl Sim {
    /// Boots a system from task specs and interrupt routing, with the clock at 0 and a
    /// supervisor fault resetting the system.
    pub fn new(specs: &[TaskSpec], irqs: &[IrqDesc]) -> Sim {
        Sim::with_policy(specs, irqs, SupervisorFaultPolicy::Reset)
    }

    pub fn with_policy(
        specs: &[TaskSpec],
        irqs: &[IrqDesc],
        supervisor_fault: SupervisorFaultPolicy,
    ) -> Sim {
        Sim::with_policies(specs, irqs, supervisor_fault, SupervisorFaultPolicy::Reset)
    }

    /// `supervisor_fault` and `kernel_failure` as `app.toml`'s `on-supervisor-fault` and
    /// `on-kernel-failure`.
    pub fn with_policies(
        specs: &[TaskSpec],
        irqs: &[IrqDesc],
        supervisor_fault: SupervisorFaultPolicy,
        kernel_failure: SupervisorFaultPolicy,
    ) -> Sim {
        let config = leak(KernelConfig {
            irqs: Box::leak(irqs.to_vec().into_boxed_slice()),
            supervisor_fault,
            kernel_failure,
            image_id: IMAGE_ID,
            cpu_hz: 400_000_000,
        });
        arch::set_config(config);
        arch::set_now(0);
        for d in irqs {
            arch::irq_disable(d.irq);
            arch::irq_clear_pending(d.irq);
        }
        let declaring = specs
            .iter()
            .enumerate()
            .filter(|(_, spec)| spec.client_gone != 0)
            .fold(0u32, |mask, (i, _)| mask | 1 << i);
        let priorities: Vec<u8> = specs.iter().map(|spec| spec.priority).collect();
        // The builder's rule, which `sched::select`'s walk from task 0 relies on.
        assert!(
            priorities.iter().all(|&p| p >= priorities[0]),
            "task 0 must be the most important, as app-config requires"
        );
        let descs: Vec<TaskDesc> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                map_fresh(ram(i), REGION_SIZE);
                map_fresh(flash(i), REGION_SIZE);
                let mut regions = [&NO_REGION; abi::REGIONS_PER_TASK];
                regions[0] = leak(RegionDesc {
                    base: ram(i),
                    size: REGION_SIZE,
                    attributes: RegionAttributes(RegionAttributes::READ | RegionAttributes::WRITE),
                });
                regions[1] = leak(RegionDesc {
                    base: flash(i),
                    size: REGION_SIZE,
                    attributes: RegionAttributes(
                        RegionAttributes::READ | RegionAttributes::EXECUTE,
                    ),
                });
                TaskDesc {
                    regions,
                    mpu_words: [0; 2 * abi::REGIONS_PER_TASK],
                    entry_point: flash(i) | 1,
                    initial_stack: ram(i) + STACK_TOP,
                    priority: spec.priority,
                    sched_next: abi::sched_next(&priorities, i),
                    index: i as u16,
                    flags: TaskFlags(spec.flags),
                    send_targets: spec.send_targets,
                    notify_targets: spec.notify_targets,
                    kipc_grants: spec.kipc_grants,
                    client_gone: spec.client_gone,
                    // As the builder computes it: the declaring servers among the targets,
                    // never the task itself.
                    client_gone_targets: spec.send_targets & declaring & !(1 << i),
                    reply_deadline: spec.reply_deadline,
                }
            })
            .collect();
        let descs: &'static [TaskDesc] = Box::leak(descs.into_boxed_slice());
        let mut tasks: Vec<Task> = descs.iter().map(Task::new).collect();
        startup::init_tasks(&mut tasks);
        let current = sched::select(&tasks, 0);
        Sim { tasks, current }
    }

    /// Supervisor (task 0), one task per priority in `priorities` (tasks 1..), and an idle
    /// task last. Every task owns interrupt `irq_of(i)` on `IRQ_BIT`. The supervisor is
    /// parked in a notification-only receive for its fault bit, as jefe would be.
    pub fn standard(priorities: &[u8]) -> Sim {
        let mut specs = vec![TaskSpec::supervisor()];
        specs.extend(priorities.iter().map(|&p| TaskSpec::task(p)));
        specs.push(TaskSpec::task(IDLE_PRIORITY));
        let irqs: Vec<IrqDesc> = (1..specs.len())
            .map(|i| IrqDesc {
                irq: irq_of(i),
                task: i as u16,
                notification: IRQ_BIT,
            })
            .collect();
        let mut sim = Sim::new(&specs, &irqs);
        sim.park_supervisor();
        sim
    }

    pub fn idle(&self) -> usize {
        self.tasks.len() - 1
    }

    /// The supervisor waits for fault notifications only.
    pub fn park_supervisor(&mut self) {
        self.recv_closed(0, TaskId::KERNEL, 0, FAULT_NOTIFICATION);
    }

    // ---- state ----

    pub fn state(&self, i: usize) -> TaskState {
        self.tasks[i].state
    }

    /// The scheduling state if healthy, `None` if faulted.
    pub fn sched(&self, i: usize) -> Option<SchedState> {
        self.tasks[i].healthy_state()
    }

    pub fn fault_of(&self, i: usize) -> Option<FaultInfo> {
        match self.tasks[i].state {
            TaskState::Faulted { fault, .. } => Some(fault),
            TaskState::Healthy(_) => None,
        }
    }

    pub fn id(&self, i: usize) -> TaskId {
        self.tasks[i].current_id()
    }

    /// Task `i`'s current incarnation, with its full restart count.
    pub fn incarnation(&self, i: usize) -> Incarnation {
        Incarnation::new(i, self.tasks[i].generation)
    }

    /// Task `i`'s incarnation `back` restarts before the current one.
    pub fn incarnation_generations_ago(&self, i: usize, back: u32) -> Incarnation {
        Incarnation::new(i, self.tasks[i].generation.wrapping_sub(back))
    }

    /// An id for task `i` with a generation `back` steps before the current one.
    pub fn id_generations_ago(&self, i: usize, back: u8) -> TaskId {
        let g = self.id(i).generation().0.wrapping_sub(back) & Generation::MASK;
        TaskId::for_index_and_gen(i, Generation(g))
    }

    pub fn detached(&self, i: usize) -> bool {
        self.tasks[i].detached
    }

    pub fn is_runnable(&self, i: usize) -> bool {
        self.tasks[i].is_runnable()
    }

    /// Saved r4-r11 of task `i`.
    pub fn regs(&self, i: usize) -> [u32; 8] {
        let s = &self.tasks[i].save;
        [s.r4, s.r5, s.r6, s.r7, s.r8, s.r9, s.r10, s.r11]
    }

    pub fn notifications(&self, i: usize) -> u32 {
        self.tasks[i].notifications
    }

    // ---- memory ----

    pub fn write(&self, task: usize, offset: u32, bytes: &[u8]) {
        arch::poke(ram(task) + offset, bytes);
    }

    pub fn read(&self, task: usize, offset: u32, len: usize) -> Vec<u8> {
        arch::peek(ram(task) + offset, len)
    }

    /// Puts `data` in task `lender`'s lent-data area at `offset` and describes it as a lease.
    pub fn lease(&self, lender: usize, attributes: u32, offset: u32, data: &[u8]) -> ULease {
        self.write(lender, LEASE_DATA + offset, data);
        ULease {
            attributes,
            base_address: ram(lender) + LEASE_DATA + offset,
            length: data.len() as u32,
        }
    }

    // ---- raw syscall ----

    /// Makes task `task` execute syscall `number` with r4-r10 = `args`. Returns (and records
    /// in `current`) the task to run next.
    pub fn syscall(&mut self, task: usize, number: u32, args: [u32; 7]) -> usize {
        assert!(
            self.tasks[task].is_runnable(),
            "task {task} cannot make a syscall: {:?}",
            self.state(task)
        );
        let s = &mut self.tasks[task].save;
        [s.r4, s.r5, s.r6, s.r7, s.r8, s.r9, s.r10] = args;
        s.r11 = number;
        self.current = syscalls::dispatch(&mut self.tasks, task);
        self.current
    }

    // ---- IPC ----

    /// SEND to `to`, naming it as a client would that learned `to` when it was current: with
    /// the latest 32-bit generation that has `to`'s 6 bits (see [`Sim::send_exact`]).
    pub fn send(
        &mut self,
        from: usize,
        to: TaskId,
        op: u16,
        msg: &[u8],
        reply_cap: u32,
        leases: &[ULease],
    ) -> usize {
        let to = self.incarnation_named_by(to);
        self.send_exact(from, to, op, msg, reply_cap, leases)
    }

    /// The latest incarnation of `id`'s task whose generation has `id`'s 6 bits (the kernel's
    /// own id for `KERNEL`, and generation 0 for an index out of range).
    pub fn incarnation_named_by(&self, id: TaskId) -> Incarnation {
        let Some(task) = self.tasks.get(id.index()) else {
            return Incarnation { id, generation: 0 };
        };
        let behind = task
            .current_id()
            .generation()
            .0
            .wrapping_sub(id.generation().0)
            & Generation::MASK;
        Incarnation {
            id,
            generation: task.generation.wrapping_sub(u32::from(behind)),
        }
    }

    /// SEND naming `to` exactly, 32-bit generation included.
    pub fn send_exact(
        &mut self,
        from: usize,
        to: Incarnation,
        op: u16,
        msg: &[u8],
        reply_cap: u32,
        leases: &[ULease],
    ) -> usize {
        self.write(from, MSG, msg);
        for (k, l) in leases.iter().enumerate() {
            let mut entry = Vec::with_capacity(12);
            for word in [l.attributes, l.base_address, l.length] {
                entry.extend_from_slice(&word.to_le_bytes());
            }
            self.write(from, LEASE_TABLE + 12 * k as u32, &entry);
        }
        let base = ram(from);
        self.syscall(
            from,
            Sysnum::Send as u32,
            [
                u32::from(to.id.0) << 16 | u32::from(op),
                base + MSG,
                msg.len() as u32,
                base + REPLY_BUF,
                abi::send_packing::pack(reply_cap as usize, leases.len()),
                to.generation,
                base + LEASE_TABLE,
            ],
        )
    }

    /// (response code, reply length) of a finished SEND; with a peer-gone code, the second
    /// is the target's current 32-bit generation.
    pub fn send_result(&self, task: usize) -> (u32, u32) {
        let r = self.regs(task);
        (r[0], r[1])
    }

    pub fn reply_bytes(&self, task: usize) -> Vec<u8> {
        let len = self.regs(task)[1] as usize;
        self.read(task, REPLY_BUF, len)
    }

    pub fn recv_open(&mut self, task: usize, buf_len: u32, mask: u32) -> usize {
        self.recv_raw(task, ram(task) + RECV_BUF, buf_len, mask, 0)
    }

    pub fn recv_closed(
        &mut self,
        task: usize,
        from: impl PeerName,
        buf_len: u32,
        mask: u32,
    ) -> usize {
        let from = from.incarnation();
        let filter = RECV_CLOSED | u32::from(from.id.0);
        self.syscall(
            task,
            Sysnum::Recv as u32,
            [
                ram(task) + RECV_BUF,
                buf_len,
                mask,
                filter,
                0,
                from.generation,
                0,
            ],
        )
    }

    pub fn recv_raw(
        &mut self,
        task: usize,
        buf: u32,
        buf_len: u32,
        mask: u32,
        filter: u32,
    ) -> usize {
        self.syscall(
            task,
            Sysnum::Recv as u32,
            [buf, buf_len, mask, filter, 0, 0, 0],
        )
    }

    pub fn recv_result(&self, task: usize) -> Received {
        let r = self.regs(task);
        Received {
            rc: r[0],
            sender: TaskId(r[1] as u16),
            operation: r[2],
            len: r[3],
            reply_capacity: r[4],
            lease_count: r[5],
            sender_generation: r[6],
        }
    }

    pub fn received_bytes(&self, task: usize, len: usize) -> Vec<u8> {
        self.read(task, RECV_BUF, len)
    }

    pub fn reply(&mut self, server: usize, to: impl PeerName, code: u32, msg: &[u8]) -> usize {
        let to = to.incarnation();
        self.write(server, MSG, msg);
        let args = [
            u32::from(to.id.0),
            code,
            ram(server) + MSG,
            msg.len() as u32,
            0,
            to.generation,
            0,
        ];
        self.syscall(server, Sysnum::Reply as u32, args)
    }

    pub fn reply_fault(&mut self, server: usize, to: impl PeerName, reason: u32) -> usize {
        let to = to.incarnation();
        self.syscall(
            server,
            Sysnum::ReplyFault as u32,
            [u32::from(to.id.0), reason, 0, 0, 0, to.generation, 0],
        )
    }

    pub fn post(&mut self, from: usize, to: impl PeerName, bits: u32) -> u32 {
        let to = to.incarnation();
        self.syscall(
            from,
            Sysnum::Post as u32,
            [u32::from(to.id.0), bits, 0, 0, 0, to.generation, 0],
        );
        self.regs(from)[0]
    }

    // ---- leases ----

    /// BORROW_READ into the server's borrow buffer: (rc, bytes copied).
    pub fn borrow_read(
        &mut self,
        server: usize,
        lender: impl PeerName,
        index: u32,
        offset: u32,
        len: u32,
    ) -> (u32, Vec<u8>) {
        let lender = lender.incarnation();
        let args = [
            u32::from(lender.id.0),
            index,
            offset,
            ram(server) + BORROW_BUF,
            len,
            lender.generation,
            0,
        ];
        self.syscall(server, Sysnum::BorrowRead as u32, args);
        let [rc, n, ..] = self.regs(server);
        (
            rc,
            if rc == 0 {
                self.read(server, BORROW_BUF, n as usize)
            } else {
                Vec::new()
            },
        )
    }

    /// BORROW_WRITE of `data` from the server's borrow buffer: (rc, bytes copied).
    pub fn borrow_write(
        &mut self,
        server: usize,
        lender: impl PeerName,
        index: u32,
        offset: u32,
        data: &[u8],
    ) -> (u32, u32) {
        let lender = lender.incarnation();
        self.write(server, BORROW_BUF, data);
        let args = [
            u32::from(lender.id.0),
            index,
            offset,
            ram(server) + BORROW_BUF,
            data.len() as u32,
            lender.generation,
            0,
        ];
        self.syscall(server, Sysnum::BorrowWrite as u32, args);
        let [rc, n, ..] = self.regs(server);
        (rc, n)
    }

    /// BORROW_INFO: (rc, attributes, length).
    pub fn borrow_info(
        &mut self,
        server: usize,
        lender: impl PeerName,
        index: u32,
    ) -> (u32, u32, u32) {
        let lender = lender.incarnation();
        self.syscall(
            server,
            Sysnum::BorrowInfo as u32,
            [u32::from(lender.id.0), index, 0, 0, 0, lender.generation, 0],
        );
        let [rc, attributes, len, ..] = self.regs(server);
        (rc, attributes, len)
    }

    // ---- timers, interrupts, misc ----

    pub fn set_timer(&mut self, task: usize, deadline: Option<u64>, bits: u32) -> usize {
        let d = deadline.unwrap_or(0);
        let args = [
            u32::from(deadline.is_some()),
            d as u32,
            (d >> 32) as u32,
            bits,
            0,
            0,
            0,
        ];
        self.syscall(task, Sysnum::SetTimer as u32, args)
    }

    pub fn get_timer(&mut self, task: usize) -> TimerView {
        self.syscall(task, Sysnum::GetTimer as u32, [0; 7]);
        let r = self.regs(task);
        let now = u64::from(r[0]) | u64::from(r[1]) << 32;
        let deadline = u64::from(r[3]) | u64::from(r[4]) << 32;
        TimerView {
            now,
            deadline: (r[2] != 0).then_some(deadline),
            bits: r[5],
        }
    }

    pub fn irq_control(&mut self, task: usize, mask: u32, flags: u32) -> usize {
        self.syscall(
            task,
            Sysnum::IrqControl as u32,
            [mask, flags, 0, 0, 0, 0, 0],
        )
    }

    /// IRQ_STATUS: (enabled, pending, posted).
    pub fn irq_status(&mut self, task: usize, mask: u32) -> (u32, u32, u32) {
        self.syscall(task, Sysnum::IrqStatus as u32, [mask, 0, 0, 0, 0, 0, 0]);
        let [enabled, pending, posted, ..] = self.regs(task);
        (enabled, pending, posted)
    }

    pub fn panic(&mut self, task: usize, msg: &[u8]) -> usize {
        self.write(task, PANIC_MSG, msg);
        self.syscall(
            task,
            Sysnum::Panic as u32,
            [ram(task) + PANIC_MSG, msg.len() as u32, 0, 0, 0, 0, 0],
        )
    }

    pub fn refresh(&mut self, task: usize, id: TaskId) -> TaskId {
        self.syscall(
            task,
            Sysnum::RefreshTaskId as u32,
            [u32::from(id.0), 0, 0, 0, 0, 0, 0],
        );
        TaskId(self.regs(task)[0] as u16)
    }

    // ---- kernel IPC ----

    /// Sends a kernel-IPC request of little-endian words, with a 256-byte reply buffer.
    pub fn kipc(&mut self, task: usize, op: Kipcnum, words: &[u32]) -> usize {
        let msg: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        self.send(task, TaskId::KERNEL, op as u16, &msg, 0x100, &[])
    }

    /// (response code, reply bytes) of a kernel-IPC request.
    pub fn kipc_result(&self, task: usize) -> (u32, Vec<u8>) {
        let (rc, len) = self.send_result(task);
        (rc, self.read(task, REPLY_BUF, len as usize))
    }

    // ---- kernel entry points other than syscalls ----

    pub fn detach(&mut self, i: usize) -> usize {
        let hint = lifecycle::detach(&mut self.tasks, i);
        self.resolve(hint)
    }

    pub fn restart(&mut self, i: usize, start: bool) -> usize {
        let hint = lifecycle::restart(&mut self.tasks, i, start);
        self.resolve(hint)
    }

    pub fn fault(&mut self, i: usize, fault: FaultInfo) -> usize {
        let hint = lifecycle::fault_task(&mut self.tasks, i, fault);
        self.resolve(hint)
    }

    /// Advances the clock to `now` and runs the tick: the tick counted for the running task,
    /// timers, then time slicing.
    pub fn tick(&mut self, now: u64) -> usize {
        arch::set_now(now);
        time::count_tick(&mut self.tasks, self.current);
        let hint = time::process_timers(&mut self.tasks, self.current, Timestamp(now));
        let hint = hint.combine(time::rotate_equals(&self.tasks, self.current));
        self.resolve(hint)
    }

    pub fn interrupt(&mut self, irq: u32) -> usize {
        let hint = syscalls::interrupt(&mut self.tasks, self.current, irq);
        self.resolve(hint)
    }

    fn resolve(&mut self, hint: sched::NextTask) -> usize {
        self.current = sched::resolve(&self.tasks, self.current, hint);
        self.current
    }
}
