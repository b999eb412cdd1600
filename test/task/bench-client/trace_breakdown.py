#!/usr/bin/env python3
"""Where a benchmark image's guest instructions go, per benchmark and per kernel phase.

Runs a built benchmark image (`cargo xtask dist IMAGE` first) under QEMU with one instruction
per translation block (`-singlestep -d exec,nochain`, `-icount shift=0` as `cargo xtask
bench` does), so that every executed instruction is one log line, and counts them by
symbol. The log is cut into segments at each entry of the reporting task's `report`
function: segment k holds everything run between the (k-1)-th and the k-th `BENCH` line,
so it is charged to the k-th key. Counts are divided by `--rounds`.

Kernel instructions are classed by the innermost inlined function they belong to (DWARF,
through `llvm-symbolizer`), within the kernel entry they ran under:

  entry       the exception shim's register save, up to the Rust handler, and dispatch
  args        checks of what the caller handed over: slices, leases, argument decoding
  lookup      naming the peer: index range, generation, send grant, peer state tests
  copy        moving message, reply and lease bytes
  state       writing the new scheduling states and the syscall results
  sched       choosing the next task
  mpu         loading the next task's MPU regions (`switch_to`)
  exit        the shim's register restore and exception return
  ipc         the syscall bodies themselves (what is left of send, recv, reply...)
  tick        anything run under SysTick, PendSV or an interrupt (not part of the path)

User instructions are charged to the task that ran them (the clock reads and the dither
loop of the reporting task are `bench`, the measurement's own overhead).

With `--window FROM TO` (each `TASK:SYMBOL` or `TASK:0xADDRESS`, `kernel:...` for the
kernel) the trace is instead cut into windows, each opened by reaching FROM and closed by
reaching TO, and the breakdown is the mean over the windows: for paths no benchmark loop
isolates, such as a restart (`--window kernel:UsageFault server:main` on jefe-bench: from
the fault to the restarted task's `main`). `--skip N` leaves out the first N windows (to
reach a later benchmark of the same image), and `--sequence` also lists the windows'
common shape in order: one line per stretch of the kernel (named by the syscall bodies it
ran, with its phases) or of one task.

Usage: trace_breakdown.py IMAGE [--client TASK] [--rounds N] [--detail]
                          [--window FROM TO [--skip N] [--windows N] [--sequence]]
"""

import argparse
import bisect
import os
import re
import subprocess
import sys
import tempfile

PHASES = ["entry", "args", "lookup", "copy", "state", "sched", "mpu", "exit", "ipc", "kernel"]

# Innermost-first: the first frame whose function matches decides.
KERNEL_CLASSES = [
    ("mpu", r"switch_to"),
    ("copy", r"copy_bytes|copy_bulk|copy_tail|copy_prechecked|copy_user|copy_from_kernel|copy_to_kernel|memcpy|lease::copy"),
    ("sched", r"sched::|NextTask"),
    ("args", r"can_access|leases_are_valid|lease_from_bytes|read_from_task|kern::args::|umem::|Sysnum|ReplyFaultReason"),
    # Before lookup, whose `healthy_state` would also match `set_healthy_state`.
    ("state", r"set_state|set_healthy_state|refresh_runnable|set_recv_result|set_send_response|"
              r"set_results|set_borrow|record_fault|set_detached"),
    ("lookup", r"target_index|check_id|check_incarnation|peer_gone_unless|may_send_to|may_post_to|"
               r"most_important_sender|waiting_client|current_id|is_healthy_in|healthy_state|"
               r"TaskId|Generation|borrowed_lease"),
    ("entry", r"syscall_entry|with_tasks|syscalls::dispatch"),
    ("ipc", r"kern::ipc::|kern::lease::|kern::kipc::|kern::detach::|kern::time::"),
]
SHIMS = {"SVCall", "PendSV", "HardFault", "MemManage", "BusFault", "UsageFault"}
BACKGROUND_ENTRIES = {"PendSV", "SysTick", "DefaultIrq"}
BENCH_OVERHEAD = re.compile(r"bench_api::|dither|drv_cmsdk_timer")


