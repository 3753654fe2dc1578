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
# An integer literal: hex digits after 0x end the literal (what follows is the next
# token, as in bpftrace); other literals run over every letter, digit and underscore,
# and what follows the digits must be a suffix.
_HEX_RE = re.compile(r"0[xX]([0-9a-fA-F]*)")
_DEC_RE = re.compile(r"[0-9][0-9A-Za-z_]*")
_DIGITS_RE = re.compile(r"[0-9_]*(?:e[0-9]+)?")
# Duration suffixes scale a literal to nanoseconds, as in bpftrace.
_DURATIONS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
              "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
# C-like suffixes (lower case only): the largest value each allows; ul and ull are unsigned.
_INT_SUFFIXES = {"u": 2**32 - 1, "l": 2**63 - 1, "ll": 2**63 - 1, "ul": 2**64 - 1,
                 "ull": 2**64 - 1}
_C_SUFFIX_RE = re.compile(r"[uU]?[lL]{0,2}")
_DURATIONS_LONGEST = sorted(_DURATIONS, key=len, reverse=True)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ATTACH_RE = re.compile(r"[^\s,{}/]+(?:/[^\s,{}]*)?")
# bpftrace's escapes; \0 and other octal digits are handled as octal (\001 is byte 1).
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}


def _int_value(digits: str) -> int | None:
    """Value of a literal's digits (no underscores): C-style octal, decimal, or 1e6
    notation; None for an octal literal with an 8 or 9."""
    if "e" in digits:
        mantissa, exponent = digits.split("e")
        return int(mantissa) * 10 ** int(exponent)
    if len(digits) > 1 and digits.startswith("0"):
        return int(digits, 8) if not set(digits) & {"8", "9"} else None
    return int(digits)


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
            return self._integer()
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

    def _integer(self) -> Token:
        """An integer literal, with bpftrace's suffixes (``u``, ``l``, ``ul``, ``ll``,
        ``ull``; durations ``ns`` .. ``d``) and its errors for the rest."""
        text, start = self.text, self.pos
        hexa = _HEX_RE.match(text, start)
        if hexa:
            if not hexa.group(1).strip("_"):
                raise self.error("syntax: invalid integer: ", start, hexa.end())
            self.pos = hexa.end()
            return Token(Kind.INT, hexa.group(0), Span(start, self.pos), int(hexa.group(1), 16))
        whole = _DEC_RE.match(text, start)
        assert whole is not None
        end = whole.end()
        raw = whole.group(0)
        digits = _DIGITS_RE.match(raw)
        assert digits is not None
        number, rest = digits.group(0), raw[digits.end():]
        if number.endswith("_"):
            at = start + len(number) - 1
            raise self.error("syntax: trailing underscore in integer literal", at, at + 1)
        value = _int_value(number.replace("_", ""))
        if value is None or rest.startswith("e"):
            raise self.error(f"syntax: invalid trailing bytes: {raw}", start, end)
        # A duration, else C's suffix letters in any case (only the lower-case
        # spellings are valid).
        suffix = next((x for x in _DURATIONS_LONGEST if rest.startswith(x)), "")
        if not suffix:
            suffix = _C_SUFFIX_RE.match(rest).group(0)  # type: ignore[union-attr]
            if suffix and suffix not in _INT_SUFFIXES and suffix == rest:
                raise self.error(f"syntax: invalid trailing bytes: {raw}", start, end)
        left = rest[len(suffix):]
        if left:
            raise self.error(f"syntax: invalid integer suffix '{left}'", end - len(left), end)
        value *= _DURATIONS.get(suffix, 1)
        limit = _INT_SUFFIXES.get(suffix, 2**64 - 1)
        if value > limit:
            raise self.error(f"syntax: overflow error, maximum value is {limit}: {raw}",
                             start, end)
        self.pos = end
        return Token(Kind.INT, raw, Span(start, end), value)

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
