"""Semantic analysis: give every expression a type and every map a key/value type.

Like bpftrace, a map's types come from its first use anywhere in the script and
every later use must agree; integers are 64-bit in maps and variables; string
sizes widen to the largest use.  The pass runs twice so that a map read in an
earlier probe than the one that assigns it still gets its type.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from bt2c import ast
from bt2c.cdefs import TypeError_, TypeTable
from bt2c.comptime import COMPTIME_FUNCTIONS, ComptimeCalls
from bt2c.datafuncs import DATA_FUNCTIONS, DataCalls
from bt2c.diagnostics import Bt2cError, Bt2cErrors, Source, Span
from bt2c.getopt import GetoptCalls, Option
from bt2c.preproc import _fold as fold_constant
from bt2c.strfuncs import STRING_FUNCTIONS, StringCalls
from bt2c.targets import (
    REGS_PROVIDERS,
    RETVAL_REGS_PROVIDERS,
    PerfEvent,
    ProbeTarget,
    resolve_fentry,
    resolve_kprobe,
    resolve_perf_counter,
    resolve_profile,
    resolve_rawtracepoint,
    resolve_self,
)
from bt2c.taskfuncs import TASK_ACCESSORS, rewrite_task_accessors
from bt2c.tracepoints import expand, load
from bt2c.types import (
    BOOL,
    CGROUP_PATH,
    COMM_LEN,
    DEFAULT_STRLEN,
    INT64,
    MAX_STACK_FRAMES,
    STACK_MODES,
    UINT64,
    VOID,
    AggType,
    ArgsType,
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
from bt2c.uprobes import resolve_uprobe, resolve_usdt
from bt2c.warnings import Warning

_UNITS_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}
#: The units of a one-part interval's duration (``i:1ms``); none means nanoseconds.
_DURATION_NS = {"": 1, "ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
                "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000}
#: Arguments passed in registers, by machine: bpftrace's argN limit for uprobes.
_REG_ARGS = {"x86_64": 6, "aarch64": 8}

#: Types that can be map keys, tuple members and printf("%s") arguments.
KEYABLE = (IntType, StringType, TupleType, StackType, SymType, BufType, InetType, MacType,
           ArrayType, StructType)
AGGREGATIONS = {"count", "sum", "min", "max", "avg", "stats", "hist", "lhist", "tseries"}
#: bpftrace's example call in its error for a map read of these aggregations.
_AGG_EXAMPLES = {"count": "count()", "sum": "sum(retval)", "min": "min(retval)",
                 "max": "max(retval)", "avg": "avg(retval)", "hist": "hist(retval)",
                 "lhist": "lhist(rand %10, 0, 10, 1)",
                 "stats": "stats(arg2)", "tseries": "tseries(rand %10, 10s, 1)"}
#: tseries()'s aggregation modes (without one, each interval keeps its last value).
TSERIES_MODES = ("avg", "max", "min", "sum")
#: The most intervals a tseries() keeps: its per-CPU value (24 bytes an interval) must
#: fit the kernel's 32 KiB limit on per-CPU map values.
TSERIES_MAX_INTERVALS = 32768 // 24
_BUILTIN_TYPES: dict[str, Type] = {
    "pid": UINT64, "tid": UINT64, "uid": UINT64, "gid": UINT64, "cpu": UINT64,
    "nsecs": UINT64, "elapsed": UINT64, "cpid": UINT64, "comm": StringType(COMM_LEN),
    "rand": UINT64, "numaid": UINT64, "jiffies": UINT64, "ncpus": UINT64,
    "usermode": IntType(8, False), "username": FormattedInt(kind="username"),
    "cgroup": UINT64,
}
#: Builtins that may also be called: ``ncpus()`` is ``ncpus``.
CALLABLE_BUILTINS = {"jiffies", "ncpus", "usermode", "username", "rand", "numaid", "probetype",
                     "pid", "tid", "uid", "gid", "comm", "cpu", "elapsed", "cpid", "cgroup",
                     "probe", "func", "curtask", "retval"}
#: nsecs(MODE): the kernel clocks a timestamp can come from (bpftrace's TimestampMode).
CLOCKS = ("monotonic", "boot", "tai", "sw_tai")
#: Functions whose first argument is a printf format: the output goes elsewhere.
PRINTF_LIKE = {"printf", "cat", "system", "errorf", "warnf", "debugf"}
#: bpftrace's limits of join(): arguments read, bytes of each.
JOIN_ARGNUM = 16
JOIN_ARGSIZE = 1024
_CASTS = {"int8": IntType(8, True), "int16": IntType(16, True), "int32": IntType(32, True),
          "int64": INT64, "uint8": IntType(8, False), "uint16": IntType(16, False),
          "uint32": IntType(32, False), "uint64": UINT64, "bool": IntType(8, False),
          "char": IntType(8, True), "short": IntType(16, True), "int": IntType(32, True),
          "long": INT64, "unsigned int": IntType(32, False), "unsigned long": UINT64,
          "unsigned char": IntType(8, False), "unsigned short": IntType(16, False),
          # C's fixed-width names, as bpftrace knows them without kernel headers
          "int8_t": IntType(8, True), "int16_t": IntType(16, True),
          "int32_t": IntType(32, True), "int64_t": INT64, "uint8_t": IntType(8, False),
          "uint16_t": IntType(16, False), "uint32_t": IntType(32, False),
          "uint64_t": UINT64, "size_t": UINT64, "ssize_t": INT64}


def probetype(target: ProbeTarget) -> str:
    """bpftrace's probetype of an attach point: its provider, "special" for BEGIN/END/self."""
    return "special" if target.provider in ("begin", "end", "self") else target.provider


def literal_string(value: str) -> StringType:
    """Type of a string literal: its bytes plus NUL, rounded up to 8 for tidy layouts."""
    n = len(value.encode()) + 1
    return StringType((n + 7) // 8 * 8)


@dataclass
class MapInfo:
    """What the script stores in one map."""

    name: str
    key: list[Type] | None = None     # None until first use; [] for a scalar map
    value: Type | None = None
    span: Span | None = None
    used_len: bool = False
    decl: ast.MapDecl | None = None  #: ``let @x = KIND(N);``

    @property
    def agg(self) -> AggType | None:
        return self.value if isinstance(self.value, AggType) else None


@dataclass
class Analysis:
    """The result of semantic analysis, consumed by resources and codegen."""

    program: ast.Program
    maps: dict[str, MapInfo] = field(default_factory=dict)
    targets: dict[int, list[ProbeTarget]] = field(default_factory=dict)
    variables: dict[int, dict[str, Type]] = field(default_factory=dict)
    max_param: int = 0
    warnings: list[Warning] = field(default_factory=list)   # bpftrace's, for stderr
    types: TypeTable = field(default_factory=TypeTable)
    kaddrs: list[str] = field(default_factory=list)   # kaddr() symbols, resolved at run time
    options: dict[str, Option] = field(default_factory=dict)  # getopt() named options
    cgroupids: list[str] = field(default_factory=list)  # cgroupid() paths, resolved at run time
    uses_cgroup_path: bool = False  # cgroup_path(): the loader prints cgroup ids as paths
    # percpu_kaddr() variables: name -> C declaration (typed __ksym externs)
    percpu_vars: dict[str, str] = field(default_factory=dict)
    registers: list[str] = field(default_factory=list)  # reg() names used
    max_strlen: int = DEFAULT_STRLEN  # config max_strlen: the size of str(), buf(), path()


def _pointer_arith(op: str, lt: IntType, rt: IntType) -> PointerType | None:
    """``p + n``, ``n + p``, ``p - n`` of a typed pointer: a pointer of the same type, ``n``
    counted in elements (C's rule, and bpftrace's)."""
    if op in ("+", "-") and isinstance(lt, PointerType) and lt.target is not None and \
            not isinstance(rt, PointerType):
        return lt
    if op == "+" and isinstance(rt, PointerType) and rt.target is not None and \
            not isinstance(lt, PointerType):
        return rt
    return None


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two values stored in one place, or None if incompatible."""
    if isinstance(a, PointerType) and isinstance(b, PointerType):
        return a if a == b or b.target is None else (b if a.target is None else None)
    if isinstance(a, PointerType) or isinstance(b, PointerType):
        return None
    if isinstance(a, (StructType, ArrayType)) or isinstance(b, (StructType, ArrayType)):
        return a if a == b else None
    if isinstance(a, BoolType) and isinstance(b, BoolType):
        return BOOL
    if isinstance(a, FormattedInt) or isinstance(b, FormattedInt):
        return a if a == b else None
    if isinstance(a, EnumType) and isinstance(b, EnumType) and a.name == b.name:
        return EnumType(64, False, a.name)
    # an enum meeting a plain integer or another enum's value: a plain integer (bpftrace)
    if isinstance(a, IntType) and isinstance(b, IntType):
        return IntType(64, a.signed)
    if isinstance(a, StringType) and isinstance(b, StringType):
        return StringType(max(a.length, b.length))
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elems) == len(b.elems) \
            and a.names == b.names:
        elems = [unify(x, y) for x, y in zip(a.elems, b.elems)]
        if any(e is None for e in elems):
            return None
        return TupleType(tuple(elems), a.names)  # type: ignore[arg-type]
    if isinstance(a, AggType) and isinstance(b, AggType) and a.kind == b.kind:
        return a
    if isinstance(a, (StackType, SymType, InetType, MacType)) and a == b:
        return a
    if isinstance(a, BufType) and isinstance(b, BufType):
        return BufType(max(a.cap, b.cap))
    return None


#: Map kinds of ``let @x = KIND(N)`` and their BPF map types.
MAP_KINDS = {"hash": "BPF_MAP_TYPE_HASH", "lruhash": "BPF_MAP_TYPE_LRU_HASH",
             "percpuhash": "BPF_MAP_TYPE_PERCPU_HASH",
             "percpulruhash": "BPF_MAP_TYPE_LRU_PERCPU_HASH"}


def _user(name: str) -> str:
    """A variable's name as the script spells it (bt2c renames scoped variables ``$x#N``)."""
    return name.split("#")[0]


def _literal_bits(e: ast.Expr) -> int | None:
    """Width bpftrace gives an integer literal: the smallest of 8/16/32/64 bits that
    holds it (``bswap(1)`` is 1, ``bswap(256)`` is 1, ``bswap(-1)`` is 255)."""
    neg = isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Int)
    if not (isinstance(e, ast.Int) or neg):
        return None
    value = -e.operand.value if neg else e.value  # type: ignore[attr-defined]
    for bits in (8, 16, 32):
        if (-(1 << (bits - 1)) <= value < 0) or (0 <= value < (1 << bits)):
            return bits
    return 64


