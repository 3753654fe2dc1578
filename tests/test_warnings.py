"""bt2c prints bpftrace v0.27.1's compile-time warnings: same places, same words.

``tests/warnings/cases/*.bt`` compile with warnings (or, a few, without);
``expected/NAME.err`` holds what the reference printed for them (recorded by
tests/warnings/record.py, without the warnings about this machine).  bt2c's
warnings for each case, for a run without positional parameters, must be the
same warnings: location (``FILE:LINE:COL-END``), message, source line, underline
and hint.  bpftrace prints a few warnings twice (its type resolver visits some
expressions more than once); they are compared once.  Where bt2c deliberately
differs, CHOICES has bt2c's warnings and why.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.transpile import transpile

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent
HERE = TESTS / "warnings"
CASES = sorted((HERE / "cases").glob("*.bt"))
_HEADER = re.compile(r"^\S+:\d+(:\d+)?-\d+: WARNING: ")
#: Where bt2c deliberately differs from the reference: case -> (the first line of each
#: of bt2c's warnings, in order, why).  bt2c's own output, so written here by hand.
CHOICES: dict[str, tuple[list[str], str]] = {
    "map_key_conversion": ([
        "tests/warnings/cases/map_key_conversion.bt:2:38-51: WARNING: Addrspace mismatch",
        "tests/warnings/cases/map_key_conversion.bt:5:48-55: WARNING: Expression of type: "
        "uint64 being cast to type: int64. This may cause unexpected results. Use an "
        "explicit cast to suppress this warning.",
        "tests/warnings/cases/map_key_conversion.bt:6:20-27: WARNING: Expression of type: "
        "uint64 being cast to type: int64. This may cause unexpected results. Use an "
        "explicit cast to suppress this warning.",
        "tests/warnings/cases/map_key_conversion.bt:6:3-29: WARNING: Return value discarded.",
    ], "bpftrace's delete() is a macro of its standard library: the key's warning goes on "
       "to name the library's lines it was expanded through; bt2c has no such library"),
}


def blocks(text: str) -> list[str]:
    """Split stderr into warnings: a header line and what follows it (source lines,
    underline, HINT and "expanded from" lines)."""
    out: list[str] = []
    for line in text.splitlines():
        if _HEADER.match(line) and ": WARNING: expanded from" not in line or not out:
            out.append(line)
        else:
            out[-1] += "\n" + line
    return out


def unique(items: list[str]) -> list[str]:
    return sorted(set(items))


def bt2c_warnings(case: Path) -> list[str]:
    rel = str(case.relative_to(REPO))
    out = transpile(case.read_text(), rel, warn=False, params=[])
    return blocks("\n".join(out.warnings))


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_same_warnings_as_bpftrace(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    got = bt2c_warnings(case)
    if case.stem in CHOICES:
        want = CHOICES[case.stem][0]
        assert [g.splitlines()[0] for g in got] == want
        return
    want = blocks((HERE / "expected" / f"{case.stem}.err").read_text())
    assert unique(got) == unique(want)


def test_choices_are_cases() -> None:
    assert set(CHOICES) <= {c.stem for c in CASES}
