"""`bt2c transpile` and `bt2c build` produce the promised files, and they compile."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def bt2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_transpile_writes_four_files(tmp_path: Path) -> None:
    proc = bt2c("transpile", str(GOLDEN / "opensnoop.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["Makefile", "opensnoop.bpf.c", "opensnoop.c", "opensnoop.h"]
    bpf = (tmp_path / "out" / "opensnoop.bpf.c").read_text()
    assert 'SEC(".maps")' in bpf and "BPF_MAP_TYPE_RINGBUF" in bpf
    assert "/* line 13: @filename[tid] = args.filename */" in bpf


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_build_produces_object_skeleton_and_binary(tmp_path: Path) -> None:
    proc = bt2c("build", str(GOLDEN / "opensnoop.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    for name in ("opensnoop.bpf.o", "opensnoop.skel.h", "opensnoop"):
        assert (out / name).exists(), name
    assert os.access(out / "opensnoop", os.X_OK)
    assert "opensnoop_bpf__open" in (out / "opensnoop.skel.h").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_generated_makefile_builds(tmp_path: Path) -> None:
    proc = bt2c("transpile", str(GOLDEN / "syscount.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    clang = next((f"clang-{v}" for v in range(30, 9, -1)
                  if subprocess.run(["which", f"clang-{v}"], capture_output=True).returncode == 0),
                 "clang")
    make = subprocess.run(["make", f"CLANG={clang}", "BPFTOOL=/usr/sbin/bpftool"],
                          cwd=tmp_path / "out", capture_output=True, text=True, timeout=300)
    assert make.returncode == 0, make.stderr
    assert (tmp_path / "out" / "syscount").exists()
