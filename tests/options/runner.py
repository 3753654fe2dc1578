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


#: Scripts whose stderr (and, with -f json, stdout) is compared: -k's warnings and
#: errorf()/warnf().  name -> (tracer options, script).  -e programs are named "stdin",
#: script files are given relative to the repository root.
DIAG_CASES = {
    "helper_warning": (["-k", "-c", "tests/workload/workload openat 1"],
                       "tests/options/helper_warning.bt"),
    "errorf_warnf": (["-e", 'BEGIN { errorf("bad %d", 1); warnf("hmm %s", "x"); exit(); }'],
                     None),
    "errorf_warnf_json": (["-f", "json", "-e",
                           'BEGIN { errorf("bad %d", 1); warnf("hmm %s", "x"); exit(); }'],
                          None),
    # getopt(): bpftrace's messages for named program options (one option each, since
    # bpftrace lists several in its hash table's order)
    "getopt_unknown": (["-e", 'BEGIN { print(getopt("alpha", 5)); exit(); }', "--",
                        "--zz=1", "3", "--yy"], None),
    "getopt_help": (["-e", 'BEGIN { print(getopt("alpha", 5, "how many")); exit(); }', "--",
                     "--help"], None),
    "getopt_bad_int": (["-e", 'BEGIN { print(getopt("n", 5)); exit(); }', "--", "--n=12abc"],
                       None),
    "getopt_int_range": (["-e", 'BEGIN { print(getopt("n", -5)); exit(); }', "--",
                          "--n=9223372036854775808"], None),
    "getopt_int_bare": (["-e", 'BEGIN { print(getopt("n", 5)); exit(); }', "--", "--n"], None),
    "getopt_bad_bool": (["-e", 'BEGIN { print(getopt("b")); exit(); }', "--", "--b=maybe"],
                        None),
    "getopt_string_bare": (["-e", 'BEGIN { print(getopt("s", "x")); exit(); }', "--", "--s"],
                           None),
}


def run_diag(tracer: list[str], name: str) -> bytes:
    """stdout, then the diagnostic lines of stderr (no "Attached" line, no warnings about
    this machine), with script paths cut to the file name as the tool prints them, and
    the exit status when it is not 0."""
    opts, script = DIAG_CASES[name]
    cmd = [*tracer, *opts] + ([script] if script else [])
    proc = subprocess.run(cmd, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=120)
    keep = [line for line in proc.stderr.decode(errors="replace").splitlines()
            if not line.startswith(("Attached ", "WARNING: Could not read", "WARNING: Unknown"))]
    text = "\n".join(keep)
    if script:
        text = text.replace(script, Path(script).name)
    status = f"--- exit status {proc.returncode}\n".encode() if proc.returncode else b""
    return proc.stdout + b"--- stderr\n" + text.encode() + b"\n" + status
