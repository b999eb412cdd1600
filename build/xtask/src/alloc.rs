//! MPU-aware memory allocation: where each task's flash and RAM go.
//!
//! ARMv7-M MPU regions are powers of two of at least 32 bytes, based at a multiple of their
//! size. Each task gets exactly one flash region and one RAM region (the other six of its eight
//! slots are for peripherals), so a task's measured size is rounded up to a power of two and
//! placed naturally aligned.
//!
//! The kernel comes first in each memory: its flash at the start of flash (the vector table must
//! be there) and its RAM at the start of RAM. The kernel runs privileged with the default memory
//! map, so its extents need no rounding. Tasks fill the rest (see [`place`] for why largest-first
//! into the smallest fitting aligned block is optimal).
//!
//! A task's stack sits at the *bottom* of its RAM region and grows down towards the region base,
//! so an overflow hits the MPU boundary and faults instead of corrupting `.data`/`.bss`, which
//! follow the stack.
//!
//! The first link of every task cannot know its size yet, so [`measuring_layout`] gives each
//! task an equal, generous slot to be linked into once; the measured sizes then feed
//! [`allocate`].

use std::fmt;

use abi::RegionAttributes;

use crate::config::MemoryRange;
pub use crate::config::MpuRegion;

/// RASR bit positions (ARMv7-M ARM B3.5.9, MPU_RASR).
mod rasr {
    pub const ENABLE: u32 = 1 << 0;
    pub const SIZE_SHIFT: u32 = 1;
    pub const B: u32 = 1 << 16;
    pub const C: u32 = 1 << 17;
    pub const S: u32 = 1 << 18;
    pub const TEX_SHIFT: u32 = 19;
    pub const AP_SHIFT: u32 = 24;
    pub const XN: u32 = 1 << 28;
    /// AP = 0b001: privileged read/write, no unprivileged access.
    pub const AP_PRIVILEGED_ONLY: u32 = 0b001;
    /// AP = 0b010: privileged read/write, unprivileged read-only.
    pub const AP_READ_ONLY: u32 = 0b010;
    /// AP = 0b011: full read/write access.
    pub const AP_READ_WRITE: u32 = 0b011;
}

/// The MPU_RBAR and MPU_RASR words for `region` with `attributes`, precomputed so that a
/// context switch only copies words.
///
/// RBAR holds only the base address: VALID (bit 4) is clear, so the kernel selects the slot by
/// writing MPU_RNR first. RASR:
/// - ENABLE, SIZE = log2(size) - 1, no subregions disabled;
/// - AP: WRITE gives read/write (011); READ alone gives unprivileged read-only (010); neither
///   gives privileged-only (001). ARMv7-M has no write-only encoding, so WRITE implies READ;
/// - XN unless EXECUTE;
/// - memory type: DEVICE is shareable device memory (TEX=000 C=0 B=1 S=1); DMA is normal,
///   non-cacheable, shareable (TEX=001 C=0 B=0 S=1) so a bus master sees what the CPU wrote
///   without cache maintenance; anything else is normal write-back write-allocate,
///   non-shareable (TEX=001 C=1 B=1).
pub fn mpu_words(region: MpuRegion, attributes: RegionAttributes) -> (u32, u32) {
    let ap = if attributes.contains(RegionAttributes::WRITE) {
        rasr::AP_READ_WRITE
    } else if attributes.contains(RegionAttributes::READ) {
        rasr::AP_READ_ONLY
    } else {
        rasr::AP_PRIVILEGED_ONLY
    };
    let xn = if attributes.contains(RegionAttributes::EXECUTE) {
        0
    } else {
        rasr::XN
    };
    let memory_type = if attributes.contains(RegionAttributes::DEVICE) {
        rasr::S | rasr::B
    } else if attributes.contains(RegionAttributes::DMA) {
        (0b001 << rasr::TEX_SHIFT) | rasr::S
    } else {
        (0b001 << rasr::TEX_SHIFT) | rasr::C | rasr::B
    };
    let size_field = (region.size().trailing_zeros() - 1) << rasr::SIZE_SHIFT;
    let rasr = rasr::ENABLE | size_field | memory_type | (ap << rasr::AP_SHIFT) | xn;
    (region.base(), rasr)
}

