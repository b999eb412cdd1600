//! ARMv7-M (Cortex-M7) architecture layer.
//!
//! Exception model: SVCall, PendSV, SysTick and every device interrupt share the lowest
//! priority, so kernel code never preempts itself. MemManage, BusFault and UsageFault run
//! above them; taken from a task they fault the task, taken from the kernel they fail it.
//!
//! Context: SVCall, PendSV and task faults save r4-r11, PSP and EXC_RETURN into the running
//! task's `SavedState` with one `stm` (the layout matches), plus s16-s31 with one `vstm`
//! (s0-s15 and FPSCR are in the hardware frame: lazy stacking is off, see `FPCCR_ASPEN`).
//! The hardware frame is always the extended FP frame: tasks start with EXC_RETURN 0xFFFFFFED.
//! SysTick and device interrupts save nothing; when they make a more important task
//! runnable they pend PendSV, which tail-chains and switches.
//!
//! MPU: each `TaskDesc` carries precomputed RBAR/RASR pairs; a switch writes them through the
//! RBAR/RASR alias registers in two 8-word bursts with the MPU briefly disabled (a half-
//! written region could otherwise cover kernel code with XN). The kernel runs privileged
//! with the default memory map (PRIVDEFENA).

use core::arch::{asm, global_asm};
use core::mem::MaybeUninit;
use core::ptr::{addr_of_mut, read_volatile, write_volatile};

use abi::{FaultInfo, FaultSource, ResetReason, ResetRecord};

use crate::fail::{Epitaph, kernel_fail};
use crate::lifecycle;
use crate::sched::{self, NextTask};
use crate::startup::{self, KernelConfig};
use crate::task::{Task, Timestamp};
use crate::{syscalls, time};

/// The running task's control block, for humility (contract 3.4) and the entry code.
#[unsafe(no_mangle)]
static mut CURRENT_TASK_PTR: *mut Task = core::ptr::null_mut();

/// Milliseconds since boot, read by humility as a little-endian u64 (contract 3.1).
#[unsafe(no_mangle)]
static mut TICKS: u64 = 0;

#[unsafe(no_mangle)]
static mut KERNEL_HAS_FAILED: bool = false;

#[unsafe(no_mangle)]
static mut KERNEL_EPITAPH: [u8; 128] = [0; 128];

/// The image id, patched into flash by the builder after linking (contract 3.7). Read
/// volatile so the compiler never folds the pre-patch value.
#[unsafe(no_mangle)]
#[used]
static HUBRIS_IMAGE_ID: u64 = 0;

/// Kept across a reset (`abi::ResetRecord`): `.uninit` is neither loaded nor zeroed at boot.
#[unsafe(link_section = ".uninit")]
static mut RESET_RECORD: MaybeUninit<u64> = MaybeUninit::uninit();

/// Why the system last reset, an `abi::ResetReason` code set at boot from `RESET_RECORD`
/// (`humility readvar BULKHEAD_RESET_REASON`).
#[unsafe(no_mangle)]
static mut BULKHEAD_RESET_REASON: u32 = 0;

fn write_reset_record(record: ResetRecord) {
    // SAFETY: a single aligned 64-bit store (one ECC word on STM32H7, `abi::ResetRecord`)
    // to a kernel-private static; the kernel is single-threaded.
    unsafe {
        addr_of_mut!(RESET_RECORD)
            .cast::<u64>()
            .write_volatile(record.0)
    }
}

/// Takes the reason the last reset left and marks the system running. `from_board` refines
/// the record's reason with what the chip itself reports (STM32H7 `RCC_RSR`), if the app's
/// kernel gives one (`app_kernel!(reset_reason = ...)`).
fn take_reset_reason(from_board: fn(ResetReason) -> ResetReason) {
    // SAFETY: kernel-private, aligned; any bit pattern is a valid `u64`, and whatever the
    // RAM held at power-on is decoded as "no record" unless it carries the magic.
    let found = ResetRecord(unsafe { addr_of_mut!(RESET_RECORD).cast::<u64>().read_volatile() });
    let reason = from_board(found.reason());
    // SAFETY: single-threaded start-up; humility only reads it.
    unsafe { addr_of_mut!(BULKHEAD_RESET_REASON).write_volatile(reason as u32) };
    write_reset_record(ResetRecord::RUNNING);
}

pub fn reset_reason() -> ResetReason {
    // SAFETY: written once at start-up, before any task runs.
    let code = unsafe { addr_of_mut!(BULKHEAD_RESET_REASON).read_volatile() };
    ResetReason::from_u32(code).unwrap_or(ResetReason::Unrecorded)
}

