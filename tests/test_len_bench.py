"""bench/len.py still runs: its --quick mode, end to end (one size, one repetition).

The benchmark itself is not a timed test; this only keeps the script from
rotting: every variant loads, takes the path it claims (the script checks the
xlated programs), answers len() correctly, and the report is written.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH = REPO_ROOT / "bench" / "len.py"
BPFTRACE_REF = REPO_ROOT.parent / "shared" / "tools" / "bpftrace-ref"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="loads BPF programs: needs root"),
    pytest.mark.skipif(not os.access(BPFTRACE_REF, os.X_OK),
                       reason=f"{BPFTRACE_REF} is missing"),
]


def test_len_bench_quick(tmp_path: Path, kernel_mounts: None) -> None:
    """``bench/len.py --quick`` succeeds and reports every variant, in well under 60 s."""
    cmd = [sys.executable, str(BENCH), "--quick", "--output-dir", str(tmp_path)]
    has_matplotlib = importlib.util.find_spec("matplotlib") is not None
    if not has_matplotlib:
        cmd.append("--no-plot")
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr

    report = (tmp_path / "len-benchmark.md").read_text()
    for label in ("bt2c kfunc", "bt2c for_each", "bt2c counter", "bpftrace len()"):
        assert f"| {label} |" in report
    assert "python3 bench/len.py --quick" in report
    assert has_matplotlib == (tmp_path / "len-benchmark.png").exists()

    raw = json.loads((tmp_path / "len-benchmark.json").read_text())
    calls = {s["config"]: s["calls"] for s in raw["samples"]}
    assert calls["kfunc"] == "kfunc"
    assert calls["for_each"] == "for_each"
    assert calls["counter"] == "none"
    assert all(s["run_cnt"] >= raw["calls"] for s in raw["samples"])
    assert all(v is not None for per in raw["medians_ns"].values() for v in per.values())
