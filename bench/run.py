#!/usr/bin/env python3
"""Benchmark bt2c's generated tools against the reference bpftrace, in one run.

For each benchmark script this measures, for bt2c's built tool, for ``bt2c
run`` with a warm cache and for bpftrace v0.27 (the reference, run in its
chroot):

* start-up: wall time from exec to the "Attached N probes" line on stderr,
  and for ``BEGIN { ...; exit(); }`` scripts from exec to exit;
* memory: the tool's peak RSS (``ru_maxrss`` of the reaped child), its RSS
  after the workload, and the kernel memory of its BPF maps;
* per-event cost in the kernel: ``run_time_ns / run_cnt`` of the tool's BPF
  programs (BPF run-time statistics enabled) over a workload making a known
  number of syscalls, plus the workload's extra CPU time per syscall and the
  user-space CPU the tool spent consuming the events.

Every figure is the median of several repetitions, and every comparison is a
ratio bt2c / bpftrace measured in the same run: lower is better, below 1 means
bt2c wins.

Fairness:

* Every tracer is started by the same small launcher, bench/spawn.c
  (compiled on the fly): it forks, the child reads CLOCK_MONOTONIC and
  execs the tracer, and the parent reaps it with wait4().  Start-up times
  therefore run from the tracer's own execve() to the moment the harness
  reads "Attached" (same clock), and peak RSS is the tracer's own
  ru_maxrss (a child forked by Python would start with Python's).
* bpftrace is exec'ed directly inside the reference chroot (the launcher's
  child calls chroot() before taking the timestamp), not through the
  bpftrace-ref wrapper, whose bash start-up, mount checks and execs of
  ``chroot`` and ``sh`` would be charged to bpftrace.  The wrapper is run
  once first to create the chroot's mounts; its own overhead is reported
  apart.
* Tracers run interleaved, their order rotating from one repetition to the
  next, after one untimed warm-up round (page cache, bt2c's run cache).
* BPF statistics are enabled with ``BPF_ENABLE_STATS``, which holds them on
  only while this process keeps the returned fd open, so an interrupted
  benchmark cannot leave ``kernel.bpf_stats_enabled`` set behind.

Run as root from anywhere (the paths are resolved from this file)::

    python3 bench/run.py                    # full run: prints the tables
    python3 bench/run.py --update-readme    # ... and rewrites bench/README.md's results
    python3 bench/run.py --quick            # one small repetition: a smoke test
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import glob
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent

if str(REPO_ROOT) not in sys.path:  # run as a script (bench/run.py), bench is no package
    sys.path.insert(0, str(REPO_ROOT))
from bench.refroot import see_directory  # noqa: E402

README = BENCH_DIR / "README.md"
WORKLOAD_SRC = REPO_ROOT / "tests" / "workload" / "workload.c"
WORKLOAD_BIN = REPO_ROOT / "tests" / "workload" / "workload"

RESULTS_BEGIN = "<!-- results:begin -->"
RESULTS_END = "<!-- results:end -->"

#: Seconds a tracer may take to print "Attached" (or to exit, for BEGIN-exit scripts).
ATTACH_TIMEOUT = 60.0
#: Seconds a tracer may take to exit after SIGINT.
STOP_TIMEOUT = 30.0

#: bpf(2) syscall numbers, for BPF_ENABLE_STATS.
NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "ppc64le": 361, "s390x": 351}
BPF_ENABLE_STATS = 32
BPF_STATS_RUN_TIME = 0

#: A path that does not exist: openat() on it fails with ENOENT and leaves no fd behind.
MISSING_PATH = "/nonexistent/bt2c-bench"

# ---------------------------------------------------------------------------
# Benchmark scripts
# ---------------------------------------------------------------------------


def _max_count(pattern: str) -> Callable[[str], int | None]:
    """Return a counter: the largest number captured by ``pattern`` in the output."""
    rx = re.compile(pattern, re.M)

    def seen(out: str) -> int | None:
        values = [int(m.group(1)) for m in rx.finditer(out)]
        return max(values) if values else None

    return seen


def _lines_ending(suffix: str) -> Callable[[str], int | None]:
    """Return a counter: how many output lines end with ``suffix``."""

    def seen(out: str) -> int | None:
        return sum(1 for line in out.splitlines() if line.endswith(suffix))

    return seen


def _contains(text: str) -> Callable[[str], int | None]:
    """Return a counter: 1 when the output contains ``text``, else None."""

    def seen(out: str) -> int | None:
        return 1 if text in out else None

    return seen


@dataclass(frozen=True)
class Script:
    """A benchmark script and the workload that drives it.

    ``workload`` is the workload program's arguments with ``{n}`` standing for
    the event count; an empty workload marks a script that exits by itself
    (``BEGIN { exit(); }``), for which the exec-to-exit time is measured.
    ``seen`` counts, in the tracer's stdout, the workload's events it
    reported: every aggregation must count at least n of them (the workload
    adds a few start-up syscalls of its own).  A ``lossy`` script streams one
    record per event through the ring buffer, which may overflow when events
    come faster than the tracer prints them; it must report between 1 and n
    events, and how many is part of the results.
    """

    name: str
    text: str
    workload: tuple[str, ...]
    seen: Callable[[str], int | None]
    what: str
    lossy: bool = False

    def check(self, out: str, n: int) -> tuple[int | None, str | None]:
        """Return (events seen in the output, a problem or None)."""
        got = self.seen(out)
        if got is None:
            return None, "the expected output is missing"
        if self.exits_by_itself:
            return got, None
        if self.lossy:
            return got, None if 0 < got <= n else f"{got} events reported, {n} made"
        return got, None if got >= n else f"only {got} of {n} events counted"

    @property
    def exits_by_itself(self) -> bool:
        """Whether the script ends on its own instead of running until SIGINT."""
        return not self.workload


SCRIPTS: tuple[Script, ...] = (
    Script(
        "syscount",
        "tracepoint:raw_syscalls:sys_enter { @[comm] = count(); }\n",
        ("getpid", "{n}"),
        _max_count(r"^@\[workload\]: (\d+)$"),
        "per-comm syscall counter (per-CPU hash, string key)",
    ),
    Script(
        "filtered",
        'tracepoint:raw_syscalls:sys_enter /comm == "workload"/ { @[args.id] = count(); }\n',
        ("getpid", "{n}"),
        _max_count(r"^@\[\d+\]: (\d+)$"),
        "string-compare predicate on every syscall, integer key",
    ),
    Script(
        "opensnoop",
        "tracepoint:syscalls:sys_enter_openat "
        '{ printf("%-6d %-16s %s\\n", pid, comm, str(args.filename)); }\n',
        ("openat", "{n}", MISSING_PATH),
        _lines_ending(" " + MISSING_PATH),
        "printf per event: ring buffer + user-space formatting",
        lossy=True,
    ),
    Script(
        "writehist",
        "tracepoint:syscalls:sys_enter_write { @bytes = hist(args.count); }\n",
        ("write", "{n}", "100"),
        _max_count(r"^\[64, 128\)\s+(\d+)"),
        "power-of-two histogram of write sizes",
    ),
    Script(
        "begin_exit",
        'BEGIN { printf("hello\\n"); exit(); }\n',
        (),
        _contains("hello\n"),
        "start-up and tear-down only",
    ),
)

# ---------------------------------------------------------------------------
# Tracers
# ---------------------------------------------------------------------------

BT2C = "bt2c"  # the built tool, exec'ed directly
BT2C_RUN = "bt2c run"  # python -m bt2c run SCRIPT, cache warm
BPFTRACE = "bpftrace"  # /usr/bin/bpftrace exec'ed inside the reference chroot
BPFTRACE_REF = "bpftrace-ref"  # the wrapper script (only to report its overhead)


@dataclass(frozen=True)
class Command:
    """How to start one tracer on one script: its argv, a chroot to enter, its environment."""

    argv: list[str]
    env: dict[str, str]
    chroot: Path | None = None


@dataclass
class Setup:
    """Paths shared by all runs: the work directory, the reference and the built tools."""

    work: Path
    ref_wrapper: Path
    ref_root: Path
    cache: Path
    spawn: Path
    scripts: dict[str, Path] = field(default_factory=dict)
    tools: dict[str, Path] = field(default_factory=dict)

    def command(self, tracer: str, script: Script) -> Command:
        """Return the command line that runs ``script`` under ``tracer``."""
        path = str(self.scripts[script.name])
        env = dict(os.environ)
        if tracer == BT2C:
            return Command([str(self.tools[script.name])], env)
        if tracer == BT2C_RUN:
            env["BT2C_CACHE"] = str(self.cache)
            return Command([sys.executable, "-m", "bt2c", "run", path], env)
        if tracer == BPFTRACE:
            return Command(["/usr/bin/bpftrace", path], env, self.ref_root)
        if tracer == BPFTRACE_REF:
            return Command([str(self.ref_wrapper), path], env)
        raise ValueError(tracer)


def default_reference() -> Path:
    """Locate the bpftrace-ref wrapper: ``$BPFTRACE_REF``, a sibling shared/, or /work/shared."""
    env = os.environ.get("BPFTRACE_REF")
    if env:
        return Path(env)
    sibling = REPO_ROOT.parent / "shared" / "tools" / "bpftrace-ref"
    if sibling.exists():
        return sibling
    return Path("/work/shared/tools/bpftrace-ref")


def default_reference_root() -> Path:
    """The chroot the wrapper runs bpftrace in (its ``$BPFTRACE_REF_ROOT``)."""
    return Path(os.environ.get("BPFTRACE_REF_ROOT", "/var/cache/bpftrace-ref/sid"))


# ---------------------------------------------------------------------------
# Kernel-side probes: BPF stats, fdinfo, RSS, CPU time
# ---------------------------------------------------------------------------


class BpfStats:
    """Keeps BPF run-time statistics enabled while open (``BPF_ENABLE_STATS``).

    The kernel counts the fd as one user of the statistics and drops it when
    the fd is closed, which happens at the latest when this process exits.
    Falls back to the ``kernel.bpf_stats_enabled`` sysctl (restored on close)
    on architectures whose bpf(2) number is not listed.
    """

    def __init__(self) -> None:
        self.fd: int | None = None
        self.sysctl_old: str | None = None
        nr = NR_BPF.get(platform.machine())
        if nr is not None:
            libc = ctypes.CDLL(None, use_errno=True)
            attr = (ctypes.c_uint8 * 16)()  # union bpf_attr: enable_stats.type = RUN_TIME (0)
            attr[0] = BPF_STATS_RUN_TIME
            fd = libc.syscall(nr, BPF_ENABLE_STATS, attr, ctypes.sizeof(attr))
            if fd >= 0:
                self.fd = fd
                return
        knob = Path("/proc/sys/kernel/bpf_stats_enabled")
        self.sysctl_old = knob.read_text().strip()
        knob.write_text("1\n")

    def close(self) -> None:
        """Stop holding the statistics on."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.sysctl_old is not None:
            Path("/proc/sys/kernel/bpf_stats_enabled").write_text(self.sysctl_old + "\n")
            self.sysctl_old = None

    @property
    def how(self) -> str:
        """How the statistics were enabled, for the report."""
        return "BPF_ENABLE_STATS fd" if self.fd is not None else "sysctl kernel.bpf_stats_enabled=1"