def _key_str(keys: list[Type]) -> str:
    """Map key types as bpftrace prints them: ``int64`` or ``(int64,string[8])``."""
    return str(keys[0]) if len(keys) == 1 else "(" + ",".join(map(str, keys)) + ")"


def _format_clash(old: Type, new: Type) -> str | None:
    """bt2c's message when two strftime() results of different formats (cgroup_path()
    results of different filters) meet in one place.

    The format is part of the type (the BPF side holds only the nanoseconds), so a
    variable or map value keeps one; bpftrace stores the format's id with each value.
    """
    if isinstance(old, FormattedInt) and isinstance(new, FormattedInt) and \
            old.kind == new.kind == "timestamp":
        if old.fmt != new.fmt:
            return (f"bt2c keeps one strftime() format per variable or map value: "
                    f"'{new.fmt}' here, '{old.fmt}' before")
        if old.clock != new.clock:
            return (f"bt2c keeps one strftime() clock per variable or map value: "
                    f"{new.clock} here, {old.clock} before")
    if isinstance(old, FormattedInt) and isinstance(new, FormattedInt) and \
            old.kind == new.kind == CGROUP_PATH and old.fmt != new.fmt:
        return (f"bt2c keeps one cgroup_path() filter per variable or map value: "
                f"'{new.fmt}' here, '{old.fmt}' before")
    return None


def storage_type(t: Type) -> Type:
    """How a value is stored in a variable, map key or map value: ints widen to 64 bits."""
    if isinstance(t, (PointerType, BoolType, FormattedInt)):
        return t
    if isinstance(t, EnumType):
        return EnumType(64, False, t.name)
    if isinstance(t, IntType):
        return IntType(64, t.signed)
    if isinstance(t, TupleType):
        return TupleType(tuple(storage_type(e) for e in t.elems), t.names)
    return t


