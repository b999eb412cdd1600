//! `cargo xtask dist`: build an app into an image and a humility archive.
//!
//! 1. Load and check `app.toml`.
//! 2. Link every task once in a generous measuring layout and measure it; build the kernel
//!    once with placeholder tables (same shapes, so the same size) and measure it.
//! 3. Allocate MPU-legal regions for the kernel and every task.
//! 4. Link every task at its final regions; generate the kernel tables from the final
//!    placements and entry points; link the kernel.
//! 5. Compose `final.bin`/`final.elf`, derive the image id from the image, patch it into the
//!    kernel ELF and the image, and write the archive.
//!
//! Every output lands in `target/dist/<app>/`. The same inputs give the same bytes.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, SectionFlags};

use crate::alloc::{self, Allocation, KernelNeeds, MpuRegion, TaskLayout, TaskNeeds};
use crate::cargo;
use crate::config::{self, App};
use crate::kconfig::{self, PlacedTask};
use crate::link;
use crate::{Error, archive, elfimage};

/// A finished build.
pub struct Dist {
    pub app: App,
    pub dir: PathBuf,
    pub kernel_elf: PathBuf,
    pub final_elf: PathBuf,
    pub archive: PathBuf,
    pub allocation: Allocation,
}

fn progress(app: &App, what: &str) {
    eprintln!("  [{}] {what}", app.name);
}

/// Resolves an app argument: a name under `app/` (what ships) or `test/app/` (test and
/// benchmark images), a folder holding `app.toml`, or a file.
pub fn app_toml_path(arg: &str) -> Result<PathBuf, Error> {
    let root = cargo::workspace_root();
    let candidates = [
        root.join("app").join(arg).join("app.toml"),
        root.join("test/app").join(arg).join("app.toml"),
        PathBuf::from(arg).join("app.toml"),
        PathBuf::from(arg),
    ];
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::new(format!(
            "no app named \"{arg}\": looked for app/{arg}/app.toml, test/app/{arg}/app.toml, \
             {arg}/app.toml and {arg}"
        ))
    })
}

pub fn load(app_toml: &Path) -> Result<App, Error> {
    let packages = cargo::workspace_packages()?;
    config::load_app(app_toml, &packages).map_err(|e| Error::new(e.to_string()))
}

