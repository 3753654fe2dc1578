"""BPF-side code generation: probe bodies as C statements.

A visitor over the typed AST.  Expressions become C expressions; anything that
needs storage (strings, tuples, map keys) first emits statements into the
current block and yields the name of a temporary.  The C text of every
statement form lives in ``templates/bpf/snippets.c.j2``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from bt2c import ast
from bt2c.access import AccessGen, is_access
from bt2c.calls import CallGen
from bt2c.datagen import DataGen, space_mark
from bt2c.diagnostics import Bt2cError, Source
from bt2c.formats import c_string_literal
from bt2c.getopt import GetoptGen
from bt2c.resources import TSERIES_MODE_ENUM, MapRes, Resources, c_ident
from bt2c.semantic import Analysis, probetype
from bt2c.strgen import StringGen
from bt2c.targets import ProbeTarget
from bt2c.templating import snippets
from bt2c.types import (
    BYTES_TYPES,
    AggType,
    ArgsType,
    ArrayType,
    BufType,
    EnumType,
    IntType,
    PointerType,
    StackType,
    StringType,
    StructType,
    SymType,
    TupleType,
    Type,
)


@dataclass
class Function:
    """One emitted C function (a probe program or a loop callback)."""

    comment: str
    section: str | None
    signature: str
    lines: list[str] = field(default_factory=list)
    prologue: list[str] = field(default_factory=list)


@dataclass
class ProbeProgram:
    """A SEC() program and what the loader needs to attach it."""

    name: str
    target: ProbeTarget
    function: Function
    line: int
    strategy: str | None = None   # len() variant: kfunc, for_each or counter

    @property
    def attach_kind(self) -> str:
        """How the loader attaches it (enum bt_probe_kind in loader/support.c)."""
        provider = self.target.provider
        if provider in ("begin", "end"):
            return f"BT_PROBE_{provider.upper()}"
        if provider == "self":
            return "BT_PROBE_SIGNAL"
        if self.target.perf is not None:
            return "BT_PROBE_PERF"
        if provider in ("kprobe", "kretprobe"):
            return "BT_PROBE_KPROBE"
        if self.target.user is not None:
            return "BT_PROBE_USDT" if self.target.user.usdt else "BT_PROBE_UPROBE"
        return "BT_PROBE_AUTO"


#: Values larger than this many bytes live in the probe's per-CPU scratch map, not on
#: the 512-byte BPF stack; clang also expands only small memset/memcpy inline.
STACK_MAX = 128


def size_of(t: Type | None) -> int:
    """A value's size in bytes, 0 for types without storage."""
    try:
        return t.size if t is not None else 0
    except NotImplementedError:
        return 0


class Block:
    """An indented list of C lines under construction."""

    def __init__(self, indent: int):
        self.indent = indent
        self.lines: list[str] = []

    def add(self, text: str) -> None:
        for line in text.splitlines():
            self.lines.append(("\t" * self.indent + line) if line.strip() else "")


