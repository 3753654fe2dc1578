"""How the loader prints each event: a C printf format and its argument list.

printf events keep the script's format, with each argument cast to the type its
conversion names; print(value) events get the format bpftrace uses for the
value's type (tuples print as ``(a, b)``), and with ``-f json`` the statements
that write the value as JSON (tuples as ``[a,b]``).
"""

from __future__ import annotations

from bt2c.cdefs import FieldInfo, TypeTable
from bt2c.formats import BUF_MODES, c_string_literal
from bt2c.resources import Event, bitfield_unit, stack_mode, symbolic_kind
from bt2c.types import (
    CGROUP_PATH,
    ArrayType,
    BoolType,
    BufType,
    EnumType,
    FormattedInt,
    InetType,
    IntType,
    MacType,
    PointerType,
    StackType,
    StringType,
    StructType,
    SymType,
    TupleType,
    Type,
)

#: The program's C type table, for printing struct values (set by transpile).
TYPES: TypeTable | None = None


def _member(base: str, f: FieldInfo) -> str:
    """C expression of member ``f`` inside the bytes at ``base`` (an unsigned char *)."""
    t = f.type
    if isinstance(t, (StringType, StructType, ArrayType)):
        return f"({base} + {f.offset})"
    assert isinstance(t, IntType)
    ctype = f"{'' if t.signed and not f.bits else 'u'}int{t.bits}_t"
    if not f.bits:
        return f"(*(const {ctype} *)({base} + {f.offset}))"
    unit, start, shift = bitfield_unit(t.size, f.offset, f.bit_offset, f.bits)
    utype = f"uint{unit * 8}_t"
    value = f"((*(const {utype} *)({base} + {start}) >> {shift}) & {(1 << f.bits) - 1}ULL)"
    if t.signed:
        return f"((long long)({value} << {64 - f.bits}) >> {64 - f.bits})"
    return value


def _struct_format(t: StructType, base: str) -> tuple[str, list[str]]:
    assert TYPES is not None
    parts, args = [], []
    for f in TYPES.fields(t):
        fmt, a = _bytes_format(f.type, _member(base, f))
        parts.append(f".{f.name} = {fmt}")
        args.extend(a)
    return "{ " + ", ".join(parts) + " }", args


def _bytes_format(t: Type, expr: str) -> tuple[str, list[str]]:
    """Like value_format, for a value inside raw bytes (struct members)."""
    if isinstance(t, StringType):
        return "%.*s", [str(t.length), f"(const char *){expr}"]
    if isinstance(t, StructType):
        return _struct_format(t, expr)
    if isinstance(t, ArrayType):
        parts, args = [], []
        for i in range(t.n):
            elem = f"({expr} + {i * t.elem.size})"
            if isinstance(t.elem, IntType):
                sig = "" if t.elem.signed and not isinstance(t.elem, PointerType) else "u"
                elem = f"(*(const {sig}int{t.elem.bits}_t *){elem})"
            fmt, a = _bytes_format(t.elem, elem)
            parts.append(fmt)
            args.extend(a)
        return "[" + ",".join(parts) + "]", args
    return value_format(t, expr)


def symbolic_text(t: StackType | SymType, expr: str) -> str:
    """C expression of the text of a stack or symbol value held in ``expr`` (symbols.c)."""
    if isinstance(t, StackType):
        return f"bt_sym_format(&{expr}, {symbolic_kind(t)}, {stack_mode(t)}, {t.limit})"
    return f"bt_sym_format(&{expr}, {symbolic_kind(t)}, 0, 0)"


def formatted(t: FormattedInt | EnumType, expr: str) -> str:
    """C expression of the text the loader makes of a strftime(), username or enum value."""
    if isinstance(t, EnumType):
        return f"bt_enum_text(&{t.c_table}, {expr})"
    if t.kind == "timestamp":
        clock = "CLOCK_TAI" if t.clock == "tai" else "CLOCK_BOOTTIME"
        return f"bt_fmt_timestamp({c_string_literal(t.fmt)}, {expr}, {clock})"
    if t.kind == CGROUP_PATH:
        return f"bt_fmt_cgroup_path({c_string_literal(t.fmt)}, {expr})"
    return f"bt_fmt_username({expr})"


