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
#: Where bt2c deliberately differs from the reference: case -> (bt2c's line, column and
#: message, why).  These are bt2c's own diagnostics, so they are written here by hand.
CHOICES = {
    "unterminated_string": ((1, 16, "syntax: unterminated string"),
                            "bt2c points at the opening quote; bpftrace at the end of the file"),
    "for_map_not_map": ((1, 20, "for loops iterate over a map (@name) or a range (a..b)"),
                        "bt2c points at the operand; bpftrace after the closing parenthesis"),
    "for_range_not_range": ((1, 19, "for loops iterate over a map (@name) or a range (a..b)"),
                            "as for_map_not_map"),
    "printf_bad_conversion": ((1, 16, "printf: Unknown format string token: %z"),
                              "bpftrace skips %z and then counts one argument too many"),
    "map_in_attach": ((1, 1, "Invalid probe type: @x"),
                      "bpftrace's 'No attach points for probe' hides the cause"),
    "override_not_kprobe": ((1, 39, "override() can only be used inside kprobes"),
                            "bpftrace's standard library fails on its own use of ctx first"),
    "uaddr_tracepoint": ((1, 44, 'uaddr can not be used with "tracepoint" probes'),
                         "bpftrace names its internal __builtin_uaddr"),
    "map_key_count_change": ((1, 23, "Argument mismatch for @x: trying to access with "
                                     "arguments: 'int' when map expects arguments: '(int,int)'"),
                             "bt2c reports the access that disagrees with the first one; "
                             "bpftrace the first one, with the two key lists swapped"),
    "strerror_string": ((1, 15, "strerror() only supports integer arguments (string provided)"),
                        "bpftrace points into its standard library's strerror macro"),
    "join_string": ((1, 9, "join() only supports int or pointer arguments (string provided)"),
                    "bpftrace's message has lost the function's name: '() only supports'"),
}
#: bt2c types integer literals as int64 and string literals as string[N] rounded up to
#: 8 bytes, where bpftrace uses the smallest fitting type: compare type names by kind.
_TYPES = re.compile(r"\b(u?int)(8|16|32|64)\b|\b(string)\[\d+\]")


def normalize(msg: str) -> str:
    return _TYPES.sub(lambda m: m.group(1) or m.group(3), msg)


_LOC = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):(?P<col>\d+)(-\d+)?: ERROR: (?P<msg>.*)$")


_ERROR = re.compile(r"^\S+: ERROR: (?P<msg>.*)$")


def reference(case: Path) -> tuple[int, tuple[int, int, str] | None]:
    """The first error located in the case itself.  An error bpftrace raises in its
    standard library (stdlib/*.bt) is followed by "expanded from" lines that lead back
    to the script: its message, at the script's location."""
    rc = int((HERE / "expected" / f"{case.stem}.rc").read_text())
    first_msg = None
    for line in (HERE / "expected" / f"{case.stem}.err").read_text().splitlines():
        m = _LOC.match(line)
        if m and not m["file"].startswith("stdlib/"):
            msg = m["msg"]
            if msg == "expanded from" and first_msg is not None:
                msg = first_msg
            return rc, (int(m["line"]), int(m["col"]), msg)
        e = _ERROR.match(line)
        if e and first_msg is None:
            first_msg = e["msg"]
    return rc, None


#: Lines bpftrace adds to an error, rather than errors of their own: the operands of a
#: mismatch, the closest definition of a call, the assignment an unknown name was in.
_NOTES = re.compile(r"^(left|right) \(|This is the argument in the closest definition"
                    r"|Invalid expression for assignment$")


def reference_all(case: Path) -> list[tuple[int, int, str]]:
    """Every distinct error bpftrace locates in the case itself, notes left out."""
    out: list[tuple[int, int, str]] = []
    for line in (HERE / "expected" / f"{case.stem}.err").read_text().splitlines():
        m = _LOC.match(line)
        if m and not m["file"].startswith("stdlib/") and not _NOTES.match(m["msg"]):
            err = (int(m["line"]), int(m["col"]), normalize(m["msg"]))
            if err not in out:
                out.append(err)
    return out


def located(exc: Bt2cError) -> list[tuple[int, int, str]]:
    """(line, column, message) of each error bt2c reported."""
    out = []
    for e in getattr(exc, "errors", [exc]):
        m = _LOC.match(e.render().splitlines()[0])
        assert m, f"diagnostic without a location: {e.render()}"
        out.append((int(m["line"]), int(m["col"]), normalize(m["msg"])))
    return out


MULTI = [c for c in CASES if c.stem.startswith("multi_")]


@pytest.mark.parametrize("case", MULTI, ids=[c.stem for c in MULTI])
def test_every_error_reported(case: Path) -> None:
    """Errors in separate statements are all reported, as bpftrace reports them, and a
    variable whose assignment failed is not reported again where it is used."""
    with pytest.raises(Bt2cError) as info:
        transpile(case.read_text(), str(case.relative_to(HERE.parent.parent)))
    assert located(info.value) == reference_all(case)


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_no_error_bpftrace_lacks(case: Path) -> None:
    """Whatever bt2c reports after its first error, bpftrace reports too: carrying on
    after an error must not invent follow-on errors."""
    try:
        transpile(case.read_text(), str(case.relative_to(HERE.parent.parent)))
    except Bt2cError as e:
        extra = [err for err in located(e)[1:] if err not in reference_all(case)]
        assert not extra, f"bt2c's further errors that bpftrace does not report: {extra}"


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
    assert got is not None, f"bpftrace rejects this script ({want}); bt2c accepted it"
    if case.stem in CHOICES:
        want = CHOICES[case.stem][0]
    got = (got[0], got[1], normalize(got[2]))
    want = (want[0], want[1], normalize(want[2]))
    assert got == want, f"bpftrace: {want}\nbt2c:     {got}"
