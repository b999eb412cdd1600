//! Kernel IPC messages: for each [`Kipcnum`] the request a task sends and the reply the kernel
//! writes, as `zerocopy` structs that `userlib` encodes and the kernel decodes.
//!
//! [`Operation`] ties each operation number to its two types, so neither side can pair an
//! operation with the wrong layout. A request is exactly `size_of::<Request>()` bytes of
//! little-endian words: any other length is `UsageError::BadKernelMessage`, as is a value a
//! field cannot take ([`RestartRequest::start`]). A reply longer than the caller's buffer
//! is cut to it; the SEND's reply length says how much arrived.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::{DumpRegion, FaultReport, Kipcnum, TaskStatus, UsageError};

/// The longest request of any operation, in bytes: what the kernel reads at most.
pub const MAX_REQUEST_BYTES: usize = size_of::<ReadDumpRequest>();

/// A request that names one task by index.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct TaskRequest {
    pub task: u32,
}

/// `RestartTask`: the task, and whether to start it (1) or hold it detached (0).
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct RestartRequest {
    pub task: u32,
    pub start: u32,
}

impl RestartRequest {
    pub const fn new(task: u32, start: bool) -> Self {
        RestartRequest {
            task,
            start: start as u32,
        }
    }

    /// Whether to start the task; a `start` word other than 0 or 1 is `BadKernelMessage`.
    pub const fn start(&self) -> Result<bool, UsageError> {
        match self.start {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(UsageError::BadKernelMessage),
        }
    }
}

/// `FindFaultedTask` and `NextFault`: the first task index to look at.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct SearchRequest {
    pub start: u32,
}

/// `SoftwareIrq`: the task and the notification bits whose interrupts to pend.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct IrqRequest {
    pub task: u32,
    pub mask: u32,
}

/// `GetTaskDumpRegion`: the task and the number of its dump region.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct DumpRegionRequest {
    pub task: u32,
    pub region: u32,
}

/// `ReadTaskDumpRegion`: the task, the number of its dump region and where in it to start.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct ReadDumpRequest {
    pub task: u32,
    pub region: u32,
    pub offset: u32,
}

/// `ReadFaultCount`'s reply, both read in one kernel entry so they describe the same moment.
#[derive(Copy, Clone, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct FaultCount {
    /// The task's restart count (its 32-bit generation).
    pub restarts: u32,
    /// How many of its incarnations faulted, modulo 2^16 (compare for change, not order).
    pub faulted: u32,
}

/// One kernel-IPC operation: its number and the layouts of its request and reply.
pub trait Operation {
    const OP: Kipcnum;
    type Request: FromBytes + IntoBytes + KnownLayout + Immutable;
    /// `[u8]` for an operation that copies task memory of any length.
    type Reply: FromBytes + IntoBytes + KnownLayout + Immutable + ?Sized;
}

