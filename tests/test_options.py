"""The generated tool's run-time options behave like bpftrace's: SIGINT, -o, -p, -q.

Expected outputs come from the reference (tests/options/record.py for SIGINT,
the e2e corpus for the rest); nothing here is hand-written output.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS / "options"))
sys.path.insert(0, str(TESTS / "e2e"))

import harness  # noqa: E402
from runner import (  # noqa: E402
    DIAG_CASES,
    OPTIONS_DIR,
    SIGINT_JSON_MARKER,
    run_diag,
    run_until_started_then_interrupt,
    run_with_pid,
)

if os.geteuid() != 0:
    pytest.skip("loads BPF programs: needs root", allow_module_level=True)

BT2C = [sys.executable, "-m", "bt2c", "run"]


def test_sigint_runs_end_then_prints_maps(kernel_mounts: None) -> None:
    out = run_until_started_then_interrupt([*BT2C, str(OPTIONS_DIR / "sigint.bt")])
    assert out == (OPTIONS_DIR / "sigint.out").read_bytes()


def test_output_file_gets_what_stdout_would(tmp_path: Path, kernel_mounts: None) -> None:
    case = harness.load_case(harness.CASES_DIR / "begin_end.bt")
    target = tmp_path / "out.txt"
    proc = subprocess.run([*BT2C, "-o", str(target), *case.argv()], capture_output=True,
                          timeout=120, cwd=harness.REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert target.read_bytes() == case.expected_stdout()


def test_sigint_json(kernel_mounts: None) -> None:
    out = run_until_started_then_interrupt([*BT2C, "-f", "json", str(OPTIONS_DIR / "sigint.bt")],
                                           marker=SIGINT_JSON_MARKER)
    assert out == (OPTIONS_DIR / "sigint_json.out").read_bytes()


def test_output_file_gets_json_records(tmp_path: Path, kernel_mounts: None) -> None:
    """-o with -f json: every record, attached_probes included, goes to the file."""
    case = harness.load_case(harness.CASES_DIR / "json_printf.bt")
    assert "-q" not in case.run_tokens
    target = tmp_path / "out.json"
    proc = subprocess.run([*BT2C, "-o", str(target), *case.argv()], capture_output=True,
                          timeout=120, cwd=harness.REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b""
    assert b"Attached" not in proc.stderr
    assert target.read_bytes() == case.expected_stdout()


def test_invalid_output_format(kernel_mounts: None) -> None:
    proc = subprocess.run([*BT2C, "-f", "xml", "-e", "BEGIN { exit(); }"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr == "ERROR: Invalid output format \"xml\"\nValid formats: 'text', 'json'\n"


def test_quiet_hides_attached_message(kernel_mounts: None) -> None:
    proc = subprocess.run([*BT2C, "-q", "-e", "BEGIN { exit(); }"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    assert "Attached" not in proc.stderr
    loud = subprocess.run([*BT2C, "-e", "BEGIN { exit(); }"], capture_output=True, text=True,
                          timeout=120)
    assert "Attached 1 probe\n" in loud.stderr


def test_pid_option_exits_with_the_process(kernel_mounts: None) -> None:
    start = time.monotonic()
    out = run_with_pid([*BT2C, "-p", "{pid}", str(OPTIONS_DIR / "pid.bt")])
    assert out == (OPTIONS_DIR / "pid.out").read_bytes()
    assert time.monotonic() - start < 30


def test_pid_option_treats_a_zombie_as_gone(kernel_mounts: None) -> None:
    """A -p target that exited but is not reaped yet must still end the trace."""
    target = subprocess.Popen(["sleep", "2"])
    try:
        proc = subprocess.run([*BT2C, "-p", str(target.pid), str(OPTIONS_DIR / "pid.bt")],
                              capture_output=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == (OPTIONS_DIR / "pid.out").read_bytes()
    finally:
        target.wait()


def test_bad_pid_is_an_error(kernel_mounts: None) -> None:
    proc = subprocess.run([*BT2C, "-p", "999999999", "-e", "BEGIN { exit(); }"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "ERROR" in proc.stderr


def test_sigint_ends_the_command_too(kernel_mounts: None, tmp_path: Path) -> None:
    """Like bpftrace, stopping the trace early does not leave the -c command running."""
    workload = harness.build_workload()
    marker = tmp_path / "x.bt"
    marker.write_text('BEGIN { printf("started\\n"); }\n')
    cmd = f"{workload} sleep 20000"
    out = run_until_started_then_interrupt([*BT2C, "-c", cmd, str(marker)])
    assert out.startswith(b"started\n")
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", cmd], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"the -c command is still running: {left.stdout}"


@pytest.mark.parametrize("name", sorted(DIAG_CASES))
def test_diagnostics_at_run_time(name: str, kernel_mounts: None) -> None:
    """-k's warning for a failed probe read, errorf()/warnf() on stderr, and their JSON
    records: as the reference printed them (tests/options/record.py)."""
    harness.build_workload()
    assert run_diag(BT2C, name) == (OPTIONS_DIR / f"{name}.out").read_bytes()


def test_helper_warnings_only_with_k(kernel_mounts: None) -> None:
    """Without -k a failed read is silent (the check is compiled in but off)."""
    harness.build_workload()
    opts, script = DIAG_CASES["helper_warning"]
    r = subprocess.run([*BT2C, *[o for o in opts if o != "-k"], str(script)],
                       cwd=harness.REPO_ROOT, capture_output=True, timeout=120)
    assert b"WARNING" not in r.stderr and r.stdout.startswith(b"[]\n")


@pytest.mark.parametrize("mode", ["line", "full", "none"])
def test_buffer_modes(mode: str, kernel_mounts: None) -> None:
    """-B changes how output is buffered, never what is printed."""
    prog = 'BEGIN { printf("a\\n"); printf("b"); } END { printf("c\\n"); }' \
        ' interval:ms:100 { exit(); }'
    plain = subprocess.run([*BT2C, "-e", prog], capture_output=True, timeout=120)
    r = subprocess.run([*BT2C, "-B", mode, "-e", prog], capture_output=True, timeout=120)
    assert r.returncode == 0 and r.stdout == plain.stdout and b"c\n" in r.stdout, r.stderr


def test_buffer_mode_must_be_known() -> None:
    r = subprocess.run([*BT2C, "-B", "bad", "-e", "BEGIN { exit(); }"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1
    assert "USAGE: -B must be either 'line', 'full', or 'none'." in r.stderr


def test_strftime_and_time_are_wall_clock(kernel_mounts: None) -> None:
    """strftime() turns nanoseconds since boot into the wall-clock time, time() prints the
    time when the record is printed; %f is the microseconds, zero-padded to 6 digits."""
    prog = ('BEGIN { printf("%s %s|", strftime("%s", nsecs), strftime("%f", 1)); '
            'time("%s\\n"); exit(); }')
    before = time.time()
    r = subprocess.run([*BT2C, "-e", prog], capture_output=True, text=True, timeout=120)
    after = time.time()
    stamp, micros, now = r.stdout.split("\n")[0].replace("|", " ").split()
    assert before - 2 <= int(stamp) <= after + 1 and before - 2 <= int(now) <= after + 1
    assert len(micros) == 6 and micros.isdigit()
