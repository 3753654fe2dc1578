"""``import "path";``: other bpftrace scripts merged into the importing one.

An imported ``.bt`` file contributes what a script's top level holds: C
definitions and ``#define`` macros, map declarations, ``macro``s and probes
(the imported probes run before the main script's, ordered as bpftrace v0.27.1
orders them: by their files' paths, in reverse).  A path names a file or
a directory (every ``.bt`` file in it, in name order) and is looked for next to
the file that imports it, then next to the main script (bpftrace v0.27.1 looks
only there); a script given with ``-e`` imports relative to the current
directory.  Each file is imported once, so import cycles end by themselves.

Each imported file keeps its own :class:`Source` while it is parsed, so its
syntax errors name it; its spans are then moved past the importer's text in one
combined Source (see :class:`bt2c.diagnostics.Source`), so later passes still
report the file and line a node came from.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from bt2c import ast
from bt2c.diagnostics import Bt2cError, Source, Span

#: What bpftrace can import that bt2c cannot: C compiled into the BPF program.
_C_SUFFIXES = (".h", ".c")


@dataclass
class Importer:
    """What every file of one script shares: where the main script is, and which
    files were imported already."""

    root: Source
    directory: Path | None = None   # where the main script is; default: from its name
    seen: set[str] = field(default_factory=set)
    #: id() of each imported probe -> the real path of its file, to order them
    origin: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = Path(self.root.name).parent
        path = self.directory / Path(self.root.name).name
        if path.is_file():
            self.seen.add(os.path.realpath(path))

    def candidates(self, importer: Path, text: str) -> list[Path]:
        """Where ``import "text"`` in file ``importer`` may point, in the order tried."""
        if os.path.isabs(text):
            return [Path(text)]
        assert self.directory is not None
        out = [importer.parent / text, self.directory / text]
        return list(dict.fromkeys(out))

    def files(self, importer: Path, text: str, span: Span, source: Source) -> list[Path]:
        """The files ``import "text"`` brings in (those not imported yet), in order."""
        tried = self.candidates(importer, text)
        found = next((p for p in tried if p.is_file() or p.is_dir()), None)
        if found is None:
            raise Bt2cError("Unable to find suitable path for import", span, source,
                            tuple(f"checked: {p}" for p in tried))
        if found.is_dir():
            entries = sorted(found.iterdir())
            if any(p.name.endswith(_C_SUFFIXES) for p in entries):
                raise self._c_file(span, source)
            paths = [p for p in entries if p.suffix == ".bt" and p.is_file()]
        elif found.name.endswith(_C_SUFFIXES):
            raise self._c_file(span, source)
        else:
            paths = [found]
        new = []
        for p in paths:
            key = os.path.realpath(p)
            if key not in self.seen:
                self.seen.add(key)
                new.append(p)
        return new

    @staticmethod
    def _c_file(span: Span, source: Source) -> Bt2cError:
        return Bt2cError("bt2c cannot import C files (.h, .bpf.c): only bpftrace scripts "
                         "(.bt)", span, source)

    def read(self, path: Path, name: str, span: Span, source: Source) -> Source:
        """The imported file's text, reported under ``name`` (the path as imported)."""
        try:
            return Source(name, path.read_text())
        except (OSError, UnicodeDecodeError) as exc:
            raise Bt2cError(f"cannot read import {path}: {exc}", span, source) from None


def shift(program: ast.Program, offset: int) -> None:
    """Move every span of an imported file's tree ``offset`` characters on, to where
    its text sits in the importer's combined Source."""
    done: set[int] = set()
    roots: list[object] = [program.probes, program.c_definitions, program.map_decls,
                           list(program.macros.values())]
    for node in ast.walk(roots):
        if id(node) not in done:
            done.add(id(node))
            node.span = Span(node.span.start + offset, node.span.end + offset)


def combine(source: Source, imported: list[Source]) -> tuple[Source, list[int]]:
    """One Source holding ``source`` then each imported one, and where each starts."""
    text, parts, offsets = source.text, list(source.parts), []
    for sub in imported:
        text += "\n"
        offsets.append(len(text))
        parts.append((len(text), sub.name))
        parts.extend((start + offsets[-1], name) for start, name in sub.parts)
        text += sub.text
    return Source(source.name, text, tuple(parts)), offsets


_IMPORT_RE = re.compile(r'^\s*import\s+"((?:\\.|[^"\\])*)"\s*;', re.M)


def import_digest(text: str, script: str) -> str:
    """A digest of the files a script imports (and they import), for build caches: a
    cached tool is stale once an imported file changes.  Found by a plain scan of the
    ``import`` lines, so it costs no parse; "" for a script that imports nothing."""
    if "import" not in text:
        return ""
    root = Path(script).parent
    digest = hashlib.sha256()
    seen: set[str] = set()
    todo = [(root / Path(script).name, text)]
    while todo:
        importer, body = todo.pop()
        for name in _IMPORT_RE.findall(body):
            for base in (importer.parent, root):
                found = Path(name) if os.path.isabs(name) else base / name
                if found.is_file() or found.is_dir():
                    break
            else:
                continue
            files = sorted(found.glob("*.bt")) if found.is_dir() else [found]
            for f in files:
                key = os.path.realpath(f)
                if key in seen or not f.is_file():
                    continue
                seen.add(key)
                try:
                    data = f.read_bytes()
                except OSError:
                    continue
                digest.update(key.encode() + b"\0" + data + b"\0")
                todo.append((f, data.decode(errors="replace")))
    return digest.hexdigest()
