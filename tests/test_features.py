"""The golden corpus covers the README's feature table, and the table lists what is tested.

README.md's "Supported language" table (between the ``features:begin``/``end``
markers) names each supported form in backticks, outside parentheses (text in
parentheses is explanation).  Every such form must appear in some golden script,
so the C generated for it has been reviewed; every form the end-to-end corpus
exercises must be in the table, so the table is complete.
"""

from __future__ import annotations

import re
from pathlib import Path

from bt2c.diagnostics import Source
from bt2c.features import features
from bt2c.parser import parse

REPO = Path(__file__).resolve().parent.parent
GOLDEN_SCRIPTS = sorted((REPO / "golden").glob("*.bt"))
TESTED_SCRIPTS = sorted((REPO / "tests" / "e2e" / "cases").glob("*.bt"))
MIN_GOLDEN = 40


def table_forms() -> set[str]:
    """The backticked forms of the table's second column, outside parentheses."""
    readme = (REPO / "README.md").read_text()
    m = re.search(r"<!-- features:begin -->\n(.*?)<!-- features:end -->", readme, re.S)
    assert m, "README.md lost its features table markers"
    forms: set[str] = set()
    for row in m.group(1).splitlines()[2:]:
        cells = re.split(r"(?<!\\)\|", row)
        if len(cells) < 4:
            continue
        forms |= _code_spans_outside_parens(cells[2].replace("\\|", "|"))
    return forms


def _code_spans_outside_parens(cell: str) -> set[str]:
    out, depth, i = set(), 0, 0
    while i < len(cell):
        c = cell[i]
        if c == "`":
            end = cell.index("`", i + 1)
            if depth == 0:
                out.add(cell[i + 1:end])
            i = end + 1
            continue
        depth += c == "("
        depth -= c == ")"
        i += 1
    return out


def used(scripts: list[Path]) -> dict[str, list[str]]:
    """Feature -> scripts using it."""
    out: dict[str, list[str]] = {}
    for p in scripts:
        for f in features(parse(Source(p.name, p.read_text()), p.parent)):
            out.setdefault(f, []).append(p.name)
    return out


def test_corpus_size() -> None:
    assert len(GOLDEN_SCRIPTS) >= MIN_GOLDEN


def test_every_listed_form_is_in_the_golden_corpus() -> None:
    missing = sorted(table_forms() - set(used(GOLDEN_SCRIPTS)))
    assert not missing, f"forms in README's table that no golden/*.bt uses: {missing}"


def test_every_tested_feature_is_listed() -> None:
    listed = table_forms()
    unlisted = {f: s[:3] for f, s in used(TESTED_SCRIPTS + GOLDEN_SCRIPTS).items()
                if f not in listed}
    assert not unlisted, f"features used by tests but missing from README's table: {unlisted}"
