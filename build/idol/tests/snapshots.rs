//! The generated stubs for `idl/ping.idol`, and the server for the deferred operations of
//! `tests/idl/transfer.idol` (a deferred operation's client is that of any operation, which
//! `generation.rs` checks), fixed byte for byte.
//!
//! Run with `IDOL_UPDATE_SNAPSHOTS=1` to rewrite the expected files after an intended change,
//! then review the diff.

use std::path::{Path, PathBuf};

fn idl(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../idl")
        .join(name)
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("IDOL_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (set IDOL_UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the generated code; set IDOL_UPDATE_SNAPSHOTS=1 to update it:\n{actual}",
        path.display()
    );
}

#[test]
fn ping_client_matches_snapshot() {
    let iface = idol::parse(&idl("ping.idol")).unwrap();
    assert_snapshot("ping_client.rs", &idol::client_code(&iface, "ping.idol"));
}

#[test]
fn ping_server_matches_snapshot() {
    let iface = idol::parse(&idl("ping.idol")).unwrap();
    let code = idol::server_code(&iface, "ping.idol", &idol::ServerOptions::default()).unwrap();
    assert_snapshot("ping_server.rs", &code);
}

fn transfer() -> idol::Interface {
    idol::parse(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idl/transfer.idol")).unwrap()
}

#[test]
fn transfer_server_matches_snapshot() {
    let options = idol::ServerOptions::default();
    let code = idol::server_code(&transfer(), "transfer.idol", &options).unwrap();
    assert_snapshot("transfer_server.rs", &code);
}
