#!/usr/bin/env python3
"""Re-record the expected outputs of the runtime tests with bpftrace-ref.

Runs every case script of ``cases.py`` (or only the named ones) with the
reference bpftrace, twice, and stores its stdout in
``expected/<name>.out`` next to the script itself (``expected/<name>.bt``).
A case whose two runs differ is reported and not stored: bpftrace prints
equal values of hash maps in random order, and such a case cannot be
compared byte for byte.

Usage (as root):  python3 tests/runtime/record.py [--bpftrace PATH] [NAME...]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cases import Case, all_cases  # noqa: E402

EXPECTED = HERE / "expected"
DEFAULT_REF = HERE.parents[2] / "shared" / "tools" / "bpftrace-ref"


def run_bpftrace(ref: Path, script: str, options: tuple[str, ...] = ()) -> str:
    """Run ``script`` with the reference bpftrace and return its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [str(ref), *options, "-e", script],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if proc.returncode != 0:
        raise RuntimeError(f"bpftrace failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout


def record(ref: Path, case: Case) -> bool:
    """Record one case; return False if bpftrace's output is not stable."""
    first = run_bpftrace(ref, case.script, case.options)
    second = run_bpftrace(ref, case.script, case.options)
    if first != second:
        print(f"{case.name}: output differs between runs, not stored", file=sys.stderr)
        return False
    (EXPECTED / f"{case.name}.bt").write_text(case.script + "\n")
    (EXPECTED / f"{case.name}.out").write_text(first)
    print(f"{case.name}: {len(first.splitlines())} lines")
    return True


def main() -> int:
    """Parse the command line and record the selected cases."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bpftrace",
        type=Path,
        default=Path(os.environ.get("BPFTRACE_REF", DEFAULT_REF)),
        help="reference bpftrace wrapper (default: %(default)s)",
    )
    parser.add_argument("names", nargs="*", help="cases to record (all)")
    args = parser.parse_args()

    cases = all_cases()
    if args.names:
        known = {c.name for c in cases}
        unknown = set(args.names) - known
        if unknown:
            parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.name in args.names]

    EXPECTED.mkdir(exist_ok=True)
    ok = True
    for case in cases:
        ok = record(args.bpftrace, case) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
