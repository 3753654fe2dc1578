"""No input makes bt2c show a Python traceback.

Every file under tests/ and golden/ (scripts, but also C, Python and expected
outputs: anything a user might pass by mistake) is fed to the transpiler, as is
and mutated at random: bytes and tokens deleted, duplicated, swapped and
replaced by pieces of other files.  Each run must end in success or in a
:class:`Bt2cError` (a ``FILE:LINE:COL: ERROR:`` diagnostic); any other exception
is a bug.  The seed is fixed, so a failure reproduces; ``BT2C_FUZZ_SEED`` and
``BT2C_FUZZ_ROUNDS`` widen the search locally.
"""

from __future__ import annotations

import os
import random
import re
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

from bt2c.diagnostics import Bt2cError
from bt2c.transpile import transpile

REPO = Path(__file__).resolve().parent.parent
SEED = int(os.environ.get("BT2C_FUZZ_SEED", "20261130"))
ROUNDS = int(os.environ.get("BT2C_FUZZ_ROUNDS", "4"))
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")

#: Fragments that stress the grammar's corners.
_SPICE = ["(", ")", "{", "}", "[", "]", "/", "//", "/*", "*/", "\"", "'", "\\", "$", "@",
          "$1", "$#", "@x[", "0x", "99999999999999999999999", "-", "++", ";", ",", ":", "?",
          "..", "->", ".", "*", "&", "args", "str(", "printf(\"%s %d %", "BEGIN", "END",
          "tracepoint:", "kprobe:", "uprobe:", "if", "else", "while", "for", "unroll(",
          "return", "config = {", "struct", "#include", "\n", "\0", "\u00e9", "\t", "ms", "hz"]


def _inputs() -> list[Path]:
    files = []
    for top in ("tests", "golden"):
        for p in sorted((REPO / top).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.stat().st_size < 200_000 \
                    and p.suffix not in (".o", ".png", ".pyc") and "tracefs" not in p.parts:
                files.append(p)
    return files


def _mutate(rng: random.Random, text: str, donors: list[str]) -> str:
    toks = _TOKEN.findall(text) or [""]
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(toks))
        op = rng.randrange(6)
        if op == 0:
            del toks[i:i + rng.randint(1, 3)]
        elif op == 1:
            toks.insert(i, rng.choice(_SPICE))
        elif op == 2:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        elif op == 3:
            toks[i:i] = toks[i:i + rng.randint(1, 8)]
        elif op == 4:
            donor = rng.choice(donors)
            k = rng.randrange(max(1, len(donor)))
            toks.insert(i, donor[k:k + rng.randint(1, 40)])
        else:
            cut = rng.randrange(len(toks))
            toks = toks[:cut]
        if not toks:
            toks = [""]
    return "".join(toks)


def _transpile_cleanly(text: str, name: str) -> str | None:
    """None when bt2c succeeded or gave a diagnostic; else the traceback."""
    try:
        transpile(text, name)
    except Bt2cError as e:
        if "Traceback (most recent call last)" in e.message:  # the source line may say it
            return e.render()
    except Exception:  # noqa: BLE001 - that is what the test looks for
        return traceback.format_exc()
    return None


def _read(p: Path) -> str:
    return p.read_bytes().decode("utf-8", errors="replace")


FILES = _inputs()


@pytest.fixture(autouse=True)
def _no_formatter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """clang-format only changes whitespace; skipping it makes thousands of runs cheap."""
    from bt2c.formatting import find_clang_format

    monkeypatch.setenv("BT2C_CLANG_FORMAT", "")
    find_clang_format.cache_clear()
    yield
    find_clang_format.cache_clear()


@pytest.mark.parametrize("chunk", range(4))
def test_mutated_inputs_never_crash(chunk: int) -> None:
    texts = [_read(p) for p in FILES]
    failures = []
    for n, (path, text) in enumerate(zip(FILES, texts)):
        if n % 4 != chunk:
            continue
        rng = random.Random(f"{SEED}:{path.relative_to(REPO)}")
        cases = [text] + [_mutate(rng, text, texts) for _ in range(ROUNDS)]
        for k, case in enumerate(cases):
            tb = _transpile_cleanly(case, path.name)
            if tb:
                failures.append(f"{path.relative_to(REPO)} mutation {k}:\n{case[:400]!r}\n{tb}")
    assert not failures, f"{len(failures)} inputs crashed bt2c:\n\n" + "\n\n".join(failures[:5])


@pytest.mark.parametrize("text", [
    "BEGIN { $x = " + "(" * 5000 + "1" + ")" * 5000 + "; }",
    "BEGIN { if (1) " * 3000 + "{}" + " }" * 3000,
    "BEGIN { $x = " + " + ".join(["1"] * 20000) + "; }",
    "BEGIN { @" + "x" * 100000 + " = 1; }",
    "BEGIN { printf(\"" + "%d" * 3000 + "\"); }",
    "\0\0\0",
    "\ufeffBEGIN { exit(); }",
    "",
], ids=["parens", "ifs", "long-sum", "long-name", "many-conversions", "nul", "bom", "empty"])
def test_pathological_inputs(text: str) -> None:
    assert _transpile_cleanly(text, "patho.bt") is None
