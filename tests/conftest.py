"""Session-wide setup shared by the test suites.

Tracepoints are resolved through tracefs, bt2c's tools and the reference
bpftrace read probe lists from debugfs, and pinned objects live in bpffs.  A
fresh machine (a container, CI) may have none of them mounted, which would
make every end-to-end case fail for a reason unrelated to the code under
test, so they are mounted here once per session when running as root.
"""

from __future__ import annotations

import os
import subprocess

import pytest

KERNEL_MOUNTS = (
    ("tracefs", "nodev", "/sys/kernel/tracing"),
    ("debugfs", "nodev", "/sys/kernel/debug"),
    ("bpf", "bpf", "/sys/fs/bpf"),
)


def ensure_kernel_mounts() -> None:
    """Mount tracefs, debugfs and bpffs where missing; failures are left to the tests.

    A failed mount is not fatal here: tests that do not trace (unit tests)
    must still run, and tests that do will report the real error.
    """
    if os.geteuid() != 0:
        return
    for fstype, source, target in KERNEL_MOUNTS:
        if not os.path.isdir(target):
            continue
        if subprocess.run(["mountpoint", "-q", target], check=False).returncode == 0:
            continue
        subprocess.run(
            ["mount", "-t", fstype, source, target],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


@pytest.fixture(scope="session")
def kernel_mounts() -> None:
    """Session fixture for tests that attach probes: tracefs/debugfs/bpffs are mounted."""
    ensure_kernel_mounts()
