//! Builds the STM32H7 Nucleo demo (`app/demo-stm32h7-nucleo`) for both boards with
//! `cargo xtask dist` and checks what a probe would flash: the vector table at the start of
//! flash, that the kernel's and jefe's sections lie in flash or DTCM (which the OTG
//! controllers cannot reach) and every other task's in flash or AXI SRAM (never DTCM), the
//! archive's `img/flash.ron`, and the
//! whole archive against the humility contract (`cargo xtask check-archive`), that the
//! reset handler's first call is the pre-RAM hook and that the hook reaches the supply
//! routine (doc/stm32h7.md 3), that whatever survives a reset is kept in whole 64-bit
//! words (doc/stm32h7.md 6), and that the USB host stack's tasks are in the image. No
//! STM32H7 runs here (QEMU has no model of it); the image is checked, not booted.
//!
//! The build shares the workspace's target directory, so firmware dependencies are compiled
//! once for every image the tests build.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags};

struct Variant {
    app_toml: &'static str,
    name: &'static str,
    chip: &'static str,
    probe_rs_chip: &'static str,
}

const H753: Variant = Variant {
    app_toml: "app/demo-stm32h7-nucleo/app-h753.toml",
    name: "demo-stm32h753-nucleo",
    chip: "stm32h753",
    probe_rs_chip: "STM32H753ZITx",
};

const H743: Variant = Variant {
    app_toml: "app/demo-stm32h7-nucleo/app-h743.toml",
    name: "demo-stm32h743-nucleo",
    chip: "stm32h743",
    probe_rs_chip: "STM32H743ZITx",
};

/// `[start, end)` of a memory in a chip file.
#[derive(Copy, Clone, Debug)]
struct Range {
    start: u64,
    end: u64,
}

