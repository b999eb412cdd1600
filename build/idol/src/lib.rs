//! `idol`: Bulkhead's IDL compiler, run from `build.rs` (through `build-util`).
//!
//! It reads one `idl/*.idol` interface and writes a client stub (for the API crate) or a
//! server stub (for the task that implements it), as formatted Rust to be `include!`d.
//! The generated code relies on `idol-runtime`, which documents the wire protocol.
//!
//! # The `.idol` format (RON)
//!
//! ```ron
//! Interface(
//!     name: "Ping",                       // CamelCase; names PingClient, InOrderPingImpl...
//!     doc: "Optional documentation.",
//!     ops: {                              // ordered: operation numbers are 1, 2, 3...
//!         "ping": (
//!             doc: "Optional documentation.",
//!             args: {"value": "u32"},     // ordered: packing order of the argument struct
//!             reply: Simple("u32"),       // or Result(ok: T, err: CLike("ErrorEnum"))
//!             idempotent: true,           // default false: retried once after a restart
//!         ),
//!         "echo": (
//!             leases: {                   // ordered: lease indices
//!                 "src": (type: "[u8]", read: true, max_len: Some(256)),
//!                 "dst": (type: "[u8]", write: true, max_len: Some(256)),
//!             },
//!             reply: Result(ok: "u32", err: CLike("PingError")),
//!         ),
//!         "wait": (
//!             reply: Simple("u32"),
//!             deferred: true,             // default false: answered later through a token
//!         ),
//!     },
//! )
//! ```
//!
//! A `deferred` operation's server method gets an `idol_runtime::ReplyToken` (typed by the
//! reply, owning the call's leases as a generated `<Interface><Op>Leases` struct) instead of
//! returning the reply, so the server can keep its caller blocked while it serves others,
//! and answer later (see `idol_runtime`'s "Deferred replies"). The client stub is the same
//! as for any operation. A deferred operation cannot be `idempotent`: a restarted server has
//! lost the work its callers wait on, and they must be told rather than silently retried.
//!
//! Types are primitives (`u8`...`u64`, `i8`...`i64`, `bool`, `f32`, `f64`), arrays `[T; N]`,
//! `()` (replies only) and CamelCase paths to types the including module defines. Those must
//! derive zerocopy's `IntoBytes, TryFromBytes, KnownLayout, Immutable` (arguments, replies;
//! `TryFromBytes` lets the server refuse an invalid enum or `bool` with
//! `BadMessageContents`) or `FromBytes, IntoBytes, Immutable` (lease elements, which either
//! side may fill with any bytes). Error enums implement `idol_runtime::ErrorCode`, usually
//! through `idol_runtime::error_enum!`. `char` and `usize`/`isize` are refused: humility
//! cannot decode the first, and the others change width between host and target.
//!
//! A lease is `type: "T"` (exactly one `T`) or `type: "[T]"` (whole elements, at most
//! `max_len`), with `read` and/or `write`. At most [`MAX_LEASES`] per operation; an
//! idempotent operation may not take a read-write lease.
//!
//! Unknown keys are errors, and every error names the file and the operation and field at
//! fault.
//!
//! # Adding an interface
//!
//! Write `idl/foo.idol`; in the API crate's `build.rs` call
//! `build_util::idl::generate_client_stub("../../idl/foo.idol", "client_stub.rs")` and
//! `include!(concat!(env!("OUT_DIR"), "/client_stub.rs"))`; do the same with
//! `generate_server_stub` in the server; add the task (and its task slot) to `app.toml`.

mod client;
mod codegen;
mod error;
mod model;
mod server;
mod syntax;

use std::collections::BTreeMap;
use std::path::Path;

pub use error::{Error, ErrorKind, Field, TypeProblem};
pub use model::Interface;

/// The most leases one operation may declare (`idol_runtime::MAX_LEASES`).
pub const MAX_LEASES: usize = 8;

/// Server settings that come from the application rather than the interface.
#[derive(Clone, Debug, Default)]
pub struct ServerOptions {
    /// Operation name to the task indices allowed to call it (`app.toml`). Operations not
    /// listed accept any caller; others are refused with `AccessViolation`.
    pub allowed_callers: BTreeMap<String, Vec<u16>>,
}

/// Reads and checks an `.idol` file.
pub fn parse(file: &Path) -> Result<Interface, Error> {
    let text = std::fs::read_to_string(file).map_err(|e| Error {
        file: file.to_path_buf(),
        kind: ErrorKind::Io(e),
    })?;
    parse_str(file, &text)
}

/// Checks the text of an `.idol` file; `file` is used in error messages.
pub fn parse_str(file: &Path, text: &str) -> Result<Interface, Error> {
    deserialize(text)
        .and_then(model::check)
        .map_err(|kind| Error {
            file: file.to_path_buf(),
            kind,
        })
}

fn deserialize(text: &str) -> Result<syntax::Interface, ErrorKind> {
    let syntax_error = |span: ron::error::SpannedError, path: String| ErrorKind::Syntax {
        line: span.span.start.line,
        column: span.span.start.col,
        path,
        message: span.code.to_string(),
    };
    // `doc: "..."` rather than `doc: Some("...")`; `Some(..)` is still accepted.
    let options =
        ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
    let mut deserializer = ron::Deserializer::from_str_with_options(text, &options)
        .map_err(|e| syntax_error(e, String::new()))?;
    let interface = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        syntax_error(deserializer.span_error(e.into_inner()), path)
    })?;
    deserializer
        .end()
        .map_err(|e| syntax_error(deserializer.span_error(e), String::new()))?;
    Ok(interface)
}

/// The client stub for `iface`; `source` names the `.idol` file in the header.
pub fn client_code(iface: &Interface, source: &str) -> String {
    codegen::render(source, "Client stub", client::generate(iface))
}

/// The server stub for `iface`; `source` names the `.idol` file in the header.
pub fn server_code(
    iface: &Interface,
    source: &str,
    options: &ServerOptions,
) -> Result<String, ErrorKind> {
    if let Some(op) = options
        .allowed_callers
        .keys()
        .find(|name| !iface.ops.iter().any(|op| &op.name == *name))
    {
        return Err(ErrorKind::UnknownAllowListOperation(op.clone()));
    }
    Ok(codegen::render(
        source,
        "Server stub",
        server::generate(iface, options),
    ))
}

/// Reads `idol_file` and writes its client stub to `out`.
pub fn write_client_stub(idol_file: &Path, out: &Path) -> Result<(), Error> {
    let iface = parse(idol_file)?;
    write(
        idol_file,
        out,
        Ok(client_code(&iface, &source_name(idol_file))),
    )
}

/// Reads `idol_file` and writes its server stub to `out`.
pub fn write_server_stub(
    idol_file: &Path,
    out: &Path,
    options: &ServerOptions,
) -> Result<(), Error> {
    let iface = parse(idol_file)?;
    write(
        idol_file,
        out,
        server_code(&iface, &source_name(idol_file), options),
    )
}

fn write(idol_file: &Path, out: &Path, code: Result<String, ErrorKind>) -> Result<(), Error> {
    let code = code.map_err(|kind| Error {
        file: idol_file.to_path_buf(),
        kind,
    })?;
    std::fs::write(out, code).map_err(|e| Error {
        file: out.to_path_buf(),
        kind: ErrorKind::Io(e),
    })
}

/// Just the file name, so generated code does not depend on where the tree is checked out.
fn source_name(idol_file: &Path) -> String {
    idol_file.file_name().map_or_else(
        || idol_file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
