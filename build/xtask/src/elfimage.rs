//! The final flash image: combining the kernel and task ELFs, `final.bin`, `final.elf`, and the
//! image id.
//!
//! Every `PT_LOAD` segment with file bytes is placed at its *physical* address (`p_paddr`, the
//! load address): `.data` runs in RAM but its initial contents live in flash, where start-up
//! code copies them from. Segments must lie in flash and must not overlap. The image spans the
//! lowest to the highest loaded byte, gaps filled with 0xFF (erased flash).
//!
//! `final.elf` has the shape `doc/humility-contract.md` 1.6 recommends: one `PT_LOAD` and one
//! `SHT_PROGBITS` section with flags `SHF_WRITE | SHF_ALLOC` covering the same bytes, because
//! hubtools reads sections with exactly those flags and probe-rs programs segments that contain
//! a section. It is produced by the minimal ELF32 writer below.
//!
//! The image id lets humility check that a target runs this image. It is a hash of the final
//! image with the id's own bytes taken as zero ([`image_id`]), so it can be computed once the
//! image is complete and then written into the kernel ELF and the image alike
//! ([`stamp_image_id`]): both then hold the same bytes at the symbol's address, and
//! recomputing the id over the stamped image gives the same value.

use std::fmt;
use std::ops::Range;

use object::elf::{
    ELFCLASS32, ELFDATA2LSB, EM_ARM, ET_EXEC, EV_CURRENT, FileHeader32, PF_R, PT_LOAD, SHF_ALLOC,
    SHF_WRITE, SHT_PROGBITS, SHT_STRTAB,
};
use object::read::elf::{ElfFile32, FileHeader, ProgramHeader, SectionHeader};
use object::{LittleEndian as LE, Object, ObjectSection, ObjectSymbol};

use crate::config::MemoryRange;

/// The kernel symbol holding the image id (`doc/humility-contract.md` 3.7).
pub const IMAGE_ID_SYMBOL: &str = "HUBRIS_IMAGE_ID";

/// An input ELF and the name errors call it by (`kernel`, `task "jefe"`).
#[derive(Copy, Clone, Debug)]
pub struct NamedElf<'a> {
    pub name: &'a str,
    pub bytes: &'a [u8],
}

/// The contiguous flash image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Address of `bin[0]`.
    pub base: u32,
    /// `final.bin`.
    pub bin: Vec<u8>,
    /// The kernel's entry point, Thumb bit included.
    pub entry: u32,
}

impl Image {
    /// The image offsets of `address .. address + len`, if all of it is in the image.
    fn offsets(&self, address: u32, len: usize) -> Option<Range<usize>> {
        let start = usize::try_from(address.checked_sub(self.base)?).ok()?;
        let end = start.checked_add(len)?;
        (end <= self.bin.len()).then_some(start..end)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum ImageError {
    /// Not a little-endian ELF32 file, or a malformed one.
    Malformed {
        elf: String,
        reason: String,
    },
    NotArm {
        elf: String,
        machine: u16,
    },
    OutsideFlash {
        elf: String,
        address: u32,
        size: u32,
        flash: MemoryRange,
    },
    Overlap {
        first: String,
        first_range: Range<u64>,
        second: String,
        second_range: Range<u64>,
    },
    NothingToLoad,
    NoSymbol {
        symbol: String,
    },
    SymbolSize {
        symbol: String,
        size: u64,
        expected: usize,
    },
    /// The symbol's bytes are not in the file (undefined, absolute or in a NOBITS section).
    SymbolWithoutBytes {
        symbol: String,
    },
    SymbolOutsideImage {
        symbol: String,
        address: u64,
    },
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Malformed { elf, reason } => {
                write!(f, "{elf}: not a usable ELF32 file: {reason}")
            }
            ImageError::NotArm { elf, machine } => {
                write!(
                    f,
                    "{elf}: e_machine is {machine}, expected EM_ARM ({EM_ARM})"
                )
            }
            ImageError::OutsideFlash {
                elf,
                address,
                size,
                flash,
            } => write!(
                f,
                "{elf}: segment loaded at {address:#010x} ({size} bytes) is outside flash \
                 {:#010x}..{:#010x}",
                flash.start,
                flash.end()
            ),
            ImageError::Overlap {
                first,
                first_range,
                second,
                second_range,
            } => write!(
                f,
                "{first} loads {:#010x}..{:#010x}, which overlaps {second}'s {:#010x}..{:#010x}",
                first_range.start, first_range.end, second_range.start, second_range.end
            ),
            ImageError::NothingToLoad => write!(f, "no ELF has any loadable bytes"),
            ImageError::NoSymbol { symbol } => write!(f, "no symbol `{symbol}`"),
            ImageError::SymbolSize {
                symbol,
                size,
                expected,
            } => {
                write!(f, "symbol `{symbol}` is {size} bytes, expected {expected}")
            }
            ImageError::SymbolWithoutBytes { symbol } => {
                write!(
                    f,
                    "symbol `{symbol}` has no bytes in the file (undefined or in .bss?)"
                )
            }
            ImageError::SymbolOutsideImage { symbol, address } => {
                write!(
                    f,
                    "symbol `{symbol}` at {address:#010x} is not in the flash image"
                )
            }
        }
    }
}

