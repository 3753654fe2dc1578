"""Resource collection: the maps, C type definitions and events a program needs.

Semantic analysis says *what* each map holds; this pass decides *how*: the C
names, the BPF map type (per-CPU hashes for aggregations, as bpftrace does),
the key and value structs, the bucket counts of histograms, and one ring-buffer
event per printf/print site.  Code generation only reads these decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bt2c.cdefs import TypeTable
from bt2c.diagnostics import Bt2cError
from bt2c.formats import c_string_literal
from bt2c.semantic import MAP_KINDS, Analysis, MapInfo
from bt2c.types import (
    CGROUP_PATH,
    AggType,
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
    field_layout,
    tuple_tag,
)

C_RESERVED = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "int", "long", "register", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "ctx", "args", "key", "val", "main", "skel",
    "env", "exiting", "LICENSE", "min", "max", "i", "e",
}
MAX_MAP_KEYS = 4096
HIST_MAX_BUCKETS = 64 * 32 + 2

_AGG_VALUE = {"count": "__u64", "sum": "__s64", "min": "struct bt_minmax",
              "max": "struct bt_minmax", "avg": "struct bt_avg", "stats": "struct bt_avg"}
_AGG_ENUM = {"count": "BT_AGG_COUNT", "sum": "BT_AGG_SUM", "min": "BT_AGG_MIN",
             "max": "BT_AGG_MAX", "avg": "BT_AGG_AVG", "stats": "BT_AGG_STATS",
             "hist": "BT_AGG_HIST", "lhist": "BT_AGG_LHIST", "tseries": "BT_AGG_TSERIES"}
#: tseries(): the aggregation mode's constant (helpers.h), "" being the last value.
TSERIES_MODE_ENUM = {"": "BT_TSERIES_LAST", "avg": "BT_TSERIES_AVG", "max": "BT_TSERIES_MAX",
                     "min": "BT_TSERIES_MIN", "sum": "BT_TSERIES_SUM"}
#: Words (u64) of one tseries() interval: value, meta, epoch (struct bt_tseries_bucket).
TSERIES_BUCKET_WORDS = 3


def c_ident(name: str, taken: set[str]) -> str:
    """A C identifier for a script name, avoiding keywords and earlier picks."""
    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "anon"
    if base in C_RESERVED or base.startswith("bt_") or base[0].isdigit():
        base = "v_" + base
    out, n = base, 1
    while out in taken:
        n += 1
        out = f"{base}{n}"
    taken.add(out)
    return out


def hist_nbuckets(bits: int) -> int:
    """Buckets of hist(x, bits): negatives, then 2**bits per power of two (bt_hist_index)."""
    return ((64 - bits) << bits) + 1


def lhist_nbuckets(lo: int, hi: int, step: int) -> int:
    """Buckets of lhist: below min, one per step, and above max (bt_lhist_index)."""
    return (hi - lo) // step + 2


def symbolic_kind(t: StackType | SymType) -> str:
    """The runtime's field kind of a stack or symbol (resolved when printed)."""
    side = "U" if t.user else "K"
    return f"BT_KIND_{side}STACK" if isinstance(t, StackType) else f"BT_KIND_{side}SYM"


def stack_mode(t: StackType) -> str:
    """The runtime's enum constant of a stack's print mode."""
    return f"BT_STACK_{t.mode.upper()}"


#: One entry of a runtime layout: kind, size, offset, and the C text of the optional
#: members after them (a bitfield's width and shift, a struct member's name), or "".
LayoutEntry = tuple[str, "int | str", int, str]

#: Runtime kinds of the values held as raw bytes.
_BYTES_KIND = {BufType: "BT_KIND_BUF", InetType: "BT_KIND_INET", MacType: "BT_KIND_MAC"}


