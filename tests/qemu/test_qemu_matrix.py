"""The portability matrix: representative end-to-end cases on real kernels under qemu.

Each (kernel, case) is one test, so a report says exactly which case broke
on which kernel.  Every kernel is booted once with all its cases (see
qemu_harness.Matrix); the first test of a kernel pays for the download (cold
cache only), the builds (once per architecture) and the boot.

A case passes when its stdout and exit status equal the bpftrace output
recorded for the host tests (tests/e2e/expected), or, on a kernel that lacks
what it needs (qemu_harness.KERNEL_LIMITS), when the tool fails with the
message naming the kernel it needs.  A tool that fails cleanly there but
without saying why is an expected failure (xfail), reported, not hidden;
so are the bugs listed in qemu_harness.KNOWN_BUGS until they are fixed.

Skipped, with the reason, when: not root (transpiling reads tracefs), no
network and no cached kernel, qemu missing, or ``BT2C_QEMU=0``.  Set
``BT2C_QEMU_KERNELS=x86_64-6.1,arm64-6.1`` to run some kernels only.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qemu_harness  # noqa: E402

pytestmark = pytest.mark.qemu

if os.environ.get("BT2C_QEMU", "1") == "0":
    pytest.skip("BT2C_QEMU=0: qemu matrix disabled", allow_module_level=True)
if os.geteuid() != 0:
    pytest.skip("the qemu matrix transpiles against tracefs: needs root",
                allow_module_level=True)

PAIRS = [(k, c) for k in qemu_harness.selected_kernels() for c in qemu_harness.MATRIX_CASES]


@pytest.fixture(scope="session")
def matrix(kernel_mounts: None) -> qemu_harness.Matrix:
    """One Matrix for the session: each kernel boots once, tools build once per arch."""
    return qemu_harness.Matrix()


@pytest.mark.parametrize(("kernel", "case"), PAIRS, ids=[f"{k.id}-{c}" for k, c in PAIRS])
def test_case_on_kernel(matrix: qemu_harness.Matrix, kernel: qemu_harness.Kernel,
                        case: str) -> None:
    """The case prints the recorded output on this kernel, or the kernel's documented error."""
    try:
        run = matrix.run(kernel)
    except qemu_harness.Unavailable as e:
        pytest.skip(f"{kernel.id}: {e}")
    verdict = run.verdicts[case]
    where = f"{case} on {kernel.id} ({run.release})"
    if verdict.status == "n/a":
        pytest.skip(f"{where}: {verdict.detail}")
    if verdict.status in ("xfail", "known"):
        pytest.xfail(f"{where}: {verdict.detail}")
    if verdict.status == "fail":
        pytest.fail(f"{where}: {verdict.detail}", pytrace=False)
    assert verdict.status in ("pass", "limit")


@pytest.mark.parametrize("kernel", qemu_harness.selected_kernels(),
                         ids=[k.id for k in qemu_harness.selected_kernels()])
def test_len_takes_the_kernels_own_path(matrix: qemu_harness.Matrix,
                                        kernel: qemu_harness.Kernel) -> None:
    """len(): the kfunc from Linux 6.6, bpf_for_each_map_elem from 5.13, else the counter
    (the tool's --check report inside the guest); len_paths' output is checked above."""
    try:
        run = matrix.run(kernel)
    except qemu_harness.Unavailable as e:
        pytest.skip(f"{kernel.id}: {e}")
    if run.verdicts[qemu_harness.LEN_PROBE].status == "known":
        pytest.xfail(f"{kernel.id}: {run.verdicts[qemu_harness.LEN_PROBE].detail}")
    expected = qemu_harness.expected_len_path(run.release)
    assert run.len_path == expected, f"{kernel.id} ({run.release}): {run.len_path!r}"


#: What tests/qemu/cases/percpu_kaddr.bt must print on a 2-CPU guest: the reference
#: cannot record it (the host's kernel has no data symbols in kallsyms), so it is
#: asserted from the kernel's own invariants: runqueue N has rq->cpu == N, the
#: probe's CPU finds its own runqueue, two CPUs have two runqueues, and
#: bpf_per_cpu_ptr() is NULL past the last possible CPU.
PERCPU_KADDR_OUTPUT = b"cpu0 1\ncpu1 1\nthis 1\ndiffer 1\npast 1\n\n\n"  # + the exit's

_UNRESOLVED = (r"percpu_kaddr\.bt:8: ERROR: the kernel cannot resolve the variable runqueues"
               r" on this line: ")

#: Kernels that cannot run percpu_kaddr(), and what the tool must say there (status 255
#: for a load failure, 1 for a check before loading; no stdout).
PERCPU_KADDR_REFUSED: dict[str, tuple[int, str]] = {
    # Debian's 5.10 BTF (an older pahole) has no per-CPU variables: libbpf cannot type it
    "x86_64-5.10": (255, _UNRESOLVED + r"extern \(var ksym\) 'runqueues': not found in"
                    r" kernel BTF \(the kernel's BTF has no such per-CPU variable\)"),
    # Debian's arm64 kernel has no data symbols in kallsyms (no CONFIG_KALLSYMS_ALL)
    "arm64-6.1": (255, _UNRESOLVED + r"ldimm64 failed to find the address for kernel symbol"
                  r" 'runqueues' \(data symbols need a kernel built with CONFIG_KALLSYMS_ALL\)"),
    # no kernel BTF at all
    **{k: (1, r"percpu_kaddr\.bt:8: ERROR: percpu_kaddr\(\) needs a kernel with BTF")
       for k in qemu_harness.KERNELS_WITHOUT_BTF},
}


@pytest.mark.parametrize("kernel", qemu_harness.selected_kernels(),
                         ids=[k.id for k in qemu_harness.selected_kernels()])
def test_percpu_kaddr_reads_each_cpus_variable(matrix: qemu_harness.Matrix,
                                               kernel: qemu_harness.Kernel) -> None:
    """percpu_kaddr(NAME) and percpu_kaddr(NAME, CPU) give each CPU's copy of a kernel
    variable; where the kernel cannot resolve it, the tool says why, on the line."""
    try:
        run = matrix.run(kernel)
    except qemu_harness.Unavailable as e:
        pytest.skip(f"{kernel.id}: {e}")
    verdict = run.verdicts["percpu_kaddr"]
    assert verdict.status == "ran", verdict.detail
    res = run.results["percpu_kaddr"]
    err = res.stderr.decode(errors="replace")
    if kernel.id in PERCPU_KADDR_REFUSED:
        status, why = PERCPU_KADDR_REFUSED[kernel.id]
        assert (res.stdout, res.returncode) == (b"", status), err
        assert re.search(why, err), err
        return
    assert run.cpus == 2, f"the guest has {run.cpus} CPUs; the expected output assumes 2"
    assert (res.stdout, res.returncode) == (PERCPU_KADDR_OUTPUT, 0), err
