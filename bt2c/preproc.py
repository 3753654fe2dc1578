"""The preprocessor lines of a script's C-definitions section.

bpftrace hands the lines before the first probe (``#include``, ``#define``,
``struct ...``) to clang, and an identifier in the script that names an
object-like ``#define`` stands for that macro's value.  bt2c reads the
directives itself: ``#define``/``#undef`` build the macro table, the
``#if``/``#ifdef``/``#ifndef``/``#elif``/``#else``/``#endif`` conditionals decide
which lines count, ``#include`` and ``#pragma`` are recorded and otherwise
ignored (kernel types come from BTF).  :mod:`bt2c.defines` then puts the
macros' values where the script names them.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass, field

from bt2c.diagnostics import Bt2cError, Source, Span

_DIRECTIVE = re.compile(r"#\s*([A-Za-z_]\w*)?\s*(.*)", re.S)
_NAME = re.compile(r"[A-Za-z_]\w*")
_NAME_IN_TEXT = re.compile(r"(?<!\w)[A-Za-z_]\w*")   # not the x of 0x10
_INT_SUFFIX = re.compile(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]+\b")
_DEFINED = re.compile(r"\bdefined\s*(?:\(\s*([A-Za-z_]\w*)\s*\)|([A-Za-z_]\w*))")
#: Rounds of macro substitution in an ``#if`` line: more is taken for a macro loop.
_MAX_ROUNDS = 32


@dataclass(frozen=True)
class Define:
    """One ``#define``: ``params`` is None for an object-like macro."""

    name: str
    body: str
    params: tuple[str, ...] | None = None


def _predefined() -> dict[str, Define]:
    """What bpftrace's clang defines that scripts test: BTF is always there for bt2c
    (kernel types come from it), and the build host's architecture."""
    arch = {"x86_64": "__x86_64__", "aarch64": "__aarch64__", "arm64": "__aarch64__"}
    out = {"BPFTRACE_HAVE_BTF": Define("BPFTRACE_HAVE_BTF", "1")}
    name = arch.get(platform.machine())
    if name:
        out[name] = Define(name, "1")
    return out


@dataclass
class _Cond:
    """One open ``#if``: whether its current branch counts, whether any branch did."""

    span: Span
    active: bool
    taken: bool
    seen_else: bool = False


