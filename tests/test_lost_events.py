"""Ring-buffer loss is counted and reported, as bpftrace reports it.

bpftrace counts the records its BPF programs could not reserve and prints
"Lost N events" on stderr while it runs (a ``lost_events`` record in JSON)
and "WARNING: Total lost event count: N" at exit.  A bt2c tool must do the
same instead of dropping records silently.

The test makes the loss certain and exact: the tool traces its own ``-c``
command, which sleeps first; as soon as the tool has attached it is stopped
(SIGSTOP), so nothing reads the ring buffer while the command makes far more
events than the ring holds; then the tool is continued and exits with the
command.  Every event is then either printed or counted as lost.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "e2e"))

import harness  # noqa: E402

if os.geteuid() != 0:
    pytest.skip("loads BPF programs: needs root", allow_module_level=True)

ROOT = TESTS.parent
#: Far more than the 1 MiB ring holds (a record here is 24 bytes + 8 of header).
EVENTS = 200_000
SCRIPT = 'tracepoint:syscalls:sys_enter_getpid /pid == cpid/ { printf("%d\\n", tid); }\n'


def _build(tmp_path: Path) -> Path:
    """Build the tool for SCRIPT; return its path."""
    script = tmp_path / "lost.bt"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "bt2c", "build", str(script), "-o", str(out)],
                   cwd=ROOT, check=True, capture_output=True, timeout=300)
    return out / "lost"


def _child(tool_pid: int) -> tuple[str, str] | None:
    """(comm, state letter) of the tool's -c child, None before it exists.

    The comm tells whether the tool has released the command (it execs the
    workload only then); the state is Z once the command has exited.
    """
    try:
        kids = Path(f"/proc/{tool_pid}/task/{tool_pid}/children").read_text().split()
        if not kids:
            return None
        stat = Path(f"/proc/{kids[0]}/stat").read_text()
    except OSError:
        return None
    comm = stat[stat.index("(") + 1 : stat.rindex(")")]
    return comm, stat.rsplit(")", 1)[1].split()[0]


def _wait_child(tool_pid: int, done: Callable[[tuple[str, str]], bool], what: str) -> None:
    """Poll the -c child until ``done`` holds (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        child = _child(tool_pid)
        if child is not None and done(child):
            return
        assert time.monotonic() < deadline, f"the -c command {what}: {child}"
        time.sleep(0.005)


def _run_stopped(tool: Path, fmt: str) -> tuple[bytes, str]:
    """Run the tool with its reader stopped while the command runs; (stdout, stderr)."""
    cmd = f"{harness.build_workload()} sleep 500 getpid {EVENTS}"
    proc = subprocess.Popen([str(tool), "-f", fmt, "-c", cmd], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stderr is not None and proc.stdout is not None
    try:
        # The sleep at the start of the command leaves 500 ms to stop the tool
        # once it has released the command.
        _wait_child(proc.pid, lambda c: c[0] == "workload", "was not started")
        proc.send_signal(signal.SIGSTOP)
        _wait_child(proc.pid, lambda c: c[1] == "Z", "did not finish")
        proc.send_signal(signal.SIGCONT)
        out, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return out, rest.decode()


def test_lost_events_text(tmp_path: Path, kernel_mounts: None) -> None:
    """Printed + reported lost == events made; the total matches the running reports."""
    tool = _build(tmp_path)
    out, err = _run_stopped(tool, "text")
    printed = sum(1 for line in out.decode().splitlines() if line.strip())
    running = [int(n) for n in re.findall(r"^Lost (\d+) events$", err, re.M)]
    total = re.search(r"^WARNING: Total lost event count: (\d+)$", err, re.M)
    assert running and total, err
    assert sum(running) == int(total.group(1))
    assert printed + int(total.group(1)) == EVENTS, (printed, err)
    assert 0 < printed < EVENTS


def test_lost_events_json(tmp_path: Path, kernel_mounts: None) -> None:
    """In JSON the losses are lost_events records on stdout, bpftrace's shape."""
    tool = _build(tmp_path)
    out, err = _run_stopped(tool, "json")
    text = out.decode()
    lost = [int(a) for a, b in re.findall(
        r'^\{"type": "lost_events", "count": (\d+), "data": \{"events": (\d+)\}\}$', text, re.M)]
    printed = text.count('"type": "printf"')
    assert lost, text[-2000:]
    assert printed + sum(lost) == EVENTS
    assert f"WARNING: Total lost event count: {sum(lost)}" in err
