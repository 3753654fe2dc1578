"""Object-like ``#define`` macros: their values put where a script names them.

As in bpftrace, a macro is expanded where the script uses its name as an
identifier (``print(NAME)``, ``@m[KEY]``, ``/PID == 1/``, ``printf(FMT, ...)``),
after ``macro`` calls have been expanded: the value is parsed as one expression
and replaces the name.  Builtins (``pid``, ``comm``, ``arg0``...) keep their
meaning, a function-like macro is not a function (``TWICE(2)`` stays an
unknown function), and in struct definitions the names are replaced in the C
text, so ``int a[SIZE];`` works.

The expansion's nodes take the span of the name it replaced, so any diagnostic
about them points at the script's line and column where the macro was used.
"""

from __future__ import annotations

import re

from bt2c import ast
from bt2c.diagnostics import Bt2cError, Source, Span
from bt2c.preproc import Define

#: Names the script's identifiers resolve to before any ``#define`` (bpftrace's builtins).
_BUILTINS = {"pid", "tid", "uid", "gid", "cpu", "nsecs", "elapsed", "cpid", "comm", "rand",
             "numaid", "jiffies", "ncpus", "usermode", "username", "cgroup", "args", "retval",
             "func", "probe", "true", "false", "curtask", "kstack", "ustack", "ctx", "ppid",
             "pcomm", "leader_tid", "leader_comm", "probetype", "dw_ustack"}
_ARG = re.compile(r"s?arg\d+")
_NAME = re.compile(r"(?<!\w)[A-Za-z_]\w*")   # not the x of 0x10


def expand_defines(program: ast.Program, defines: dict[str, Define], source: Source) -> None:
    """Replace every identifier in the probes that names an object-like macro."""
    if not any(d.params is None for d in defines.values()):
        return
    expander = _Expander(defines, source)
    for probe in program.probes:
        if probe.predicate is not None:
            probe.predicate = expander.rewrite(probe.predicate)
        probe.body = expander.rewrite(probe.body)


def substitute_c(text: str, defines: dict[str, Define]) -> str:
    """C definition text with object-like macros replaced, C style: a macro's value is
    scanned again, except for the macro itself.  Line breaks are kept, so a C error's
    line still matches the script's."""

    def sub(part: str, active: frozenset[str]) -> str:
        def one(m: re.Match[str]) -> str:
            d = defines.get(m.group(0))
            if d is None or d.params is not None or d.name in active:
                return m.group(0)
            return sub(d.body, active | {d.name})

        return _NAME.sub(one, part)

    return sub(text, frozenset())


class _Expander:
    def __init__(self, defines: dict[str, Define], source: Source):
        self.defines = defines
        self.source = source

    def rewrite(self, node, active: frozenset[str] = frozenset()):  # noqa: ANN001, ANN201
        """``node`` with macro names replaced (``active``: the macros being expanded
        around it; a macro's name inside its own value stays a name, as in C)."""
        if isinstance(node, list):
            return [self.rewrite(x, active) for x in node]
        if not isinstance(node, ast.Node):
            return node
        if isinstance(node, ast.Builtin):
            d = self.defines.get(node.name)
            if (d is not None and d.params is None and node.name not in active
                    and node.name not in _BUILTINS and not _ARG.fullmatch(node.name)):
                return self.expand(d, node.span, active)
            return node
        for name, value in ast.child_fields(node):
            if isinstance(value, (list, ast.Node)):
                setattr(node, name, self.rewrite(value, active))
        return node

    def expand(self, d: Define, span: Span, active: frozenset[str]) -> ast.Expr:
        """The macro's value as an expression at ``span``."""
        from bt2c.lexer import Kind
        from bt2c.parser import Parser

        bad = Bt2cError(f"unable to expand macro as an expression: {d.body}", span,
                        self.source)
        try:
            parser = Parser(Source(d.name, d.body))
            expr = parser.parse_expr()
            if parser.peek().kind != Kind.EOF:
                raise bad
        except Bt2cError:
            raise bad from None
        for node in ast.walk(expr):
            node.span = span
        return self.rewrite(expr, active | {d.name})