static mut TASK_TABLE: *mut Task = core::ptr::null_mut();
static mut TASK_COUNT: usize = 0;
static mut CONFIG: Option<&'static KernelConfig> = None;

mod reg {
    pub const ICSR: *mut u32 = 0xE000_ED04 as *mut u32;
    pub const AIRCR: *mut u32 = 0xE000_ED0C as *mut u32;
    pub const CCR: *mut u32 = 0xE000_ED14 as *mut u32;
    pub const SHPR2: *mut u32 = 0xE000_ED1C as *mut u32;
    pub const SHPR3: *mut u32 = 0xE000_ED20 as *mut u32;
    pub const SHCSR: *mut u32 = 0xE000_ED24 as *mut u32;
    pub const CFSR: *mut u32 = 0xE000_ED28 as *mut u32;
    pub const HFSR: *mut u32 = 0xE000_ED2C as *mut u32;
    pub const MMFAR: *mut u32 = 0xE000_ED34 as *mut u32;
    pub const BFAR: *mut u32 = 0xE000_ED38 as *mut u32;
    pub const FPCCR: *mut u32 = 0xE000_EF34 as *mut u32;
    pub const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
    /// MPU_RBAR, MPU_RASR and their three alias pairs: four regions per 8-word burst.
    pub const MPU_RBAR_BURST: *mut u32 = 0xE000_ED9C as *mut u32;
    pub const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
    pub const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
    pub const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;
    pub const NVIC_ISER: *mut u32 = 0xE000_E100 as *mut u32;
    pub const NVIC_ICER: *mut u32 = 0xE000_E180 as *mut u32;
    pub const NVIC_ISPR: *mut u32 = 0xE000_E200 as *mut u32;
    pub const NVIC_ICPR: *mut u32 = 0xE000_E280 as *mut u32;
    pub const NVIC_IPR: *mut u8 = 0xE000_E400 as *mut u8;
}

const ICSR_PENDSVSET: u32 = 1 << 28;
/// SysTick has wrapped and its handler has not run yet.
#[cfg(feature = "task-time")]
const ICSR_PENDSTSET: u32 = 1 << 26;
const CCR_DIV_0_TRP: u32 = 1 << 4;
/// Automatic FP state preservation, without the lazy variant: a deferred save would run
/// inside a handler after the task's stack pointer may have gone bad (a stack overflow),
/// raising a second fault that lands on whichever task runs next.
const FPCCR_ASPEN: u32 = 1 << 31;
const SHCSR_FAULTS_ENABLED: u32 = (1 << 16) | (1 << 17) | (1 << 18);
const MPU_ENABLE_PRIVDEFENA: u32 = 0b101;
const LOWEST_PRIORITY: u8 = 0xFF;
/// Interrupt lines wired in the vector table: enough for the STM32H7 (150).
pub const IRQ_LINES: usize = 150;

/// Starts the kernel; never returns. Called once from the app's `kernel_main`.
///
/// # Safety
/// Must be called once, in privileged thread mode on the main stack, with `table` being
/// `HUBRIS_TASK_TABLE_SPACE` and `descs` the matching descriptors.
pub unsafe fn start_kernel(
    space: &'static mut [MaybeUninit<Task>],
    descs: &'static [abi::TaskDesc],
    config: &'static KernelConfig,
    reset_reason_from_board: fn(ResetReason) -> ResetReason,
) -> ! {
    take_reset_reason(reset_reason_from_board);
    #[cfg(feature = "fault-inject")]
    crate::inject::boot(reset_reason());
    if space.len() != descs.len() {
        kernel_fail(Epitaph::BadTaskTable);
    }
    for (slot, desc) in space.iter_mut().zip(descs) {
        slot.write(Task::new(desc));
    }
    // SAFETY: every slot was initialised just above.
    let table = unsafe { &mut *(space as *mut [MaybeUninit<Task>] as *mut [Task]) };
    // SAFETY: single-threaded start-up; nothing else touches these statics yet.
    unsafe {
        CONFIG = Some(config);
        TASK_TABLE = table.as_mut_ptr();
        TASK_COUNT = table.len();
    }
    startup::init_tasks(table, descs);
    // SAFETY: fixed system-control registers of every ARMv7-M core.
    unsafe {
        write_volatile(reg::CCR, read_volatile(reg::CCR) | CCR_DIV_0_TRP);
        write_volatile(reg::FPCCR, FPCCR_ASPEN);
        write_volatile(reg::SHCSR, read_volatile(reg::SHCSR) | SHCSR_FAULTS_ENABLED);
        // SVCall (SHPR2[31:24]); PendSV, SysTick (SHPR3[23:16], [31:24]).
        write_volatile(reg::SHPR2, u32::from(LOWEST_PRIORITY) << 24);
        write_volatile(
            reg::SHPR3,
            u32::from_le_bytes([0, 0, LOWEST_PRIORITY, LOWEST_PRIORITY]),
        );
        for irq in 0..IRQ_LINES {
            write_volatile(reg::NVIC_IPR.add(irq), LOWEST_PRIORITY);
        }
        write_volatile(reg::SYST_RVR, config.cpu_hz / 1000 - 1);
        write_volatile(reg::SYST_CVR, 0);
    }
    let first = sched::select(table, table.len() - 1);
    switch_to(table, first);
    // SAFETY: CURRENT_TASK_PTR now names a runnable task with a valid initial frame; the
    // SVC taken from the main stack is recognised by the handler as "start first task".
    unsafe { asm!("svc #0xFF", options(noreturn)) }
}

