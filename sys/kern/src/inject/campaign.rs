//! The injector's state machine, in kernels built with feature `fault-inject` (see the
//! parent module for the protocol). Kernel entry points never nest, so the state has one
//! user at a time.

use core::ptr::{addr_of, addr_of_mut, read_volatile, write_volatile};

use abi::{FaultInfo, RegionAttributes, ResetReason, SchedState, TaskId};

use super::{
    FIRST_FRAME_REGISTER, FRAME_PC, Kind, Line, Outcome, Plan, REGISTER_NAMES, Rng, Run, SALT,
    nth_kind, register_choice,
};
use crate::arch::{self, SavedState};
use crate::lifecycle;
use crate::sched::{self, NextTask};
use crate::task::Task;
use crate::umem::{self, USlice};

/// The plan the app's kernel installed (`install`); until then every hook does nothing.
static mut PLAN: Option<&'static Plan> = None;

/// Patched per boot by `cargo xtask campaign`; its presence also tells the builder that this
/// kernel injects faults (it refuses such a kernel for a board image).
#[unsafe(no_mangle)]
#[used]
pub static BULKHEAD_CAMPAIGN_RUN: Run = Run {
    seed: 0,
    faults: 0,
    hold_on_failure: 0,
};

/// Time the image has to come up before the first fault.
const BOOT_MS: u64 = 50;
const TASK_SLOTS: usize = 32;
/// `b .`, the instruction a stopped task is sent to, in its 16-bit encoding and its 32-bit
/// one (`b.w .`, which the assembler makes of userlib's `__bulkhead_stuck`).
const BRANCH_TO_SELF: u16 = 0xE7FE;
const WIDE_BRANCH_TO_SELF: [u16; 2] = [0xF7FF, 0xBFFE];
/// xPSR's IT/ICI bits: a task interrupted inside an IT block must not carry them to `b .`.
const XPSR_IT_BITS: u32 = (0x3F << 10) | (0x3 << 25);

#[derive(Copy, Clone)]
enum Phase {
    Waiting {
        at: u64,
    },
    Outstanding {
        n: u32,
        target: usize,
        generation: u32,
        since: u64,
        window: u32,
    },
    Recovering {
        target: usize,
        generation: u32,
        since: u64,
    },
    Settling {
        until: u64,
        progress: u32,
    },
    Ended,
}

struct State {
    rng: Rng,
    faults: u32,
    injected: u32,
    phase: Phase,
    progress: u32,
    last_progress: u64,
    /// The full generation of the server each task last sent to, as it was at delivery.
    server_generation: [u32; TASK_SLOTS],
    /// Where each target's `b .` is (0: not looked for yet, 1: it has none).
    spin_at: [u32; TASK_SLOTS],
    /// Each task's corrupted code halfword and what it held, until its incarnation ends.
    patched: [Option<(u32, u16)>; TASK_SLOTS],
    /// A `delay` waiting for its target's next reply.
    delay: Option<Delay>,
    /// A reply the kernel holds: already in the client's buffer, the client still blocked.
    held: Option<Held>,
}

#[derive(Copy, Clone)]
struct Delay {
    /// The fault's number, which the release resolves.
    n: u32,
    target: usize,
    generation: u32,
    ms: u32,
}

#[derive(Copy, Clone)]
struct Held {
    n: u32,
    client: usize,
    client_generation: u32,
    /// The incarnation that replied: if it is gone by the release, so is its answer.
    server: TaskId,
    due: u64,
}

static mut STATE: Option<State> = None;

/// Installs the plan (`BULKHEAD_FAULT_PLAN`, generated from `[kernel.fault-inject]`) and
/// starts a fresh campaign; `test/app/campaign` does it before the kernel starts. Host tests
/// install their own.
pub fn install(plan: &'static Plan) {
    // SAFETY: called before the kernel starts (or by a single-threaded host test); nothing
    // else holds a reference to these statics.
    unsafe {
        *addr_of_mut!(PLAN) = Some(plan);
        *addr_of_mut!(STATE) = None;
    }
}

fn installed() -> Option<&'static Plan> {
    // SAFETY: written only by `install`, before any kernel entry.
    unsafe { *addr_of!(PLAN) }
}

fn plan() -> &'static Plan {
    installed().expect("a hook ran the campaign without a plan")
}

/// The campaign's state, or `None` in a kernel that has installed no plan.
fn campaign() -> Option<&'static mut State> {
    installed()?;
    Some(state())
}

