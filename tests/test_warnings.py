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
_HEADER = re.compile(r"^(\S+:\d+(:\d+)?-\d+: )?WARNING: ")
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


# -- the commands print them once; the generated tool does not --------------------
SCRIPT = """BEGIN {
  $i = 0;
  while ($i < 3) { $i++; }
  $x = (int32)$i;
  printf("%d %d\\n", $x / 2, $1);
  exit();
}
"""


def bt2c(*args: str, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], capture_output=True,
                          text=True, timeout=600, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def expected_warnings(script: Path, params: list[str] | None) -> str:
    out = transpile(script.read_text(), script.name, warn=False, params=params)
    # a while loop and a signed division, and $1 when the run has no $1
    assert len(out.warnings) == (3 if params == [] else 2)
    return "".join(w + "\n" for w in out.warnings)


def test_transpile_and_build_print_warnings_once(tmp_path: Path) -> None:
    script = tmp_path / "w.bt"
    script.write_text(SCRIPT)
    want = expected_warnings(script, None)
    t = bt2c("transpile", "w.bt", "-o", "out", cwd=tmp_path)
    assert t.returncode == 0, t.stderr
    assert t.stderr == want
    b = bt2c("build", "w.bt", "-o", "built", cwd=tmp_path)
    assert b.returncode == 0, b.stderr
    assert b.stderr.count("WARNING") == 2 and want in b.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="loads BPF programs: needs root")
def test_run_prints_warnings_once_and_the_tool_none(tmp_path: Path,
                                                   kernel_mounts: None) -> None:
    script = tmp_path / "w.bt"
    script.write_text(SCRIPT)
    env = {"BT2C_CACHE": str(tmp_path / "cache")}
    missing = expected_warnings(script, [])   # no $1: bpftrace warns about it too
    given = expected_warnings(script, ["7"])
    assert "Positional parameter $1" in missing and "Positional" not in given
    runs = [bt2c("run", "w.bt", cwd=tmp_path, env=env),     # builds
            bt2c("run", "w.bt", cwd=tmp_path, env=env),     # from the cache
            bt2c("run", "w.bt", "7", cwd=tmp_path, env=env)]
    for r, want in zip(runs, [missing, missing, given]):
        assert r.returncode == 0, r.stderr
        assert r.stderr.startswith(want), r.stderr
        assert r.stderr.count("WARNING") == want.count("WARNING")
    quiet = bt2c("run", "--no-warnings", "w.bt", cwd=tmp_path, env=env)
    assert "WARNING" not in quiet.stderr and quiet.stdout == runs[0].stdout
    # the tool itself prints the same output and no compile-time warning
    tools = [p for p in (tmp_path / "cache" / "tools").glob("*/w") if p.is_file()]
    assert len(tools) == 1
    tool = subprocess.run([str(tools[0]), "--", "7"], capture_output=True, text=True,
                          timeout=60)
    assert tool.returncode == 0 and "WARNING" not in tool.stderr
    assert tool.stdout == runs[2].stdout and runs[0].stdout == runs[1].stdout
    assert runs[0].stdout != runs[2].stdout    # $1 reached the tool: 0, then 7