/// Makes `next` the running task: MPU regions and `CURRENT_TASK_PTR`.
fn switch_to(tasks: &mut [Task], next: usize) {
    let task: *mut Task = &mut tasks[next];
    let words = tasks[next].descriptor.mpu_words.as_ptr();
    // SAFETY: MPU registers are architecturally defined; interrupts at kernel priority
    // cannot run between these writes, and the kernel itself runs on the default map. The
    // block copies move 16 words from the descriptor in flash into the RBAR/RASR alias
    // registers, four regions per burst.
    unsafe {
        write_volatile(reg::MPU_CTRL, 0);
        asm!(
            "ldm r10!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "stm r11, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "ldm r10, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            "stm r11, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
            inout("r10") words => _,
            in("r11") reg::MPU_RBAR_BURST,
            out("r0") _, out("r1") _, out("r2") _, out("r3") _,
            out("r4") _, out("r5") _, out("r8") _, out("r12") _,
            options(nostack, preserves_flags),
        );
        write_volatile(reg::MPU_CTRL, MPU_ENABLE_PRIVDEFENA);
        asm!("dsb", "isb", options(nomem, nostack, preserves_flags));
        CURRENT_TASK_PTR = task;
    }
}

/// Runs `f` on the task table with the index of the running task, then switches to the
/// task it picks (if different).
fn with_tasks(f: impl FnOnce(&mut [Task], usize) -> usize) {
    // SAFETY: the table was installed by `start_kernel`; kernel entry points never nest,
    // so this is the only live reference.
    let tasks = unsafe { core::slice::from_raw_parts_mut(TASK_TABLE, TASK_COUNT) };
    // SAFETY: CURRENT_TASK_PTR always points into the table once the kernel has started.
    let current = usize::from(unsafe { (*CURRENT_TASK_PTR).descriptor.index });
    let next = f(tasks, current);
    if next != current {
        #[cfg(feature = "task-time")]
        task_time::charge(current);
        switch_to(tasks, next);
    }
}

fn pend_switch() {
    // SAFETY: ICSR PENDSVSET is write-one-to-set; other written zeros have no effect.
    unsafe { write_volatile(reg::ICSR, ICSR_PENDSVSET) }
}

