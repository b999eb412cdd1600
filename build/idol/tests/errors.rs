//! Every malformed `.idol` is refused with an error naming the file and the operation and
//! field at fault.

use std::path::Path;

use idol::{ErrorKind, Field, TypeProblem};

const FILE: &str = "idl/broken.idol";

/// An interface with one operation `op` whose body is `body`.
fn with_op(body: &str) -> String {
    format!(r#"Interface(name: "Broken", ops: {{ "op": ({body}) }})"#)
}

/// The error for `text`, checking that its message names the file.
fn error(text: &str) -> ErrorKind {
    let Err(error) = idol::parse_str(Path::new(FILE), text) else {
        panic!("accepted: {text}");
    };
    assert!(error.to_string().starts_with(FILE), "{error}");
    error.kind
}

fn message(text: &str) -> String {
    idol::parse_str(Path::new(FILE), text)
        .err()
        .expect("refused")
        .to_string()
}

fn bad_type(ty: &str, field: Field, problem: TypeProblem) -> ErrorKind {
    ErrorKind::BadType {
        op: "op".into(),
        field,
        ty: ty.into(),
        problem,
    }
}

fn assert_kind(actual: ErrorKind, expected: ErrorKind) {
    assert_eq!(format!("{actual:?}"), format!("{expected:?}"));
}

#[test]
fn ron_syntax_errors_give_line_and_column() {
    let text = "Interface(\n    name: \"Broken\",\n    ops: { \"op\": (reply: Simple(\"u32\") }\n)";
    let ErrorKind::Syntax { line, column, .. } = error(text) else {
        panic!("not a syntax error");
    };
    assert_eq!((line, column), (3, 40));
}

/// The key path and message of the syntax error `text` produces.
fn syntax_error(text: &str) -> (String, String) {
    let ErrorKind::Syntax { path, message, .. } = error(text) else {
        panic!("not a syntax error: {text}");
    };
    (path, message)
}

#[test]
fn result_reply_without_err_names_the_operation_path() {
    let (path, message) = syntax_error(&with_op(r#"reply: Result(ok: "u32")"#));
    assert_eq!(path, "ops.op.reply.Result");
    assert!(message.contains("err"), "{message}");
}

#[test]
fn unknown_keys_are_refused() {
    let (path, message) = syntax_error(&with_op(r#"reply: Simple("u32"), idempotnet: true"#));
    assert_eq!(path, "ops.op.idempotnet");
    assert!(message.contains("idempotnet"), "{message}");
}

#[test]
fn unknown_types_are_refused() {
    for ty in ["u33", "string", "Vec<u8>", "&str", "(u8, u8)", "[u8; n]"] {
        let text = with_op(&format!(r#"args: {{"a": "{ty}"}}, reply: Simple("u32")"#));
        assert_kind(
            error(&text),
            bad_type(ty, Field::Arg("a".into()), TypeProblem::Unknown),
        );
    }
}

#[test]
fn char_and_pointer_sized_types_are_refused() {
    let text = with_op(r#"reply: Simple("char")"#);
    assert_kind(
        error(&text),
        bad_type("char", Field::Reply, TypeProblem::Char),
    );
    let text = with_op(r#"args: {"n": "[usize; 2]"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        bad_type(
            "[usize; 2]",
            Field::Arg("n".into()),
            TypeProblem::PointerSized,
        ),
    );
}

#[test]
fn slices_and_unit_are_refused_outside_leases_and_replies() {
    let text = with_op(r#"args: {"a": "[u8]"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        bad_type(
            "[u8]",
            Field::Arg("a".into()),
            TypeProblem::SliceOutsideLease,
        ),
    );
    let text = with_op(r#"args: {"a": "()"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        bad_type("()", Field::Arg("a".into()), TypeProblem::UnitOutsideReply),
    );
}

#[test]
fn error_types_must_be_named_enums() {
    let text = with_op(r#"reply: Result(ok: "u32", err: CLike("u32"))"#);
    assert_kind(
        error(&text),
        bad_type("u32", Field::ReplyError, TypeProblem::Unknown),
    );
}

#[test]
fn lease_without_direction_is_refused() {
    let text = with_op(r#"leases: {"buf": (type: "[u8]")}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        ErrorKind::LeaseWithoutDirection {
            op: "op".into(),
            lease: "buf".into(),
        },
    );
    assert!(message(&text).contains("operation `op`: lease `buf`"));
}

#[test]
fn zero_max_len_is_refused() {
    let text = with_op(
        r#"leases: {"buf": (type: "[u8]", read: true, max_len: Some(0))}, reply: Simple("u32")"#,
    );
    assert_kind(
        error(&text),
        ErrorKind::ZeroMaxLen {
            op: "op".into(),
            lease: "buf".into(),
        },
    );
}

#[test]
fn max_len_on_a_value_lease_is_refused() {
    let text =
        with_op(r#"leases: {"v": (type: "u32", read: true, max_len: 4)}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        ErrorKind::MaxLenOnValueLease {
            op: "op".into(),
            lease: "v".into(),
        },
    );
}

#[test]
fn more_than_eight_leases_are_refused() {
    let leases: Vec<String> = (0..9)
        .map(|i| format!(r#""l{i}": (type: "[u8]", read: true)"#))
        .collect();
    let text = with_op(&format!(
        r#"leases: {{{}}}, reply: Simple("u32")"#,
        leases.join(", ")
    ));
    assert_kind(
        error(&text),
        ErrorKind::TooManyLeases {
            op: "op".into(),
            count: 9,
        },
    );
}

#[test]
fn idempotent_read_write_lease_is_refused() {
    let text = with_op(
        r#"leases: {"buf": (type: "[u8]", read: true, write: true)}, reply: Simple("u32"), idempotent: true"#,
    );
    assert_kind(
        error(&text),
        ErrorKind::IdempotentReadWriteLease {
            op: "op".into(),
            lease: "buf".into(),
        },
    );
}

#[test]
fn duplicate_operations_are_refused() {
    let text = r#"Interface(name: "Broken", ops: {
        "op": (reply: Simple("u32")),
        "op": (reply: Simple("u8")),
    })"#;
    assert_kind(error(text), ErrorKind::DuplicateOperation("op".into()));
}

#[test]
fn arguments_and_leases_share_one_namespace() {
    let text = with_op(
        r#"args: {"x": "u8"}, leases: {"x": (type: "[u8]", read: true)}, reply: Simple("u32")"#,
    );
    assert_kind(
        error(&text),
        ErrorKind::DuplicateField {
            op: "op".into(),
            field: Field::Lease("x".into()),
        },
    );
    let text = with_op(r#"args: {"x": "u8", "x": "u16"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        ErrorKind::DuplicateField {
            op: "op".into(),
            field: Field::Arg("x".into()),
        },
    );
}

#[test]
fn names_must_be_snake_case_identifiers() {
    let text = r#"Interface(name: "Broken", ops: { "DoIt": (reply: Simple("u32")) })"#;
    assert_kind(error(text), ErrorKind::OperationName("DoIt".into()));
    let text = r#"Interface(name: "Broken", ops: { "fn": (reply: Simple("u32")) })"#;
    assert_kind(error(text), ErrorKind::OperationName("fn".into()));
    let text = with_op(r#"args: {"Value": "u8"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        ErrorKind::FieldName {
            op: "op".into(),
            field: Field::Arg("Value".into()),
        },
    );
    let text = with_op(r#"args: {"reply": "u8"}, reply: Simple("u32")"#);
    assert_kind(
        error(&text),
        ErrorKind::ReservedName {
            op: "op".into(),
            field: Field::Arg("reply".into()),
        },
    );
    let text = r#"Interface(name: "not_camel", ops: { "op": (reply: Simple("u32")) })"#;
    assert_kind(error(text), ErrorKind::InterfaceName("not_camel".into()));
}

#[test]
fn an_interface_needs_operations() {
    assert_kind(
        error(r#"Interface(name: "Broken", ops: {})"#),
        ErrorKind::NoOperations,
    );
}

#[test]
fn allow_lists_must_name_declared_operations() {
    let iface = idol::parse_str(Path::new(FILE), &with_op(r#"reply: Simple("u32")"#)).unwrap();
    let mut options = idol::ServerOptions::default();
    options.allowed_callers.insert("missing".into(), vec![1]);
    let Err(kind) = idol::server_code(&iface, "broken.idol", &options) else {
        panic!("accepted an allow-list for a missing operation");
    };
    assert_kind(kind, ErrorKind::UnknownAllowListOperation("missing".into()));
}

#[test]
fn messages_read_as_file_position_and_cause() {
    let text = "Interface(\n    name: \"Broken\",\n    ops: { \"op\": (reply: Simple(\"u32\") }\n)";
    assert_eq!(
        message(text),
        "idl/broken.idol:3:40: at `ops.op.?`: Expected comma"
    );
    let text = with_op(r#"reply: Result(ok: "u32")"#);
    assert_eq!(
        message(&text),
        "idl/broken.idol:1:64: at `ops.op.reply.Result`: Unexpected missing field named `err` in `Result`"
    );
}

#[test]
fn deferred_operations_cannot_be_idempotent() {
    let text = with_op(r#"reply: Simple("u32"), idempotent: true, deferred: true"#);
    assert_kind(error(&text), ErrorKind::DeferredIdempotent("op".into()));
    assert_eq!(
        message(&text),
        "idl/broken.idol: operation `op`: `deferred: true` cannot be combined with \
         `idempotent: true` (a restarted server has lost the deferred work, and the caller \
         must be told rather than retried)"
    );
}

#[test]
fn deferred_must_be_a_bool() {
    let (path, message) = syntax_error(&with_op(r#"reply: Simple("u32"), deferred: "yes""#));
    assert_eq!(path, "ops.op.deferred");
    assert!(message.contains("bool"), "{message}");
}
