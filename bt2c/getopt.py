"""getopt(): named program options, bpftrace's ``script.bt -- --name=value``.

``getopt("name")`` is a bool option (false unless given), ``getopt("name", DEFAULT)``
takes its type from the default (a bool, an integer: int64 when the default is
negative, else uint64, or a string of max_strlen bytes), and an optional third
argument describes it for ``-- --help``.  bt2c makes each option a ``const
volatile`` rodata value holding the default; the tool parses ``--name[=value]`` among
the arguments after ``--`` when it starts (templates/loader/options.c) and sets the
value before the BPF object is loaded, as it does for positional parameters.

The type rules are a mixin of :class:`bt2c.semantic.Analyzer`, with bpftrace's
messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.types import BOOL, INT64, UINT64, StringType, Type

if TYPE_CHECKING:
    from bt2c.codegen import ProbeGen
    from bt2c.semantic import Analyzer


@dataclass
class Option:
    """One named option of the program."""

    name: str
    kind: str                 # "bool", "int" (int64), "uint" (uint64) or "string"
    default: bool | int | str
    description: str | None

    @property
    def ident(self) -> str:
        """The C name of its rodata value."""
        safe = "".join(c if c.isalnum() else "_" for c in self.name)
        return f"bt_opt_{safe}"

    def shown_default(self) -> str:
        """The default as bpftrace prints it in its 'Previous default value' message."""
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        return str(self.default)


def _literal(e: ast.Expr) -> bool | int | str | None:
    """A getopt() default: a bool, integer (or negated integer) or string literal."""
    if isinstance(e, ast.Builtin) and e.name in ("true", "false"):
        return e.name == "true"
    if isinstance(e, ast.Str):
        return e.value
    if isinstance(e, ast.Int):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Int):
        return -e.operand.value
    return None


def string_capacity(max_strlen: int) -> int:
    """A string option's rodata size: max_strlen rounded up to a power of two, the mask
    bt_param_copy() bounds its reads with (as for positional parameters)."""
    return 1 << (max_strlen - 1).bit_length()


class GetoptGen:
    """getopt() in a probe body (a mixin of ProbeGen): the option's rodata value; a
    string is copied out of it (volatile reads: its value is set after compilation)."""

    def getopt_value(self: ProbeGen, e: ast.Call) -> str:
        opt = self.gen.analysis.options[e.args[0].value]  # type: ignore[attr-defined]
        if opt.kind != "string":
            return opt.ident
        n = self.gen.analysis.max_strlen
        tmp = self.temp("opt")
        tmp = self.local(f"char {tmp}[{n}]", tmp, n)
        self.emit(f"bt_param_copy({tmp}, {opt.ident}, 0, {n}, {n}, {string_capacity(n)});")
        return tmp


class GetoptCalls:
    """Semantic rules of getopt() (a mixin of Analyzer)."""

    def getopt_call(self: Analyzer, e: ast.Call) -> Type:
        if not 1 <= len(e.args) <= 3:
            raise self.error("The 'getopt' function can take a maximum of three arguments "
                             "and a minimum of one argument.", e.span)
        name = e.args[0]
        if not isinstance(name, ast.Str):
            raise self.error("First argument to 'getopt' must be a string literal.",
                             name.span)
        default: bool | int | str = False
        if len(e.args) > 1:
            value = _literal(e.args[1])
            if value is None:
                raise self.error("Second argument to 'getopt' must be a string literal, "
                                 "integer literal, or a boolean literal.", e.args[1].span)
            default = value
        description = None
        if len(e.args) == 3:
            if not isinstance(e.args[2], ast.Str):
                # bpftrace warns about the description, then finds no such function
                raise self.error("Unknown function: 'getopt'", e.span)
            description = e.args[2].value
        for a in e.args:
            self.expr(a)
        if isinstance(default, bool):
            kind = "bool"
        elif isinstance(default, int):
            kind = "int" if default < 0 else "uint"
        else:
            kind = "string"
        options = self.result.options
        old = options.get(name.value)
        if old is not None:
            if old.kind != kind or old.default != default:
                raise self.error(f"Command line option '{name.value}' needs to have the same "
                                 "default value in all places it is used. Previous default "
                                 f"value: {old.shown_default()}", e.span)
            if description is not None and old.description is not None and \
                    description != old.description:
                raise self.error(f"Command line option '{name.value}' must have the same "
                                 "description in all places it's used. Hint: You can wrap it "
                                 "in a macro", e.span)
            if old.description is None:
                old.description = description
        else:
            options[name.value] = Option(name.value, kind, default, description)
        if kind == "bool":
            return BOOL
        if kind == "int":
            return INT64
        if kind == "uint":
            return UINT64
        return StringType(self.max_strlen)
