//! Task entry. The kernel starts (and restarts) a task at `_start` with the stack pointer at
//! the top of its stack; `.data` and `.bss` are initialised here, every time, so a restarted
//! task begins exactly as it did at boot.
//!
//! First, before anything touches the stack, `_start` paints the stack below its stack
//! pointer with `0xbaddcafe`, the word `humility stackmargin` takes for "never used": it
//! reads the stack up from its base and counts the words still holding the pattern. The
//! paint runs here rather than in the kernel's restart path so that it costs the kernel
//! nothing: it runs at the task's own priority, preemptible, and not while interrupts wait
//! on the kernel. Every start runs it, so the margin humility shows is that of the current
//! incarnation. The linker script sets `__stack_fill_start` to the stack's base, or to its
//! top for a task with `stack-fill = false` in `app.toml` (an empty range).

core::arch::global_asm!(
    ".section .text.start, \"ax\"",
    ".global _start",
    ".type _start, %function",
    ".thumb_func",
    "_start:",
    "    ldr r0, =__stack_fill_start",
    "    mov r1, sp",
    "    ldr r4, =0xbaddcafe",
    "    bl 7f",
    // Sixteen bytes per step while that many remain, then words: a restart runs this every
    // time, and a word loop spends four instructions per word.
    "    ldr r0, =__sdata",
    "    ldr r1, =__edata",
    "    ldr r2, =__sidata",
    "1:  subs r3, r1, r0",
    "    cmp r3, #16",
    "    blo 2f",
    "    ldmia r2!, {{r3-r6}}",
    "    stmia r0!, {{r3-r6}}",
    "    b 1b",
    "2:  cmp r0, r1",
    "    bhs 3f",
    "    ldr r3, [r2], #4",
    "    str r3, [r0], #4",
    "    b 2b",
    "3:  ldr r0, =__sbss",
    "    ldr r1, =__ebss",
    "    movs r4, #0",
    "    bl 7f",
    "    bl main",
    "    udf #0",
    // Fills the words [r0, r1) with r4, using no stack: 128 bytes per step while that many
    // remain, then 32, then words. Clobbers r0, r2 and r5-r11. A restart paints the whole
    // stack: at 32 bytes per step the loop's own compare and branches were half of it.
    // Global only so that a QEMU test (kernel-tests' `start_fill_covers_exactly_its_range`)
    // can call it on buffers of every length.
    ".global __bulkhead_fill_words",
    ".type __bulkhead_fill_words, %function",
    ".thumb_func",
    "__bulkhead_fill_words:",
    "7:  mov r5, r4",
    "    mov r6, r4",
    "    mov r7, r4",
    "    mov r8, r4",
    "    mov r9, r4",
    "    mov r10, r4",
    "    mov r11, r4",
    "    sub r2, r1, #128",
    "6:  cmp r0, r2",
    "    bhi 8f",
    "    stmia r0!, {{r4-r11}}",
    "    stmia r0!, {{r4-r11}}",
    "    stmia r0!, {{r4-r11}}",
    "    stmia r0!, {{r4-r11}}",
    "    b 6b",
    "8:  add r2, r2, #96",
    "4:  cmp r0, r2",
    "    bhi 9f",
    "    stmia r0!, {{r4-r11}}",
    "    b 4b",
    "9:  cmp r0, r1",
    "    bhs 5f",
    "    str r4, [r0], #4",
    "    b 9b",
    "5:  bx lr",
    ".size __bulkhead_fill_words, . - __bulkhead_fill_words",
    ".size _start, . - _start",
    // A loop that nothing calls, kept because it shares `_start`'s section: a debugger sends
    // a task here to make it hang as a driver stuck in a loop does, which only the
    // supervisor's watchdog can end (`cargo xtask restart-test --trigger hang`).
    ".global __bulkhead_stuck",
    ".type __bulkhead_stuck, %function",
    ".thumb_func",
    "__bulkhead_stuck:",
    "    b __bulkhead_stuck",
    ".size __bulkhead_stuck, . - __bulkhead_stuck",
);
