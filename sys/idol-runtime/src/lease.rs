//! Typed, bounds-checked access to a client's leases.
//!
//! A [`Leased`] exists only for a lease the dispatcher has already checked (direction and
//! length, see [`crate::server::recv`]), and its methods check every range against that
//! length before calling the kernel: a borrow outside a lease faults the server, and the
//! server must not be faultable by its clients.

use core::marker::PhantomData;
use core::mem::size_of;

use abi::{Incarnation, lease_attributes};
use userlib::BorrowError;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Lease directions, as marker types so a write through a read-only lease does not compile.
pub trait Access {
    /// The attribute bits a client's lease must carry.
    const ATTRIBUTES: u32;
}
/// Directions the server may read through.
pub trait CanRead: Access {}
/// Directions the server may write through.
pub trait CanWrite: Access {}

/// The server reads the client's memory.
pub enum Read {}
/// The server writes the client's memory.
pub enum Write {}
/// Both.
pub enum ReadWrite {}

impl Access for Read {
    const ATTRIBUTES: u32 = lease_attributes::READ;
}
impl Access for Write {
    const ATTRIBUTES: u32 = lease_attributes::WRITE;
}
impl Access for ReadWrite {
    const ATTRIBUTES: u32 = lease_attributes::READ | lease_attributes::WRITE;
}
impl CanRead for Read {}
impl CanRead for ReadWrite {}
impl CanWrite for Write {}
impl CanWrite for ReadWrite {}

/// Why a lease access failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LeaseError {
    /// The range lies outside the lease. The length was checked against the interface when
    /// the call arrived, so this comes from an offset the client supplied: the client is at
    /// fault (`BadLeases`).
    OutOfBounds,
    /// The client died or was detached; there is no one left to reply to.
    ClientGone,
}

impl From<BorrowError> for LeaseError {
    fn from(_: BorrowError) -> Self {
        // A lender that is no longer waiting on this server can only have been restarted or
        // detached: the dispatcher has not replied yet.
        LeaseError::ClientGone
    }
}

/// Lease number `index` of the call from `lender`, of `len` bytes, holding a `T` or a `[T]`.
pub struct Leased<A: Access, T: ?Sized> {
    lender: Incarnation,
    index: usize,
    len: usize,
    _shape: PhantomData<(A, *const T)>,
}

impl<A: Access, T: ?Sized> Leased<A, T> {
    /// Only the dispatcher creates leases, after checking them.
    pub(crate) fn new(lender: Incarnation, index: usize, len: usize) -> Self {
        Leased {
            lender,
            index,
            len,
            _shape: PhantomData,
        }
    }

    fn read_bytes(&self, offset: usize, dest: &mut [u8]) -> Result<(), LeaseError> {
        let copied = userlib::sys_borrow_read(self.lender, self.index, offset, dest)?;
        if copied == dest.len() {
            Ok(())
        } else {
            Err(LeaseError::ClientGone)
        }
    }

    fn write_bytes(&self, offset: usize, src: &[u8]) -> Result<(), LeaseError> {
        let copied = userlib::sys_borrow_write(self.lender, self.index, offset, src)?;
        if copied == src.len() {
            Ok(())
        } else {
            Err(LeaseError::ClientGone)
        }
    }
}

impl<A: Access, T> Leased<A, [T]> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len.checked_div(size_of::<T>()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl<A: CanRead, T: FromBytes + IntoBytes> Leased<A, [T]> {
    /// Copies elements `start..start + dest.len()` into `dest`.
    pub fn read_range(&self, start: usize, dest: &mut [T]) -> Result<(), LeaseError> {
        let offset = byte_range::<T>(self.len, start, dest.len())?;
        self.read_bytes(offset, dest.as_mut_bytes())
    }

    /// Element `index`.
    pub fn read_at(&self, index: usize) -> Result<T, LeaseError> {
        let mut value = T::new_zeroed();
        self.read_range(index, core::slice::from_mut(&mut value))?;
        Ok(value)
    }
}

impl<A: CanWrite, T: IntoBytes + Immutable> Leased<A, [T]> {
    /// Copies `src` into elements `start..start + src.len()`.
    pub fn write_range(&self, start: usize, src: &[T]) -> Result<(), LeaseError> {
        let offset = byte_range::<T>(self.len, start, src.len())?;
        self.write_bytes(offset, src.as_bytes())
    }

    /// Sets element `index`.
    pub fn write_at(&self, index: usize, value: &T) -> Result<(), LeaseError> {
        self.write_range(index, core::slice::from_ref(value))
    }
}

impl<A: CanRead, T: FromBytes + IntoBytes + KnownLayout> Leased<A, T> {
    /// The whole leased value.
    pub fn read(&self) -> Result<T, LeaseError> {
        let mut value = T::new_zeroed();
        self.read_bytes(0, value.as_mut_bytes())?;
        Ok(value)
    }
}

impl<A: CanWrite, T: IntoBytes + Immutable> Leased<A, T> {
    /// Overwrites the whole leased value.
    pub fn write(&self, value: &T) -> Result<(), LeaseError> {
        self.write_bytes(0, value.as_bytes())
    }
}

/// Byte offset of elements `start..start + count` of a `[T]` lease of `lease_len` bytes, if
/// they all lie inside it.
fn byte_range<T>(lease_len: usize, start: usize, count: usize) -> Result<usize, LeaseError> {
    let offset = start
        .checked_mul(size_of::<T>())
        .ok_or(LeaseError::OutOfBounds)?;
    let len = count
        .checked_mul(size_of::<T>())
        .ok_or(LeaseError::OutOfBounds)?;
    match offset.checked_add(len) {
        Some(end) if end <= lease_len => Ok(offset),
        _ => Err(LeaseError::OutOfBounds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_inside_the_lease_are_allowed() {
        assert_eq!(byte_range::<u8>(16, 0, 16), Ok(0));
        assert_eq!(byte_range::<u32>(16, 1, 3), Ok(4));
        assert_eq!(byte_range::<u32>(16, 4, 0), Ok(16));
    }

    #[test]
    fn ranges_past_the_end_are_out_of_bounds() {
        assert_eq!(byte_range::<u8>(16, 1, 16), Err(LeaseError::OutOfBounds));
        assert_eq!(byte_range::<u32>(16, 4, 1), Err(LeaseError::OutOfBounds));
        assert_eq!(byte_range::<u32>(16, 5, 0), Err(LeaseError::OutOfBounds));
    }

    #[test]
    fn overflowing_ranges_are_out_of_bounds() {
        assert_eq!(
            byte_range::<u32>(16, usize::MAX, 1),
            Err(LeaseError::OutOfBounds)
        );
        assert_eq!(
            byte_range::<u8>(16, usize::MAX, 2),
            Err(LeaseError::OutOfBounds)
        );
        assert_eq!(
            byte_range::<u64>(16, 0, usize::MAX),
            Err(LeaseError::OutOfBounds)
        );
    }
}