/// What a task needs, as measured from its ELF, and the budgets `app.toml` sets for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskNeeds {
    pub name: String,
    /// text + rodata + the load image of data.
    pub flash: u32,
    /// stack + data + bss.
    pub ram: u32,
    pub stack_size: u32,
    pub max_flash: Option<u32>,
    pub max_ram: Option<u32>,
    /// The memory of the task's RAM region when it is not the tasks' RAM (app.toml
    /// `ram-memory`).
    pub ram_memory: Option<MemoryRange>,
}

/// Bytes the kernel occupies at the start of flash and of RAM.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct KernelNeeds {
    pub flash: u32,
    pub ram: u32,
    /// Where the kernel's RAM starts when it is not at the start of the tasks' RAM (app.toml
    /// `kernel.ram-memory` names another memory): the tasks then have all of theirs.
    pub ram_elsewhere: Option<u32>,
}

/// Where one task is linked.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TaskLayout {
    pub flash: MpuRegion,
    pub ram: MpuRegion,
    /// The stack occupies `ram.base .. ram.base + stack_size`; data and bss follow it.
    pub stack_size: u32,
}

impl TaskLayout {
    /// The initial stack pointer: the top of the stack, which grows down towards `ram.base`.
    pub fn initial_stack(&self) -> u32 {
        self.ram.base() + self.stack_size
    }
}

/// One task's placement and how much of it the task uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskAllocation {
    pub name: String,
    pub layout: TaskLayout,
    pub flash_used: u32,
    pub ram_used: u32,
}

impl TaskAllocation {
    /// Flash bytes lost to power-of-two rounding.
    pub fn flash_waste(&self) -> u32 {
        self.layout.flash.size() - self.flash_used
    }

    /// RAM bytes lost to power-of-two rounding.
    pub fn ram_waste(&self) -> u32 {
        self.layout.ram.size() - self.ram_used
    }
}

/// The whole image's memory layout. `tasks` are in the order they were given (task index order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allocation {
    pub kernel_flash: MemoryRange,
    pub kernel_ram: MemoryRange,
    pub tasks: Vec<TaskAllocation>,
}

/// Which of the two memories a problem is in.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Memory {
    Flash,
    Ram,
}

impl fmt::Display for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Memory::Flash => "flash",
            Memory::Ram => "ram",
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum AllocError {
    /// A task measured larger than its `max-sizes` budget.
    OverBudget {
        task: String,
        memory: Memory,
        measured: u32,
        budget: u32,
    },
    KernelDoesNotFit {
        memory: Memory,
        needed: u32,
        available: u32,
    },
    /// The tasks' regions cannot all be placed. `needed` is the sum of all rounded regions,
    /// `available` what the memory has after the kernel; `largest` lists the biggest regions.
    DoesNotFit {
        memory: Memory,
        task: String,
        region: u64,
        needed: u64,
        available: u64,
        largest: Vec<(String, u64)>,
    },
    /// The measuring layout's equal slots would be too small (see [`measuring_layout`]).
    NoMeasuringSlots {
        memory: Memory,
        tasks: usize,
        available: u32,
    },
}

