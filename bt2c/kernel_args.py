"""Typed arguments of kernel functions and raw tracepoints, from kernel BTF.

The one interface fentry/fexit and rawtracepoint use: a list of
:class:`KArg` (name, C type, size, signedness, pointer-ness) for a function or
a raw tracepoint, read through :mod:`bt2c.btf`.  Arguments become integers in
the script (a pointer is its address, as a 64-bit unsigned value); struct
arguments passed by value are not readable and are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from bt2c import btf as btf_mod
from bt2c.types import EnumType, IntType, Type


@dataclass(frozen=True)
class KArg:
    """One argument (or the return value) of a kernel function."""

    name: str
    c_type: str
    size: int
    signed: bool
    pointer: bool
    enum: str = ""   # a named enum's name: its values print as enumerators

    @property
    def type(self) -> Type:
        """The script-level type: an integer of the argument's width (an enum's values
        print by name once the analysis has looked the enum up)."""
        if self.pointer:
            return IntType(64, False)
        bits = self.size * 8 if self.size in (1, 2, 4, 8) else 64
        return EnumType(bits, False, self.enum) if self.enum else IntType(bits, self.signed)

    @property
    def c_int(self) -> str:
        """The C integer type that holds it without changing its value."""
        bits = self.size * 8 if self.size in (1, 2, 4, 8) and not self.pointer else 64
        return f"__{'s' if self.signed and not self.pointer else 'u'}{bits}"


def _karg(b: btf_mod.Btf, name: str, tid: int) -> KArg | None:
    t = b.resolve(tid)
    if t.kind == "ptr":
        return KArg(name, b.c_type(tid), 8, False, True)
    if t.kind == "int":
        return KArg(name, b.c_type(tid), t.size, t.int_signed, False)
    if t.kind == "enum":
        return KArg(name, b.c_type(tid), t.size, t.int_signed, False, t.name)
    return None   # struct/union by value, float: not an integer


def _args(b: btf_mod.Btf, params: list[tuple[str, int]]) -> list[KArg]:
    out = []
    for i, (name, tid) in enumerate(params):
        arg = _karg(b, name or f"arg{i}", tid)
        if arg is not None:
            out.append(arg)
        else:
            # Keep the slot: later arguments are still at their own index.
            out.append(KArg(name or f"arg{i}", b.c_type(tid), 0, False, False))
    return out


def function_args(func: str) -> tuple[list[KArg], KArg | None] | None:
    """A kernel function's arguments and return value (None for void), or None if
    the kernel's BTF has no such function."""
    b = btf_mod.vmlinux()
    if b is None:
        return None
    found = b.func_params(func)
    if found is None:
        return None
    params, ret = found
    ret_arg = None if b.resolve(ret).kind == "void" else _karg(b, "retval", ret)
    return _args(b, params), ret_arg


def has_btf() -> bool:
    """Whether this machine has kernel BTF at all."""
    return btf_mod.vmlinux() is not None


def rawtracepoint_args(name: str) -> list[KArg] | None:
    """A raw tracepoint's arguments, or None when the kernel has no such event.

    Named from the ``__bpf_trace_NAME`` stub when BTF has it, else (unnamed,
    arg0...) from the ``btf_trace_NAME`` typedef.  Both prototypes start with
    the tracepoint's private ``void *__data``; the rest are the event's args.
    """
    b = btf_mod.vmlinux()
    if b is None:
        return None
    # The kernel's own BPF stub for the event has the parameters' names.
    for stub in (f"__bpf_trace_{name}", f"__probestub_{name}"):
        found = b.func_params(stub)
        if found is not None:
            return _args(b, found[0][1:])
    tid = b.find(f"btf_trace_{name}", "typedef")
    if tid is None:
        return None
    ptr = b.resolve(tid)
    if ptr.kind != "ptr":
        return None
    proto = b.resolve(ptr.ref)
    if proto.kind != "func_proto":
        return None
    params = [(m.name, m.type) for m in proto.members][1:]
    return _args(b, params)


def rawtracepoint_names() -> list[str]:
    """Every raw tracepoint the kernel's BTF describes, sorted."""
    b = btf_mod.vmlinux()
    if b is None:
        return []
    names = getattr(b, "names", {})
    return sorted(n[len("btf_trace_"):] for n in names if n.startswith("btf_trace_"))