pub fn dist(app_toml: &Path) -> Result<Dist, Error> {
    cargo::ensure_firmware_target()?;
    let app = load(app_toml)?;
    let dir = cargo::target_dir().join("dist").join(&app.name);
    let link_dir = dir.join("link");
    std::fs::create_dir_all(&link_dir).map_err(|e| Error::io(&link_dir, e))?;

    let flash = memory(&app, "flash")?;
    let ram = memory(&app, "ram")?;

    progress(&app, "measuring tasks");
    let stacks: Vec<u32> = app.tasks.iter().map(|t| t.stack_size).collect();
    let measuring = alloc::measuring_layout(flash, ram, &stacks)
        .map_err(|e| Error::new(format!("{}: {e}", app.file.display())))?;
    let mut needs = Vec::new();
    for (task, layout) in app.tasks.iter().zip(&measuring) {
        let elf = link_task(&app, task, layout, &link_dir)?;
        let (flash_used, ram_used) = measure(&task.name, &read(&elf)?, layout.flash, layout.ram)?;
        needs.push(TaskNeeds {
            name: task.name.clone(),
            flash: flash_used,
            ram: ram_used,
            stack_size: task.stack_size,
            max_flash: task.max_flash,
            max_ram: task.max_ram,
            ram_memory: (task.ram_memory != "ram")
                .then(|| memory(&app, &task.ram_memory))
                .transpose()?,
        });
    }

    progress(&app, "measuring kernel");
    let placeholder = placeholder_placement(&measuring);
    // The kernel's RAM: at the start of the tasks' RAM, or at the start of the memory
    // app.toml's kernel.ram-memory names (checked by app-config to exist and hold it).
    let kernel_memory = memory(&app, &app.kernel.ram_memory)?;
    let ram_elsewhere = (app.kernel.ram_memory != "ram").then_some(kernel_memory.start);
    let kernel_ram = (kernel_memory.start, app.kernel.ram);
    let kernel_elf = link_kernel(
        &app,
        &placeholder,
        (flash.start, flash.size),
        kernel_ram,
        &link_dir,
    )?;
    let kernel_flash_used = measure_kernel_flash(&read(&kernel_elf)?, flash.start)?;
    check_injector(&app, &read(&kernel_elf)?)?;

    let allocation = alloc::allocate(
        flash,
        ram,
        KernelNeeds {
            flash: kernel_flash_used,
            ram: app.kernel.ram,
            ram_elsewhere,
        },
        &needs,
    )
    .map_err(|e| Error::new(format!("{}: {e}", app.file.display())))?;

    progress(&app, "linking tasks at their regions");
    let mut task_elfs = Vec::new();
    let mut placed = Vec::new();
    for (task, a) in app.tasks.iter().zip(&allocation.tasks) {
        let built = link_task(&app, task, &a.layout, &link_dir)?;
        let bytes = read(&built)?;
        let entry_point = object::File::parse(&*bytes)
            .map_err(|e| Error::new(format!("{}: {e}", built.display())))?
            .entry() as u32;
        let out = dir.join("elf").join("task").join(&task.name);
        copy(&built, &out)?;
        task_elfs.push(out);
        placed.push(PlacedTask {
            layout: a.layout,
            entry_point,
        });
    }

    progress(&app, "linking kernel");
    let kflash = (allocation.kernel_flash.start, allocation.kernel_flash.size);
    let built = link_kernel(&app, &placed, kflash, kernel_ram, &link_dir)?;
    let kernel_out = dir.join("elf").join("kernel");
    copy(&built, &kernel_out)?;

    progress(&app, "packing image and archive");
    let mut kernel_bytes = read(&kernel_out)?;
    let task_bytes: Vec<Vec<u8>> = task_elfs
        .iter()
        .map(|p| read(p))
        .collect::<Result<_, _>>()?;
    let named: Vec<elfimage::NamedElf<'_>> = app
        .tasks
        .iter()
        .zip(&task_bytes)
        .map(|(t, b)| elfimage::NamedElf {
            name: &t.name,
            bytes: b,
        })
        .collect();
    let image_error = |e: elfimage::ImageError| Error::new(format!("{}: {e}", app.file.display()));
    let mut image = elfimage::build_image(
        flash,
        elfimage::NamedElf {
            name: "kernel",
            bytes: &kernel_bytes,
        },
        &named,
    )
    .map_err(image_error)?;
    let image_id = elfimage::stamp_image_id(&mut kernel_bytes, &mut image).map_err(image_error)?;
    write(&kernel_out, &kernel_bytes)?;
    let final_elf_bytes = elfimage::final_elf(&image);
    let final_elf = dir.join("img").join("final.elf");
    write(&final_elf, &final_elf_bytes)?;
    write(&dir.join("img").join("final.bin"), &image.bin)?;

    let archive_path = dir.join(format!("build-{}.zip", app.name));
    let task_parts: Vec<(String, Vec<u8>)> = app
        .tasks
        .iter()
        .map(|t| t.name.clone())
        .zip(task_bytes)
        .collect();
    archive::write_archive(
        &archive_path,
        &archive::ArchiveParts {
            app_toml: app.archive_toml(),
            kernel: kernel_bytes,
            tasks: task_parts,
            final_elf: final_elf_bytes,
            final_bin: image.bin,
            probe_rs_chip: app.board.probe_rs_chip.clone(),
            git_rev: git_rev(),
            image_name: app.name.clone(),
        },
    )
    .map_err(|e| Error::new(format!("{}: {e}", archive_path.display())))?;

    progress(&app, &format!("image id {image_id:#018x}"));
    Ok(Dist {
        app,
        dir,
        kernel_elf: kernel_out,
        final_elf,
        archive: archive_path,
        allocation,
    })
}

fn memory(app: &App, name: &str) -> Result<config::MemoryRange, Error> {
    app.board.chip.memory(name).ok_or_else(|| {
        Error::new(format!(
            "{}: board \"{}\": chip \"{}\" has no memory named \"{name}\"",
            app.file.display(),
            app.board.name,
            app.board.chip.name
        ))
    })
}

/// Tasks at their measuring slots: enough for the kernel's tables to be generated (and the
/// kernel linked and measured, or linted) before the tasks' final regions are known.
fn placeholder_placement(measuring: &[TaskLayout]) -> Vec<PlacedTask> {
    measuring
        .iter()
        .map(|&layout| PlacedTask {
            layout,
            entry_point: layout.flash.base() | 1,
        })
        .collect()
}

