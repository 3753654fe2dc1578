"""Run a tracer until its script says it started, then interrupt it like Ctrl-C.

Shared by the recorder (against bpftrace-ref) and tests/test_options.py (against
bt2c), so both sides are driven the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

OPTIONS_DIR = Path(__file__).resolve().parent
REPO_ROOT = OPTIONS_DIR.parent.parent
#: What sigint.bt's printf("started\n") looks like with -f json.
SIGINT_JSON_MARKER = b'"data": "started\\n"}\n'


def run_until_started_then_interrupt(cmd: list[str], marker: bytes = b"started\n",
                                     timeout: float = 60.0) -> bytes:
    """Start ``cmd``, wait for ``marker`` on its stdout, send SIGINT, return all stdout."""
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + timeout
    os.set_blocking(proc.stdout.fileno(), False)
    while marker not in out and time.monotonic() < deadline and proc.poll() is None:
        chunk = proc.stdout.read()
        if chunk:
            out += chunk
        else:
            time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        rest, _ = proc.communicate()
    return out + (rest or b"")


def run_with_pid(cmd: list[str], seconds: int = 3, timeout: float = 60.0) -> bytes:
    """Run ``cmd`` with ``{pid}`` standing for a process that exits after ``seconds``.

    The process is started by a shell that does not wait for it, so when it
    exits it is reaped by init, as a -p target normally is.
    """
    pid = subprocess.run(["sh", "-c", f"sleep {seconds} >/dev/null 2>&1 & echo $!"],
                         capture_output=True, text=True, check=True).stdout.strip()
    args = [a.replace("{pid}", pid) for a in cmd]
    proc = subprocess.run(args, cwd=REPO_ROOT, capture_output=True, timeout=timeout)
    return proc.stdout
