#!/usr/bin/env python3
"""Re-record the expected output of the option tests with the reference bpftrace.

Usage: python3 tests/options/record.py   (as root, from anywhere)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))

from harness import default_reference, reference_sees_checkout  # noqa: E402
from runner import (  # noqa: E402
    DIAG_CASES,
    OPTIONS_DIR,
    SIGINT_JSON_MARKER,
    run_diag,
    run_until_started_then_interrupt,
    run_with_pid,
)

REFERENCE = default_reference()


def main() -> int:
    reference_sees_checkout()
    script = OPTIONS_DIR / "sigint.bt"
    out = run_until_started_then_interrupt([str(REFERENCE), str(script)])
    (OPTIONS_DIR / "sigint.out").write_bytes(out)
    print(f"recorded sigint.out ({len(out)} bytes)")
    out = run_until_started_then_interrupt([str(REFERENCE), "-f", "json", str(script)],
                                           marker=SIGINT_JSON_MARKER)
    (OPTIONS_DIR / "sigint_json.out").write_bytes(out)
    print(f"recorded sigint_json.out ({len(out)} bytes)")
    out = run_with_pid([str(REFERENCE), "-p", "{pid}", str(OPTIONS_DIR / "pid.bt")])
    (OPTIONS_DIR / "pid.out").write_bytes(out)
    print(f"recorded pid.out ({len(out)} bytes)")
    for name in DIAG_CASES:
        out = run_diag([str(REFERENCE)], name)
        (OPTIONS_DIR / f"{name}.out").write_bytes(out)
        print(f"recorded {name}.out ({len(out)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
