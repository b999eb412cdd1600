//! A campaign failure leaves a humility dump of its moment (doc/fault-campaign.md 5): an
//! image of the campaign app whose supervisor never restarts `pong` fails as `held` at the
//! first fault caught in `pong`, and the runner's replay of that boot writes the dump the
//! report names.

mod common;

use common::{TempDir, stdout, xtask};
use object::{Object, ObjectKind};

#[test]
fn a_failed_boot_is_replayed_into_a_dump_of_its_failure() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("test/app/campaign/app.toml")).unwrap();
    let pong_restarts = "[tasks.pong.supervision]\nrestart = \"always\"";
    assert!(text.contains("name = \"campaign\"") && text.contains(pong_restarts));
    let held = text
        .replace("name = \"campaign\"", "name = \"campaign-held\"")
        .replace(
            pong_restarts,
            "[tasks.pong.supervision]\nrestart = \"never\"",
        );
    let dir = TempDir::new("campaign-held");
    let toml = dir.path().join("app.toml");
    std::fs::write(&toml, held).unwrap();

    let output = xtask(&[
        "campaign",
        "--app",
        toml.to_str().unwrap(),
        "--faults",
        "20",
        "--seed",
        "1",
    ]);
    let out = stdout(&output);
    assert!(
        !output.status.success(),
        "a failing campaign succeeded:\n{out}"
    );
    assert!(out.contains("FAILURE held"), "{out}");
    let dump_line = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("humility dump of that moment: "))
        .unwrap_or_else(|| panic!("no dump named:\n{out}"));
    let path = dump_line.split(" (").next().unwrap();
    let bytes = std::fs::read(path).expect("the dump the report names");
    let core = object::File::parse(&*bytes).expect("the dump is an ELF file");
    assert_eq!(core.kind(), ObjectKind::Core, "{path}");
    assert!(core.segments().count() > 1, "the dump holds memory: {path}");
}
