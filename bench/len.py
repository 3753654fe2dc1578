#!/usr/bin/env python3
"""Benchmark len(@map): the in-kernel cost of one call, on every path, in one run.

bt2c counts a map's elements in one of three ways, chosen when the tool loads
(see templates/bpf/len.h.j2):

* ``kfunc``    bpf_map_sum_elem_count(), the kernel's own count (Linux 6.6+);
* ``for_each`` bpf_for_each_map_elem() with a counting callback (Linux 5.13+);
* ``counter``  a counter the generated code keeps at every insert and delete.

This script measures each of them, and bpftrace's own len() (the reference
bpftrace v0.27, run through ``../shared/tools/bpftrace-ref``), with the
kernel's BPF run-time statistics: ``run_time_ns / run_cnt`` of the program
that calls len(), read with ``bpftool prog show id ID -j``.

The script under test (``SCRIPT`` below) fills a hash map of ``max_entries``
200 000 with N distinct keys, one per getpid() of the workload, then calls
len() once per open() of the workload::

    workload getpid N open K /nonexistent/bt2c-len-bench sleep 600000

While the workload sleeps, the probe on ``sys_enter_open`` has run exactly K
times; its statistics are read, then the tool is stopped with SIGINT and its
``@l`` line is checked to be N (so every figure comes from a len() that gave
the right answer).  The same script with ``@l = 0`` instead of ``@l = len(@m)``
gives each tool's baseline (predicate, map store, the statistics' own
clock reads), which is subtracted to isolate len() itself.

Choices that keep the figures exact on a busy machine:

* The measured probe is on the legacy ``open(2)`` syscall, which nothing else
  calls (glibc uses openat), not on ``close(2)``: a program's ``run_cnt``
  counts every invocation, including those whose predicate fails, so probes
  on a common syscall would mix cheap foreign calls into the average.  A run
  whose ``run_cnt`` is not exactly K is discarded and repeated.
* Predicates are ``pid == cpid`` rather than ``comm == "workload"``, so a
  concurrent benchmark's workload cannot add keys to the map.
* The measured program is found through the tool's own file descriptors
  (``/proc/PID/fdinfo``), never by guessing among all loaded programs.
* Each program's translated code (``bpftool prog dump xlated``) is checked:
  bt2c's kfunc path must call bpf_map_sum_elem_count, its for_each path
  bpf_for_each_map_elem, its counter path neither; bpftrace's is reported.
* BPF statistics are enabled with ``BPF_ENABLE_STATS`` (the kernel keeps
  them on only while this process holds the returned fd, so an interrupted
  run cannot leave them on); where that fails, ``kernel.bpf_stats_enabled``
  is set and restored.
* Runs are interleaved (every path and size in each repetition, order
  rotating) and each figure is the median over the repetitions.

Run as root from anywhere::

    pip install -e '.[bench]'          # matplotlib, for the plot
    python3 bench/len.py               # writes docs/len-benchmark.{md,png,json}
    python3 bench/len.py --quick --output-dir /tmp/lenbench   # smoke test
    python3 bench/len.py --replot      # report and plot again from docs/len-benchmark.json
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
DOCS_DIR = REPO_ROOT / "docs"
WORKLOAD_SRC = REPO_ROOT / "tests" / "workload" / "workload.c"
WORKLOAD_BIN = REPO_ROOT / "tests" / "workload" / "workload"
BPFTRACE_REF = REPO_ROOT.parent / "shared" / "tools" / "bpftrace-ref"
BPFTRACE_REF_ROOT = Path(os.environ.get("BPFTRACE_REF_ROOT", "/var/cache/bpftrace-ref/sid"))

if str(REPO_ROOT) not in sys.path:  # run as a script (bench/len.py), bench is no package
    sys.path.insert(0, str(REPO_ROOT))
from bench.refroot import see_directory  # noqa: E402

#: Map sizes (elements) of the full run, and of --quick.
SIZES = (10, 1_000, 10_000, 100_000)
QUICK_SIZES = (100,)
#: max_map_keys of the script: every map has room for the largest size.
MAX_KEYS = 200_000
#: len() calls per run (open() calls of the workload), full run and --quick.
CALLS = 300
QUICK_CALLS = 20
REPS = 5
#: open() of this path fails with ENOENT and leaves no fd behind.
MISSING_PATH = "/nonexistent/bt2c-len-bench"
#: The workload sleeps this long (ms) after its open() calls; it is stopped earlier.
SLEEP_MS = 600_000
#: Seconds a run may take from start to the K-th len() call.
RUN_TIMEOUT = 180.0
#: Seconds a tool may take to exit after SIGINT (it prints a map of N keys).
STOP_TIMEOUT = 60.0
#: Runs whose run_cnt is not exactly K (a foreign open() call) are repeated this often.
RETRIES = 3

#: bpf(2) syscall numbers, for BPF_ENABLE_STATS.
NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0

SCRIPT = """\
config = {{ max_map_keys = {max_keys} }}
tracepoint:syscalls:sys_enter_getpid /pid == cpid/ {{ @i = @i + 1; @m[@i] = 1; }}
tracepoint:syscalls:sys_enter_open /pid == cpid/ {{ @l = {expr}; }}
"""
#: The measured probe's tracepoint: the program is the tool's one whose name contains it.
MEASURED_TP = "sys_enter_open"


@dataclass(frozen=True)
class Config:
    """One measured variant: a tracer, a script (len or baseline) and its options."""

    key: str
    label: str
    tracer: str  # "bt2c" or "bpftrace"
    uses_len: bool
    options: tuple[str, ...] = ()
    #: What the program must call (bpftool's xlated dump); None: only reported.
    expect_call: str | None = None


CONFIGS: tuple[Config, ...] = (
    Config("kfunc", "bt2c kfunc", "bt2c", True, (), "kfunc"),
    Config("for_each", "bt2c for_each", "bt2c", True, ("--no-feature", "kfunc"), "for_each"),
    Config("counter", "bt2c counter", "bt2c", True,
           ("--no-feature", "kfunc", "--no-feature", "for_each_map_elem"), "none"),
    Config("bpftrace", "bpftrace len()", "bpftrace", True),
    Config("bt2c_empty", "bt2c, no len()", "bt2c", False, (), "none"),
    Config("bpftrace_empty", "bpftrace, no len()", "bpftrace", False, (), "none"),
)
LEN_KEYS = ("kfunc", "for_each", "counter", "bpftrace")
BASELINE_OF = {"kfunc": "bt2c_empty", "for_each": "bt2c_empty", "counter": "bt2c_empty",
               "bpftrace": "bpftrace_empty"}


class BenchError(RuntimeError):
    """A run that cannot give a valid figure (wrong answer, wrong path, timeout)."""


@dataclass
class Sample:
    """One run: the measured program's statistics over exactly K len() calls."""

    config: str
    size: int
    run_cnt: int
    run_time_ns: int
    prog_name: str
    calls: str  # what the xlated program calls: kfunc, for_each or none
    retries: int = 0

    @property
    def ns_per_call(self) -> float:
        """Mean in-kernel time of one run of the program."""
        return self.run_time_ns / self.run_cnt


