"""How the loader prints each event: a C printf format and its argument list.

printf events keep the script's format, with each argument cast to the type its
conversion names; print(value) events get the format bpftrace uses for the
value's type (tuples print as ``(a, b)``), and with ``-f json`` the statements
that write the value as JSON (tuples as ``[a,b]``).
"""

from __future__ import annotations

from bt2c.formats import c_string_literal
from bt2c.resources import Event
from bt2c.types import IntType, StringType, TupleType, Type


def value_format(t: Type, expr: str) -> tuple[str, list[str]]:
    """printf text and arguments that print a value of type ``t`` held in ``expr``."""
    if isinstance(t, IntType):
        if t.signed:
            return "%lld", [f"(long long){expr}"]
        return "%llu", [f"(unsigned long long){expr}"]
    if isinstance(t, StringType):
        return "%s", [expr]
    assert isinstance(t, TupleType)
    parts, args = [], []
    for i, e in enumerate(t.elems):
        f, a = value_format(e, f"{expr}.f{i}")
        parts.append(f)
        args.extend(a)
    return "(" + ", ".join(parts) + ")", args


def json_value_code(t: Type, expr: str, out: str = "bt_out") -> list[str]:
    """C statements that write a value of type ``t`` held in ``expr`` as JSON."""
    if isinstance(t, IntType):
        return [f"bt_json_{'i' if t.signed else 'u'}64({out}, {expr});"]
    if isinstance(t, StringType):
        return [f"bt_json_str({out}, {expr}, sizeof({expr}));"]
    assert isinstance(t, TupleType)
    code = [f"fputc('[', {out});"]
    for i, e in enumerate(t.elems):
        if i:
            code.append(f"fputc(',', {out});")  # bpftrace's arrays are unspaced
        code.extend(json_value_code(e, f"{expr}.f{i}", out))
    code.append(f"fputc(']', {out});")
    return code


def event_format(ev: Event) -> tuple[str, list[str]]:
    """The loader's C format literal and argument expressions for one event."""
    if ev.kind == "printf":
        assert ev.struct is not None
        fields = {f.name: f for f in ev.struct.fields}
        args = []
        for i, cast in enumerate(ev.casts):
            if i in ev.literals:
                args.append(ev.literals[i])
            elif fields[f"a{i}"].kind == "BT_KIND_STR" or not cast:
                args.append(f"e->a{i}")
            else:
                args.append(f"({cast})e->a{i}")
        return c_string_literal(ev.fmt), args
    assert ev.value_type is not None
    fmt, args = value_format(ev.value_type, "e->value")
    return c_string_literal(fmt + "\n"), args