/// The kernel tables of `app` with every task at its measuring slot, written into `dir`.
pub fn placeholder_kconfig(app: &App, dir: &Path) -> Result<PathBuf, Error> {
    let stacks: Vec<u32> = app.tasks.iter().map(|t| t.stack_size).collect();
    let measuring = alloc::measuring_layout(memory(app, "flash")?, memory(app, "ram")?, &stacks)
        .map_err(|e| Error::new(format!("{}: {e}", app.file.display())))?;
    let source = kconfig::generate(app, &placeholder_placement(&measuring), app.board.cpu_hz)
        .map_err(Error::new)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    link::write_hashed(dir, "kconfig", "rs", &source).map_err(|e| Error::io(dir, e))
}

/// What a task's build script reads: its name, its slots and notification targets resolved
/// to task indices, the task count, and the app file for its own configuration.
pub fn task_env(app: &App, task: &config::Task) -> Vec<(&'static str, String)> {
    let slots = task
        .task_slots
        .iter()
        .map(|s| format!("{s}={}", app.task(s).map_or(usize::MAX, |t| t.index)))
        .collect::<Vec<_>>()
        .join(",");
    let [notify_targets, notify_bits] = task.notify_env();
    vec![
        ("BULKHEAD_TASK_NAME", task.name.clone()),
        ("BULKHEAD_TASK_SLOTS", slots),
        notify_targets,
        notify_bits,
        ("BULKHEAD_NUM_TASKS", app.tasks.len().to_string()),
        // Absolute: build scripts run in their own package's directory.
        (
            "BULKHEAD_APP_TOML",
            std::path::absolute(&app.file)
                .unwrap_or_else(|_| app.file.clone())
                .display()
                .to_string(),
        ),
    ]
}

/// What the kernel's build reads: its generated tables and the task count.
pub fn kernel_env(app: &App, kconfig: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("BULKHEAD_KCONFIG", kconfig.display().to_string()),
        ("BULKHEAD_NUM_TASKS", app.tasks.len().to_string()),
    ]
}

fn link_task(
    app: &App,
    task: &config::Task,
    layout: &TaskLayout,
    link_dir: &Path,
) -> Result<PathBuf, Error> {
    let script = link::write_hashed(
        link_dir,
        &task.name,
        "x",
        &link::task_script(layout, task.stack_fill),
    )
    .map_err(|e| Error::io(link_dir, e))?;
    let env = task_env(app, task);
    cargo::build_firmware(&task.krate, &task.features, &env, &script).map_err(|e| {
        Error::new(format!(
            "{}: task \"{}\": {e}",
            app.file.display(),
            task.name
        ))
    })
}

fn link_kernel(
    app: &App,
    placed: &[PlacedTask],
    flash: (u32, u32),
    ram: (u32, u32),
    link_dir: &Path,
) -> Result<PathBuf, Error> {
    let cpu_hz = app.board.cpu_hz;
    let source = kconfig::generate(app, placed, cpu_hz).map_err(Error::new)?;
    let kconfig_path = link::write_hashed(link_dir, "kconfig", "rs", &source)
        .map_err(|e| Error::io(link_dir, e))?;
    let script = link::write_hashed(
        link_dir,
        "kernel",
        "x",
        &link::kernel_script(flash, ram, app.kernel.stack_size),
    )
    .map_err(|e| Error::io(link_dir, e))?;
    let env = kernel_env(app, &kconfig_path);
    cargo::build_firmware(&app.kernel.krate, &app.kernel.features, &env, &script)
        .map_err(|e| Error::new(format!("{}: kernel: {e}", app.file.display())))
}

/// Flash and RAM a task uses: loaded bytes in its flash region (code, constants and the
/// `.data` load image) and the extent of everything in its RAM region (stack first).
fn measure(name: &str, elf: &[u8], flash: MpuRegion, ram: MpuRegion) -> Result<(u32, u32), Error> {
    let flash_end = loaded_end(name, elf)?
        .filter(|&end| end > u64::from(flash.base()) && end <= flash.end())
        .unwrap_or(u64::from(flash.base()));
    let file = object::File::parse(elf).map_err(|e| Error::new(format!("{name}: {e}")))?;
    let in_ram = |addr: u64| addr >= u64::from(ram.base()) && addr < ram.end();
    let ram_end = file
        .sections()
        .filter(|s| matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0))
        .filter(|s| in_ram(s.address()))
        .map(|s| s.address() + s.size())
        .max()
        .unwrap_or(u64::from(ram.base()));
    Ok((
        (flash_end - u64::from(flash.base())) as u32,
        (ram_end - u64::from(ram.base())) as u32,
    ))
}

