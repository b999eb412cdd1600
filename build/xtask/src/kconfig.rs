//! The kernel's view of an app, generated as Rust and compiled into the app's kernel crate:
//! region, task and interrupt descriptor tables in flash (`HUBRIS_REGION_DESCS`,
//! `HUBRIS_TASK_DESCS`, read by humility too), the task table in RAM
//! (`HUBRIS_TASK_TABLE_SPACE`) and the `KernelConfig`.
//!
//! Region slots per task: 0 flash (read, execute), 1 RAM (read, write), then one per
//! peripheral in `uses` (device). Unused slots point at region 0 and are disabled in the MPU.

use std::fmt::Write;

use abi::{REGIONS_PER_TASK, RegionAttributes};

use crate::alloc::{MpuRegion, TaskLayout, mpu_words};
use crate::config::{App, SupervisorFault};

/// MPU_RBAR: the region number field is honoured only with VALID set.
const RBAR_VALID: u32 = 1 << 4;

/// Where a task was linked and where it starts.
pub struct PlacedTask {
    pub layout: TaskLayout,
    pub entry_point: u32,
}

struct Region {
    region: MpuRegion,
    attributes: u32,
}

fn task_regions(app: &App, index: usize, placed: &PlacedTask) -> Result<Vec<Region>, String> {
    let task = &app.tasks[index];
    // RAM first: the kernel checks IPC buffers against the regions in this order, and
    // nearly all of them are on a task's stack. The regions never overlap, so the order
    // means nothing to the MPU.
    let mut regions = vec![
        Region {
            region: placed.layout.ram,
            attributes: RegionAttributes::READ | RegionAttributes::WRITE,
        },
        Region {
            region: placed.layout.flash,
            attributes: RegionAttributes::READ | RegionAttributes::EXECUTE,
        },
    ];
    for p in task.peripherals.values() {
        regions.push(Region {
            region: p.region,
            attributes: RegionAttributes::READ | RegionAttributes::WRITE | RegionAttributes::DEVICE,
        });
    }
    if regions.len() > REGIONS_PER_TASK {
        return Err(format!(
            "{}: task \"{}\": uses: {} peripherals need {} MPU regions, but a task has {} (flash and RAM take 2)",
            app.file.display(),
            task.name,
            task.peripherals.len(),
            regions.len(),
            REGIONS_PER_TASK
        ));
    }
    Ok(regions)
}

