#!/usr/bin/env python3
"""Record the expected stdout of the end-to-end cases with the reference bpftrace.

Expected outputs are never written by hand: a hand-written one would encode
what we believe bpftrace prints, while the tests exist to catch where that
belief is wrong.  This script runs the reference (bpftrace v0.27.1 in a
chroot, via ``bpftrace-ref``) exactly as test_e2e.py runs ``bt2c run`` (same
header parsing, same substitution, same working directory; see harness.py)
and stores stdout byte for byte.  stderr is shown only when something fails,
since it carries warnings and "Attached N probes" that are not part of the
contract.

Usage (from anywhere; it changes to the repo root itself):

    python3 tests/e2e/record.py                 # record every case
    python3 tests/e2e/record.py NAME [NAME...]  # record some cases
    python3 tests/e2e/record.py --check         # compare, write nothing
    python3 tests/e2e/record.py --repeat 5      # re-run each case 5 times, fail if any differs

``--repeat`` is how flaky cases are found before they are committed: a case
whose output is not identical across runs of the reference cannot be a test.
Both --repeat and --check compare outputs after the case's ``// MASK:`` patterns
(harness.py) are applied; the recorded file is always the raw stdout.
"""

from __future__ import annotations

import argparse
import difflib
import shlex
import sys
import tempfile
from pathlib import Path

from harness import (
    EXPECTED_DIR,
    Case,
    CaseError,
    RunResult,
    build_workload,
    default_reference,
    load_cases,
    reference_sees_checkout,
    run_case,
)


def _show_failure(case: Case, res: RunResult, why: str) -> None:
    """Print why a case could not be recorded, with the tracer's stderr, for quick fixing."""
    print(f"FAIL {case.name}: {why}", file=sys.stderr)
    err = res.stderr.decode(errors="replace").strip()
    if err:
        print("  " + err.replace("\n", "\n  "), file=sys.stderr)


def _diff(name: str, old: bytes, new: bytes) -> str:
    """Diff two outputs (unified), for the --check and --repeat reports."""
    return "".join(
        difflib.unified_diff(
            old.decode(errors="replace").splitlines(keepends=True),
            new.decode(errors="replace").splitlines(keepends=True),
            f"{name} (recorded)",
            f"{name} (now)",
        )
    )


def reference_runner(reference: Path) -> list[str]:
    """The reference's command line.

    bpftrace enumerates kprobe functions and raw tracepoints from tracefs's
    available_filter_functions; where the kernel hides that file (function
    tracing closed, as on the development host) it finds none, so it gets the
    kernel's text symbols from /proc/kallsyms instead, as bt2c falls back to.
    The list is written under /tmp, which the reference's chroot can see.
    """
    try:
        with open("/sys/kernel/tracing/available_filter_functions") as f:
            f.read(1)
        return [str(reference)]
    except OSError:
        pass
    names = set()
    with open("/proc/kallsyms") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[1] in ("T", "t"):
                names.add(parts[2])
    path = Path(tempfile.gettempdir()) / "bt2c-traceable-functions.txt"
    path.write_text("".join(f"{n}\n" for n in sorted(names)))
    return [str(reference), "--traceable-functions", str(path)]


def record(cases: list[Case], reference: Path, check: bool, repeat: int, timeout: float) -> int:
    """Run each case with the reference; write (or, with check, compare) its outputs.

    Returns the number of failed cases.  A case fails when the reference times
    out, when its output differs between repeats, or (with check) when it
    differs from what is recorded.  A non-zero exit status alone is not a
    failure: exit(code) cases record it in NAME.rc.
    """
    failures = 0
    runner = reference_runner(reference)
    for case in cases:
        res = run_case(runner, case, timeout)
        if res.timed_out:
            _show_failure(case, res, f"timed out after {timeout:g}s")
            failures += 1
            continue
        if res.returncode != 0 and not res.stdout and not case.fails:
            # Most likely the reference rejected the script: recording that
            # would make a test that passes only for a broken transpiler.
            _show_failure(case, res, f"exit status {res.returncode} and no stdout")
            failures += 1
            continue
        unstable = False
        for i in range(1, repeat):
            again = run_case(runner, case, timeout)
            if (case.mask(again.stdout), again.returncode) != (case.mask(res.stdout),
                                                                res.returncode):
                print(
                    f"FLAKY {case.name}: run {i + 1} differs "
                    f"(rc {res.returncode} vs {again.returncode})",
                    file=sys.stderr,
                )
                print(_diff(case.name, res.stdout, again.stdout), file=sys.stderr)
                unstable = True
                break
        if unstable:
            failures += 1
            continue
        if check:
            old = case.expected_out.read_bytes() if case.expected_out.exists() else b""
            if case.mask(old) != case.mask(res.stdout) or case.expected_rc() != res.returncode:
                print(
                    f"DIFF {case.name} (rc recorded {case.expected_rc()}, now {res.returncode})",
                    file=sys.stderr,
                )
                print(_diff(case.name, old, res.stdout), file=sys.stderr)
                failures += 1
            else:
                print(f"ok   {case.name}")
            continue
        EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
        case.expected_out.write_bytes(res.stdout)
        if res.returncode != 0:
            case.expected_rc_file.write_text(f"{res.returncode}\n")
        elif case.expected_rc_file.exists():
            case.expected_rc_file.unlink()
        rc_note = f" rc={res.returncode}" if res.returncode else ""
        print(f"rec  {case.name} ({len(res.stdout)} bytes{rc_note})")
    return failures


def prune(cases: list[Case]) -> None:
    """Delete expected files whose case no longer exists, so stale outputs don't linger."""
    names = {c.name for c in cases}
    for f in sorted(EXPECTED_DIR.glob("*")):
        if f.suffix in (".out", ".rc") and f.stem not in names:
            print(f"prune {f.name}")
            f.unlink()


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the workload, record; exit status 1 if any case failed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="case names (default: all)")
    ap.add_argument(
        "--ref",
        type=Path,
        default=default_reference(),
        help="reference bpftrace wrapper (default: %(default)s)",
    )
    ap.add_argument(
        "--check",
        action="store_true",
        help="compare with the recorded outputs instead of writing them",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="run each case N times and fail on any difference"
    )
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per run")
    ap.add_argument(
        "--show", action="store_true", help="print each case's substituted command line"
    )
    args = ap.parse_args(argv)
    try:
        cases = load_cases(args.names)
    except CaseError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    build_workload()
    reference_sees_checkout()
    if args.show:
        for c in cases:
            print(shlex.join([str(args.ref), *c.argv()]))
    failures = record(cases, args.ref, args.check, max(1, args.repeat), args.timeout)
    if not args.names and not args.check:
        prune(cases)
    print(f"{len(cases) - failures}/{len(cases)} cases ok", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
