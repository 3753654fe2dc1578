"""The benchmarks (bench/run.py and the suite, python3 -m bench) must not rot.

The benchmarks themselves are not part of the test suite (they take minutes
and their figures are not pass/fail); this only checks that ``bench/run.py
--quick`` and ``python3 -m bench --quick`` still build, start, drive and stop
every tracer, that each one counted the workload's events, and that the
reports have their tables.  It needs root
(it loads BPF programs) and the reference bpftrace, and is skipped without
them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "bench" / "run.py"

#: The brief for this smoke test: well under a minute.
TIME_LIMIT = 60.0


def _load_bench() -> ModuleType:
    """Import bench/run.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bt2c_bench_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _load_bench()

if os.geteuid() != 0:
    pytest.skip("the benchmark loads BPF programs: needs root", allow_module_level=True)
if not bench.default_reference().exists():
    pytest.skip("no reference bpftrace (bpftrace-ref)", allow_module_level=True)


def test_quick_run(tmp_path: Path, kernel_mounts: None) -> None:
    """``bench/run.py --quick`` succeeds, measures every tracer and prints the tables."""
    out = tmp_path / "bench.json"
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--json", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        check=False,
    )
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert time.monotonic() - start < TIME_LIMIT
    data = json.loads(out.read_text())
    samples = data["samples"]
    assert not [s for s in samples if s["error"]]
    by = {(s["tracer"], s["script"]): s for s in samples}
    for tracer in (bench.BT2C, bench.BPFTRACE, bench.BT2C_RUN):
        attached = by[(tracer, "syscount")]
        assert attached["attach_s"] > 0
        assert attached["peak_rss_kb"] > 0
        assert attached["seen"] >= 20_000
        assert by[(tracer, "begin_exit")]["exit_s"] > 0
    for tracer in (bench.BT2C, bench.BPFTRACE):
        assert by[(tracer, "syscount")]["run_cnt"] >= 20_000, "BPF run-time stats not read"
    for heading in ("Start-up", "Memory", "In-kernel cost", "End-to-end cost"):
        assert heading in res.stdout
    assert "| syscount | exec → Attached |" in res.stdout


#: The suite's smoke mode (python3 -m bench --quick) builds 2 scripts three ways
#: (transpile, build, bpftrace --aot) and starts 4 tracers: about 30 s.
SUITE_TIME_LIMIT = 240.0


def test_suite_quick(tmp_path: Path, kernel_mounts: None) -> None:
    """``python3 -m bench --quick`` measures every section and writes the report."""
    start = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-plot", "--out", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SUITE_TIME_LIMIT,
        check=False,
    )
    assert res.returncode == 0, f"stdout:\n{res.stdout[-3000:]}\nstderr:\n{res.stderr[-3000:]}"
    assert time.monotonic() - start < SUITE_TIME_LIMIT
    report = (tmp_path / "benchmarks.md").read_text()
    for heading in ("## Goals", "## Start-up and peak RSS", "## Binary size",
                    "## In-kernel cost per event", "## Events delivered and lost",
                    "## Transpile and build time"):
        assert heading in report
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    by = {(s["tracer"], s["script"]): s for s in data["start"]}
    for tracer in (bench.BT2C, bench.BPFTRACE, "bpftrace --aot", bench.BT2C_RUN):
        sample = by[(tracer, "counter")]
        assert sample["error"] is None, sample
        # two pipes: their order is only as good as one poll round (a few ms at most)
        assert 0 < sample["attach_s"] <= sample["first_output_s"] + 0.01
        assert sample["peak_rss_kb"] > 0
    cost = {s["tracer"]: s for s in data["cost"]}
    for tracer in (bench.BT2C, bench.BPFTRACE):
        assert cost[tracer]["run_cnt"] >= 20_000, "BPF run-time stats not read"
        assert cost[tracer]["seen"] >= 20_000
    loss = {s["tracer"]: s for s in data["loss"]}
    for tracer in (bench.BT2C, bench.BPFTRACE):
        assert loss[tracer]["made"] > 0
        assert loss[tracer]["printed"] + loss[tracer]["lost_reported"] <= loss[tracer]["made"]
    assert data["sizes"]["binary"]["bt2c:counter"] > 0
    assert data["sizes"]["binary"]["aot:counter"] > 0
