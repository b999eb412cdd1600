//! Task entry. The kernel starts (and restarts) a task at `_start` with the stack pointer at
//! the top of its stack; `.data` and `.bss` are initialised here, every time, so a restarted
//! task begins exactly as it did at boot.

core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    ".type _start, %function",
    ".thumb_func",
    "_start:",
    "    ldr r0, =__sdata",
    "    ldr r1, =__edata",
    "    ldr r2, =__sidata",
    "1:  cmp r0, r1",
    "    bhs 2f",
    "    ldr r3, [r2], #4",
    "    str r3, [r0], #4",
    "    b 1b",
    "2:  ldr r0, =__sbss",
    "    ldr r1, =__ebss",
    "    movs r3, #0",
    "3:  cmp r0, r1",
    "    bhs 4f",
    "    str r3, [r0], #4",
    "    b 3b",
    "4:  bl main",
    "    udf #0",
    ".size _start, . - _start",
);