/// Starts the 1 ms tick. Called from the first-task SVC path: a tick taken any earlier
/// would find no current task.
#[unsafe(no_mangle)]
unsafe extern "C" fn start_ticks() {
    // SAFETY: processor clock, interrupt enabled, counter enabled; reload set at start-up.
    unsafe { write_volatile(reg::SYST_CSR, 0b111) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn syscall_entry() {
    with_tasks(syscalls::dispatch);
}

#[unsafe(no_mangle)]
unsafe extern "C" fn pendsv_entry() {
    with_tasks(|tasks, current| sched::resolve(tasks, current, NextTask::Other));
}

#[unsafe(no_mangle)]
#[allow(non_snake_case)] // vector names follow the CMSIS spelling humility shows
unsafe extern "C" fn SysTick() {
    // SAFETY: TICKS is written only here, at kernel priority; humility reads it racily,
    // which is acceptable for a debugger.
    let now = unsafe {
        let t = addr_of_mut!(TICKS);
        t.write_volatile(t.read_volatile() + 1);
        Timestamp(t.read_volatile())
    };
    with_tasks(|tasks, current| {
        let hint =
            time::process_timers(tasks, current, now).combine(time::rotate_equals(tasks, current));
        #[cfg(feature = "fault-inject")]
        let hint = hint.combine(crate::inject::tick(tasks, current, now.0));
        if hint != NextTask::Same {
            pend_switch();
        }
        current
    });
}

#[unsafe(no_mangle)]
#[allow(non_snake_case)]
unsafe extern "C" fn DefaultIrq() {
    let ipsr: u32;
    // SAFETY: reading IPSR has no side effects.
    unsafe { asm!("mrs {}, IPSR", out(reg) ipsr, options(nomem, nostack, preserves_flags)) };
    let irq = ipsr - 16;
    with_tasks(|tasks, current| {
        if syscalls::interrupt(tasks, current, irq) != NextTask::Same {
            pend_switch();
        }
        current
    });
}

/// A fault taken from a task: decode it, fault the task, run something else.
#[unsafe(no_mangle)]
unsafe extern "C" fn fault_entry(exception: u32) {
    // SAFETY: fault status registers are architecturally defined; writing CFSR back clears
    // exactly the bits we read (write-one-to-clear). SHCSR is written back with only the
    // faulting task's pending exceptions cleared (see `SHCSR_PENDED_BY_TASK`); its enable
    // and active bits are written as read.
    let (cfsr, mmfar, bfar, hfsr) = unsafe {
        write_volatile(
            reg::SHCSR,
            super::shcsr_after_task_fault(read_volatile(reg::SHCSR)),
        );
        let cfsr = read_volatile(reg::CFSR);
        let regs = (
            cfsr,
            read_volatile(reg::MMFAR),
            read_volatile(reg::BFAR),
            read_volatile(reg::HFSR),
        );
        write_volatile(reg::CFSR, cfsr);
        write_volatile(reg::HFSR, regs.3);
        regs
    };
    with_tasks(|tasks, current| {
        let psp = tasks[current].save.psp;
        let fault = decode_fault(exception, cfsr, mmfar, bfar, hfsr, psp);
        let hint = lifecycle::fault_task(tasks, current, fault);
        sched::resolve(tasks, current, hint)
    });
}

/// Exception numbers passed to `fault_entry` by the shims.
const HARD_FAULT: u32 = 3;
const MEM_MANAGE: u32 = 4;
const BUS_FAULT: u32 = 5;

fn decode_fault(
    exception: u32,
    cfsr: u32,
    mmfar: u32,
    bfar: u32,
    hfsr: u32,
    psp: u32,
) -> FaultInfo {
    const IACCVIOL: u32 = 1 << 0;
    const MSTKERR: u32 = 1 << 4;
    const MLSPERR: u32 = 1 << 5;
    const MMARVALID: u32 = 1 << 7;
    const STKERR: u32 = 1 << 12;
    const BFARVALID: u32 = 1 << 15;
    const UNDEFINSTR: u32 = 1 << 16;
    const DIVBYZERO: u32 = 1 << 25;
    match exception {
        MEM_MANAGE if cfsr & (MSTKERR | MLSPERR) != 0 => FaultInfo::StackOverflow { address: psp },
        MEM_MANAGE if cfsr & IACCVIOL != 0 => FaultInfo::IllegalText,
        MEM_MANAGE => FaultInfo::MemoryAccess {
            address: (cfsr & MMARVALID != 0).then_some(mmfar),
            source: FaultSource::User,
        },
        BUS_FAULT if cfsr & STKERR != 0 => FaultInfo::StackOverflow { address: psp },
        BUS_FAULT => FaultInfo::BusError {
            address: (cfsr & BFARVALID != 0).then_some(bfar),
            source: FaultSource::User,
        },
        HARD_FAULT => FaultInfo::InvalidOperation(hfsr),
        _ if cfsr & DIVBYZERO != 0 => FaultInfo::DivideByZero,
        _ if cfsr & UNDEFINSTR != 0 => FaultInfo::IllegalInstruction,
        _ => FaultInfo::InvalidOperation(cfsr),
    }
}

#[panic_handler]
fn kernel_panic(_: &core::panic::PanicInfo<'_>) -> ! {
    kernel_fail(Epitaph::Panic)
}

#[unsafe(no_mangle)]
unsafe extern "C" fn kernel_fault_entry() -> ! {
    kernel_fail(Epitaph::FaultInKernel)
}

// Entry and exit shims. SavedState layout: r4-r11 at 0..32, psp at 32, exc_return at 36,
// s16-s31 at 40. EXC_RETURN bit 2 tells whether the exception came from a task (PSP).
global_asm!(
    ".fpu fpv4-sp-d16",
    ".macro SAVE_TASK",
    "    ldr r0, =CURRENT_TASK_PTR",
    "    ldr r0, [r0]",
    "    mrs r12, PSP",
    "    stm r0, {{r4-r12, lr}}",
    "    add r1, r0, #40",
    "    vstm r1, {{s16-s31}}",
    ".endm",
    ".macro RESTORE_TASK_AND_RETURN",
    "    ldr r0, =CURRENT_TASK_PTR",
    "    ldr r0, [r0]",
    "    add r1, r0, #40",
    "    vldm r1, {{s16-s31}}",
    "    ldm r0, {{r4-r12, lr}}",
    "    msr PSP, r12",
    "    bx lr",
    ".endm",
    ".section .text.SVCall, \"ax\"",
    ".global SVCall",
    ".type SVCall, %function",
    ".thumb_func",
    "SVCall:",
    "    tst lr, #4",
    "    beq 1f",
    "    SAVE_TASK",
    "    bl syscall_entry",
    "    RESTORE_TASK_AND_RETURN",
    // First task start: the kernel issued `svc` on the main stack. Drop to unprivileged
    // thread mode, reset the main stack, and return into the task.
    "1:",
    "    movs r0, #1",
    "    msr CONTROL, r0",
    "    isb",
    "    ldr r0, =_stack_start",
    "    msr MSP, r0",
    "    bl start_ticks",
    "    RESTORE_TASK_AND_RETURN",
    ".size SVCall, . - SVCall",
    ".section .text.PendSV, \"ax\"",
    ".global PendSV",
    ".type PendSV, %function",
    ".thumb_func",
    "PendSV:",
    "    SAVE_TASK",
    "    bl pendsv_entry",
    "    RESTORE_TASK_AND_RETURN",
    ".size PendSV, . - PendSV",
    ".macro FAULT_SHIM name, number",
    ".section .text.\\name, \"ax\"",
    ".global \\name",
    ".type \\name, %function",
    ".thumb_func",
    "\\name:",
    "    tst lr, #4",
    "    beq kernel_fault_entry",
    "    SAVE_TASK",
    "    movs r0, #\\number",
    "    bl fault_entry",
    "    RESTORE_TASK_AND_RETURN",
    ".size \\name, . - \\name",
    ".endm",
    "FAULT_SHIM HardFault, 3",
    "FAULT_SHIM MemManage, 4",
    "FAULT_SHIM BusFault, 5",
    "FAULT_SHIM UsageFault, 6",
);

global_asm!(super::reset::reset_handler_asm!());

unsafe extern "C" {
    fn Reset() -> !;
    fn SVCall();
    fn PendSV();
    fn HardFault();
    fn MemManage();
    fn BusFault();
    fn UsageFault();
    /// Top of the kernel's main stack, from the linker script.
    static _stack_start: u32;
}

/// On mps2 the CMSDK watchdog's interrupt is the NMI: its first timeout, a whole period
/// without the supervisor feeding it. Reset now, saying why (the watchdog would reset at
/// its second timeout anyway, without a record).
unsafe extern "C" fn watchdog_nmi() {
    system_reset(ResetReason::Watchdog)
}

unsafe extern "C" fn unused_exception() {
    kernel_fail(Epitaph::FaultInKernel)
}

/// The vector table: initial MSP, then Reset and the system exceptions, then the IRQs.
#[repr(C)]
pub struct VectorTable {
    initial_sp: *const u32,
    reset: unsafe extern "C" fn() -> !,
    exceptions: [Option<unsafe extern "C" fn()>; 14],
    irqs: [unsafe extern "C" fn(); IRQ_LINES],
}

// SAFETY: the table is immutable data read by the hardware.
unsafe impl Sync for VectorTable {}

#[unsafe(no_mangle)]
#[unsafe(link_section = ".vector_table")]
#[used]
static __vector_table: VectorTable = VectorTable {
    initial_sp: &raw const _stack_start,
    reset: Reset,
    exceptions: [
        Some(watchdog_nmi), // NMI
        Some(HardFault),
        Some(MemManage),
        Some(BusFault),
        Some(UsageFault),
        None,
        None,
        None,
        None,
        Some(SVCall),
        Some(unused_exception), // DebugMonitor
        None,
        Some(PendSV),
        Some(SysTick),
    ],
    irqs: [DefaultIrq as unsafe extern "C" fn(); IRQ_LINES],
};

/// Copies `len` bytes between two non-overlapping ranges. Short copies (kernel-IPC words,
/// small messages) are the common case: they go a word at a time, inline, which ARMv7-M
/// does at any alignment in normal memory (the kernel leaves `CCR.UNALIGN_TRP` clear).
/// Longer ones go to [`copy_bulk`]. The moves are written as `asm!` because LLVM turns a
/// plain loop back into a call of the library copy, whose set-up costs more than these
/// copies.
///
/// # Safety
/// Both ranges must be valid for `len` bytes, lie in normal (not device) memory and must
/// not overlap.
unsafe fn copy_bytes(dst: *mut u8, src: *const u8, len: usize) {
    // SAFETY: per this function's contract.
    unsafe {
        if len > 32 {
            copy_bulk(dst, src, len);
        } else {
            copy_tail(dst, src, len);
        }
    }
}

/// Word then byte moves, for the last few bytes of any copy.
///
/// # Safety
/// As for [`copy_bytes`].
#[inline(always)]
unsafe fn copy_tail(dst: *mut u8, src: *const u8, len: usize) {
    let mut i = 0;
    // SAFETY: per this function's contract; `i` stays below `len`.
    unsafe {
        while i + 4 <= len {
            asm!(
                "ldr {t}, [{s}, {i}]",
                "str {t}, [{d}, {i}]",
                s = in(reg) src, d = in(reg) dst, i = in(reg) i, t = out(reg) _,
                options(nostack, preserves_flags),
            );
            i += 4;
        }
        while i < len {
            asm!(
                "ldrb {t}, [{s}, {i}]",
                "strb {t}, [{d}, {i}]",
                s = in(reg) src, d = in(reg) dst, i = in(reg) i, t = out(reg) _,
                options(nostack, preserves_flags),
            );
            i += 1;
        }
    }
}

/// Long copies (256-byte messages, leases). The library copy moves about a byte per
/// instruction; here, when both ends share their word alignment, the bulk goes 32 bytes
/// per `ldm`/`stm` pair, and otherwise 16 bytes per round of four unaligned `ldr`/`str`.
/// Out of line, so its ten registers are saved only by copies that need them.
///
/// # Safety
/// As for [`copy_bytes`].
#[inline(never)]
unsafe fn copy_bulk(mut dst: *mut u8, mut src: *const u8, mut len: usize) {
    // SAFETY (whole body): per this function's contract; every access stays inside the
    // first `len` bytes of both ranges, and the pointers advance as `len` shrinks.
    unsafe {
        if (dst as usize ^ src as usize) & 3 == 0 {
            while dst as usize & 3 != 0 {
                *dst = *src;
                (dst, src, len) = (dst.add(1), src.add(1), len - 1);
            }
            let blocks = len / 32;
            if blocks != 0 {
                asm!(
                    "2:",
                    "ldm r10!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
                    "stm r11!, {{r0, r1, r2, r3, r4, r5, r8, r12}}",
                    "subs {n}, {n}, #1",
                    "bne 2b",
                    n = inout(reg) blocks => _,
                    inout("r10") src,
                    inout("r11") dst,
                    out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                    out("r4") _, out("r5") _, out("r8") _, out("r12") _,
                    options(nostack),
                );
                len %= 32;
            }
        }
        let rounds = len / 16;
        if rounds != 0 {
            asm!(
                "2:",
                "ldr r0, [{s}]",
                "ldr r1, [{s}, #4]",
                "ldr r2, [{s}, #8]",
                "ldr r3, [{s}, #12]",
                "adds {s}, #16",
                "str r0, [{d}]",
                "str r1, [{d}, #4]",
                "str r2, [{d}, #8]",
                "str r3, [{d}, #12]",
                "adds {d}, #16",
                "subs {n}, {n}, #1",
                "bne 2b",
                n = inout(reg) rounds => _,
                s = inout(reg) src,
                d = inout(reg) dst,
                out("r0") _, out("r1") _, out("r2") _, out("r3") _,
                options(nostack),
            );
            len %= 16;
        }
        copy_tail(dst, src, len);
    }
}

/// # Safety
/// `dst` and `src` must have been checked against the owning tasks' regions, which never
/// overlap.
pub unsafe fn copy_user(dst: u32, src: u32, len: usize) {
    // SAFETY: per the caller's checks.
    unsafe { copy_bytes(dst as *mut u8, src as *const u8, len) }
}

/// # Safety
/// `dst` must have been checked writable for the task.
pub unsafe fn copy_from_kernel(dst: u32, bytes: &[u8]) {
    // SAFETY: per the caller's check, `dst` is task memory, which kernel data never overlaps.
    unsafe { copy_bytes(dst as *mut u8, bytes.as_ptr(), bytes.len()) }
}

/// Writes a task's initial exception frame. Word by word, and volatile: the frame is built
/// in registers and stored in place, where a copy would first build it on the kernel stack
/// and then call the library copy.
///
/// # Safety
/// `dst` must be word-aligned task RAM with room for the frame.
pub unsafe fn write_frame(dst: u32, frame: &[u32; super::FRAME_WORDS]) {
    let dst = dst as *mut u32;
    for (i, &word) in frame.iter().enumerate() {
        // SAFETY: per this function's contract.
        unsafe { dst.add(i).write_volatile(word) };
    }
}

/// # Safety
/// `src` must have been checked readable for the task.
pub unsafe fn copy_to_kernel(out: &mut [u8], src: u32) {
    // SAFETY: per the caller's check, `src` is task memory, which kernel data never overlaps.
    unsafe { copy_bytes(out.as_mut_ptr(), src as *const u8, out.len()) }
}

/// CPU cycles `index` has run (kernel entries on its behalf included) up to its last switch
/// away, or `None` if this kernel does not keep them (see `task_time`).
pub fn task_time(index: usize) -> Option<u64> {
    #[cfg(feature = "task-time")]
    return task_time::of(index);
    #[cfg(not(feature = "task-time"))]
    {
        let _ = index;
        None
    }
}

/// Per-task CPU time, for benchmark images only (cargo feature `task-time`): a benchmark
/// must tell the time one task spends apart from its peers (usb-sim's share of an MSC read,
/// which on a board is plain register access). At every context switch the cycles since the
/// previous switch are charged to the outgoing task. The clock is SysTick: `TICKS` whole
/// reloads plus the current count, corrected for a wrap whose handler is still pending
/// (kernel code runs at SysTick's priority, so the handler cannot have run yet).
#[cfg(feature = "task-time")]
mod task_time {
    use super::*;

    /// Tasks beyond this index are not charged; `of` says `None` for them.
    const SLOTS: usize = 32;
    static mut TOTAL: [u64; SLOTS] = [0; SLOTS];
    static mut LAST_SWITCH: u64 = 0;

    fn cycles() -> u64 {
        // SAFETY: SysTick and ICSR are architecturally defined read-only reads here; TICKS
        // is written only by SysTick, which cannot preempt kernel code.
        unsafe {
            let reload = u64::from(read_volatile(reg::SYST_RVR)) + 1;
            loop {
                let wrapped = read_volatile(reg::ICSR) & ICSR_PENDSTSET != 0;
                let count = u64::from(read_volatile(reg::SYST_CVR));
                // A wrap between the two ICSR reads leaves `count` ambiguous: read again.
                if (read_volatile(reg::ICSR) & ICSR_PENDSTSET != 0) == wrapped {
                    let reloads = addr_of_mut!(TICKS).read_volatile() + u64::from(wrapped);
                    return reloads * reload + (reload - 1 - count);
                }
            }
        }
    }

    pub(super) fn charge(outgoing: usize) {
        let now = cycles();
        // SAFETY: kernel entry points never nest, so these statics have one user at a time.
        unsafe {
            let last = addr_of_mut!(LAST_SWITCH);
            let total = addr_of_mut!(TOTAL);
            if let Some(t) = (*total).get_mut(outgoing) {
                *t += now.wrapping_sub(last.read());
            }
            last.write(now);
        }
    }

    pub(super) fn of(index: usize) -> Option<u64> {
        // SAFETY: as in `charge`.
        unsafe { (*addr_of_mut!(TOTAL)).get(index).copied() }
    }
}

pub fn now() -> Timestamp {
    // SAFETY: TICKS is only written by SysTick, which cannot preempt kernel code.
    Timestamp(unsafe { addr_of_mut!(TICKS).read_volatile() })
}

pub fn config() -> &'static KernelConfig {
    match try_config() {
        Some(c) => c,
        None => kernel_fail(Epitaph::BadTaskTable),
    }
}

/// The configuration, once `start_kernel` has set it.
pub fn try_config() -> Option<&'static KernelConfig> {
    // SAFETY: set once by `start_kernel` before any other kernel entry.
    unsafe { CONFIG }
}