impl std::error::Error for ImageError {}

/// A loadable segment: its owner, load address and bytes.
struct Load<'a> {
    owner: &'a str,
    address: u32,
    bytes: &'a [u8],
}

impl Load<'_> {
    fn range(&self) -> Range<u64> {
        u64::from(self.address)..u64::from(self.address) + self.bytes.len() as u64
    }
}

fn malformed(elf: &str, e: impl fmt::Display) -> ImageError {
    ImageError::Malformed {
        elf: elf.into(),
        reason: e.to_string(),
    }
}

/// The ELF header of an ARM ELF32 little-endian file.
fn arm_header<'a>(elf: &NamedElf<'a>) -> Result<&'a FileHeader32<LE>, ImageError> {
    let header = FileHeader32::<LE>::parse(elf.bytes).map_err(|e| malformed(elf.name, e))?;
    header.endian().map_err(|e| malformed(elf.name, e))?;
    let machine = header.e_machine(LE);
    if machine != EM_ARM {
        return Err(ImageError::NotArm {
            elf: elf.name.into(),
            machine,
        });
    }
    Ok(header)
}

/// `PT_LOAD` segments with file bytes, at their load addresses.
/// The flash ranges an ELF loads (every `PT_LOAD` with file bytes, at its physical
/// address: `.data` is linked in RAM but loaded from flash).
pub fn load_ranges(elf: &NamedElf<'_>) -> Result<Vec<Range<u64>>, ImageError> {
    Ok(loads(elf)?.iter().map(Load::range).collect())
}

fn loads<'a>(elf: &NamedElf<'a>) -> Result<Vec<Load<'a>>, ImageError> {
    let header = arm_header(elf)?;
    let segments = header
        .program_headers(LE, elf.bytes)
        .map_err(|e| malformed(elf.name, e))?;
    let mut loads = Vec::new();
    for segment in segments {
        if segment.p_type(LE) != PT_LOAD || segment.p_filesz(LE) == 0 {
            continue;
        }
        let bytes = segment.data(LE, elf.bytes).map_err(|()| {
            malformed(
                elf.name,
                format_args!(
                    "segment at {:#x} runs past the end of the file",
                    segment.p_paddr(LE)
                ),
            )
        })?;
        loads.push(Load {
            owner: elf.name,
            address: segment.p_paddr(LE),
            bytes,
        });
    }
    Ok(loads)
}