def bytes_text(t: Type, expr: str, mode: str = "BT_BUF_ESCAPED") -> str:
    """C expression of the text of a buf(), ntop() or macaddr() value (maps.c)."""
    kind = {BufType: "BT_KIND_BUF", InetType: "BT_KIND_INET", MacType: "BT_KIND_MAC"}[type(t)]
    return f"bt_bytes_text({kind}, {expr}, {mode})"


def value_format(t: Type, expr: str) -> tuple[str, list[str]]:
    """printf text and arguments that print a value of type ``t`` held in ``expr``."""
    if isinstance(t, (FormattedInt, EnumType)):
        return "%s", [formatted(t, expr)]
    if isinstance(t, (BufType, InetType, MacType)):
        return "%s", [bytes_text(t, expr)]
    if isinstance(t, (StructType, ArrayType)):
        return _bytes_format(t, f"((const unsigned char *){expr})")
    if isinstance(t, PointerType):
        return "0x%llx", [f"(unsigned long long){expr}"]
    if isinstance(t, BoolType):
        return "%s", [f'({expr} ? "true" : "false")']
    if isinstance(t, IntType):
        if t.signed:
            return "%lld", [f"(long long){expr}"]
        return "%llu", [f"(unsigned long long){expr}"]
    if isinstance(t, StringType):
        return "%s", [f"bt_str_text({expr}, sizeof({expr}))"]
    if isinstance(t, (StackType, SymType)):
        return "%s", [symbolic_text(t, expr)]
    assert isinstance(t, TupleType)
    parts, args = [], []
    for i, e in enumerate(t.elems):
        f, a = value_format(e, f"{expr}.f{i}")
        parts.append(f".{t.names[i]} = {f}" if t.names else f)
        args.extend(a)
    if t.names:  # a record prints like a struct
        return "{ " + ", ".join(parts) + " }", args
    return "(" + ", ".join(parts) + ")", args


def json_value_code(t: Type, expr: str, out: str = "bt_out") -> list[str]:
    """C statements that write a value of type ``t`` held in ``expr`` as JSON."""
    if isinstance(t, BoolType):
        return [f'fputs({expr} ? "true" : "false", {out});']
    if isinstance(t, FormattedInt):
        text = formatted(t, expr)
        return [f"bt_json_string({out}, {text}, strlen({text}));"]
    if isinstance(t, IntType):
        return [f"bt_json_{'i' if t.signed else 'u'}64({out}, {expr});"]
    if isinstance(t, StringType):
        return [f"bt_json_str({out}, {expr}, sizeof({expr}));"]
    if isinstance(t, StructType):
        return _json_struct(t, f"((const unsigned char *){expr})", out)
    if isinstance(t, (BufType, InetType, MacType)):
        kind = {BufType: "BT_KIND_BUF", InetType: "BT_KIND_INET", MacType: "BT_KIND_MAC"}[type(t)]
        return [f"bt_json_bytes({out}, {kind}, {expr});"]
    if isinstance(t, ArrayType) and isinstance(t.elem, IntType):
        code = [f"fputc('[', {out});"]
        sig = "" if t.elem.signed and not isinstance(t.elem, PointerType) else "u"
        for i in range(t.n):
            if i:
                code.append(f"fputc(',', {out});")
            elem = f"(*(const {sig}int{t.elem.bits}_t *)((const unsigned char *){expr} + " \
                f"{i * t.elem.size}))"
            code.extend(json_value_code(t.elem, elem, out))
        code.append(f"fputc(']', {out});")
        return code
    if isinstance(t, (StackType, SymType)):
        return [f"bt_json_text({out}, {symbolic_text(t, expr)});"]
    assert isinstance(t, TupleType)
    if t.names:  # a record is a JSON object, like a struct
        code = [f"fputc('{{', {out});"]
        for i, (n, e) in enumerate(zip(t.names, t.elems)):
            code.append(f'fputs("{", " if i else ""}\\"{n}\\": ", {out});')
            code.extend(json_value_code(e, f"{expr}.f{i}", out))
        code.append(f"fputc('}}', {out});")
        return code
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
            t = ev.arg_types[i] if i < len(ev.arg_types) else None
            if i in ev.literals:
                args.append(ev.literals[i])
            elif isinstance(t, (StackType, SymType)):
                args.append(symbolic_text(t, f"e->a{i}"))
            elif isinstance(t, (BufType, InetType, MacType)):
                args.append(bytes_text(t, f"e->a{i}", BUF_MODES.get(ev.convs[i], "0")))
            elif cast == "bool":
                args.append(f'(e->a{i} ? "true" : "false")')
            elif i in ev.formatted:
                args.append(formatted(ev.formatted[i], f"e->a{i}"))  # type: ignore[arg-type]
            elif fields[f"a{i}"].kind == "BT_KIND_STR":
                args.append(f"bt_str_text(e->a{i}, sizeof(e->a{i}))")
            elif not cast:
                args.append(f"e->a{i}")
            else:
                args.append(f"({cast})e->a{i}")
        return c_string_literal(ev.fmt), args
    if ev.value_type is None:   # time, join: no value
        return "", []
    fmt, args = value_format(ev.value_type, "e->value")
    return c_string_literal(fmt + "\n"), args