/// Generates the kernel configuration source for `app` with tasks placed as given.
pub fn generate(app: &App, placed: &[PlacedTask], cpu_hz: u32) -> Result<String, String> {
    let n = app.tasks.len();
    let mut region_table =
        vec!["RegionDesc { base: 0x0, size: 0x0, attributes: RegionAttributes(0x0) }".to_string()];
    let mut tasks = String::new();
    let priorities: Vec<u8> = app.tasks.iter().map(|t| t.priority).collect();
    for (i, (task, placed)) in app.tasks.iter().zip(placed).enumerate() {
        let regions = task_regions(app, i, placed)?;
        let mut refs = Vec::new();
        let mut words = Vec::new();
        for slot in 0..REGIONS_PER_TASK {
            match regions.get(slot) {
                Some(r) => {
                    refs.push(format!("&HUBRIS_REGION_DESCS[{}]", region_table.len()));
                    region_table.push(format!(
                        "RegionDesc {{ base: {:#010x}, size: {:#x}, attributes: RegionAttributes({:#x}) }}",
                        r.region.base(), r.region.size(), r.attributes
                    ));
                    let (rbar, rasr) = mpu_words(r.region, RegionAttributes(r.attributes));
                    words.push(rbar | RBAR_VALID | slot as u32);
                    words.push(rasr);
                }
                None => {
                    refs.push("&HUBRIS_REGION_DESCS[0]".to_string());
                    words.push(RBAR_VALID | slot as u32);
                    words.push(0);
                }
            }
        }
        let words: Vec<String> = words.iter().map(|w| format!("{w:#010x}")).collect();
        writeln!(
            tasks,
            "    // {name}\n    TaskDesc {{\n        regions: [{refs}],\n        mpu_words: [{words}],\n        \
             entry_point: {entry:#010x},\n        initial_stack: {stack:#010x},\n        priority: {prio},\n        \
             sched_next: {next},\n        index: {i},\n        flags: TaskFlags({flags:#x}),\n        send_targets: {targets:#x},\n        \
             notify_targets: {notify:#x},\n        kipc_grants: {grants:#x},\n        client_gone: {gone:#x},\n        \
             client_gone_targets: {gone_targets:#x},\n        reply_deadline: {deadline},\n    }},",
            name = task.name,
            refs = refs.join(", "),
            words = words.join(", "),
            entry = placed.entry_point,
            stack = placed.layout.initial_stack(),
            prio = task.priority,
            next = abi::sched_next(&priorities, i),
            flags = task.flags.0,
            targets = task.send_targets,
            notify = task.notify_targets,
            grants = task.kipc_grants,
            gone = task.client_gone,
            gone_targets = task.client_gone_targets,
            // One tick is 1 ms.
            deadline = task.reply_deadline_ms,
        )
        .expect("writing to a String");
    }
    let irqs: Vec<String> = app
        .irqs
        .iter()
        .map(|d| {
            format!(
                "    IrqDesc {{ irq: {}, task: {}, notification: {:#x} }},",
                d.irq, d.task, d.notification
            )
        })
        .collect();
    let policy = |p| match p {
        SupervisorFault::Reset => "Reset",
        SupervisorFault::Halt => "Halt",
    };
    Ok(format!(
        "// Generated by `cargo xtask dist` for app `{app_name}` from {file}. Do not edit.\n\
         use abi::{{IrqDesc, RegionAttributes, RegionDesc, TaskDesc, TaskFlags}};\n\n\
         #[unsafe(no_mangle)]\n\
         pub static HUBRIS_REGION_DESCS: [RegionDesc; {nregions}] = [\n    {regions},\n];\n\n\
         #[unsafe(no_mangle)]\n\
         pub static HUBRIS_TASK_DESCS: [TaskDesc; {n}] = [\n{tasks}];\n\n\
         pub static HUBRIS_IRQ_DESCS: [IrqDesc; {nirqs}] = [\n{irqs}];\n\n\
         /// Interrupt lines the vector table holds: through the highest one routed.\n\
         pub const KERNEL_IRQ_LINES: usize = {irq_lines};\n\n\
         #[unsafe(no_mangle)]\n\
         pub static mut HUBRIS_TASK_TABLE_SPACE: [core::mem::MaybeUninit<kern::task::Task>; {n}] =\n    \
         [const {{ core::mem::MaybeUninit::uninit() }}; {n}];\n\n\
         pub static KERNEL_CONFIG: kern::startup::KernelConfig = kern::startup::KernelConfig {{\n    \
         irqs: &HUBRIS_IRQ_DESCS,\n    \
         supervisor_fault: kern::lifecycle::SupervisorFaultPolicy::{supervisor_fault},\n    \
         kernel_failure: kern::lifecycle::SupervisorFaultPolicy::{kernel_failure},\n    \
         image_id: 0,\n    \
         cpu_hz: {cpu_hz},\n}};\n{plan}",
        plan = app
            .kernel
            .fault_inject
            .as_ref()
            .map_or(String::new(), |p| format!("\n{}", p.kernel_source())),
        app_name = app.name,
        supervisor_fault = policy(app.kernel.on_supervisor_fault),
        kernel_failure = policy(app.kernel.on_kernel_failure),
        file = app.file.display(),
        nregions = region_table.len(),
        regions = region_table.join(",\n    "),
        nirqs = irqs.len(),
        irq_lines = app
            .irqs
            .iter()
            .map(|d| d.irq as usize + 1)
            .max()
            .unwrap_or(0),
        irqs = if irqs.is_empty() {
            String::new()
        } else {
            irqs.join("\n") + "\n"
        },
    ))
}

/// The tables generated for the test app (`app_config::app_tests::BASE`, tasks at their
/// measuring slots), fixed byte for byte: a change to the kernel's tables shows up in review
/// as a diff of `build/xtask/snapshots/kconfig_base.rs`. Run with `BULKHEAD_BLESS=1` to
/// rewrite it after an intended change, then review the diff.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::app_tests::{BASE, load};

    #[test]
    fn base_app_tables_match_snapshot() {
        let app = load(BASE).unwrap();
        let (flash, ram) = (app.board.chip.memory("flash"), app.board.chip.memory("ram"));
        let stacks: Vec<u32> = app.tasks.iter().map(|t| t.stack_size).collect();
        let measuring =
            crate::alloc::measuring_layout(flash.unwrap(), ram.unwrap(), &stacks).unwrap();
        let placed: Vec<PlacedTask> = measuring
            .into_iter()
            .map(|layout| PlacedTask {
                layout,
                entry_point: layout.flash.base() | 1,
            })
            .collect();
        let actual = generate(&app, &placed, app.board.cpu_hz).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/kconfig_base.rs");
        if std::env::var_os("BULKHEAD_BLESS").is_some() {
            std::fs::write(&path, &actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (set BULKHEAD_BLESS=1 to create it)",
                path.display()
            )
        });
        assert!(
            expected == actual,
            "{} differs from the generated tables; set BULKHEAD_BLESS=1 to update it:\n{actual}",
            path.display()
        );
    }
}