fn state() -> &'static mut State {
    // SAFETY: kernel entry points never nest, so this is the only live reference.
    let slot = unsafe { &mut *addr_of_mut!(STATE) };
    slot.get_or_insert_with(|| {
        // SAFETY: flash words patched by the runner; read volatile so the compiler never
        // folds the linked zeros.
        let (seed, faults) = unsafe {
            (
                read_volatile(addr_of!(BULKHEAD_CAMPAIGN_RUN.seed)),
                read_volatile(addr_of!(BULKHEAD_CAMPAIGN_RUN.faults)),
            )
        };
        State {
            rng: Rng::new(seed, SALT),
            faults: if faults == 0 { plan().faults } else { faults },
            injected: 0,
            phase: Phase::Waiting { at: BOOT_MS },
            progress: 0,
            last_progress: 0,
            server_generation: [0; TASK_SLOTS],
            spin_at: [0; TASK_SLOTS],
            patched: [None; TASK_SLOTS],
            delay: None,
            held: None,
        }
    })
}

fn emit(mut line: Line) {
    arch::campaign_write(line.terminated());
}

/// Reports a failure and ends the boot: what follows a failure says nothing more. A replay
/// for a dump stops here instead, with every task as the failure found it, until the runner
/// halts the core through its debugger.
fn fail(st: &mut State, line: Line) -> ! {
    emit(line);
    hold_for_dump();
    end(st)
}

/// The boot's last line, then QEMU exits. A replay for a dump holds here too: a failure only
/// the runner sees (a corruption on the console, a privileged call obeyed) leaves no `FX`,
/// and the end of its boot is the nearest moment the kernel can keep.
fn end(st: &mut State) -> ! {
    st.phase = Phase::Ended;
    emit(
        Line::default()
            .word("FE")
            .num(st.injected.into())
            .num(st.progress.into()),
    );
    hold_for_dump();
    arch::campaign_exit()
}

/// In a replay for a dump (`hold_on_failure`), says `FD` and spins until the runner halts
/// the core through its debugger.
fn hold_for_dump() {
    // SAFETY: a flash word patched by the runner, read volatile as in `state`.
    if unsafe { read_volatile(addr_of!(BULKHEAD_CAMPAIGN_RUN.hold_on_failure)) } != 0 {
        emit(Line::default().word("FD"));
        loop {
            core::hint::spin_loop();
        }
    }
}

fn gap(st: &mut State, now: u64) -> Phase {
    let plan = plan();
    Phase::Waiting {
        at: now + u64::from(st.rng.between(plan.min_gap_ms, plan.max_gap_ms)),
    }
}

/// At boot: a campaign boots once, so any recorded reason but power-on is a reset; in a
/// supervisor run, the supervisor's fault resetting the system is the outcome it looks for.
pub fn boot(reason: ResetReason) {
    let Some(st) = campaign() else { return };
    // The supervisor's fault resets by its policy; a supervisor stuck without faulting, by
    // the hardware watchdog it stopped feeding (`on_watchdog` said so before the reset).
    let by_policy = matches!(reason, ResetReason::SupervisorFault | ResetReason::Watchdog);
    if plan().supervisor_run && by_policy {
        emit(Line::default().word("FR").num(reason as u64));
        end(st);
    }
    if reason != ResetReason::PowerOn {
        fail(
            st,
            Line::default().word("FX").word("reset").num(reason as u64),
        );
    }
}

/// The hardware watchdog expired (the supervisor stopped feeding it) and the kernel is about
/// to reset. In a supervisor run that is the supervisor caught hanging: it resolves a fault
/// in flight in the supervisor and is reported like its faults (`FV watchdog`), with the
/// next boot's `FR`. Elsewhere the next boot reports the reset as a failure.
pub fn on_watchdog() {
    let Some(st) = campaign() else { return };
    if !plan().supervisor_run {
        return;
    }
    if let Phase::Outstanding { n, target, .. } = st.phase
        && target == lifecycle::SUPERVISOR
    {
        emit(resolved(n, Outcome::Watchdog.name()));
    }
    emit(Line::default().word("FV").word(Outcome::Watchdog.name()));
}

/// The kernel halts for good (`on-supervisor-fault = "halt"`): in a supervisor run that is
/// the outcome looked for, reported before the boot ends rather than left as a silent hang.
pub fn halting() {
    let Some(st) = campaign() else { return };
    if plan().supervisor_run {
        emit(Line::default().word("FH"));
        end(st);
    }
}