class ProbeGen(CallGen, AccessGen, DataGen, StringGen, GetoptGen):
    """Generates the C body of one probe for one attach target."""

    def __init__(self, gen: CodeGen, probe: ast.Probe, target: ProbeTarget, fname: str,
                 strategy: str | None = None):
        self.gen = gen
        self.strategy = strategy
        self.probe = probe
        self.target = target
        self.fname = fname
        self.s = snippets("bpf/snippets.c.j2")
        self.block = Block(1)
        self.temps = 0
        self.vars: dict[str, str] = {}
        self.var_types: dict[str, Type] = gen.analysis.variables[probe.index]
        self.taken: set[str] = set(gen.names)  # never shadow a map or a function
        self.prologue: list[str] = []
        self.builtins: dict[str, str] = {}
        self.in_callback: str | None = None   # name of the callback context pointer
        self.discard = False                  # the expression is a statement: result unused
        self.loop_depth = 0                   # C loops around the current statement
        self.callback_count = 0
        self.ctx_struct = ""                  # context struct of the outermost map loop
        self.scratch: list[str] = []          # members of the probe's scratch struct
        self.scratch_vars: set[str] = set()   # variables held in scratch memory

    # -- helpers ----------------------------------------------------------------
    def error(self, message: str, node: ast.Node) -> Bt2cError:
        return Bt2cError(message, node.span, self.gen.source)

    def temp(self, prefix: str = "t") -> str:
        self.temps += 1
        return f"{prefix}{self.temps}"

    def emit(self, text: str) -> None:
        self.block.add(text)

    def local(self, decl: str, name: str, size: int, zero: bool = True) -> str:
        """Storage for a temporary: on the stack (``decl`` declares ``name``), or, when
        larger than STACK_MAX, a member of the probe's per-CPU scratch struct. Returns
        the C lvalue; ``zero`` clears it first."""
        if size <= STACK_MAX:
            self.emit(f"{decl} = {{}};" if zero else f"{decl};")
            return name
        lvalue = self.scratch_member(decl, name)
        if zero:
            self.emit(self.zero(lvalue, size))
        return lvalue

    def scratch_member(self, decl: str, name: str) -> str:
        """Add ``decl`` to the probe's scratch struct and return it as ``sc->name``."""
        if "aligned" not in decl:
            decl += " __attribute__((aligned(8)))"
        self.scratch.append(decl + ";")
        return f"sc->{name}"

    @staticmethod
    def zero(lvalue: str, size: int) -> str:
        """Clear an object: clang expands a memset only when it is small."""
        if size <= STACK_MAX:
            return f"__builtin_memset(&{lvalue}, 0, sizeof({lvalue}));"
        return f"bt_clear(&{lvalue}, sizeof({lvalue}));"

    @staticmethod
    def copy(dst: str, src: str, size: int, n: str | int | None = None) -> str:
        """Copy ``n`` bytes (default: all of dst) between objects (dst and src are
        addresses); a large copy is one bpf_probe_read_kernel() (a kernel memcpy)."""
        whole = dst[1:] if dst.startswith("&") else f"*{dst}"
        count = f"sizeof({whole})" if n is None else str(n)
        if size <= STACK_MAX:
            return f"__builtin_memcpy({dst}, {src}, {count});"
        return f"bpf_probe_read_kernel({dst}, {count}, {src});"

    def nested(self, fn) -> list[str]:  # type: ignore[no-untyped-def]
        """Run ``fn`` with a fresh block one level deeper and return its lines."""
        outer = self.block
        self.block = Block(outer.indent + 1)
        try:
            fn()
            return self.block.lines
        finally:
            self.block = outer

    def line_of(self, node: ast.Node) -> int:
        return self.gen.source.position(node.span.start)[0]

    def place(self, node: ast.Node) -> str:
        """``line N`` of the script, or ``FILE line N`` for code from an imported file."""
        name = self.gen.source.name_at(node.span.start)
        line = self.line_of(node)
        return f"line {line}" if name == self.gen.source.name else f"{name} line {line}"

    def comment(self, node: ast.Node, prefix: str = "") -> None:
        """Name the script line (and the statement's own text) a block comes from."""
        text = self.gen.source.text[node.span.start:node.span.end].split("\n")[0].strip()
        text = prefix + text.replace("*/", "* /")
        if len(text) > 68:
            text = text[:65] + "..."
        self.emit(f"/* {self.place(node)}: {text} */")

    def len_idx(self, m: MapRes) -> int:
        """The map's slot in bt_len_counts, or -1 when len() is never used on it."""
        return m.index if m.info.used_len else -1

    def counted(self, m: MapRes, call: str) -> str:
        """``call`` returns 1 on a new key; count it when len() is used on the map."""
        if m.info.used_len:
            return f"if ({call})\n\tbt_len_inc({m.index});"
        return f"{call};"

    def var(self, name: str) -> str:
        if self.in_callback and name not in self.scratch_vars:
            return f"{self.in_callback}->{self.vars[name]}"
        return self.vars[name]

    # -- probe ------------------------------------------------------------------
    def generate(self) -> Function:
        zeroes = []
        for name, t in self.var_types.items():
            cname = c_ident(name[1:], self.taken)
            if size_of(t) > STACK_MAX:
                self.vars[name] = self.scratch_member(self.decl(t, cname), cname)
                self.scratch_vars.add(name)
                zeroes.append(self.zero(self.vars[name], size_of(t)))
                continue
            self.vars[name] = cname
            self.prologue.append(self.s.declare(self.decl(t, cname), self.zero_init(t)))
        self.prologue += zeroes
        saved = self.target.extra.get("saved_args")
        if saved is not None:
            self.emit(self.s.fexit_load(saved))
        if self.probe.predicate is not None:
            self.comment(self.probe.predicate, "predicate ")
            cond = self.expr(self.probe.predicate)
            self.emit(f"if (!({cond}))\n\treturn 0;")
        self.stmts(self.probe.body.stmts)
        self.emit("return 0;")
        t = self.target
        section, sig = self.gen.section(t, self.fname)
        fn = Function(f"{self.place(self.probe)}: {t.raw}", section, sig)
        fn.prologue = [("\t" + ln) for p in self.scratch_lookup("0") + self.prologue
                       for ln in p.splitlines()]
        fn.lines = self.block.lines
        return fn

    def scratch_lookup(self, fail: str) -> list[str]:
        """The prologue that finds this CPU's scratch struct (empty when not needed)."""
        if not self.scratch:
            return []
        self.gen.scratch[self.fname] = self.scratch
        return [self.s.scratch_lookup(self.fname, fail)]

    def decl(self, t: Type, name: str) -> str:
        if isinstance(t, TupleType):
            self.gen.res.tuple_struct(t)
        return t.c_decl(name)

    @staticmethod
    def zero_init(t: Type) -> str:
        return "0" if isinstance(t, IntType) else "{}"

    # -- statements -------------------------------------------------------------
    def stmts(self, stmts: list[ast.Stmt]) -> None:
        for st in stmts:
            self.stmt(st)

    def stmt(self, st: ast.Stmt) -> None:
        if isinstance(st, ast.Let):
            return  # every variable is declared at the top of its program
        if isinstance(st, ast.ExprStmt):
            if isinstance(st.expr, ast.Var):
                return
            self.comment(st)
            self.discard = True
            expr = st.expr
            if isinstance(expr, ast.IncDec) and not expr.prefix and \
                    isinstance(expr.target.type, PointerType):
                # `$p++;`: the value is unused, so it is `++$p` (one `+=`)
                expr = replace(expr, prefix=True)
                expr.type = st.expr.type
            value = self.expr(expr)
            self.discard = False
            if isinstance(st.expr, ast.Call) and st.expr.name == "delete":
                if value:
                    self.emit(f"{value};")
            elif isinstance(st.expr, ast.IncDec) and isinstance(st.expr.target, ast.Var):
                self.emit(f"{value.strip('()')};")
            elif value and not isinstance(st.expr, (ast.Call, ast.IncDec)):
                self.emit(f"(void){value};")
        elif isinstance(st, ast.Assign):
            self.comment(st)
            self.assign(st)
        elif isinstance(st, ast.If) and st.comptime:
            self.comment(st)
            for span in st.dropped:
                self.comment(ast.Node(span), "not compiled: ")
            self.stmts(st.then.stmts)   # the branch the compile-time condition took
        elif isinstance(st, ast.If):
            self.comment(st)
            cond = self.expr(st.cond)
            then = self.nested(lambda: self.stmts(st.then.stmts))
            self.emit(f"if ({cond}) {{")
            self.block.lines.extend(then)
            if st.other is not None:
                other = self.nested(lambda: self.stmts(st.other.stmts))  # type: ignore[union-attr]
                self.emit("} else {")
                self.block.lines.extend(other)
            self.emit("}")
        elif isinstance(st, ast.Unroll):
            self.comment(st)
            body = self.nested(lambda: self.stmts(st.body.stmts))
            self.emit(f"#pragma unroll\nfor (int u{self.temps} = 0; u{self.temps} < {st.count}; "
                      f"u{self.temps}++) {{")
            self.temps += 1
            self.block.lines.extend(body)
            self.emit("}")
        elif isinstance(st, ast.While):
            self.comment(st)
            pre = self.nested(lambda: self.emit(f"if (!({self.expr(st.cond)}))\n\tbreak;"))
            body = self.loop_body(st.body)
            self.emit("while (1) {")
            self.block.lines.extend(pre)
            self.block.lines.extend(body)
            self.emit("}")
        elif isinstance(st, ast.ForRange):
            self.comment(st)
            start, end = self.expr(st.start), self.expr(st.end)
            stop = self.temp("end")
            self.emit(f"__s64 {stop} = {end};")
            v = self.var(st.var.name)
            body = self.loop_body(st.body)
            self.emit(f"for ({v} = {start}; {v} < {stop}; {v}++) {{")
            self.block.lines.extend(body)
            self.emit("}")
        elif isinstance(st, ast.ForMap):
            self.comment(st)
            self.for_map(st)
        elif isinstance(st, ast.Jump):
            if st.kind == "return":
                value = "0"
                if st.value is not None:
                    self.comment(st)
                    value = self.expr(st.value)
                if self.in_callback:
                    self.emit(f"(void){value};\nreturn 1;" if st.value else "return 1;")
                else:
                    self.emit(f"return {value};")
            elif self.in_callback and self.loop_depth == 0:
                self.emit("return 1;" if st.kind == "break" else "return 0;")
            else:
                self.emit(f"{st.kind};")

    def loop_body(self, body: ast.Block) -> list[str]:
        """A C loop's body; break/continue inside it belong to that C loop."""
        self.loop_depth += 1
        try:
            lines = self.nested(lambda: self.stmts(body.stmts))
        finally:
            self.loop_depth -= 1
        # Only a body that calls a helper gets the latch: an asm statement also stops
        # clang from folding a simple loop away, which the verifier would then walk.
        if any(re.search(r"\b(bpf|bt)_\w+\(", line) for line in lines):
            lines.append("\t" * (self.block.indent + 1) + "bt_loop_latch();")
        return lines

    def for_map(self, st: ast.ForMap) -> None:
        m = self.gen.res.maps[st.map.name]
        self.gen.require("BPF_FUNC_for_each_map_elem", "5.13", "a for loop over a map",
                         self.line_of(st))
        self.callback_count += 1
        cb = f"{self.fname}_for_{self.callback_count}"
        # The callback sees the probe's scratch variables through a context struct,
        # copied in before the loop and back after it (the verifier cannot follow
        # pointers into another function's stack).
        # (Variables in scratch memory need no copy: the callback finds the same struct.)
        # A loop nested in a loop body passes its own context pointer on: the inner
        # callback works on the same struct, so nothing is copied.
        outer_callback = self.in_callback
        stack_vars = {n: cn for n, cn in self.vars.items() if n not in self.scratch_vars}
        if outer_callback is None:
            self.ctx_struct = f"{cb}_ctx"
            fields = [self.decl(self.var_types[n], cn) + ";" for n, cn in stack_vars.items()]
            self.gen.callbacks.append((self.ctx_struct, fields, None))
        ctx_struct = self.ctx_struct
        kv_t = self.var_types[st.var.name]
        assert isinstance(kv_t, TupleType)
        outer_block, outer_prologue = self.block, self.prologue
        self.block, self.prologue = Block(1), []
        self.in_callback = "c"
        outer_depth, self.loop_depth = self.loop_depth, 0
        kv = self.var(st.var.name)
        key_t, val_t = kv_t.elems
        if m.scalar or (len(m.info.key or []) == 1 and isinstance(key_t, IntType)):
            self.emit(f"{kv}.f0 = *key;")
        elif len(m.info.key or []) == 1:
            self.emit(self.copy(f"&{kv}.f0", "&key->k0", size_of(key_t)))
        else:
            self.emit(self.copy(f"&{kv}.f0", "key", size_of(key_t)))
        if isinstance(val_t, IntType):
            self.emit(f"{kv}.f1 = *(__s64 *)value;" if m.agg is None or m.agg.kind in
                      ("count", "sum") else f"{kv}.f1 = ((__s64 *)value)[0];")
        else:
            self.emit(self.copy(f"&{kv}.f1", "value", size_of(val_t)))
        self.stmts(st.body.stmts)
        self.emit("return 0;")
        body = self.block.lines
        prologue = ["\t" + ln for p in self.scratch_lookup("1") for ln in p.splitlines()]
        self.in_callback = outer_callback
        self.loop_depth = outer_depth
        self.block, self.prologue = outer_block, outer_prologue
        self.gen.callbacks.append((ctx_struct, None, Function(
            f"line {self.line_of(st)}: body of for ({st.var.name} : {st.map.name})", None,
            f"static long {cb}(struct bpf_map *map, {m.key_c} *key, void *value, "
            f"struct {ctx_struct} *c)", body, prologue)))
        if outer_callback is not None:
            self.emit(f"bpf_for_each_map_elem(&{m.cname}, {cb}, {outer_callback}, 0);")
            return
        cvar = self.temp("loop")
        self.emit(f"struct {ctx_struct} {cvar};")
        for _n, cn in stack_vars.items():
            self.emit(f"__builtin_memcpy(&{cvar}.{cn}, &{cn}, sizeof({cn}));")
        self.emit(f"bpf_for_each_map_elem(&{m.cname}, {cb}, &{cvar}, 0);")
        for _n, cn in stack_vars.items():
            self.emit(f"__builtin_memcpy(&{cn}, &{cvar}.{cn}, sizeof({cn}));")

    def assign(self, st: ast.Assign) -> None:
        target = st.target
        if isinstance(target, ast.Var):
            dst = self.var(target.name)
            t = self.var_types[target.name]
            if st.op is not None:
                value = self.expr(st.value)
                self.emit(self.compound(dst, st.op, value, t))
                return
            self.store(dst, t, st.value)
            return
        assert isinstance(target, ast.Map)
        m = self.gen.res.maps[target.name]
        value = st.value
        while isinstance(value, ast.BlockExpr) and isinstance(value.type, AggType):
            # `@m = { ...; avg($x) }`: the block's statements, then the aggregation
            self.stmts(value.body)
            assert value.value is not None
            self.comment(value.block.stmts[-1])
            value = value.value
        if isinstance(value, ast.Call) and isinstance(value.type, AggType):
            self.aggregate(m, target, value)
            return
        key = self.map_key(m, target)
        if st.op is not None:
            rhs = self.expr(value)
            if m.agg is not None:
                raise self.error("compound assignment to an aggregation map", st)
            old = self.temp()
            if st.op in ("+", "-") and (step := self.pointer_step(m.info.value)) != 1:
                rhs = f"({rhs}) * {step}"
            self.emit(f"{m.value_c} {old} = bt_map_read(&{m.cname}, &{key});")
            self.emit(self.compound(old, st.op, rhs, m.info.value))  # type: ignore[arg-type]
            self.emit(self.s.map_update(m.cname, key, old, self.len_idx(m)))
            return
        if m.agg is not None:
            raise self.error("cannot assign a plain value to an aggregation map", st)
        tmp = self.temp("val")
        t = m.info.value
        assert t is not None
        if isinstance(t, StringType):
            tmp = self.local(f"{m.value_c} {tmp}", tmp, t.size)
            self.store(f"{tmp}.value", t, value)
        elif isinstance(t, IntType):
            self.emit(f"{self.decl(t, tmp)} = {self.expr(value)};")
        else:
            tmp = self.local(self.decl(t, tmp), tmp, size_of(t))
            self.store(tmp, t, value)
        self.emit(self.s.map_update(m.cname, key, tmp, self.len_idx(m)))

    @staticmethod
    def pointer_step(t: Type | None) -> int:
        """What ``+ 1`` adds to a map value of type ``t``: a pointer's pointee size, as
        in C (1 for ``void *`` and integers)."""
        if isinstance(t, PointerType) and t.target is not None:
            return size_of(t.target)
        return 1

    @staticmethod
    def compound(dst: str, op: str, value: str, t: Type) -> str:
        """``dst op= value`` in C, with division through the portable helpers."""
        if op in ("/", "%"):
            sign = "s" if isinstance(t, IntType) and t.signed else "u"
            return f"{dst} = bt_{sign}{'div' if op == '/' else 'mod'}({dst}, {value});"
        return f"{dst} {op}= {value};"

    def store(self, dst: str, t: Type, value: ast.Expr) -> None:
        """Copy the value of ``value`` into the C lvalue ``dst`` of type ``t``."""
        if isinstance(t, IntType):
            self.emit(self.s.assign(dst, self.expr(value)))
            return
        if isinstance(t, StringType) and self.read_str_into(dst, t, value):
            return
        self.copy_into(dst, t, self.expr(value), value.type)

    def copy_into(self, dst: str, t: Type, src: str, vt: Type | None) -> None:
        """Copy the C value ``src`` of type ``vt`` into ``dst`` of type ``t`` (strings and
        tuples may be narrower than ``dst``: the rest is zeroed)."""
        if isinstance(t, IntType):
            self.emit(self.s.assign(dst, src))
            return
        if isinstance(t, (StackType, SymType)):
            self.emit(self.s.copy(dst, src))
            return
        if isinstance(t, StringType):
            assert isinstance(vt, StringType)
            n = min(t.length, vt.length)
            if n < t.length:
                self.emit(self.zero(dst, t.size))
            if n <= STACK_MAX:
                self.emit(self.s.copy_str(dst, f"(const void *){src}", n))
            else:
                self.emit(self.copy(dst, src, n, n))
            return
        if isinstance(t, BYTES_TYPES):
            n = min(t.size, vt.size) if vt is not None else t.size
            self.emit(self.copy(dst, src, n, n))
            return
        assert isinstance(t, TupleType) and isinstance(vt, TupleType)
        if vt == t:
            self.emit(self.copy(f"&{dst}", f"&{src}", t.size))
            return
        self.emit(self.zero(dst, t.size))
        for i, (et, vet) in enumerate(zip(t.elems, vt.elems)):
            if isinstance(et, IntType):
                self.emit(f"{dst}.f{i} = {src}.f{i};")
            elif isinstance(et, TupleType) and et != vet:
                self.copy_into(f"{dst}.f{i}", et, f"{src}.f{i}", vet)
            else:
                n = min(et.size, vet.size)
                self.emit(self.copy(f"&{dst}.f{i}", f"&{src}.f{i}", n, n))

    def aggregate(self, m: MapRes, target: ast.Map, call: ast.Call) -> None:
        agg = call.type
        assert isinstance(agg, AggType)
        if m.agg is None or m.agg.kind != agg.kind:
            raise self.error(f"map {target.name} mixes aggregation kinds", call)
        key = self.map_key(m, target)
        if agg.kind == "count":
            self.emit(self.counted(m, self.s.map_add(m.cname, key, "1")))
            return
        value = self.expr(call.args[0])
        if agg.kind == "sum":
            code = self.s.map_add(m.cname, key, value)
        elif agg.kind in ("min", "max"):
            code = self.s.map_minmax(m.cname, key, value, agg.kind == "max")
        elif agg.kind in ("avg", "stats"):
            code = self.s.map_avg(m.cname, key, value)
        elif agg.kind == "hist":
            code = self.s.map_bucket(m.cname, key, f"bt_hist_index({value}, {agg.hist_bits})")
        elif agg.kind == "tseries":
            interval, n, mode = agg.tseries
            code = self.s.map_tseries(m.cname, key, value, self.tseries_now(), interval, n,
                                      TSERIES_MODE_ENUM[mode], agg.signed)
        else:
            lo, hi, step = agg.lhist
            code = self.s.map_bucket(m.cname, key,
                                     f"bt_lhist_index({value}, {lo}, {hi}, {step})")
        self.emit(self.counted(m, code))

    def tseries_now(self) -> str:
        """tseries()'s time: TAI (bpftrace's sw_tai clock), or, for tests, the value of the
        map BPFTRACE_DUMMY_TS_MAP named when the tool was built (as in bpftrace)."""
        clock = self.gen.res.tseries_clock
        if clock is None:
            return "(bpf_ktime_get_boot_ns() + bt_tai_offset_ns)"
        key = self.temp("key")
        self.emit(f"__u32 {key} = 0;")
        return f"(__u64)bt_map_read(&{clock.cname}, &{key})"

    def map_key(self, m: MapRes, node: ast.Map) -> str:
        """Build the key of ``@m[...]`` in a temporary and return its name."""
        key = self.temp("key")
        keys = node.keys
        if m.key_size > 512:
            self.gen.require("bt_kernel_has_big_keys", "5.11",
                             f"a map key of {m.key_size} bytes (more than 512; a smaller "
                             "config max_strlen makes smaller keys)", self.line_of(node))
        if not keys:
            self.emit(f"__u32 {key} = 0;")
            return key
        if m.key_struct is None:
            self.emit(f"{m.key_c} {key} = {self.expr(keys[0])};")
            return key
        if len(keys) == 1 and isinstance(keys[0].type, TupleType) and not keys[0].type.names:
            # A tuple key has the key struct's layout: copy it whole.
            tup = self.expr(keys[0])
            key = self.local(f"{m.key_c} {key}", key, m.key_size, zero=False)
            self.emit(self.zero(key, m.key_size))
            self.store_tuple_into_key(key, m, keys[0].type, tup)
            return key
        # str(ptr) and comm keys are read straight into the key: no copy through the
        # stack (for @[comm] that copy was a third of the program's instructions).
        values = [None if self.is_pointer_read(k) or self.is_comm(k) else self.expr(k)
                  for k in keys]
        key = self.local(f"{m.key_c} {key}", key, m.key_size, zero=False)
        self.emit(self.zero(key, m.key_size))
        for i, (k, v, kt) in enumerate(zip(keys, values, m.info.key or [])):
            dst = f"{key}.k{i}"
            if isinstance(kt, IntType):
                self.emit(f"{dst} = {v};")
            elif isinstance(kt, StringType):
                assert isinstance(k.type, StringType)
                if v is None and self.is_comm(k):
                    # The key is zeroed above: the bytes after comm's NUL compare equal.
                    self.emit(f"bpf_get_current_comm(&{dst}, {min(16, kt.length)});")
                    continue
                if v is None:
                    self.read_str_into(dst, kt, k)
                    continue
                n = min(kt.length, k.type.length)
                self.emit(self.s.copy_str(dst, f"(const void *){v}", n) if n <= STACK_MAX
                          else self.copy(dst, v, n, n))
            elif isinstance(kt, TupleType):
                self.copy_into(dst, kt, v, k.type)
            else:
                self.emit(self.copy(f"&{dst}", f"&{v}", size_of(kt)))
        return key

    @staticmethod
    def is_comm(e: ast.Expr) -> bool:
        """The ``comm`` builtin: bpf_get_current_comm() can write it into any buffer."""
        return isinstance(e, ast.Builtin) and e.name == "comm"

    @staticmethod
    def is_pointer_read(e: ast.Expr) -> bool:
        """``str(ptr)`` with one argument: a probe read that can target any buffer."""
        return (isinstance(e, ast.Call) and e.name == "str" and len(e.args) == 1
                and isinstance(e.args[0].type, IntType)
                and not isinstance(e.args[0], (ast.Param, ast.Binary)))

    def read_str_into(self, dst: str, t: StringType, value: ast.Expr) -> bool:
        """Emit ``str(ptr)`` as a read directly into ``dst``; False if not such a read."""
        if not self.is_pointer_read(value):
            return False
        assert isinstance(value, ast.Call)
        src = self.expr(value.args[0])
        user = self.read_space(value.args[0])
        self.emit(self.s.read_str(dst, f"sizeof({dst})", src, user,
                                  site=self.helper_site(value, "str", user)))
        return True

    def read_space(self, ptr: ast.Expr) -> bool:
        """Whether str() reads ``ptr`` from user memory: as uptr()/kptr() says, else as
        the probe's pointers are."""
        mark = space_mark(ptr)
        return self.user_memory() if mark is None else mark

    def user_memory(self) -> bool:
        """Whether pointers in this probe point to user memory (syscall arguments,
        user-space probes)."""
        if self.target.user is not None:
            return True
        return any(tp.user_pointers for tp in self.gen.tracepoints_of(self.probe))

    def store_tuple_into_key(self, key: str, m: MapRes, t: TupleType, src: str) -> None:
        """Copy tuple ``src`` member by member into multi-key struct ``key``."""
        for i, (et, kt) in enumerate(zip(t.elems, m.info.key or [])):
            if isinstance(kt, IntType):
                self.emit(f"{key}.k{i} = {src}.f{i};")
            else:
                n = min(et.size, kt.size)
                self.emit(self.copy(f"&{key}.k{i}", f"&{src}.f{i}", n, n))

    # -- expressions ----------------------------------------------------------
    def expr(self, e: ast.Expr) -> str:  # noqa: C901 - one dispatch over node kinds
        t = e.type
        if isinstance(e, ast.BlockExpr):
            # The statements run first, where the expression is; the value is the last
            # expression's (variables are all declared at the top of the program).
            self.stmts(e.body)
            if e.value is None:
                return ""
            self.comment(e.block.stmts[-1])  # the value's own line (a macro's, say)
            return self.expr(e.value)
        if isinstance(e, ast.Int):
            if e.value >= 2**63:
                return f"{e.value}ULL"
            return f"{e.value}LL" if abs(e.value) >= 2**31 else str(e.value)
        if isinstance(e, ast.Str):
            assert isinstance(t, StringType)
            tmp = self.temp("str")
            self.emit(f"char {tmp}[{t.length}] = {c_string_literal(e.value)};")
            return tmp
        if isinstance(e, ast.Var):
            return self.var(e.name)
        if isinstance(e, ast.Param):
            if e.index == 0:
                return "bt_nparams"
            self.gen.max_param = max(self.gen.max_param, e.index)
            return f"bt_param[{e.index - 1}]"
        if isinstance(e, ast.Builtin):
            return self.builtin(e)
        if isinstance(e, ast.Map):
            return self.map_read(e)
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Index) and isinstance(e.expr.type, (TupleType, StringType)):
            return self.index_value(e)
        if is_access(e):
            return self.access(e)
        if isinstance(e, (ast.SizeOf, ast.OffsetOf)):
            return f"{e.value}ULL"
        if isinstance(e, ast.ContainerOf):
            return self.container_of(e)
        if isinstance(e, ast.Unary) and e.op == "&":
            assert isinstance(e.operand, ast.Var)
            return f"((__u64)&{self.var(e.operand.name)})"
        if isinstance(e, ast.Unary):
            inner = self.expr(e.operand)
            return f"({e.op}{inner})" if e.op != "!" else f"(!{inner})"
        if isinstance(e, ast.IncDec):
            return self.incdec(e)
        if isinstance(e, ast.Ternary):
            return self.ternary(e)
        if isinstance(e, ast.Tuple):
            assert isinstance(t, TupleType)
            tmp = self.temp("tup")
            tmp = self.local(self.decl(t, tmp), tmp, t.size)
            for i, (item, et) in enumerate(zip(e.items, t.elems)):
                self.store(f"{tmp}.f{i}", et, item)
            return tmp
        if isinstance(e, ast.Field):
            base_t = e.expr.type
            if isinstance(base_t, ArgsType):
                if self.in_callback:
                    raise self.error("args cannot be used inside a for loop over a map", e)
                if self.target.kargs is not None:
                    return self.typed_arg(e.name)
                return f"args->{e.name}"
            base = self.expr(e.expr)
            return f"{base}.f{e.name}"
        if isinstance(e, ast.Cast) and isinstance(e.expr.type, ArrayType):
            # an array reinterpreted as an integer of its size
            assert isinstance(t, IntType)
            src = self.expr(e.expr)
            tmp = self.temp("v")
            self.emit(f"{t.c_decl(tmp)} = 0;\n__builtin_memcpy(&{tmp}, {src}, sizeof({tmp}));")
            return tmp
        if isinstance(e, ast.Cast):
            assert isinstance(t, IntType)
            if isinstance(t, PointerType):
                inner = self.expr(e.expr)
                if isinstance(e.expr, ast.Unary) and e.expr.op == "&":
                    return inner  # already an address
                return f"((__u64){inner})"
            return f"(({t.c_name()}){self.expr(e.expr)})"
        if isinstance(e, ast.Call):
            return self.call(e)
        raise self.error("unsupported expression", e)

    def container_of(self, e: ast.ContainerOf) -> str:
        """The member's offset is relocated (CO-RE) for a kernel struct, so the tool
        follows the running kernel's layout; a script's own struct has a fixed one."""
        t = e.type
        assert isinstance(t, PointerType)
        st = t.target
        off = f"{e.value}ULL"
        if isinstance(st, StructType) and st.btf:
            off = f"bpf_core_field_offset({st.c_name()}, {'.'.join(e.fields)})"
        return f"((__u64){self.expr(e.ptr)} - {off})"

    def binary(self, e: ast.Binary) -> str:
        if isinstance(e.left.type, StringType):
            # A literal is compared in place (it lives in .rodata): no stack copy.
            a, b = (c_string_literal(side.value) if isinstance(side, ast.Str) else
                    self.expr(side) for side in (e.left, e.right))
            assert isinstance(e.right.type, StringType)
            n = min(e.left.type.length, e.right.type.length)
            eq = f"bt_streq({a}, {b}, {n})"
            return eq if e.op == "==" else f"(!{eq})"
        if isinstance(e.left.type, BufType):
            # buffers are equal when their lengths and that many bytes are
            self.gen.string_funcs.add("memcmp")
            assert isinstance(e.right.type, BufType)
            a, b = self.expr(e.left), self.expr(e.right)
            n = min(e.left.type.cap, e.right.type.cap)
            eq = (f"(*(__u32 *){a} == *(__u32 *){b} && "
                  f"!bt_memcmp({a} + 8, {b} + 8, *(__u32 *){a}, {n}))")
            return eq if e.op == "==" else f"(!{eq})"
        if e.op in ("&&", "||"):
            left = self.expr(e.left)
            right_lines: list[str] = []
            right = ""

            def gen_right() -> None:
                nonlocal right
                right = self.expr(e.right)

            right_lines = self.nested(gen_right)
            if not right_lines:
                return f"({left} {e.op} {right})"
            tmp = self.temp()
            self.emit(f"__u64 {tmp} = !!({left});")
            self.emit(f"if ({'' if e.op == '&&' else '!'}{tmp}) {{")
            self.block.lines.extend(right_lines)
            self.emit(f"\t{tmp} = !!({right});\n}}")
            return tmp
        left, right = self.expr(e.left), self.expr(e.right)
        if isinstance(e.left, ast.Int) and not left.endswith("L"):
            left += "LL"  # bpftrace integers are 64-bit: 1 << 40 must not overflow an int
        if e.op in ("/", "%"):
            # Signed division needs BPF ISA v4 (Linux 6.6); bt_sdiv/bt_smod work everywhere.
            # Division by zero gives 0, the BPF instruction's own result.
            if e.type.signed:  # type: ignore[union-attr]
                return f"bt_s{'div' if e.op == '/' else 'mod'}({left}, {right})"
            return f"bt_u{'div' if e.op == '/' else 'mod'}({left}, {right})"
        t = e.type
        if isinstance(t, PointerType) and t.target is not None and t.target.size != 1:
            # pointer arithmetic counts elements: scale the integer side
            if isinstance(e.left.type, PointerType):
                right = f"({right}) * {t.target.size}"
            else:
                left = f"({left}) * {t.target.size}"
        # 64-bit C arithmetic already has bpftrace's rule: unsigned if either side is.
        return f"({left} {e.op} {right})"

    def index_value(self, e: ast.Index) -> str:
        """``$t[N]`` of a tuple (N folded to a constant) and ``$s[i]`` of a string: a char,
        0 past the end of the string's buffer."""
        base = self.expr(e.expr)
        if isinstance(e.expr.type, TupleType):
            assert isinstance(e.index, ast.Int)
            return f"{base}.f{e.index.value}"
        assert isinstance(e.expr.type, StringType)
        if isinstance(e.index, ast.Int):
            return f"((__s8){base}[{e.index.value}])"
        idx = self.temp("i")
        self.emit(f"__u64 {idx} = {self.expr(e.index)};")
        return f"({idx} < {e.expr.type.length} ? (__s8){base}[{idx}] : 0)"

    def ternary(self, e: ast.Ternary) -> str:
        t = e.type
        assert t is not None
        cond = self.expr(e.cond)
        if e.elvis:
            # `a ?: b`: a is evaluated once, into a temporary unless it is a plain name
            assert isinstance(t, IntType)
            if not cond.isidentifier():
                tmp = self.temp()
                self.emit(f"{t.c_name()} {tmp} = {cond};")
                cond = tmp
            else_lines: list[str] = []
            other = ""

            def gen_other() -> None:
                nonlocal other
                other = self.expr(e.other)

            else_lines = self.nested(gen_other)
            if not else_lines:
                return f"({cond} ? {cond} : {other})"
            res = self.temp()
            self.emit(f"{t.c_name()} {res} = {cond};")
            self.emit(f"if (!{res}) {{")
            self.block.lines.extend(else_lines)
            self.emit(f"\t{res} = {other};\n}}")
            return res
        if isinstance(t, IntType):
            parts: list[str] = []
            lines = self.nested(lambda: parts.extend([self.expr(e.then), self.expr(e.other)]))
            if not lines:
                return f"({cond} ? {parts[0]} : {parts[1]})"
        tmp = self.temp()
        tmp = self.local(self.decl(t, tmp), tmp, size_of(t))
        then = self.nested(lambda: self.store(tmp, t, e.then))
        other = self.nested(lambda: self.store(tmp, t, e.other))
        self.emit(f"if ({cond}) {{")
        self.block.lines.extend(then)
        self.emit("} else {")
        self.block.lines.extend(other)
        self.emit("}")
        return tmp

    def incdec(self, e: ast.IncDec) -> str:
        delta = "1" if e.op == "++" else "-1"
        if isinstance(e.target, ast.Var):
            v = self.var(e.target.name)
            t = e.target.type
            if isinstance(t, PointerType) and t.target is not None and t.target.size != 1:
                # pointer arithmetic steps over whole elements, as in C
                step = f"{'+' if e.op == '++' else '-'}= {t.target.size}"
                if e.prefix:
                    return f"({v} {step})"
                return f"(({v} {step}) - ({delta} * {t.target.size}))"
            return f"({e.op}{v})" if e.prefix else f"({v}{e.op})"
        assert isinstance(e.target, ast.Map)
        m = self.gen.res.maps[e.target.name]
        key = self.map_key(m, e.target)
        tmp = self.temp()
        if m.agg is not None:
            raise self.error("++/-- on an aggregation map", e)
        step = self.pointer_step(m.info.value)
        if step != 1:
            delta = f"{'' if e.op == '++' else '-'}{step}"
        self.emit(f"__s64 {tmp} = bt_map_incr(&{m.cname}, &{key}, {delta}, {self.len_idx(m)});")
        return tmp if e.prefix else f"({tmp} - ({delta}))"

    def map_read(self, e: ast.Map) -> str:
        m = self.gen.res.maps[e.name]
        key = self.map_key(m, e)
        t = e.type
        if m.agg is not None:
            if m.agg.kind in ("count", "sum", "min", "max", "avg"):
                self.gen.require("BPF_FUNC_map_lookup_percpu_elem", "5.19",
                                 f"reading a {m.agg.kind}() map in an expression",
                                 self.line_of(e))
            if m.agg.kind in ("count", "sum"):
                return f"bt_map_read_percpu(&{m.cname}, &{key})"
            if m.agg.kind in ("min", "max"):
                self.gen.uses_agg_read = True
                return f"bt_map_read_minmax(&{m.cname}, &{key}, {int(m.agg.kind == 'max')})"
            if m.agg.kind == "avg":
                self.gen.uses_agg_read = True
                return f"bt_map_read_avg(&{m.cname}, &{key}, {int(m.agg.signed)})"
            raise self.error(f"reading a {m.agg.kind}() map in an expression is not supported",
                             e)
        if isinstance(t, IntType):
            return f"bt_map_read(&{m.cname}, &{key})"
        tmp = self.temp("val")
        assert t is not None
        size = size_of(t) if not isinstance(t, StringType) else (t.size + 7) // 8 * 8
        decl = f"{m.value_c} {tmp}" if isinstance(t, StringType) else self.decl(t, tmp)
        tmp = self.local(decl, tmp, size, zero=False)
        self.emit(self.s.map_read_copy(m.cname, key, tmp, size > STACK_MAX))
        return f"{tmp}.value" if isinstance(t, StringType) else tmp

    def builtin(self, e: ast.Builtin) -> str:
        name = e.name
        if name in ("true", "false"):
            return "1" if name == "true" else "0"
        if name == "default_str_length":
            return f"{self.gen.analysis.max_strlen}ULL"
        simple = {
            "pid": "(bpf_get_current_pid_tgid() >> 32)",
            "tid": "((__u32)bpf_get_current_pid_tgid())",
            "uid": "((__u32)bpf_get_current_uid_gid())",
            "gid": "(bpf_get_current_uid_gid() >> 32)",
            "cpu": "bpf_get_smp_processor_id()",
            "nsecs": "bpf_ktime_get_boot_ns()",
            "elapsed": "(bpf_ktime_get_boot_ns() - bt_start_ns)",
            "cpid": "bt_cpid",
            "rand": "bpf_get_prandom_u32()",
            "numaid": "bpf_get_numa_node_id()",
            "curtask": "bpf_get_current_task()",
            "jiffies": "bpf_jiffies64()",
            "ncpus": "((__u64)bt_ncpus)",
            "username": "((__u32)bpf_get_current_uid_gid())",
            "cgroup": "bpf_get_current_cgroup_id()",
        }
        if name == "cgroup":
            self.gen.require("BPF_FUNC_get_current_cgroup_id", "4.18", "cgroup",
                             self.line_of(e))
        if name == "func" and self.target.user is None:
            assert isinstance(e.type, StringType)
            tmp = self.temp("func")
            self.emit(f"char {tmp}[{e.type.length}] = {c_string_literal(self.target.func)};")
            return tmp
        if name in simple:
            return simple[name]
        if isinstance(e.type, EnumType):   # an enumerator: the script's or the kernel's
            found = self.gen.analysis.types.enumerator(name)
            assert found is not None
            return f"{found[1]}LL" if found[1] < 1 << 63 else f"{found[1]}ULL"
        if name == "usermode":
            return self.usermode()
        if name == "comm":
            tmp = self.temp("comm")
            # Zeroed first: older kernels leave the bytes after the NUL as they were,
            # and comm used as a map key must compare equal byte for byte.
            self.emit(f"char {tmp}[16] = {{}};\nbpf_get_current_comm(&{tmp}, sizeof({tmp}));")
            return tmp
        if self.target.user is not None and re.fullmatch(r"s?arg\d+|retval|func", name):
            return self.user_builtin(e)
        if re.fullmatch(r"arg\d+|retval", name):
            return self.regs_builtin(e)
        if name in ("kstack", "ustack", "dw_ustack"):
            assert isinstance(e.type, StackType)
            return self.stack(e.type, e)
        if name == "probe":
            assert isinstance(e.type, StringType)
            tmp = self.temp("probe")
            self.emit(f"char {tmp}[{e.type.length}] = {c_string_literal(self.target.name)};")
            return tmp
        if name == "probetype":
            assert isinstance(e.type, StringType)
            tmp = self.temp("probetype")
            text = c_string_literal(probetype(self.target))
            self.emit(f"char {tmp}[{e.type.length}] = {text};")
            return tmp
        raise self.error(f"builtin {name} is not supported here", e)

    def usermode(self) -> str:
        """Whether the probe interrupted user code: the saved registers' privilege level.

        Only probes whose context holds the interrupted registers can tell (kprobes,
        uprobes, profile, software and hardware events); everything else runs inside
        the kernel on the task's behalf, so it is 0 there.
        """
        if self.in_callback:
            return "0"
        t = self.target
        if t.perf is not None:
            self.gen.uses_regs = True
            # struct bpf_perf_event_data starts with the registers: no arch type needed
            return "bt_regs_usermode((void *)ctx)"
        if t.provider in ("kprobe", "kretprobe") or t.user is not None:
            self.gen.uses_regs = True
            return "bt_regs_usermode(ctx)"
        return "0"

    def user_builtin(self, e: ast.Builtin) -> str:
        """argN, sargN, retval, func of uprobe/uretprobe/usdt (regs.h, usdt.bpf.h)."""
        user = self.target.user
        assert user is not None
        if self.in_callback:
            raise self.error(f"{e.name} cannot be used inside a for loop over a map", e)
        if e.name == "func":
            assert isinstance(e.type, StringType)
            tmp = self.temp("func")
            self.emit(f"char {tmp}[{e.type.length}] = {c_string_literal(user.symbol)};")
            return tmp
        self.gen.uses_regs = True
        m = re.fullmatch(r"(s?)arg(\d+)", e.name)
        if m and user.usdt:
            return f"bt_usdt_arg(ctx, {m.group(2)})"
        if m:
            return f"bt_regs_{'s' if m.group(1) else ''}arg(ctx, {m.group(2)}, 1)"
        return "bt_regs_ret(ctx)"

    def regs_builtin(self, e: ast.Builtin) -> str:
        """argN / retval from the probe's context (registers, or raw tracepoint args)."""
        if self.in_callback:
            raise self.error(f"{e.name} cannot be used inside a for loop over a map", e)
        provider = self.target.provider
        if provider == "rawtracepoint":
            return f"ctx[{e.name[3:]}]"
        kret = self.target.kret
        if e.name == "retval" and provider == "fexit":
            assert kret is not None
            return f"(({kret.c_int})ctx[{len(self.target.kargs or ())}])"
        self.gen.uses_regs = True
        if e.name == "retval":
            if kret is not None:   # the kretprobe variant of an fexit probe
                return f"(({kret.c_int})bt_regs_ret(ctx))"
            return "bt_regs_ret(ctx)"
        user = 1 if provider in ("uprobe", "uretprobe") else 0
        return f"bt_regs_arg(ctx, {e.name[3:]}, {user})"

    def typed_arg(self, name: str) -> str:
        """args.NAME of a BTF-typed probe: fentry's u64 array, a raw tracepoint's
        args[], or (kprobe variant of an fentry probe) the argument registers."""
        found = self.target.karg(name)
        assert found is not None
        i, arg = found
        provider = self.target.provider
        if provider in ("fentry", "fexit"):
            src = f"ctx[{i}]"
        elif provider == "rawtracepoint":
            src = f"ctx[{i}]"
        elif self.target.extra.get("saved_args") is not None:
            src = f"saved.a[{i}]"
        else:
            self.gen.uses_regs = True
            src = f"bt_regs_arg(ctx, {i}, 0)"
        return f"(({arg.c_int}){src})"

    def ctx(self, node: ast.Node) -> str:
        """The program's context pointer (what bpf_get_stackid() needs)."""
        if self.in_callback:
            raise self.error("stacks cannot be taken inside a for loop over a map", node)
        _, sig = self.gen.section(self.target, self.fname)
        return sig.rsplit("*", 1)[1].rstrip(")").strip()

    def stack(self, t: StackType, node: ast.Node) -> str:
        """Take a stack: its id in the stack trace map of its depth (and the pid)."""
        self.gen.res.uses_symbols = True
        tmp = self.temp("stack")
        if t.limit <= 0:  # kstack(0): always the empty stack
            self.emit(f"struct bt_stack {tmp} = {{ .id = -1 }};")
            return tmp
        smap = self.gen.res.stack_map(t)
        ctx = self.ctx(node)
        if t.user:
            self.emit(f"struct bt_stack {tmp} = {{\n"
                      f"\t.id = bpf_get_stackid({ctx}, &{smap}, BPF_F_USER_STACK),\n"
                      f"\t.pid = bpf_get_current_pid_tgid() >> 32,\n}};")
        else:
            self.emit(f"struct bt_stack {tmp} = {{ .id = bpf_get_stackid({ctx}, &{smap}, 0) }};")
        return tmp

    # -- calls --------------------------------------------------------------------


