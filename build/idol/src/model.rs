//! The checked interface that code generation works from, and the checks that build it.

use heck::{ToSnakeCase, ToUpperCamelCase};

use crate::error::{ErrorKind, Field, TypeProblem};
use crate::{MAX_LEASES, syntax};

pub struct Interface {
    /// `CamelCase`, e.g. `Ping`.
    pub name: String,
    pub doc: Option<String>,
    /// In declaration order: operation `n` is `ops[n - 1]`.
    pub ops: Vec<Operation>,
}

pub struct Operation {
    /// `snake_case`, e.g. `echo`.
    pub name: String,
    pub doc: Option<String>,
    pub args: Vec<Arg>,
    pub leases: Vec<Lease>,
    pub reply: Reply,
    pub idempotent: bool,
    /// Answered through a reply token the server may keep, rather than by returning.
    pub deferred: bool,
}

pub struct Arg {
    pub name: String,
    pub ty: syn::Type,
}

pub struct Lease {
    pub name: String,
    pub shape: LeaseShape,
    pub read: bool,
    pub write: bool,
}

pub enum LeaseShape {
    /// Exactly one `T`.
    Value(syn::Type),
    /// A `[T]` of at most `max_len` elements.
    Slice {
        element: syn::Type,
        max_len: Option<u32>,
    },
}

pub struct Reply {
    pub ok: syn::Type,
    /// The C-like error enum; `None` for `Simple` replies.
    pub err: Option<syn::Type>,
}

impl Operation {
    /// `echo` -> `Echo`, the operation's variant and type-name stem.
    pub fn camel_name(&self) -> String {
        self.name.to_upper_camel_case()
    }
}

/// Names of locals in the generated client method, which a parameter would shadow.
const RESERVED: &[&str] = &["reply"];

/// Checks a deserialised interface, returning the first problem found.
pub fn check(raw: syntax::Interface) -> Result<Interface, ErrorKind> {
    if !is_identifier(&raw.name) || raw.name.to_upper_camel_case() != raw.name {
        return Err(ErrorKind::InterfaceName(raw.name));
    }
    if raw.ops.0.is_empty() {
        return Err(ErrorKind::NoOperations);
    }
    let mut ops: Vec<Operation> = Vec::new();
    for (name, op) in raw.ops.0 {
        if ops.iter().any(|o| o.name == name) {
            return Err(ErrorKind::DuplicateOperation(name));
        }
        if !is_snake_identifier(&name) {
            return Err(ErrorKind::OperationName(name));
        }
        ops.push(check_operation(name, op)?);
    }
    Ok(Interface {
        name: raw.name,
        doc: raw.doc,
        ops,
    })
}

fn check_operation(name: String, raw: syntax::Operation) -> Result<Operation, ErrorKind> {
    let op = name.as_str();
    let arg_names = raw
        .args
        .0
        .iter()
        .map(|(n, _)| (Field::Arg(n.clone()), n.as_str()));
    let lease_names = raw
        .leases
        .0
        .iter()
        .map(|(n, _)| (Field::Lease(n.clone()), n.as_str()));
    let mut seen: Vec<&str> = Vec::new();
    for (field, field_name) in arg_names.chain(lease_names) {
        let op = op.to_string();
        if !is_snake_identifier(field_name) {
            return Err(ErrorKind::FieldName { op, field });
        }
        if seen.contains(&field_name) {
            return Err(ErrorKind::DuplicateField { op, field });
        }
        if RESERVED.contains(&field_name) {
            return Err(ErrorKind::ReservedName { op, field });
        }
        seen.push(field_name);
    }

    if raw.deferred && raw.idempotent {
        return Err(ErrorKind::DeferredIdempotent(name));
    }
    if raw.leases.0.len() > MAX_LEASES {
        return Err(ErrorKind::TooManyLeases {
            op: name,
            count: raw.leases.0.len(),
        });
    }

    let args = raw
        .args
        .0
        .iter()
        .map(|(arg, ty)| {
            let ty = value_type(op, Field::Arg(arg.clone()), ty, Position::Argument)?;
            Ok(Arg {
                name: arg.clone(),
                ty,
            })
        })
        .collect::<Result<_, ErrorKind>>()?;
    let leases = raw
        .leases
        .0
        .iter()
        .map(|(lease, decl)| check_lease(op, lease, decl, raw.idempotent))
        .collect::<Result<_, ErrorKind>>()?;
    let reply = match &raw.reply {
        syntax::Reply::Simple(ok) => Reply {
            ok: value_type(op, Field::Reply, ok, Position::Reply)?,
            err: None,
        },
        syntax::Reply::Result {
            ok,
            err: syntax::ErrorType::CLike(err),
        } => Reply {
            ok: value_type(op, Field::Reply, ok, Position::Reply)?,
            err: Some(error_type(op, err)?),
        },
    };
    Ok(Operation {
        name,
        doc: raw.doc,
        args,
        leases,
        reply,
        idempotent: raw.idempotent,
        deferred: raw.deferred,
    })
}

