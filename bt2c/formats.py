"""printf format strings: validation and translation to the loader's C printf.

bpftrace hands each argument to the C library's printf as the conversion's
length modifier says: ``%d`` prints the low 32 bits, ``%ld``/``%lld`` all 64,
``%hhd`` one byte.  The loader reproduces that by casting each 64-bit value to
the C type the conversion names, and passes the format through unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bt2c import ast
from bt2c.diagnostics import Bt2cError, Source, Span
from bt2c.types import BoolType, BufType, InetType, IntType, MacType, StackType, StringType, SymType

#: printf conversions of a buf(): bpftrace's %r, %rx, %rh (and %s), by maps.c's mode.
BUF_MODES = {"r": "BT_BUF_ESCAPED", "rx": "BT_BUF_HEX", "rh": "BT_BUF_HEXSP", "s": "BT_BUF_RAW"}
#: Types printf("%s") prints as text.
TEXT_TYPES = (StringType, IntType, StackType, SymType, BufType, InetType, MacType)

_SPEC_RE = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+))?"
                      r"(?P<len>hh|h|ll|l|j|z|t)?(?P<conv>[diouxXcsp%]|r[xh]?)")
_INT_CASTS = {
    None: ("int", "unsigned int"), "hh": ("signed char", "unsigned char"),
    "h": ("short", "unsigned short"), "l": ("long", "unsigned long"),
    "ll": ("long long", "unsigned long long"), "j": ("long long", "unsigned long long"),
    "z": ("long", "unsigned long"), "t": ("long", "unsigned long"),
}


@dataclass(frozen=True)
class Conversion:
    """One ``%`` conversion that consumes an argument."""

    text: str
    conv: str
    length: str | None

    def c_cast(self) -> str:
        """The C type an argument is cast to before it reaches printf (``bool``: a
        true/false string instead)."""
        if self.conv == "s" or self.conv.startswith("r"):
            return "bool" if self.length == "bool" else ""
        if self.conv == "p":
            return "void *"
        if self.conv == "c":
            return "int"
        signed, unsigned = _INT_CASTS[self.length]
        return signed if self.conv in "di" else unsigned


def conversions(fmt: str, int_args: dict[int, IntType] | None = None
                ) -> tuple[str, list[Conversion]]:
    """Split a format into C-ready text and the conversions that take arguments.

    Precision is dropped: bpftrace v0.27 ignores it (``%.3s`` prints the whole string).
    ``int_args`` maps the index of each integer argument to its type: bpftrace prints an
    integer given to ``%s`` as a decimal number, with the same flags and width, and a
    bool as ``true``/``false``.
    """
    out: list[str] = []
    convs: list[Conversion] = []
    pos = 0
    for m in _SPEC_RE.finditer(fmt):
        out.append(fmt[pos:m.start()])
        pos = m.end()
        text = m.group(0)
        if m.group("conv") == "%":
            out.append("%%")
            continue
        if m.group("prec") is not None:  # bpftrace ignores precision
            text = text.replace("." + m.group("prec"), "", 1)
        conv, length = m.group("conv"), m.group("len")
        if conv == "p":
            text = "%" + (m.group("flags") or "") + (m.group("width") or "") + "p"
        if conv.startswith("r"):  # a buf() as text: the loader passes its rendering
            text = "%" + (m.group("flags") or "") + (m.group("width") or "") + "s"
        if conv == "s" and int_args and isinstance(int_args.get(len(convs)), BoolType):
            length = "bool"
        elif conv == "s" and int_args and len(convs) in int_args:
            conv, length = ("d" if int_args[len(convs)].signed else "u"), "ll"
            text = "%" + (m.group("flags") or "") + (m.group("width") or "") + "ll" + conv
        out.append(text)
        convs.append(Conversion(text, conv, length))
    out.append(fmt[pos:])
    return "".join(out), convs


def check_format(fmt: ast.Str, args: list[ast.Expr], source: Source, call: Span,
                 aggs: dict[str, str] | None = None) -> None:
    """Reject a printf whose arguments do not match its conversions (bpftrace's words,
    at the call). ``aggs`` names the aggregation kind of each aggregation map passed:
    bpftrace prints one with ``%s`` but refuses the numeric conversions."""
    pos = 0
    while True:
        pos = fmt.value.find("%", pos)
        if pos < 0:
            break
        m = _SPEC_RE.match(fmt.value, pos)
        if m is None:
            token = fmt.value[pos:pos + 2]
            raise Bt2cError(f"printf: Unknown format string token: {token}", fmt.span, source)
        pos = m.end()
    _, convs = conversions(fmt.value)
    if len(convs) != len(args):
        which = "not enough" if len(args) < len(convs) else "too many"
        raise Bt2cError(f"{which} arguments for format string ({len(args)} supplied, "
                        f"{len(convs)} expected)", call, source)
    for conv, arg in zip(convs, args):
        if conv.conv == "s" and not isinstance(arg.type, TEXT_TYPES):
            raise Bt2cError(f"unsupported format specifier for type '{arg.type}': s", call,
                            source)
        if conv.conv.startswith("r"):
            if not isinstance(arg.type, BufType):
                raise Bt2cError(f"unsupported format specifier for type '{arg.type}': r",
                                call, source)
            continue
        agg = aggs.get(arg.name) if aggs and isinstance(arg, ast.Map) else None
        if conv.conv != "s" and agg is not None:
            raise Bt2cError(f"unsupported format specifier for type '{agg}_t': {conv.conv}",
                            call, source)
        if conv.conv != "s" and not isinstance(arg.type, IntType):
            raise Bt2cError(f"unsupported format specifier for type '{arg.type}': "
                            f"{conv.conv}", call, source)


def c_string_literal(text: str) -> str:
    """Render a Python string as a C string literal."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