macro_rules! operations {
    ($($(#[$doc:meta])* $name:ident($request:ty) -> $reply:ty;)*) => {
        $(
            $(#[$doc])*
            pub enum $name {}

            impl Operation for $name {
                const OP: Kipcnum = Kipcnum::$name;
                type Request = $request;
                type Reply = $reply;
            }
        )*

        /// Request size of `op`, in bytes.
        pub const fn request_len(op: Kipcnum) -> usize {
            match op {
                $(Kipcnum::$name => size_of::<$request>(),)*
            }
        }
    };
}

operations! {
    /// A task's state.
    ReadTaskStatus(TaskRequest) -> TaskStatus;
    /// Re-initialise a task, started or held.
    RestartTask(RestartRequest) -> ();
    /// Fault a task with `FaultInfo::Injected(caller)`.
    FaultTask(TaskRequest) -> ();
    /// The 8-byte image id.
    ReadImageId(()) -> u64;
    /// Reset the system; there is no reply.
    Reset(()) -> ();
    /// A dump region of a task; `kipc_rc::NOT_APPLICABLE` past the last.
    GetTaskDumpRegion(DumpRegionRequest) -> DumpRegion;
    /// The bytes of a dump region from an offset, up to the reply buffer's size.
    ReadTaskDumpRegion(ReadDumpRequest) -> [u8];
    /// Pend a task's interrupts; `kipc_rc::DETACHED` while it is detached.
    SoftwareIrq(IrqRequest) -> ();
    /// The next faulted task index at or after `start`, 0 if none.
    FindFaultedTask(SearchRequest) -> u32;
    /// The panic message of a task faulted by a panic; `kipc_rc::NOT_APPLICABLE` otherwise.
    ReadPanicMessage(TaskRequest) -> [u8];
    /// End a task's incarnation.
    DetachTask(TaskRequest) -> ();
    /// The 64-bit tick count.
    ReadTicks(()) -> u64;
    /// The first faulted task at or after `start`, the one after it, and the tick count.
    NextFault(SearchRequest) -> FaultReport;
    /// The `ResetReason` code found at boot.
    ReadResetReason(()) -> u32;
    /// The CPU cycles a task has run; `kipc_rc::NOT_APPLICABLE` without feature `task-time`.
    ReadTaskTime(TaskRequest) -> u64;
    /// A task's restart count and faulted incarnations.
    ReadFaultCount(TaskRequest) -> FaultCount;
}

/// Decodes the request of operation `O` from exactly the bytes a task sent.
pub fn decode_request<O: Operation>(bytes: &[u8]) -> Result<O::Request, UsageError> {
    O::Request::read_from_bytes(bytes).map_err(|_| UsageError::BadKernelMessage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<O: Operation>(request: O::Request)
    where
        O::Request: PartialEq + core::fmt::Debug,
    {
        let copy = O::Request::read_from_bytes(request.as_bytes()).unwrap();
        let bytes = copy.as_bytes();
        assert_eq!(bytes.len(), request_len(O::OP), "{:?}", O::OP);
        assert_eq!(decode_request::<O>(bytes), Ok(request), "{:?}", O::OP);
        // One byte short or long, and a word short or long, are all refused.
        let mut long = [0u8; MAX_REQUEST_BYTES + 4];
        long[..bytes.len()].copy_from_slice(bytes);
        for len in [bytes.len() + 1, bytes.len() + 4] {
            assert_eq!(
                decode_request::<O>(&long[..len]),
                Err(UsageError::BadKernelMessage),
                "{:?} with {len} bytes",
                O::OP
            );
        }
        if let Some(short) = bytes.len().checked_sub(1) {
            assert_eq!(
                decode_request::<O>(&bytes[..short]),
                Err(UsageError::BadKernelMessage),
                "{:?} with {short} bytes",
                O::OP
            );
        }
    }

    #[test]
    fn every_request_round_trips_and_any_other_length_is_a_bad_message() {
        round_trip::<ReadTaskStatus>(TaskRequest { task: 3 });
        round_trip::<RestartTask>(RestartRequest::new(4, true));
        round_trip::<FaultTask>(TaskRequest { task: u32::MAX });
        round_trip::<ReadImageId>(());
        round_trip::<Reset>(());
        round_trip::<GetTaskDumpRegion>(DumpRegionRequest { task: 1, region: 2 });
        round_trip::<ReadTaskDumpRegion>(ReadDumpRequest {
            task: 1,
            region: 0,
            offset: 0x100,
        });
        round_trip::<SoftwareIrq>(IrqRequest {
            task: 2,
            mask: 0b10,
        });
        round_trip::<FindFaultedTask>(SearchRequest { start: 1 });
        round_trip::<ReadPanicMessage>(TaskRequest { task: 5 });
        round_trip::<DetachTask>(TaskRequest { task: 6 });
        round_trip::<ReadTicks>(());
        round_trip::<NextFault>(SearchRequest { start: 0 });
        round_trip::<ReadResetReason>(());
        round_trip::<ReadTaskTime>(TaskRequest { task: 7 });
        round_trip::<ReadFaultCount>(TaskRequest { task: 8 });
    }

    #[test]
    fn requests_are_little_endian_words() {
        let r = ReadDumpRequest {
            task: 1,
            region: 0x0203,
            offset: 0x0405_0607,
        };
        assert_eq!(r.as_bytes(), [1, 0, 0, 0, 3, 2, 0, 0, 7, 6, 5, 4]);
        assert!(
            Kipcnum::ALL
                .iter()
                .all(|&op| request_len(op) <= MAX_REQUEST_BYTES)
        );
    }

    #[test]
    fn restart_start_is_zero_or_one() {
        assert_eq!(RestartRequest::new(1, false).start(), Ok(false));
        assert_eq!(RestartRequest::new(1, true).start(), Ok(true));
        for start in [2, u32::MAX] {
            assert_eq!(
                RestartRequest { task: 1, start }.start(),
                Err(UsageError::BadKernelMessage)
            );
        }
    }

    #[test]
    fn fault_count_reply_is_restarts_then_faults() {
        let c = FaultCount {
            restarts: 0x0102_0304,
            faulted: 5,
        };
        assert_eq!(c.as_bytes(), [4, 3, 2, 1, 5, 0, 0, 0]);
        assert_eq!(FaultCount::read_from_bytes(c.as_bytes()), Ok(c));
    }
}