@dataclass
class Preprocessor:
    """The macro table and the open conditionals while the definitions are read."""

    defines: dict[str, Define] = field(default_factory=_predefined)
    lines: list[str] = field(default_factory=list)   # every directive, as written
    stack: list[_Cond] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """Whether lines here count (every enclosing conditional's branch is taken)."""
        return all(c.active for c in self.stack)

    def directive(self, line: str, span: Span, source: Source) -> None:
        """Act on one preprocessor line (continuations already joined)."""
        m = _DIRECTIVE.match(line)
        assert m
        name, rest = m.group(1) or "", _strip_comments(m.group(2)).strip()
        self.lines.append(line.strip())

        def error(message: str) -> Bt2cError:
            return Bt2cError(message, span, source)

        if name in ("if", "ifdef", "ifndef"):
            if not self.active:
                self.stack.append(_Cond(span, False, True))
                return
            if name == "if":
                value = self.evaluate(rest, span, source)
            else:
                if not _NAME.fullmatch(rest):
                    raise error(f"#{name} takes a macro name")
                value = (rest in self.defines) == (name == "ifdef")
            self.stack.append(_Cond(span, value, value))
            return
        if name in ("elif", "else", "endif"):
            if not self.stack:
                raise error(f"#{name} without #if")
            cond = self.stack[-1]
            if name == "endif":
                self.stack.pop()
                return
            if cond.seen_else:
                raise error(f"#{name} after #else")
            outer = all(c.active for c in self.stack[:-1])
            if name == "else":
                cond.seen_else = True
                cond.active = outer and not cond.taken
            else:
                cond.active = (outer and not cond.taken
                               and bool(self.evaluate(rest, span, source)))
            cond.taken = cond.taken or cond.active
            return
        if not self.active:
            return
        if name == "define":
            self.define(rest, error)
        elif name == "undef":
            if not _NAME.fullmatch(rest):
                raise error("#undef takes a macro name")
            self.defines.pop(rest, None)
        elif name not in ("include", "pragma"):
            raise error("unsupported preprocessor directive")

    def define(self, rest: str, error) -> None:  # noqa: ANN001 - error: str -> Bt2cError
        """``NAME body`` or ``NAME(params) body`` (no space before the parenthesis)."""
        m = re.compile(r"([A-Za-z_]\w*)(\(([^)]*)\))?\s*(.*)", re.S).fullmatch(rest)
        if not m:
            raise error("macro names must be identifiers")
        params = None
        if m.group(2) is not None:
            params = tuple(p.strip() for p in m.group(3).split(",") if p.strip())
        body = " ".join(m.group(4).split())
        self.defines[m.group(1)] = Define(m.group(1), body, params)

    def finish(self, source: Source) -> None:
        """At the end of the definitions: every conditional must be closed."""
        if self.stack:
            raise Bt2cError("unterminated conditional directive", self.stack[-1].span, source)

    def evaluate(self, text: str, span: Span, source: Source) -> int:
        """The value of an ``#if`` expression: ``defined`` tests, macros expanded, other
        names 0 (as in C), then the integer arithmetic of bpftrace's expressions."""
        from bt2c import ast
        from bt2c.parser import Parser

        text = _DEFINED.sub(lambda d: "1" if (d.group(1) or d.group(2)) in self.defines
                            else "0", text)
        for _ in range(_MAX_ROUNDS):
            new = _NAME_IN_TEXT.sub(self._object_body, text)
            if new == text:
                break
            text = new
        text = _NAME_IN_TEXT.sub("0", _INT_SUFFIX.sub(r"\1", text))
        bad = Bt2cError(f"invalid #if expression: {text}", span, source)
        try:
            parser = Parser(Source("#if", text))
            expr = parser.parse_expr()
            if parser.peek().text:
                raise bad
        except Bt2cError:
            raise bad from None
        return _fold(expr, ast, bad)

    def _object_body(self, m: re.Match[str]) -> str:
        d = self.defines.get(m.group(0))
        return f"({d.body})" if d is not None and d.params is None and d.body else m.group(0)


def _strip_comments(text: str) -> str:
    """A directive's text without ``//`` and ``/* */`` comments (outside strings)."""
    return re.sub(r'("(?:\\.|[^"\\])*")|//.*|/\*.*?\*/',
                  lambda m: m.group(1) or " ", text, flags=re.S)


def _fold(e, ast, bad: Bt2cError) -> int:  # noqa: ANN001 - e: ast.Expr, ast: the module
    """Evaluate a constant expression tree (C's rules for ``#if``: 64-bit integers)."""
    if isinstance(e, ast.Int):
        return int(e.value)
    if isinstance(e, ast.Unary):
        v = _fold(e.operand, ast, bad)
        if e.op in ("!", "-", "~"):
            return {"!": int(not v), "-": -v, "~": ~v}[e.op]
    if isinstance(e, ast.Ternary):
        return _fold(e.then if _fold(e.cond, ast, bad) else e.other, ast, bad)
    if isinstance(e, ast.Binary):
        a = _fold(e.left, ast, bad)
        if e.op == "&&":
            return int(bool(a) and bool(_fold(e.right, ast, bad)))
        if e.op == "||":
            return int(bool(a) or bool(_fold(e.right, ast, bad)))
        b = _fold(e.right, ast, bad)
        ops = {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b,
               "==": int(a == b), "!=": int(a != b), "<": int(a < b), "<=": int(a <= b),
               ">": int(a > b), ">=": int(a >= b)}
        if e.op in ops:
            return ops[e.op]
        if e.op in ("/", "%"):
            if b == 0:
                raise bad
            q = abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)
            return q if e.op == "/" else a - q * b
        if e.op in ("<<", ">>"):
            return a << b if e.op == "<<" else a >> b
    raise bad
