"""Tokenizer for the bpftrace language.

Attach points (``tracepoint:syscalls:sys_enter_*``, ``interval:ms:100``) do not
follow the expression grammar, so the lexer is driven by the parser: at the top
level the parser asks for :meth:`Lexer.attach_point`, everywhere else for
ordinary tokens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from bt2c.diagnostics import Bt2cError, Source, Span


class Kind(Enum):
    """Token categories."""

    INT = "integer"
    STRING = "string"
    IDENT = "identifier"
    VAR = "variable"
    MAP = "map"
    PARAM = "positional parameter"
    OP = "operator"
    ATTACH = "attach point"
    EOF = "end of file"


@dataclass(frozen=True)
class Token:
    """One token with its source span; ``value`` holds the decoded literal."""

    kind: Kind
    text: str
    span: Span
    value: object = None


# Longest operators first so that "<<=" wins over "<<" and "<".
_OPERATORS = sorted(
    """<<= >>= ++ -- -> == != <= >= && || << >> += -= *= /= %= &= |= ^= ..
    + - * / % & | ^ ! ~ < > = ? : ; , . ( ) { } [ ]""".split(),
    key=len,
    reverse=True,
)
_INT_RE = re.compile(r"(0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:[eE][0-9]+)?)"
                     r"(ns|us|ms|s|m|h|d)?(?![A-Za-z0-9_])")
# Duration suffixes scale a literal to nanoseconds, as in bpftrace.
_DURATIONS = {None: 1, "ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
              "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTACH_RE = re.compile(r"[^\s,{}/]+(?:/[^\s,{}]*)?")
# bpftrace's escapes; \0 and other octal digits are handled as octal (\001 is byte 1).
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}


def _int_value(raw: str) -> int:
    """Value of an integer literal: hex, binary, C-style octal, decimal, or 1e6 notation."""
    low = raw.lower()
    if low.startswith(("0x", "0b")):
        return int(raw, 0)
    if "e" in low:
        mantissa, exponent = low.split("e")
        return int(mantissa) * 10 ** int(exponent)
    if len(raw) > 1 and raw.startswith("0"):
        return int(raw, 8)
    return int(raw)


class Lexer:
    """On-demand tokenizer over one :class:`Source`."""

    def __init__(self, source: Source):
        self.source = source
        self.text = source.text
        self.pos = 0

    def error(self, message: str, start: int, end: int | None = None) -> Bt2cError:
        """Build a located error."""
        return Bt2cError(message, Span(start, end if end is not None else start + 1), self.source)

    def skip_space(self) -> None:
        """Skip whitespace and // and /* */ comments."""
        text = self.text
        while self.pos < len(text):
            ch = text[self.pos]
            if ch.isspace():
                self.pos += 1
            elif text.startswith("//", self.pos):
                nl = text.find("\n", self.pos)
                self.pos = len(text) if nl < 0 else nl + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.error("unterminated comment", self.pos, self.pos + 2)
                self.pos = end + 2
            else:
                return

    def attach_point(self) -> Token:
        """Read one attach point, e.g. ``tracepoint:syscalls:sys_enter_open*``.

        A ``/`` belongs to the attach point only inside a path (``uprobe:/bin/sh:f``);
        one preceded by space starts the predicate instead.
        """
        self.skip_space()
        start = self.pos
        m = _ATTACH_RE.match(self.text, self.pos)
        if not m:
            return self.next()
        text = m.group(0)
        # Paths: keep consuming "/segment" runs that follow a ':' or another path part.
        end = m.end()
        while end < len(self.text) and self.text[end] == "/" and text.endswith(":"):
            m2 = re.compile(r"/[^\s,{}]*").match(self.text, end)
            assert m2
            text += m2.group(0)
            end = m2.end()
        self.pos = end
        return Token(Kind.ATTACH, text, Span(start, end))

    def next(self) -> Token:
        """Read the next ordinary token."""
        self.skip_space()
        text, start = self.text, self.pos
        if start >= len(text):
            return Token(Kind.EOF, "", Span(start, start))
        ch = text[start]
        if ch == '"':
            return self._string()
        if ch.isdigit():
            m = _INT_RE.match(text, start)
            if m is None:
                end = re.compile(r"[0-9A-Za-z_]+").match(text, start).end()  # type: ignore[union-attr]
                raise self.error(f"invalid integer literal '{text[start:end]}'", start, end)
            self.pos = m.end()
            raw = m.group(1).replace("_", "")
            try:
                value = _int_value(raw) * _DURATIONS[m.group(2)]
            except ValueError:
                raise self.error(f"invalid integer literal '{m.group(0)}'", start,
                                 self.pos) from None
            return Token(Kind.INT, m.group(0), Span(start, self.pos), value)
        if ch == "$":
            if text.startswith("$#", start):
                self.pos += 2
                return Token(Kind.PARAM, "$#", Span(start, self.pos), "#")
            m = re.compile(r"\$([0-9]+)").match(text, start)
            if m:
                self.pos = m.end()
                return Token(Kind.PARAM, m.group(0), Span(start, self.pos), int(m.group(1)))
            m = _IDENT_RE.match(text, start + 1)
            if not m:
                raise self.error("expected a variable name after '$'", start)
            self.pos = m.end()
            return Token(Kind.VAR, text[start:self.pos], Span(start, self.pos))
        if ch == "@":
            m = _IDENT_RE.match(text, start + 1)
            self.pos = m.end() if m else start + 1
            return Token(Kind.MAP, text[start:self.pos], Span(start, self.pos))
        m = _IDENT_RE.match(text, start)
        if m:
            self.pos = m.end()
            return Token(Kind.IDENT, m.group(0), Span(start, self.pos))
        for op in _OPERATORS:
            if text.startswith(op, start):
                self.pos = start + len(op)
                return Token(Kind.OP, op, Span(start, self.pos))
        raise self.error(f"unexpected character '{ch}'", start)

    def _string(self) -> Token:
        start = self.pos
        i = start + 1
        out: list[str] = []
        text = self.text
        while i < len(text) and text[i] != '"':
            if text[i] == "\n":
                break
            if text[i] == "\\" and i + 1 < len(text):
                esc = text[i + 1]
                if esc in _ESCAPES:
                    out.append(_ESCAPES[esc])
                    i += 2
                    continue
                m = re.compile(r"x([0-9a-fA-F]{1,2})|([0-7]{1,3})").match(text, i + 1)
                if m:
                    out.append(chr(int(m.group(1), 16) if m.group(1) else int(m.group(2), 8)))
                    i = m.end()
                    continue
                raise self.error(f"invalid escape character '\\{esc}'", i, i + 2)
            out.append(text[i])
            i += 1
        if i >= len(text) or text[i] != '"':
            raise self.error("syntax: unterminated string", start, i)
        self.pos = i + 1
        return Token(Kind.STRING, text[start:self.pos], Span(start, self.pos), "".join(out))
