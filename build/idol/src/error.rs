//! Errors, each naming the `.idol` file and the operation and field at fault.

use std::fmt;
use std::path::PathBuf;

/// An error about one `.idol` file (or the stub written from it).
pub struct Error {
    pub file: PathBuf,
    pub kind: ErrorKind,
}

/// The part of an operation an error is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    Arg(String),
    Lease(String),
    Reply,
    ReplyError,
}

/// Why a type cannot be used where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeProblem {
    /// Not a primitive, a `[T; N]` array or a `CamelCase` type path.
    Unknown,
    /// humility cannot decode `char` (doc/humility-contract.md 2.3).
    Char,
    /// `usize`/`isize` differ in width between host tools and the target.
    PointerSized,
    /// `[T]` is only meaningful as a lease.
    SliceOutsideLease,
    /// `()` carries nothing; it is only meaningful as a reply.
    UnitOutsideReply,
}

#[derive(Debug)]
pub enum ErrorKind {
    Io(std::io::Error),
    /// RON that does not deserialise; `path` is the key path, like `ops.echo.reply`.
    Syntax {
        line: usize,
        column: usize,
        path: String,
        message: String,
    },
    InterfaceName(String),
    NoOperations,
    DuplicateOperation(String),
    /// Operation, argument and lease names must be `snake_case` Rust identifiers.
    OperationName(String),
    FieldName {
        op: String,
        field: Field,
    },
    /// Arguments and leases become parameters of one method, so they share a namespace.
    DuplicateField {
        op: String,
        field: Field,
    },
    /// The name of a local in the generated client method.
    ReservedName {
        op: String,
        field: Field,
    },
    BadType {
        op: String,
        field: Field,
        ty: String,
        problem: TypeProblem,
    },
    LeaseWithoutDirection {
        op: String,
        lease: String,
    },
    ZeroMaxLen {
        op: String,
        lease: String,
    },
    MaxLenOnValueLease {
        op: String,
        lease: String,
    },
    TooManyLeases {
        op: String,
        count: usize,
    },
    /// A retried call would read what the failed attempt may have half-written.
    IdempotentReadWriteLease {
        op: String,
        lease: String,
    },
    /// A deferred caller waits on work only the server's incarnation knows of; a silent
    /// retry after a restart would hide that the work was lost.
    DeferredIdempotent(String),
    /// `allowed_callers` names an operation the interface does not have.
    UnknownAllowListOperation(String),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Field::Arg(name) => write!(f, "argument `{name}`"),
            Field::Lease(name) => write!(f, "lease `{name}`"),
            Field::Reply => f.write_str("reply"),
            Field::ReplyError => f.write_str("reply error"),
        }
    }
}

impl fmt::Display for TypeProblem {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            TypeProblem::Unknown => {
                "unknown type (expected a primitive such as `u32` or `bool`, an array `[T; N]`, or a CamelCase type path)"
            }
            TypeProblem::Char => "`char` cannot be decoded by humility; use `u32` or `u8`",
            TypeProblem::PointerSized => {
                "pointer-sized integers differ between host and target; use `u32` or `u64`"
            }
            TypeProblem::SliceOutsideLease => "a slice `[T]` can only be passed as a lease",
            TypeProblem::UnitOutsideReply => "`()` is only allowed as a reply",
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        use ErrorKind::*;
        match self {
            Io(e) => write!(f, "{e}"),
            Syntax { path, message, .. } => {
                if !path.is_empty() && path != "." {
                    write!(f, "at `{path}`: ")?;
                }
                f.write_str(message)
            }
            InterfaceName(name) => {
                write!(
                    f,
                    "interface name `{name}` is not a CamelCase Rust identifier"
                )
            }
            NoOperations => f.write_str("the interface declares no operations"),
            DuplicateOperation(op) => write!(f, "operation `{op}` is declared twice"),
            OperationName(op) => {
                write!(
                    f,
                    "operation name `{op}` is not a snake_case Rust identifier"
                )
            }
            FieldName { op, field } => {
                write!(
                    f,
                    "operation `{op}`: {field}: name is not a snake_case Rust identifier"
                )
            }
            DuplicateField { op, field } => {
                write!(
                    f,
                    "operation `{op}`: {field}: name is already used by an argument or lease"
                )
            }
            ReservedName { op, field } => {
                write!(
                    f,
                    "operation `{op}`: {field}: name is reserved by the generated client"
                )
            }
            BadType {
                op,
                field,
                ty,
                problem,
            } => write!(f, "operation `{op}`: {field}: `{ty}`: {problem}"),
            LeaseWithoutDirection { op, lease } => write!(
                f,
                "operation `{op}`: lease `{lease}`: declares neither `read: true` nor `write: true`"
            ),
            ZeroMaxLen { op, lease } => {
                write!(
                    f,
                    "operation `{op}`: lease `{lease}`: `max_len` must be at least 1"
                )
            }
            MaxLenOnValueLease { op, lease } => write!(
                f,
                "operation `{op}`: lease `{lease}`: `max_len` applies only to slice leases `[T]`"
            ),
            TooManyLeases { op, count } => write!(
                f,
                "operation `{op}`: declares {count} leases, more than the {} a call can carry",
                crate::MAX_LEASES
            ),
            IdempotentReadWriteLease { op, lease } => write!(
                f,
                "operation `{op}`: lease `{lease}`: an idempotent operation cannot take a \
                 read-write lease (a retry would see what the failed attempt wrote)"
            ),
            DeferredIdempotent(op) => write!(
                f,
                "operation `{op}`: `deferred: true` cannot be combined with `idempotent: true` \
                 (a restarted server has lost the deferred work, and the caller must be told \
                 rather than retried)"
            ),
            UnknownAllowListOperation(op) => {
                write!(
                    f,
                    "allowed callers are given for operation `{op}`, which the interface does not declare"
                )
            }
        }
    }
}

/// `file: message`, or `file:line:column: message` for syntax errors, as compilers print.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let ErrorKind::Syntax { line, column, .. } = &self.kind {
            write!(f, ":{line}:{column}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// The message, not the structure: `build.rs` returns this from `main`, and Rust prints a
/// returned error with `Debug`.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {}
