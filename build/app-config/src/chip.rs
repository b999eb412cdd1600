//! Board and chip files: `build/boards/<board>.toml` names a chip, `build/chips/<chip>.toml`
//! gives its memories, MPU and peripherals.
//!
//! Every peripheral must be describable by one ARMv7-M MPU region (power-of-two size of at least
//! 32 bytes, base aligned to the size) because a task that `uses` it gets exactly that region.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use super::error::Blame;
use super::{ConfigError, Problem, check_name, source};
use crate::mpu::MpuRegion;

/// A board: which chip it carries and how tools reach it.
#[derive(Clone, Debug)]
pub struct Board {
    pub name: String,
    pub chip: Chip,
    /// Core clock the app's clock setup programs, in Hz (the kernel's tick is derived from it).
    pub cpu_hz: u32,
    /// probe-rs target name, written to the archive's `img/flash.ron` for `humility flash`.
    pub probe_rs_chip: Option<String>,
    /// The peripheral the console task talks through.
    pub console: Option<String>,
    /// QEMU `-machine` name, for boards that QEMU emulates.
    pub qemu_machine: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct BoardFile {
    chip: String,
    cpu_hz: u32,
    probe_rs_chip: Option<String>,
    console: Option<String>,
    qemu_machine: Option<String>,
}

/// A chip's memory map.
#[derive(Clone, Debug)]
pub struct Chip {
    pub name: String,
    /// Memories by name; `flash` and `ram` always exist (tasks and the kernel live there).
    pub memory: IndexMap<String, MemoryRange>,
    /// External interrupt lines (NVIC IRQs 0 .. irq_count).
    pub irq_count: u32,
    pub peripherals: IndexMap<String, Peripheral>,
}

/// A memory: `start` .. `start + size`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryRange {
    pub start: u32,
    pub size: u32,
}

impl MemoryRange {
    /// One past the last byte (a `u64` because a memory may end at 4 GiB).
    pub fn end(&self) -> u64 {
        u64::from(self.start) + u64::from(self.size)
    }
}