def symbolize(elf, addrs):
    """Maps each address to its inlined frames, innermost first (function names)."""
    if not addrs:
        return {}
    text = "\n".join(hex(a) for a in addrs) + "\n"
    out = subprocess.run(
        ["llvm-symbolizer", "--obj", elf, "--inlining", "--demangle", "--functions=linkage"],
        input=text, capture_output=True, text=True, check=True).stdout
    frames = {}
    for addr, block in zip(addrs, out.strip("\n").split("\n\n")):
        lines = block.split("\n")
        frames[addr] = [lines[i] for i in range(0, len(lines), 2)]
    return frames


def symtab(elf):
    """(sorted starts, [(start, end, name)]) of the ELF's function symbols."""
    out = subprocess.run(["llvm-nm", "--defined-only", "-S", "-n", "--demangle", elf],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) == 4 and parts[2] in "tTwW":
            start, size = int(parts[0], 16) & ~1, int(parts[1], 16)
            syms.append((start, start + size, parts[3]))
    syms.sort()
    return [s[0] for s in syms], syms


def lookup(table, pc):
    starts, syms = table
    i = bisect.bisect_right(starts, pc) - 1
    if i >= 0 and syms[i][0] <= pc < max(syms[i][1], syms[i][0] + 2):
        return syms[i][2]
    return None


def kernel_class(frames):
    for f in frames:
        for cls, pat in KERNEL_CLASSES:
            if re.search(pat, f):
                return cls
    return "kernel"