fn check_lease(
    op: &str,
    name: &str,
    raw: &syntax::Lease,
    idempotent: bool,
) -> Result<Lease, ErrorKind> {
    let at = |kind: fn(String, String) -> ErrorKind| Err(kind(op.to_string(), name.to_string()));
    if !raw.read && !raw.write {
        return at(|op, lease| ErrorKind::LeaseWithoutDirection { op, lease });
    }
    if raw.max_len == Some(0) {
        return at(|op, lease| ErrorKind::ZeroMaxLen { op, lease });
    }
    if idempotent && raw.read && raw.write {
        return at(|op, lease| ErrorKind::IdempotentReadWriteLease { op, lease });
    }
    let field = || Field::Lease(name.to_string());
    let shape = match parse_type(op, field(), &raw.ty)? {
        syn::Type::Slice(slice) => {
            let element = *slice.elem;
            check_type(op, field(), &raw.ty, &element, Position::LeaseElement)?;
            LeaseShape::Slice {
                element,
                max_len: raw.max_len,
            }
        }
        ty => {
            if raw.max_len.is_some() {
                return at(|op, lease| ErrorKind::MaxLenOnValueLease { op, lease });
            }
            check_type(op, field(), &raw.ty, &ty, Position::LeaseElement)?;
            LeaseShape::Value(ty)
        }
    };
    Ok(Lease {
        name: name.to_string(),
        shape,
        read: raw.read,
        write: raw.write,
    })
}

/// Where a type is written, which decides whether `()` is allowed.
#[derive(Copy, Clone, PartialEq, Eq)]
enum Position {
    Argument,
    LeaseElement,
    Reply,
}

fn value_type(
    op: &str,
    field: Field,
    text: &str,
    position: Position,
) -> Result<syn::Type, ErrorKind> {
    let ty = parse_type(op, field.clone(), text)?;
    check_type(op, field, text, &ty, position)?;
    Ok(ty)
}

/// An error type must be a named enum, so it must be a type path.
fn error_type(op: &str, text: &str) -> Result<syn::Type, ErrorKind> {
    let ty = parse_type(op, Field::ReplyError, text)?;
    if user_type_path(&ty) {
        Ok(ty)
    } else {
        Err(bad_type(op, Field::ReplyError, text, TypeProblem::Unknown))
    }
}

fn parse_type(op: &str, field: Field, text: &str) -> Result<syn::Type, ErrorKind> {
    syn::parse_str(text).map_err(|_| bad_type(op, field, text, TypeProblem::Unknown))
}

fn bad_type(op: &str, field: Field, text: &str, problem: TypeProblem) -> ErrorKind {
    ErrorKind::BadType {
        op: op.to_string(),
        field,
        ty: text.to_string(),
        problem,
    }
}

/// Primitives with one width everywhere that humility can decode.
const PRIMITIVES: &[&str] = &[
    "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "bool", "f32", "f64",
];

/// Accepts primitives, `[T; N]` arrays of accepted types, `()` as a reply, and CamelCase
/// type paths (user types: the Rust compiler checks they exist and derive what the wire
/// needs).
fn check_type(
    op: &str,
    field: Field,
    text: &str,
    ty: &syn::Type,
    position: Position,
) -> Result<(), ErrorKind> {
    let problem = match ty {
        syn::Type::Path(path) if path.qself.is_none() && path.path.segments.len() == 1 => {
            let ident = path.path.segments[0].ident.to_string();
            match ident.as_str() {
                "char" => Some(TypeProblem::Char),
                "usize" | "isize" => Some(TypeProblem::PointerSized),
                _ if PRIMITIVES.contains(&ident.as_str()) || user_type_path(ty) => None,
                _ => Some(TypeProblem::Unknown),
            }
        }
        syn::Type::Path(_) if user_type_path(ty) => None,
        syn::Type::Array(array) if matches!(&array.len, syn::Expr::Lit(_)) => {
            return check_type(op, field, text, &array.elem, Position::Argument);
        }
        syn::Type::Tuple(tuple) if tuple.elems.is_empty() => {
            (position != Position::Reply).then_some(TypeProblem::UnitOutsideReply)
        }
        syn::Type::Slice(_) => Some(TypeProblem::SliceOutsideLease),
        _ => Some(TypeProblem::Unknown),
    };
    match problem {
        Some(problem) => Err(bad_type(op, field, text, problem)),
        None => Ok(()),
    }
}

/// `Foo` or `some::path::Foo`: no generics, last segment starting with a capital.
fn user_type_path(ty: &syn::Type) -> bool {
    let syn::Type::Path(path) = ty else {
        return false;
    };
    let plain = path.qself.is_none()
        && path
            .path
            .segments
            .iter()
            .all(|s| matches!(s.arguments, syn::PathArguments::None));
    let last_is_type = path.path.segments.last().is_some_and(|s| {
        s.ident
            .to_string()
            .starts_with(|c: char| c.is_ascii_uppercase())
    });
    plain && last_is_type
}

/// A Rust identifier that is not a keyword.
fn is_identifier(name: &str) -> bool {
    syn::parse_str::<syn::Ident>(name).is_ok()
}

fn is_snake_identifier(name: &str) -> bool {
    is_identifier(name) && name.to_snake_case() == name
}
