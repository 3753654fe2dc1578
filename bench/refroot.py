"""Make a host directory visible inside the reference bpftrace's chroot.

The bpftrace-ref wrapper bind-mounts the caller's working directory into its
chroot at the same path, but only when nothing is mounted there yet.  A
checkout that is deleted and cloned again at the same path (as CI does for
each run) leaves the old bind mount behind, still showing the deleted
directory: bpftrace inside then sees an empty tree and cannot find the
scripts or the workload.  :func:`see_directory` replaces such a stale mount
with a fresh one, so callers may rely on the path before the wrapper runs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of a directory, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _is_mount_point(path: Path) -> bool:
    """Whether something is mounted at ``path``.

    ``os.path.ismount`` cannot tell: a bind mount from the same file system
    has the same device as its parent.  /proc/self/mountinfo lists it.
    """
    target = str(path)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and _unescape(fields[4]) == target:
            return True
    return False


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (``\\040`` for a space)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def see_directory(root: Path, path: Path) -> None:
    """Bind ``path`` at the same path under the chroot ``root``, replacing a stale mount.

    Paths under /tmp are skipped: the wrapper binds the whole of /tmp.  Mount
    errors are left for the reference itself to report, which names the
    missing file more usefully than a failed ``mount`` would.
    """
    path = path.resolve()
    if path == Path("/") or path.parts[1:2] == ("tmp",) or not root.is_dir():
        return
    inside = root / path.relative_to("/")
    if _is_mount_point(inside):
        if _identity(inside) == _identity(path):
            return
        subprocess.run(["umount", "--lazy", str(inside)], check=False, capture_output=True)
    inside.mkdir(parents=True, exist_ok=True)
    if not _is_mount_point(inside):
        subprocess.run(["mount", "--bind", str(path), str(inside)], check=False,
                       capture_output=True)