def _json_struct(t: StructType, base: str, out: str) -> list[str]:
    """A struct value as a JSON object of its members, as bpftrace writes it."""
    assert TYPES is not None
    code = [f"fputc('{{', {out});"]
    for i, f in enumerate(TYPES.fields(t)):
        code.append(f'fputs("{", " if i else ""}\\"{f.name}\\": ", {out});')
        m = _member(base, f)
        if isinstance(f.type, StringType):
            code.append(f"bt_json_str({out}, (const char *){m}, {f.type.length});")
        elif isinstance(f.type, StructType):
            code.extend(_json_struct(f.type, m, out))
        elif isinstance(f.type, IntType):
            code.extend(json_value_code(f.type, m, out))
        else:
            code.append(f'fputs("null", {out});')
    code.append(f"fputc('}}', {out});")
    return code


def enums_in(t: Type | None, out: dict[str, EnumType]) -> None:
    """Add the enum types a value of type ``t`` prints by name (in tuples, records,
    struct members, array elements) to ``out``, by their table's C name."""
    if isinstance(t, EnumType):
        out.setdefault(t.c_table, t)
    elif isinstance(t, TupleType):
        for e in t.elems:
            enums_in(e, out)
    elif isinstance(t, ArrayType):
        enums_in(t.elem, out)
    elif isinstance(t, StructType):
        assert TYPES is not None
        for f in TYPES.fields(t):
            enums_in(f.type, out)


def enum_tables(events: list[Event], map_types: list[Type | None]) -> list[dict[str, object]]:
    """The loader's enumerator tables (struct bt_enum in maps.c): one for each enum
    that is printed, sorted by name, each with its (value, name) pairs."""
    assert TYPES is not None
    found: dict[str, EnumType] = {}
    for ev in events:
        enums_in(ev.value_type, found)
        for t in ev.formatted.values():
            enums_in(t, found)
    for t in map_types:
        enums_in(t, found)
    tables = []
    for cname in sorted(found):
        by_value: dict[int, str] = {}
        for value, member in TYPES.enum_defs[found[cname].name]:
            by_value[value] = member   # two names for one value: the last prints
        tables.append({"cname": cname, "name": found[cname].name,
                       "members": list(by_value.items())})
    return tables


def diag_args(ev: Event) -> str:
    """bt_diag()'s location arguments for an errorf/warnf event: file, line, columns,
    and what the call was expanded from (assert)."""
    file, line, cols = ev.where.rsplit(":", 2)
    col, end = cols.split("-")
    return f"{c_string_literal(file)}, {line}, {col}, {end}, {c_string_literal(ev.expanded)}"
