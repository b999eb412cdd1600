//! Host stand-in for the architecture layer: a simulated 32-bit address space made of
//! mapped ranges, a settable clock and a model NVIC, all per thread so tests run in
//! parallel. A kernel access to unmapped memory panics the test: the core must never make
//! one, because it checks every slice against the task's regions first.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use crate::config::KernelConfig;

#[derive(Default)]
struct Machine {
    memory: Vec<(u32, Vec<u8>)>,
    enabled: BTreeSet<u32>,
    pending: BTreeSet<u32>,
    epitaph: Vec<u8>,
}

thread_local! {
    static MACHINE: RefCell<Machine> = RefCell::new(Machine::default());
    static NOW: Cell<u64> = const { Cell::new(0) };
    static CONFIG: Cell<Option<&'static KernelConfig>> = const { Cell::new(None) };
}

/// Maps `size` zeroed bytes at `base` in this thread's simulated address space.
pub fn map_memory(base: u32, size: u32) {
    MACHINE.with_borrow_mut(|m| m.memory.push((base, vec![0; size as usize])));
}

fn with_bytes<R>(addr: u32, len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    MACHINE.with_borrow_mut(|m| {
        let (base, mem) = m
            .memory
            .iter_mut()
            .find(|(b, v)| addr >= *b && (addr - *b) as usize + len <= v.len())
            .unwrap_or_else(|| panic!("kernel touched unmapped memory {addr:#x}+{len}"));
        let off = (addr - *base) as usize;
        f(&mut mem[off..off + len])
    })
}

/// Test access to simulated memory (not checked against any task).
pub fn peek(addr: u32, len: usize) -> Vec<u8> {
    with_bytes(addr, len, |b| b.to_vec())
}

pub fn poke(addr: u32, bytes: &[u8]) {
    with_bytes(addr, bytes.len(), |b| b.copy_from_slice(bytes));
}

/// # Safety
/// Trivially safe on the host; `unsafe` to match the ARM signature.
pub unsafe fn copy_user(dst: u32, src: u32, len: usize) {
    let data = peek(src, len);
    poke(dst, &data);
}

/// # Safety
/// Trivially safe on the host; `unsafe` to match the ARM signature.
pub unsafe fn copy_from_kernel(dst: u32, bytes: &[u8]) {
    poke(dst, bytes);
}

/// # Safety
/// Trivially safe on the host; `unsafe` to match the ARM signature.
pub unsafe fn write_frame(dst: u32, frame: &[u32; crate::arch::FRAME_WORDS]) {
    poke(dst, zerocopy::IntoBytes::as_bytes(frame));
}

/// # Safety
/// Trivially safe on the host; `unsafe` to match the ARM signature.
pub unsafe fn copy_to_kernel(out: &mut [u8], src: u32) {
    let len = out.len();
    out.copy_from_slice(&peek(src, len));
}

/// Ticks since boot, as the test set them.
pub fn now() -> u64 {
    NOW.get()
}

/// The host model keeps no per-task time (only benchmark images on the target do).
pub fn task_time(_index: usize) -> Option<u64> {
    None
}

pub fn set_now(ticks: u64) {
    NOW.set(ticks);
}

pub fn set_config(config: &'static KernelConfig) {
    CONFIG.set(Some(config));
}

pub fn try_config() -> Option<&'static KernelConfig> {
    CONFIG.get()
}

pub fn image_id() -> u64 {
    try_config()
        .expect("host test did not call arch::set_config")
        .image_id
}

pub fn irq_enable(irq: u32) {
    MACHINE.with_borrow_mut(|m| m.enabled.insert(irq));
}

pub fn irq_disable(irq: u32) {
    MACHINE.with_borrow_mut(|m| m.enabled.remove(&irq));
}

pub fn irq_clear_pending(irq: u32) {
    MACHINE.with_borrow_mut(|m| m.pending.remove(&irq));
}

pub fn irq_pend(irq: u32) {
    MACHINE.with_borrow_mut(|m| m.pending.insert(irq));
}

pub fn irq_is_enabled(irq: u32) -> bool {
    MACHINE.with_borrow(|m| m.enabled.contains(&irq))
}

pub fn irq_is_pending(irq: u32) -> bool {
    MACHINE.with_borrow(|m| m.pending.contains(&irq))
}

/// As on hardware: the bytes of the epitaph the kernel's messages must fit.
pub const EPITAPH_LEN: usize = 64;

pub fn record_epitaph(message: &[u8]) {
    MACHINE.with_borrow_mut(|m| m.epitaph = message.to_vec());
}

fn epitaph() -> String {
    MACHINE.with_borrow(|m| String::from_utf8_lossy(&m.epitaph).into_owned())
}

pub fn halt_forever() -> ! {
    panic!("kernel halted: {}", epitaph())
}

/// The panic names the reason and the epitaph, if one was written.
pub fn system_reset(reason: abi::ResetReason) -> ! {
    let epitaph = epitaph();
    if epitaph.is_empty() {
        panic!("system reset ({reason:?})")
    } else {
        panic!("system reset ({reason:?}): {epitaph}")
    }
}

/// A simulated system always starts from power-on.
pub fn reset_reason() -> abi::ResetReason {
    abi::ResetReason::PowerOn
}

#[cfg(feature = "fault-inject")]
thread_local! {
    static CAMPAIGN_LINES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The campaign's report channel in host builds with feature `fault-inject`: kept for
/// `campaign_lines`.
#[cfg(feature = "fault-inject")]
pub fn campaign_write(line: &[u8]) {
    let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
    CAMPAIGN_LINES.with_borrow_mut(|lines| lines.push(text));
}

/// The lines the campaign has written on this thread.
#[cfg(feature = "fault-inject")]
pub fn campaign_lines() -> Vec<String> {
    CAMPAIGN_LINES.with_borrow(|lines| lines.clone())
}

/// Ends a host campaign with a panic that carries its last line, for `should_panic` tests.
#[cfg(feature = "fault-inject")]
pub fn campaign_exit() -> ! {
    let lines = CAMPAIGN_LINES.with_borrow(|lines| lines.join(" | "));
    panic!("campaign ended: {lines}")
}
