//! Leases as the lender sees them: a borrow of a buffer that lasts exactly as long as the
//! `sys_send` it is passed to. Each is the kernel's `ULease`, which the kernel reads from the
//! lender's table through its `zerocopy` derive.

use core::marker::PhantomData;

use abi::ULease;
use abi::lease_attributes::{READ, WRITE};

#[repr(transparent)]
pub struct Lease<'a> {
    lease: ULease,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> Lease<'a> {
    fn new(attributes: u32, base: *const u8, length: usize) -> Self {
        Lease {
            lease: ULease {
                attributes,
                base_address: base as usize as u32,
                length: length as u32,
            },
            _borrow: PhantomData,
        }
    }

    /// The server may read `data`.
    pub fn read_only(data: &'a [u8]) -> Self {
        Self::new(READ, data.as_ptr(), data.len())
    }

    /// The server may write `data`.
    pub fn write_only(data: &'a mut [u8]) -> Self {
        Self::new(WRITE, data.as_ptr(), data.len())
    }

    /// The server may read and write `data`.
    pub fn read_write(data: &'a mut [u8]) -> Self {
        Self::new(READ | WRITE, data.as_ptr(), data.len())
    }
}
