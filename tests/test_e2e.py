"""End-to-end corpus: each tests/e2e/cases/NAME.bt must print what bpftrace printed.

Every case runs the command under test (``python -m bt2c run`` by default,
``$BT2C_E2E_RUNNER`` if set) with the options and positional parameters of
its ``// RUN:`` header, and its stdout must equal tests/e2e/expected/NAME.out
byte for byte: bt2c's tools are meant as drop-ins for bpftrace, so scripts
that parse bpftrace's output must keep working.  The exit status must match
too (expected/NAME.rc, 0 when absent).  The expected files are recorded from
the reference with tests/e2e/record.py, never written by hand.

Attaching BPF programs needs root, so the module is skipped otherwise.
Cases trace system-wide and filter on the traced child's pid, so they are
safe alongside other processes, but run them serially (no xdist).
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
from pathlib import Path

import pytest

# harness.py is shared with the standalone recorder script (which imports it
# as a top-level module), so it is imported the same way here.
sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))

import harness  # noqa: E402

if os.geteuid() != 0:
    pytest.skip("end-to-end cases attach BPF programs: needs root", allow_module_level=True)

CASES = harness.load_cases()


@pytest.fixture(scope="session")
def workload(kernel_mounts: None) -> Path:
    """Build the workload binary once per session (and ensure kernel fs mounts)."""
    return harness.build_workload()


def _text(b: bytes) -> str:
    """Decode output for diffs without ever failing on odd bytes."""
    return b.decode(errors="replace")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_e2e(case: harness.Case, workload: Path) -> None:
    """Run one case and compare stdout (byte for byte) and the exit status."""
    if not case.expected_out.exists():
        pytest.fail(f"no recorded output {case.expected_out}; run tests/e2e/record.py {case.name}")
    runner = harness.default_runner()
    res = harness.run_case(runner, case)
    cmd = shlex.join([*runner, *case.argv(workload)])
    if res.timed_out:
        pytest.fail(
            f"timed out after {harness.DEFAULT_TIMEOUT:g}s: {cmd}\nstderr:\n{_text(res.stderr)}"
        )
    # A case's // MASK: patterns (wall-clock times) apply to both sides.
    expected = case.mask(case.expected_stdout())
    actual = case.mask(res.stdout)
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                _text(expected).splitlines(keepends=True),
                _text(actual).splitlines(keepends=True),
                "expected",
                "actual",
            )
        )
        # repr of the tails catches differences a line diff hides (trailing newlines).
        pytest.fail(
            f"stdout differs: {cmd}\n{diff}\n"
            f"expected tail {expected[-40:]!r}\nactual tail   {actual[-40:]!r}\n"
            f"stderr:\n{_text(res.stderr)}"
        )
    assert res.returncode == case.expected_rc(), (
        f"exit status {res.returncode}, expected {case.expected_rc()}: {cmd}\n"
        f"stderr:\n{_text(res.stderr)}"
    )
    if case.fails:  # the kernel refuses the program here: bt2c must say why
        assert re.search(case.fails, _text(res.stderr)), (
            f"stderr does not match {case.fails!r}: {cmd}\nstderr:\n{_text(res.stderr)}"
        )
