//! Running cargo for firmware: every task and kernel is its own `cargo rustc` invocation in
//! the shared target directory, so dependencies are compiled once and only the final crate
//! is relinked at its regions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::Error;

pub const TARGET: &str = "thumbv7em-none-eabihf";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root exists")
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// rustup does not add a `rust-toolchain.toml` target to a toolchain that is already
/// installed, so ask for it explicitly; this is a no-op when it is present.
pub fn ensure_firmware_target() -> Result<(), Error> {
    let out = Command::new("rustup")
        .args(["target", "add", TARGET])
        .current_dir(workspace_root())
        .output()
        .map_err(|e| Error::new(format!("cannot run rustup to add the {TARGET} target: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "`rustup target add {TARGET}` failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

/// The workspace's packages, as `cargo metadata` describes them.
fn metadata_packages() -> Result<Vec<serde_json::Value>, Error> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| Error::new(format!("cannot run cargo metadata: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "cargo metadata failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let mut meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::new(format!("cargo metadata printed bad JSON: {e}")))?;
    Ok(match meta["packages"].take() {
        serde_json::Value::Array(packages) => packages,
        _ => Vec::new(),
    })
}

fn package_name(p: &serde_json::Value) -> Option<String> {
    p["name"].as_str().map(String::from)
}

/// Package names in the workspace, for checking `crate = ...` keys in `app.toml`.
pub fn workspace_packages() -> Result<BTreeSet<String>, Error> {
    Ok(metadata_packages()?
        .iter()
        .filter_map(package_name)
        .collect())
}

/// Packages that only build for the firmware target: those marked
/// `[package.metadata.bulkhead] target-only = true`, and the binaries under `task/`, `app/`,
/// `test/task/` and `test/app/` (tasks and kernels). Libraries there (client APIs) are tested on the host.
pub fn target_only_packages() -> Result<BTreeSet<String>, Error> {
    let root = workspace_root();
    Ok(metadata_packages()?
        .iter()
        .filter(|p| {
            let flagged = p["metadata"]["bulkhead"]["target-only"].as_bool() == Some(true);
            let manifest = PathBuf::from(p["manifest_path"].as_str().unwrap_or_default());
            let rel = manifest
                .strip_prefix(&root)
                .unwrap_or(&manifest)
                .to_path_buf();
            let firmware_dir = ["task", "app", "test/task", "test/app"]
                .iter()
                .any(|dir| rel.starts_with(dir));
            let has_bin = p["targets"].as_array().into_iter().flatten().any(|t| {
                t["kind"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k == "bin")
            });
            flagged || (firmware_dir && has_bin)
        })
        .filter_map(package_name)
        .collect())
}

/// `cargo clippy` over one firmware binary with the environment its build scripts read,
/// every warning an error. Returns clippy's diagnostics when it finds any.
pub fn clippy_firmware(
    package: &str,
    features: &[String],
    env: &[(&str, String)],
) -> Result<Option<String>, Error> {
    let mut cmd = cargo();
    cmd.args([
        "clippy",
        "--quiet",
        "--release",
        "--target",
        TARGET,
        "-p",
        package,
        "--bin",
        package,
    ]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    cmd.args(["--", "-D", "warnings"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::new(format!("cannot run cargo clippy for {package}: {e}")))?;
    Ok((!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// `cargo clippy` over every host package and its tests, every warning an error.
pub fn clippy_host() -> Result<Option<String>, Error> {
    let mut cmd = cargo();
    cmd.args(["clippy", "--quiet", "--workspace", "--all-targets"]);
    for package in target_only_packages()? {
        cmd.args(["--exclude", &package]);
    }
    cmd.args(["--", "-D", "warnings"]);
    let out = cmd
        .output()
        .map_err(|e| Error::new(format!("cannot run cargo clippy: {e}")))?;
    Ok((!out.status.success()).then(|| String::from_utf8_lossy(&out.stderr).into_owned()))
}

/// One firmware link: builds `package`'s binary with `script` as its linker script and the
/// given environment, and returns the path of the linked ELF.
pub fn build_firmware(
    package: &str,
    features: &[String],
    env: &[(&str, String)],
    script: &Path,
) -> Result<PathBuf, Error> {
    let mut cmd = cargo();
    cmd.args([
        "rustc",
        "--quiet",
        "--release",
        "--target",
        TARGET,
        "-p",
        package,
        "--bin",
        package,
    ]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    // --nmagic: no page alignment, so the linker neither pads segments nor loads the ELF
    // headers into flash.
    cmd.args(["--", "-C", "link-arg=--nmagic", "-C"])
        .arg(format!("link-arg=-T{}", script.display()));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .map_err(|e| Error::new(format!("cannot run cargo for {package}: {e}")))?;
    if !out.status.success() {
        return Err(Error::new(format!(
            "building {package} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(target_dir().join(TARGET).join("release").join(package))
}