/// Combines the loadable bytes of the kernel and the tasks into one flash image.
pub fn build_image(
    flash: MemoryRange,
    kernel: NamedElf<'_>,
    tasks: &[NamedElf<'_>],
) -> Result<Image, ImageError> {
    let entry = arm_header(&kernel)?.e_entry(LE);
    let mut all = Vec::new();
    for elf in std::iter::once(&kernel).chain(tasks) {
        for load in loads(elf)? {
            let range = load.range();
            if range.start < u64::from(flash.start) || range.end > flash.end() {
                return Err(ImageError::OutsideFlash {
                    elf: elf.name.into(),
                    address: load.address,
                    size: load.bytes.len() as u32,
                    flash,
                });
            }
            all.push(load);
        }
    }
    all.sort_by_key(|l| l.address);
    for pair in all.windows(2) {
        if pair[1].range().start < pair[0].range().end {
            return Err(ImageError::Overlap {
                first: pair[0].owner.into(),
                first_range: pair[0].range(),
                second: pair[1].owner.into(),
                second_range: pair[1].range(),
            });
        }
    }
    let (first, last) = match (all.first(), all.last()) {
        (Some(first), Some(last)) => (first, last),
        _ => return Err(ImageError::NothingToLoad),
    };
    let base = first.address;
    // Both ends lie inside flash, so the length fits in memory.
    let mut bytes = vec![0xFF; (last.range().end - u64::from(base)) as usize];
    for load in &all {
        let at = (load.address - base) as usize;
        bytes[at..at + load.bytes.len()].copy_from_slice(load.bytes);
    }
    Ok(Image {
        base,
        bin: bytes,
        entry,
    })
}

/// The image id of `final_bin`: a 64-bit FNV-1a hash of the image *with the image-id bytes
/// zeroed*. Pass the image before the id is written into it (the kernel's placeholder is
/// zero, and [`stamp_image_id`] zeroes it in any case); to check a stamped image, zero those
/// eight bytes again and recompute.
pub fn image_id(final_bin: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xCBF2_9CE4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01B3;
    final_bin.iter().fold(OFFSET_BASIS, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

/// Where a symbol's bytes are: its address, its size and its offset in the file.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SymbolBytes {
    pub address: u64,
    pub size: u64,
    pub file_offset: usize,
    /// Whether the symbol's section is loaded (`SHF_ALLOC`), i.e. part of the image.
    pub allocated: bool,
}

/// Finds `symbol` in `elf` and the file bytes that back it.
pub fn symbol_bytes(elf: &[u8], symbol: &str) -> Result<SymbolBytes, ImageError> {
    let file =
        ElfFile32::<LE>::parse(elf).map_err(|e| malformed(&format!("looking up `{symbol}`"), e))?;
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok(symbol))
        .ok_or_else(|| ImageError::NoSymbol {
            symbol: symbol.into(),
        })?;
    let without_bytes = || ImageError::SymbolWithoutBytes {
        symbol: symbol.into(),
    };
    let section = sym
        .section_index()
        .and_then(|index| file.section_by_index(index).ok())
        .ok_or_else(without_bytes)?;
    let (section_offset, section_size) = section.file_range().ok_or_else(without_bytes)?;
    let within = sym
        .address()
        .checked_sub(section.address())
        .ok_or_else(without_bytes)?;
    if within + sym.size() > section_size {
        return Err(without_bytes());
    }
    let file_offset = usize::try_from(section_offset + within).map_err(|_| without_bytes())?;
    Ok(SymbolBytes {
        address: sym.address(),
        size: sym.size(),
        file_offset,
        allocated: section.elf_section_header().sh_flags(LE) & SHF_ALLOC != 0,
    })
}

/// Overwrites the file bytes backing `symbol` with `bytes`, which must be exactly the symbol's
/// size.
pub fn patch_symbol(elf: &mut [u8], symbol: &str, bytes: &[u8]) -> Result<(), ImageError> {
    let found = symbol_bytes(elf, symbol)?;
    if found.size != bytes.len() as u64 {
        return Err(ImageError::SymbolSize {
            symbol: symbol.into(),
            size: found.size,
            expected: bytes.len(),
        });
    }
    elf[found.file_offset..found.file_offset + bytes.len()].copy_from_slice(bytes);
    Ok(())
}

/// Computes the image id of `image` and writes it (little-endian) into both the kernel ELF's
/// [`IMAGE_ID_SYMBOL`] and the image, so `elf/kernel`, `final.bin` and `final.elf` agree.
pub fn stamp_image_id(kernel: &mut [u8], image: &mut Image) -> Result<u64, ImageError> {
    let found = symbol_bytes(kernel, IMAGE_ID_SYMBOL)?;
    let id_len = std::mem::size_of::<u64>();
    let outside = || ImageError::SymbolOutsideImage {
        symbol: IMAGE_ID_SYMBOL.into(),
        address: found.address,
    };
    let address = u32::try_from(found.address).map_err(|_| outside())?;
    let at = image.offsets(address, id_len).ok_or_else(outside)?;
    if found.size != id_len as u64 {
        return Err(ImageError::SymbolSize {
            symbol: IMAGE_ID_SYMBOL.into(),
            size: found.size,
            expected: id_len,
        });
    }
    image.bin[at.clone()].fill(0);
    let id = image_id(&image.bin);
    let bytes = id.to_le_bytes();
    patch_symbol(kernel, IMAGE_ID_SYMBOL, &bytes)?;
    image.bin[at].copy_from_slice(&bytes);
    Ok(id)
}

/// `img/final.elf` for `image`.
pub fn final_elf(image: &Image) -> Vec<u8> {
    write_elf32(
        &ElfHeader {
            e_type: ET_EXEC,
            machine: EM_ARM,
            entry: image.entry,
        },
        &[ElfSection {
            name: ".sec1",
            sh_type: SHT_PROGBITS,
            flags: SHF_WRITE | SHF_ALLOC,
            addr: image.base,
            data: &image.bin,
            ..ElfSection::default()
        }],
        &[ElfSegment {
            vaddr: image.base,
            paddr: image.base,
            flags: PF_R,
            sections: 0..1,
        }],
    )
}

/// ELF header fields the writer does not fix.
#[derive(Copy, Clone, Debug)]
pub struct ElfHeader {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u32,
}

/// A section for [`write_elf32`]. `link` counts sections from 1 (0 is the null section).
#[derive(Copy, Clone, Debug, Default)]
pub struct ElfSection<'a> {
    pub name: &'a str,
    pub sh_type: u32,
    pub flags: u32,
    pub addr: u32,
    pub data: &'a [u8],
    pub link: u32,
    pub info: u32,
    pub entsize: u32,
}

