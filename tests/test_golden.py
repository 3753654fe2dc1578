"""The golden corpus matches what bt2c generates today, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from bt2c.transpile import transpile

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
SCRIPTS = sorted(GOLDEN.glob("*.bt"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_golden_is_current(script: Path) -> None:
    out = transpile(script.read_text(), script.name)
    for fname, text in out.files.items():
        expected = (GOLDEN / script.stem / fname).read_text()
        assert text == expected, f"{fname} changed: run `bt2c golden update` and review the diff"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_generation_is_deterministic(script: Path) -> None:
    a = transpile(script.read_text(), script.name).files
    b = transpile(script.read_text(), script.name).files
    assert a == b
