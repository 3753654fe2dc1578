"""Tests of the C map-printing runtime against recorded bpftrace output.

The C driver (tests/runtime/driver.c) builds real BPF maps the way the
generated BPF programs fill them and prints them with
templates/runtime/maps.c; its stdout must equal, byte for byte, what
bpftrace v0.27.1 printed for the equivalent script (recorded by
tests/runtime/record.py into tests/runtime/expected/).

Needs root (the driver creates BPF maps), gcc and libbpf-dev; the kernel
index test also needs clang.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_TESTS = ROOT / "tests" / "runtime"
EXPECTED = RUNTIME_TESTS / "expected"
MAPS_C = ROOT / "templates" / "runtime" / "maps.c"
AGGREGATES_H = ROOT / "templates" / "bpf" / "aggregates.h"


def _load_cases() -> ModuleType:
    """Import tests/runtime/cases.py without making tests/ a package."""
    spec = importlib.util.spec_from_file_location("bt2c_runtime_cases", RUNTIME_TESTS / "cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cases = _load_cases()
ALL_CASES = cases.all_cases()


def _needs_root() -> None:
    """Skip when BPF maps cannot be created for lack of privileges."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create BPF maps")


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compile the test driver (with maps.c and aggregates.h) once."""
    out = tmp_path_factory.mktemp("runtime") / "driver"
    subprocess.run(
        [
            "gcc",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Wno-missing-field-initializers",  # layouts give kind, size, offset only
            "-Werror",
            f"-I{AGGREGATES_H.parent}",
            f"-I{MAPS_C.parent}",
            "-o",
            str(out),
            str(RUNTIME_TESTS / "driver.c"),
            "-lbpf",
        ],
        check=True,
    )
    return out


def _diff(expected: str, actual: str) -> str:
    """Return a unified diff of expected vs. actual output."""
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            "bpftrace",
            "runtime",
        )
    )


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_output_matches_bpftrace(driver: Path, case: cases.Case) -> None:
    """The runtime prints exactly what bpftrace printed for the script."""
    _needs_root()
    if (os.cpu_count() or 1) < case.min_cpus:
        pytest.skip(f"needs {case.min_cpus} CPUs")
    expected = (EXPECTED / f"{case.name}.out").read_bytes()
    proc = subprocess.run([str(driver), *case.argv], capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    assert proc.stdout == expected, _diff(
        expected.decode(errors="replace"), proc.stdout.decode(errors="replace")
    )


@pytest.mark.parametrize("case", ALL_CASES, ids=lambda c: c.name)
def test_recording_is_current(case: cases.Case) -> None:
    """Each expected output was recorded from the case's current script."""
    recorded = EXPECTED / f"{case.name}.bt"
    assert recorded.exists(), "run tests/runtime/record.py"
    assert recorded.read_text() == case.script + "\n", (
        "script changed since recording: run tests/runtime/record.py " + case.name
    )


def test_templates_have_no_jinja_markers() -> None:
    """The C files are included verbatim into Jinja2 templates."""
    for path in (MAPS_C, AGGREGATES_H):
        text = path.read_text()
        for marker in ("{{", "{%", "{#"):
            assert marker not in text, f"{marker} in {path.name}"


def test_maps_c_compiles_alone_without_warnings(tmp_path: Path) -> None:
    """An including tool that uses none of the functions gets no warning."""
    src = tmp_path / "tool.c"
    src.write_text('#include "maps.c"\nint main(void) { return 0; }\n')
    subprocess.run(
        [
            "gcc",
            "-std=gnu11",
            "-Wall",
            "-Wextra",
            "-Wno-missing-field-initializers",  # layouts give kind, size, offset only
            "-Werror",
            f"-I{MAPS_C.parent}",
            "-c",
            str(src),
            "-o",
            str(tmp_path / "t.o"),
        ],
        check=True,
    )


def _clang() -> str | None:
    """Return a clang able to target BPF, or None."""
    for name in ("clang", *(f"clang-{v}" for v in range(25, 13, -1))):
        path = shutil.which(name)
        if path:
            return path
    return None


INDEX_VALUES = [
    -(2**63) + 1,
    -(2**40),
    -1,
    *range(0, 40),
    63,
    64,
    65,
    100,
    127,
    128,
    1000,
    1023,
    1024,
    4095,
    4096,
    10**6,
    10**9,
    2**32 - 1,
    2**32,
    2**32 + 1,
    2**48 + 7,
    2**62 - 1,
    2**62,
    2**63 - 1,
]


@pytest.mark.parametrize(("lo", "hi", "step"), [(0, 100, 10), (10, 30, 3), (0, 4096, 1024)])
def test_kernel_indexes_match_user_space(
    driver: Path, tmp_path: Path, lo: int, hi: int, step: int
) -> None:
    """aggregates.h passes the verifier and computes the same indexes."""
    _needs_root()
    clang = _clang()
    if clang is None:
        pytest.skip("no clang to build the BPF program")
    obj = tmp_path / "index_prog.bpf.o"
    arch_inc = f"/usr/include/{os.uname().machine}-linux-gnu"
    subprocess.run(
        [
            clang,
            "-O2",
            "-g",
            "-target",
            "bpf",
            f"-I{AGGREGATES_H.parent}",
            f"-I{arch_inc}",
            "-c",
            str(RUNTIME_TESTS / "index_prog.bpf.c"),
            "-o",
            str(obj),
        ],
        check=True,
    )
    values = [str(v) for v in INDEX_VALUES]
    limits = [str(lo), str(hi), str(step)]
    user = subprocess.run(
        [str(driver), "uidx", *limits, *values], capture_output=True, text=True, check=True
    )
    kernel = subprocess.run(
        [str(driver), "kidx", str(obj), *limits, *values],
        capture_output=True,
        text=True,
        check=False,
    )
    assert kernel.returncode == 0, kernel.stderr
    assert kernel.stdout == user.stdout, _diff(user.stdout, kernel.stdout)
    assert len(kernel.stdout.splitlines()) == len(values)