def kernel_phase(key, sym, frames):
    pc, ent, after = key
    if ent in BACKGROUND_ENTRIES or ent not in SHIMS and ent is not None and ent != "SVCall":
        return "tick"
    if sym in SHIMS:
        return "exit" if after else "entry"
    return kernel_class(frames.get(pc, [sym]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("image")
    ap.add_argument("--client", help="the task that prints BENCH lines (default: guessed)")
    ap.add_argument("--rounds", type=int, default=500)
    ap.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "target"))
    ap.add_argument("--window", nargs=2, metavar=("FROM", "TO"))
    ap.add_argument("--windows", type=int, default=50,
                    help="with --window: stop after this many windows")
    ap.add_argument("--skip", type=int, default=0,
                    help="with --window: leave out this many windows first")
    ap.add_argument("--detail", action="store_true",
                    help="also list the kernel's instructions per innermost function")
    ap.add_argument("--sequence", action="store_true",
                    help="with --window: also list each window in order, one line per stretch "
                         "of the kernel or of one task")
    a = ap.parse_args()

    dist = os.path.join(a.target, "dist", a.image)
    kernel_elf = os.path.join(dist, "elf", "kernel")
    task_dir = os.path.join(dist, "elf", "task")
    if not os.path.isfile(kernel_elf):
        sys.exit(f"{kernel_elf} missing: run `cargo xtask dist {a.image}` first")
    tasks = sorted(os.listdir(task_dir))
    client = a.client or next((t for t in tasks if "bench" in t and "server" not in t), None)
    if client not in tasks:
        sys.exit(f"no task {client!r} in {task_dir} (have {', '.join(tasks)}); pass --client")

    tables = {"kernel": symtab(kernel_elf)}
    for t in tasks:
        tables[t] = symtab(os.path.join(task_dir, t))
    report_pcs = {s[0] for s in tables[client][1] if re.search(r"(^|::)report(::|$)", s[2])}
    if not report_pcs and not a.window:
        sys.exit(f"task {client} has no `report` function to cut the trace at")

    def entry_of(spec):
        task, _, symbol = spec.partition(":")
        if task not in tables:
            sys.exit(f"--window: no task {task!r}")
        if re.fullmatch(r"0x[0-9a-fA-F]+", symbol):
            return {int(symbol, 16) & ~1}
        pcs = {s[0] for s in tables[task][1] if s[2] == symbol}
        if not pcs:
            sys.exit(f"--window: {task} has no function named {symbol!r}")
        return pcs

    window = a.window and (entry_of(a.window[0]), entry_of(a.window[1]))
    if a.sequence and not window:
        sys.exit("--sequence needs --window")
    # Per window, in order: [owner, [key, ...]] for each stretch run by one owner.
    stretches = []
    is_open = False
    skipped = 0

    def owner(pc):
        for name, table in tables.items():
            sym = lookup(table, pc)
            if sym is not None:
                return name, sym
        return None, None

    tmp = tempfile.mkdtemp(prefix="bench-trace-")
    serial = os.path.join(tmp, "serial.txt")
    fifo = os.path.join(tmp, "exec.log")
    os.mkfifo(fifo)
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-M", "mps2-an500", "-display", "none", "-monitor", "none",
         "-kernel", os.path.join(dist, "img", "final.elf"), "-serial", f"file:{serial}",
         "-icount", "shift=0", "-singlestep", "-d", "exec,nochain", "-D", fifo],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    # Per segment: {pc: (count, entry context, kernel phase position)}.
    segments = [{}]
    owner_cache = {}
    entry = None        # the shim the kernel was entered through, None in a task
    after_handler = False
    pc_re = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
    lines = 0
    done = False
    with open(fifo) as log:
        for line in log:
            m = pc_re.search(line)
            if not m:
                continue
            pc = int(m.group(1), 16)
            if pc not in owner_cache:
                owner_cache[pc] = owner(pc)
            who, sym = owner_cache[pc]
            if window:
                if not is_open and pc in window[0]:
                    is_open = True
                    if skipped < a.skip:
                        segments[-1] = {}
                        skipped += 1
                    else:
                        segments.append({})
                    stretches.append([])
                elif is_open and pc in window[1]:
                    is_open = False
                    if len(segments) - 1 >= a.windows:
                        done = True
                        break
            elif who == client and pc in report_pcs:
                segments.append({})
            if who == "kernel":
                if sym in SHIMS or sym in BACKGROUND_ENTRIES:
                    if entry is None:
                        entry, after_handler = sym, False
                elif entry is None:
                    entry, after_handler = sym, False
                if sym not in SHIMS:
                    after_handler = True
                key = (pc, entry, after_handler)
            else:
                entry = None
                key = (pc, None, False)
            if window and not is_open:
                continue
            seg = segments[-1]
            seg[key] = seg.get(key, 0) + 1
            if window:
                runs = stretches[-1]
                if not runs or runs[-1][0] != who:
                    runs.append([who, []])
                runs[-1][1].append(key)
            lines += 1
            if lines % 200000 == 0:
                with open(serial, errors="replace") as s:
                    if "BENCH DONE" in s.read():
                        done = True
                        break
    qemu.kill()
    qemu.wait()
    with open(serial, errors="replace") as s:
        keys = [l.split()[1] for l in s.read().splitlines() if l.startswith("BENCH ") and "DONE" not in l]
    if not done:
        print("warning: the trace ended before BENCH DONE", file=sys.stderr)

    kernel_pcs = sorted({k[0] for seg in segments for k in seg if owner_cache[k[0]][0] == "kernel"})
    frames = symbolize(kernel_elf, kernel_pcs)
    user_pcs = {}
    for seg in segments:
        for (pc, _, _) in seg:
            who = owner_cache[pc][0]
            if who not in (None, "kernel"):
                user_pcs.setdefault(who, set()).add(pc)
    user_frames = {}
    for who, pcs in user_pcs.items():
        user_frames.update(symbolize(os.path.join(task_dir, who), sorted(pcs)))

    if window:
        # segments[0] is what ran before the first window; sum the windows as one.
        merged = {}
        for seg in segments[1:]:
            for key, n in seg.items():
                merged[key] = merged.get(key, 0) + n
        a.rounds = max(1, len(segments) - 1)
        segments = [merged]
        keys = [f"{a.window[0]} to {a.window[1]}"]
    for k, key in enumerate(keys):
        if k >= len(segments):
            break
        totals = {}
        detail = {}
        for (pc, ent, after), n in segments[k].items():
            who, sym = owner_cache[pc]
            if who == "kernel":
                cls = kernel_phase((pc, ent, after), sym, frames)
                if cls != "tick":
                    f = frames.get(pc, [sym])[0] if sym not in SHIMS else sym
                    detail[(cls, f)] = detail.get((cls, f), 0) + n
                cls = "kernel:" + cls
            elif who is None:
                cls = "unknown"
            elif who == client and any(BENCH_OVERHEAD.search(f) for f in user_frames.get(pc, [])):
                cls = "bench"
            else:
                cls = "user:" + who
                f = user_frames.get(pc, [sym])[0]
                detail[(who, f)] = detail.get((who, f), 0) + n
            totals[cls] = totals.get(cls, 0) + n
        kernel = sum(v for c, v in totals.items() if c.startswith("kernel:") and c != "kernel:tick")
        user = sum(v for c, v in totals.items() if c.startswith("user:"))
        print(f"## {key} (per round, {a.rounds} rounds)")
        print(f"kernel {kernel / a.rounds:.0f}, tasks {user / a.rounds:.0f}, "
              f"path total {(kernel + user) / a.rounds:.0f}")
        for phase in PHASES:
            v = totals.get("kernel:" + phase, 0)
            if v:
                print(f"  kernel {phase:<8} {v / a.rounds:8.1f}")
        for cls in sorted(c for c in totals if not c.startswith("kernel:") or c == "kernel:tick"):
            print(f"  {cls:<15} {totals[cls] / a.rounds:8.1f}")
        if a.detail:
            for (cls, f), v in sorted(detail.items(), key=lambda x: -x[1]):
                if v >= a.rounds / 2:
                    print(f"    {v / a.rounds:7.1f}  {cls:<7} {re.sub(r'::h[0-9a-f]{16}$', '', f)}")
        print()
    if a.sequence:
        print_sequence(stretches[skipped:][:a.rounds], owner_cache, frames, user_frames)


