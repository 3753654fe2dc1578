"""The golden corpus: generated C kept in the repo for review.

``golden/NAME.bt`` is a script; ``golden/NAME/`` holds the files bt2c
generates for it.  ``check`` fails on any difference (generation must be
deterministic and reviewed); ``update`` rewrites the files so the diff can be
read in review.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from bt2c.diagnostics import Bt2cError
from bt2c.transpile import transpile


def golden(action: str, root: Path) -> int:
    """Run ``check`` or ``update`` over every script in ``root``; returns an exit code."""
    if action not in ("check", "update"):
        raise Bt2cError(f"unknown golden action '{action}' (use check or update)")
    scripts = sorted(root.glob("*.bt"))
    if not scripts:
        raise Bt2cError(f"no golden scripts (*.bt) in {root}")
    failures = 0
    for script in scripts:
        out = transpile(script.read_text(), script.name)
        target = root / script.stem
        if action == "update":
            out.write(target)
            for stale in set(p.name for p in target.iterdir()) - set(out.files):
                (target / stale).unlink()
            print(f"updated {target}")
            continue
        for fname, text in out.files.items():
            path = target / fname
            old = path.read_text() if path.exists() else ""
            if old != text:
                failures += 1
                sys.stdout.writelines(difflib.unified_diff(
                    old.splitlines(True), text.splitlines(True), str(path), f"{path} (new)"))
    if action == "check":
        print(f"golden: {len(scripts)} scripts, {failures} files differ")
    return 1 if failures else 0