/// A `PT_LOAD` covering `sections` (indices into the section list), whose data the writer
/// lays out contiguously.
#[derive(Clone, Debug)]
pub struct ElfSegment {
    pub vaddr: u32,
    pub paddr: u32,
    pub flags: u32,
    pub sections: Range<usize>,
}

pub const EHDR_SIZE: usize = 52;
pub const PHDR_SIZE: usize = 32;
const SHDR_SIZE: usize = 40;

/// A program header; file and memory sizes are equal in every file we write.
pub struct Phdr {
    pub kind: u32,
    pub offset: u32,
    pub vaddr: u32,
    pub paddr: u32,
    pub size: u32,
    pub flags: u32,
    pub align: u32,
}

fn put16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The ELF32 little-endian file header, for every ELF this tool writes (images and dumps):
/// `phnum` program headers right after it, and `(e_shoff, e_shnum, e_shstrndx)`.
pub fn write_ehdr(
    out: &mut [u8],
    header: &ElfHeader,
    phnum: usize,
    (shoff, shnum, shstrndx): (u32, usize, usize),
) {
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = ELFCLASS32;
    out[5] = ELFDATA2LSB;
    out[6] = EV_CURRENT;
    put16(out, 16, header.e_type);
    put16(out, 18, header.machine);
    put32(out, 20, u32::from(EV_CURRENT));
    put32(out, 24, header.entry);
    put32(out, 28, if phnum == 0 { 0 } else { EHDR_SIZE as u32 });
    put32(out, 32, shoff);
    put16(out, 40, EHDR_SIZE as u16);
    put16(out, 42, PHDR_SIZE as u16);
    put16(out, 44, phnum as u16);
    put16(out, 46, SHDR_SIZE as u16);
    put16(out, 48, shnum as u16);
    put16(out, 50, shstrndx as u16);
}