def layout_entries(t: Type, offset: int = 0, types: TypeTable | None = None,
                   extra: str = "") -> list[LayoutEntry]:
    """The runtime's (kind, size, offset, extra) description of a value, tuples, C
    structs and arrays in prefix form.

    A stack's size is its print mode and frame limit (maps.c's BT_STACK_FIELD).
    ``extra`` goes on the first entry (a struct member's name).
    """
    if isinstance(t, StackType):
        return [(symbolic_kind(t), f"BT_STACK_FIELD({stack_mode(t)}, {t.limit})", offset,
                 extra)]
    if isinstance(t, SymType):
        return [(symbolic_kind(t), t.size, offset, extra)]
    if isinstance(t, FormattedInt):  # the loader formats the number (stdlib.c)
        if t.kind == "timestamp":
            kind = "BT_KIND_TAI_TIMESTAMP" if t.clock == "tai" else "BT_KIND_TIMESTAMP"
            return [(kind, t.size, offset,
                     f"{extra}, .fmt = {c_string_literal(t.fmt)}")]
        if t.kind == CGROUP_PATH:
            return [("BT_KIND_CGROUP_PATH", t.size, offset,
                     f"{extra}, .fmt = {c_string_literal(t.fmt)}")]
        return [("BT_KIND_USERNAME", t.size, offset, extra)]
    if isinstance(t, PointerType):
        return [("BT_KIND_PTR", t.size, offset, extra)]
    if isinstance(t, EnumType):   # printed by name (the loader's table of the enum)
        return [("BT_KIND_ENUM", t.size, offset, f"{extra}, .enm = &{t.c_table}")]
    if isinstance(t, IntType):
        if isinstance(t, BoolType):
            return [("BT_KIND_BOOL", t.size, offset, extra)]
        return [("BT_KIND_INT" if t.signed else "BT_KIND_UINT", t.size, offset, extra)]
    if isinstance(t, StringType):
        return [("BT_KIND_STR", t.length, offset, extra)]
    if type(t) in _BYTES_KIND:
        return [(_BYTES_KIND[type(t)], t.size, offset, extra)]
    if isinstance(t, ArrayType):
        out: list[LayoutEntry] = [("BT_KIND_ARRAY", t.n, offset, extra)]
        for i in range(t.n):
            out.extend(layout_entries(t.elem, offset + i * t.elem.size, types))
        return out
    if isinstance(t, StructType):
        assert types is not None
        members = types.fields(t)
        out = [("BT_KIND_STRUCT", len(members), offset, extra)]
        for f in members:
            name = f'.name = "{f.name}"'
            if f.bits:
                assert isinstance(f.type, IntType)
                unit, start, shift = bitfield_unit(f.type.size, f.offset, f.bit_offset, f.bits)
                kind = "BT_KIND_INT" if f.type.signed else "BT_KIND_UINT"
                out.append((kind, unit, offset + start,
                            f", .bits = {f.bits}, .shift = {shift}, {name}"))
            else:
                out.extend(layout_entries(f.type, offset + f.offset, types, f", {name}"))
        return out
    assert isinstance(t, TupleType)
    if t.names:  # a record prints like a struct: { .a = 1, .b = x }
        out = [("BT_KIND_STRUCT", len(t.elems), offset, extra)]
        for name, (off, e) in zip(t.names, field_layout(t)):
            out.extend(layout_entries(e, offset + off, types, f', .name = "{name}"'))
        return out
    out = [("BT_KIND_TUPLE", len(t.elems), offset, extra)]
    for off, e in field_layout(t):
        out.extend(layout_entries(e, offset + off, types))
    return out


def bitfield_unit(size: int, offset: int, bit_offset: int, bits: int) -> tuple[int, int, int]:
    """(bytes, byte offset, shift) of the aligned integer that holds a bitfield whose
    first bit is ``bit_offset`` bits into byte ``offset`` (8 bytes from ``offset``
    when it straddles its declared type's alignment)."""
    unit = max(size, 1)
    first = offset * 8 + bit_offset
    start = first // (unit * 8) * unit
    shift = first - start * 8
    if shift + bits > unit * 8:
        return 8, offset, bit_offset
    return unit, start, shift


@dataclass
class CField:
    """A member of an emitted C struct."""

    name: str
    decl: str
    kind: str          # BT_KIND_INT / UINT / STR for the runtime's layout tables
    size: int
    offset: int