# What a kernel stretch did, named by the syscall bodies it ran (innermost frames).
STRETCH_WORK = re.compile(r"kern::(?:kipc|ipc|lifecycle|lease|time|detach)::([A-Za-z]\w*(?:::[a-z]\w*)?)")
STRETCH_GENERIC = re.compile(r"^(handle|Reply(::\w+)?|Request(::\w+)?)$")


def stretch_label(who, keys, owner_cache, frames, user_frames):
    pcs = [k[0] for k in keys]
    if who == "kernel":
        shim = next((owner_cache[pc][1] for pc in pcs if owner_cache[pc][1] in SHIMS), "kernel")
        work = []
        for pc in pcs:
            for f in frames.get(pc, []):
                m = STRETCH_WORK.search(re.sub(r"::h[0-9a-f]{16}", "", f))
                if m and not STRETCH_GENERIC.match(m.group(1)) and m.group(1) not in work:
                    work.append(m.group(1))
                    break
        return f"{shim}: {', '.join(work[:4]) or '-'}"
    counts = {}
    for pc in pcs:
        f = re.sub(r"::h[0-9a-f]{16}$", "", user_frames.get(pc, [owner_cache[pc][1] or "?"])[0])
        counts[f] = counts.get(f, 0) + 1
    top = sorted(counts.items(), key=lambda x: -x[1])[:3]
    return ", ".join(f"{f.split('::')[-1]} {n}" for f, n in top)


def print_sequence(windows, owner_cache, frames, user_frames):
    """The windows' common shape, each stretch with its mean length."""
    shapes = {}
    for runs in windows:
        shape = tuple((who, stretch_label(who, keys, owner_cache, frames, {}) if who == "kernel"
                       else who) for who, keys in runs)
        shapes.setdefault(shape, []).append(runs)
    shape, same = max(shapes.items(), key=lambda x: len(x[1]))
    print(f"## sequence ({len(same)} of {len(windows)} windows have this shape)")
    for i, (who, label) in enumerate(shape):
        mean = sum(len(runs[i][1]) for runs in same) / len(same)
        if who != "kernel":
            label = stretch_label(who, same[0][i][1], owner_cache, frames, user_frames)
        print(f"  {mean:7.1f}  {who or '?':<12} {label}")
        if who == "kernel":
            phases = {}
            for runs in same:
                for key in runs[i][1]:
                    cls = kernel_phase(key, owner_cache[key[0]][1], frames)
                    phases[cls] = phases.get(cls, 0) + 1
            print("           " + ", ".join(f"{p} {phases[p] / len(same):.0f}"
                                          for p in PHASES + ["tick"] if p in phases))
    print(f"  {sum(len(keys) for runs in same for _, keys in runs) / len(same):7.1f}  total")


if __name__ == "__main__":
    main()
