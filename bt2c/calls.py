"""Code generation for bpftrace's functions: printf, print, exit, str, map commands.

Split from :mod:`bt2c.codegen` so that each file has one job: there, statements
and expressions; here, what each builtin function call becomes.  The methods
are mixed into :class:`bt2c.codegen.ProbeGen` and use its emitter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.datafuncs import DATA_FUNCTIONS
from bt2c.datagen import space_mark
from bt2c.diagnostics import quote
from bt2c.formats import c_string_literal, conversions
from bt2c.resources import CField, flat_fields
from bt2c.semantic import CALLABLE_BUILTINS, JOIN_ARGNUM, JOIN_ARGSIZE
from bt2c.strfuncs import STRING_FUNCTIONS
from bt2c.types import BufType, EnumType, FormattedInt, IntType, StackType, StringType, TupleType

if TYPE_CHECKING:
    from bt2c.codegen import ProbeGen


@dataclass(frozen=True)
class InPlace:
    """A printf argument written straight into the ring-buffer record."""

    kind: str          # "comm", "read" (str() of a pointer) or "buf" (buf(ptr, n))
    src: str = ""      # the pointer, for "read" and "buf"
    user: bool = False
    count: str = ""    # the byte count, for "buf"


class CallGen:
    """Function calls of a probe body (a mixin of ProbeGen)."""

    def call(self: ProbeGen, e: ast.Call) -> str:  # noqa: C901 - one dispatch over functions
        name = e.name
        res = self.gen.res
        line = self.line_of(e)
        if e.folded is not None:   # is_str(), kfunc_exist(), comptime ...: a constant
            return f"{e.folded}LL" if abs(e.folded) >= 2**31 else str(e.folded)
        if name == "static_assert":
            return ""   # checked when the script was compiled
        if name == "is_err":   # the kernel's IS_ERR(): the top 4095 addresses
            return f"((__u64)({self.expr(e.args[0])}) >= (__u64)-4095LL)"
        if name in CALLABLE_BUILTINS and not e.args:
            bare = ast.Builtin(e.span, name)
            bare.type = e.type
            return self.builtin(bare)
        if name == "debugf":
            return self.debugf(e)
        if name == "nsecs":
            return self.nsecs(e)
        if name in ("printf", "cat", "system", "errorf", "warnf"):
            fmt_node = e.args[0]
            assert isinstance(fmt_node, ast.Str)
            fmt, convs = conversions(fmt_node.value, {
                i: a.type for i, a in enumerate(e.args[1:]) if isinstance(a.type, IntType)
                and not isinstance(a.type, (FormattedInt, EnumType))})
            # String literals go straight into the loader's printf call and comm is
            # written in place: neither is copied through the stack.
            fields, values, nodes, literals = [], [], [], {}
            for i, a in enumerate(e.args[1:]):
                if isinstance(a, ast.Str):
                    literals[i] = c_string_literal(a.value)
                    continue
                if isinstance(a, ast.Builtin) and a.name == "comm":
                    values.append(InPlace("comm"))
                elif self.is_buf_read(a):
                    assert isinstance(a, ast.Call)
                    values.append(InPlace("buf", self.expr(a.args[0]),
                                          self.pointer_space(a.args[0]), self.expr(a.args[1])))
                elif self.is_pointer_read(a):
                    assert isinstance(a, ast.Call)
                    values.append(InPlace("read", self.expr(a.args[0]), self.read_space(a.args[0])))
                    # Read into the record, not the stack: room for bpftrace's full length.
                    fields.append(flat_fields(a.type, f"a{i}")[0])  # type: ignore[arg-type]
                    nodes.append(a)
                    continue
                else:
                    values.append(self.expr(a))
                fields.append(flat_fields(a.type, f"a{i}")[0])  # type: ignore[arg-type]
                nodes.append(a)
            # strftime(), username: text; an enum: its enumerator's name for %s
            formatted = {i: a.type for i, a in enumerate(e.args[1:])
                         if isinstance(a.type, FormattedInt) or (
                             isinstance(a.type, EnumType) and convs[i].conv == "s")}
            ev = res.add_event("printf", line, fields, site=e.span.start, fmt=fmt,
                               casts=[c.c_cast() for c in convs], literals=literals,
                               arg_types=[a.type for a in e.args[1:]],
                               sink=name, where=self.where(e), formatted=formatted,
                               convs=[c.conv for c in convs])
            self.send(ev.enum, ev.struct.name, fields, values, nodes)  # type: ignore[union-attr]
            return ""
        if name == "print":
            arg = e.args[0]
            if isinstance(arg, ast.Map) and not arg.keys:
                m = res.maps[arg.name]
                top = self.expr(e.args[1]) if len(e.args) > 1 else "0"
                div = self.expr(e.args[2]) if len(e.args) > 2 else "0"
                self.emit(self.s.event_simple("EVENT_PRINT_MAP", m.index, top, div))
                return ""
            value = self.expr(arg)
            fields = flat_fields(arg.type, "value")  # type: ignore[arg-type]
            if isinstance(arg.type, TupleType):
                res.tuple_struct(arg.type)
            ev = res.add_event("print", line, fields, site=e.span.start, value_type=arg.type)
            self.send(ev.enum, ev.struct.name, fields, [value], [arg])  # type: ignore[union-attr]
            return ""
        if name in ("clear", "zero"):
            m = res.maps[e.args[0].name]  # type: ignore[attr-defined]
            self.emit(self.s.event_simple(f"EVENT_{name.upper()}_MAP", m.index))
            return ""
        if name == "exit":
            code = self.expr(e.args[0]) if e.args else "0"
            self.emit(self.s.event_simple("EVENT_EXIT", code))
            return ""
        if name == "delete":
            mnode = e.args[0]
            assert isinstance(mnode, ast.Map)
            m = res.maps[mnode.name]
            key = self.map_key(m, mnode)
            call = f"bpf_map_delete_elem(&{m.cname}, &{key})"
            if m.info.used_len:  # keep len()'s last-resort counter right
                tmp = self.temp("deleted")
                self.emit(f"int {tmp} = {call} == 0;\nif ({tmp})\n\tbt_len_dec({m.index});")
                return "" if self.discard else tmp
            return call if self.discard else f"({call} == 0)"
        if name == "has_key":
            mnode = e.args[0]
            assert isinstance(mnode, ast.Map)
            keys = e.args[1].items if isinstance(e.args[1], ast.Tuple) else [e.args[1]]
            m = res.maps[mnode.name]
            key = self.map_key(m, ast.Map(mnode.span, mnode.name, keys))
            return f"(bpf_map_lookup_elem(&{m.cname}, &{key}) != NULL)"
        if name == "find":
            return self.find(e)
        if name == "write_user":
            return self.write_user(e)
        if name == "len":
            m = res.maps[e.args[0].name]  # type: ignore[attr-defined]
            self.gen.uses_len = True
            site = (m.info.name, line)
            if site not in self.gen.len_sites:
                self.gen.len_sites.append(site)
            if self.strategy == "counter":
                return f"bt_len_counter({m.index})"
            return f"bt_len_{self.strategy}(&{m.cname}, {m.index})"
        if name == "str":
            arg = e.args[0]
            t = e.type
            assert isinstance(t, StringType)
            offset = "0"
            if isinstance(arg, ast.Binary) and isinstance(arg.left, ast.Param):
                offset = self.expr(arg.right)
                arg = arg.left
            if isinstance(arg, ast.Param):
                self.gen.max_param = max(self.gen.max_param, arg.index)
                tmp = self.temp("str")
                tmp = self.local(f"char {tmp}[{t.length}]", tmp, t.length)
                limit = self.expr(e.args[1]) if len(e.args) > 1 else f"sizeof({tmp})"
                self.emit(f"bt_param_copy({tmp}, bt_param_str[{arg.index - 1}], {offset}, "
                          f"{limit}, sizeof({tmp}), sizeof(bt_param_str[0]));")
                return tmp
            src = self.expr(arg)
            if isinstance(arg.type, StringType) and len(e.args) == 1:
                return src
            tmp = self.temp("str")
            tmp = self.local(f"char {tmp}[{t.length}]", tmp, t.length)
            limit = self.expr(e.args[1]) if len(e.args) > 1 else None
            if limit is not None and isinstance(arg.type, StringType):
                self.emit(f"bt_str_prefix({tmp}, {src}, {limit}, sizeof({tmp}));")
                return tmp
            user = space_mark(arg)
            if user is None:
                user = any(tp.user_pointers for tp in self.gen.tracepoints_of(self.probe))
            self.emit(self.s.read_str(tmp, t.length, src, user,
                                      f"(__u32)({limit})" if limit else None,
                                      self.helper_site(e, "str", user)))
            return tmp
        if name in ("kstack", "ustack", "dw_ustack"):
            assert isinstance(e.type, StackType)
            return self.stack(e.type, e)
        if name in ("ksym", "usym"):
            res.uses_symbols = True
            addr = self.expr(e.args[0])
            tmp = self.temp("sym")
            pid = ", .pid = bpf_get_current_pid_tgid() >> 32" if name == "usym" else ""
            self.emit(f"struct bt_sym {tmp} = {{ .addr = {addr}{pid} }};")
            return tmp
        if name == "kaddr":
            res.uses_symbols = True
            sym = e.args[0].value  # type: ignore[attr-defined]
            return f"bt_kaddr[{self.gen.analysis.kaddrs.index(sym)}]"
        if name in DATA_FUNCTIONS:
            return self.data_call(e)
        if name in STRING_FUNCTIONS:
            return self.string_call(e)
        if name == "getopt":
            return self.getopt_value(e)
        if name == "strcontains":
            h, n = (c_string_literal(a.value) if isinstance(a, ast.Str) else self.expr(a)
                    for a in e.args)
            hl, nl = (a.type.length for a in e.args)  # type: ignore[union-attr]
            if isinstance(e.args[1], ast.Str):
                return f"bt_strcontains({h}, {hl}, {n}, {nl})"
            # A run-time needle: one bpf_loop() iteration per haystack position.
            self.gen.require("BPF_FUNC_loop", "5.17", "strcontains() with a needle that is "
                             "not a string literal", line)
            self.gen.strstr_sizes.add((hl, nl))
            return f"bt_strcontains_loop({h}, {hl}, {n}, bt_strstr_at_{hl}_{nl})"
        if name == "strncmp":
            a, b = self.expr(e.args[0]), self.expr(e.args[1])
            n = e.args[2].value  # type: ignore[attr-defined]
            return f"bt_strncmp({a}, {b}, {n})"
        return self.stdlib_call(e)

    def nsecs(self: ProbeGen, e: ast.Call) -> str:
        """nsecs(MODE): the clock's helper; sw_tai is boot time plus the TAI offset the
        loader measured at start (for kernels before 6.1, which lack the TAI helper)."""
        mode = e.args[0].name if e.args else "boot"  # type: ignore[attr-defined]
        if mode == "monotonic":
            return "bpf_ktime_get_ns()"
        if mode == "tai":
            self.gen.require("BPF_FUNC_ktime_get_tai_ns", "6.1", "nsecs(tai)", self.line_of(e))
            return "bpf_ktime_get_tai_ns()"
        if mode == "sw_tai":
            self.gen.uses_sw_tai = True
            return "(bpf_ktime_get_boot_ns() + bt_tai_offset_ns)"
        return "bpf_ktime_get_boot_ns()"

    def stdlib_call(self: ProbeGen, e: ast.Call) -> str:
        """time, strftime, join, strerror, bswap, assert."""
        name = e.name
        res = self.gen.res
        line = self.line_of(e)
        if name == "time":
            fmt = e.args[0].value if e.args else "%H:%M:%S\n"  # type: ignore[attr-defined]
            ev = res.add_event("time", line, [], site=e.span.start, fmt=fmt)
            self.send(ev.enum, ev.struct.name, [], [], [])  # type: ignore[union-attr]
            return ""
        if name == "strftime":
            return f"((__u64)({self.expr(e.args[1])}))"
        if name == "join":
            sep = e.args[1].value if len(e.args) > 1 else " "  # type: ignore[attr-defined]
            fields = [CField("argv", f"char argv[{JOIN_ARGNUM}][{JOIN_ARGSIZE}]", "BT_KIND_BYTES",
                             JOIN_ARGNUM * JOIN_ARGSIZE, 0)]
            ev = res.add_event("join", line, fields, site=e.span.start, fmt=sep)
            self.emit(self.s.join_event(ev.struct.name, ev.enum,  # type: ignore[union-attr]
                                        self.expr(e.args[0]), self.user_memory(), JOIN_ARGNUM))
            return ""
        if name == "strerror":
            self.gen.uses_strerror = True
            tmp = self.temp("err")
            self.emit(f"char {tmp}[64];\nbt_strerror({tmp}, {self.expr(e.args[0])});")
            return tmp
        if name == "bswap":
            t = e.type
            assert isinstance(t, IntType)
            value = f"(({t.c_name()})({self.expr(e.args[0])}))"
            return value if t.bits == 8 else f"__builtin_bswap{t.bits}({value})"
        if name == "assert":
            # bpftrace's assert is a macro: errorf("assert failed: %s", msg); exit(1);
            cond = self.expr(e.args[0])
            msg = e.args[1]
            assert isinstance(msg, ast.Str)
            ev = res.add_event("printf", line, [], site=e.span.start,
                               fmt="assert failed: %s", casts=[""],
                               literals={0: c_string_literal(msg.value)}, sink="errorf",
                               where="stdlib/base.bt:6:5-37", expanded=self.expanded_from(e))
            body = self.nested(lambda: (
                self.send(ev.enum, ev.struct.name, [], [], []),  # type: ignore[union-attr]
                self.emit(self.s.event_simple("EVENT_EXIT", "1"))))
            self.emit(f"if (!({cond})) {{")
            self.block.lines.extend(body)
            self.emit("}")
            return ""
        raise self.error(f"function {name}() is not supported here", e)

    def find(self: ProbeGen, e: ast.Call) -> str:
        """find(@map, key, $var): one lookup; the value is copied into $var when found."""
        mnode, key_node, var = e.args
        assert isinstance(mnode, ast.Map) and isinstance(var, ast.Var)
        keys = key_node.items if isinstance(key_node, ast.Tuple) else [key_node]
        m = self.gen.res.maps[mnode.name]
        lookup = ast.Map(mnode.span, mnode.name, keys)
        key = self.map_key(m, lookup)
        found = self.temp("found")
        self.emit(f"{m.value_c} *{found} = bpf_map_lookup_elem(&{m.cname}, &{key});")
        t = self.var_types[var.name]
        vt = m.info.value
        if m.agg is not None:   # per-CPU: the value is the sum over the CPUs
            lookup.type = e.args[2].type
            src = self.map_read(lookup)
        else:
            src = f"{found}->value" if isinstance(vt, StringType) else f"(*{found})"
        body = self.nested(lambda: self.copy_into(self.var(var.name), t, src, vt))
        self.emit(f"if ({found}) {{")
        self.block.lines.extend(body)
        self.emit("}")
        return f"({found} != NULL)"

    def write_user(self: ProbeGen, e: ast.Call) -> str:
        """bpf_probe_write_user(): the length is clamped to the source's size, so the
        verifier sees a bounded length even when it is computed at run time."""
        dst, src, n = e.args
        t = src.type
        assert t is not None
        size = t.size
        ptr = self.expr(src)
        count = self.expr(n)
        if not isinstance(n, ast.Int):
            tmp = self.temp("len")
            self.emit(f"__u32 {tmp} = {count};")
            count = f"({tmp} < {size} ? {tmp} : {size})"
        return f"(bpf_probe_write_user((void *)({self.expr(dst)}), {ptr}, {count}) == 0)"

    def helper_site(self: ProbeGen, node: ast.Node, kind: str, user: bool) -> int:
        """Number a probe read for -k: the loader names the helper and the script's text."""
        helper = f"probe_read_{'user' if user else 'kernel'}" + ("_str" if kind == "str" else "")
        key = (helper, node.span.start, node.span.end)
        sites = self.gen.helper_sites
        if key not in sites:
            _, _, text, underline = quote(self.gen.source, node.span)
            sites[key] = (len(sites), helper, self.where(node), text, underline)
        return sites[key][0]

    def where(self: ProbeGen, e: ast.Node) -> str:
        """``FILE:LINE:COL-END``: where errorf()/warnf() report from, as bpftrace does."""
        line, col = self.gen.source.position(e.span.start)
        # The script's file name without its directory, as the tool's other messages
        # name it: the generated files do not depend on where the script was.
        name = PurePath(self.gen.source.name_at(e.span.start)).name
        return f"{name}:{line}:{col}-{col + e.span.end - e.span.start}"

    def expanded_from(self: ProbeGen, e: ast.Call) -> str:
        """bpftrace's second line of a failed assert: the call, quoted and underlined."""
        _, _, text, underline = quote(self.gen.source, e.span)
        return f"{self.where(e)}: ERROR: expanded from\n{text}\n{underline}\n"

    def debugf(self: ProbeGen, e: ast.Call) -> str:
        """debugf(): bpf_trace_printk, read from the kernel's trace_pipe (not the output)."""
        fmt = e.args[0]
        assert isinstance(fmt, ast.Str)
        args = [self.expr(a) for a in e.args[1:]]
        self.emit(f"bpf_printk({', '.join([c_string_literal(fmt.value), *args])});")
        return ""

    def send(self: ProbeGen, enum: str, struct: str, fields: list[CField],
             values: list[str | InPlace], nodes: list[ast.Expr]) -> None:
        """Reserve a ring-buffer record, fill its fields, submit it.

        comm and str(ptr) are written straight into the record (InPlace): no stack copy.
        """
        self.emit(self.s.event_begin(struct, enum))
        for f, v, n in zip(fields, values, nodes):
            dst = f"e->{f.name}"
            if isinstance(v, InPlace) and v.kind == "comm":
                self.emit(f"\t\tbpf_get_current_comm(&{dst}, sizeof({dst}));")
            elif isinstance(v, InPlace) and v.kind == "buf":
                assert isinstance(n.type, BufType)
                self.emit(f"\t\tbt_read_buf({dst}, {n.type.cap}, {v.count}, "
                          f"(const void *)({v.src}), {int(v.user)});")
            elif isinstance(v, InPlace):
                site = self.helper_site(n, "str", v.user)
                self.emit("\t\t" + self.s.read_str(dst, f"sizeof({dst})", v.src, v.user,
                                                  site=site))
            elif isinstance(n.type, IntType):
                self.emit(f"\t\te->{f.name} = {v};")
            elif isinstance(n.type, StringType):
                self.emit("\t\t" + self.copy(f"e->{f.name}", v, f.size, f"sizeof(e->{f.name})"))
            else:
                self.emit("\t\t" + self.copy(f"&e->{f.name}", f"&{v}", f.size))
        self.emit(self.s.event_end())
