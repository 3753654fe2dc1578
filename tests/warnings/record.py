#!/usr/bin/env python3
"""Record bpftrace v0.27.1's compile-time warnings for tests/warnings/cases.

For each ``cases/NAME.bt`` this runs the reference with ``--dry-run`` and no
positional parameters and writes ``expected/NAME.err``: its stderr without the
warnings this machine always causes (RLIMIT_MEMLOCK, available_filter_functions,
kernel BTF), which are about the environment, not the script.  Every case must
compile: a case the reference rejects is not recorded.  Never edit the expected
files by hand: re-run this script.

    python3 tests/warnings/record.py            # all cases
    python3 tests/warnings/record.py NAME...    # some
    python3 tests/warnings/record.py --check    # compare with what is recorded
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(REPO / "tests" / "e2e"))
sys.path.insert(0, str(REPO / "tests" / "errors"))
from harness import default_reference, reference_sees_checkout  # noqa: E402 - the e2e harness finds the reference
from record import _NOISE  # noqa: E402 - one list of the machine's own warnings


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
        out = HERE / "expected" / f"{case.stem}.err"
        if rc != 0:
            print(f"{case.stem}: the reference rejects it (rc={rc}), not recorded:\n{err}")
            bad += 1
            continue
        if args.check:
            if out.read_text() != err:
                print(f"{case.stem}: differs from the recording")
                bad += 1
            continue
        out.write_text(err)
        n = sum(1 for ln in err.splitlines() if ": WARNING: " in ln)
        print(f"{case.stem}: {n} warning line(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