/// The kernel failed: say so before the epitaph's reset or halt.
pub fn kernel_failed(message: &[u8]) {
    let Some(st) = campaign() else { return };
    let text = core::str::from_utf8(message).unwrap_or("?");
    let mut line = Line::default().word("FX").word("kernel-fault");
    for word in text.split(' ') {
        line = line.word(word);
    }
    fail(st, line);
}

/// Every 1 ms tick: watch the workload, resolve the fault in flight, inject the next.
pub fn tick(tasks: &mut [Task], current: usize, now: u64) -> NextTask {
    let Some(st) = campaign() else {
        return NextTask::Same;
    };
    let plan = plan();
    if matches!(st.phase, Phase::Ended) {
        return NextTask::Same;
    }
    if now.saturating_sub(st.last_progress) > u64::from(plan.hang_ms) {
        snapshot(tasks);
        fail(st, hung(plan, now));
    }
    let mut hint = NextTask::Same;
    if let Some(held) = st.held
        && now >= held.due
    {
        hint = release(st, tasks, current, held, now);
    }
    match st.phase {
        Phase::Waiting { at } if now >= at => {
            if st.injected >= st.faults {
                st.phase = Phase::Settling {
                    until: now + u64::from(plan.settle_ms),
                    progress: st.progress,
                };
                return hint;
            }
            return hint.combine(inject(st, plan, tasks, current, now));
        }
        Phase::Outstanding {
            n,
            target,
            generation,
            since,
            window,
        } => {
            if tasks[target].generation != generation {
                st.delay = None;
                emit(resolved(n, "restarted"));
                st.phase = gap(st, now);
            } else if now - since >= u64::from(window) && st.held.is_none_or(|h| h.n != n) {
                // A reply this fault holds is resolved by its release, not as latent.
                st.delay = None;
                emit(resolved(n, Outcome::Latent.name()));
                st.phase = gap(st, now);
            }
        }
        Phase::Recovering {
            target,
            generation,
            since,
        } => {
            let t = &tasks[target];
            if t.generation != generation && !t.detached && t.healthy_state().is_some() {
                st.phase = gap(st, now);
            } else if now - since > u64::from(plan.recover_ms) {
                snapshot(tasks);
                fail(st, held(target));
            }
        }
        Phase::Settling { until, progress } if now >= until => {
            for target in plan.targets {
                let t = &tasks[usize::from(target.index)];
                if t.detached || t.healthy_state().is_none() {
                    snapshot(tasks);
                    fail(st, held(target.index.into()));
                }
            }
            if st.progress == progress {
                snapshot(tasks);
                fail(st, hung(plan, now));
            }
            end(st);
        }
        _ => {}
    }
    hint
}

fn resolved(n: u32, outcome: &str) -> Line {
    Line::default()
        .word("FO")
        .num(n.into())
        .num(arch::now())
        .word(outcome)
}

/// Every task's state at a failure, `FS <task> <state> [peer]`: what a dump would show first
/// of a hang (who waits on whom).
fn snapshot(tasks: &[Task]) {
    use abi::SchedState as S;
    for t in tasks {
        let line = Line::default().word("FS").num(t.index() as u64);
        let line = match (t.detached, t.healthy_state()) {
            (true, _) => line.word("detached"),
            (_, None) => line.word("faulted"),
            (_, Some(S::Runnable)) => line.word("runnable"),
            (_, Some(S::Stopped)) => line.word("stopped"),
            (_, Some(S::InSend(p))) => line.word("sending-to").num(p.index() as u64),
            (_, Some(S::InReply(p))) => line.word("awaiting-reply-from").num(p.index() as u64),
            (_, Some(S::InRecv(Some(p)))) => line.word("receiving-from").num(p.index() as u64),
            (_, Some(S::InRecv(None))) => line.word("receiving"),
        };
        emit(line);
    }
}

fn hung(plan: &Plan, now: u64) -> Line {
    Line::default()
        .word("FX")
        .word("hang")
        .num(plan.progress.into())
        .num(now)
}

fn held(target: usize) -> Line {
    Line::default().word("FX").word("held").num(target as u64)
}

