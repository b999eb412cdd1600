//! A failed boot, replayed for a humility dump of its failure (issue 16 point 4).
//!
//! Under `-icount shift=0,sleep=off` a boot is a function of its image: the same seed
//! injects the same faults at the same instructions. So the runner does not slow every boot
//! down with a debugger; it boots a failed one again with `hold_on_failure` patched in and
//! QEMU's GDB stub open. The kernel then stops right after its `FX` line (`FD`), every task
//! as the failure found it, and the runner halts the core and writes the dump beside the
//! boot's log. A failure only the runner sees (a corruption the workload printed, a
//! privileged call the rogue saw obeyed) has no `FX`: the kernel holds at the boot's end.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::gdb::Gdb;
use crate::{Error, dump, qemu};

/// How often the replay's kernel log is looked at for `FD`.
const POLL: Duration = Duration::from_millis(50);

/// A replay's dump.
pub struct Dump {
    pub path: PathBuf,
    /// Taken at the boot's end (`FE`), not at a kernel-reported failure (`FX`): the failure
    /// was one only the runner sees.
    pub at_end: bool,
}

/// Replays boot `index` (`elf`: its image, seed and faults already patched; `run_at`: where
/// `BULKHEAD_CAMPAIGN_RUN` is in it) and writes `boot-<index>.dump` in `out_dir`.
/// `kernel_saw_it`: the failure was reported by the kernel (`FX`), so the replay must hold
/// there, not at the boot's end.
#[allow(clippy::too_many_arguments)]
pub fn dump_failure(
    machine: &str,
    elf: &[u8],
    run_at: usize,
    out_dir: &Path,
    index: u32,
    archive: &[u8],
    limit: Duration,
    kernel_saw_it: bool,
) -> Result<Dump, Error> {
    let mut elf = elf.to_vec();
    elf[run_at + 8..run_at + 12].copy_from_slice(&1u32.to_le_bytes());
    let elf_path = out_dir.join(format!("boot-{index}-replay.elf"));
    let log = out_dir.join(format!("boot-{index}-replay.log"));
    std::fs::write(&elf_path, &elf).map_err(|e| Error::io(&elf_path, e))?;
    let _ = std::fs::remove_file(&log);
    let port = qemu::free_port()?;
    // The boot's own arguments, so the replay runs the same machine.
    let rogue_log = out_dir.join(format!("boot-{index}-replay.rogue"));
    let mut extra = super::boot_args(&log, &rogue_log);
    extra.extend(["-gdb".to_string(), format!("tcp:127.0.0.1:{port}")]);
    let (session, _console) = qemu::start(machine, &elf_path, &extra)?;
    let deadline = Instant::now() + limit;
    let at_end = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.lines().any(|l| l == "FD") {
            break text.lines().any(|l| l.starts_with("FE "));
        }
        if Instant::now() >= deadline {
            return Err(Error::new(format!(
                "the replay did not reach its failure within {} s: {}",
                limit.as_secs(),
                log.display()
            )));
        }
        std::thread::sleep(POLL);
    };
    if at_end && kernel_saw_it {
        return Err(Error::new(format!(
            "the replay ended without its failure (not deterministic?): {}",
            log.display()
        )));
    }
    let mut gdb = Gdb::connect(&format!("127.0.0.1:{port}"), Duration::from_secs(10))
        .map_err(|e| Error::new(format!("replay's GDB stub: {e}")))?;
    let taken = dump::take(&mut gdb, archive, true)?;
    drop(session);
    let path = out_dir.join(format!("boot-{index}.dump"));
    std::fs::write(&path, &taken.core).map_err(|e| Error::io(&path, e))?;
    let _ = std::fs::remove_file(&elf_path);
    Ok(Dump { path, at_end })
}
