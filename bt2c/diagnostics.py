"""Source spans and user-facing errors.

Every error that reaches a user goes through :class:`Bt2cError` so the CLI can
print it the way bpftrace does (``FILE:LINE:COL: ERROR: message``, the source
line, a ``~~~`` underline) instead of a Python traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """A script's text and the name it is reported under.

    A script that imports others (``import "lib.bt";``) is one Source whose text is
    the script followed by each imported file: ``parts`` holds the (offset, name) at
    which each imported file starts, so that one span type serves every file and a
    location is still reported as the file and line it came from.
    """

    name: str
    text: str
    parts: tuple[tuple[int, str], ...] = ()

    def _part(self, offset: int) -> tuple[int, str]:
        """(start offset, name) of the file that holds ``offset``."""
        found = (0, self.name)
        for start, name in self.parts:
            if start > offset:
                break
            found = (start, name)
        return found

    def name_at(self, offset: int) -> str:
        """The name of the file that holds ``offset``."""
        return self._part(offset)[1]

    def line(self, lineno: int, at: int = 0) -> str:
        """Return line ``lineno`` (1-based) without its newline, of the file holding
        offset ``at``."""
        start = self._part(at)[0]
        end = next((s for s, _ in self.parts if s > start), len(self.text))
        lines = self.text[start:end].splitlines()
        return lines[lineno - 1] if 0 < lineno <= len(lines) else ""

    def position(self, offset: int) -> tuple[int, int]:
        """Map a character offset to a 1-based (line, column) in its file."""
        first = self._part(offset)[0]
        line = self.text.count("\n", first, offset) + 1
        start = max(first, self.text.rfind("\n", 0, offset) + 1)
        return line, offset - start + 1


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) in a :class:`Source`."""

    start: int
    end: int

    def to(self, other: Span) -> Span:
        """The span covering both ``self`` and ``other``."""
        return Span(min(self.start, other.start), max(self.end, other.end))


class Bt2cError(Exception):
    """An error in the user's input or environment, printed without a traceback."""

    def __init__(self, message: str, span: Span | None = None, source: Source | None = None,
                 hints: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.span = span
        self.source = source
        self.hints = hints

    def render(self, level: str = "ERROR") -> str:
        """Format like bpftrace: location, message, source line and underline."""
        hints = "".join(f"\nHINT: {h}" for h in self.hints)
        if self.span is None or self.source is None:
            return f"{level}: {self.message}{hints}"
        line, col, text, underline = quote(self.source, self.span)
        return (f"{self.source.name_at(self.span.start)}:{line}:{col}: {level}: {self.message}"
                f"\n{text}\n{underline}{hints}")


class Bt2cErrors(Bt2cError):
    """Several errors found in one script, reported together as bpftrace reports them.

    It reads as its first error to code that looks at one (message, span), so
    callers that catch :class:`Bt2cError` need not know there were more.
    """

    def __init__(self, errors: list[Bt2cError]):
        first = errors[0]
        super().__init__(first.message, first.span, first.source)
        self.errors = errors

    def render(self, level: str = "ERROR") -> str:
        """Every error, in the order found."""
        return "\n".join(e.render(level) for e in self.errors)


def quote(source: Source, span: Span) -> tuple[int, int, str, str]:
    """Where ``span`` starts (line, column), that line's text, and the ``~~~`` under the
    span, cut at the line's end: the quote every located message shows."""
    line, col = source.position(span.start)
    text = source.line(line, span.start)
    width = max(1, min(span.end - span.start, len(text) - col + 1))
    return line, col, text, " " * (col - 1) + "~" * width


class ToolMissingError(Bt2cError):
    """A build tool is not installed; the message names the Debian package."""

    def __init__(self, tool: str, package: str):
        super().__init__(f"{tool} not found: install it with `apt-get install {package}`")