/// A memory-mapped peripheral: its MPU region and its named interrupts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peripheral {
    pub region: MpuRegion,
    /// Interrupt name (e.g. `irq`, `rx`) to NVIC IRQ number.
    pub interrupts: IndexMap<String, u32>,
    /// Several tasks may map it (e.g. a free-running timer that benchmarks read from both
    /// sides of an IPC). Its interrupts still have exactly one owner.
    pub shared: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ChipFile {
    /// MPU regions the core implements; it must cover the `abi::REGIONS_PER_TASK` the kernel
    /// programs per task.
    mpu_regions: u8,
    irq_count: u32,
    memory: IndexMap<String, MemoryRange>,
    #[serde(default)]
    peripherals: IndexMap<String, PeripheralEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PeripheralEntry {
    address: u32,
    size: u32,
    #[serde(default)]
    interrupts: IndexMap<String, u32>,
    #[serde(default)]
    shared: bool,
}

impl Board {
    /// Loads `<build_dir>/boards/<name>.toml` and the chip it names. `referrer` is the file
    /// whose `board` key named it, blamed when the board file does not exist.
    pub(super) fn load(
        build_dir: &Path,
        name: &str,
        referrer: &Path,
    ) -> Result<Board, ConfigError> {
        let file = build_dir.join("boards").join(format!("{name}.toml"));
        let at_referrer = |problem| {
            Blame {
                file: referrer,
                task: None,
            }
            .error("board", problem)
        };
        check_name(name).map_err(at_referrer)?;
        let text = std::fs::read_to_string(&file).map_err(|_| {
            at_referrer(Problem::NoSuchFile {
                what: "board",
                expected: file.clone(),
            })
        })?;
        let raw: BoardFile = source::parse(&file, &text)?;
        let at = |key: &str, problem| {
            Blame {
                file: &file,
                task: None,
            }
            .error(key, problem)
        };
        check_name(&raw.chip).map_err(|p| at("chip", p))?;
        let chip_file = build_dir.join("chips").join(format!("{}.toml", raw.chip));
        let chip_text = std::fs::read_to_string(&chip_file).map_err(|_| {
            at(
                "chip",
                Problem::NoSuchFile {
                    what: "chip",
                    expected: chip_file.clone(),
                },
            )
        })?;
        let chip = Chip::parse(&chip_file, &raw.chip, &chip_text)?;
        if let Some(console) = &raw.console
            && !chip.peripherals.contains_key(console)
        {
            return Err(at(
                "console",
                Problem::UnknownPeripheral {
                    name: console.clone(),
                    chip: chip.name.clone(),
                },
            ));
        }
        Ok(Board {
            name: name.into(),
            chip,
            cpu_hz: raw.cpu_hz,
            probe_rs_chip: raw.probe_rs_chip,
            console: raw.console,
            qemu_machine: raw.qemu_machine,
        })
    }
}

impl Chip {
    /// Parses and checks a chip file.
    pub(super) fn parse(file: &Path, name: &str, text: &str) -> Result<Chip, ConfigError> {
        let raw: ChipFile = source::parse(file, text)?;
        let at = |key: String, problem| Blame { file, task: None }.error(&key, problem);
        if usize::from(raw.mpu_regions) < abi::REGIONS_PER_TASK {
            return Err(at(
                "mpu-regions".into(),
                Problem::TooFewMpuRegions {
                    chip: raw.mpu_regions,
                    kernel: abi::REGIONS_PER_TASK,
                },
            ));
        }
        for required in ["flash", "ram"] {
            if !raw.memory.contains_key(required) {
                return Err(at("memory".into(), Problem::MissingMemory(required)));
            }
        }
        // Every named range, memories and peripherals alike, must be disjoint from the others.
        let mut ranges: Vec<(String, u32, u64)> = Vec::new();
        for (mem_name, range) in &raw.memory {
            let key = format!("memory.{mem_name}");
            check_name(mem_name).map_err(|p| at(key.clone(), p))?;
            if range.size == 0 || range.end() > 1 << 32 {
                return Err(at(
                    key,
                    Problem::BadRegion {
                        address: range.start,
                        size: range.size,
                        reason: "is empty or extends past 4 GiB",
                    },
                ));
            }
            ranges.push((key, range.start, range.end()));
        }
        let mut peripherals = IndexMap::new();
        for (p_name, entry) in raw.peripherals {
            let key = format!("peripherals.{p_name}");
            check_name(&p_name).map_err(|p| at(key.clone(), p))?;
            let region = MpuRegion::new(entry.address, entry.size).ok_or_else(|| {
                at(
                    key.clone(),
                    Problem::BadRegion {
                        address: entry.address,
                        size: entry.size,
                        reason: "is not one MPU region (a power of two of at least 32 bytes, \
                                 aligned to its size)",
                    },
                )
            })?;
            for (irq_name, &irq) in &entry.interrupts {
                let irq_key = format!("{key}.interrupts.{irq_name}");
                check_name(irq_name).map_err(|p| at(irq_key.clone(), p))?;
                if irq >= raw.irq_count {
                    return Err(at(
                        irq_key,
                        Problem::UnknownInterrupt(format!(
                            "IRQ {irq} is beyond the chip's IRQs 0..{}",
                            raw.irq_count
                        )),
                    ));
                }
            }
            ranges.push((key, region.base(), region.end()));
            peripherals.insert(
                p_name,
                Peripheral {
                    region,
                    interrupts: entry.interrupts,
                    shared: entry.shared,
                },
            );
        }
        for (i, (key, start, end)) in ranges.iter().enumerate() {
            if let Some((other, ..)) = ranges[..i]
                .iter()
                .find(|(_, s, e)| u64::from(*start) < *e && u64::from(*s) < *end)
            {
                return Err(at(
                    key.clone(),
                    Problem::RegionOverlap {
                        other: other.clone(),
                    },
                ));
            }
        }
        Ok(Chip {
            name: name.into(),
            memory: raw.memory,
            irq_count: raw.irq_count,
            peripherals,
        })
    }

    /// The memory named `name`; `flash` and `ram` always exist.
    pub fn memory(&self, name: &str) -> Option<MemoryRange> {
        self.memory.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chip(text: &str) -> Result<Chip, ConfigError> {
        Chip::parse(Path::new("c.toml"), "c", text)
    }

    const MEMORY: &str = "mpu-regions = 8\nirq-count = 32\n[memory]\n\
                          flash = { start = 0x0, size = 0x10000 }\n\
                          ram = { start = 0x20000000, size = 0x10000 }\n";

    #[test]
    fn every_in_tree_board_and_chip_loads() {
        let build = super::super::build_dir();
        let mut boards = 0;
        for entry in std::fs::read_dir(build.join("boards")).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_str().unwrap();
            let board =
                Board::load(&build, name, Path::new("app.toml")).unwrap_or_else(|e| panic!("{e}"));
            assert!(board.chip.memory("flash").is_some());
            boards += 1;
        }
        assert!(boards >= 3);
    }

    #[test]
    fn nucleo_boards_name_their_probe_rs_chips() {
        let build = super::super::build_dir();
        let h753 = Board::load(&build, "nucleo-h753zi", Path::new("a")).unwrap();
        assert_eq!(h753.probe_rs_chip.as_deref(), Some("STM32H753ZITx"));
        let otg2 = &h753.chip.peripherals["otg2"];
        assert_eq!(
            (otg2.region.base(), otg2.interrupts["irq"]),
            (0x4008_0000, 101)
        );
        let h743 = Board::load(&build, "nucleo-h743zi2", Path::new("a")).unwrap();
        assert_eq!(h743.probe_rs_chip.as_deref(), Some("STM32H743ZITx"));
        let qemu = Board::load(&build, "mps2-an500", Path::new("a")).unwrap();
        assert_eq!(qemu.probe_rs_chip, None);
        assert_eq!(qemu.chip.peripherals["uart0"].interrupts["rx"], 0);
    }

    #[test]
    fn unknown_board_names_the_expected_file() {
        let e = Board::load(Path::new("/nowhere"), "moon", Path::new("app.toml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "app.toml: board: unknown board \"moon\" (no file /nowhere/boards/moon.toml)"
        );
    }

    #[test]
    fn peripheral_must_be_one_mpu_region() {
        let e = chip(&format!(
            "{MEMORY}[peripherals.uart]\naddress = 0x40004100\nsize = 0x1000\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "peripherals.uart");
        assert!(matches!(e.problem, Problem::BadRegion { .. }), "{e}");
        let e = chip(&format!(
            "{MEMORY}[peripherals.uart]\naddress = 0x40004000\nsize = 0x300\n"
        ))
        .unwrap_err();
        assert!(matches!(e.problem, Problem::BadRegion { .. }), "{e}");
    }

    #[test]
    fn overlapping_peripherals_are_refused() {
        let e = chip(&format!(
            "{MEMORY}[peripherals.a]\naddress = 0x40000000\nsize = 0x2000\n\
             [peripherals.b]\naddress = 0x40001000\nsize = 0x1000\n"
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.toml: peripherals.b: overlaps \"peripherals.a\""
        );
    }

    #[test]
    fn irq_beyond_the_nvic_is_refused() {
        let e = chip(&format!(
            "{MEMORY}[peripherals.a]\naddress = 0x40000000\nsize = 0x1000\ninterrupts = {{ irq = 32 }}\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "peripherals.a.interrupts.irq");
        assert!(e.to_string().contains("IRQs 0..32"), "{e}");
    }

    #[test]
    fn flash_and_ram_are_required_and_mpu_must_cover_the_kernel() {
        let e =
            chip("mpu-regions = 8\nirq-count = 1\n[memory]\nflash = { start = 0, size = 32 }\n")
                .unwrap_err();
        assert!(matches!(e.problem, Problem::MissingMemory("ram")), "{e}");
        let e = chip(&MEMORY.replace("mpu-regions = 8", "mpu-regions = 4")).unwrap_err();
        assert!(
            matches!(e.problem, Problem::TooFewMpuRegions { chip: 4, kernel: 8 }),
            "{e}"
        );
    }

    #[test]
    fn memory_past_4_gib_is_refused() {
        let e = chip(&MEMORY.replace("start = 0x20000000", "start = 0xFFFFF000")).unwrap_err();
        assert_eq!(e.key, "memory.ram");
    }
}