impl Range {
    fn holds(self, start: u64, size: u64) -> bool {
        start >= self.start && start + size <= self.end
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}

fn chip_memory(chip: &str, name: &str) -> Range {
    let path = workspace_root()
        .join("build/chips")
        .join(format!("{chip}.toml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let memory = &table["memory"][name];
    let field = |key: &str| {
        memory[key]
            .as_integer()
            .unwrap_or_else(|| panic!("{}: memory.{name}.{key}", path.display())) as u64
    };
    Range {
        start: field("start"),
        end: field("start") + field("size"),
    }
}

/// Runs `cargo xtask dist` for `variant` and returns its output directory.
fn dist(variant: &Variant) -> PathBuf {
    let root = workspace_root();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(&root)
        .args(["dist", variant.app_toml])
        .env("CARGO", env!("CARGO"))
        .output()
        .expect("xtask runs");
    assert!(
        out.status.success(),
        "cargo xtask dist {} failed:\n{}",
        variant.app_toml,
        String::from_utf8_lossy(&out.stderr)
    );
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(d));
    target.join("dist").join(variant.name)
}

fn archive_file(archive: &mut zip::ZipArchive<std::fs::File>, name: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    archive
        .by_name(name)
        .unwrap_or_else(|e| panic!("archive has no {name}: {e}"))
        .read_to_end(&mut bytes)
        .expect("readable");
    bytes
}

fn check(variant: &Variant) {
    let flash = chip_memory(variant.chip, "flash");
    let ram = chip_memory(variant.chip, "ram");
    let dtcm = chip_memory(variant.chip, "dtcm");
    assert_eq!(
        (flash.start, ram.start),
        (0x0800_0000, 0x2400_0000),
        "flash and AXI SRAM per RM0433"
    );
    let dir = dist(variant);
    let zip_path = dir.join(format!("build-{}.zip", variant.name));
    // The archive meets the humility contract (layout, DWARF shapes, image id), as the QEMU
    // archives are checked.
    let contract = Command::new(env!("CARGO"))
        .current_dir(workspace_root())
        .args([
            "run",
            "--quiet",
            "--package",
            "xtask",
            "--",
            "check-archive",
        ])
        .arg(&zip_path)
        .output()
        .expect("cargo runs");
    assert!(
        contract.status.success(),
        "{}: humility contract:\n{}{}",
        zip_path.display(),
        String::from_utf8_lossy(&contract.stdout),
        String::from_utf8_lossy(&contract.stderr)
    );
    let mut archive = zip::ZipArchive::new(std::fs::File::open(&zip_path).expect("archive"))
        .expect("a zip archive");

    let flash_ron = String::from_utf8(archive_file(&mut archive, "img/flash.ron")).expect("UTF-8");
    assert!(
        flash_ron.contains(&format!("chip: Some(\"{}\")", variant.probe_rs_chip)),
        "img/flash.ron: {flash_ron}"
    );

    // The vector table is the first thing in flash: initial MSP, then Reset (Thumb).
    let bin = archive_file(&mut archive, "img/final.bin");
    let word = |i: usize| {
        u64::from(u32::from_le_bytes(
            bin[4 * i..4 * i + 4].try_into().expect("4 bytes"),
        ))
    };
    let (sp, reset) = (word(0), word(1));
    // The kernel's stack, like all its RAM, is in DTCM (app.toml kernel.ram-memory).
    assert!(
        sp > dtcm.start && sp <= dtcm.end,
        "initial SP {sp:#x} outside DTCM"
    );
    assert_eq!(sp % 8, 0, "AAPCS stack alignment");
    assert_eq!(reset & 1, 1, "Reset {reset:#x} is not a Thumb address");
    let kernel = archive_file(&mut archive, "elf/kernel");
    let kernel = object::File::parse(&*kernel).expect("kernel ELF");
    assert_eq!(
        reset & !1,
        kernel.entry() & !1,
        "Reset is not the kernel's entry"
    );
    let in_kernel_code = kernel.sections().any(|s| {
        matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0)
            && s.address() <= reset & !1
            && reset & !1 < s.address() + s.size()
    });
    assert!(
        in_kernel_code && flash.holds(reset & !1, 2),
        "Reset {reset:#x} is not in the kernel's flash code"
    );

    check_pre_ram_hook(&kernel);

    // final.elf loads at flash addresses (what probe-rs programs).
    let final_elf = archive_file(&mut archive, "img/final.elf");
    let final_elf = object::File::parse(&*final_elf).expect("final.elf");
    let loads: Vec<_> = final_elf
        .segments()
        .filter(|s| s.file_range().1 > 0)
        .collect();
    assert!(!loads.is_empty());
    assert_eq!(loads[0].address(), flash.start);
    for s in &loads {
        assert!(
            flash.holds(s.address(), s.file_range().1),
            "final.elf segment at {:#x} outside flash",
            s.address()
        );
    }

    // Every allocated section of the kernel and of the supervisor: flash or DTCM, where no
    // bus master but the CPU reaches (doc/usb-host.md 1.11, 5.3 item 6); of every other
    // task: flash or AXI SRAM, never DTCM. So no other task's RAM, the USB tasks' included,
    // is where the kernel's and jefe's are, and even a DMA-mode controller programmed with
    // a task's buffer could not reach them.
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.expect("a UTF-8 entry name").into_owned())
        .filter(|n| n.starts_with("elf/"))
        .collect();
    assert!(
        names.iter().any(|n| n == "elf/task/sys") && names.iter().any(|n| n == "elf/task/blinky")
    );
    // The USB host stack is in the board image (issue 14 point 4).
    for task in [
        "usb-hcd", "usb-core", "usb-msc", "usb-hid", "usb-cdc", "usb-hub",
    ] {
        assert!(
            names.iter().any(|n| *n == format!("elf/task/{task}")),
            "{}: no elf/task/{task} in the archive",
            variant.name
        );
    }
    for name in names {
        let bytes = archive_file(&mut archive, &name);
        let elf = object::File::parse(&*bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for s in elf.sections() {
            let allocated = matches!(s.flags(), SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_ALLOC) != 0);
            if !allocated || s.size() == 0 {
                continue;
            }
            let (addr, size) = (s.address(), s.size());
            let section = s.name().unwrap_or("?");
            if name == "elf/kernel" || name == "elf/task/jefe" {
                assert!(
                    flash.holds(addr, size) || dtcm.holds(addr, size),
                    "{name} {section} {addr:#x}+{size:#x} is outside flash and DTCM"
                );
                continue;
            }
            assert!(
                !dtcm.holds(addr, 1),
                "{name} {section} at {addr:#x} is in DTCM"
            );
            assert!(
                flash.holds(addr, size) || ram.holds(addr, size),
                "{name} {section} {addr:#x}+{size:#x} is outside flash and AXI SRAM"
            );
        }
        check_reset_survivors(&name, &elf);
    }
}