class CodeGen:
    """Generates all BPF programs of an analysed script."""

    def __init__(self, analysis: Analysis, res: Resources, source: Source):
        self.analysis = analysis
        self.res = res
        self.source = source
        self.programs: list[ProbeProgram] = []
        # loop callbacks' context structs (fields, function None) and functions, in order
        self.callbacks: list[tuple[str, list[str] | None, Function | None]] = []
        self.scratch: dict[str, list[str]] = {}   # function name -> scratch struct members
        self.max_param = analysis.max_param
        self.uses_len = False
        self.uses_regs = False   # argN/retval from registers: include bpf/regs.h
        self.uses_strerror = False   # strerror(): the errno message table
        self.uses_agg_read = False   # min/max/avg maps read in an expression (agg_read.h)
        self.uses_sw_tai = False     # nsecs(sw_tai): the loader measures TAI - boot time
        #: strcontains() with a run-time needle: (haystack, needle) buffer sizes
        self.strstr_sizes: set[tuple[int, int]] = set()
        #: the string helpers used (templates/bpf/strings.h.j2 includes only these)
        self.string_funcs: set[str] = set()
        # -k: probe reads whose failure is reported, (helper, span) -> (index, helper,
        # FILE:LINE:COL-END, the script line, its underline)
        self.helper_sites: dict[tuple[str, int, int], tuple[int, str, str, str, str]] = {}
        self.fexit_entries: list[str] = []   # kprobes saving args for fexit's kretprobes
        self.fexit_nargs = 0
        self.len_sites: list[tuple[str, int]] = []   # (map, script line) of each len()
        # Kernel helpers the script cannot do without: (helper, Linux version, what, line)
        self.requirements: list[tuple[str, str, str, int]] = []
        # percpu_kaddr() variables and the script line of their first use: the loader
        # names it when the kernel cannot resolve the symbol
        self.ksym_lines: dict[str, int] = {}
        self.names: set[str] = {m.cname for m in res.maps.values()}

    def require(self, helper: str, version: str, what: str, line: int) -> None:
        """Record that the script needs ``helper`` (first use only): the loader checks it."""
        if all(r[0] != helper for r in self.requirements):
            self.requirements.append((helper, version, what, line))

    def tracepoints_of(self, probe: ast.Probe):  # type: ignore[no-untyped-def]
        return [t.tracepoint for t in self.analysis.targets[probe.index] if t.tracepoint]

    def section(self, t: ProbeTarget, fname: str) -> tuple[str, str]:
        """The SEC() name and C signature of a program for target ``t``."""
        if t.provider in ("begin", "end", "self"):
            # Run by the loader with BPF_PROG_TEST_RUN (self: on its signal).
            return "raw_tp", f"int {fname}(void *ctx)"
        if t.perf is not None:
            return "perf_event", f"int {fname}(struct bpf_perf_event_data *ctx)"
        if t.provider in ("fentry", "fexit"):
            return f"{t.provider}/{t.func}", f"int {fname}(__u64 *ctx)"
        if t.provider == "rawtracepoint":
            # The context is the event's arguments, one u64 each (BPF_PROG's view).
            return f"raw_tp/{t.func}", f"int {fname}(__u64 *ctx)"
        if t.provider in ("kprobe", "kretprobe"):
            # Attached by the loader (a module or an offset does not fit a SEC name).
            sec = t.provider if t.module or t.offset else f"{t.provider}/{t.func}"
            return sec, f"int {fname}(struct pt_regs *ctx)"
        if t.user is not None:
            # Attached by the loader (file, function and pid are known only there).
            return t.provider, f"int {fname}(struct pt_regs *ctx)"
        assert t.tracepoint is not None
        tp = t.tracepoint
        return (f"tp/{tp.category}/{tp.name}",
                f"int {fname}(struct tp_{tp.category}_{tp.name} *args)")

    def len_strategies(self) -> list[str]:
        """len() variants to emit: the kfunc needs a GPL-compatible license."""
        lic = str(self.analysis.program.config.get("license", "GPL"))
        gpl = lic in ("GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL",
                      "Dual MIT/GPL", "Dual MPL/GPL")
        return (["kfunc"] if gpl else []) + ["for_each", "counter"]

    def generate(self) -> None:
        for probe in self.analysis.program.probes:
            strategies: list[str | None] = [None]
            if uses_len(probe):
                strategies = list(self.len_strategies())
            for t in self.analysis.targets[probe.index]:
                base = {"begin": "begin", "end": "end"}.get(t.provider)
                if t.func:
                    base = f"{t.provider}_{t.func}"
                if base is None and t.user is not None:
                    u = t.user
                    base = f"{t.provider}_{u.usdt[1] if u.usdt else u.func or hex(u.offset)}"
                if base is None:
                    base = (t.tracepoint.name if t.tracepoint else
                            f"{t.provider}_{'_'.join(t.parts)}")
                for strategy in strategies:
                    suffix = f"__len_{strategy}" if strategy not in (None, "kfunc") else ""
                    fname = c_ident(f"handle_{base}{suffix}", self.names)
                    fn = ProbeGen(self, probe, t, fname, strategy).generate()
                    line = self.source.position(probe.span.start)[0]
                    self.programs.append(ProbeProgram(fname, t, fn, line, strategy))
                    fallback = kprobe_fallback(probe, t, fname)
                    if fallback is not None:
                        if fallback.extra.get("saved_args") is not None:
                            self.add_fexit_entry(fallback, fname, line)
                        kname = c_ident(f"{fname}__kprobe", self.names)
                        fn = ProbeGen(self, probe, fallback, kname, strategy).generate()
                        self.programs.append(ProbeProgram(kname, fallback, fn, line, strategy))

    def add_fexit_entry(self, ret: ProbeTarget, fexit_prog: str, line: int) -> None:
        """The kprobe that saves an fexit probe's arguments for its kretprobe twin."""
        index = len(self.fexit_entries)
        ret.extra["saved_args"] = index
        nargs = len(ret.kargs or ())
        self.fexit_nargs = max(self.fexit_nargs, nargs)
        name = c_ident(f"{fexit_prog}__entry", self.names)
        entry = ProbeTarget("kprobe", ret.parts, ret.raw, func=ret.func, fallback_for=fexit_prog,
                            extra={"entry_for": index})
        body = snippets("bpf/snippets.c.j2").fexit_save(index, nargs)
        fn = Function(f"line {line}: {ret.raw}: save the arguments for the kretprobe below",
                      f"kprobe/{ret.func}", f"int {name}(struct pt_regs *ctx)",
                      ["\t" + ln for ln in body.splitlines()])
        self.uses_regs = True
        self.fexit_entries.append(name)
        self.programs.append(ProbeProgram(name, entry, fn, line))


