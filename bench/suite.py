"""The benchmark suite of issue 9: bt2c's tools against bpftrace, in one run.

``python3 -m bench`` (as root, from the repository root) measures, for the
scripts of bench/scripts.py, and always against the reference bpftrace
v0.27.1 in the same run (medians of several repetitions, reported as ratios
bt2c / bpftrace):

* build: ``bt2c transpile`` and ``bt2c build`` (host; other architectures
  where ``--arch`` offers them) against ``bpftrace --aot``;
* size: the built tool and its shared libraries other than glibc's, against
  bpftrace's AOT binary and bpftrace itself (with theirs);
* start-up: exec to "Attached N probes" and to the first line of output, and
  peak RSS, for the tool, ``bt2c run`` (warm cache), bpftrace and bpftrace's
  AOT binary;
* in-kernel cost per event (BPF run-time statistics of the tracers' own
  programs) over 1 000 000 workload events, with the verifier's instruction
  counts;
* loss: a printf per event at increasing rates (bench/pacer.c): records
  printed, and losses reported by the tool itself.

It writes docs/benchmarks.md (the tables, the goals met or missed), a PNG
plot and the raw samples as JSON.  ``--quick`` is the smoke test used by
tests/test_bench.py (seconds).  The measuring machinery that run.py already
had (the launcher bench/spawn.c, BPF statistics, fdinfo) is reused from it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import run as base
from bench.refroot import see_directory
from bench.scripts import (
    COST_SCRIPTS,
    LOSS_SCRIPT,
    PACER,
    READY,
    START_SCRIPTS,
    CostScript,
    StartScript,
)

REPO_ROOT = base.REPO_ROOT
BENCH_DIR = base.BENCH_DIR
DOCS = REPO_ROOT / "docs"

BT2C, BT2C_RUN, BPFTRACE = base.BT2C, base.BT2C_RUN, base.BPFTRACE
AOT = "bpftrace --aot"
#: glibc's own libraries: not counted as dependencies (every C program has them).
GLIBC = re.compile(r"^(libc|libm|libpthread|libdl|librt|ld-linux[-\w]*)\.so")
ANALYSIS_BEGIN, ANALYSIS_END = "<!-- analysis:begin -->", "<!-- analysis:end -->"
#: Architectures a full ``--arch all`` build covers (the goal is stated for six).
ALL_ARCHES = 6

# ---------------------------------------------------------------------------
# Set-up
# ---------------------------------------------------------------------------


@dataclass
class Suite:
    """Paths shared by every measurement, and what the suite found available."""

    work: Path
    ref: Path
    ref_root: Path
    spawn: Path
    pacer: Path
    workload: Path  # a copy under /tmp: the chroot sees /tmp at the same path
    start: list[StartScript] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)  # script name -> .bt
    tools: dict[str, Path] = field(default_factory=dict)  # script name -> built tool
    aot: dict[str, Path] = field(default_factory=dict)  # script name -> AOT binary
    base_setup: base.Setup | None = None

    def bt2c(self, *args: str) -> list[str]:
        """argv of this checkout's bt2c (``python3 -m bt2c`` from the repository root)."""
        return [sys.executable, "-m", "bt2c", *args]


def _compile(src: Path, out: Path, *extra: str) -> None:
    subprocess.run(["gcc", "-O2", "-Wall", *extra, "-o", str(out), str(src)], check=True)


def prepare(args: argparse.Namespace) -> Suite:
    """Check prerequisites; build the launcher, pacer, workload; write the scripts."""
    if os.geteuid() != 0:
        sys.exit("bench: needs root (loads BPF programs)")
    ref = Path(args.reference)
    if not ref.exists():
        sys.exit(f"bench: reference bpftrace wrapper {ref} not found")
    root = Path(args.reference_root)
    see_directory(root, REPO_ROOT)  # bpftrace --aot reads the scripts from the checkout
    subprocess.run([str(ref), "--version"], cwd=REPO_ROOT, check=True, capture_output=True)
    work = Path(tempfile.mkdtemp(prefix="bt2c-suite-", dir="/tmp"))
    suite = Suite(work, ref, root, work / "spawn", work / PACER, work / "workload")
    _compile(BENCH_DIR / "spawn.c", suite.spawn)
    _compile(BENCH_DIR / "pacer.c", suite.pacer)
    _compile(base.WORKLOAD_SRC, suite.workload, "-static")
    if not base.WORKLOAD_BIN.exists() or (
        base.WORKLOAD_BIN.stat().st_mtime < base.WORKLOAD_SRC.stat().st_mtime
    ):
        shutil.copy2(suite.workload, base.WORKLOAD_BIN)
    names = set(args.scripts.split(",")) if args.scripts else None
    for s in START_SCRIPTS:
        if names is not None and s.name not in names:
            continue
        path = work / f"{s.name}.bt"
        path.write_text(s.text(str(suite.workload)))
        if s.needs_uprobes:
            check = subprocess.run(suite.bt2c("transpile", str(path), "-o", str(work / "probe")),
                                   cwd=REPO_ROOT, capture_output=True, text=True, check=False)
            if check.returncode != 0:
                suite.skipped[s.name] = "bt2c does not support uprobes yet: " + (
                    check.stderr.strip().splitlines() or ["?"])[0]
                continue
        suite.paths[s.name] = path
        suite.start.append(s)
    return suite


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's reaped children so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


#: CPU seconds of the last _timed() command and its children (clang, gcc, ...).
LAST_CPU = [0.0]


