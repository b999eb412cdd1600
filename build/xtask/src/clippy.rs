//! `cargo xtask clippy`: clippy with every warning an error, over the host packages and over
//! every firmware binary of every app (`app/` and `test/app/`). A firmware binary's build
//! script reads its app's configuration, so each is linted with the environment of the first
//! app that builds it; a binary built with the same features by several apps is linted once.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::{Error, cargo, dist};

/// One lint failure: what was linted, and clippy's diagnostics.
pub struct Finding {
    pub what: String,
    pub diagnostics: String,
}

/// Every app file: each `*.toml` other than `Cargo.toml` in a folder of `app/` or `test/app/`.
pub fn app_files() -> Result<Vec<PathBuf>, Error> {
    let root = cargo::workspace_root();
    let mut files = Vec::new();
    for parent in ["app", "test/app"] {
        let dir = root.join(parent);
        for entry in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let app_dir = entry.map_err(|e| Error::io(&dir, e))?.path();
            if !app_dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&app_dir).map_err(|e| Error::io(&app_dir, e))? {
                let path = file.map_err(|e| Error::io(&app_dir, e))?.path();
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if name.ends_with(".toml") && name != "Cargo.toml" {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Lints the host packages, then every firmware binary; returns what clippy objected to.
pub fn lint(mut progress: impl FnMut(&str)) -> Result<(Option<Finding>, Vec<Finding>), Error> {
    progress("host packages");
    let host = cargo::clippy_host()?.map(|diagnostics| Finding {
        what: "host packages".to_string(),
        diagnostics,
    });
    let mut seen = BTreeSet::new();
    let mut firmware = Vec::new();
    for file in app_files()? {
        let app = dist::load(&file)?;
        let kconfig_dir = cargo::target_dir().join("clippy").join(&app.name);
        let kernel = (app.kernel.krate.clone(), app.kernel.features.clone());
        let mut binaries = Vec::new();
        if seen.insert(kernel) {
            let kconfig = dist::placeholder_kconfig(&app, &kconfig_dir)?;
            binaries.push((
                &app.kernel.krate,
                &app.kernel.features,
                dist::kernel_env(&app, &kconfig),
            ));
        }
        for task in &app.tasks {
            if seen.insert((task.krate.clone(), task.features.clone())) {
                binaries.push((&task.krate, &task.features, dist::task_env(&app, task)));
            }
        }
        for (krate, features, env) in binaries {
            progress(&format!("{krate} ({})", file.display()));
            if let Some(diagnostics) = cargo::clippy_firmware(krate, features, &env)? {
                firmware.push(Finding {
                    what: format!("{krate} as built by {}", file.display()),
                    diagnostics,
                });
            }
        }
    }
    Ok((host, firmware))
}

/// `cargo xtask clippy`: prints every finding; false when there is any.
pub fn run() -> Result<bool, Error> {
    cargo::ensure_firmware_target()?;
    let (host, firmware) = lint(|what| eprintln!("  clippy: {what}"))?;
    let findings: Vec<_> = host.iter().chain(&firmware).collect();
    for f in &findings {
        println!("clippy: {}:\n{}", f.what, f.diagnostics);
    }
    println!("clippy: {} finding(s)", findings.len());
    Ok(findings.is_empty())
}