pub fn image_id() -> u64 {
    // SAFETY: a plain read of an immutable static, volatile because the builder patches it.
    unsafe { read_volatile(&HUBRIS_IMAGE_ID) }
}

fn nvic_bit(base: *mut u32, irq: u32) -> (*mut u32, u32) {
    // SAFETY: callers pass irq numbers from the build's IrqDesc table, all < IRQ_LINES.
    (unsafe { base.add((irq / 32) as usize) }, 1 << (irq % 32))
}

pub fn irq_enable(irq: u32) {
    let (r, bit) = nvic_bit(reg::NVIC_ISER, irq);
    // SAFETY: NVIC set/clear registers are write-one-to-act.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_disable(irq: u32) {
    let (r, bit) = nvic_bit(reg::NVIC_ICER, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_clear_pending(irq: u32) {
    let (r, bit) = nvic_bit(reg::NVIC_ICPR, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_pend(irq: u32) {
    let (r, bit) = nvic_bit(reg::NVIC_ISPR, irq);
    // SAFETY: as above.
    unsafe { write_volatile(r, bit) }
}

pub fn irq_is_enabled(irq: u32) -> bool {
    let (r, bit) = nvic_bit(reg::NVIC_ISER, irq);
    // SAFETY: reading ISER has no side effects.
    unsafe { read_volatile(r) & bit != 0 }
}

pub fn irq_is_pending(irq: u32) -> bool {
    let (r, bit) = nvic_bit(reg::NVIC_ISPR, irq);
    // SAFETY: reading ISPR has no side effects.
    unsafe { read_volatile(r) & bit != 0 }
}

pub fn record_epitaph(message: &[u8]) {
    // SAFETY: the kernel is stopping; nothing else writes these.
    unsafe {
        let epitaph = &mut *addr_of_mut!(KERNEL_EPITAPH);
        let n = message.len().min(epitaph.len() - 1);
        epitaph[..n].copy_from_slice(&message[..n]);
        addr_of_mut!(KERNEL_HAS_FAILED).write_volatile(true);
    }
}

pub fn halt_forever() -> ! {
    // SAFETY: masking interrupts only stops the system, which is the intent.
    unsafe { asm!("cpsid i", options(nomem, nostack)) };
    loop {
        // SAFETY: waiting for an interrupt has no memory effects.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

pub fn system_reset(reason: ResetReason) -> ! {
    write_reset_record(ResetRecord::resetting(reason));
    // SAFETY: VECTKEY | SYSRESETREQ requests a system reset; nothing runs after it.
    unsafe {
        asm!("dsb", options(nomem, nostack));
        write_volatile(reg::AIRCR, 0x05FA_0004);
        asm!("dsb", options(nomem, nostack));
    }
    halt_forever()
}

/// The campaign's report channel (feature `fault-inject`): Arm semihosting, which QEMU
/// serves when started with `-semihosting-config enable=on` (`cargo xtask campaign` does).
/// Without a debugger or QEMU behind it the `bkpt` would fault the kernel, which is one
/// reason the builder refuses this feature for board images.
#[cfg(feature = "fault-inject")]
mod semihosting {
    use core::arch::asm;

    const SYS_WRITE0: u32 = 0x04;
    const SYS_EXIT: u32 = 0x18;
    /// ADP_Stopped_ApplicationExit: QEMU exits with status 0.
    const APPLICATION_EXIT: u32 = 0x20026;

    /// Writes `line`, which must end in a NUL.
    pub fn write0(line: &[u8]) {
        debug_assert_eq!(line.last(), Some(&0));
        // SAFETY: the semihosting call only reads the NUL-terminated string.
        unsafe {
            asm!("bkpt #0xab", inout("r0") SYS_WRITE0 => _, in("r1") line.as_ptr(),
                 options(nostack, readonly, preserves_flags))
        }
    }

    pub fn exit() -> ! {
        // SAFETY: ends the emulation; nothing runs after it.
        unsafe {
            asm!("bkpt #0xab", in("r0") SYS_EXIT, in("r1") APPLICATION_EXIT,
                 options(nostack, nomem, preserves_flags))
        };
        super::halt_forever()
    }
}

#[cfg(feature = "fault-inject")]
pub fn campaign_write(line: &[u8]) {
    semihosting::write0(line)
}

#[cfg(feature = "fault-inject")]
pub fn campaign_exit() -> ! {
    semihosting::exit()
}
