"""bt2c rejects bad scripts where bpftrace v0.27.1 does, at the same place, with its words.

``tests/errors/cases/*.bt`` are scripts, mostly wrong; ``expected/NAME.err`` and
``.rc`` hold what the reference printed (recorded by tests/errors/record.py).
Where bpftrace rejects a script, bt2c must reject it too, on the same line and
column, with the same message (bt2c prints ``FILE:LINE:COL:`` where bpftrace
prints ``FILE:LINE:COL-END:``).  Where bpftrace accepts it, bt2c must too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bt2c.diagnostics import Bt2cError
from bt2c.transpile import transpile

HERE = Path(__file__).resolve().parent / "errors"
CASES = sorted((HERE / "cases").glob("*.bt"))
_LOC = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+)(-\d+)?: ERROR: (?P<msg>.*)$")


def reference(case: Path) -> tuple[int, tuple[int, int, str] | None]:
    rc = int((HERE / "expected" / f"{case.stem}.rc").read_text())
    for line in (HERE / "expected" / f"{case.stem}.err").read_text().splitlines():
        m = _LOC.match(line)
        if m:
            return rc, (int(m["line"]), int(m["col"]), m["msg"])
    return rc, None


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_same_diagnostic_as_bpftrace(case: Path) -> None:
    rc, want = reference(case)
    rel = str(case.relative_to(HERE.parent.parent))
    try:
        transpile(case.read_text(), rel)
        got = None
    except Bt2cError as e:
        m = _LOC.match(e.render().splitlines()[0])
        assert m, f"diagnostic without a location: {e.render()}"
        got = (int(m["line"]), int(m["col"]), m["msg"])
        assert e.render().splitlines()[2].strip("~ ") == "", "an underline follows the line"
    if rc == 0:
        assert got is None, f"bpftrace accepts this script; bt2c said {got}"
        return
    assert want is not None, "the recording has no located error"
    assert got == want, f"bpftrace: {want}\nbt2c:     {got}"
