#!/usr/bin/env python3
"""Record bpftrace v0.27.1's diagnostics for the bad-script corpus (tests/errors/cases).

For each ``cases/NAME.bt`` this runs the reference with ``--dry-run`` (a script
it accepts attaches and stops at once) and writes ``expected/NAME.err`` (its
stderr, minus the warnings this machine always causes) and ``expected/NAME.rc``.
Never edit the expected files by hand: re-run this script.

    python3 tests/errors/record.py            # all cases
    python3 tests/errors/record.py NAME...    # some
    python3 tests/errors/record.py --check    # compare with what is recorded
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
from harness import default_reference, reference_sees_checkout  # noqa: E402 - the e2e harness finds the reference

#: Warnings about this machine, not about the script.
_NOISE = re.compile(r"^WARNING: (Could not read functions from|Unknown error -1: couldn't set "
                    r"RLIMIT_MEMLOCK|Cannot find the kernel's btf)")


def record_one(case: Path) -> tuple[str, int]:
    rel = case.relative_to(REPO)
    r = subprocess.run([str(default_reference()), "--dry-run", str(rel)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    lines = [ln for ln in r.stderr.splitlines() if not _NOISE.match(ln)]
    return "".join(ln + "\n" for ln in lines), r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    reference_sees_checkout()
    cases = sorted((HERE / "cases").glob("*.bt"))
    if args.names:
        cases = [c for c in cases if c.stem in args.names]
    bad = 0
    for case in cases:
        err, rc = record_one(case)
        out_err = HERE / "expected" / f"{case.stem}.err"
        out_rc = HERE / "expected" / f"{case.stem}.rc"
        if args.check:
            if out_err.read_text() != err or int(out_rc.read_text()) != rc:
                print(f"{case.stem}: differs from the recording")
                bad += 1
            continue
        out_err.write_text(err)
        out_rc.write_text(f"{rc}\n")
        first = next((ln for ln in err.splitlines() if "ERROR" in ln), "(accepted)")
        print(f"{case.stem}: rc={rc} {first}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
