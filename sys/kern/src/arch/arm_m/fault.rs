//! Task faults as the hardware reports them: reading and clearing the fault status
//! registers, and decoding them into the `FaultInfo` humility prints.

use core::ptr::{read_volatile, write_volatile};

use abi::{FaultInfo, FaultSource};

use super::regs;

/// Exception numbers the fault entry shims pass.
const HARD_FAULT: u32 = 3;
const MEM_MANAGE: u32 = 4;
const BUS_FAULT: u32 = 5;

/// On entry to a task fault: drops the exceptions the faulting task left pending (see
/// `SHCSR_PENDED_BY_TASK`), then reads and clears the fault status. Returns CFSR, MMFAR,
/// BFAR and HFSR as read.
#[inline]
pub fn take_fault_status() -> (u32, u32, u32, u32) {
    // SAFETY: fault status registers are architecturally defined; writing CFSR back clears
    // exactly the bits we read (write-one-to-clear). SHCSR is written back with only the
    // faulting task's pending exceptions cleared (see `SHCSR_PENDED_BY_TASK`); its enable
    // and active bits are written as read.
    unsafe {
        write_volatile(
            regs::SHCSR,
            crate::arch::shcsr_after_task_fault(read_volatile(regs::SHCSR)),
        );
        let cfsr = read_volatile(regs::CFSR);
        let status = (
            cfsr,
            read_volatile(regs::MMFAR),
            read_volatile(regs::BFAR),
            read_volatile(regs::HFSR),
        );
        write_volatile(regs::CFSR, cfsr);
        write_volatile(regs::HFSR, status.3);
        status
    }
}

/// What a fault taken from a task means, from its exception number, the status
/// [`take_fault_status`] read and the task's stack pointer.
#[inline]
pub fn decode_fault(
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
