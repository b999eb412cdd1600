//! Linker scripts for tasks and kernels.
//!
//! Every task is linked at its own regions with the stack first in RAM, so an overflow runs
//! off the bottom of the region into memory the MPU denies, and faults. Everything a task or
//! the kernel executes lands in `.text` (humility disassembles sized functions from `.text`
//! only, contract 1.7). Script files are named by a hash of their contents: cargo does not
//! track linker-script contents, so a changed layout must change the path it is given.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::alloc::{TaskLayout, memory_x};

const TASK_SECTIONS: &str = r#"
ENTRY(_start)

SECTIONS
{
    .text : ALIGN(4)
    {
        *(.text.start)
        *(.text .text.*)
        . = ALIGN(4);
    } > FLASH

    .rodata : ALIGN(4)
    {
        *(.rodata .rodata.*)
        . = ALIGN(4);
    } > FLASH

    .stack (NOLOAD) :
    {
        __stack_fill_start = . + _stack_unfilled;
        . += _stack_size;
    } > RAM

    .data : ALIGN(4)
    {
        __sdata = .;
        *(.data .data.*)
        . = ALIGN(4);
        __edata = .;
    } > RAM AT > FLASH
    __sidata = LOADADDR(.data);

    .bss (NOLOAD) : ALIGN(4)
    {
        __sbss = .;
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(4);
        __ebss = .;
    } > RAM

    .uninit (NOLOAD) : ALIGN(4)
    {
        *(.uninit .uninit.*)
    } > RAM

    /DISCARD/ :
    {
        *(.ARM.exidx .ARM.exidx.* .ARM.extab.*)
    }
}
"#;

/// `stack_fill`: whether `_start` paints the stack (userlib `start.rs`); it paints from
/// `__stack_fill_start` up, so a task that opts out gets an empty range.
pub fn task_script(layout: &TaskLayout, stack_fill: bool) -> String {
    let unfilled = if stack_fill { "0" } else { "_stack_size" };
    format!(
        "{}_stack_unfilled = {unfilled};\n{TASK_SECTIONS}",
        memory_x(layout)
    )
}

/// The kernel: vector table at the start of flash, main stack at the bottom of its RAM.
pub fn kernel_script(flash: (u32, u32), ram: (u32, u32), stack_size: u32) -> String {
    format!(
        r#"MEMORY
{{
    FLASH (rx) : ORIGIN = {:#010x}, LENGTH = {:#010x}
    RAM (rwx) : ORIGIN = {:#010x}, LENGTH = {:#010x}
}}
ENTRY(Reset)
_stack_base = ORIGIN(RAM);
_stack_start = ORIGIN(RAM) + {stack_size:#x};

SECTIONS
{{
    .vector_table ORIGIN(FLASH) :
    {{
        KEEP(*(.vector_table))
    }} > FLASH

    .text : ALIGN(4)
    {{
        *(.text .text.*)
        . = ALIGN(4);
    }} > FLASH

    .rodata : ALIGN(4)
    {{
        *(.rodata .rodata.*)
        . = ALIGN(4);
    }} > FLASH

    .stack (NOLOAD) :
    {{
        . += {stack_size:#x};
    }} > RAM

    .data : ALIGN(4)
    {{
        __sdata = .;
        *(.data .data.*)
        . = ALIGN(4);
        __edata = .;
    }} > RAM AT > FLASH
    __sidata = LOADADDR(.data);

    .bss (NOLOAD) : ALIGN(4)
    {{
        __sbss = .;
        *(.bss .bss.*)
        *(COMMON)
        . = ALIGN(4);
        __ebss = .;
    }} > RAM

    /* Neither loaded nor zeroed: what must survive a reset (the reset record). */
    .uninit (NOLOAD) : ALIGN(8)
    {{
        *(.uninit .uninit.*)
    }} > RAM
    __eheap = .;

    /DISCARD/ :
    {{
        *(.ARM.exidx .ARM.exidx.* .ARM.extab.*)
    }}
}}
"#,
        flash.0, flash.1, ram.0, ram.1
    )
}

/// Writes `text` under `dir` with a content-hashed name and returns the path.
pub fn write_hashed(dir: &Path, stem: &str, ext: &str, text: &str) -> std::io::Result<PathBuf> {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{stem}-{:016x}.{ext}", h.finish()));
    if !path.exists() {
        std::fs::write(&path, text)?;
    }
    Ok(path)
}