def _fdinfo(pid: int, fd: str) -> dict[str, str]:
    """Parse /proc/PID/fdinfo/FD into a dict (missing fd: empty dict)."""
    try:
        text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    return out


def bpf_objects(pid: int) -> tuple[dict[int, dict[str, str]], dict[int, dict[str, str]]]:
    """Return the BPF programs and maps a process holds, keyed by id, with their fdinfo.

    Reading the process's own fds (rather than diffing ``bpftool prog show``)
    is immune to other BPF users on the machine.  fdinfo of a program carries
    its ``run_time_ns`` and ``run_cnt``; fdinfo of a map its ``memlock``.
    """
    progs: dict[int, dict[str, str]] = {}
    maps: dict[int, dict[str, str]] = {}
    for link in glob.glob(f"/proc/{pid}/fd/*"):
        try:
            target = os.readlink(link)
        except OSError:
            continue
        fd = os.path.basename(link)
        if target == "anon_inode:bpf-prog":
            info = _fdinfo(pid, fd)
            if "prog_id" in info:
                progs[int(info["prog_id"])] = info
        elif target == "anon_inode:bpf-map":
            info = _fdinfo(pid, fd)
            if "map_id" in info:
                maps[int(info["map_id"])] = info
    return progs, maps


def jited_bytes(prog_ids: list[int]) -> int | None:
    """Total JITed size of the programs, from bpftool (None when bpftool is missing)."""
    if not prog_ids or not shutil.which("bpftool"):
        return None
    total = 0
    for pid in prog_ids:
        res = subprocess.run(
            ["bpftool", "prog", "show", "id", str(pid), "-j"],
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            return None
        total += int(json.loads(res.stdout).get("bytes_jited", 0))
    return total


def rss_kb(pid: int) -> int:
    """Current resident set size of a process in KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ns(pid: int) -> int:
    """CPU time (user + system) of all threads of a process, in ns, from schedstat."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(Path(path).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def wait_idle(pid: int, timeout: float = 10.0) -> None:
    """Wait until a tool stops using CPU (it has consumed every queued event)."""
    deadline = time.monotonic() + timeout
    last = cpu_ns(pid)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = cpu_ns(pid)
        if now - last < 1_000_000:
            return
        last = now


# ---------------------------------------------------------------------------
# One run of one tracer on one script
# ---------------------------------------------------------------------------


@dataclass
class Sample:
    """What one run of a tracer measured; times in seconds, sizes in KiB or bytes."""

    tracer: str
    script: str
    attach_s: float | None = None
    exit_s: float | None = None
    stop_s: float | None = None
    peak_rss_kb: int | None = None
    rss_kb: int | None = None
    map_memlock: int | None = None
    nprogs: int | None = None
    insns: int | None = None
    jited: int | None = None
    run_cnt: int | None = None
    run_time_ns: int | None = None
    workload_cpu_s: float | None = None
    user_cpu_ns: int | None = None
    seen: int | None = None
    error: str | None = None

    @property
    def ns_per_event(self) -> float | None:
        """Mean in-kernel run time of the tool's programs per run."""
        if not self.run_cnt or self.run_time_ns is None:
            return None
        return self.run_time_ns / self.run_cnt


class StderrReader:
    """Reads a tracer's stderr: waits for the "Attached" line, then drains in the background.

    :meth:`close` must be called once the tracer is gone: it stops the drain
    thread before closing the pipe, so that a thread still reading an old fd
    number can never steal the next tracer's stderr when the number is reused.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stderr is not None
        self.pipe = proc.stderr
        self.fd = proc.stderr.fileno()
        self.data = bytearray()
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()

    def wait_attached(self, deadline_ns: int) -> int | None:
        """Return the monotonic time (ns) "Attached" arrived, None on EOF or timeout."""
        while True:
            left = (deadline_ns - time.monotonic_ns()) / 1e9
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.data += chunk
            if re.search(rb"(^|\n)Attached \d+ probes?\n", self.data):
                return time.monotonic_ns()

    def drain(self) -> None:
        """Keep reading stderr in a thread so the tracer never blocks on it."""

        def loop() -> None:
            while not self.stop.is_set():
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if not ready:
                    continue
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    return
                self.data += chunk

        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Read what is left (the tracer has exited), stop the thread, close the pipe."""
        if self.thread is not None:
            self.thread.join(timeout=2)
            self.stop.set()
            self.thread.join()
            self.thread = None
        self.pipe.close()

    def text(self) -> str:
        """Everything read so far, decoded (call after :meth:`close`)."""
        return self.data.decode(errors="replace")


def read_result(path: Path) -> dict[str, int]:
    """Parse the launcher's RESULT file ("key value" lines)."""
    out: dict[str, int] = {}
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            out[k] = int(v)
    except (OSError, ValueError):
        pass
    return out


def tracer_pid(path: Path, timeout: float = 5.0) -> int:
    """The tracer's pid, which the launcher writes right after fork."""
    deadline = time.monotonic() + timeout
    while True:
        res = read_result(path)
        if "pid" in res:
            return res["pid"]
        if time.monotonic() > deadline:
            raise RuntimeError(f"launcher wrote no pid to {path}")
        time.sleep(0.001)


def _finish(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for the launcher; kill the whole session (launcher and tracer) on timeout."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def run_workload(script: Script, events: int) -> float:
    """Run the workload for a script; return the CPU time (user + system) it used, in s.

    CPU time rather than wall time: the BPF programs run in the workload's
    context and are charged to its system time, while waiting for a CPU that
    another process holds (a shared, busy machine) is not.
    """
    args = [a.replace("{n}", str(events)) for a in script.workload]
    proc = subprocess.Popen([str(WORKLOAD_BIN), *args], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"workload {' '.join(args)} failed with status {proc.returncode}")
    return usage.ru_utime + usage.ru_stime


def run_tracer(setup: Setup, tracer: str, script: Script, events: int) -> Sample:
    """Start a tracer on a script, drive it with the workload, stop it; measure everything."""
    cmd = setup.command(tracer, script)
    sample = Sample(tracer, script.name)
    result = setup.work / "result"
    launcher = [str(setup.spawn), str(result)]
    if cmd.chroot is not None:
        launcher += ["-r", str(cmd.chroot), "-d", str(REPO_ROOT)]
    with tempfile.TemporaryFile(dir=setup.work) as out:
        proc = subprocess.Popen(
            [*launcher, "--", *cmd.argv],
            cwd=REPO_ROOT,
            env=cmd.env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.PIPE,
            start_new_session=True,  # the launcher and the tracer: one group to kill
        )
        err = StderrReader(proc)
        try:
            t_att = err.wait_attached(time.monotonic_ns() + int(ATTACH_TIMEOUT * 1e9))
            if t_att is None:
                _finish(proc, 0.5)
                err.close()
                sample.error = f"no 'Attached' line; exit {proc.returncode}: {err.text()[-500:]}"
                return sample
            err.drain()
            if script.exits_by_itself:
                _finish(proc, ATTACH_TIMEOUT)
            else:
                _drive(tracer_pid(result), sample, script, events)
                t_sig = time.monotonic_ns()
                os.kill(tracer_pid(result), signal.SIGINT)
                _finish(proc, STOP_TIMEOUT)
                sample.stop_s = (read_result(result).get("exit_ns", t_sig) - t_sig) / 1e9
        finally:
            if proc.returncode is None:
                _finish(proc, 0)
            err.close()
        res = read_result(result)
        sample.attach_s = (t_att - res["exec_ns"]) / 1e9 if "exec_ns" in res else None
        if script.exits_by_itself and "exit_ns" in res and "exec_ns" in res:
            sample.exit_s = (res["exit_ns"] - res["exec_ns"]) / 1e9
        sample.peak_rss_kb = res.get("maxrss_kb")
        out.seek(0)
        text = out.read().decode(errors="replace")
    rc = res.get("status", proc.returncode)
    if rc != 0:
        sample.error = f"exit status {rc}: {err.text()[-500:]}"
    else:
        sample.seen, problem = script.check(text, events)
        if problem:
            sample.error = f"wrong output: {problem}"
    return sample


def _drive(pid: int, sample: Sample, script: Script, events: int) -> None:
    """Run the workload under an attached tracer and read its BPF stats, RSS and CPU."""
    progs0, maps = bpf_objects(pid)
    cpu0 = cpu_ns(pid)
    sample.workload_cpu_s = run_workload(script, events)
    wait_idle(pid)
    sample.user_cpu_ns = cpu_ns(pid) - cpu0
    progs1, maps = bpf_objects(pid)
    sample.rss_kb = rss_kb(pid)
    sample.nprogs = len(progs1)
    sample.insns = sum(int(p.get("verified_insns", 0)) for p in progs1.values())
    sample.map_memlock = sum(int(m.get("memlock", 0)) for m in maps.values())
    cnt = tim = 0
    for prog_id, after in progs1.items():
        before = progs0.get(prog_id, {})
        cnt += int(after.get("run_cnt", 0)) - int(before.get("run_cnt", 0))
        tim += int(after.get("run_time_ns", 0)) - int(before.get("run_time_ns", 0))
    sample.run_cnt, sample.run_time_ns = cnt, tim
    sample.jited = jited_bytes(sorted(progs1))


# ---------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------


def prepare(args: argparse.Namespace, scripts: list[Script]) -> Setup:
    """Check prerequisites, build the workload and bt2c's tools, set up the chroot mounts."""
    if os.geteuid() != 0:
        sys.exit("bench: needs root (loads BPF programs)")
    ref = Path(args.reference)
    if not ref.exists():
        sys.exit(f"bench: reference bpftrace wrapper {ref} not found")
    if not WORKLOAD_BIN.exists() or WORKLOAD_BIN.stat().st_mtime < WORKLOAD_SRC.stat().st_mtime:
        subprocess.run(
            ["gcc", "-O2", "-static", "-o", str(WORKLOAD_BIN), str(WORKLOAD_SRC)], check=True
        )
    # The wrapper creates the chroot's mounts (/proc, /sys, /dev, /tmp, $PWD) on each call;
    # a mount left by an earlier clone at this path is replaced first.
    root = Path(args.reference_root)
    see_directory(root, REPO_ROOT)
    subprocess.run([str(ref), "--version"], cwd=REPO_ROOT, check=True, capture_output=True)
    if not (root / "usr" / "bin" / "bpftrace").exists():
        sys.exit(f"bench: no bpftrace in the reference chroot {root}")
    # Scripts live under /tmp: the chroot sees the host's /tmp at the same path.
    work = Path(tempfile.mkdtemp(prefix="bt2c-bench-", dir="/tmp"))
    spawn = work / "spawn"
    subprocess.run(
        ["gcc", "-O2", "-Wall", "-o", str(spawn), str(BENCH_DIR / "spawn.c")], check=True
    )
    setup = Setup(work, ref, root, work / "cache", spawn)
    for s in scripts:
        path = work / f"{s.name}.bt"
        path.write_text(s.text)
        setup.scripts[s.name] = path
        outdir = work / "build" / s.name
        res = subprocess.run(
            [sys.executable, "-m", "bt2c", "build", str(path), "-o", str(outdir)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if res.returncode != 0:
            sys.exit(f"bench: bt2c build {s.name} failed:\n{res.stdout}{res.stderr}")
        setup.tools[s.name] = outdir / s.name
    return setup


def _run(argv: list[str], cwd: Path = REPO_ROOT) -> str:
    """Output of a command, or '?' when it fails."""
    try:
        res = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
        return (res.stdout or res.stderr).strip() or "?"
    except OSError:
        return "?"


def loadavg() -> str:
    """The 1-minute load average: other work on the machine shows up as noise."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except (OSError, IndexError):
        return "?"


def environment(setup: Setup, stats: BpfStats, args: argparse.Namespace) -> dict[str, str]:
    """Describe the machine and versions, for the report (taken when the tools are built)."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    if _run(["git", "status", "--porcelain", "--", "bt2c", "templates"]) not in ("?", ""):
        commit += " + uncommitted changes in bt2c/ or templates/"
    ver = _run([str(setup.ref_wrapper), "--version"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": f"{cpu} x {os.cpu_count()}",
        "bpftrace": ver.splitlines()[-1] if ver else "?",
        "bt2c": commit,
        "clang": _run(["sh", "-c", "ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -V | tail -1"]),
        "python": platform.python_version(),
        "repetitions": str(args.reps),
        "events": str(args.events),
        "bpf stats": stats.how,
        "load average (1 min) before / after": loadavg(),
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def median(values: list[float | None]) -> float | None:
    """Median of the known values, None when there are none."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def ratio(a: float | None, b: float | None) -> str:
    """Format a / b (bt2c over bpftrace) for the tables."""
    if a is None or b is None or b == 0:
        return "–"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def fmt(v: float | None, scale: float = 1.0, digits: int = 1) -> str:
    """Format a number after scaling, or a dash when unknown."""
    return "–" if v is None else f"{v * scale:.{digits}f}"


class Results:
    """All samples of a run, with medians per (tracer, script, metric)."""

    def __init__(self, scripts: list[Script], events: int) -> None:
        self.scripts = scripts
        self.events = events
        self.samples: list[Sample] = []
        self.baseline: dict[str, list[float]] = {}

    def med(self, tracer: str, script: str, metric: str) -> float | None:
        """Median of one metric over the error-free samples of a tracer on a script."""
        vals = [
            getattr(s, metric)
            for s in self.samples
            if s.tracer == tracer and s.script == script and s.error is None
        ]
        return median(vals)

    def overhead_ns(self, tracer: str, script: str) -> float | None:
        """Median extra CPU time of the workload per event under a tracer, in ns."""
        traced = self.med(tracer, script, "workload_cpu_s")
        base = median(list(self.baseline.get(script, [])))
        if traced is None or base is None:
            return None
        return (traced - base) / self.events * 1e9

    def per_event_cpu(self, tracer: str, script: str) -> float | None:
        """Median user-space CPU per event (tool consuming events), in ns."""
        v = self.med(tracer, script, "user_cpu_ns")
        return None if v is None else v / self.events

    def tables(self) -> str:
        """Markdown tables: start-up, memory, per-event cost."""
        ms, mb = 1e3, 1 / 1024
        lines = [
            "Start-up, wall time in ms (median). Ratio = bt2c / bpftrace, lower is better.",
            "",
            "| script | event | bt2c tool | bpftrace | ratio | bt2c run (warm) | ratio |",
            "|---|---|--:|--:|--:|--:|--:|",
        ]
        for s in self.scripts:
            rows = [("exec → Attached", "attach_s")]
            if s.exits_by_itself:
                rows.append(("exec → exit", "exit_s"))
            else:
                rows.append(("SIGINT → exit", "stop_s"))
            for label, metric in rows:
                t, b, r = (self.med(x, s.name, metric) for x in (BT2C, BPFTRACE, BT2C_RUN))
                lines.append(
                    f"| {s.name} | {label} | {fmt(t, ms)} | {fmt(b, ms)} | {ratio(t, b)} "
                    f"| {fmt(r, ms)} | {ratio(r, b)} |"
                )
        wrap = self.med(BPFTRACE_REF, "begin_exit", "exit_s")
        direct = self.med(BPFTRACE, "begin_exit", "exit_s")
        if wrap is not None and direct is not None:
            lines += [
                "",
                f"For comparison, begin_exit through the bpftrace-ref wrapper (bash, mount "
                f"checks, chroot, sh, bpftrace) takes {fmt(wrap, ms)} ms exec → exit, against "
                f"{fmt(direct, ms)} ms for bpftrace exec'ed in the chroot directly (above).",
            ]
        lines += [
            "",
            "Memory (median). Peak RSS is the tool's ru_maxrss; RSS after is VmRSS once the "
            "workload's events are consumed; BPF maps is the kernel memory charged for the "
            "tool's maps (fdinfo memlock).",
            "",
            "| script | peak RSS MiB bt2c | bpftrace | ratio | RSS after MiB bt2c | bpftrace "
            "| ratio | BPF maps KiB bt2c | bpftrace | ratio | peak RSS MiB bt2c run |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for s in self.scripts:
            pt, pb, pr = (self.med(x, s.name, "peak_rss_kb") for x in (BT2C, BPFTRACE, BT2C_RUN))
            rt, rb = (self.med(x, s.name, "rss_kb") for x in (BT2C, BPFTRACE))
            mt, mb_ = (self.med(x, s.name, "map_memlock") for x in (BT2C, BPFTRACE))
            lines.append(
                f"| {s.name} | {fmt(pt, mb)} | {fmt(pb, mb)} | {ratio(pt, pb)} "
                f"| {fmt(rt, mb)} | {fmt(rb, mb)} | {ratio(rt, rb)} "
                f"| {fmt(mt, 1 / 1024, 0)} | {fmt(mb_, 1 / 1024, 0)} | {ratio(mt, mb_)} "
                f"| {fmt(pr, mb)} |"
            )
        n = self.events
        lines += [
            "",
            f"In-kernel cost per event (median; workload of N = {n} syscalls). ns/run is "
            "run_time_ns / run_cnt summed over the tool's BPF programs while the workload "
            "ran (BPF run-time statistics on); runs counts other processes' events too. "
            "Insns is the verifier's processed-instruction count (verified_insns).",
            "",
            "| script | workload | runs bt2c | bpftrace | ns/run bt2c | bpftrace | ratio "
            "| insns bt2c | bpftrace | JIT bytes bt2c | bpftrace |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        traced = [s for s in self.scripts if not s.exits_by_itself]
        for s in traced:
            nt, nb = (self.med(x, s.name, "ns_per_event") for x in (BT2C, BPFTRACE))
            ct, cb = (self.med(x, s.name, "run_cnt") for x in (BT2C, BPFTRACE))
            it, ib = (self.med(x, s.name, "insns") for x in (BT2C, BPFTRACE))
            jt, jb = (self.med(x, s.name, "jited") for x in (BT2C, BPFTRACE))
            wl = " ".join(a.replace("{n}", "N") for a in s.workload)
            lines.append(
                f"| {s.name} | `{wl}` | {fmt(ct, 1, 0)} | {fmt(cb, 1, 0)} "
                f"| {fmt(nt)} | {fmt(nb)} | {ratio(nt, nb)} "
                f"| {fmt(it, 1, 0)} | {fmt(ib, 1, 0)} | {fmt(jt, 1, 0)} | {fmt(jb, 1, 0)} |"
            )
        lines += [
            "",
            "End-to-end cost per event (median). Reported is how many of the N workload "
            "events the tool's output accounts for (a printf-per-event script loses records "
            "when the ring buffer fills); workload CPU is the workload's extra CPU time per "
            "syscall against an untraced run; tool CPU is the tracer process's own CPU time "
            "(all threads) per event, from the workload's start until it is idle again.",
            "",
            "| script | reported bt2c | bpftrace | workload CPU ns/syscall bt2c | bpftrace | ratio "
            "| tool CPU ns/event bt2c | bpftrace | ratio |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for s in traced:
            st, sb = (self.med(x, s.name, "seen") for x in (BT2C, BPFTRACE))
            ot, ob = (self.overhead_ns(x, s.name) for x in (BT2C, BPFTRACE))
            ut, ub = (self.per_event_cpu(x, s.name) for x in (BT2C, BPFTRACE))
            lines.append(
                f"| {s.name} | {fmt(st, 1, 0)} | {fmt(sb, 1, 0)} "
                f"| {fmt(ot)} | {fmt(ob)} | {ratio(ot, ob)} "
                f"| {fmt(ut)} | {fmt(ub)} | {ratio(ut, ub)} |"
            )
        return "\n".join(lines)

    def errors(self) -> list[str]:
        """One line per failed sample."""
        return [f"{s.tracer} on {s.script}: {s.error}" for s in self.samples if s.error]


def render(results: Results, env: dict[str, str], command: str) -> str:
    """The full report: environment, command, tables, scripts."""
    parts = [f"Command: `{command}`", ""]
    parts += [f"- {k}: {v}" for k, v in env.items()]
    parts += ["", results.tables(), "", "Scripts:", ""]
    for s in results.scripts:
        wl = " ".join(a.replace("{n}", "N") for a in s.workload) or "(none: exits by itself)"
        parts.append(f"- **{s.name}** ({s.what}; workload `{wl}`): `{s.text.strip()}`")
    errs = results.errors()
    if errs:
        parts += ["", "Errors:", ""] + [f"- {e}" for e in errs]
    return "\n".join(parts) + "\n"


def update_readme(report: str) -> None:
    """Replace the results section of bench/README.md with the new report."""
    text = README.read_text()
    start, end = text.find(RESULTS_BEGIN), text.find(RESULTS_END)
    if start < 0 or end < start:
        raise SystemExit(f"bench: {README} lacks the {RESULTS_BEGIN}/{RESULTS_END} markers")
    new = text[: start + len(RESULTS_BEGIN)] + "\n" + report + text[end:]
    README.write_text(new)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=7, help="repetitions per tracer and script")
    p.add_argument("--events", type=int, default=200_000, help="syscalls per workload run")
    p.add_argument(
        "--scripts", help="comma-separated subset of: " + ", ".join(s.name for s in SCRIPTS)
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 repetition, 20000 events, syscount and begin_exit only",
    )
    p.add_argument("--json", type=Path, help="also write every sample to this JSON file")
    p.add_argument("--update-readme", action="store_true", help="rewrite bench/README.md's results")
    p.add_argument("--reference", default=str(default_reference()), help="bpftrace-ref wrapper")
    p.add_argument(
        "--reference-root", default=str(default_reference_root()), help="the wrapper's chroot"
    )
    p.add_argument("--keep", action="store_true", help="keep the work directory under /tmp")
    args = p.parse_args(argv)
    if args.quick:
        args.reps = 1
        args.events = 20_000
        args.scripts = args.scripts or "syscount,begin_exit"
    if args.reps < 1 or args.events < 1:
        p.error("--reps and --events must be positive")
    return args


def select_scripts(names: str | None) -> list[Script]:
    """The scripts named on the command line, all by default."""
    if not names:
        return list(SCRIPTS)
    by_name = {s.name: s for s in SCRIPTS}
    wanted = [n.strip() for n in names.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in by_name]
    if unknown:
        raise SystemExit(f"bench: unknown script(s) {', '.join(unknown)}")
    return [by_name[n] for n in wanted]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit status 1 if any tool failed or printed wrong output."""
    args = parse_args(argv)
    scripts = select_scripts(args.scripts)
    setup = prepare(args, scripts)
    stats = BpfStats()
    results = Results(scripts, args.events)
    env = environment(setup, stats, args)
    try:
        tracers = [BT2C, BPFTRACE, BT2C_RUN]
        # Warm-up round, not recorded: page cache, bt2c's run cache, the wrapper's mounts.
        for s in scripts:
            for t in tracers:
                warm = run_tracer(setup, t, s, min(args.events, 1000))
                if warm.error:
                    results.samples.append(warm)
        for rep in range(args.reps):
            order = tracers[rep % len(tracers) :] + tracers[: rep % len(tracers)]
            for s in scripts:
                if s.workload:
                    results.baseline.setdefault(s.name, []).append(run_workload(s, args.events))
                for t in order:
                    sample = run_tracer(setup, t, s, args.events)
                    results.samples.append(sample)
                    print(
                        f"[{rep + 1}/{args.reps}] {s.name:<10} {t:<9} "
                        + (
                            "ERROR " + sample.error
                            if sample.error
                            else f"attach {fmt(sample.attach_s, 1e3)} ms"
                        ),
                        file=sys.stderr,
                    )
                if s.exits_by_itself:
                    results.samples.append(run_tracer(setup, BPFTRACE_REF, s, args.events))
        env["load average (1 min) before / after"] += f" / {loadavg()}"
    finally:
        stats.close()
        if not args.keep:
            shutil.rmtree(setup.work, ignore_errors=True)
    command = "python3 bench/run.py " + " ".join(
        a for a in (argv if argv is not None else sys.argv[1:]) if a != "--update-readme"
    )
    report = render(results, env, command.strip())
    print(report)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "environment": env,
                    "baseline_workload_cpu_s": results.baseline,
                    "samples": [asdict(s) for s in results.samples],
                },
                indent=1,
            )
        )
    if args.update_readme:
        update_readme(report)
    errs = results.errors()
    for e in errs:
        print(f"bench: {e}", file=sys.stderr)
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