def _timed(argv: list[str], **kw: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Run a command; (wall seconds, result).  Its CPU time goes to LAST_CPU[0].

    The CPU time does not grow when other work on the machine delays the
    command, so it shows what the wall time would be on an idle machine
    (the build steps run one after the other).
    """
    c0, t0 = _children_cpu(), time.monotonic()
    res = subprocess.run(argv, capture_output=True, text=True, check=False,
                         **kw)  # type: ignore[call-overload]
    LAST_CPU[0] = _children_cpu() - c0
    return time.monotonic() - t0, res


def _aot_argv(suite: Suite, out: Path, script: Path) -> list[str]:
    """bpftrace --aot, exec'ed inside the reference chroot (as bpftrace is, below)."""
    return ["chroot", str(suite.ref_root), "sh", "-c",
            f'cd "{REPO_ROOT}" && exec /usr/bin/bpftrace --aot "{out}" "{script}"']


# ---------------------------------------------------------------------------
# Build and transpile times, sizes
# ---------------------------------------------------------------------------


@dataclass
class BuildTimes:
    """Seconds per script and step, every repetition."""

    transpile: dict[str, list[float]] = field(default_factory=dict)
    build: dict[str, list[float]] = field(default_factory=dict)
    aot: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # "transpile:NAME", ...
    arch_host: list[float] = field(default_factory=list)
    arch_parallel: list[float] = field(default_factory=list)
    arches: list[str] = field(default_factory=list)
    arch_note: str = ""
    aot_failed: dict[str, str] = field(default_factory=dict)  # script -> bpftrace's error
    errors: list[str] = field(default_factory=list)


def _first_error(stderr: str) -> str:
    """The first ERROR line of bpftrace's diagnostics (they run over many lines)."""
    for line in stderr.splitlines():
        if "ERROR:" in line:
            return line[line.index("ERROR:"):].strip()
    return stderr.strip()[-200:]


def measure_builds(suite: Suite, reps: int) -> BuildTimes:
    """Time transpile, build and bpftrace --aot for every start-up script, ``reps`` times."""
    bt = BuildTimes()
    env = dict(os.environ, BT2C_CACHE=str(suite.work / "cache"))
    for rep in range(reps):
        for s in suite.start:
            path = suite.paths[s.name]
            t, res = _timed(suite.bt2c("transpile", str(path), "-o",
                                       str(suite.work / "tr" / s.name)), cwd=REPO_ROOT, env=env)
            if res.returncode:
                bt.errors.append(f"transpile {s.name}: {res.stderr.strip()[-300:]}")
            bt.transpile.setdefault(s.name, []).append(t)
            bt.cpu.setdefault(f"transpile:{s.name}", []).append(LAST_CPU[0])
            out = suite.work / "build" / s.name
            t, res = _timed(suite.bt2c("build", str(path), "-o", str(out)), cwd=REPO_ROOT,
                            env=env)
            if res.returncode:
                bt.errors.append(f"build {s.name}: {res.stderr.strip()[-300:]}")
            else:
                suite.tools[s.name] = out / s.name
            bt.build.setdefault(s.name, []).append(t)
            bt.cpu.setdefault(f"build:{s.name}", []).append(LAST_CPU[0])
            aot = suite.work / "aot" / s.name
            aot.parent.mkdir(exist_ok=True)
            t, res = _timed(_aot_argv(suite, aot, path))
            if res.returncode or not aot.exists():
                bt.aot_failed[s.name] = _first_error(res.stderr)
                continue  # the time to fail is no build time
            suite.aot[s.name] = aot
            bt.aot.setdefault(s.name, []).append(t)
            bt.cpu.setdefault(f"aot:{s.name}", []).append(LAST_CPU[0])
        print(f"[build {rep + 1}/{reps}] done", file=sys.stderr)
    measure_arches(suite, bt, reps)
    return bt


def measure_arches(suite: Suite, bt: BuildTimes, reps: int) -> None:
    """Host build against building every architecture, for the 50-line script.

    ``bt2c build --arch all`` where bt2c has it (it builds the architectures in
    parallel itself); otherwise one ``bt2c build --arch A`` per architecture it
    offers, all started together.  The note says what was built: a BPF object
    for each architecture, a loader where a cross compiler and the target's
    libraries are installed.
    """
    big = next((s for s in suite.start if s.name == "probes20"), None)
    if big is None:
        return
    path = suite.paths[big.name]
    _, probe = _timed(suite.bt2c("build", "--help"), cwd=REPO_ROOT)
    m = re.search(r"--arch\b(.*?)(?:\n[\s│|]*--|\Z)", probe.stdout, re.S)
    section = m.group(1) if m else ""
    offered = list(dict.fromkeys(re.findall(
        r"\b(x86_64|arm64|riscv64|s390x|powerpc64le|ppc64le|loongarch64)\b", section)))
    use_all = re.search(r"\ball\b", section) is not None
    runs = [["all"]] if use_all else [[a] for a in offered]
    bt.arches = ["all"] if use_all else offered
    out_all = suite.work / "arch-all"
    for _ in range(reps):
        t, res = _timed(suite.bt2c("build", str(path), "-o", str(suite.work / "arch-host")),
                        cwd=REPO_ROOT)
        bt.arch_host.append(t)
        bt.cpu.setdefault("arch_host", []).append(LAST_CPU[0])
        if not runs:
            continue
        shutil.rmtree(out_all, ignore_errors=True)
        t0, c0 = time.monotonic(), _children_cpu()
        procs = [subprocess.Popen(suite.bt2c("build", str(path), "--arch", ",".join(a), "-o",
                                             str(out_all if use_all else
                                                 suite.work / f"arch-{a[0]}")),
                                  cwd=REPO_ROOT, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for a in runs]
        for a, p in zip(runs, procs):
            _, err = p.communicate()
            if p.returncode:
                bt.errors.append(f"build --arch {a[0]}: {err.strip()[-300:]}")
        bt.arch_parallel.append(time.monotonic() - t0)
        bt.cpu.setdefault("arch_parallel", []).append(_children_cpu() - c0)
    if use_all:
        objs = sorted(out_all.glob(f"{big.name}.*.bpf.o"))
        arches = [o.name.split(".")[1] for o in objs]
        loaders = [a for a in arches if (out_all / f"{big.name}.{a}").exists()
                   or (out_all / big.name).exists() and a == platform.machine()]
        bt.arch_note = (f"`bt2c build --arch all`: BPF objects for {len(objs)} architectures "
                        f"({', '.join(arches)}), loaders for {len(loaders)} "
                        f"({', '.join(loaders)}; the others lack a cross compiler or the "
                        "target's libraries here)")
        bt.arches = arches
    else:
        bt.arch_note = (f"`bt2c build --arch A` for the {len(offered)} architecture(s) bt2c "
                        f"offers ({', '.join(offered) or 'none'}), started together")


def _deps(binary: Path, chroot: Path | None) -> dict[str, int]:
    """Shared libraries of a binary (ldd, in the chroot if given), but glibc's: name -> bytes."""
    argv = ["ldd", str(binary)]
    if chroot is not None:
        argv = ["chroot", str(chroot), *argv]
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    out: dict[str, int] = {}
    for line in res.stdout.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if not m or GLIBC.match(m.group(1)):
            continue
        real = Path(m.group(2))
        if chroot is not None:
            real = chroot / str(real).lstrip("/")
        try:
            out[m.group(1)] = real.resolve().stat().st_size
        except OSError:
            continue
    return out


@dataclass
class Sizes:
    """Bytes of each binary and of its non-glibc shared libraries."""

    binary: dict[str, int] = field(default_factory=dict)  # "bt2c:NAME", "aot:NAME", ...
    deps: dict[str, dict[str, int]] = field(default_factory=dict)


def measure_sizes(suite: Suite) -> Sizes:
    """Sizes of the tools, the AOT binaries, a static tool, and bpftrace itself."""
    sz = Sizes()
    for name, tool in suite.tools.items():
        sz.binary[f"bt2c:{name}"] = tool.stat().st_size
    for name, aot in suite.aot.items():
        sz.binary[f"aot:{name}"] = aot.stat().st_size
    if suite.tools:
        sz.deps["bt2c"] = _deps(next(iter(suite.tools.values())), None)
    if suite.aot:
        sz.deps["aot"] = _deps(next(iter(suite.aot.values())), suite.ref_root)
    bpftrace = suite.ref_root / "usr" / "bin" / "bpftrace"
    sz.binary["bpftrace"] = bpftrace.stat().st_size
    sz.deps["bpftrace"] = _deps(Path("/usr/bin/bpftrace"), suite.ref_root)
    if "counter" in suite.paths:
        out = suite.work / "static"
        res = subprocess.run(suite.bt2c("build", "--static", str(suite.paths["counter"]), "-o",
                                        str(out)), cwd=REPO_ROOT, capture_output=True,
                             check=False)
        if res.returncode == 0:
            sz.binary["bt2c-static:counter"] = (out / "counter").stat().st_size
    return sz


# ---------------------------------------------------------------------------
# Start-up and peak RSS
# ---------------------------------------------------------------------------


@dataclass
class StartSample:
    """One start of one tracer on one script (seconds from its execve())."""

    tracer: str
    script: str
    attach_s: float | None = None
    first_output_s: float | None = None
    exit_s: float | None = None
    peak_rss_kb: int | None = None
    error: str | None = None


def _command(suite: Suite, tracer: str, name: str) -> base.Command:
    """argv, environment and chroot of a tracer on a start-up script."""
    env = dict(os.environ)
    path = str(suite.paths[name])
    if tracer == BT2C:
        return base.Command([str(suite.tools[name])], env)
    if tracer == BT2C_RUN:
        env["BT2C_CACHE"] = str(suite.work / "cache")
        return base.Command([sys.executable, "-m", "bt2c", "run", path], env)
    if tracer == BPFTRACE:
        return base.Command(["/usr/bin/bpftrace", path], env, suite.ref_root)
    if tracer == AOT:
        return base.Command([str(suite.aot[name])], env, suite.ref_root)
    raise ValueError(tracer)


def start_once(suite: Suite, tracer: str, script: StartScript) -> StartSample:
    """Start a tracer; time "Attached" and the first stdout line; SIGINT it unless it exits."""
    sample = StartSample(tracer, script.name)
    cmd = _command(suite, tracer, script.name)
    result = suite.work / "result"
    launcher = [str(suite.spawn), str(result)]
    if cmd.chroot is not None:
        launcher += ["-r", str(cmd.chroot), "-d", str(REPO_ROOT)]
    proc = subprocess.Popen([*launcher, "--", *cmd.argv], cwd=REPO_ROOT, env=cmd.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    fds = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    t_att = t_out = None
    deadline = time.monotonic() + base.ATTACH_TIMEOUT
    open_fds = set(fds)
    try:
        while open_fds and (t_att is None or t_out is None) and time.monotonic() < deadline:
            ready, _, _ = select.select(list(open_fds), [], [], 1.0)
            # stderr first: "Attached" is written before the first output, and both may
            # be waiting in one round
            for fd in sorted(ready, key=lambda f: f != err_fd):
                chunk = os.read(fd, 65536)
                now = time.monotonic_ns()
                if not chunk:
                    open_fds.discard(fd)
                    continue
                fds[fd] += chunk
                if fd == out_fd and t_out is None and READY.encode() in fds[fd]:
                    t_out = now
                if fd == err_fd and t_att is None and re.search(
                        rb"(^|\n)Attached \d+ probes?\n", fds[fd]):
                    t_att = now
        if not script.exits_by_itself and t_att is not None and t_out is not None:
            os.kill(base.tracer_pid(result), signal.SIGINT)
        rest_out, rest_err = proc.communicate(timeout=base.STOP_TIMEOUT)
        fds[out_fd] += rest_out
        fds[err_fd] += rest_err
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        sample.error = "timed out"
    res = base.read_result(result)
    exec_ns = res.get("exec_ns")
    if exec_ns is not None:
        sample.attach_s = (t_att - exec_ns) / 1e9 if t_att else None
        sample.first_output_s = (t_out - exec_ns) / 1e9 if t_out else None
        if "exit_ns" in res:
            sample.exit_s = (res["exit_ns"] - exec_ns) / 1e9
    sample.peak_rss_kb = res.get("maxrss_kb")
    if sample.error is None and (t_att is None or t_out is None or res.get("status", 1) != 0):
        sample.error = (f"status {res.get('status')}, attached={t_att is not None}, "
                        f"output={t_out is not None}: "
                        + bytes(fds[err_fd]).decode(errors="replace")[-300:])
    return sample


def measure_startup(suite: Suite, reps: int) -> list[StartSample]:
    """Every tracer on every start-up script, interleaved, after a warm-up round."""
    tracers = [BT2C, BPFTRACE, AOT, BT2C_RUN]
    samples: list[StartSample] = []
    for s in suite.start:  # warm-up: page cache, bt2c run's cache
        for t in tracers:
            if _available(suite, t, s.name):
                start_once(suite, t, s)
    for rep in range(reps):
        order = tracers[rep % len(tracers):] + tracers[: rep % len(tracers)]
        for s in suite.start:
            for t in order:
                if _available(suite, t, s.name):
                    samples.append(start_once(suite, t, s))
        print(f"[start-up {rep + 1}/{reps}] done", file=sys.stderr)
    return samples


def _available(suite: Suite, tracer: str, name: str) -> bool:
    if tracer == BT2C:
        return name in suite.tools
    if tracer == AOT:
        return name in suite.aot
    return True


# ---------------------------------------------------------------------------
# In-kernel cost per event
# ---------------------------------------------------------------------------


def _as_base_script(c: CostScript) -> base.Script:
    return base.Script(c.name, c.text, c.workload, c.seen, c.what, lossy=c.lossy)


def measure_cost(suite: Suite, costs: list[CostScript], reps: int,
                 events: int) -> list[base.Sample]:
    """run.py's measurement (stats of the tracers' own programs) on the cost scripts."""
    setup = base.Setup(suite.work, suite.ref, suite.ref_root, suite.work / "cache", suite.spawn)
    for c in costs:
        path = suite.work / f"{c.name}.bt"
        path.write_text(c.text)
        setup.scripts[c.name] = path
        out = suite.work / "cost" / c.name
        res = subprocess.run(suite.bt2c("build", str(path), "-o", str(out)), cwd=REPO_ROOT,
                             capture_output=True, text=True, check=False)
        if res.returncode:
            sys.exit(f"bench: bt2c build {c.name} failed:\n{res.stderr}")
        setup.tools[c.name] = out / c.name
    suite.base_setup = setup
    samples: list[base.Sample] = []
    scripts = [_as_base_script(c) for c in costs]
    for s in scripts:  # warm-up
        for t in (BT2C, BPFTRACE):
            base.run_tracer(setup, t, s, 1000)
    for rep in range(reps):
        order = [BT2C, BPFTRACE] if rep % 2 == 0 else [BPFTRACE, BT2C]
        for s in scripts:
            for t in order:
                sample = base.run_tracer(setup, t, s, events)
                samples.append(sample)
                print(f"[cost {rep + 1}/{reps}] {s.name:<10} {t:<8} "
                      + (sample.error or f"{base.fmt(sample.ns_per_event)} ns/run"),
                      file=sys.stderr)
    return samples


# ---------------------------------------------------------------------------
# Loss: a printf per event at increasing rates
# ---------------------------------------------------------------------------


@dataclass
class LossSample:
    """One run of the loss script at one rate (0: as fast as the pacer can)."""

    tracer: str
    rate: int
    made: int = 0
    seconds: float = 0.0
    printed: int = 0
    lost_reported: int = 0
    run_cnt: int = 0
    run_time_ns: int = 0
    error: str | None = None

    @property
    def ns_per_event(self) -> float | None:
        """In-kernel ns per run of the tracer's program during the paced run."""
        return self.run_time_ns / self.run_cnt if self.run_cnt else None


def loss_once(suite: Suite, tracer: str, rate: int, ms: int) -> LossSample:
    """Start the tracer on LOSS_SCRIPT, run the pacer, stop; count printed and reported lost."""
    sample = LossSample(tracer, rate)
    path = suite.paths.get("loss") or suite.work / "loss.bt"
    if "loss" not in suite.paths:
        path.write_text(LOSS_SCRIPT)
        out = suite.work / "loss-build"
        subprocess.run(suite.bt2c("build", str(path), "-o", str(out)), cwd=REPO_ROOT,
                       check=True, capture_output=True)
        suite.paths["loss"], suite.tools["loss"] = path, out / "loss"
    env = dict(os.environ)
    if tracer == BT2C:
        argv, chroot = [str(suite.tools["loss"])], None
    else:
        argv, chroot = ["/usr/bin/bpftrace", str(path)], suite.ref_root
    result = suite.work / "result"
    launcher = [str(suite.spawn), str(result)]
    if chroot is not None:
        launcher += ["-r", str(chroot), "-d", str(REPO_ROOT)]
    with tempfile.TemporaryFile(dir=suite.work) as out:
        proc = subprocess.Popen([*launcher, "--", *argv], cwd=REPO_ROOT, env=env,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.PIPE,
                                start_new_session=True)
        err = base.StderrReader(proc)
        try:
            if err.wait_attached(time.monotonic_ns() + int(base.ATTACH_TIMEOUT * 1e9)) is None:
                base._finish(proc, 0.5)
                err.close()
                sample.error = "no Attached line: " + err.text()[-300:]
                return sample
            err.drain()
            pid = base.tracer_pid(result)
            progs0, _ = base.bpf_objects(pid)
            res = subprocess.run([str(suite.pacer), str(rate), str(ms)], capture_output=True,
                                 text=True, check=True)
            progs1, _ = base.bpf_objects(pid)
            for prog_id, after in progs1.items():
                before = progs0.get(prog_id, {})
                sample.run_cnt += int(after.get("run_cnt", 0)) - int(before.get("run_cnt", 0))
                sample.run_time_ns += (int(after.get("run_time_ns", 0))
                                       - int(before.get("run_time_ns", 0)))
            m = re.match(r"made (\d+) ns (\d+)", res.stdout)
            if m:
                sample.made, sample.seconds = int(m.group(1)), int(m.group(2)) / 1e9
            base.wait_idle(pid)
            os.kill(pid, signal.SIGINT)
            base._finish(proc, base.STOP_TIMEOUT)
        finally:
            if proc.returncode is None:
                base._finish(proc, 0)
            err.close()
        out.seek(0)
        text = out.read().decode(errors="replace")
    sample.printed = sum(1 for line in text.splitlines() if line.endswith(" " + PACER))
    sample.lost_reported = sum(int(n) for n in re.findall(r"^Lost (\d+) events", err.text(),
                                                          re.M))
    return sample


def measure_loss(suite: Suite, rates: list[int], ms: int, reps: int) -> list[LossSample]:
    """Both tracers at every rate, ``reps`` times."""
    samples = []
    for rep in range(reps):
        for rate in rates:
            for t in (BT2C, BPFTRACE) if rep % 2 == 0 else (BPFTRACE, BT2C):
                s = loss_once(suite, t, rate, ms)
                samples.append(s)
                print(f"[loss {rep + 1}/{reps}] {rate or 'max':>7} {t:<8} made {s.made} "
                      f"printed {s.printed} lost {s.lost_reported}", file=sys.stderr)
    return samples


# ---------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------


def med(values: list[float | None]) -> float | None:
    """Median of the known values."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


@dataclass
class Results:
    """Everything one run measured, with the environment it ran in."""

    env: dict[str, str]
    reps: int
    events: int
    builds: BuildTimes
    sizes: Sizes
    start: list[StartSample]
    cost: list[base.Sample]
    loss: list[LossSample]
    skipped: dict[str, str]
    scripts: dict[str, str]  # name -> text
    loss_ms: int = 1000

    def start_med(self, tracer: str, script: str, metric: str) -> float | None:
        """Median of a start-up metric over error-free samples."""
        return med([getattr(s, metric) for s in self.start
                    if s.tracer == tracer and s.script == script and s.error is None])

    def cost_med(self, tracer: str, script: str, metric: str) -> float | None:
        """Median of a cost metric over error-free samples."""
        return med([getattr(s, metric) for s in self.cost
                    if s.tracer == tracer and s.script == script and s.error is None])

    def cost_scripts(self) -> list[CostScript]:
        """Cost scripts measured, in order."""
        names = {s.script for s in self.cost}
        return [c for c in COST_SCRIPTS if c.name in names]

    def start_names(self) -> list[str]:
        """Start-up scripts measured, in order."""
        return list(dict.fromkeys(s.script for s in self.start))

    def deps_total(self, who: str) -> int:
        """Bytes of a binary kind's non-glibc libraries."""
        return sum(self.sizes.deps.get(who, {}).values())


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, None when unknown."""
    return None if a is None or not b else a / b


def fr(r: float | None) -> str:
    """A ratio for the tables."""
    if r is None:
        return "–"
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def fn(v: float | None, scale: float = 1.0, digits: int = 1) -> str:
    """A number for the tables."""
    return "–" if v is None else f"{v * scale:,.{digits}f}"


def mib(n: float | None) -> str:
    """Bytes as MiB."""
    return fn(n, 1 / 1048576, 2)


@dataclass
class Goal:
    """One goal of the issue: its target, what was measured, met or not."""

    what: str
    target: str
    measured: str
    met: bool | None  # None: could not be measured
    note: str = ""


def goals(res: Results) -> list[Goal]:
    """Evaluate the issue's goals on the medians of this run."""
    out: list[Goal] = []
    worst_att = worst_out = worst_rss = None
    for name in res.start_names():
        b = res.start_med(BPFTRACE, name, "attach_s")
        a = ratio(res.start_med(BT2C, name, "attach_s"), b)
        o = ratio(res.start_med(BT2C, name, "first_output_s"),
                  res.start_med(BPFTRACE, name, "first_output_s"))
        r = ratio(res.start_med(BT2C, name, "peak_rss_kb"),
                  res.start_med(BPFTRACE, name, "peak_rss_kb"))
        if a is not None and (worst_att is None or a > worst_att[0]):
            worst_att = (a, name)
        if o is not None and (worst_out is None or o > worst_out[0]):
            worst_out = (o, name)
        if r is not None and (worst_rss is None or r > worst_rss[0]):
            worst_rss = (r, name)
    for label, worst, target in (("start-up to \"Attached\"", worst_att, 0.2),
                                 ("start-up to first output", worst_out, 0.2),
                                 ("peak RSS", worst_rss, 0.1)):
        out.append(Goal(f"{label} (tool / bpftrace)", f"<= {fr(target)}",
                        f"{fr(worst[0])} at worst ({worst[1]})" if worst else "–",
                        None if worst is None else worst[0] <= target))
    tool = res.sizes.binary.get("bt2c:probes20") or res.sizes.binary.get("bt2c:counter")
    aot = res.sizes.binary.get("aot:probes20") or res.sizes.binary.get("aot:counter")
    if tool and aot:
        r = (tool + res.deps_total("bt2c")) / (aot + res.deps_total("aot"))
        out.append(Goal("binary + non-glibc libraries (tool / `bpftrace --aot` binary)",
                        "<= 0.10", f"{fr(r)} ({mib(tool + res.deps_total('bt2c'))} MiB / "
                        f"{mib(aot + res.deps_total('aot'))} MiB)", r <= 0.1))
    worse = []
    measured = []
    for c in res.cost_scripts():
        r = ratio(res.cost_med(BT2C, c.name, "ns_per_event"),
                  res.cost_med(BPFTRACE, c.name, "ns_per_event"))
        if r is None:
            continue
        measured.append(f"{c.name} {fr(r)}")
        if r > 1.0:
            worse.append(c.name)
    out.append(Goal("in-kernel ns per event (tool / bpftrace), each script", "<= 1.00",
                    ", ".join(measured) or "–", None if not measured else not worse,
                    f"above 1: {', '.join(worse)}" if worse else ""))
    host = med(res.builds.arch_host) or med(res.builds.build.get("probes20", []))
    chost = med(res.builds.cpu.get("arch_host", []))
    out.append(Goal("`bt2c build` (host) of the 50-line script", "< 3 s",
                    (f"{fn(host, 1, 2)} s wall, {fn(chost, 1, 2)} s CPU") if host else "–",
                    None if host is None else host < 3,
                    "" if host is None or host < 3 or chost is None or chost >= 3 else
                    "wall time stretched by the machine's load; the CPU time (idle-machine "
                    "wall time) is under 3 s"))
    par = med(res.builds.arch_parallel)
    if par is not None and host:
        n = len(res.builds.arches)
        full = res.builds.arch_note.startswith("`bt2c build --arch all`")
        out.append(Goal(f"all {ALL_ARCHES} architectures in parallel / host build", "< 2x",
                        f"{par / host:.2f}x ({fn(par, 1, 2)} s" + (")" if full else
                                                               f", {n} architectures)"),
                        (par / host < 2) if full else None,
                        res.builds.arch_note if full else
                        "not measurable: " + res.builds.arch_note))
    else:
        out.append(Goal(f"all {ALL_ARCHES} architectures in parallel / host build", "< 2x",
                        "–", None, res.builds.arch_note or "no cross build available"))
    return out


def tables(res: Results) -> list[str]:
    """The detailed tables, as markdown lines."""
    ms = 1e3
    L: list[str] = []
    names = res.start_names()
    L += ["## Start-up and peak RSS", "",
          "Wall time from the tracer's `execve()` to the `Attached N probes` line on stderr "
          "and to the first line of stdout (every script prints one from BEGIN), median; "
          "peak RSS is `ru_maxrss` from `wait4()`. bpftrace and its AOT binary run in the "
          "reference chroot, exec'ed directly (not through the wrapper script). "
          "Ratios: bt2c tool / bpftrace.", "",
          "| script | probes | to Attached ms: tool | bt2c run | bpftrace | AOT | ratio "
          "| to first output ms: tool | bpftrace | AOT | ratio "
          "| peak RSS MiB: tool | bt2c run | bpftrace | AOT | ratio |",
          "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for n in names:
        g = res.start_med
        att = [g(t, n, "attach_s") for t in (BT2C, BT2C_RUN, BPFTRACE, AOT)]
        out = [g(t, n, "first_output_s") for t in (BT2C, BPFTRACE, AOT)]
        rss = [g(t, n, "peak_rss_kb") for t in (BT2C, BT2C_RUN, BPFTRACE, AOT)]
        probes = _probes(res.scripts.get(n, ""))
        L.append(f"| {n} | {probes} | " + " | ".join(fn(v, ms) for v in att)
                 + f" | {fr(ratio(att[0], att[2]))} | "
                 + " | ".join(fn(v, ms) for v in out) + f" | {fr(ratio(out[0], out[1]))} | "
                 + " | ".join(fn(v, 1 / 1024) for v in rss)
                 + f" | {fr(ratio(rss[0], rss[2]))} |")
    for name, why in res.skipped.items():
        L.append(f"| {name} | – | {why} |" + " |" * 13)
    for name, why in res.builds.aot_failed.items():
        L += ["", f"No AOT figures for {name}: `bpftrace --aot` fails with `{why}`."]
    L += ["", "## Binary size", "",
          "Bytes on disk of the binary, and of the shared libraries it loads other than "
          "glibc's (libc, libm, ld.so: every C program has them), from `ldd` (in the "
          "reference chroot for bpftrace's binaries).", "",
          "| binary | binary MiB | libraries MiB | total MiB | total / AOT total |",
          "|---|--:|--:|--:|--:|"]
    aot_key = "aot:probes20" if "aot:probes20" in res.sizes.binary else "aot:counter"
    aot_total = res.sizes.binary.get(aot_key, 0) + res.deps_total("aot")
    for key, size in sorted(res.sizes.binary.items()):
        kind = key.split(":")[0]
        deps = {"bt2c": res.deps_total("bt2c"), "aot": res.deps_total("aot"),
                "bpftrace": res.deps_total("bpftrace")}.get(kind, 0)
        label = {"bt2c": "bt2c tool", "aot": "bpftrace --aot", "bpftrace": "bpftrace",
                 "bt2c-static": "bt2c tool, --static"}[kind]
        label += f" ({key.split(':')[1]})" if ":" in key else ""
        L.append(f"| {label} | {mib(size)} | {mib(deps)} | {mib(size + deps)} "
                 f"| {fr(ratio(size + deps, aot_total))} |")
    for who, deps in res.sizes.deps.items():
        L.append("")
        L.append(f"Libraries of {who}: " + ", ".join(
            f"{k} ({mib(v)})" for k, v in sorted(deps.items(), key=lambda kv: -kv[1])) + ".")
    L += ["", f"## In-kernel cost per event ({res.events:,} events)", "",
          "`run_time_ns / run_cnt` of the tracer's own BPF programs (read from its fds' "
          "fdinfo, so other BPF users do not count) over the workload, with BPF run-time "
          "statistics on; runs include other processes' events on those probes. insns: "
          "the verifier's `verified_insns`; JIT: bytes of JITed code.", "",
          "| script | workload | runs: bt2c | bpftrace | ns/run: bt2c | bpftrace | ratio "
          "| insns: bt2c | bpftrace | JIT B: bt2c | bpftrace | reported: bt2c | bpftrace "
          "| peak RSS MiB: bt2c | bpftrace |",
          "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for c in res.cost_scripts():
        g = res.cost_med
        nt, nb = g(BT2C, c.name, "ns_per_event"), g(BPFTRACE, c.name, "ns_per_event")
        wl = " ".join(a.replace("{n}", "N") for a in c.workload)
        L.append(f"| {c.name} | `{wl}` | {fn(g(BT2C, c.name, 'run_cnt'), 1, 0)} "
                 f"| {fn(g(BPFTRACE, c.name, 'run_cnt'), 1, 0)} | {fn(nt)} | {fn(nb)} "
                 f"| {fr(ratio(nt, nb))} | {fn(g(BT2C, c.name, 'insns'), 1, 0)} "
                 f"| {fn(g(BPFTRACE, c.name, 'insns'), 1, 0)} "
                 f"| {fn(g(BT2C, c.name, 'jited'), 1, 0)} "
                 f"| {fn(g(BPFTRACE, c.name, 'jited'), 1, 0)} "
                 f"| {fn(g(BT2C, c.name, 'seen'), 1, 0)} "
                 f"| {fn(g(BPFTRACE, c.name, 'seen'), 1, 0)} "
                 f"| {fn(g(BT2C, c.name, 'peak_rss_kb'), 1 / 1024)} "
                 f"| {fn(g(BPFTRACE, c.name, 'peak_rss_kb'), 1 / 1024)} |")
    L += ["", "## Events delivered and lost (a printf per event)", "",
          f"`{LOSS_SCRIPT.strip()}`, driven by bench/pacer.c making getpid() calls at a "
          f"fixed rate for {res.loss_ms} ms (\"max\": as fast as it can). Printed: lines "
          "on stdout; lost: the sum of the tracer's own `Lost N events` reports. "
          "Medians.", "",
          "| rate /s | made: bt2c run | bpftrace run | printed: bt2c | bpftrace "
          "| lost reported: bt2c | bpftrace | unaccounted: bt2c | bpftrace "
          "| in-kernel ns/run: bt2c | bpftrace | ratio |",
          "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for rate in dict.fromkeys(s.rate for s in res.loss):
        row = []
        for metric in ("made", "printed", "lost_reported"):
            for t in (BT2C, BPFTRACE):
                row.append(med([getattr(s, metric) for s in res.loss
                                if s.tracer == t and s.rate == rate and not s.error]))
        una = [None if row[i] is None else row[i] - row[2 + i] - row[4 + i] for i in (0, 1)]
        ns = [med([s.ns_per_event for s in res.loss
                   if s.tracer == t and s.rate == rate and not s.error]) for t in (BT2C, BPFTRACE)]
        L.append(f"| {rate or 'max'} | " + " | ".join(fn(v, 1, 0) for v in row + una)
                 + f" | {fn(ns[0])} | {fn(ns[1])} | {fr(ratio(ns[0], ns[1]))} |")
    lossless = lossless_rates(res)
    L += ["", "Highest rate delivered without loss: "
          + ", ".join(f"{t} {fn(v, 1, 0)}/s" for t, v in lossless.items()) + "."]
    L += ["", "## Transpile and build time", "",
          "Wall time, median, of `python3 -m bt2c transpile` and `python3 -m bt2c build` "
          "(clang -O2, bpftool skeleton, gcc, link) against `bpftrace --aot` (which also "
          "compiles the script to BPF and writes a binary). Ratio: bt2c build / bpftrace --aot.",
          "CPU is the user + system time of the command and its children (clang, "
          "bpftool, gcc): what the wall time would be on an idle machine, since the steps "
          "run one after the other.",
          "", "| script | lines | transpile s | CPU s | build s | CPU s | bpftrace --aot s "
          "| CPU s | ratio (wall) | ratio (CPU) |",
          "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for n in names:
        tr, bu, ao = (med(getattr(res.builds, k).get(n, [])) for k in ("transpile", "build",
                                                                        "aot"))
        ctr, cbu, cao = (med(res.builds.cpu.get(f"{k}:{n}", []))
                         for k in ("transpile", "build", "aot"))
        L.append(f"| {n} | {len(res.scripts.get(n, '').splitlines())} | {fn(tr, 1, 2)} "
                 f"| {fn(ctr, 1, 2)} | {fn(bu, 1, 2)} | {fn(cbu, 1, 2)} | {fn(ao, 1, 2)} "
                 f"| {fn(cao, 1, 2)} | {fr(ratio(bu, ao))} | {fr(ratio(cbu, cao))} |")
    host, par = med(res.builds.arch_host), med(res.builds.arch_parallel)
    chost, cpar = med(res.builds.cpu.get("arch_host", [])), med(res.builds.cpu.get(
        "arch_parallel", []))
    L += ["", f"Architectures (probes20): host build {fn(host, 1, 2)} s (CPU {fn(chost, 1, 2)} "
          f"s); {res.builds.arch_note}: {fn(par, 1, 2)} s (CPU {fn(cpar, 1, 2)} s, on "
          f"{os.cpu_count()} CPUs)."]
    return L


def lossless_rates(res: Results) -> dict[str, float | None]:
    """Per tracer: the highest paced rate at which every event was printed, in every run."""
    out: dict[str, float | None] = {}
    for t in (BT2C, BPFTRACE):
        best = None
        for rate in sorted({s.rate for s in res.loss if s.rate}):
            runs = [s for s in res.loss if s.tracer == t and s.rate == rate and not s.error]
            if runs and all(s.printed >= s.made for s in runs):
                best = rate
        out[t] = best
    return out


def _probes(text: str) -> int:
    """Probes in a script: one per probe header line (BEGIN/END count)."""
    return sum(1 for line in text.splitlines()
               if re.match(r"^(BEGIN|END|tracepoint:|uprobe:|uretprobe:)", line))


def markdown(res: Results, png: str | None, command: str, analysis: str) -> str:
    """docs/benchmarks.md."""
    env = res.env
    L = ["# Benchmarks: bt2c's tools against bpftrace", "",
         f"Generated by `{command}` (as root, from the repository root; `pip install -e "
         "'.[bench]'` for the plot). Every figure is the median of "
         f"{res.reps} repetitions, and every comparison is a ratio **bt2c / bpftrace "
         "measured in the same run** (lower is better, except for events delivered). "
         "The machine is shared with other work, so absolute times are noisy; the "
         "ratios are the result.", "",
         "| | |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in env.items()]
    L += ["", "## Goals", "", "| goal | target | measured | met |", "|---|---|---|---|"]
    for g in goals(res):
        met = "–" if g.met is None else ("yes" if g.met else "**no**")
        L.append(f"| {g.what} | {g.target} | {g.measured} | {met}"
                 + (f": {g.note}" if g.note else "") + " |")
    if png:
        L += ["", f"![ratios to bpftrace]({png})"]
    L += ["", ANALYSIS_BEGIN, analysis.strip("\n"), ANALYSIS_END, ""]
    L += tables(res)
    L += ["", "## Scripts", ""]
    for name, text in res.scripts.items():
        L += [f"**{name}**", "", "```", text.rstrip(), "```", ""]
    errs = [f"{s.tracer} on {s.script}: {s.error}" for s in [*res.start, *res.cost] if s.error]
    errs += [f"{s.tracer} at {s.rate}/s: {s.error}" for s in res.loss if s.error]
    errs += res.builds.errors
    if errs:
        L += ["## Errors during the run", ""] + [f"- {e}" for e in errs] + [""]
    return "\n".join(L)


def plot(res: Results, path: Path) -> None:
    """Four panels of ratios to bpftrace (log scale) with each goal drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = res.start_names()
    panels = []
    rows = []
    for n in names:
        rows.append((f"{n}: Attached", ratio(res.start_med(BT2C, n, "attach_s"),
                                             res.start_med(BPFTRACE, n, "attach_s"))))
        rows.append((f"{n}: first output", ratio(res.start_med(BT2C, n, "first_output_s"),
                                                 res.start_med(BPFTRACE, n, "first_output_s"))))
    panels.append(("start-up, tool / bpftrace", rows, 0.2))
    rows = [(n, ratio(res.start_med(BT2C, n, "peak_rss_kb"),
                      res.start_med(BPFTRACE, n, "peak_rss_kb"))) for n in names]
    tool = res.sizes.binary.get("bt2c:probes20") or res.sizes.binary.get("bt2c:counter")
    aot = res.sizes.binary.get("aot:probes20") or res.sizes.binary.get("aot:counter")
    if tool and aot:
        rows.append(("binary + libs / --aot", (tool + res.deps_total("bt2c"))
                     / (aot + res.deps_total("aot"))))
    panels.append(("peak RSS and size, tool / bpftrace", rows, 0.1))
    rows = [(c.name, ratio(res.cost_med(BT2C, c.name, "ns_per_event"),
                           res.cost_med(BPFTRACE, c.name, "ns_per_event")))
            for c in res.cost_scripts()]
    panels.append(("in-kernel ns per event, tool / bpftrace", rows, 1.0))
    rows = [(n, ratio(med(res.builds.build.get(n, [])), med(res.builds.aot.get(n, []))))
            for n in names]
    panels.append(("bt2c build / bpftrace --aot", rows, None))
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), dpi=110)
    for ax, (title, rows, goal) in zip(axes.flat, panels):
        rows = [(k, v) for k, v in rows if v is not None]
        labels = [k for k, _ in rows]
        values = [v for _, v in rows]
        colors = ["tab:green" if goal is None or v <= goal else "tab:red" for v in values]
        ax.barh(range(len(values)), values, color=colors)
        ax.set_yticks(range(len(values)))
        ax.set_yticklabels(labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="gray", lw=1)
        if goal is not None:
            ax.axvline(goal, color="black", ls="--", lw=1, label=f"goal <= {goal:g}")
            ax.legend(fontsize=8, loc="lower right")
        for i, v in enumerate(values):
            ax.annotate(fr(v), (v, i), xytext=(3, 0), textcoords="offset points",
                        va="center", fontsize=7)
        ax.set_title(title, fontsize=10)
        ax.grid(True, axis="x", alpha=0.3, which="both")
    fig.suptitle(f"bt2c / bpftrace v0.27.1, same run, medians of {res.reps} "
                 f"(load average {res.env.get('load average (1 min), start / end', '?')})",
                 fontsize=11)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(prog="python3 -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    p.add_argument("--cost-reps", type=int, default=3,
                   help="repetitions of the 1M-event cost runs (default 3)")
    p.add_argument("--events", type=int, default=1_000_000, help="events per cost run")
    p.add_argument("--rates", default="50000,100000,200000,400000,800000,0",
                   help="paced rates of the loss runs (0: as fast as possible)")
    p.add_argument("--scripts", help="comma-separated subset of the start-up scripts")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 repetition, 2 start-up scripts, 20000 events, one rate")
    p.add_argument("--out", type=Path, default=DOCS, help="directory of benchmarks.md (docs/)")
    p.add_argument("--no-plot", action="store_true", help="no PNG (without matplotlib)")
    p.add_argument("--reference", default=str(base.default_reference()))
    p.add_argument("--reference-root", default=str(base.default_reference_root()))
    p.add_argument("--keep", action="store_true", help="keep the work directory under /tmp")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.cost_reps, args.events = 1, 1, 20_000
        args.rates = "100000"
        args.scripts = args.scripts or "begin,counter"
    return args


def environment(suite: Suite, stats: base.BpfStats, args: argparse.Namespace) -> dict[str, str]:
    """Machine, versions, load."""
    env = base.environment(base.Setup(suite.work, suite.ref, suite.ref_root, suite.work,
                                      suite.spawn), stats, args)
    env.pop("repetitions", None)
    env.pop("events", None)
    env.pop("load average (1 min) before / after", None)
    env["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    env["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs"
    env["load average (1 min), start / end"] = base.loadavg()
    return env


def main(argv: list[str] | None = None) -> int:
    """Run everything; write OUT/benchmarks.{md,png,json}."""
    args = parse_args(argv)
    t0 = time.monotonic()
    suite = prepare(args)
    stats = base.BpfStats()
    try:
        env = environment(suite, stats, args)
        builds = measure_builds(suite, 1 if args.quick else min(args.reps, 3))
        sizes = measure_sizes(suite)
        start = measure_startup(suite, args.reps)
        costs = list(COST_SCRIPTS[:1] if args.quick else COST_SCRIPTS)
        cost = measure_cost(suite, costs, args.cost_reps, args.events)
        rates = [int(r) for r in args.rates.split(",") if r.strip()]
        loss = measure_loss(suite, rates, 300 if args.quick else 1000, 1)
        env["load average (1 min), start / end"] += f" / {base.loadavg()}"
        env["duration"] = f"{time.monotonic() - t0:.0f} s"
    finally:
        stats.close()
        if not args.keep:
            shutil.rmtree(suite.work, ignore_errors=True)
    res = Results(env, args.reps, args.events, builds, sizes, start, cost, loss,
                  suite.skipped, {s.name: s.text(str(suite.workload)) for s in suite.start},
                  loss_ms=300 if args.quick else 1000)
    for c in res.cost_scripts():
        res.scripts[c.name] = c.text
    args.out.mkdir(parents=True, exist_ok=True)
    md_path = args.out / "benchmarks.md"
    analysis = ""
    if md_path.exists():
        old = md_path.read_text()
        if ANALYSIS_BEGIN in old and ANALYSIS_END in old:
            analysis = old[old.index(ANALYSIS_BEGIN) + len(ANALYSIS_BEGIN):
                           old.index(ANALYSIS_END)]
    png = None
    if not args.no_plot:
        try:
            plot(res, args.out / "benchmarks.png")
            png = "benchmarks.png"
        except ImportError:
            print("bench: no matplotlib (pip install -e '.[bench]'): no plot", file=sys.stderr)
    command = " ".join(["python3 -m bench", *(sys.argv[1:] if argv is None else argv)])
    md_path.write_text(markdown(res, png, command.strip(), analysis))
    raw = asdict(res)
    (args.out / "benchmarks.json").write_text(json.dumps(raw, indent=1, default=str) + "\n")
    print(md_path.read_text())
    errors = [s for s in [*res.start, *res.cost] if s.error] + [s for s in loss if s.error]
    return 1 if errors or builds.errors else 0