@dataclass
class Results:
    """Every sample of a benchmark run, with what is needed to reproduce it."""

    sizes: list[int]
    calls: int
    reps: int
    command: str
    environment: dict[str, str]
    samples: list[Sample] = field(default_factory=list)

    def median(self, config: str, size: int) -> float | None:
        """Median ns per call of ``config`` at ``size``, or None without samples."""
        vals = [s.ns_per_call for s in self.samples if s.config == config and s.size == size]
        return statistics.median(vals) if vals else None

    def net(self, config: str, size: int) -> float | None:
        """Median cost of len() alone: the program minus its tool's baseline program."""
        total, base = self.median(config, size), self.median(BASELINE_OF[config], size)
        if total is None or base is None:
            return None
        return total - base

    def calls_of(self, config: str) -> str:
        """What the config's programs call (all runs agree, or the values joined)."""
        seen = sorted({s.calls for s in self.samples if s.config == config})
        return "/".join(seen) if seen else "?"


# ---------------------------------------------------------------------------
# BPF statistics and program inspection
# ---------------------------------------------------------------------------


@contextmanager
def bpf_stats_enabled() -> Iterator[str]:
    """Keep the kernel's BPF run-time statistics on; yields how they were enabled."""
    nr = NR_BPF.get(platform.machine())
    fd = -1
    if nr is not None:
        libc = ctypes.CDLL(None, use_errno=True)
        attr = (ctypes.c_uint32 * 4)(BPF_STATS_RUN_TIME, 0, 0, 0)
        fd = libc.syscall(nr, BPF_ENABLE_STATS, ctypes.byref(attr), ctypes.sizeof(attr))
    if fd >= 0:
        try:
            yield "BPF_ENABLE_STATS"
        finally:
            os.close(fd)
        return
    sysctl = Path("/proc/sys/kernel/bpf_stats_enabled")
    old = sysctl.read_text().strip()
    sysctl.write_text("1\n")
    try:
        yield "sysctl kernel.bpf_stats_enabled=1"
    finally:
        sysctl.write_text(old + "\n")