/// Program header `index` (they follow the file header).
pub fn write_phdr(out: &mut [u8], index: usize, p: &Phdr) {
    let at = EHDR_SIZE + index * PHDR_SIZE;
    let fields = [
        p.kind, p.offset, p.vaddr, p.paddr, p.size, p.size, p.flags, p.align,
    ];
    for (field, value) in fields.into_iter().enumerate() {
        put32(out, at + field * 4, value);
    }
}

/// Writes a little-endian ELF32 file: header, program headers, section data (4-byte aligned,
/// in order), `.shstrtab`, section headers. Sections in one segment must be listed together
/// and carry no alignment gap between them (all of ours are multiples of 4 or last).
pub fn write_elf32(
    header: &ElfHeader,
    sections: &[ElfSection<'_>],
    segments: &[ElfSegment],
) -> Vec<u8> {
    let mut shstrtab = vec![0u8];
    let mut name_offsets = Vec::new();
    for name in sections.iter().map(|s| s.name).chain([".shstrtab"]) {
        name_offsets.push(shstrtab.len() as u32);
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
    }
    let mut out = vec![0u8; EHDR_SIZE + PHDR_SIZE * segments.len()];
    let mut offsets = Vec::new();
    for data in sections.iter().map(|s| s.data).chain([shstrtab.as_slice()]) {
        out.resize(out.len().next_multiple_of(4), 0);
        offsets.push(out.len() as u32);
        out.extend_from_slice(data);
    }
    out.resize(out.len().next_multiple_of(4), 0);
    let shoff = out.len() as u32;

    write_ehdr(
        &mut out,
        header,
        segments.len(),
        (shoff, sections.len() + 2, sections.len() + 1),
    );
    for (i, segment) in segments.iter().enumerate() {
        let start = offsets[segment.sections.start];
        let last = segment.sections.end - 1;
        let size = offsets[last] + sections[last].data.len() as u32 - start;
        write_phdr(
            &mut out,
            i,
            &Phdr {
                kind: PT_LOAD,
                offset: start,
                vaddr: segment.vaddr,
                paddr: segment.paddr,
                size,
                flags: segment.flags,
                align: 4,
            },
        );
    }

    out.resize(out.len() + SHDR_SIZE, 0); // the null section
    let described = sections.iter().copied().chain([ElfSection {
        sh_type: SHT_STRTAB,
        data: &shstrtab,
        ..ElfSection::default()
    }]);
    for (i, section) in described.enumerate() {
        let at = out.len();
        out.resize(at + SHDR_SIZE, 0);
        let fields = [
            name_offsets[i],
            section.sh_type,
            section.flags,
            section.addr,
            offsets[i],
            section.data.len() as u32,
            section.link,
            section.info,
            1,
            section.entsize,
        ];
        for (field, value) in fields.into_iter().enumerate() {
            put32(&mut out, at + field * 4, value);
        }
    }
    out
}

/// Small ARM ELF files for tests, built with [`write_elf32`].
#[cfg(test)]
pub mod fixture {
    use super::*;
    use object::elf::{SHF_EXECINSTR, SHT_SYMTAB, STB_GLOBAL, STT_FUNC, STT_OBJECT};

    /// A section of a test ELF. `load` is the load address (`p_paddr`) if the section is part
    /// of a `PT_LOAD`.
    #[derive(Clone, Debug)]
    pub struct Section {
        pub name: &'static str,
        pub addr: u32,
        pub load: Option<u32>,
        pub flags: u32,
        pub data: Vec<u8>,
    }

    /// A global symbol defined in `sections[section]`.
    #[derive(Clone, Debug)]
    pub struct Symbol {
        pub name: &'static str,
        pub value: u32,
        pub size: u32,
        pub function: bool,
        pub section: usize,
    }

    #[derive(Clone, Debug)]
    pub struct Elf {
        pub machine: u16,
        pub entry: u32,
        pub sections: Vec<Section>,
        pub symbols: Vec<Symbol>,
    }

    impl Elf {
        /// `.text` at `text_addr` (loaded there) with one sized function, and an empty
        /// `.debug_frame`: what humility needs of a task.
        pub fn task(text_addr: u32, text: &[u8]) -> Elf {
            Elf {
                machine: EM_ARM,
                entry: text_addr | 1,
                sections: vec![
                    Section {
                        name: ".text",
                        addr: text_addr,
                        load: Some(text_addr),
                        flags: SHF_ALLOC | SHF_EXECINSTR,
                        data: text.to_vec(),
                    },
                    Section {
                        name: ".debug_frame",
                        addr: 0,
                        load: None,
                        flags: 0,
                        data: Vec::new(),
                    },
                ],
                symbols: vec![Symbol {
                    name: "main",
                    value: text_addr | 1,
                    size: text.len() as u32,
                    function: true,
                    section: 0,
                }],
            }
        }

        /// A task plus `.rodata` right after `.text` holding an 8-byte `HUBRIS_IMAGE_ID`.
        pub fn kernel(text_addr: u32, text: &[u8]) -> Elf {
            let mut elf = Elf::task(text_addr, text);
            let rodata = text_addr + text.len().next_multiple_of(4) as u32;
            elf.sections.insert(
                1,
                Section {
                    name: ".rodata",
                    addr: rodata,
                    load: Some(rodata),
                    flags: SHF_ALLOC,
                    data: vec![0xAA; 8],
                },
            );
            elf.symbols.push(Symbol {
                name: IMAGE_ID_SYMBOL,
                value: rodata,
                size: 8,
                function: false,
                section: 1,
            });
            elf
        }

        pub fn build(&self) -> Vec<u8> {
            let mut strtab = vec![0u8];
            let mut symtab = vec![0u8; 16];
            for sym in &self.symbols {
                let name = strtab.len() as u32;
                strtab.extend_from_slice(sym.name.as_bytes());
                strtab.push(0);
                let kind = if sym.function { STT_FUNC } else { STT_OBJECT };
                symtab.extend_from_slice(&name.to_le_bytes());
                symtab.extend_from_slice(&sym.value.to_le_bytes());
                symtab.extend_from_slice(&sym.size.to_le_bytes());
                symtab.push((STB_GLOBAL << 4) | kind);
                symtab.push(0);
                symtab.extend_from_slice(&(sym.section as u16 + 1).to_le_bytes());
            }
            let count = self.sections.len() as u32;
            let mut sections: Vec<ElfSection<'_>> = self
                .sections
                .iter()
                .map(|s| ElfSection {
                    name: s.name,
                    sh_type: SHT_PROGBITS,
                    flags: s.flags,
                    addr: s.addr,
                    data: &s.data,
                    ..ElfSection::default()
                })
                .collect();
            sections.push(ElfSection {
                name: ".symtab",
                sh_type: SHT_SYMTAB,
                data: &symtab,
                link: count + 2,
                info: 1,
                entsize: 16,
                ..ElfSection::default()
            });
            sections.push(ElfSection {
                name: ".strtab",
                sh_type: SHT_STRTAB,
                data: &strtab,
                ..ElfSection::default()
            });
            let segments: Vec<ElfSegment> = self
                .sections
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    s.load.map(|paddr| ElfSegment {
                        vaddr: s.addr,
                        paddr,
                        flags: PF_R,
                        sections: i..i + 1,
                    })
                })
                .collect();
            write_elf32(
                &ElfHeader {
                    e_type: ET_EXEC,
                    machine: self.machine,
                    entry: self.entry,
                },
                &sections,
                &segments,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{Elf, Section};
    use super::*;
    use object::elf::{SHF_ALLOC, SHF_WRITE};

    const FLASH: MemoryRange = MemoryRange {
        start: 0x0800_0000,
        size: 0x10_0000,
    };

    fn named<'a>(name: &'a str, bytes: &'a [u8]) -> NamedElf<'a> {
        NamedElf { name, bytes }
    }

    #[test]
    fn fixture_parses_with_object() {
        let bytes = Elf::kernel(0x0800_0000, &[1, 2, 3, 4]).build();
        let file = ElfFile32::<LE>::parse(&bytes[..]).unwrap();
        let text = file.section_by_name(".text").unwrap();
        assert_eq!(
            (text.address(), text.data().unwrap()),
            (0x0800_0000, &[1u8, 2, 3, 4][..])
        );
        assert!(file.section_by_name(".debug_frame").is_some());
        let id = file
            .symbols()
            .find(|s| s.name() == Ok(IMAGE_ID_SYMBOL))
            .unwrap();
        assert_eq!((id.address(), id.size()), (0x0800_0004, 8));
    }

    #[test]
    fn image_places_segments_at_load_addresses_and_fills_gaps() {
        let kernel = Elf::kernel(0x0800_0000, &[0x11; 8]).build();
        let mut task = Elf::task(0x0800_0400, &[0x22; 4]);
        // .data runs in RAM but is loaded from flash right after .text.
        task.sections.push(Section {
            name: ".data",
            addr: 0x2400_0000,
            load: Some(0x0800_0404),
            flags: SHF_ALLOC | SHF_WRITE,
            data: vec![0x33; 4],
        });
        let task = task.build();
        let image = build_image(
            FLASH,
            named("kernel", &kernel),
            &[named("task \"a\"", &task)],
        )
        .unwrap();
        assert_eq!(image.base, 0x0800_0000);
        assert_eq!(image.entry, 0x0800_0001);
        assert_eq!(image.bin.len(), 0x408);
        assert_eq!(&image.bin[..8], &[0x11; 8]);
        assert_eq!(&image.bin[8..16], &[0xAA; 8]);
        assert_eq!(image.bin[16], 0xFF);
        assert_eq!(&image.bin[0x400..0x404], &[0x22; 4]);
        assert_eq!(&image.bin[0x404..0x408], &[0x33; 4]);
    }

    #[test]
    fn overlapping_segments_name_both_elfs() {
        let kernel = Elf::kernel(0x0800_0000, &[0; 32]).build();
        let task = Elf::task(0x0800_0010, &[0; 4]).build();
        let e = build_image(
            FLASH,
            named("kernel", &kernel),
            &[named("task \"a\"", &task)],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel loads 0x08000000..0x08000020, which overlaps task \"a\"'s 0x08000010..0x08000014"
        );
    }

    #[test]
    fn segments_outside_flash_and_non_arm_files_are_refused() {
        let kernel = Elf::kernel(0x0800_0000, &[0; 4]).build();
        let task = Elf::task(0x2400_0000, &[0; 4]).build();
        let e = build_image(
            FLASH,
            named("kernel", &kernel),
            &[named("task \"a\"", &task)],
        )
        .unwrap_err();
        assert!(
            matches!(&e, ImageError::OutsideFlash { elf, address: 0x2400_0000, .. } if elf == "task \"a\""),
            "{e}"
        );
        let mut x86 = Elf::task(0x0800_0000, &[0; 4]);
        x86.machine = 3;
        let e = build_image(FLASH, named("kernel", &x86.build()), &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel: e_machine is 3, expected EM_ARM (40)"
        );
        let e = build_image(FLASH, named("kernel", b"not an elf"), &[]).unwrap_err();
        assert!(matches!(e, ImageError::Malformed { .. }), "{e}");
    }

    #[test]
    fn final_elf_has_the_contract_shape_and_round_trips() {
        let image = Image {
            base: 0x0800_0000,
            bin: (0..=255).collect(),
            entry: 0x0800_0101,
        };
        let elf = final_elf(&image);
        let file = ElfFile32::<LE>::parse(&elf[..]).unwrap();
        assert_eq!(file.elf_header().e_machine(LE), EM_ARM);
        assert_eq!(file.entry(), 0x0800_0101);
        let segments: Vec<_> = file.elf_program_headers().iter().collect();
        assert_eq!(segments.len(), 1);
        let load = segments[0];
        assert_eq!(load.p_type(LE), PT_LOAD);
        assert_eq!(
            (load.p_vaddr(LE), load.p_paddr(LE)),
            (0x0800_0000, 0x0800_0000)
        );
        assert_eq!(
            (load.p_filesz(LE), load.p_memsz(LE), load.p_flags(LE)),
            (256, 256, PF_R)
        );
        let sec1 = file.section_by_name(".sec1").unwrap();
        assert_eq!(sec1.address(), 0x0800_0000);
        assert_eq!(
            sec1.elf_section_header().sh_flags(LE),
            SHF_WRITE | SHF_ALLOC
        );
        assert_eq!(sec1.elf_section_header().sh_type(LE), SHT_PROGBITS);
        // The section's file bytes are exactly the segment's.
        assert_eq!(sec1.file_range(), Some((u64::from(load.p_offset(LE)), 256)));
        assert!(file.section_by_name(".shstrtab").is_some());
        // A byte at a known address comes back.
        assert_eq!(sec1.data().unwrap()[0x42], 0x42);
        let loaded = load.data(LE, &elf[..]).unwrap();
        assert_eq!(loaded, &image.bin[..]);
    }

    #[test]
    fn image_id_is_fnv1a_and_sees_every_byte() {
        // FNV-1a 64 reference values.
        assert_eq!(image_id(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(image_id(b"a"), 0xAF63_DC4C_8601_EC8C);
        let mut image = vec![1u8; 64];
        let id = image_id(&image);
        image[40] = 2;
        assert_ne!(image_id(&image), id);
    }

    #[test]
    fn stamping_makes_kernel_and_image_agree() {
        let mut kernel = Elf::kernel(0x0800_0000, &[0x11; 8]).build();
        let task = Elf::task(0x0800_0100, &[0x22; 4]).build();
        let mut image = build_image(FLASH, named("kernel", &kernel), &[named("t", &task)]).unwrap();
        // The placeholder is not zero, yet the id is that of the image with it zeroed.
        assert_eq!(&image.bin[8..16], &[0xAA; 8]);
        let mut zeroed = image.bin.clone();
        zeroed[8..16].fill(0);
        let id = stamp_image_id(&mut kernel, &mut image).unwrap();
        assert_eq!(id, image_id(&zeroed));
        assert_eq!(&image.bin[8..16], &id.to_le_bytes());
        let found = symbol_bytes(&kernel, IMAGE_ID_SYMBOL).unwrap();
        assert_eq!(
            &kernel[found.file_offset..found.file_offset + 8],
            &id.to_le_bytes()
        );
        // Rebuilding from the patched kernel gives the stamped image.
        let rebuilt = build_image(FLASH, named("kernel", &kernel), &[named("t", &task)]).unwrap();
        assert_eq!(rebuilt, image);
    }

    #[test]
    fn patch_symbol_checks_name_and_size() {
        let mut kernel = Elf::kernel(0x0800_0000, &[0; 4]).build();
        assert_eq!(
            patch_symbol(&mut kernel, "NOPE", &[0; 8])
                .unwrap_err()
                .to_string(),
            "no symbol `NOPE`"
        );
        assert_eq!(
            patch_symbol(&mut kernel, IMAGE_ID_SYMBOL, &[0; 4]).unwrap_err(),
            ImageError::SymbolSize {
                symbol: IMAGE_ID_SYMBOL.into(),
                size: 8,
                expected: 4
            }
        );
        patch_symbol(&mut kernel, IMAGE_ID_SYMBOL, &[7; 8]).unwrap();
        let file = ElfFile32::<LE>::parse(&kernel[..]).unwrap();
        assert_eq!(
            file.section_by_name(".rodata").unwrap().data().unwrap(),
            &[7; 8]
        );
    }
}
