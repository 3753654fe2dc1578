"""bench.refroot: a checkout cloned again at the same path is seen afresh in the chroot.

CI deletes and re-clones the repository at one path for each run; the
reference wrapper's bind mount of the old clone then shows a deleted, empty
tree.  This reproduces that with a scratch "chroot" directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.refroot import _is_mount_point, see_directory

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="bind mounts need root")


def test_stale_bind_mount_is_replaced(tmp_path: Path) -> None:
    """After delete + re-create, the chroot shows the new directory's files."""
    base = Path("/var/tmp") / f"bt2c-refroot-{os.getpid()}"  # not under /tmp: that is skipped
    checkout, root = base / "checkout", tmp_path / "root"
    checkout.mkdir(parents=True)
    root.mkdir()
    inside = root / checkout.relative_to("/")
    try:
        (checkout / "old").write_text("old\n")
        see_directory(root, checkout)
        assert (inside / "old").read_text() == "old\n"
        see_directory(root, checkout)  # already right: left as it is
        assert (inside / "old").exists()

        shutil.rmtree(checkout)
        checkout.mkdir()
        (checkout / "new").write_text("new\n")
        assert not (inside / "new").exists()  # the stale mount CI ran into
        see_directory(root, checkout)
        assert (inside / "new").read_text() == "new\n"
        assert not (inside / "old").exists()
    finally:
        while _is_mount_point(inside):
            subprocess.run(["umount", "--lazy", str(inside)], check=True)
        shutil.rmtree(base, ignore_errors=True)