impl fmt::Display for AllocError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllocError::OverBudget {
                task,
                memory,
                measured,
                budget,
            } => write!(
                f,
                "task \"{task}\": {memory}: needs {measured} bytes but max-sizes.{memory} is {budget}"
            ),
            AllocError::KernelDoesNotFit {
                memory,
                needed,
                available,
            } => write!(
                f,
                "kernel: {memory}: needs {needed} bytes but the memory has {available}"
            ),
            AllocError::DoesNotFit {
                memory,
                task,
                region,
                needed,
                available,
                largest,
            } => {
                write!(
                    f,
                    "{memory}: does not fit: no aligned space for task \"{task}\"'s {region}-byte \
                     region; tasks need {needed} bytes in power-of-two regions, {available} are free \
                     after the kernel; largest consumers:"
                )?;
                for (i, (name, size)) in largest.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{name} ({size})")?;
                }
                Ok(())
            }
            AllocError::NoMeasuringSlots {
                memory,
                tasks,
                available,
            } => write!(
                f,
                "{memory}: {available} bytes cannot be split into {tasks} measuring slots of at \
                 least {} bytes each",
                MpuRegion::MIN_SIZE
            ),
        }
    }
}

impl std::error::Error for AllocError {}

/// Places the kernel and every task in `flash` and `ram`.
pub fn allocate(
    flash: MemoryRange,
    ram: MemoryRange,
    kernel: KernelNeeds,
    tasks: &[TaskNeeds],
) -> Result<Allocation, AllocError> {
    for task in tasks {
        for (memory, measured, budget) in [
            (Memory::Flash, task.flash, task.max_flash),
            (Memory::Ram, task.ram, task.max_ram),
        ] {
            if let Some(budget) = budget
                && measured > budget
            {
                return Err(AllocError::OverBudget {
                    task: task.name.clone(),
                    memory,
                    measured,
                    budget,
                });
            }
        }
    }
    let flash_bases = place(Memory::Flash, flash, kernel.flash, tasks, |t| t.flash)?;
    let ram_bases = place_ram(ram, kernel, tasks)?;
    let tasks = tasks
        .iter()
        .zip(flash_bases.into_iter().zip(ram_bases))
        .map(|(task, (flash, ram))| TaskAllocation {
            name: task.name.clone(),
            layout: TaskLayout {
                flash,
                ram,
                stack_size: task.stack_size,
            },
            flash_used: task.flash,
            ram_used: task.ram,
        })
        .collect();
    Ok(Allocation {
        kernel_flash: MemoryRange {
            start: flash.start,
            size: kernel.flash,
        },
        kernel_ram: MemoryRange {
            start: kernel.ram_elsewhere.unwrap_or(ram.start),
            size: kernel.ram,
        },
        tasks,
    })
}

/// Each task's RAM region: the tasks of each memory (the tasks' RAM, or the one a task's
/// `ram-memory` names) placed together, after the kernel's RAM where it is in the same one.
fn place_ram(
    ram: MemoryRange,
    kernel: KernelNeeds,
    tasks: &[TaskNeeds],
) -> Result<Vec<MpuRegion>, AllocError> {
    let memory_of = |t: &TaskNeeds| t.ram_memory.unwrap_or(ram);
    let mut memories = vec![ram];
    for t in tasks {
        if !memories.contains(&memory_of(t)) {
            memories.push(memory_of(t));
        }
    }
    let kernel_start = kernel.ram_elsewhere.unwrap_or(ram.start);
    let mut bases = vec![None; tasks.len()];
    for range in memories {
        let members: Vec<usize> = (0..tasks.len())
            .filter(|&i| memory_of(&tasks[i]) == range)
            .collect();
        let group: Vec<TaskNeeds> = members.iter().map(|&i| tasks[i].clone()).collect();
        let reserved = if range.start == kernel_start {
            kernel.ram
        } else {
            0
        };
        let placed = place(Memory::Ram, range, reserved, &group, |t| t.ram)?;
        for (&i, region) in members.iter().zip(placed) {
            bases[i] = Some(region);
        }
    }
    Ok(bases
        .into_iter()
        .map(|b| b.expect("every task is in one memory"))
        .collect())
}

/// The smallest MPU region size that holds `bytes`.
fn region_size(bytes: u32) -> u64 {
    u64::from(bytes)
        .next_power_of_two()
        .max(u64::from(MpuRegion::MIN_SIZE))
}