fn inject(st: &mut State, plan: &Plan, tasks: &mut [Task], current: usize, now: u64) -> NextTask {
    // Every draw is made whatever is picked, so the sequence depends on the seed alone.
    let target = &plan.targets[st.rng.below(plan.targets.len() as u32) as usize];
    let kinds = Kind::ALL
        .iter()
        .filter(|k| target.kinds & k.bit() != 0)
        .count() as u32;
    let kind = nth_kind(target.kinds, st.rng.below(kinds));
    let (a, b) = (st.rng.next_u32(), st.rng.next_u32());
    let index = usize::from(target.index);
    let Some(kind) = kind else {
        st.phase = Phase::Waiting { at: now + 1 };
        return NextTask::Same;
    };
    // The running task's registers are live in the CPU (the tick saves none), and a task
    // that is not healthy and attached is being recovered: try again next tick.
    if index == current || tasks[index].detached || tasks[index].healthy_state().is_none() {
        st.phase = Phase::Waiting { at: now + 1 };
        return NextTask::Same;
    }
    st.injected += 1;
    let n = st.injected;
    let line = Line::default()
        .word("FI")
        .num(n.into())
        .num(now)
        .num(index as u64)
        .word(kind.name());
    let task = &mut tasks[index];
    let placed = match kind {
        Kind::Register => flip_register(task, a, b)
            .map(|(reg, bit)| line.word(REGISTER_NAMES[reg]).num(bit.into())),
        Kind::Ram => flip_ram(task, a, b).map(|(at, bit)| line.hex(at).num(bit.into())),
        Kind::Panic => Some(line.word("-").word("-")),
        Kind::Stop => spin(st, task).map(|at| line.hex(at).word("-")),
        Kind::Code => corrupt_code(st, task, a, b).map(|(at, bit)| line.hex(at).num(bit.into())),
        Kind::Delay => {
            let ms = plan.min_delay_ms + a % (plan.max_delay_ms - plan.min_delay_ms + 1);
            st.delay = Some(Delay {
                n,
                target: index,
                generation: task.generation,
                ms,
            });
            Some(line.num(ms.into()).word("-"))
        }
    };
    let Some(line) = placed else {
        emit(
            Line::default()
                .word("FI")
                .num(n.into())
                .num(now)
                .num(index as u64)
                .word(kind.name())
                .word("-")
                .word("-"),
        );
        emit(resolved(n, Outcome::Skipped.name()));
        st.phase = gap(st, now);
        return NextTask::Same;
    };
    emit(line);
    st.phase = Phase::Outstanding {
        n,
        target: index,
        generation: tasks[index].generation,
        since: now,
        window: match kind {
            Kind::Stop => plan.stop_latent_ms,
            // The reply may come at the end of the latent window and then be held.
            Kind::Delay => plan.latent_ms + plan.max_delay_ms,
            _ => plan.latent_ms,
        },
    };
    if kind == Kind::Panic {
        lifecycle::fault_task(tasks, index, FaultInfo::Panic)
    } else {
        NextTask::Same
    }
}

fn saved_register(save: &mut SavedState, i: usize) -> &mut u32 {
    match i {
        0 => &mut save.r4,
        1 => &mut save.r5,
        2 => &mut save.r6,
        3 => &mut save.r7,
        4 => &mut save.r8,
        5 => &mut save.r9,
        6 => &mut save.r10,
        7 => &mut save.r11,
        _ => &mut save.psp,
    }
}

/// Reads word `k` of the stacked frame, if the saved stack pointer still points into the
/// task's own RAM.
fn frame_word(task: &Task, k: usize) -> Option<(u32, u32)> {
    let at = task.save.psp.checked_add(4 * k as u32)?;
    let mut word = [0u8; 4];
    umem::read_from_task(task, at, &mut word)?;
    Some((at, u32::from_le_bytes(word)))
}

fn write_word(task: &Task, at: u32, value: u32) -> Option<()> {
    umem::write_to_task(task, USlice::new(at, 4), &value.to_le_bytes()).map(|_| ())
}

fn flip_register(task: &mut Task, a: u32, b: u32) -> Option<(usize, u32)> {
    let reg = register_choice(task.is_healthy_in(abi::SchedState::Runnable), a);
    let bit = b % 32;
    if reg < FIRST_FRAME_REGISTER {
        *saved_register(&mut task.save, reg) ^= 1 << bit;
    } else {
        let (at, word) = frame_word(task, reg - FIRST_FRAME_REGISTER)?;
        write_word(task, at, word ^ (1 << bit))?;
    }
    Some((reg, bit))
}

fn ram_region(task: &Task) -> Option<&'static abi::RegionDesc> {
    let want = RegionAttributes::READ | RegionAttributes::WRITE;
    task.descriptor.regions.iter().copied().find(|r| {
        r.attributes.0 & (want | RegionAttributes::DEVICE | RegionAttributes::DMA) == want
    })
}