@dataclass
class CStruct:
    """A struct definition emitted into NAME.h (keys, tuples, events)."""

    name: str
    fields: list[CField]
    comment: str = ""

    @property
    def size(self) -> int:
        return sum((f.size + 7) // 8 * 8 for f in self.fields)


def flat_fields(t: Type, prefix: str, offset: int = 0) -> list[CField]:
    """Members for a value of type ``t`` laid out from ``offset``; tuples nest as structs."""
    if isinstance(t, IntType):
        kind = "BT_KIND_INT" if t.signed else "BT_KIND_UINT"
        if isinstance(t, BoolType):
            kind = "BT_KIND_BOOL"
        return [CField(prefix, t.c_decl(prefix), kind, 8, offset)]
    if isinstance(t, StringType):
        return [CField(prefix, t.c_decl(prefix), "BT_KIND_STR", t.length, offset)]
    if isinstance(t, TupleType):
        return [CField(prefix, t.c_decl(prefix), "BT_KIND_TUPLE", t.size, offset)]
    if type(t) in _BYTES_KIND:
        return [CField(prefix, t.c_decl(prefix), _BYTES_KIND[type(t)], t.size, offset)]
    if isinstance(t, (StructType, ArrayType)):
        return [CField(prefix, t.c_decl(prefix), "BT_KIND_BYTES", t.size, offset)]
    if isinstance(t, (StackType, SymType)):
        return [CField(prefix, t.c_decl(prefix), symbolic_kind(t), t.size, offset)]
    raise TypeError(t)


@dataclass
class MapRes:
    """Everything generated for one script map."""

    info: MapInfo
    cname: str
    index: int
    map_type: str
    key_c: str                 # C type of the key
    key_struct: CStruct | None
    value_c: str
    value_fields: list[CField]
    value_tuple: bool
    nbuckets: int = 0
    key_layout: list[LayoutEntry] = field(default_factory=list)
    value_layout: list[LayoutEntry] = field(default_factory=list)

    @property
    def key_size(self) -> int:
        """Bytes of the key struct (each member padded to 8), 8 for a plain key."""
        if self.key_struct is None:
            return 8
        return sum((k.size + 7) // 8 * 8 for k in self.info.key or [])

    @property
    def max_entries(self) -> int | None:
        """The declared size (``let @x = hash(N)``), else None: the script's default."""
        return self.info.decl.max_entries if self.info.decl is not None else None

    @property
    def agg(self) -> AggType | None:
        return self.info.agg

    @property
    def agg_enum(self) -> str:
        return _AGG_ENUM[self.agg.kind] if self.agg else "BT_AGG_NONE"

    @property
    def ts_mode(self) -> str:
        """tseries(): the runtime's constant of the aggregation mode."""
        return TSERIES_MODE_ENUM[self.agg.tseries[2]] if self.agg else ""

    @property
    def scalar(self) -> bool:
        return not self.info.key

    @property
    def percpu(self) -> bool:
        return self.agg is not None


@dataclass
class Event:
    """A ring-buffer record sent by one printf/print/exit site."""

    enum: str
    struct: CStruct | None
    kind: str                  # printf, print_value, print_map, clear, zero, exit
    fmt: str = ""
    casts: list[str] = field(default_factory=list)
    value_type: Type | None = None
    line: int = 0
    literals: dict[int, str] = field(default_factory=dict)  # printf args known at build time
    arg_types: list[Type] = field(default_factory=list)     # printf args, by position
    sink: str = "printf"       # printf-like: printf, cat, system, errorf, warnf
    where: str = ""            # errorf/warnf: FILE:LINE:COL-END of the call
    expanded: str = ""         # assert: the call the errorf comes from
    formatted: dict[int, Type] = field(default_factory=dict)  # args the loader formats
    convs: list[str] = field(default_factory=list)          # printf conversions: d, s, r, ...


@dataclass
class Resources:
    """All resources of one program, in a deterministic order."""

    maps: dict[str, MapRes] = field(default_factory=dict)
    tuples: dict[str, TupleType] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    max_hist_buckets: int = 0     # u64 words of bt_zero: the largest hist or tseries value
    uses_tseries: bool = False
    tseries_clock: MapRes | None = None   # BPFTRACE_DUMMY_TS_MAP: tseries() time from a map
    sites: dict[tuple[str, int], Event] = field(default_factory=dict)
    stack_limits: list[int] = field(default_factory=list)   # one stack trace map per limit
    uses_symbols: bool = False    # stacks or ksym()/usym(): the loader resolves them

    def stack_map(self, t: StackType) -> str:
        """The stack trace map holding stacks of ``t``'s depth (its value size is the limit)."""
        if t.limit not in self.stack_limits:
            self.stack_limits.append(t.limit)
            self.stack_limits.sort(reverse=True)
        return f"bt_stacks_{t.limit}"

    def tuple_struct(self, t: TupleType) -> str:
        """Register a tuple shape (and nested ones) and return its struct name."""
        for e in t.elems:
            if isinstance(e, TupleType):
                self.tuple_struct(e)
        tag = tuple_tag(t)
        self.tuples.setdefault(tag, t)
        return "struct " + tag

    def tuple_structs(self) -> list[CStruct]:
        """Definitions of every tuple struct, nested ones first."""
        out = []
        for tag, t in self.tuples.items():
            fields = []
            for i, (off, et) in enumerate(field_layout(t)):
                fields.extend(flat_fields(et, f"f{i}", off))
            out.append(CStruct(tag, fields))
        return out

    def add_event(self, kind: str, line: int, fields: list[CField] | None = None,
                  site: int | None = None, **extra: object) -> Event:
        """Register an event; printf-like events get a struct named after their id.

        ``site`` (the call's source offset) makes the programs generated from one
        statement -- wildcard targets, len() variants -- share one event.
        """
        if site is not None and (kind, site) in self.sites:
            return self.sites[(kind, site)]
        n = len(self.events)
        enum = f"EVENT_{kind.upper()}_{n}"
        struct = CStruct(f"event_{kind}_{n}", fields) if fields is not None else None
        ev = Event(enum, struct, kind, line=line, **extra)  # type: ignore[arg-type]
        self.events.append(ev)
        if site is not None:
            self.sites[(kind, site)] = ev
        return ev


def collect_maps(analysis: Analysis, res: Resources, taken: set[str]) -> None:
    """Decide the BPF representation of every map, sorted by name for stable output."""
    for index, name in enumerate(sorted(analysis.maps)):
        info = analysis.maps[name]
        # Globals share a namespace with every type, enum constant and function of
        # vmlinux.h, so map names carry a prefix that kernel names never use.
        cname = c_ident("map_" + (name[1:] or "anon"), taken)
        keys = info.key or []
        key_struct = None
        if not keys:
            key_c = "__u32"
        elif len(keys) == 1 and isinstance(keys[0], IntType):
            key_c = keys[0].c_name()
        else:
            fields, off = [], 0
            for i, k in enumerate(keys):
                if isinstance(k, TupleType):
                    res.tuple_struct(k)
                fields.extend(flat_fields(k, f"k{i}", off))
                off += (k.size + 7) // 8 * 8
            key_struct = CStruct(f"{cname}_key", fields, f"key of {name}")
            key_c = f"struct {cname}_key"
        agg = info.agg
        value_tuple = False
        nbuckets = 0
        if agg is None:
            v = info.value
            if isinstance(v, IntType):
                value_c, value_fields = v.c_name(), flat_fields(v, "value")
            elif isinstance(v, (StringType, BufType, InetType, MacType, StructType,
                                ArrayType)):
                value_c = f"struct {cname}_value"
                value_fields = flat_fields(v, "value")
            elif isinstance(v, (StackType, SymType)):
                value_c, value_fields = v.c_decl("").strip(), flat_fields(v, "value")
            else:
                assert isinstance(v, TupleType)
                value_c = res.tuple_struct(v)
                value_tuple = not v.names  # a record's layout is a struct entry
                value_fields = []
                for i, (off, et) in enumerate(field_layout(v)):
                    value_fields.extend(flat_fields(et, f"f{i}", off))
        elif agg.kind in ("hist", "lhist"):
            nbuckets = hist_nbuckets(agg.hist_bits) if agg.kind == "hist" \
                else lhist_nbuckets(*agg.lhist)
            value_c, value_fields = f"struct {cname}_value", []
            res.max_hist_buckets = max(res.max_hist_buckets, nbuckets)
        elif agg.kind == "tseries":
            # One struct bt_tseries_bucket per interval; nbuckets counts intervals.
            nbuckets = agg.tseries[1]
            value_c, value_fields = f"struct {cname}_value", []
            res.max_hist_buckets = max(res.max_hist_buckets, TSERIES_BUCKET_WORDS * nbuckets)
            res.uses_tseries = True
        else:
            value_c, value_fields = _AGG_VALUE[agg.kind], []
        map_type = "BPF_MAP_TYPE_PERCPU_HASH" if agg else "BPF_MAP_TYPE_HASH"
        if info.decl is not None:
            map_type = MAP_KINDS[info.decl.kind]
        if not keys:
            key_layout = [("BT_KIND_UINT", 4, 0, "")]
        else:
            key_layout, off = [], 0
            for k in keys:
                key_layout.extend(layout_entries(k, off, analysis.types))
                off += (k.size + 7) // 8 * 8
        value_layout: list[LayoutEntry] = []
        if agg is None and info.value is not None:
            value_layout = layout_entries(info.value, 0, analysis.types)
            if isinstance(info.value, TupleType) and not info.value.names:
                value_layout = value_layout[1:]  # the top level is the layout's own tuple flag
        res.maps[name] = MapRes(info, cname, index, map_type, key_c, key_struct,
                                value_c, value_fields, value_tuple, nbuckets, key_layout,
                                value_layout)


#: bpftrace's testing hook: tseries() takes its time from this scalar map instead of the
#: clock, so that a test decides which interval each value lands in.
DUMMY_TS_ENV = "BPFTRACE_DUMMY_TS_MAP"


def tseries_clock(res: Resources, name: str | None) -> None:
    """Point tseries() at the map ``name`` (BPFTRACE_DUMMY_TS_MAP), which must be a
    scalar map of unsigned integers, as bpftrace requires."""
    if not name or not res.uses_tseries:
        return
    m = res.maps.get(name)
    if m is None:
        raise Bt2cError(f'dummy_ts_map: "{name}" not found')
    if not m.scalar:
        raise Bt2cError(f'dummy_ts_map: "{name}" must be scalar')
    v = m.info.value
    if m.agg is not None or not isinstance(v, IntType) or v.signed:
        raise Bt2cError(f'dummy_ts_map: "{name}" value must be an unsigned integer')
    res.tseries_clock = m