/// Places one region per task in `memory` after `reserved` kernel bytes; returns them in task
/// order.
///
/// The free space is kept as a set of naturally aligned power-of-two blocks (initially the
/// binary decomposition of `[start + reserved, end)`). Regions are placed largest first, each at
/// the base of the smallest free block that holds it, and the rest of that block goes back as
/// its buddy halves.
///
/// Why this is optimal: when a region of size `s` is placed, every region still to come is a
/// power of two no larger than `s`, so it divides `s`. Any free block of size `>= s` is
/// therefore interchangeable with `block / s` separate `s`-sized blocks for all remaining
/// placements (smaller regions sorted largest-first pack an aligned block without gaps). So
/// which `s`-sized piece we take cannot hurt later placements, and if no block of size `>= s`
/// is free, no arrangement can place this region at this point either. Taking the *smallest*
/// fitting block keeps big blocks intact, which also keeps the layout compact.
fn place(
    memory: Memory,
    range: MemoryRange,
    reserved: u32,
    tasks: &[TaskNeeds],
    bytes: impl Fn(&TaskNeeds) -> u32,
) -> Result<Vec<MpuRegion>, AllocError> {
    if reserved > range.size {
        return Err(AllocError::KernelDoesNotFit {
            memory,
            needed: reserved,
            available: range.size,
        });
    }
    let low = u64::from(range.start) + u64::from(reserved);
    let mut free = aligned_blocks(low, range.end());
    let sizes: Vec<u64> = tasks.iter().map(|t| region_size(bytes(t))).collect();
    let mut order: Vec<usize> = (0..tasks.len()).collect();
    // Stable: equal sizes keep task order, so the layout is deterministic and readable.
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));

    let mut placed = vec![None; tasks.len()];
    for &i in &order {
        let size = sizes[i];
        let Some(pick) = free
            .iter()
            .enumerate()
            .filter(|(_, (_, block))| *block >= size)
            .min_by_key(|(_, (base, block))| (*block, *base))
            .map(|(at, _)| at)
        else {
            let largest = order
                .iter()
                .take(3)
                .map(|&j| (tasks[j].name.clone(), sizes[j]))
                .collect();
            return Err(AllocError::DoesNotFit {
                memory,
                task: tasks[i].name.clone(),
                region: size,
                needed: sizes.iter().sum(),
                available: range.end() - low,
                largest,
            });
        };
        let (base, block) = free.swap_remove(pick);
        // The block minus its first `size` bytes is the buddies [base+s, base+2s), ...
        let mut half = size;
        while half < block {
            free.push((base + half, half));
            half *= 2;
        }
        // `size` divides `base` and the block lies below 4 GiB, so both fit in u32.
        placed[i] = MpuRegion::new(base as u32, size as u32);
    }
    Ok(placed.into_iter().flatten().collect())
}

/// Splits `[low, high)` into maximal naturally aligned power-of-two blocks `(base, size)`.
fn aligned_blocks(low: u64, high: u64) -> Vec<(u64, u64)> {
    let mut blocks = Vec::new();
    let mut at = low;
    while at < high {
        // The largest power of two dividing `at` (any size at all for address 0).
        let mut size = if at == 0 {
            1 << 32
        } else {
            1 << at.trailing_zeros()
        };
        while at + size > high {
            size /= 2;
        }
        if size >= u64::from(MpuRegion::MIN_SIZE) {
            blocks.push((at, size));
        }
        at += size;
    }
    blocks
}