/// One past the last flash byte the ELF loads, if it loads any.
fn loaded_end(name: &str, elf: &[u8]) -> Result<Option<u64>, Error> {
    let ranges = elfimage::load_ranges(&elfimage::NamedElf { name, bytes: elf })
        .map_err(|e| Error::new(e.to_string()))?;
    Ok(ranges.iter().map(|r| r.end).max())
}

/// Symbol defined only by kernels built with feature `fault-inject`.
pub const INJECTOR_SYMBOL: &str = "BULKHEAD_CAMPAIGN_RUN";

/// A kernel carries the fault injector exactly when the app has a `[kernel.fault-inject]`
/// plan, which the config check allows only on QEMU boards: the feature comes from the kernel
/// crate's `Cargo.toml`, out of the config's sight, so the built kernel itself is asked.
fn check_injector(app: &App, kernel_elf: &[u8]) -> Result<(), Error> {
    let has = elfimage::symbol_bytes(kernel_elf, INJECTOR_SYMBOL).is_ok();
    match (has, &app.kernel.fault_inject) {
        (true, None) => Err(Error::new(format!(
            "{}: app \"{}\": kernel crate \"{}\" is built with feature \"{}\", which only \
             QEMU campaign images with a [kernel.fault-inject] plan may have",
            app.file.display(),
            app.name,
            app.kernel.krate,
            crate::config::fault_inject::FEATURE
        ))),
        (false, Some(_)) => Err(Error::new(format!(
            "{}: app \"{}\": [kernel.fault-inject] needs kernel crate \"{}\" built with \
             kern's feature \"{}\"",
            app.file.display(),
            app.name,
            app.kernel.krate,
            crate::config::fault_inject::FEATURE
        ))),
        _ => Ok(()),
    }
}

fn measure_kernel_flash(elf: &[u8], flash_start: u32) -> Result<u32, Error> {
    let end = loaded_end("kernel", elf)?.unwrap_or(u64::from(flash_start));
    Ok((end - u64::from(flash_start)) as u32)
}

fn git_rev() -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(cargo::workspace_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let rev = run(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty = run(&["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
    if dirty { format!("{rev}-dirty") } else { rev }
}

pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path, e))
}

fn copy(from: &Path, to: &Path) -> Result<(), Error> {
    write(to, &read(from)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::app_tests::{BASE, load};
    use crate::elfimage::fixture::{Elf, Symbol};

    fn kernel(injector: bool) -> Vec<u8> {
        let mut elf = Elf::kernel(0x0800_0000, &[0; 16]);
        if injector {
            elf.symbols.push(Symbol {
                name: INJECTOR_SYMBOL,
                value: 0x0800_0010,
                size: 8,
                function: false,
                section: 1,
            });
        }
        elf.build()
    }

    #[test]
    fn an_injecting_kernel_needs_a_plan_and_a_plan_needs_an_injecting_kernel() {
        let plain = load(BASE).unwrap();
        let e = check_injector(&plain, &kernel(true)).expect_err("injector without a plan");
        assert!(
            e.to_string().contains(
                "app \"demo\": kernel crate \"app-demo\" is built with feature \"fault-inject\""
            ),
            "{e}"
        );
        assert!(check_injector(&plain, &kernel(false)).is_ok());

        let planned = load(&BASE.replacen(
            "[tasks.jefe]",
            "[kernel.fault-inject]\ntargets = { sys = [\"ram\"] }\nprogress = \"idle\"\n\n[tasks.jefe]",
            1,
        ))
        .unwrap();
        let e = check_injector(&planned, &kernel(false)).expect_err("plan without injector");
        assert!(
            e.to_string()
                .contains("needs kernel crate \"app-demo\" built"),
            "{e}"
        );
        assert!(check_injector(&planned, &kernel(true)).is_ok());
    }
}
