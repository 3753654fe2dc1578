"""The side-by-side review page of golden corpus changes (``bt2c golden diff --html``).

One self-contained HTML file (inline CSS, no scripts or network resources),
so it can be attached to a pull request or opened from a CI artefact.  Python
pairs the lines and marks the changed characters; the page's markup lives in
``templates/golden/review.html.j2``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from bt2c.golden import Change

CONTEXT = 3  #: unchanged lines shown around each change


@dataclass
class Row:
    """One line of the side-by-side table; a side is None when it has no line."""

    kind: str  #: equal, replace, delete, insert, or skip (a fold between hunks)
    left_no: int | None = None
    left: Markup = Markup("")
    right_no: int | None = None
    right: Markup = Markup("")


@dataclass
class FileView:
    """One changed file: its rows and line counts."""

    path: str
    status: str
    added: int
    removed: int
    rows: list[Row] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "f-" + "".join(c if c.isalnum() else "-" for c in self.path)


def _mark(a: str, b: str) -> tuple[Markup, Markup]:
    """Both lines escaped, with the characters that differ wrapped in <del>/<ins>."""
    sm = difflib.SequenceMatcher(None, a, b, autojunk=False)
    left, right = [], []
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        x, y = escape(a[i1:i2]), escape(b[j1:j2])
        if op == "equal":
            left.append(x)
            right.append(y)
            continue
        if i2 > i1:
            left.append(Markup("<del>%s</del>") % a[i1:i2])
        if j2 > j1:
            right.append(Markup("<ins>%s</ins>") % b[j1:j2])
    return Markup("").join(left), Markup("").join(right)


def side_by_side(old: list[str], new: list[str]) -> list[Row]:
    """Rows for the changed regions of two line lists, with CONTEXT lines around them."""
    rows: list[Row] = []
    sm = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for n, group in enumerate(sm.get_grouped_opcodes(CONTEXT)):
        if n or group[0][1] > 0:
            rows.append(Row("skip"))
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                for k in range(i2 - i1):
                    text = escape(old[i1 + k])
                    rows.append(Row("equal", i1 + k + 1, text, j1 + k + 1, text))
                continue
            span = max(i2 - i1, j2 - j1)
            for k in range(span):
                i, j = i1 + k, j1 + k
                a = old[i] if i < i2 else None
                b = new[j] if j < j2 else None
                if a is not None and b is not None:
                    la, rb = _mark(a, b)
                    rows.append(Row("replace", i + 1, la, j + 1, rb))
                elif a is not None:
                    rows.append(Row("delete", i + 1, escape(a)))
                else:
                    rows.append(Row("insert", None, Markup(""), j + 1, escape(b or "")))
    return rows


def render_review(changes: list[Change], title: str) -> str:
    """The whole page for ``changes``."""
    from bt2c.templating import environment

    files = []
    for c in changes:
        added, removed = c.counts()
        old = [] if c.old is None else c.old.splitlines()
        new = [] if c.new is None else c.new.splitlines()
        files.append(FileView(c.path, c.status, added, removed, side_by_side(old, new)))
    template = environment().get_template("golden/review.html.j2")
    return template.render(title=title, files=files,
                            total_added=sum(f.added for f in files),
                            total_removed=sum(f.removed for f in files))