/// Equal, generous regions for linking every task once to measure it: flash and RAM are each
/// cut into `stack_sizes.len()` slots of the largest power of two that fits. The kernel is not
/// placed; these links are only measured, never run.
pub fn measuring_layout(
    flash: MemoryRange,
    ram: MemoryRange,
    stack_sizes: &[u32],
) -> Result<Vec<TaskLayout>, AllocError> {
    let flash_slots = equal_slots(Memory::Flash, flash, stack_sizes.len())?;
    let ram_slots = equal_slots(Memory::Ram, ram, stack_sizes.len())?;
    flash_slots
        .into_iter()
        .zip(ram_slots)
        .zip(stack_sizes)
        .map(|((flash, ram), &stack_size)| {
            if stack_size >= ram.size() {
                return Err(AllocError::NoMeasuringSlots {
                    memory: Memory::Ram,
                    tasks: stack_sizes.len(),
                    available: ram.size(),
                });
            }
            Ok(TaskLayout {
                flash,
                ram,
                stack_size,
            })
        })
        .collect()
}

fn equal_slots(
    memory: Memory,
    range: MemoryRange,
    count: usize,
) -> Result<Vec<MpuRegion>, AllocError> {
    let mut slot: u64 = 1 << 31;
    while slot >= u64::from(MpuRegion::MIN_SIZE) {
        let first = u64::from(range.start).next_multiple_of(slot);
        if first + count as u64 * slot <= range.end() {
            // `first` is a multiple of `slot` and every slot ends below 4 GiB.
            return Ok((0..count as u64)
                .filter_map(|i| MpuRegion::new((first + i * slot) as u32, slot as u32))
                .collect());
        }
        slot /= 2;
    }
    Err(AllocError::NoMeasuringSlots {
        memory,
        tasks: count,
        available: range.size,
    })
}

