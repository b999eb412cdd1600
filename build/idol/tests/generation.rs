//! Properties of the generated code that the snapshots do not state on their own.

use std::path::Path;

fn parse(text: &str) -> idol::Interface {
    idol::parse_str(Path::new("test.idol"), text).unwrap()
}

/// The operation enum's variants with their numbers, read back from the client stub.
fn operation_numbers(text: &str) -> Vec<String> {
    let code = idol::client_code(&parse(text), "test.idol");
    code.lines()
        .map(str::trim)
        .filter(|line| line.contains(" = ") && line.ends_with(',') && !line.starts_with("let"))
        .map(str::to_string)
        .collect()
}

#[test]
fn operations_are_numbered_in_declaration_order() {
    let forward = r#"Interface(name: "T", ops: {
        "first": (reply: Simple("u8")),
        "second": (reply: Simple("u8")),
        "third": (reply: Simple("u8")),
    })"#;
    assert_eq!(
        operation_numbers(forward),
        ["First = 1,", "Second = 2,", "Third = 3,"]
    );
    let reordered = r#"Interface(name: "T", ops: {
        "third": (reply: Simple("u8")),
        "first": (reply: Simple("u8")),
        "second": (reply: Simple("u8")),
    })"#;
    assert_eq!(
        operation_numbers(reordered),
        ["Third = 1,", "First = 2,", "Second = 3,"]
    );
}

#[test]
fn generation_is_deterministic() {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl/ping.idol"))
            .unwrap();
    let options = idol::ServerOptions::default();
    let once = idol::server_code(&parse(&text), "ping.idol", &options).unwrap();
    let again = idol::server_code(&parse(&text), "ping.idol", &options).unwrap();
    assert_eq!(once, again);
}

#[test]
fn allow_lists_become_task_index_checks() {
    let iface = parse(
        r#"Interface(name: "T", ops: {
        "open": (reply: Simple("u8")),
        "guarded": (reply: Simple("u8")),
    })"#,
    );
    let mut options = idol::ServerOptions::default();
    options.allowed_callers.insert("guarded".into(), vec![2, 5]);
    let code = idol::server_code(&iface, "test.idol", &options).unwrap();
    assert_eq!(code.matches("allowed_callers: None").count(), 1, "{code}");
    assert!(code.contains("allowed_callers: Some(&[2, 5])"), "{code}");
}

#[test]
fn every_interface_in_the_tree_generates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../idl");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "idol") {
            let iface = idol::parse(&path).unwrap_or_else(|e| panic!("{e}"));
            let client = idol::client_code(&iface, "x.idol");
            let server =
                idol::server_code(&iface, "x.idol", &idol::ServerOptions::default()).unwrap();
            assert!(!client.is_empty() && !server.is_empty());
            count += 1;
        }
    }
    assert!(count >= 2, "expected at least ping.idol and jefe.idol");
}

#[test]
fn lease_limit_matches_the_runtime() {
    assert_eq!(idol::MAX_LEASES, idol_runtime::MAX_LEASES);
}

/// `text` with every `deferred: true` removed.
fn undeferred(text: &str) -> String {
    text.replace("deferred: true,", "")
}

#[test]
fn deferred_operations_leave_the_client_unchanged() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idl/transfer.idol"),
    )
    .unwrap();
    assert!(text.contains("deferred: true"));
    assert_eq!(
        idol::client_code(&parse(&text), "transfer.idol"),
        idol::client_code(&parse(&undeferred(&text)), "transfer.idol")
    );
}

#[test]
fn only_deferred_operations_get_a_reply_token() {
    let text = r#"Interface(name: "T", ops: {
        "now": (leases: {"buf": (type: "[u8]", write: true)}, reply: Simple("u8")),
        "later": (leases: {"buf": (type: "[u8]", write: true)}, reply: Simple("u8"), deferred: true),
    })"#;
    let options = idol::ServerOptions::default();
    let code = idol::server_code(&parse(text), "test.idol", &options).unwrap();
    assert_eq!(code.matches("ReplyToken<").count(), 1, "{code}");
    assert!(
        code.contains(
            "reply: idol_runtime::ReplyToken<u8, core::convert::Infallible, TLaterLeases>"
        ),
        "{code}"
    );
    assert!(!code.contains("TNowLeases"), "{code}");
    // The immediate operation still answers with what its method returns.
    assert_eq!(code.matches("call.reply(result)").count(), 1, "{code}");
}