fn flip_ram(task: &mut Task, a: u32, b: u32) -> Option<(u32, u32)> {
    let region = ram_region(task)?;
    let words = region.size / 4;
    let at = region.base + 4 * (((u64::from(a) * u64::from(words)) >> 32) as u32);
    let bit = b % 32;
    let mut word = [0u8; 4];
    umem::read_from_task(task, at, &mut word)?;
    write_word(task, at, u32::from_le_bytes(word) ^ (1 << bit))?;
    Some((at, bit))
}

fn code_region(task: &Task) -> Option<&'static abi::RegionDesc> {
    task.descriptor
        .regions
        .iter()
        .copied()
        .find(|r| r.attributes.0 & RegionAttributes::EXECUTE != 0)
}

/// Code around the task's saved `pc` that half of the `code` faults hit: what it runs next.
const HOT_CODE: u32 = 512;

/// Flips one bit of a halfword of the task's code; a corruption still in place from an
/// earlier fault is undone first, so a task carries at most one. Half of the flips land
/// anywhere in the code region (most of a driver's code is rarely run, so most of those
/// stay latent), half within [`HOT_CODE`] bytes around where the task resumes.
fn corrupt_code(st: &mut State, task: &Task, a: u32, b: u32) -> Option<(u32, u32)> {
    let index = task.index();
    restore_code(st, index);
    let region = code_region(task)?;
    let (mut base, mut size) = (region.base, region.size);
    if b & (1 << 31) != 0
        && let Some((_, pc)) = frame_word(task, FRAME_PC)
        && pc >= region.base
        && pc < region.base + region.size
    {
        base = pc.saturating_sub(HOT_CODE / 2).max(region.base) & !1;
        size = HOT_CODE.min(region.base + region.size - base);
    }
    let at = base + 2 * (((u64::from(a) * u64::from(size / 2)) >> 32) as u32);
    let bit = b % 16;
    // SAFETY: `at` is a halfword of the target's own code region, which is not the running
    // task's (the target is never current), so only the default memory map covers it for
    // the kernel; on QEMU that memory is RAM. The target runs it only after this returns.
    let original = unsafe { read_volatile(at as *const u16) };
    unsafe { write_volatile(at as *mut u16, original ^ (1 << bit)) };
    st.patched[index] = Some((at, original));
    Some((at, bit))
}

fn restore_code(st: &mut State, index: usize) {
    if let Some((at, original)) = st.patched.get_mut(index).and_then(Option::take) {
        // SAFETY: as in `corrupt_code`: the task whose code this is is not running.
        unsafe { write_volatile(at as *mut u16, original) };
    }
}

/// The incarnation of `index` ended (detach or restart): its code is whole again.
pub fn on_incarnation_end(index: usize) {
    if let Some(st) = campaign() {
        restore_code(st, index);
    }
}

/// Sends the task to a `b .` in its own code (userlib's start-up code has one,
/// `__bulkhead_stuck`, right at the start of its flash): it keeps running but never checks
/// in again.
fn spin(st: &mut State, task: &mut Task) -> Option<u32> {
    let index = task.index();
    if st.spin_at[index] == 0 {
        st.spin_at[index] = find_branch_to_self(task).unwrap_or(1);
    }
    let at = st.spin_at[index];
    if at == 1 {
        return None;
    }
    let (pc_at, _) = frame_word(task, FRAME_PC)?;
    let (xpsr_at, xpsr) = frame_word(task, FRAME_PC + 1)?;
    write_word(task, pc_at, at)?;
    write_word(task, xpsr_at, xpsr & !XPSR_IT_BITS)?;
    Some(at)
}

fn find_branch_to_self(task: &Task) -> Option<u32> {
    let code = code_region(task)?;
    let mut chunk = [0u8; 64];
    let mut at = code.base;
    // Chunks overlap by one halfword, so a wide branch across two chunks is seen whole.
    while at + chunk.len() as u32 <= code.base + code.size {
        umem::read_from_task(task, at, &mut chunk)?;
        let halves: [u16; 32] =
            core::array::from_fn(|i| u16::from_le_bytes([chunk[2 * i], chunk[2 * i + 1]]));
        for (i, pair) in halves.windows(2).enumerate() {
            if pair[0] == BRANCH_TO_SELF || pair == WIDE_BRANCH_TO_SELF {
                return Some(at + 2 * i as u32);
            }
        }
        at += chunk.len() as u32 - 2;
    }
    None
}