def bpftool() -> str:
    """The bpftool binary."""
    found = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if not os.access(found, os.X_OK):
        raise BenchError("bpftool not found (Debian package: bpftool)")
    return found


def prog_show(prog_id: int) -> dict:
    """``bpftool prog show id ID -j``: name, run_cnt, run_time_ns, ..."""
    out = subprocess.run([bpftool(), "prog", "show", "id", str(prog_id), "-j"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def prog_calls(prog_id: int) -> str:
    """What the loaded program calls to count: "kfunc", "for_each" or "none"."""
    dump = subprocess.run([bpftool(), "prog", "dump", "xlated", "id", str(prog_id)],
                          capture_output=True, text=True, check=True).stdout
    if "bpf_map_sum_elem_count" in dump:
        return "kfunc"
    if "for_each" in dump:  # bpf_for_each_map_elem, fixed up to bpf_for_each_hash_elem
        return "for_each"
    return "none"


def _children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return kids


def _tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += _children(p)
    return out


def prog_ids_of(pid: int) -> set[int]:
    """Ids of the BPF programs held open by ``pid`` or its descendants."""
    ids: set[int] = set()
    for p in _tree(pid):
        fd_dir = Path(f"/proc/{p}/fd")
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) != "anon_inode:bpf-prog":
                    continue
                info = (Path(f"/proc/{p}/fdinfo") / fd.name).read_text()
            except OSError:
                continue
            m = re.search(r"^prog_id:\s*(\d+)", info, re.M)
            if m:
                ids.add(int(m.group(1)))
    return ids


# ---------------------------------------------------------------------------
# Running the tools
# ---------------------------------------------------------------------------


def build_workload() -> Path:
    """Build tests/workload/workload if it is missing or older than its source."""
    if (not WORKLOAD_BIN.exists()
            or WORKLOAD_BIN.stat().st_mtime < WORKLOAD_SRC.stat().st_mtime):
        subprocess.run(["gcc", "-O2", "-static", "-o", str(WORKLOAD_BIN), str(WORKLOAD_SRC)],
                       check=True)
    return WORKLOAD_BIN


def script_text(uses_len: bool) -> str:
    """The benchmark script, with len() or with the baseline constant."""
    return SCRIPT.format(max_keys=MAX_KEYS, expr="len(@m)" if uses_len else "0")


def build_bt2c(workdir: Path) -> dict[bool, Path]:
    """Write both scripts to ``workdir`` and build them with bt2c: {uses_len: binary}."""
    tools: dict[bool, Path] = {}
    for uses_len, name in ((True, "lenbench"), (False, "lenbase")):
        script = workdir / f"{name}.bt"
        script.write_text(script_text(uses_len))
        out = workdir / f"{name}.out"
        proc = subprocess.run([sys.executable, "-m", "bt2c", "build", str(script), "-o",
                               str(out)], cwd=REPO_ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BenchError(f"bt2c build {script.name} failed:\n{proc.stderr}")
        tools[uses_len] = out / name
    return tools


def tool_command(config: Config, tools: dict[bool, Path], workdir: Path,
                 workload_cmd: str) -> list[str]:
    """The command line of one run."""
    if config.tracer == "bt2c":
        return [str(tools[config.uses_len]), "-q", *config.options, "-c", workload_cmd]
    script = workdir / ("lenbench.bt" if config.uses_len else "lenbase.bt")
    return [str(BPFTRACE_REF), "-q", *config.options, str(script), "-c", workload_cmd]


def _workload_pids(tool_pid: int) -> list[int]:
    """The workload processes started by the tool (they are stopped by pid)."""
    pids = []
    for p in _tree(tool_pid)[1:]:
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
        except OSError:
            continue
        if MISSING_PATH.encode() in cmdline:
            pids.append(p)
    return pids


def _stop(proc: subprocess.Popen, workloads: Sequence[int]) -> None:
    """SIGINT the tool, wait for it, then end its workload if the tool left it running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for pid in workloads:
        try:
            if MISSING_PATH.encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGTERM)
        except OSError:
            pass


def run_once(config: Config, size: int, calls: int, tools: dict[bool, Path],
             workdir: Path, workload: Path) -> Sample:
    """Run one tool once; the measured program's statistics over exactly ``calls`` calls."""
    workload_cmd = (f"{workload} getpid {size} open {calls} {MISSING_PATH} sleep {SLEEP_MS}")
    cmd = tool_command(config, tools, workdir, workload_cmd)
    out_path = workdir / f"{config.key}-{size}.out"
    err_path = workdir / f"{config.key}-{size}.err"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    workloads: list[int] = []
    names: dict[int, str] = {}
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        target: dict | None = None
        while time.monotonic() < deadline and proc.poll() is None:
            workloads = sorted(set(workloads) | set(_workload_pids(proc.pid)))
            for pid in prog_ids_of(proc.pid) - set(names):
                try:
                    names[pid] = prog_show(pid).get("name", "")
                except (subprocess.CalledProcessError, json.JSONDecodeError):
                    continue
            measured = [i for i, n in names.items() if MEASURED_TP in n]
            if len(measured) > 1:
                raise BenchError(f"{config.label}: several {MEASURED_TP} programs: {measured}")
            if measured:
                info = prog_show(measured[0])
                if info.get("run_cnt", 0) >= calls:
                    time.sleep(0.05)  # a late foreign call would show now
                    target = prog_show(measured[0])
                    break
            time.sleep(0.05)
        if target is None:
            err_text = err_path.read_text(errors="replace")
            raise BenchError(f"{config.label} N={size}: the {MEASURED_TP} program did not "
                             f"run {calls} times within {RUN_TIMEOUT:.0f} s\n{err_text}")
        sample = Sample(config.key, size, int(target["run_cnt"]), int(target["run_time_ns"]),
                        str(target.get("name", "")), prog_calls(int(target["id"])))
    finally:
        _stop(proc, workloads)
    output = out_path.read_text(errors="replace")
    want = size if config.uses_len else 0
    got = re.search(r"^@l: (-?\d+)$", output, re.M)
    if got is None or int(got.group(1)) != want:
        raise BenchError(f"{config.label} N={size}: @l is "
                         f"{got.group(1) if got else 'missing'}, expected {want}")
    if not re.search(rf"^@i: {size}$", output, re.M):
        raise BenchError(f"{config.label} N={size}: @i is not {size} (the map was not filled)")
    if config.expect_call is not None and sample.calls != config.expect_call:
        raise BenchError(f"{config.label}: the loaded program calls {sample.calls}, "
                         f"expected {config.expect_call}")
    return sample


def run_measured(config: Config, size: int, calls: int, tools: dict[bool, Path],
                 workdir: Path, workload: Path) -> Sample:
    """``run_once``, repeated while a foreign open() call spoils ``run_cnt``.

    After ``RETRIES`` repetitions the last run is kept as it is (on a busy
    machine a run of several seconds may never be clean).
    """
    for attempt in range(RETRIES + 1):
        sample = run_once(config, size, calls, tools, workdir, workload)
        sample.retries = attempt
        if sample.run_cnt == calls:
            return sample
        print(f"  {config.label} N={size}: run_cnt {sample.run_cnt} != {calls}"
              + (", again" if attempt < RETRIES else ", kept"), file=sys.stderr)
    # Kept: the foreign calls failed the predicate, so they cost less than a len() call
    # and pull the mean down by at most (run_cnt - calls) / run_cnt; the report counts them.
    return sample


def possible_cpus() -> str:
    """How many CPUs are possible (the kfunc sums one counter per possible CPU)."""
    try:
        ranges = Path("/sys/devices/system/cpu/possible").read_text().strip().split(",")
    except OSError:
        return "?"
    total = 0
    for r in ranges:
        first, _, last = r.partition("-")
        total += int(last or first) - int(first) + 1
    return str(total)


def environment(stats: str) -> dict[str, str]:
    """The machine, kernel and versions the figures were measured with."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--",
                            "bt2c", "templates"], capture_output=True, text=True).stdout
    if dirty.strip():
        commit += " (with uncommitted changes to bt2c/ or templates/)"
    ver = subprocess.run([str(BPFTRACE_REF), "--version"], capture_output=True,
                         text=True, cwd=REPO_ROOT).stdout.strip() or "?"
    return {
        "date": datetime.date.today().isoformat(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
        "possible_cpus": possible_cpus(),
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "bt2c": commit,
        "bpftrace": ver,
        "stats": stats,
    }


def run_benchmark(sizes: Sequence[int], calls: int, reps: int, command: str) -> Results:
    """Every config at every size, ``reps`` times, interleaved with a rotating order."""
    workload = build_workload()
    see_directory(BPFTRACE_REF_ROOT, REPO_ROOT)  # the reference runs the checkout's workload
    with tempfile.TemporaryDirectory(prefix="bt2c-lenbench-", dir="/tmp") as tmp:
        workdir = Path(tmp)
        tools = build_bt2c(workdir)
        with bpf_stats_enabled() as stats:
            results = Results(list(sizes), calls, reps, command, environment(stats))
            for rep in range(reps):
                for si, size in enumerate(sizes):
                    shift = (rep + si) % len(CONFIGS)
                    for config in CONFIGS[shift:] + CONFIGS[:shift]:
                        sample = run_measured(config, size, calls, tools, workdir, workload)
                        results.samples.append(sample)
                        print(f"rep {rep + 1}/{reps} N={size:>6} {config.label:<20} "
                              f"{sample.ns_per_call:>12.0f} ns/call  ({sample.calls})",
                              file=sys.stderr)
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def fmt_ns(ns: float | None) -> str:
    """A duration for the tables: ns below 10 µs, then µs below 1 ms, then ms."""
    if ns is None:
        return "–"
    if abs(ns) < 10_000:
        return f"{ns:,.0f} ns"
    if abs(ns) < 1_000_000:
        return f"{ns / 1000:,.1f} µs"
    return f"{ns / 1e6:,.2f} ms"


def shape_checks(res: Results) -> list[tuple[str, bool, str]]:
    """The issue's expected shape: (claim, holds, measured figures)."""
    checks: list[tuple[str, bool, str]] = []
    sizes = res.sizes
    kf = {n: res.median("kfunc", n) for n in sizes}
    vals = [v for v in kf.values() if v is not None]
    if len(vals) >= 2:
        ratio = max(vals) / min(vals)
        checks.append((f"kfunc path flat: slowest / fastest size within 2x "
                       f"({sizes[0]:,} to {sizes[-1]:,} elements)", ratio <= 2.0,
                       f"{ratio:.2f}x ({fmt_ns(min(vals))} to {fmt_ns(max(vals))})"))
    big = sizes[-1]
    fe, k = res.median("for_each", big), kf.get(big)
    if fe is not None and k is not None:
        checks.append((f"for_each / kfunc at {big:,} elements at least 100x", fe / k >= 100,
                       f"{fe / k:,.0f}x ({fmt_ns(fe)} vs {fmt_ns(k)})"))
    worst = [(n, (res.median("bpftrace", n) or 0) / v) for n, v in kf.items() if v]
    if worst:
        n, r = min(worst, key=lambda t: t[1])
        shown = f"{r:,.0f}" if r >= 10 else f"{r:.2f}"
        checks.append(("kfunc no slower than bpftrace's len() at every size", r >= 1.0,
                       f"bpftrace / kfunc at least {shown}x (at {n:,} elements)"))
    return checks


def reading(res: Results) -> list[str]:
    """The report's explanation of the figures, with the measured numbers."""
    sizes, small, big = res.sizes, res.sizes[0], res.sizes[-1]
    buckets = 1 << (MAX_KEYS - 1).bit_length()
    fe_small, fe_big = res.median("for_each", small), res.median("for_each", big)
    net_k = [v for v in (res.net("kfunc", n) for n in sizes) if v is not None]
    net_c = [v for v in (res.net("counter", n) for n in sizes) if v is not None]
    base = [v for k in ("bt2c_empty", "bpftrace_empty") for n in sizes
            if (v := res.median(k, n)) is not None]
    bt_vs_fe = [res.median("bpftrace", n) / v for n in sizes
                if (v := res.median("for_each", n)) and res.median("bpftrace", n)]
    per_bucket = fe_small / buckets if fe_small else None
    lines = ["## Reading the figures", ""]
    if fe_small and fe_big and per_bucket:
        lines.append(
            f"- for_each: the kernel's bpf_for_each_hash_elem() visits every bucket of the "
            f"table, and a hash map of max_entries {MAX_KEYS:,} has {buckets:,} (rounded up "
            f"to a power of two), each with its own RCU read section: about "
            f"{per_bucket:.0f} ns per bucket, so even {small:,} elements cost "
            f"{fmt_ns(fe_small)}. The callback per element adds the rest "
            f"({fmt_ns(fe_big)} at {big:,}). The cost is O(max_entries + N), not O(N).")
    if bt_vs_fe:
        lines.append(
            f"- bpftrace's len() compiles to the same helper call on this kernel (its program "
            f"calls bpf_for_each_hash_elem, never the kfunc) and costs the same within "
            f"{(max(abs(r - 1) for r in bt_vs_fe)) * 100:.0f}% (bpftrace / bt2c for_each "
            f"{min(bt_vs_fe):.2f}x to {max(bt_vs_fe):.2f}x).")
    if net_k:
        cpus = res.environment.get("possible_cpus", "?")
        lines.append(
            f"- kfunc: bpf_map_sum_elem_count() sums the map's per-CPU element counters, one "
            f"per possible CPU ({cpus} here): independent of N and of "
            f"max_entries, {min(net_k):.0f} to {max(net_k):.0f} ns over the same program "
            f"without len(). On a machine with many CPUs it grows with their number, "
            f"not with the map.")
    if net_c:
        lines.append(
            f"- counter: one array lookup, {min(net_c):.0f} to {max(net_c):.0f} ns over the "
            f"baseline (within its noise). It is paid at the writes instead (an insert with "
            f"BPF_NOEXIST, then an atomic add, at every insert and delete), not measured here.")
    if base:
        lines.append(
            f"- The programs without len() cost {min(base):.0f} to {max(base):.0f} ns in both "
            f"tools: the tracepoint's context, the predicate, the store of @l and the two "
            f"clock reads of the statistics themselves.")
    return lines


def markdown(res: Results, png_name: str | None) -> str:
    """The report: method, command, the two tables, the shape checks."""
    env = res.environment
    labels = {c.key: c.label for c in CONFIGS}
    lines = [
        "# len(@map): in-kernel cost per call",
        "",
        "Generated by `bench/len.py`; reproduce as root from the repository root with:",
        "",
        "    pip install -e '.[bench]'",
        f"    {res.command}",
        "",
        f"Measured {env['date']} on Linux {env['kernel']} ({env['machine']}, {env['cpu']}, "
        f"{env['cpus']} CPUs, load average {env['loadavg']} at the start), bt2c {env['bt2c']}, "
        f"{env['bpftrace']} (through `../shared/tools/bpftrace-ref`). "
        f"BPF statistics enabled with {env['stats']}.",
        "",
        f"Method: one script fills a hash map (`max_map_keys = {MAX_KEYS:,}`, so the same "
        "number of buckets at every size) with N distinct keys, one per getpid() of "
        "the workload, then stores `@l = len(@m)` once per open() of the workload, "
        f"{res.calls} times. The figure is `run_time_ns / run_cnt` of that program "
        "(`bpftool prog show`), taken while the workload sleeps, only from runs where "
        f"`run_cnt` is exactly {res.calls} and the tool printed `@l: N`; median of "
        f"{res.reps} runs. The baseline is the same script with `@l = 0`: its program "
        "costs the predicate, the map store and the statistics' own clock reads.",
        "",
        "```",
        script_text(True).rstrip(),
        "```",
        "",
        "## Cost of the program that calls len(), per call",
        "",
        "| elements | " + " | ".join(labels[c.key] for c in CONFIGS) + " |",
        "|---:|" + "---:|" * len(CONFIGS),
    ]
    for n in res.sizes:
        lines.append(f"| {n:,} | " + " | ".join(fmt_ns(res.median(c.key, n)) for c in CONFIGS)
                     + " |")
    lines += [
        "",
        "## len() alone (the program minus the same tool's baseline program)",
        "",
        "| elements | " + " | ".join(labels[k] for k in LEN_KEYS)
        + " | bt2c for_each / kfunc | bpftrace / bt2c kfunc |",
        "|---:|" + "---:|" * (len(LEN_KEYS) + 2),
    ]
    for n in res.sizes:
        cells = [fmt_ns(res.net(k, n)) for k in LEN_KEYS]
        k, fe, bt = res.median("kfunc", n), res.median("for_each", n), res.median("bpftrace", n)
        cells.append(f"{fe / k:,.0f}x" if k and fe else "–")
        cells.append(f"{bt / k:,.0f}x" if k and bt else "–")
        lines.append(f"| {n:,} | " + " | ".join(cells) + " |")
    lines += ["", "Ratios are of the whole programs (first table).", ""]
    if png_name:
        lines += [f"![len() cost per call against map size]({png_name})", ""]
    lines += [
        "## What each program calls",
        "",
        "From `bpftool prog dump xlated` of the measured program in every run:",
        "",
        "| variant | program | calls |",
        "|---|---|---|",
    ]
    what = {"kfunc": "bpf_map_sum_elem_count (the kfunc)",
            "for_each": "bpf_for_each_hash_elem (bpf_for_each_map_elem, as fixed up "
                        "for a hash map)",
            "none": "neither"}
    for c in CONFIGS:
        progs = sorted({s.prog_name for s in res.samples if s.config == c.key})
        calls = res.calls_of(c.key)
        note = " (a lookup in bt_len_counts)" if c.key == "counter" else ""
        lines.append(f"| {c.label} | {', '.join(progs)} | {what.get(calls, calls)}{note} |")
    lines += ["", *reading(res)]
    checks = shape_checks(res)
    if checks:
        lines += ["", "## Expected shape (issue 4)", ""]
        for claim, ok, figures in checks:
            lines.append(f"- {'yes' if ok else '**no**'}: {claim}: {figures}")
    retried = sum(s.retries for s in res.samples)
    kept = [f"{s.config} at {s.size:,}: {s.run_cnt - res.calls} extra"
            for s in res.samples if s.run_cnt != res.calls]
    lines += ["", f"Runs repeated because a foreign open() call reached the probe: {retried}. "
              f"Runs kept with foreign calls after {RETRIES} repetitions: {len(kept)}"
              + (f" ({', '.join(kept)})." if kept else "."), ""]
    return "\n".join(lines)


def plot(res: Results, path: Path) -> None:
    """Cost per call against map size: iteration (ms) above, O(1) paths (ns) below.

    Two panels with linear y axes, sharing the log x axis: the two groups are
    four orders of magnitude apart, and a linear axis from 0 shows both the
    flatness of the O(1) paths and the growth of the iterating ones.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {  # colour, line style, marker, values written next to the points
        "for_each": ("tab:red", "-", "s", True),
        "bpftrace": ("tab:purple", "--", "D", True),
        "kfunc": ("tab:green", "-", "o", True),
        "counter": ("tab:blue", "-", "^", False),
        "bt2c_empty": ("tab:gray", "--", ".", False),
        "bpftrace_empty": ("tab:olive", ":", ".", False),
    }
    groups = (
        (("for_each", "bpftrace"), 1e6, "ms", "walking the map: bpf_for_each_map_elem"),
        (("kfunc", "counter", "bt2c_empty", "bpftrace_empty"), 1.0, "ns",
         "O(1): kfunc, counter, and the same program without len()"),
    )
    labels = {c.key: c.label for c in CONFIGS}
    fig, axes = plt.subplots(2, 1, sharex=True, figsize=(8, 7), dpi=120)
    for ax, (keys, scale, unit, title) in zip(axes, groups):
        top = 0.0
        series = {}
        for key in keys:
            pts = [(n, res.median(key, n)) for n in res.sizes]
            series[key] = {n: v / scale for n, v in pts if v is not None}
            if not series[key]:
                continue
            color, ls, marker, _ = styles[key]
            ax.plot(list(series[key]), list(series[key].values()), color=color,
                    linestyle=ls, marker=marker, label=labels[key])
            top = max(top, *series[key].values())
        for n in res.sizes:
            # Values of the highest line above its point, of the lower ones below theirs.
            shown = sorted((series[k][n], k) for k in keys if styles[k][3] and n in series[k])
            for rank, (v, key) in enumerate(reversed(shown)):
                ax.annotate(f"{v:.2f}" if unit == "ms" else f"{v:.0f}", (n, v),
                            textcoords="offset points", xytext=(0, 9 if rank == 0 else -13),
                            ha="center", va="center", fontsize=8, color=styles[key][0])
        ax.set_ylim(0, top * 1.3 if top else 1)
        ax.set_ylabel(f"{unit} per call")
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    axes[1].set_xscale("log")
    axes[1].set_xticks(res.sizes)
    axes[1].set_xticklabels([f"{n:,}" for n in res.sizes])
    axes[1].minorticks_off()
    axes[1].set_xlim(min(res.sizes) / 2, max(res.sizes) * 2)
    axes[1].set_xlabel(f"elements in the map (hash map, max_entries {MAX_KEYS:,})")
    big = res.sizes[-1]
    fe, kf = res.median("for_each", big), res.median("kfunc", big)
    ratio = f"; for_each / kfunc at {big:,}: {fe / kf:,.0f}x" if fe and kf else ""
    fig.suptitle(f"len(@map): in-kernel time per call (run_time_ns / run_cnt), "
                 f"Linux {res.environment['kernel']}\nmedian of {res.reps} runs "
                 f"of {res.calls} calls{ratio}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help=f"smoke test: {QUICK_SIZES[0]} elements, one repetition, "
                         f"{QUICK_CALLS} calls")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                    help=f"comma-separated map sizes (default: {','.join(map(str, SIZES))})")
    ap.add_argument("--reps", type=int, help=f"repetitions (default {REPS})")
    ap.add_argument("--calls", type=int, help=f"len() calls per run (default {CALLS})")
    ap.add_argument("--output-dir", type=Path, default=DOCS_DIR,
                    help="where len-benchmark.{md,png,json} go (default: docs/)")
    ap.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib)")
    ap.add_argument("--replot", action="store_true",
                    help="rewrite the report and plot from OUTPUT_DIR/len-benchmark.json "
                         "without measuring again")
    ap.add_argument("--check-shape", action="store_true",
                    help="exit 1 if the expected shape does not hold")
    return ap.parse_args(argv)


def load_results(path: Path) -> Results:
    """Results saved by an earlier run (len-benchmark.json)."""
    raw = json.loads(path.read_text())
    res = Results(raw["sizes"], raw["calls"], raw["reps"], raw["command"], raw["environment"])
    res.samples = [Sample(**s) for s in raw["samples"]]
    return res


def reproduce_command(argv: Sequence[str]) -> str:
    """The command line that reproduces this run's report (without --output-dir)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--output-dir":
            skip = True
        elif not arg.startswith("--output-dir="):
            kept.append(arg)
    return " ".join(["python3", "bench/len.py", *kept])


def write_report(res: Results, out: Path, no_plot: bool, check_shape: bool) -> int:
    """Write len-benchmark.{md,png,json} to ``out``; 1 if ``check_shape`` and it fails."""
    out.mkdir(parents=True, exist_ok=True)
    png = None
    if not no_plot:
        plot(res, out / "len-benchmark.png")
        png = "len-benchmark.png"
    report = markdown(res, png)
    (out / "len-benchmark.md").write_text(report)
    raw = asdict(res)
    raw["medians_ns"] = {c.key: {str(n): res.median(c.key, n) for n in res.sizes}
                         for c in CONFIGS}
    (out / "len-benchmark.json").write_text(json.dumps(raw, indent=1) + "\n")
    print(report)
    if check_shape and not all(ok for _, ok, _ in shape_checks(res)):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write the report; 0 on success."""
    args = parse_args(argv)
    if args.replot:
        return write_report(load_results(args.output_dir / "len-benchmark.json"),
                            args.output_dir, args.no_plot, args.check_shape)
    if os.geteuid() != 0:
        print("bench/len.py: needs root (loads BPF programs)", file=sys.stderr)
        return 2
    if not os.access(BPFTRACE_REF, os.X_OK):
        print(f"bench/len.py: {BPFTRACE_REF} is missing", file=sys.stderr)
        return 2
    sizes = args.sizes or (list(QUICK_SIZES) if args.quick else list(SIZES))
    if max(sizes) > MAX_KEYS:
        print(f"bench/len.py: sizes must be at most {MAX_KEYS}", file=sys.stderr)
        return 2
    reps = args.reps or (1 if args.quick else REPS)
    calls = args.calls or (QUICK_CALLS if args.quick else CALLS)
    command = reproduce_command(sys.argv[1:] if argv is None else argv)
    try:
        res = run_benchmark(sizes, calls, reps, command)
    except (BenchError, subprocess.CalledProcessError) as exc:
        print(f"bench/len.py: {exc}", file=sys.stderr)
        return 1
    return write_report(res, args.output_dir, args.no_plot, args.check_shape)

if __name__ == "__main__":
    sys.exit(main())