/// The `memory.x` a task is linked with. The linker script places `.stack` first in RAM, sized
/// by `_stack_size`.
pub fn memory_x(layout: &TaskLayout) -> String {
    format!(
        "MEMORY\n{{\n    FLASH (rx) : ORIGIN = {:#010x}, LENGTH = {:#010x}\n    \
         RAM (rwx) : ORIGIN = {:#010x}, LENGTH = {:#010x}\n}}\n_stack_size = {:#010x};\n",
        layout.flash.base(),
        layout.flash.size(),
        layout.ram.base(),
        layout.ram.size(),
        layout.stack_size
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FLASH: MemoryRange = MemoryRange {
        start: 0x0800_0000,
        size: 0x0010_0000,
    };
    const RAM: MemoryRange = MemoryRange {
        start: 0x2400_0000,
        size: 0x0004_0000,
    };

    fn task(name: &str, flash: u32, ram: u32) -> TaskNeeds {
        TaskNeeds {
            name: name.into(),
            flash,
            ram,
            stack_size: 256,
            max_flash: None,
            max_ram: None,
            ram_memory: None,
        }
    }

    fn kernel(flash: u32, ram: u32) -> KernelNeeds {
        KernelNeeds {
            flash,
            ram,
            ram_elsewhere: None,
        }
    }

    fn region(base: u32, size: u32) -> MpuRegion {
        MpuRegion::new(base, size).unwrap()
    }

    #[test]
    fn mpu_region_requires_power_of_two_alignment_and_minimum() {
        assert!(MpuRegion::new(0x2000_0000, 32).is_some());
        assert!(MpuRegion::new(0x2000_0000, 16).is_none());
        assert!(MpuRegion::new(0x2000_0000, 48).is_none());
        assert!(MpuRegion::new(0x2000_0020, 64).is_none());
        assert!(MpuRegion::new(0x8000_0000, 0x8000_0000).is_some());
    }

    #[test]
    fn mpu_words_for_task_flash() {
        // 16 KiB at 0x0800_4000: SIZE = 13, AP = 010, executable, normal WB-WA.
        let attrs = RegionAttributes(RegionAttributes::READ | RegionAttributes::EXECUTE);
        let (rbar, rasr) = mpu_words(region(0x0800_4000, 0x4000), attrs);
        assert_eq!(rbar, 0x0800_4000);
        assert_eq!(rasr, 0x020B_001B);
    }

    #[test]
    fn mpu_words_for_task_ram() {
        // 1 KiB at 0x2400_0400: SIZE = 9, AP = 011, XN, normal WB-WA.
        let attrs = RegionAttributes(RegionAttributes::READ | RegionAttributes::WRITE);
        let (rbar, rasr) = mpu_words(region(0x2400_0400, 0x400), attrs);
        assert_eq!(rbar, 0x2400_0400);
        assert_eq!(rasr, 0x130B_0013);
    }

    #[test]
    fn mpu_words_for_device_and_dma_and_privileged() {
        let rw = RegionAttributes::READ | RegionAttributes::WRITE;
        // 128 KiB OTG registers: SIZE = 16, device shareable (S, B), AP = 011, XN.
        let (_, rasr) = mpu_words(
            region(0x4008_0000, 0x2_0000),
            RegionAttributes(rw | RegionAttributes::DEVICE),
        );
        assert_eq!(rasr, 0x1305_0021);
        // 32-byte DMA buffer: SIZE = 4, TEX = 001, S, AP = 011, XN.
        let (_, rasr) = mpu_words(
            region(0x3000_0000, 32),
            RegionAttributes(rw | RegionAttributes::DMA),
        );
        assert_eq!(rasr, 0x130C_0009);
        // No access for tasks: AP = 001.
        let (_, rasr) = mpu_words(region(0, 32), RegionAttributes(0));
        assert_eq!(rasr, 0x110B_0009);
    }

    #[test]
    fn small_tasks_fill_the_gap_below_a_large_one() {
        let tasks = [
            task("big", 40_000, 100),
            task("a", 3000, 100),
            task("b", 1000, 100),
            task("c", 900, 100),
        ];
        let alloc = allocate(FLASH, RAM, kernel(20 * 1024, 4096), &tasks).unwrap();
        let flash: Vec<_> = alloc
            .tasks
            .iter()
            .map(|t| (t.layout.flash.base(), t.layout.flash.size()))
            .collect();
        assert_eq!(
            flash,
            [
                (0x0801_0000, 0x1_0000),
                (0x0800_5000, 0x1000),
                (0x0800_6000, 0x400),
                (0x0800_6400, 0x400)
            ]
        );
        assert_eq!(alloc.tasks[1].flash_waste(), 4096 - 3000);
        assert_eq!(
            alloc.kernel_flash,
            MemoryRange {
                start: 0x0800_0000,
                size: 20 * 1024
            }
        );
    }

    #[test]
    fn stack_is_at_the_bottom_of_ram() {
        let alloc = allocate(FLASH, RAM, kernel(0x100, 0x100), &[task("t", 100, 1000)]).unwrap();
        let layout = alloc.tasks[0].layout;
        assert_eq!(layout.ram, region(0x2400_0400, 0x400));
        assert_eq!(layout.initial_stack(), 0x2400_0500);
        assert_eq!(alloc.tasks[0].ram_waste(), 24);
    }

    /// A kernel whose RAM is in another memory (`kernel.ram-memory`, the STM32H7's DTCM)
    /// takes none of the tasks' RAM, and its own range is where it was put.
    #[test]
    fn a_kernel_ram_elsewhere_leaves_the_tasks_all_of_theirs() {
        let elsewhere = KernelNeeds {
            ram_elsewhere: Some(0x2000_0000),
            ..kernel(0x100, 0x2000)
        };
        let alloc = allocate(FLASH, RAM, elsewhere, &[task("t", 100, 1000)]).unwrap();
        assert_eq!(alloc.tasks[0].layout.ram, region(RAM.start, 0x400));
        assert_eq!(
            alloc.kernel_ram,
            MemoryRange {
                start: 0x2000_0000,
                size: 0x2000
            }
        );
        let here = allocate(FLASH, RAM, kernel(0x100, 0x2000), &[task("t", 100, 1000)]).unwrap();
        assert!(here.tasks[0].layout.ram.base() >= RAM.start + 0x2000);
        assert_eq!(here.kernel_ram.start, RAM.start);
    }

    /// The supervisor's RAM in the kernel's memory (the STM32H7's DTCM): after the kernel
    /// there, the other tasks in the tasks' RAM from its start.
    #[test]
    fn a_task_with_its_own_ram_memory_shares_it_with_the_kernel_only() {
        const DTCM: MemoryRange = MemoryRange {
            start: 0x2000_0000,
            size: 0x2_0000,
        };
        let elsewhere = KernelNeeds {
            ram_elsewhere: Some(DTCM.start),
            ..kernel(0x100, 0x2000)
        };
        let mut jefe = task("jefe", 100, 0x1800);
        jefe.ram_memory = Some(DTCM);
        let tasks = [jefe, task("a", 100, 1000), task("b", 100, 1000)];
        let alloc = allocate(FLASH, RAM, elsewhere, &tasks).unwrap();
        assert_eq!(alloc.tasks[0].layout.ram, region(0x2000_2000, 0x2000));
        assert_eq!(alloc.tasks[1].layout.ram, region(RAM.start, 0x400));
        assert_eq!(alloc.tasks[2].layout.ram, region(RAM.start + 0x400, 0x400));
        // A memory too small for its tasks is reported as for the tasks' RAM.
        let mut big = task("jefe", 100, 0x2_0000);
        big.ram_memory = Some(DTCM);
        let e = allocate(FLASH, RAM, elsewhere, &[big]).unwrap_err();
        assert!(matches!(e, AllocError::DoesNotFit { .. }), "{e}");
    }

    #[test]
    fn over_budget_names_task_memory_and_sizes() {
        let mut t = task("usb-hcd", 5000, 100);
        t.max_flash = Some(4096);
        let e = allocate(FLASH, RAM, kernel(0, 0), &[t]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "task \"usb-hcd\": flash: needs 5000 bytes but max-sizes.flash is 4096"
        );
    }

    #[test]
    fn memory_exhaustion_lists_the_largest_consumers() {
        let tasks = [
            task("a", 100, 0x2_0000),
            task("b", 100, 0x1_0000),
            task("c", 100, 0x1_0000),
            task("d", 100, 0x1000),
        ];
        let e = allocate(FLASH, RAM, kernel(0, 0x1000), &tasks).unwrap_err();
        let AllocError::DoesNotFit {
            memory,
            task,
            needed,
            available,
            largest,
            ..
        } = &e
        else {
            panic!("{e}");
        };
        assert_eq!((*memory, task.as_str()), (Memory::Ram, "c"));
        assert_eq!((*needed, *available), (0x4_1000, 0x3_F000));
        assert_eq!(largest[0], ("a".to_string(), 0x2_0000));
        assert!(
            e.to_string()
                .starts_with("ram: does not fit: no aligned space for task \"c\""),
            "{e}"
        );
    }

    #[test]
    fn kernel_larger_than_memory_is_an_error() {
        let e = allocate(FLASH, RAM, kernel(0x20_0000, 0), &[]).unwrap_err();
        assert_eq!(
            e,
            AllocError::KernelDoesNotFit {
                memory: Memory::Flash,
                needed: 0x20_0000,
                available: 0x10_0000
            }
        );
    }

    #[test]
    fn memory_x_text() {
        let layout = TaskLayout {
            flash: region(0x0801_0000, 0x4000),
            ram: region(0x2400_8000, 0x1000),
            stack_size: 0x400,
        };
        assert_eq!(
            memory_x(&layout),
            "MEMORY\n{\n    FLASH (rx) : ORIGIN = 0x08010000, LENGTH = 0x00004000\n    \
             RAM (rwx) : ORIGIN = 0x24008000, LENGTH = 0x00001000\n}\n_stack_size = 0x00000400;\n"
        );
    }

    #[test]
    fn measuring_layout_gives_equal_disjoint_slots() {
        let layouts = measuring_layout(FLASH, RAM, &[1024, 2048, 512]).unwrap();
        assert_eq!(layouts[0].flash, region(0x0800_0000, 0x4_0000));
        assert_eq!(layouts[2].flash, region(0x0808_0000, 0x4_0000));
        assert_eq!(layouts[1].ram, region(0x2401_0000, 0x1_0000));
        assert_eq!(layouts[1].stack_size, 2048);
        let e = measuring_layout(
            FLASH,
            MemoryRange {
                start: 0x2000_0000,
                size: 64,
            },
            &[8, 8, 8],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                AllocError::NoMeasuringSlots {
                    memory: Memory::Ram,
                    tasks: 3,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn blocks_of_an_unaligned_range() {
        assert_eq!(
            aligned_blocks(0x5000, 0x2_0000),
            [
                (0x5000, 0x1000),
                (0x6000, 0x2000),
                (0x8000, 0x8000),
                (0x1_0000, 0x1_0000)
            ]
        );
        assert_eq!(aligned_blocks(0, 0x40), [(0, 0x40)]);
    }

    /// Every region is a valid MPU region after the kernel, inside memory, and disjoint.
    fn check_regions(range: MemoryRange, kernel: u32, mut regions: Vec<MpuRegion>) {
        for r in &regions {
            assert!(
                MpuRegion::new(r.base(), r.size()).is_some(),
                "{r:?} is not an MPU region"
            );
            assert!(
                r.base() >= range.start + kernel && r.end() <= range.end(),
                "{r:?} is outside"
            );
        }
        regions.sort();
        for pair in regions.windows(2) {
            assert!(
                pair[0].end() <= u64::from(pair[1].base()),
                "{pair:?} overlap"
            );
        }
    }

    fn check_invariants(alloc: &Allocation, tasks: &[TaskNeeds], kernel: KernelNeeds) {
        check_regions(
            FLASH,
            kernel.flash,
            alloc.tasks.iter().map(|t| t.layout.flash).collect(),
        );
        check_regions(
            RAM,
            kernel.ram,
            alloc.tasks.iter().map(|t| t.layout.ram).collect(),
        );
        for (t, a) in tasks.iter().zip(&alloc.tasks) {
            assert_eq!(t.name, a.name);
            assert!(a.layout.flash.size() >= t.flash && a.layout.ram.size() >= t.ram);
        }
    }

    proptest! {
        #[test]
        fn allocation_is_sound_and_complete(
            flash_sizes in proptest::collection::vec(1u32..96 * 1024, 1..20),
            ram_sizes in proptest::collection::vec(8u32..24 * 1024, 20),
            kernel_flash in 0u32..64 * 1024,
            kernel_ram in 0u32..16 * 1024,
        ) {
            let tasks: Vec<TaskNeeds> = flash_sizes
                .iter()
                .zip(&ram_sizes)
                .enumerate()
                .map(|(i, (&f, &r))| task(&format!("t{i}"), f, r))
                .collect();
            let kernel = kernel(kernel_flash, kernel_ram);
            // Sorted largest-first, power-of-two regions pack without gaps from any address
            // aligned to the largest one: if that much fits, allocation must succeed.
            let fits = |range: MemoryRange, reserved: u32, sizes: &mut dyn Iterator<Item = u32>| {
                let sizes: Vec<u64> = sizes.map(region_size).collect();
                let largest = sizes.iter().copied().max().unwrap_or(1);
                let first = (u64::from(range.start) + u64::from(reserved)).next_multiple_of(largest);
                first + sizes.iter().sum::<u64>() <= range.end()
            };
            let surely_fits = fits(FLASH, kernel_flash, &mut tasks.iter().map(|t| t.flash))
                && fits(RAM, kernel_ram, &mut tasks.iter().map(|t| t.ram));
            match allocate(FLASH, RAM, kernel, &tasks) {
                Ok(alloc) => check_invariants(&alloc, &tasks, kernel),
                Err(e) => {
                    prop_assert!(!surely_fits, "failed although it fits: {e}");
                    prop_assert!(matches!(e, AllocError::DoesNotFit { .. }), "{e}");
                }
            }
        }
    }
}
