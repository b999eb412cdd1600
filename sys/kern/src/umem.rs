//! User memory: slices a task names by address and length, checked against the task's own
//! regions before the kernel touches them.
//!
//! A slice is accessible when it lies entirely inside one region of the task that has the
//! required attribute and is not device memory (the kernel never copies to or from
//! registers). The kernel also refuses to write into DMA regions: a DMA master may be
//! writing there concurrently. Zero-length slices are always accessible and never
//! dereferenced.

use abi::RegionAttributes;
pub use abi::USlice;

use crate::arch;
use crate::task::Task;

/// Which kind of access the kernel is about to make on a task's behalf.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Task {
    /// Whether the task may access all of `slice` in the given way. On the IPC path, so it
    /// uses 32-bit arithmetic only: `slice` fits in a region iff its offset from the region
    /// base is inside the region and its length fits in what remains.
    ///
    /// The empty test is inlined at every call site and the region walk is not: most IPC
    /// names one or two empty slices (no reply buffer, no leases), which then cost no call.
    #[inline(always)]
    pub fn can_access(&self, slice: USlice, access: Access) -> bool {
        slice.is_empty() || self.regions_cover(slice, access)
    }

    #[inline(never)]
    fn regions_cover(&self, slice: USlice, access: Access) -> bool {
        let (need, refuse) = match access {
            Access::Read => (RegionAttributes::READ, RegionAttributes::DEVICE),
            Access::Write => (
                RegionAttributes::WRITE,
                RegionAttributes::DEVICE | RegionAttributes::DMA,
            ),
        };
        self.descriptor.regions.iter().any(|r| {
            let offset = slice.base.wrapping_sub(r.base);
            offset < r.size
                && slice.len <= r.size - offset
                && r.attributes.0 & (need | refuse) == need
        })
    }
}

/// Which side of a task-to-task copy named memory it may not access.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CopyFault {
    Source,
    Destination,
}

/// Copies `min(src.len, dst.len)` bytes from one task's memory to another's, after checking
/// both slices. Returns the number of bytes copied.
pub fn copy_between(from: &Task, src: USlice, to: &Task, dst: USlice) -> Result<usize, CopyFault> {
    let n = src.len.min(dst.len);
    let (src, dst) = (src.prefix(n as usize), dst.prefix(n as usize));
    if !from.can_access(src, Access::Read) {
        return Err(CopyFault::Source);
    }
    if !to.can_access(dst, Access::Write) {
        return Err(CopyFault::Destination);
    }
    if n != 0 {
        // SAFETY: both ranges were just checked against the tasks' regions, which are
        // disjoint from kernel memory and (per the builder) from each other unless shared
        // read-only; the kernel runs with interrupts unable to preempt this copy.
        unsafe { arch::copy_user(dst.base, src.base, n as usize) };
    }
    Ok(n as usize)
}

/// Copies `min(src.len, dst.len)` bytes between slices that were checked when their
/// owners supplied them (a message at SEND, a receive buffer at RECV, a reply at REPLY).
/// Regions are fixed at build time and a blocked task's saved arguments cannot change, so
/// those checks still hold; re-checking on every delivery would double the IPC path.
///
/// # Safety
/// `src` must have been checked readable by its owner and `dst` writable by its owner, and
/// both owners must have stayed blocked since.
pub unsafe fn copy_prechecked(src: USlice, dst: USlice) -> usize {
    let n = src.len.min(dst.len) as usize;
    if n != 0 {
        // SAFETY: per this function's contract.
        unsafe { arch::copy_user(dst.base, src.base, n) };
    }
    n
}

/// Copies kernel bytes into a task's memory; returns the number written (the shorter of the
/// two), or `None` if the task may not write `dst`.
pub fn write_to_task(task: &Task, dst: USlice, bytes: &[u8]) -> Option<usize> {
    let dst = dst.prefix(bytes.len());
    if !task.can_access(dst, Access::Write) {
        return None;
    }
    if !dst.is_empty() {
        // SAFETY: `dst` was checked writable for this task just above.
        unsafe { arch::copy_from_kernel(dst.base, &bytes[..dst.len as usize]) };
    }
    Some(dst.len as usize)
}

/// Copies `out.len()` bytes from a task's memory; `None` if the task may not read them.
pub fn read_from_task(task: &Task, src: u32, out: &mut [u8]) -> Option<()> {
    let src = USlice::new(src, out.len() as u32);
    if !task.can_access(src, Access::Read) {
        return None;
    }
    if !src.is_empty() {
        // SAFETY: `src` was checked readable for this task just above.
        unsafe { arch::copy_to_kernel(out, src.base) };
    }
    Some(())
}
