"""Code generation for data access: ``->``, ``.``, ``*p``, ``a[i]`` on C types.

Kernel types (from BTF) are read with CO-RE: a chain such as
``curtask->real_parent->pid`` becomes one ``BPF_CORE_READ(task, real_parent, pid)``,
whose offsets libbpf relocates for the kernel the tool runs on; bitfields use
``BPF_CORE_READ_BITFIELD_PROBED``.  Types defined in the script have the fixed
layout the script gives them and are read at computed offsets with
``bpf_probe_read_user`` or ``bpf_probe_read_kernel``, by the pointer's address
space (user for syscall arguments and uprobes, as in bpftrace).

A mixin of :class:`bt2c.codegen.ProbeGen`, like :class:`bt2c.calls.CallGen`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.cdefs import FieldInfo
from bt2c.types import ArgsType, ArrayType, IntType, PointerType, StringType, StructType, Type

if TYPE_CHECKING:
    from bt2c.codegen import ProbeGen

#: BPF_CORE_READ takes at most this many accessors.
MAX_CORE_PATH = 9


@dataclass
class Loc:
    """Where a value of C type lives.

    ``core``: a kernel struct member reached from ``root`` (a pointer to ``struct``)
    through ``path``; ``addr``: the memory at address expression ``addr``;
    ``local``: bytes at ``addr`` in the program's own stack (a struct variable).
    """

    kind: str
    user: bool = False
    root: str = ""
    struct: str = ""
    path: list[str] = field(default_factory=list)
    addr: str = ""
    bitfield: FieldInfo | None = None


class AccessGen:
    """Reads through pointers and into structs (a mixin of ProbeGen)."""

    def access(self: ProbeGen, e: ast.Expr) -> str:
        """C expression (or temporary) holding the value of a data access ``e``."""
        loc = self.loc(e)
        t = e.type
        assert t is not None
        return self.read_loc(loc, t)

    # -- locations ----------------------------------------------------------------
    def loc(self: ProbeGen, e: ast.Expr) -> Loc:
        if isinstance(e, ast.Field) and isinstance(e.expr.type, ArgsType):
            return Loc("local", addr=f"(__u64){self.expr(e)}")   # args.saddr of a tracepoint
        if isinstance(e, ast.Field):
            base_t = e.expr.type
            if isinstance(base_t, PointerType):
                assert isinstance(base_t.target, StructType)
                return self.member_loc(self.pointer_loc(e.expr, base_t), base_t.target, e.name)
            assert isinstance(base_t, StructType)
            return self.member_loc(self.loc(e.expr), base_t, e.name)
        if isinstance(e, ast.Unary) and e.op == "*":
            pt = e.operand.type
            assert isinstance(pt, PointerType)
            return self.pointer_loc(e.operand, pt)
        if isinstance(e, ast.Index):
            base_t = e.expr.type
            idx = self.expr(e.index)
            if isinstance(base_t, ArrayType):
                base = self.loc(e.expr)
                if base.kind == "core":
                    return Loc("core", base.user, base.root, base.struct,
                               base.path[:-1] + [f"{base.path[-1]}[{idx}]"])
                return Loc(base.kind, base.user, addr=f"({base.addr} + ({idx}) * "
                           f"{base_t.elem.size})")
            assert isinstance(base_t, PointerType) and base_t.target is not None
            p = self.expr(e.expr)
            return self.pointer_loc_value(f"({p} + ({idx}) * {base_t.target.size})", base_t)
        if isinstance(e, ast.Var):
            return Loc("local", addr=f"(__u64){self.var(e.name)}")
        if isinstance(e, ast.Map):
            return Loc("local", addr=f"(__u64){self.expr(e)}")
        raise self.error("this expression has no address", e)

    def pointer_loc(self: ProbeGen, e: ast.Expr, pt: PointerType) -> Loc:
        """The object a pointer expression points to.

        A pointer read from a kernel struct continues the CO-RE chain it came from.
        """
        if isinstance(pt.target, StructType) and pt.target.btf and self.is_core_access(e):
            base = self.loc(e)
            if base.kind == "core" and base.bitfield is None and \
                    len(base.path) < MAX_CORE_PATH and base.user == pt.user:
                return Loc("core", pt.user, base.root, base.struct, base.path + [""])
        p = self.expr(e)
        if isinstance(pt.target, StructType) and pt.target.btf and self.reads_record(e):
            # BPF_CORE_READ relocates every member access in its argument, and the
            # tracepoint record's struct is not a kernel type: read the pointer first.
            tmp = self.temp("p")
            self.emit(f"__u64 {tmp} = {p};")
            p = tmp
        return self.pointer_loc_value(p, pt)

    def reads_record(self: ProbeGen, e: ast.Expr) -> bool:
        """Whether ``e`` reads a field of the tracepoint's record (``args->rqtp``)."""
        return self.target.tracepoint is not None and any(
            isinstance(n, ast.Field) and isinstance(n.expr.type, ArgsType) for n in ast.walk(e))

    def pointer_loc_value(self: ProbeGen, p: str, pt: PointerType) -> Loc:
        target = pt.target
        if isinstance(target, StructType) and target.btf:
            return Loc("core", pt.user, p, target.c_name(), [])
        return Loc("addr", pt.user, addr=p)

    @staticmethod
    def is_core_access(e: ast.Expr) -> bool:
        if isinstance(e, ast.Field):
            return isinstance(e.expr.type, (PointerType, StructType))
        return isinstance(e, ast.Index) and isinstance(e.expr.type, ArrayType)

    def member_loc(self: ProbeGen, base: Loc, st: StructType, name: str) -> Loc:
        f = self.gen.analysis.types.field(st, name)
        assert f is not None
        bitfield = f if f.bits else None
        if base.kind == "core":
            path = list(base.path)
            if path and path[-1]:
                path[-1] += "." + name
            elif path:
                path[-1] = name          # a new step through a pointer
            else:
                path = [name]
            return Loc("core", base.user, base.root, base.struct, path, bitfield=bitfield)
        addr = f"({base.addr} + {f.offset})" if f.offset else base.addr
        return Loc(base.kind, base.user, addr=addr, bitfield=bitfield)

    # -- reads --------------------------------------------------------------------
    def read_loc(self: ProbeGen, loc: Loc, t: Type) -> str:
        scalar = isinstance(t, IntType)
        if loc.kind == "core":
            if loc.bitfield is not None:
                return self.core_bitfield(loc)
            if scalar and loc.path:
                value = self.s.core_read(loc.struct, loc.root, loc.path, loc.user)
                return f"((__u64){value})" if isinstance(t, PointerType) else value
            tmp = self.temp("v")
            self.emit(f"{self.decl(t, tmp)} = {self.zero_init(t)};")
            if loc.path and not loc.path[-1] and isinstance(t, StructType):
                # *curtask->utask: the pointer at the end of the chain, then the whole
                # struct it points to (BPF_CORE_READ_INTO has no step for "all of it")
                ptr = self.temp("p")
                self.emit(self.s.core_step(ptr, loc.struct, loc.root, loc.path[:-1], loc.user))
                self.emit(self.s.core_read_into(tmp, t.c_name(), ptr, [], loc.user))
                return tmp
            self.emit(self.s.core_read_into(tmp, loc.struct, loc.root, loc.path, loc.user))
            return tmp
        tmp = self.temp("v")
        if loc.kind == "local":
            if scalar:
                self.emit(f"{self.decl(t, tmp)} = 0;")
                self.emit(f"__builtin_memcpy(&{tmp}, (const void *)({loc.addr}), "
                          f"sizeof({tmp}));")
            else:
                self.emit(f"{self.decl(t, tmp)};")
                self.emit(f"__builtin_memcpy(&{tmp}, (const void *)({loc.addr}), "
                          f"sizeof({tmp}));")
            return self.extract_bits(tmp, loc, t)
        if loc.bitfield is not None:
            f = loc.bitfield
            nbytes = (f.bit_offset + f.bits + 7) // 8
            raw = self.temp("raw")
            self.emit(self.s.mem_read(f"__u64 {raw}", raw, loc.addr, loc.user).replace(
                f"sizeof({raw})", str(nbytes)))
            return self.extract_bits(raw, loc, t)
        decl = self.decl(t, tmp) if not scalar else t.c_decl(tmp)  # type: ignore[attr-defined]
        self.emit(self.s.mem_read(decl, tmp, loc.addr, loc.user))
        return tmp

    def extract_bits(self: ProbeGen, raw: str, loc: Loc, t: Type) -> str:
        f = loc.bitfield
        if f is None:
            return raw
        out = self.temp("bf")
        signed = isinstance(t, IntType) and t.signed
        self.emit(f"__{'s' if signed else 'u'}64 {out};")
        self.emit(self.s.mem_bitfield(out, f"(__u64){raw}", f.bit_offset, f.bits, signed))
        return out

    def core_bitfield(self: ProbeGen, loc: Loc) -> str:
        *prefix, last = loc.path
        inner, _, name = last.rpartition(".")
        ptr = self.s.core_ptr(loc.struct, loc.root)
        if prefix:
            # The struct holding the bitfield, read first: CO-RE reads cannot nest.
            ptr = self.temp("p")
            self.emit(self.s.core_step(ptr, loc.struct, loc.root, prefix, loc.user))
        base = f"(&{ptr}->{inner})" if inner else ptr
        return self.s.core_bitfield(base, name)


def is_access(e: ast.Expr) -> bool:
    """Whether ``e`` reads memory through a C type (handled by AccessGen)."""
    if isinstance(e, ast.Field):
        return isinstance(e.expr.type, (PointerType, StructType))
    if isinstance(e, ast.Unary):
        return e.op == "*"
    return isinstance(e, ast.Index)


__all__ = ["AccessGen", "Loc", "is_access", "StringType"]