/// A task faulted. Resolves the fault in flight if it is its target; any other fault is
/// reported on its own (a late activation, or a fault that spread).
pub fn on_fault(tasks: &[Task], index: usize, fault: &FaultInfo) {
    let Some(st) = campaign() else { return };
    let outcome = Outcome::of_fault(fault);
    if index == lifecycle::SUPERVISOR && plan().supervisor_run {
        if let Phase::Outstanding { n, target, .. } = st.phase
            && target == index
        {
            emit(resolved(n, outcome.name()));
        }
        // The policy runs next (`lifecycle::fault_task`); its reset or halt ends the boot.
        emit(Line::default().word("FV").word(outcome.name()));
        return;
    }
    if index == lifecycle::SUPERVISOR {
        fail(
            st,
            Line::default()
                .word("FX")
                .word("supervisor-fault")
                .word(outcome.name()),
        );
    }
    match st.phase {
        Phase::Outstanding {
            n,
            target,
            generation,
            ..
        } if target == index && tasks[index].generation == generation => {
            st.delay = None;
            emit(resolved(n, outcome.name()));
            st.phase = Phase::Recovering {
                target,
                generation,
                since: arch::now(),
            };
        }
        Phase::Ended => {}
        _ => {
            // The fault's words (`FaultInfo::encode`) say what spread: a server's
            // reply-fault, a bad slice, or the address of a wild access.
            let [kind, a, b] = fault.encode();
            emit(
                Line::default()
                    .word("FC")
                    .num(index as u64)
                    .word(outcome.name())
                    .num(u64::from(kind & 0xFF))
                    .hex(a)
                    .hex(b),
            )
        }
    }
}

/// A message from `sender` was delivered to a server of this full generation.
pub fn on_deliver(sender: usize, server_generation: u32) {
    if let Some(g) = campaign().and_then(|st| st.server_generation.get_mut(sender)) {
        *g = server_generation;
    }
}

/// A server of `server_generation` is about to reply to, or borrow from, `client`: it must
/// be the incarnation the client's message was delivered to.
pub fn check_incarnation(client: usize, server_generation: u32) {
    let Some(st) = campaign() else { return };
    if st.server_generation.get(client) != Some(&server_generation) {
        fail(
            st,
            Line::default()
                .word("FX")
                .word("wrong-incarnation")
                .num(client as u64)
                .num(server_generation.into()),
        );
    }
}

/// A reply reached `client`: progress if it is the workload.
pub fn on_reply(client: usize) {
    let Some(st) = campaign() else { return };
    if client == usize::from(plan().progress) {
        st.progress = st.progress.wrapping_add(1);
        st.last_progress = arch::now();
    }
}

/// The server `server` has written its reply into `client`'s buffer: true when a `delay`
/// holds it, in which case the client stays blocked in `InReply` until [`release`] (and its
/// reply deadline keeps running, as for any slow server).
pub fn hold_reply(tasks: &[Task], server: usize, client: usize) -> bool {
    let Some(st) = campaign() else { return false };
    let Some(delay) = st.delay else { return false };
    if delay.target != server || tasks[server].generation != delay.generation || st.held.is_some() {
        return false;
    }
    st.delay = None;
    st.held = Some(Held {
        n: delay.n,
        client,
        client_generation: tasks[client].generation,
        server: tasks[server].current_id(),
        due: arch::now() + u64::from(delay.ms),
    });
    true
}

/// A held reply is due: the client runs with it if both ends are still the incarnations that
/// made the call. Otherwise the server faulted or was restarted meanwhile (its client's
/// deadline, or its detach, already answered the client with a code), or the client itself
/// was: the reply is dropped, as a reply to a dead incarnation is.
fn release(st: &mut State, tasks: &mut [Task], current: usize, held: Held, now: u64) -> NextTask {
    st.held = None;
    let server = &tasks[held.server.index()];
    let server_live =
        server.current_id() == held.server && server.healthy_state().is_some() && !server.detached;
    let client = &tasks[held.client];
    let waiting = client.generation == held.client_generation
        && client.healthy_state() == Some(SchedState::InReply(held.server));
    if !(server_live && waiting) {
        return NextTask::Same;
    }
    tasks[held.client].set_healthy_state(SchedState::Runnable);
    on_reply(held.client);
    if let Phase::Outstanding { n, .. } = st.phase
        && n == held.n
    {
        emit(resolved(n, Outcome::Delayed.name()));
        st.phase = gap(st, now);
    }
    sched::hint_after_wake(tasks, current, held.client)
}