class Analyzer(DataCalls, StringCalls, GetoptCalls, ComptimeCalls):
    """Walks the tree assigning types; raises :class:`Bt2cError` for the script's errors.

    An error ends the statement it is found in, not the analysis: the next
    statements are still checked, so one run reports every independent error,
    as bpftrace does.  A variable the failed statement assigns is then left
    untyped, and its later uses are not reported again.
    """

    def __init__(self, program: ast.Program, source: Source, unsafe: bool = False):
        self.unsafe = unsafe   # --unsafe: system(), signal() and override() are allowed
        self.program = program
        self.source = source
        self.result = Analysis(program)
        self.max_strlen = self.result.max_strlen = max_strlen(program, source)
        self.final = False
        self.plain_enum_vars: set[str] = set()   # enum variables that are plain integers
        self.vars: dict[str, Type] = {}
        self.args: ArgsType | None = None
        self.probe: ast.Probe | None = None
        self.loop_depth = 0
        self.for_depth = 0   # for loops the statement is in: their bodies have no context
        self.agg_site: ast.Expr | None = None   # the aggregation call a map is assigned
        self.tseries_span: Span | None = None   # the first tseries() (unstable feature)
        self.dw_ustack_span: Span | None = None  # the first dw_ustack (unstable feature)
        self.renames: dict[str, str] = {}   # loop variables, scoped to their loop
        self.loop_vars = 0
        self.types = self.result.types
        self.user_space = False   # pointers from integers point to user memory
        self.errors: list[Bt2cError] = []
        self.poisoned: set[str] = set()   # variables whose assignment failed

    def error(self, message: str, span: Span) -> Bt2cError:
        return Bt2cError(message, span, self.source)

    def define_types(self) -> None:
        """Enter the script's C definitions into the type table, with located errors."""
        from bt2c.cparse import DefinitionError
        for d in self.program.c_definitions:
            try:
                self.types.define(d.text)
            except DefinitionError as exc:
                # the script's own lines: #define values in d.text change their lengths
                lines = self.source.text[d.span.start:d.span.end].split("\n")
                n = min(max(exc.line, 1), len(lines)) - 1
                start = d.span.start + sum(len(x) + 1 for x in lines[:n])
                raise self.error(str(exc), Span(start, start + max(1, len(lines[n])))) from None

    def run(self) -> Analysis:
        self.define_types()
        for probe in self.program.probes:
            self.result.targets[probe.index] = self.resolve_targets(probe)
        for final in (False, True):
            self.final = final
            for probe in self.program.probes:
                self.visit_probe(probe)
            if self.errors:
                raise Bt2cErrors(self.errors) if len(self.errors) > 1 else self.errors[0]
        for info in self.result.maps.values():
            if info.value is None:
                raise self.error(f"Undefined map: {info.name}", info.span or Span(0, 1))
        self.map_declarations()
        self.unstable("tseries", "tseries", self.tseries_span)
        self.unstable("dw_ustack", "dw_ustack (DWARF stack unwinding)", self.dw_ustack_span)
        return self.result

    def unstable(self, feature: str, label: str, span: Span | None) -> None:
        """tseries() and dw_ustack are unstable in bpftrace v0.27: config unstable_NAME
        (warn, the default; enable; error) says whether using one is a warning or an
        error.  ``span``: the first use, None if unused."""
        if span is None:
            return
        mode = str(self.program.config.get(f"unstable_{feature}", "warn"))
        if mode == "error":
            raise self.error(f"{label} feature is not enabled by default. To enable this "
                             "unstable feature, set the config flag to enable. "
                             f"unstable_{feature}=enable", span)
        if mode == "warn":
            # (bpftrace prints this one without a location)
            self.result.warnings.append(Warning(
                None, f"Script is using an unstable feature: {label}. To prevent this "
                "warning you must explicitly enable it in the config e.g. "
                f"unstable_{feature}=enable", "unstable"))

    def map_declarations(self) -> None:
        """Check ``let @x = KIND(N);`` against the map's use: bpftrace keeps aggregations
        in per-CPU maps and everything else in shared ones, and so must the declaration."""
        for decl in self.program.map_decls:
            if decl.kind not in MAP_KINDS:
                raise self.error(f"Invalid bpf map type: {decl.kind}", decl.span)
            if decl.max_entries < 1:
                raise self.error("Map declarations need at least one entry", decl.span)
            info = self.result.maps.get(decl.name)
            if info is None:
                continue
            info.decl = decl
            used = "percpuhash" if info.agg else "hash"
            if ("percpu" in decl.kind) != (used == "percpuhash"):
                raise self.error(f"Incompatible map types. Type from declaration: "
                                 f"{decl.kind}. Type from value/key type: {used}",
                                 info.span or decl.span)

    # -- probes ---------------------------------------------------------------
    def interval_duration(self, ap: ast.AttachPoint) -> int:
        """``i:1ms``, ``i:2s``, ``i:1_000_000``: one duration (bare numbers are nanoseconds,
        bpftrace's rule), in whole microseconds as bpftrace names the probe
        (``interval:us:1000``)."""
        text = ap.parts[0]
        m = re.fullmatch(r"(\d[\d_]*(?:e\d+)?)([a-z]*)", text)
        if m is None:
            raise self.error(f"Invalid rate of interval probe: invalid integer: {text}",
                             ap.span)
        if m.group(2) not in _DURATION_NS:
            raise self.error(f"Invalid rate of interval probe: invalid trailing bytes: {text}",
                             ap.span)
        number = m.group(1).replace("_", "")
        base, _, exp = number.partition("e")
        ns = int(base) * 10 ** int(exp or 0) * _DURATION_NS[m.group(2)]
        if ns < 1000:
            raise self.error(f"Invalid rate of interval probe. Minimum is 1000 or 1us. "
                             f"Found: {ns} nanoseconds", ap.span)
        return ns // 1000

    def resolve_targets(self, probe: ast.Probe) -> list[ProbeTarget]:
        out: list[ProbeTarget] = []
        for ap in probe.attach_points:
            if re.search(r"\$\d", ap.raw):
                raise self.error("a positional parameter in an attach point is bound when the "
                                 "tool is built: run the script with `bt2c run SCRIPT ARGS...`",
                                 ap.span)
            if ap.provider in ("begin", "end"):
                out.append(ProbeTarget(ap.provider, [], ap.raw))
            elif ap.provider == "self":
                out.append(resolve_self(ap, self.ap_error))
            elif ap.provider == "interval":
                if len(ap.parts) == 1:
                    parts = ["us", str(self.interval_duration(ap))]
                else:
                    parts = ap.parts
                if not ap.parts or len(ap.parts) > 2:
                    raise self.error("interval probe type requires 1 or 2 arguments, found "
                                     f"{len(ap.parts)}", ap.span)
                if len(parts) == 2 and parts[0] not in ("s", "ms", "us", "hz"):
                    raise self.error(f"{parts[0]} is not an accepted unit of time", ap.span)
                if len(parts) != 2 or not parts[1].isdigit() or int(parts[1]) == 0:
                    raise self.error(f"Invalid interval probe: {ap.raw}", ap.span)
                n = int(parts[1])
                period = 1_000_000_000 // n if parts[0] == "hz" else n * _UNITS_NS[parts[0]]
                out.append(ProbeTarget("interval", parts, f"interval:{parts[0]}:{parts[1]}",
                                       perf=PerfEvent("PERF_TYPE_SOFTWARE",
                                                      "PERF_COUNT_SW_CPU_CLOCK", period,
                                                      all_cpus=False)))
            elif ap.provider == "tracepoint":
                if len(ap.parts) != 2:
                    raise self.error("tracepoint probe type requires 2 arguments, found "
                                     f"{len(ap.parts)}", ap.span)
                matches = expand(*ap.parts)
                if not matches:
                    # config missing_probes: warn and ignore skip it (the probe goes when
                    # none of its attach points is left, below)
                    missing = self.missing_probes()
                    wild = "*" in ap.raw or "?" in ap.raw
                    if missing == "error" and wild:
                        raise self.error(f"No tracepoints matched {ap.raw}", ap.span)
                    message = f"No matches for tracepoint {ap.parts[0]}:{ap.parts[1]}."
                    if missing == "error":
                        raise self.error(message, ap.span)
                    if missing == "warn" and not wild:
                        self.warn(message + " Skipping.", ap)
                    continue
                wildcard = any(c in ap.raw for c in "*?[")
                for cat, name in matches:
                    tp = load(cat, name)
                    assert tp is not None
                    out.append(ProbeTarget("tracepoint", [cat, name],
                                           f"tracepoint:{cat}:{name}", tp, wildcard))
            elif ap.provider in ("uprobe", "uretprobe", "usdt"):
                resolve = resolve_usdt if ap.provider == "usdt" else resolve_uprobe
                for ut in resolve(ap, self.ap_error):
                    # (not ProbeTarget.wildcard: that marks tracepoints to skip when
                    # a kernel lacks them; a file's symbols were checked here)
                    out.append(ProbeTarget(ut.provider, [ut.path, ut.func], ut.raw, user=ut))
            elif ap.provider in ("kprobe", "kretprobe"):
                out.extend(resolve_kprobe(ap, self.missing_probes(), self.warn,
                                          self.ap_error))
            elif ap.provider in ("fentry", "fexit"):
                out.extend(resolve_fentry(ap, self.missing_probes(), self.warn,
                                          self.ap_error))
            elif ap.provider == "rawtracepoint":
                out.extend(resolve_rawtracepoint(ap, self.missing_probes(), self.warn,
                                                 self.ap_error))
            elif ap.provider == "profile":
                out.append(resolve_profile(ap, self.ap_error))
            elif ap.provider in ("software", "hardware"):
                out.append(resolve_perf_counter(ap, self.ap_error))
            else:
                raise self.error(f"{ap.provider} probes are not supported by bt2c yet",
                                 ap.span)
        if not out and self.missing_probes() == "warn":
            self.warn("Probe has no valid attach points. It is being removed which may "
                      "cause issues with program behavior.", probe.attach_points[0])
        return out

    def missing_probes(self) -> str:
        """config missing_probes: what a kernel function that is not there does."""
        value = str(self.program.config.get("missing_probes", "error"))
        if value not in ("error", "warn", "ignore"):
            raise self.error(f"Invalid value for missing_probes: {value} (expected error, "
                             "warn or ignore)", self.program.span)
        return value

    def ap_error(self, message: str, ap: ast.AttachPoint) -> Bt2cError:
        return self.error(message, ap.span)

    def warn(self, message: str, ap: ast.AttachPoint) -> None:
        self.result.warnings.append(Warning(ap.span, message, "prune"))

    def visit_probe(self, probe: ast.Probe) -> None:
        self.probe = probe
        self.vars = {}
        self.clocks: dict[str, str] = {}   # variable -> clock of the nsecs() it holds
        self.renames = {}
        self.scopes: list[list[tuple[str, str | None]]] = []
        self.declared: set[str] = set()
        self.fixed: set[str] = set()
        self.loop_vars = 0
        targets = self.result.targets[probe.index]
        tps = [t.tracepoint for t in targets if t.tracepoint is not None]
        self.args = tps[0].args_type if tps else None
        self.tracepoints = tps
        self.user_space = any(tp.user_pointers for tp in tps) or any(
            t.provider in ("uprobe", "uretprobe", "usdt") for t in targets)
        self.typed_targets = [t for t in targets if t.kargs is not None]
        if self.typed_targets:
            self.args = self.typed_targets[0].args_type
        if probe.predicate is not None:
            try:
                self.expr(probe.predicate)
                self.require_int(probe.predicate, "predicate")
            except Bt2cError as exc:
                self.report(exc, probe.predicate)
        self.block(probe.body)
        self.result.variables[probe.index] = dict(self.vars)

    # -- statements -------------------------------------------------------------
    def block(self, block: ast.Block) -> None:
        """A block is a scope: variables first assigned (or ``let``) in it end with it."""
        self.scopes.append([])
        for stmt in block.stmts:
            depth, loops, renames = len(self.scopes), self.loop_depth, dict(self.renames)
            try:
                self.stmt(stmt)
            except Bt2cError as exc:
                while len(self.scopes) > depth:   # blocks the statement had entered
                    self.end_scope()
                self.loop_depth, self.renames = loops, renames
                self.report(exc, stmt)
        self.end_scope()

    def report(self, exc: Bt2cError, node: ast.Node) -> None:
        """Keep ``exc`` for the end of the analysis, unless it repeats an error already
        kept or names a variable whose assignment failed; poison what ``node`` assigns."""
        undefined = re.match(r"Undefined or undeclared variable: (\$\w+)$", exc.message)
        kept = {(e.message, e.span) for e in self.errors}
        if not (undefined and undefined[1] in self.poisoned) and \
                (exc.message, exc.span) not in kept:
            self.errors.append(exc)
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Assign, ast.Let)):
                target = sub.var if isinstance(sub, ast.Let) else sub.target
                if isinstance(target, ast.Var):
                    self.poisoned.add(_user(target.name))

    def end_scope(self) -> None:
        """Forget the variables the innermost block declared."""
        for user, saved in reversed(self.scopes.pop()):
            if saved is None:
                self.renames.pop(user, None)
            else:
                self.renames[user] = saved

    def declare(self, var: ast.Var) -> None:
        """Bind ``var`` in the innermost block.  A name declared before in this probe (in
        a block that has ended, or shadowed) gets a fresh variable, so each declaration
        keeps its own type, as bpftrace's scoping implies."""
        user = _user(var.name)
        if user in self.declared:
            self.loop_vars += 1
            var.name = f"{user}#{self.loop_vars}"
        else:
            var.name = user
        self.declared.add(user)
        self.scopes[-1].append((user, self.renames.get(user)))
        self.renames[user] = var.name
        self.vars.pop(var.name, None)
        self.fixed.discard(var.name)

    def stmt(self, stmt: ast.Stmt) -> None:
        if isinstance(stmt, ast.Let):
            self.declare(stmt.var)
            if stmt.type_name is not None:
                self.fix_type(stmt.var, stmt.type_name, stmt.span, stmt.type_of)
            return
        if isinstance(stmt, ast.ExprStmt):
            if isinstance(stmt.expr, ast.Var):
                return
            self.expr(stmt.expr)
        elif isinstance(stmt, ast.Assign):
            self.assign(stmt)
        elif isinstance(stmt, ast.If) and stmt.comptime:
            self.comptime_if(stmt)
        elif isinstance(stmt, ast.If):
            self.expr(stmt.cond)
            self.require_int(stmt.cond, "condition")
            self.block(stmt.then)
            if stmt.other:
                self.block(stmt.other)
        elif isinstance(stmt, ast.Unroll):
            if stmt.count < 1:
                raise self.error("unroll minimum value is 1", stmt.span)
            if stmt.count > 100:
                raise self.error("unroll maximum value is 100", stmt.span)
            self.block(stmt.body)
        elif isinstance(stmt, ast.While):
            self.expr(stmt.cond)
            self.require_int(stmt.cond, "condition")
            self.loop(stmt.body)
        elif isinstance(stmt, ast.ForRange):
            self.expr(stmt.start)
            self.expr(stmt.end)
            self.require_int(stmt.start, "range start")
            self.require_int(stmt.end, "range end")
            self.for_loop(stmt.var, INT64, stmt.body)
        elif isinstance(stmt, ast.ForMap):
            info = self.map_info(stmt.map)
            if info.value is None or info.key is None:
                if self.final:
                    raise self.error(f"Undefined map: {stmt.map.name}", stmt.map.span)
                return
            if not info.key:
                raise self.error("for loops need a map with keys", stmt.map.span)
            key = info.key[0] if len(info.key) == 1 else TupleType(tuple(info.key))
            value = self.map_value_read_type(info, stmt.map.span)
            if isinstance(value, AggType):
                raise self.error(f"Loop expression does not support type: {value}",
                                 stmt.map.span)
            self.for_loop(stmt.var, TupleType((key, value)), stmt.body)
        elif isinstance(stmt, ast.Jump):
            if stmt.value is not None:
                t = self.expr(stmt.value)
                if not isinstance(t, IntType):
                    raise self.error(f"Probe return values can only be integers. Found {t}",
                                     stmt.span)
            if stmt.kind in ("break", "continue") and self.loop_depth == 0:
                raise self.error(f"'{stmt.kind}' statement is not allowed in a probe",
                                 stmt.span)

    def for_loop(self, var: ast.Var, t: Type, body: ast.Block) -> None:
        """A for loop's body runs in a callback without the probe's context, so the
        builtins that read it (``args``, ``argN``) are errors there, as in bpftrace."""
        self.for_depth += 1
        try:
            self.scoped_loop(var, t, body)
        finally:
            self.for_depth -= 1

    def scoped_loop(self, var: ast.Var, t: Type, body: ast.Block) -> None:
        """Bind a loop variable for the loop's body only, as bpftrace scopes it.

        Each loop gets its own variable (``$kv`` may hold different types in two
        loops), so the node is renamed to a name unique in the probe.
        """
        user = _user(var.name)
        self.loop_vars += 1
        self.declared.add(user)
        var.name = f"{user}#{self.loop_vars}"
        saved = self.renames.get(user)
        self.renames[user] = var.name
        self.vars.pop(var.name, None)
        self.bind_var(var, t)
        self.loop(body)
        if saved is None:
            self.renames.pop(user, None)
        else:
            self.renames[user] = saved

    def resolve(self, var: ast.Var) -> None:
        """Point a use of a variable at the declaration in scope (a use out of every
        declaration's scope keeps a name no declaration has, so it is undefined)."""
        user = _user(var.name)
        var.name = self.renames.get(user, user + "#undeclared")

    def fix_type(self, var: ast.Var, name: str, span: Span,
                 type_of: ast.TypeOf | None = None) -> None:
        """``let $x: TYPE``: $x keeps TYPE; assignments convert to it (an integer type
        wraps like C's)."""
        if type_of is not None:
            t: Type = self.typeof(type_of)
            if isinstance(t, TupleType):
                t = storage_type(t)
        elif name.startswith("string"):
            n = name[len("string"):].strip("[]")
            t = StringType(int(n)) if n.isdigit() else StringType(self.max_strlen)
        elif name in _CASTS:
            t = _CASTS[name]
        else:
            t = self.type_name(name, span)
        self.vars[var.name] = t
        var.type = t
        self.fixed.add(var.name)

    def loop(self, body: ast.Block) -> None:
        self.loop_depth += 1
        self.block(body)
        self.loop_depth -= 1

    def bind_var(self, var: ast.Var, t: Type, span: Span | None = None) -> None:
        if var.name in self.fixed:  # let $x: TYPE: assignments convert to TYPE
            declared = self.vars[var.name]
            if isinstance(declared, IntType) == isinstance(t, IntType) and \
                    isinstance(declared, StringType) == isinstance(t, StringType):
                var.type = declared
                return
        t = storage_type(t)
        old = self.vars.get(var.name)
        if isinstance(t, EnumType) and var.name in self.plain_enum_vars:
            t = IntType(64, False)
        if old is not None:
            new = unify(old, t)
            if isinstance(old, EnumType) and new != old:
                self.demote_enum_var(var.name)
            if new is None and (clash := _format_clash(old, t)):
                raise self.error(clash, span or var.span)
            if new is None:
                raise self.error(f"Type mismatch for {_user(var.name)}: trying to assign value of "
                                 f"type '{t}' when variable already has a type '{old}'",
                                 span or var.span)
            t = new
        self.vars[var.name] = t
        var.type = t

    def demote_enum_var(self, name: str) -> None:
        """A variable that also holds something other than its enum's values (another
        enum, a plain integer, ``$c++``) is a plain integer everywhere, as bpftrace
        types a variable once for the whole probe; the final pass applies it from
        the variable's first assignment on."""
        self.plain_enum_vars.add(name)
        if isinstance(self.vars.get(name), EnumType):
            self.vars[name] = IntType(64, False)

    def assign(self, stmt: ast.Assign) -> None:
        value = stmt.value
        while isinstance(value, ast.BlockExpr) and value.value is not None:
            value = value.value   # `@m = { ...; avg($x) }`: the block's value aggregates
        if isinstance(stmt.target, ast.Map) and stmt.op is None:
            self.agg_site = value
        value_t = self.expr(stmt.value)
        if isinstance(value_t, type(VOID)) or isinstance(value_t, ArgsType):
            raise self.error(f"Value of type '{value_t}' cannot be assigned", stmt.value.span)
        target = stmt.target
        if stmt.op is not None:
            self.require_int(stmt.value, "operand")
        if isinstance(target, ast.Var):
            if isinstance(value_t, AggType):
                raise self.error(f"Value '{value_t}' cannot be assigned to a scratch "
                                 "variable.", stmt.span)
            if stmt.op is None and (stmt.decl or _user(target.name) not in self.renames):
                self.declare(target)
                if stmt.decl_type is not None:
                    self.fix_type(target, stmt.decl_type, stmt.span, stmt.decl_type_of)
            else:
                self.resolve(target)
            if stmt.op is not None:
                if target.name not in self.vars:
                    raise self.error(f"Undefined or undeclared variable: {_user(target.name)}",
                                     target.span)
                self.require_int_type(self.vars[target.name], target.span)
                if isinstance(self.vars[target.name], EnumType):   # $c += 1: an integer
                    self.demote_enum_var(target.name)
                target.type = self.vars[target.name]
                return
            self.bind_var(target, value_t, stmt.span)
            clock = self.clock_of(stmt.value)
            if clock is None:
                self.clocks.pop(target.name, None)
            else:
                self.clocks[target.name] = clock
            return
        assert isinstance(target, ast.Map)
        info = self.map_info(target)
        self.map_keys(target, info)
        if stmt.op is None and not isinstance(value, ast.Call):
            self.no_aggregation_copy(stmt, value_t)
        if isinstance(value_t, AggType):
            if stmt.op is not None:
                raise self.error("compound assignment to an aggregation", stmt.span)
        elif stmt.op in ("+", "-") and isinstance(info.value, PointerType):
            value_t = info.value   # pointer arithmetic, scaled by the pointee's size
        elif stmt.op is not None:
            value_t = INT64
        self.set_map_value(info, value_t, stmt.span, stmt.value.span)
        target.type = info.value

    def no_aggregation_copy(self, stmt: ast.Assign, value_t: Type) -> None:
        """``@t = @c`` where @c is an aggregation map: bpftrace refuses to copy it (a
        count/sum/min/max/avg reads as an integer only through a cast or an expression).
        The map's own type is looked at, since reading those gives a plain integer."""
        agg = value_t
        if isinstance(stmt.value, ast.Map):
            source = self.result.maps.get(stmt.value.name)
            agg = source.value if source is not None else None
        if isinstance(agg, AggType) and agg.kind in _AGG_EXAMPLES:
            raise self.error(f"Map value '{agg}' cannot be assigned from one map to another. "
                             "The function that returns this type must be called directly "
                             f"e.g. `{stmt.target.name} = {_AGG_EXAMPLES[agg.kind]};`.",  # type: ignore[union-attr]
                             stmt.span)

    def set_map_value(self, info: MapInfo, t: Type, span: Span,
                      value_span: Span | None = None) -> None:
        t = storage_type(t)
        if info.value is None:
            info.value = t
            return
        old = info.value
        if isinstance(old, AggType) and isinstance(t, AggType) and old.kind == "tseries" \
                and t.kind == "tseries" and (old.tseries, old.signed) != (t.tseries, t.signed):
            raise self.error("Different tseries bounds in a single map unsupported",
                             value_span or span)
        new = unify(info.value, t)
        if new is None and (clash := _format_clash(info.value, t)):
            raise self.error(clash, span)
        if new is None:
            raise self.error(f"Type mismatch for {info.name}: trying to assign value of type "
                             f"'{t}' when map already has a type '{info.value}'", span)
        info.value = new

    def map_info(self, m: ast.Map) -> MapInfo:
        info = self.result.maps.get(m.name)
        if info is None:
            info = self.result.maps[m.name] = MapInfo(m.name, span=m.span)
        return info

    def map_keys(self, m: ast.Map, info: MapInfo) -> None:
        keys = []
        for k in m.keys:
            t = self.expr(k)
            if not isinstance(t, KEYABLE):
                raise self.error(f"Invalid map key type: {t}", k.span)
            keys.append(storage_type(t))
        # @m[(a, b)] and @m[$tuple] are the same map as @m[a, b]: the tuple struct
        # and the multi-key struct have one layout.  A record stays one key (it
        # prints as "{ .a = 1 }").
        if len(keys) == 1 and isinstance(keys[0], TupleType) and not keys[0].names:
            keys = list(keys[0].elems)
        if info.key is None:
            info.key = keys
            return
        if len(keys) != len(info.key):
            raise self.error(f"Argument mismatch for {m.name}: trying to access with "
                             f"arguments: '{_key_str(keys)}' when map expects arguments: "
                             f"'{_key_str(info.key)}'", m.span)
        merged = []
        for old, new in zip(info.key, keys):
            u = unify(old, new)
            if u is None:
                raise self.error(f"Argument mismatch for {m.name}: trying to access with "
                                 f"arguments: '{new}' when map expects arguments: '{old}'",
                                 m.span)
            merged.append(u)
        info.key = merged

    def map_value_read_type(self, info: MapInfo, span: Span) -> Type:
        v = info.value
        if isinstance(v, AggType):
            if v.kind in ("hist", "lhist", "stats", "tseries"):
                return v
            return IntType(64, v.signed if v.kind != "count" else False)
        assert v is not None
        return v

    # -- expressions ----------------------------------------------------------
    def require_int(self, e: ast.Expr, what: str) -> None:
        assert e.type is not None
        self.require_int_type(e.type, e.span, what)

    def require_int_type(self, t: Type, span: Span, what: str = "operand") -> None:
        if not isinstance(t, IntType):
            raise self.error(f"{what} must be an integer, not '{t}'", span)

    def expr(self, e: ast.Expr) -> Type:
        t = self._expr(e)
        e.type = t
        return t

    def _expr(self, e: ast.Expr) -> Type:  # noqa: C901 - one dispatch over node kinds
        if isinstance(e, ast.BlockExpr):
            self.scopes.append([])
            site = self.agg_site   # the block's value may be the aggregation assigned
            for st in e.body:
                self.stmt(st)
            self.agg_site = site
            t = self.expr(e.value) if e.value is not None else VOID
            self.end_scope()
            return t
        if isinstance(e, ast.Int):
            return INT64 if e.value < 2**63 else UINT64
        if isinstance(e, ast.Str):
            if len(e.value.encode()) + 1 > self.max_strlen:
                raise self.error(f"String is too long (over {self.max_strlen} bytes): "
                                 f"{e.value}", e.span)
            return literal_string(e.value)
        if isinstance(e, ast.Var):
            self.resolve(e)
            if e.name not in self.vars:
                raise self.error(f"Undefined or undeclared variable: {_user(e.name)}", e.span)
            return self.vars[e.name]
        if isinstance(e, ast.Param):
            self.result.max_param = max(self.result.max_param, e.index)
            return INT64
        if isinstance(e, ast.Map):
            info = self.map_info(e)
            self.map_keys(e, info)
            if info.value is None:
                if self.final:
                    raise self.error(f"Undefined map: {e.name}", e.span)
                return INT64
            return self.map_value_read_type(info, e.span)
        if isinstance(e, ast.Builtin):
            return self.builtin(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Binary):
            lt, rt = self.expr(e.left), self.expr(e.right)
            if e.op in ("==", "!=") and (isinstance(lt, StringType) and isinstance(rt, StringType)
                                         or isinstance(lt, BufType) and isinstance(rt, BufType)):
                return BOOL
            if not (isinstance(lt, IntType) and isinstance(rt, IntType)):
                raise self.error(f"Type mismatch for '{e.op}': comparing {lt} with {rt}",
                                 e.span)
            if e.op in ("==", "!=", "<", "<=", ">", ">=", "&&", "||"):
                return BOOL
            assert isinstance(lt, IntType) and isinstance(rt, IntType)
            ptr = _pointer_arith(e.op, lt, rt)
            if ptr is not None:
                return ptr
            return IntType(64, lt.signed and rt.signed)
        if isinstance(e, ast.Unary):
            t = self.expr(e.operand)
            if e.op == "*":
                return self.deref(t, e.span)
            if e.op == "&":
                if isinstance(e.operand, ast.Map):
                    raise self.error("bt2c does not take the address of a map value (bpftrace "
                                     "reads 0 through it): copy it to a variable first", e.span)
                # the variable's own storage (a stack slot or the per-CPU scratch buffer),
                # read back through the pointer with bpf_probe_read_kernel
                return PointerType(target=t, user=False)
            if not isinstance(t, IntType):
                raise self.error(f"The {e.op} operator can not be used on expressions of "
                                 f"type '{t}'", e.span)
            return BOOL if e.op == "!" else IntType(64, t.signed if e.op != "-" else True)  # type: ignore[attr-defined]
        if isinstance(e, ast.IncDec):
            if isinstance(e.target, ast.Var):
                self.resolve(e.target)
                if e.target.name not in self.vars:
                    raise self.error(f"Undefined or undeclared variable: {_user(e.target.name)}",
                                     e.target.span)
                if isinstance(self.vars[e.target.name], EnumType):   # $c++: an integer
                    self.demote_enum_var(e.target.name)
                t = self.vars[e.target.name]
                if not isinstance(t, IntType):
                    raise self.error(f"Type mismatch for {_user(e.target.name)}: trying to assign "
                                     f"value of type 'uint64' when variable already has a "
                                     f"type '{t}'", e.span)
                e.target.type = t
                return t
            assert isinstance(e.target, ast.Map)
            info = self.map_info(e.target)
            self.map_keys(e.target, info)
            if not isinstance(info.value, PointerType):  # a pointer steps by its pointee
                self.set_map_value(info, INT64, e.span)
            e.target.type = info.value
            return INT64
        if isinstance(e, ast.Ternary):
            ct = self.expr(e.cond)
            if not isinstance(ct, IntType):
                kind = "string" if isinstance(ct, StringType) else str(ct)
                raise self.error(f"Invalid condition: {kind}", e.span)
            a, b = ct if e.elvis else self.expr(e.then), self.expr(e.other)
            u = unify(a, b)
            if u is None:
                raise self.error(f"Branches must return the same type or compatible types: "
                                 f"have '{a}' and '{b}'", e.span)
            return storage_type(u)
        if isinstance(e, ast.Tuple):
            elems = [self.expr(i) for i in e.items]
            for item, t in zip(e.items, elems):
                if not isinstance(t, KEYABLE):
                    raise self.error(f"Invalid tuple element type: {t}", item.span)
            names = tuple(e.names) if e.names else None
            return TupleType(tuple(storage_type(t) for t in elems), names)
        if isinstance(e, ast.Field):
            return self.field(e)
        if isinstance(e, ast.Cast):
            return self.cast(e)
        if isinstance(e, ast.Index):
            return self.index(e)
        if isinstance(e, ast.SizeOf):
            if isinstance(e.expr, ast.TypeOf):
                e.value = self.typeof(e.expr).size
            elif e.type_name is not None:
                e.value = self.type_name(e.type_name, e.span).size
            else:
                assert e.expr is not None
                e.value = self.expr(e.expr).size
            return UINT64
        if isinstance(e, ast.TypeOf):   # a type where a value is wanted
            raise self.error("Unknown function: 'typeof'", e.span)
        if isinstance(e, ast.OffsetOf):
            base = self.typeof(e.type_of) if e.type_of else self.type_name(e.type_name, e.span)
            e.value = self.offset_of(base, e.fields, e.span)
            return UINT64
        if isinstance(e, ast.ContainerOf):
            return self.container_of(e)
        raise self.error("unsupported expression", e.span)

    def offset_of(self, t: Type, fields: list[str], span: Span) -> int:
        """The offset of member ``a.b.c`` in struct ``t``."""
        off = 0
        for name in fields:
            if not isinstance(t, StructType):
                raise self.error(f"'{t}' is not a struct or union", span)
            f = self.types.field(t, name)
            if f is None:
                raise self.error(f"Struct/union of type '{t}' does not contain a field "
                                 f"named '{name}'", span)
            off += f.offset
            t = f.type
        return off

    def container_of(self, e: ast.ContainerOf) -> Type:
        """``container_of(ptr, TYPE, member)``: a TYPE pointer ``offsetof(TYPE, member)``
        bytes before ``ptr``, in ptr's address space.  TYPE may be a bare struct name
        (``task_struct``), as bpftrace resolves it."""
        t = self.expr(e.ptr)
        if not isinstance(t, IntType) or isinstance(t, FormattedInt):
            raise self.error(f'Cannot cast from "{t}" to "void *"', e.ptr.span)
        name = e.type_name
        if e.type_of is not None:
            target = self.typeof(e.type_of)
        elif re.fullmatch(r"\w+", name) and name not in _CASTS:
            try:
                target = self.types.parse_name(name, self.user_space)
            except TypeError_:
                target = self.type_name(f"struct {name}", e.span)
        else:
            target = self.type_name(name, e.span)
        e.value = self.offset_of(target, e.fields, e.span)
        user = t.user if isinstance(t, PointerType) else self.user_space
        return PointerType(target=target, user=user)

    def comptime_if(self, stmt: ast.If) -> None:
        """``if comptime (cond)``: only the branch taken is checked and compiled (a fail()
        in the other one is never reached).  Once types are final, the statement keeps
        that branch alone, in ``then``."""
        self.expr(stmt.cond)
        taken = stmt.then if stmt.cond.folded else stmt.other  # type: ignore[attr-defined]
        if taken is not None:
            self.block(taken)
        if self.final:
            other = stmt.other if taken is stmt.then else stmt.then
            stmt.dropped = [n.span for n in ast.walk(other) if isinstance(n, ast.Stmt)
                            and not isinstance(n, ast.Jump)] if other else []
            stmt.then = taken or ast.Block(stmt.span, [])
            stmt.other = None

    def cast_type_span(self, e: ast.Cast) -> Span:
        """The type's name inside ``(TYPE)expr``, where bpftrace points at an unknown type."""
        text = self.source.text
        start = e.span.start + 1
        while start < e.span.end and text[start].isspace():
            start += 1
        end = text.find(")", start, e.span.end)
        return Span(start, end if end > start else e.span.end)

    def type_name(self, text: str, span: Span) -> Type:
        try:
            return self.types.parse_name(text, self.user_space)
        except TypeError_ as exc:
            raise self.error(str(exc), span) from None

    def typeof(self, e: ast.TypeOf) -> Type:
        """The type ``typeof(...)`` names.  A map written without its key stands for
        its key type when it has keys, as in bpftrace (whose find() and has_key() type
        their key variable with ``typeof(@map)``)."""
        if e.type_name is not None:
            if e.type_name in _CASTS:
                return _CASTS[e.type_name]
            return self.type_name(e.type_name, e.span)
        assert e.expr is not None
        if isinstance(e.expr, ast.Map) and not e.expr.keys:
            keys = self.map_info(e.expr).key
            if keys:
                return keys[0] if len(keys) == 1 else TupleType(tuple(keys))
        return self.expr(e.expr)

    def cast(self, e: ast.Cast) -> Type:
        t = self.expr(e.expr)
        target: Type | None = None
        if e.type_of is not None:
            target = self.typeof(e.type_of)
            if isinstance(target, IntType) and not isinstance(target, (PointerType,
                                                                       FormattedInt)):
                if not isinstance(t, IntType):
                    raise self.error(f'Cannot cast from "{t}" to "{target}"', e.span)
                return target
            if not isinstance(target, PointerType):
                raise self.error(f'Cannot cast from "{t}" to "{target}"', e.span)
        if target is None and e.type_name in _CASTS:
            if isinstance(t, ArrayType) and t.size == _CASTS[e.type_name].size:
                return _CASTS[e.type_name]  # (uint32)pton("1.2.3.4"): the same bytes
            if not isinstance(t, IntType):
                raise self.error(f'Cannot cast from "{t}" to "{_CASTS[e.type_name]}"', e.span)
            return _CASTS[e.type_name]
        enum = re.fullmatch(r"\s*enum\s+(\w+)\s*", e.type_name or "")
        if target is None and enum and self.types.enum_type(enum.group(1)) is None:
            raise self.error(f"Unknown enum: {enum.group(1)}",
                             Span(e.span.start, self.cast_type_span(e).end + 1))
        if target is None:
            target = self.type_name(e.type_name, self.cast_type_span(e))
        if isinstance(target, PointerType):
            self.require_int(e.expr, "cast operand")
            if isinstance(t, PointerType):
                # a cast keeps the address space of the pointer it converts
                return PointerType(target=target.target, user=t.user)
            return target
        if isinstance(target, EnumType):
            self.enum_cast(e, t, target)
        if isinstance(target, IntType):
            self.require_int(e.expr, "cast operand")
            return target
        raise self.error(f"Cannot cast to '{target}'", e.span)

    def known_enum(self, t: Type) -> Type:
        """A tracepoint field or kernel function argument declared as a kernel enum:
        the enum, now known for printing, or a plain integer if BTF lacks it."""
        if isinstance(t, EnumType):
            return self.types.enum_type(t.name, t.bits) or IntType(t.bits, t.signed)
        return t

    def enum_cast(self, e: ast.Cast, t: Type, target: EnumType) -> None:
        """``(enum color)x``: an integer, and a literal must be one of the enum's values.
        bpftrace points at the ``(enum color)`` part."""
        span = Span(e.span.start, self.cast_type_span(e).end + 1)
        if not isinstance(t, IntType):
            raise self.error(f'Cannot cast from "{t}" to "{target}"', span)
        if isinstance(e.expr, ast.Int):
            values = {v for v, _ in self.types.enum_defs[target.name]}
            if e.expr.value % (1 << 64) not in values:
                raise self.error(f"Enum: {target.name} doesn't contain a variant value of "
                                 f"{e.expr.value}", span)

    def deref(self, ptr: Type, span: Span) -> Type:
        """The type ``*ptr`` reads, in the pointer's address space."""
        if not isinstance(ptr, PointerType) or ptr.target is None:
            raise self.error(f"Can not dereference an expression of type '{ptr}'", span)
        return self.in_space(ptr.target, ptr.user)

    @staticmethod
    def in_space(t: Type, user: bool) -> Type:
        """Pointers read from user memory point to user memory."""
        if isinstance(t, PointerType) and t.user != user:
            return PointerType(target=t.target, user=user)
        return t

    def index(self, e: ast.Index) -> Type:
        base = self.expr(e.expr)
        self.expr(e.index)
        self.require_int(e.index, "index")
        if isinstance(base, TupleType):
            # $t[1 + 1] is $t.2: the index must be a constant
            bad = self.error("Array-style access for tuples only valid for integer literals",
                             e.span)
            n = fold_constant(e.index, ast, bad)
            if not 0 <= n < len(base.elems):
                raise self.error(f"Invalid tuple index: {n}. Found {len(base.elems)} elements "
                                 f"in tuple.", e.span)
            e.index = ast.Int(e.index.span, n)
            e.index.type = INT64
            return base.elems[n]
        if isinstance(base, StringType):
            # a character: int8, 0 past the string's end (bpftrace's rule)
            if isinstance(e.index, ast.Int) and not 0 <= e.index.value < base.length:
                if e.index.value < 0:
                    raise self.error("The array index operator [] only accepts non-negative "
                                     f"integer indices. Got: {e.index.type}", e.span)
                raise self.error(f"the index {e.index.value} is out of bounds for array of "
                                 f"size {base.length}", e.span)
            return IntType(8, True)
        if isinstance(base, ArrayType):
            if isinstance(e.index, ast.Int) and not 0 <= e.index.value < base.n:
                raise self.error(f"the index {e.index.value} is out of bounds for array of "
                                 f"size {base.n}", e.span)
            return base.elem
        if isinstance(base, PointerType):
            if base.target is None:
                raise self.error("The array index operator [] cannot be used on a pointer "
                                 "to an unsized type (void *).", e.span)
            return self.deref(base, e.span)
        raise self.error(f"The array index operator [] can not be used on expressions of "
                         f"type '{base}'", e.span)

    def builtin(self, e: ast.Builtin) -> Type:
        if self.for_depth and (e.name == "args" or re.fullmatch(r"arg\d+", e.name)):
            raise self.error(f"'{e.name}' builtin is not allowed in a for-loop", e.span)
        if e.name == "args":
            if self.args is None:
                targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
                kind = targets[0].provider if targets else "special"
                kind = "special" if kind in ("begin", "end", "self") else kind
                raise self.error("The args builtin can only be used with tracepoint, "
                                 "rawtracepoint, fentry/fexit, and uprobe probes "
                                 f"({kind} used here)", e.span)
            return self.args
        targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
        if re.fullmatch(r"s?arg\d+|retval|func", e.name) and any(t.user for t in targets):
            return self.user_builtin(e)
        if re.fullmatch(r"arg\d+", e.name):
            return self.regs_builtin(e, REGS_PROVIDERS + ("rawtracepoint",),
                                     "'kprobes', 'uprobes' and 'usdt' probes")
        if e.name == "retval":
            targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
            if targets and all(t.provider == "fexit" for t in targets):
                rets = {t.kret.type if t.kret else None for t in targets}
                if None in rets:
                    raise self.error("retval of a function that returns void", e.span)
                return self.known_enum(rets.pop()) if len(rets) == 1 else INT64
            return self.regs_builtin(e, RETVAL_REGS_PROVIDERS,
                                     "'kretprobe' and 'uretprobe' and 'fentry' probes")
        if e.name == "func":
            kinds = [t.provider for t in targets if t.provider not in
                     ("kprobe", "kretprobe", "fentry", "fexit")]
            if kinds or not targets:
                kind = kinds[0] if kinds else "special"
                raise self.error(f"The func builtin can not be used with '{kind}' probes",
                                 e.span)
            return literal_string(max((t.func for t in targets), key=len))
        if e.name == "probe":
            names = [t.name for t in self.result.targets[self.probe.index]]  # type: ignore[union-attr]
            return literal_string(max(names, key=len))
        if e.name == "probetype":
            return literal_string(max((probetype(t) for t in targets), key=len))
        if e.name in _BUILTIN_TYPES:
            return _BUILTIN_TYPES[e.name]
        if e.name in ("true", "false"):
            return BOOL
        if e.name == "default_str_length":  # a macro without parameters, called bare
            return UINT64
        if e.name == "curtask":
            task = self.types.struct("struct", "task_struct")
            if task is None:
                raise self.error("curtask needs the kernel's BTF (/sys/kernel/btf/vmlinux)",
                                 e.span)
            return PointerType(target=task, user=False)
        if e.name == "dw_ustack":
            self.dw_ustack_span = self.dw_ustack_span or e.span
            return StackType(True)
        if e.name in ("kstack", "ustack"):
            return StackType(e.name == "ustack")
        enumerator = self.types.enumerator(e.name)
        if enumerator is not None:
            return enumerator[0]
        raise self.error(f"Unknown identifier: '{e.name}'", e.span)

    def user_builtin(self, e: ast.Builtin) -> Type:
        """argN, sargN, retval and func in uprobe, uretprobe and usdt probes."""
        targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
        providers = {t.provider for t in targets}
        arg = re.fullmatch(r"(s?)arg(\d+)", e.name)
        if arg:
            allowed = {"uprobe", "usdt"} if not arg.group(1) else {"uprobe"}
            if not providers <= allowed:
                kinds = "'kprobes', 'uprobes' and 'usdt'" if not arg.group(1) else \
                    "'kprobes' and 'uprobes'"
                raise self.error(f"The {e.name} builtin can only be used with {kinds} probes",
                                 e.span)
            limit = _REG_ARGS.get(os.uname().machine, 5) if "uprobe" in providers else 12
            if not arg.group(1) and int(arg.group(2)) >= limit:
                where = os.uname().machine if "uprobe" in providers else "usdt"
                raise self.error(f"{where} doesn't support {e.name}", e.span)
            return UINT64
        if e.name == "retval":
            if providers != {"uretprobe"}:
                raise self.error("The retval builtin can only be used with 'kretprobe' and "
                                 "'uretprobe' and 'fentry' probes", e.span)
            return UINT64
        if "usdt" in providers:
            raise self.error("The func builtin can not be used with 'usdt' probes", e.span)
        if not all(t.user for t in targets):
            raise self.error("The func builtin can only be used with 'uprobe' and "
                             "'uretprobe' probes in bt2c", e.span)
        return literal_string(max((t.user.symbol for t in targets if t.user), key=len))

    def regs_builtin(self, e: ast.Builtin, providers: tuple[str, ...], where: str) -> Type:
        """argN and retval: every attach point of the probe must have registers to read."""
        targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
        if any(t.provider not in providers for t in targets):
            raise self.error(f"The {e.name} builtin can only be used with {where}", e.span)
        if e.name.startswith("arg") and int(e.name[3:]) > 255:
            raise self.error(f"{e.name}: argument index out of range", e.span)
        return UINT64

    def stack(self, e: ast.Call) -> StackType:
        """``kstack(mode)``, ``kstack(limit)``, ``kstack(mode, limit)`` (ustack and
        dw_ustack alike)."""
        if len(e.args) > 2 and e.name == "dw_ustack":  # a macro in bpftrace's library
            self.no_matching_definition(e, 2)
        if len(e.args) > 2:
            raise self.error(f"{e.name}() takes up to 2 arguments ({len(e.args)} provided)",
                             e.span)
        mode, limit = "bpftrace", MAX_STACK_FRAMES
        args = list(e.args)
        if args and isinstance(args[0], ast.Builtin):
            mode = args.pop(0).name  # type: ignore[attr-defined]
            if mode == "build_id":
                raise self.error(f"{e.name}: the build_id stack mode is not supported by bt2c",
                                 e.args[0].span)
            if mode not in STACK_MODES:
                raise self.error(f"Error parsing stack mode: {e.name}: Invalid value for "
                                 "stack_mode: valid values are bpftrace, raw, perf, and "
                                 "build_id.", e.args[0].span)
        if args:
            if not isinstance(args[0], ast.Int) or len(args) > 1:
                raise self.error(f"{e.name}: invalid limit value", e.span)
            # bpftrace takes any limit and keeps at most the kernel's 127 frames
            limit = min(args[0].value, MAX_STACK_FRAMES)
        return StackType(e.name != "kstack", mode, limit)

    def nsecs_call(self, e: ast.Call) -> Type:
        """nsecs(MODE): a timestamp from one of the kernel's clocks (boot when omitted)."""
        if len(e.args) > 1:
            raise self.error(f"nsecs() takes up to one argument ({len(e.args)} provided)",
                             e.span)
        if e.args:
            mode = e.args[0]
            if not isinstance(mode, ast.Builtin):
                t = self.expr(mode)
                shown = "int" if isinstance(t, IntType) else "string" if isinstance(
                    t, StringType) else t
                raise self.error(f"nsecs() only supports timestamp_mode arguments ({shown} "
                                 "provided)", e.span)
            if mode.name not in CLOCKS:
                raise self.error(f"Invalid timestamp mode: {mode.name}", mode.span)
        return UINT64

    def clock_of(self, e: ast.Expr) -> str | None:
        """The clock a timestamp came from, as far as bpftrace tracks it: nsecs itself,
        or a variable assigned straight from it; arithmetic makes a plain integer."""
        if isinstance(e, ast.Builtin) and e.name == "nsecs":
            return "boot"
        if isinstance(e, ast.Call) and e.name == "nsecs":
            return e.args[0].name if e.args else "boot"  # type: ignore[attr-defined]
        if isinstance(e, ast.Var):
            return self.clocks.get(e.name)
        return None

    def field(self, e: ast.Field) -> Type:
        base = self.expr(e.expr)
        if isinstance(base, ArgsType):
            t = base.field(e.name)
            if t is None:
                if self.tracepoints:
                    tp = self.tracepoints[0]
                    raise self.error(f"Struct/union of type 'struct tracepoint:{tp.category}:"
                                     f"{tp.name}_args' does not contain a field named "
                                     f"'{e.name}'", e.span)
                raise self.error(f"Can't find field '{e.name}' in args", e.span)
            for target in self.typed_targets[1:]:
                if target.karg(e.name) is None:
                    raise self.error(f"Can't find field '{e.name}' in args of {target.raw}",
                                     e.span)
            for tp in self.tracepoints[1:]:
                if tp.args_type.field(e.name) is None:
                    raise self.error(f"Can't find field '{e.name}' in tracepoint "
                                     f"{tp.category}:{tp.name}", e.span)
            return self.known_enum(t)
        if isinstance(base, TupleType) and base.names and e.name in base.names:
            e.name = str(base.names.index(e.name))  # a record member is its tuple element
            return base.elems[int(e.name)]
        if isinstance(base, TupleType):
            if not e.name.isdigit() or int(e.name) >= len(base.elems):
                raise self.error(f"Invalid tuple index: {e.name}. Found {len(base.elems)} "
                                 "elements in tuple.", e.span)
            return base.elems[int(e.name)]
        if isinstance(base, PointerType) and isinstance(base.target, StructType):
            return self.member(base.target, e, base.user)
        if isinstance(base, StructType):
            if e.arrow:
                raise self.error(f"Can not access field '{e.name}' on type '{base}'. Try "
                                 "using '.'", e.span)
            return self.member(base, e, self.space_of(e.expr))
        raise self.error(f"Can not access field '{e.name}' on expression of type '{base}'",
                         e.span)

    def member(self, st: StructType, e: ast.Field, user: bool) -> Type:
        if st.size == 0 and st.btf:
            raise self.error(f"Cannot resolve unknown type \"{st}\"", e.span)
        f = self.types.field(st, e.name)
        if f is None:
            raise self.error(f"Struct/union of type '{st}' does not contain a field named "
                             f"'{e.name}'", e.span)
        return self.in_space(f.type, user)

    def space_of(self, e: ast.Expr) -> bool:
        """Whether a struct-valued expression lives in user memory."""
        if isinstance(e, ast.Field):
            base = e.expr.type
            if isinstance(base, PointerType):
                return base.user
            return self.space_of(e.expr)
        if isinstance(e, ast.Unary) and isinstance(e.operand.type, PointerType):
            return e.operand.type.user
        if isinstance(e, ast.Index):
            base = e.expr.type
            return base.user if isinstance(base, PointerType) else self.space_of(e.expr)
        return False

    def nargs(self, e: ast.Call, low: int, high: int | None = None) -> None:
        """bpftrace's argument-count errors: "requires one argument", "requires at least
        one argument", "takes up to 3 arguments"."""
        high = low if high is None else high
        n = len(e.args)

        def count(k: int) -> str:
            return {0: "no arguments", 1: "one argument"}.get(k, f"{k} arguments")

        if low == high and n != low:
            raise self.error(f"{e.name}() requires {count(low)} ({n} provided)", e.span)
        if n < low:
            raise self.error(f"{e.name}() requires at least {count(low)} ({n} provided)",
                             e.span)
        if n > high:
            raise self.error(f"{e.name}() takes up to {count(high)} ({n} provided)", e.span)

    def int_args(self, e: ast.Call, args: list[ast.Expr], kind: str = "integer") -> None:
        """Type the arguments, which must be integers: "sum() only supports integer
        arguments (string[8] provided)"."""
        for a in args:
            t = self.expr(a)
            if not isinstance(t, IntType):
                shown = "string" if kind == "int" and isinstance(t, StringType) else t
                raise self.error(f"{e.name}() only supports {kind} arguments ({shown} "
                                 "provided)", e.span)

    def const_int(self, e: ast.Expr, what: str) -> int:
        if isinstance(e, ast.Int):
            return e.value
        raise self.error(f"{what} must be an integer literal", e.span)

    def call(self, e: ast.Call) -> Type:  # noqa: C901 - one dispatch over functions
        name = e.name
        if name in AGGREGATIONS:
            if e is not self.agg_site:
                raise self.error(f"{name}() must be assigned directly to a map", e.span)
            if name == "tseries":
                return self.tseries(e)
            if name == "count":
                self.nargs(e, 0)
                return AggType("count", False)
            if name in ("sum", "min", "max", "avg", "stats"):
                self.nargs(e, 1)
                self.int_args(e, e.args)
                return AggType(name, e.args[0].type.signed)  # type: ignore[union-attr]
            if name == "hist":
                self.nargs(e, 1, 2)
                self.int_args(e, e.args[:1])
                bits = self.const_int(e.args[1], "hist() bits") if len(e.args) > 1 else 0
                if not 0 <= bits <= 5:
                    raise self.error(f"hist: bits {bits} must be 0..5", e.span)
                return AggType("hist", True, hist_bits=bits)
            self.nargs(e, 4)
            self.int_args(e, e.args[:1])
            lo, hi, step = (self.const_int(a, "lhist() bound") for a in e.args[1:])
            if hi <= lo:
                raise self.error(f"lhist() min must be less than max (provided min {lo} and "
                                 f"max {hi})", e.span)
            if step <= 0:
                raise self.error(f"lhist() step must be >= 1 ({step} provided)", e.span)
            if (hi - lo) // step > 1000:
                raise self.error("lhist() has too many buckets (max 1000)", e.span)
            return AggType("lhist", True, lhist=(lo, hi, step))
        if name in CALLABLE_BUILTINS and not e.args:
            return self.builtin(ast.Builtin(e.span, name))
        if name == "nsecs":
            return self.nsecs_call(e)
        if name in PRINTF_LIKE:
            if name == "system" and not self.unsafe:
                raise self.error("system() is an unsafe function being used in safe mode",
                                 e.span)
            if not e.args:
                raise self.error(f"{name}() requires at least one argument (0 provided)",
                                 e.span)
            if not isinstance(e.args[0], ast.Str):
                t = self.expr(e.args[0])
                shown = "string" if isinstance(t, StringType) else t
                raise self.error(f"{name}() expects a string literal ({shown} provided)",
                                 e.span)
            if name == "debugf":
                self.debugf_warning(e)
            for a in e.args[1:]:
                t = self.expr(a)
                if not isinstance(t, (IntType, StringType, StackType, SymType, BufType,
                                      InetType, MacType)):
                    raise self.error(f"printf: argument of type '{t}' is not supported", a.span)
            from bt2c.formats import check_format
            aggs = {a.name: info.value.kind for a in e.args[1:] if isinstance(a, ast.Map)
                    and (info := self.result.maps.get(a.name)) is not None
                    and isinstance(info.value, AggType)}
            check_format(e.args[0], e.args[1:], self.source, e.span, aggs)
            return VOID
        if name == "print":
            self.nargs(e, 1, 3)
            a = e.args[0]
            if isinstance(a, ast.Map) and not a.keys:
                self.map_info(a)
                for extra in e.args[1:]:
                    self.expr(extra)
                    self.require_int(extra, "print() argument")
                return VOID
            self.nargs(e, 1)
            t = self.expr(a)
            if not isinstance(t, (*KEYABLE, StructType, ArrayType)):
                raise self.error(f"print() of a value of type '{t}' is not supported", a.span)
            return VOID
        if name in ("clear", "zero"):
            self.nargs(e, 1)
            if not isinstance(e.args[0], ast.Map) or e.args[0].keys:
                raise self.error(f"{name}() expects a map argument", e.args[0].span)
            self.map_info(e.args[0])
            return VOID
        if name == "delete":
            self.nargs(e, 1, 2)
            m = e.args[0]
            if not isinstance(m, ast.Map):
                raise self.error("delete() expects a map element", m.span)
            if len(e.args) == 2:
                if m.keys:
                    raise self.error("delete(@map, key) takes a map without a key", m.span)
                key = e.args[1]
                info = self.map_info(m)
                multi = info.key is not None and len(info.key) > 1
                m.keys = key.items if isinstance(key, ast.Tuple) and multi else [key]
                e.args = [m]
            elif not m.keys and self.map_info(m).key:
                raise self.error("call to delete() with a single argument expects a map "
                                 "without explicit keys (scalar map)", e.span)
            self.map_keys(m, self.map_info(m))
            return BOOL
        if name == "has_key":
            self.nargs(e, 2)
            m = e.args[0]
            if not isinstance(m, ast.Map) or m.keys:
                raise self.error("Call to has_key() has arguments that do not match any "
                                 "definition.", e.span)
            keys = e.args[1].items if isinstance(e.args[1], ast.Tuple) else [e.args[1]]
            probe_map = ast.Map(m.span, m.name, keys)
            self.map_keys(probe_map, self.map_info(m))
            return BOOL
        if name == "len":
            self.nargs(e, 1)
            m = e.args[0]
            if not isinstance(m, ast.Map) or m.keys:
                raise self.error("len() expects a map argument", m.span)
            info = self.map_info(m)
            if info.key == [] or (info.key is None and self.final):
                raise self.error("call to len() expects a map with explicit keys "
                                 "(non-scalar map)", e.span)
            info.used_len = True
            return INT64
        if name == "exit":
            self.nargs(e, 0, 1)
            self.int_args(e, e.args, "int")
            return VOID
        if name == "str":
            self.nargs(e, 1, 2)
            t = self.expr(e.args[0])
            if len(e.args) == 2:
                self.int_args(e, e.args[1:], "int")
            arg = e.args[0]
            if isinstance(arg, ast.Binary) and arg.op == "+" and isinstance(arg.left, ast.Param):
                arg = arg.left  # str($1 + n): the parameter from its n-th byte
            if isinstance(arg, ast.Param):
                return StringType(self.max_strlen)
            if isinstance(t, StringType):
                return t
            self.require_int(e.args[0], "str() argument")
            return StringType(self.max_strlen)
        if name in ("kstack", "ustack", "dw_ustack"):
            if name == "dw_ustack":
                self.dw_ustack_span = self.dw_ustack_span or e.span
            return self.stack(e)
        if name in ("ksym", "usym"):
            self.nargs(e, 1)
            self.expr(e.args[0])
            self.require_int(e.args[0], f"{name}() argument")
            return SymType(name == "usym")
        if name == "kaddr":
            self.nargs(e, 1)
            if not isinstance(e.args[0], ast.Str):
                raise self.error("kaddr() expects a string literal", e.span)
            if e.args[0].value not in self.result.kaddrs:
                self.result.kaddrs.append(e.args[0].value)
            return UINT64
        if name in DATA_FUNCTIONS:
            return self.data_call(e)
        if name in STRING_FUNCTIONS:
            return self.string_call(e)
        if name == "getopt":
            return self.getopt_call(e)
        if name in COMPTIME_FUNCTIONS:
            return self.comptime_call(e)
        if name == "strcontains":
            self.nargs(e, 2)
            for a in e.args:
                if not isinstance(self.expr(a), StringType):
                    raise self.error("strcontains() expects string arguments", a.span)
            return BOOL
        if name == "strncmp":
            self.nargs(e, 3)
            for a in e.args[:2]:
                t = self.expr(a)
                if not isinstance(t, StringType):
                    shown = "int" if isinstance(t, IntType) else t
                    raise self.error(f"strncmp() only supports string arguments ({shown} "
                                     "provided)", e.span)
            self.const_int(e.args[2], "strncmp() length")
            return INT64
        return self.stdlib_call(e)

    def stdlib_call(self, e: ast.Call) -> Type:  # noqa: C901 - one dispatch over functions
        """time, strftime, join, strerror, bswap, assert: the rest of bpftrace's stdlib."""
        name = e.name
        if name == "time":
            self.nargs(e, 0, 1)
            if e.args:
                self.literal_arg(e, e.args[0])
            return VOID
        if name == "strftime":
            self.nargs(e, 2)
            self.literal_arg(e, e.args[0])
            self.int_args(e, e.args[1:], "int")
            ts = e.args[1]
            if (isinstance(ts, ast.Int) and ts.value < 0) or (
                    isinstance(ts, ast.Unary) and ts.op == "-" and isinstance(ts.operand, ast.Int)):
                raise self.error("strftime() does not accept negative timestamps", e.span)
            clock = self.clock_of(ts) or "boot"
            if clock == "monotonic":
                raise self.error("strftime() can not take a monotonic timestamp", e.span)
            return FormattedInt(kind="timestamp", fmt=e.args[0].value,  # type: ignore[attr-defined]
                                clock="tai" if clock == "sw_tai" else clock)
        if name == "join":
            self.nargs(e, 1, 2)
            t = self.expr(e.args[0])
            if not isinstance(t, IntType) or isinstance(t, FormattedInt):
                shown = "string" if isinstance(t, StringType) else t
                raise self.error(f"join() only supports int or pointer arguments ({shown} "
                                 "provided)", e.span)
            if len(e.args) > 1:
                self.literal_arg(e, e.args[1])
            return VOID
        if name == "strerror":
            self.no_matching_definition(e, 1)
            self.int_args(e, e.args)
            return StringType(DEFAULT_STRLEN)
        if name == "bswap":
            self.nargs(e, 1)
            self.int_args(e, e.args)
            t = e.args[0].type
            assert isinstance(t, IntType)
            return IntType(_literal_bits(e.args[0]) or t.bits, False)
        if name == "assert":
            self.no_matching_definition(e, 2)
            self.expr(e.args[0])
            self.require_int(e.args[0], "assert() condition")
            self.literal_arg(e, e.args[1])
            return VOID
        if name in CALLABLE_BUILTINS:
            self.no_matching_definition(e, 0)
        if name in TASK_ACCESSORS:  # more than one argument (others are rewritten)
            self.no_matching_definition(e, 1)
        raise self.error(f"Unknown function: '{name}'", e.span)

    def literal_arg(self, e: ast.Call, arg: ast.Expr) -> None:
        """An argument that must be a string literal (a format, a separator)."""
        if not isinstance(arg, ast.Str):
            t = self.expr(arg)
            shown = "string" if isinstance(t, StringType) else t
            raise self.error(f"{e.name}() expects a string literal ({shown} provided)", e.span)

    def no_matching_definition(self, e: ast.Call, n: int) -> None:
        """bpftrace's message for a wrong argument count to a standard library macro."""
        if len(e.args) != n:
            raise self.error(f"Call to {e.name}() has arguments that do not match any "
                             "definition.", e.span)

    def tseries(self, e: ast.Call) -> AggType:
        """tseries(value, interval_ns, num_intervals[, mode]), checked as bpftrace does:
        the interval and count are positive literals, the mode one of TSERIES_MODES."""
        self.nargs(e, 3, 4)
        self.int_args(e, e.args[:1], "int")
        for a in e.args[1:]:
            self.expr(a)
        bounds = []
        for a, what in zip(e.args[1:3], ("interval_ns", "num_intervals")):
            if not isinstance(a, ast.Int):
                raise self.error(f"tseries: invalid {what} value (must be non-negative "
                                 "literal)", e.span)
            if a.value < 1:
                raise self.error(f"tseries() {what} must be >= 1 ({a.value} provided)",
                                 e.span)
            bounds.append(a.value)
        interval, n = bounds
        mode = ""
        if len(e.args) == 4:
            m = e.args[3]
            shown = f'"{m.value}"' if isinstance(m, ast.Str) else "not a string literal"
            if not isinstance(m, ast.Str) or m.value not in TSERIES_MODES:
                raise self.error("tseries() expects one of the following aggregation "
                                 f"functions: {', '.join(TSERIES_MODES)} ({shown} provided)",
                                 e.span)
            mode = m.value
        if n > TSERIES_MAX_INTERVALS:
            raise self.error(f"bt2c keeps at most {TSERIES_MAX_INTERVALS} intervals in a "
                             f"tseries() ({n} provided)", e.span)
        if self.tseries_span is None:
            self.tseries_span = e.span
        signed = e.args[0].type.signed  # type: ignore[union-attr]
        return AggType("tseries", signed, tseries=(interval, n, mode))

    def debugf_warning(self, e: ast.Call) -> None:
        """bpftrace warns once per debugf() call (on the first pass only)."""
        if not self.final:
            self.result.warnings.append(Warning(
                e.span, "The debugf() builtin is not recommended for production use. For "
                "more information see bpf_trace_printk in bpf-helpers(7).", "variables"))


#: The largest max_strlen bt2c takes: a probe's scratch memory is one per-CPU array
#: value, which the kernel limits to 32 KiB.
MAX_STRLEN_LIMIT = 16384


def max_strlen(program: ast.Program, source: Source) -> int:
    """bpftrace's max_strlen: $BPFTRACE_MAX_STRLEN, else ``config = { max_strlen = N }``,
    else 1024 (the environment wins over the script, as in bpftrace v0.27)."""
    env = os.environ.get("BPFTRACE_MAX_STRLEN")
    value: object = env if env is not None else program.config.get("max_strlen", 1024)
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise Bt2cError(f"max_strlen: expecting a number, got {value}", None, source)
        value = int(value)
    assert isinstance(value, int)
    if not 1 <= value <= MAX_STRLEN_LIMIT:
        raise Bt2cError(f"max_strlen: bt2c takes 1 to {MAX_STRLEN_LIMIT}, got {value}",
                        program.span, source)
    return value


def analyze(program: ast.Program, source: Source, unsafe: bool = False) -> Analysis:
    """Type-check a parsed program; ``unsafe`` allows system(), signal() and override(),
    as bpftrace's --unsafe does."""
    rewrite_task_accessors(program)
    return Analyzer(program, source, unsafe).run()
