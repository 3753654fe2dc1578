"""The compile-time standard library beyond what the recorded corpora can show.

container_of(): bpftrace v0.27.1 rejects every call of its container_of() macro, so
its behaviour is checked against the reference's output for the same computation
written by hand (tests/e2e/cases/container_of_by_hand.bt).  kfunc_allowed(): the
verifier probe answers as bpftrace's does for the program types it maps probes to.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.kfuncs import PROG_TYPES, kfunc_allowed, kfunc_exist

E2E = Path(__file__).resolve().parent / "e2e"
BY_HAND = "(struct task_struct *)($m - offsetof(struct task_struct, se.vruntime))"
CONTAINER_OF = "container_of($m, task_struct, se.vruntime)"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="loads BPF programs: needs root")


@needs_root
def test_container_of_matches_the_computation_by_hand(tmp_path: Path,
                                                       kernel_mounts: None) -> None:
    text = (E2E / "cases" / "container_of_by_hand.bt").read_text()
    assert BY_HAND in text
    script = tmp_path / "container_of.bt"
    script.write_text(text.replace(BY_HAND, CONTAINER_OF))
    res = subprocess.run([sys.executable, "-m", "bt2c", "run", str(script)],
                         capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    assert res.stdout == (E2E / "expected" / "container_of_by_hand.out").read_bytes()


def test_kfunc_exist_reads_the_kernel_btf() -> None:
    assert kfunc_exist("vfs_read")          # any kernel function, as bpftrace
    assert not kfunc_exist("no_such_kfunc_at_all")


@needs_root
def test_kfunc_allowed_depends_on_the_program_type() -> None:
    # bpf_task_from_pid is registered for tracing-like programs but not raw_tp (BEGIN)
    if not kfunc_exist("bpf_task_from_pid"):
        pytest.skip("kernel without bpf_task_from_pid")
    assert kfunc_allowed("bpf_task_from_pid", "tracepoint")
    assert not kfunc_allowed("bpf_task_from_pid", "begin")
    assert not kfunc_allowed("vfs_read", "tracepoint")   # not a kfunc
    assert set(PROG_TYPES) >= {"begin", "kprobe", "tracepoint", "fentry", "profile"}


WRITE_USER = """\
tracepoint:syscalls:sys_enter_write
/pid == cpid/
{
  $s = "XYZ";
  $ok = write_user(args.buf, $s, 3);
  printf("%d %s\\n", $ok, str(args.buf, 3));
}
"""


@needs_root
def test_write_user_overwrites_user_memory(tmp_path: Path, kernel_mounts: None) -> None:
    """bpftrace v0.27.1's write_user() macro has no value (its last statement ends in
    ';') and a statement use of it exits 255 without a message, so there is nothing to
    record; this checks what its documentation says: the bytes land, true on success.
    A kernel in lockdown mode (integrity) refuses the helper: the tool says so."""
    sys.path.insert(0, str(E2E))
    import harness
    script = tmp_path / "write_user.bt"
    script.write_text(WRITE_USER)
    workload = harness.build_workload()
    res = subprocess.run([sys.executable, "-m", "bt2c", "run", "--unsafe", "-c",
                          f"{workload} write 2 10", str(script)],
                         capture_output=True, timeout=300)
    err = res.stderr.decode(errors="replace")
    if "cannot use helper bpf_probe_write_user" in err:
        assert "write_user.bt:5: ERROR: the kernel's BPF verifier rejected" in err, err
        pytest.skip("kernel lockdown forbids bpf_probe_write_user")
    assert res.returncode == 0, err
    assert res.stdout == b"1 XYZ\n1 XYZ\n"


def test_write_user_needs_unsafe(tmp_path: Path) -> None:
    from bt2c.diagnostics import Bt2cError
    from bt2c.transpile import transpile
    with pytest.raises(Bt2cError, match="write_user\\(\\) is unsafe"):
        transpile(WRITE_USER, "w.bt")