fn symbol_address(elf: &object::File<'_>, name: &str) -> u64 {
    elf.symbols()
        .find(|s| s.name() == Ok(name))
        .unwrap_or_else(|| panic!("kernel has no symbol {name}"))
        .address()
        & !1
}

/// The two halfwords at `address` in the kernel's code.
fn halfwords_at(elf: &object::File<'_>, address: u64) -> (u16, u16) {
    let section = elf
        .sections()
        .find(|s| s.address() <= address && address + 4 <= s.address() + s.size())
        .unwrap_or_else(|| panic!("no section holds {address:#x}"));
    let data = section.data().expect("section data");
    let at = (address - section.address()) as usize;
    let half = |i: usize| u16::from_le_bytes([data[i], data[i + 1]]);
    (half(at), half(at + 2))
}

/// The target of the Thumb-2 `bl` (`link`) or `b.w` at `address`, or `None` if the 32-bit
/// instruction there is neither (ARMv7-M ARM A7.7.18, A7.7.12 encoding T4).
fn branch_target(elf: &object::File<'_>, address: u64, link: bool) -> Option<u64> {
    let (hw1, hw2) = halfwords_at(elf, address);
    let kind = if link { 0xD000 } else { 0x9000 };
    if hw1 & 0xF800 != 0xF000 || hw2 & 0xD000 != kind {
        return None;
    }
    let s = u32::from(hw1 >> 10) & 1;
    let j1 = u32::from(hw2 >> 13) & 1;
    let j2 = u32::from(hw2 >> 11) & 1;
    let i1 = !(j1 ^ s) & 1;
    let i2 = !(j2 ^ s) & 1;
    let imm =
        s << 24 | i1 << 23 | i2 << 22 | u32::from(hw1 & 0x3FF) << 12 | u32::from(hw2 & 0x7FF) << 1;
    let offset = ((imm << 7) as i32 >> 7) as i64;
    Some((address as i64 + 4 + offset) as u64)
}

/// The reset handler's first call is `bulkhead_pre_ram` (everything before it is the FPU
/// and VTOR set-up, tested on the host in `kern`'s `entry/reset_handler.rs`), and in this image the
/// hook is a tail branch to the supply routine.
fn check_pre_ram_hook(kernel: &object::File<'_>) {
    let reset = symbol_address(kernel, "Reset");
    let hook = symbol_address(kernel, "bulkhead_pre_ram");
    let first_call = (0..64)
        .map(|i| reset + 2 * i)
        .find_map(|a| branch_target(kernel, a, true))
        .expect("Reset calls something");
    assert_eq!(
        first_call, hook,
        "Reset's first call is not bulkhead_pre_ram"
    );
    let supply = kernel
        .symbols()
        .find(|s| {
            s.name()
                .is_ok_and(|n| n.contains("write_supply_before_ram"))
        })
        .expect("the kernel links drv_stm32h7_clocks::pre_ram::write_supply_before_ram")
        .address()
        & !1;
    assert_eq!(
        branch_target(kernel, hook, false),
        Some(supply),
        "bulkhead_pre_ram does not branch to the supply routine"
    );
}

/// Everything in `.uninit` (kept across a reset) is 8-byte aligned and a whole number of
/// 64-bit words, so it can be written as whole ECC words of AXI SRAM: a narrower write is a
/// read-modify-write in the ECC controller that a reset can cut short.
fn check_reset_survivors(name: &str, elf: &object::File<'_>) {
    for symbol in elf.symbols() {
        let Some(index) = symbol.section_index() else {
            continue;
        };
        let section = elf.section_by_index(index).expect("the symbol's section");
        if !section.name().is_ok_and(|n| n.starts_with(".uninit")) || symbol.size() == 0 {
            continue;
        }
        let what = symbol.name().unwrap_or("?");
        assert!(
            symbol.address() % 8 == 0 && symbol.size() % 8 == 0,
            "{name}: {what} at {:#x} ({} bytes) in .uninit is not whole 64-bit words",
            symbol.address(),
            symbol.size()
        );
    }
}

#[test]
fn nucleo_h753zi_image_boots_from_flash_and_names_its_probe_chip() {
    check(&H753);
}

#[test]
fn nucleo_h743zi2_image_boots_from_flash_and_names_its_probe_chip() {
    check(&H743);
}