def kprobe_fallback(probe: ast.Probe, t: ProbeTarget, fentry_prog: str) -> ProbeTarget | None:
    """The kprobe/kretprobe twin of an fentry/fexit target, loaded where fentry cannot be
    (no BTF trampolines, a locked-down kernel), as libbpf-tools fall back."""
    if uses_call(probe, "path") or uses_call(probe, "socket_cookie"):
        # bpf_d_path() and the socket-pointer bpf_get_socket_cookie() exist for
        # fentry/fexit programs only: no twin
        return None
    if t.provider == "fentry":
        provider = "kprobe"
    elif t.provider == "fexit":
        provider = "kretprobe"
    else:
        return None
    # At return the argument registers are gone: a kprobe saves them at entry.
    extra: dict[str, object] = {"saved_args": -1} if uses_builtin(probe, "args") and \
        provider == "kretprobe" else {}
    return ProbeTarget(provider, t.parts, t.raw, wildcard=t.wildcard, func=t.func,
                       kargs=t.kargs, kret=t.kret, fallback_for=fentry_prog, extra=extra)


def uses_builtin(node: object, name: str) -> bool:
    """Whether a subtree reads builtin ``name``."""
    if isinstance(node, ast.Builtin):
        return node.name == name
    if isinstance(node, list):
        return any(uses_builtin(n, name) for n in node)
    if isinstance(node, ast.Node):
        return any(uses_builtin(getattr(node, f), name) for f in node.__dataclass_fields__
                   if f not in ("span", "type"))
    return False


def uses_call(node: object, name: str) -> bool:
    """Whether a subtree calls function ``name``."""
    if isinstance(node, ast.Call) and node.name == name:
        return True
    if isinstance(node, list):
        return any(uses_call(n, name) for n in node)
    if isinstance(node, ast.Node):
        return any(uses_call(getattr(node, f), name) for f in node.__dataclass_fields__
                   if f not in ("span", "type"))
    return False


def uses_len(node: object) -> bool:
    """Whether a subtree calls len() (its programs then come in variants)."""
    if isinstance(node, ast.Call) and node.name == "len":
        return True
    if isinstance(node, list):
        return any(uses_len(n) for n in node)
    if isinstance(node, ast.Node):
        return any(uses_len(getattr(node, f)) for f in node.__dataclass_fields__
                   if f not in ("span", "type"))
    return False
