"""Type rules of bpftrace's data functions: buf, ntop, pton, macaddr, cgroupid,
signal, override, reg, uaddr, path and percpu_kaddr.

A mixin of :class:`bt2c.semantic.Analyzer` (one job: what each of these calls
accepts and what type it yields, with bpftrace's error messages).  What they
compile to is in :mod:`bt2c.datagen`.
"""

from __future__ import annotations

import ipaddress
import os
import signal as _signal
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.btf import vmlinux
from bt2c.types import (
    CGROUP_PATH,
    UINT64,
    VOID,
    ArrayType,
    BufType,
    FormattedInt,
    InetType,
    IntType,
    MacType,
    PointerType,
    StringType,
    StructType,
    Type,
)

if TYPE_CHECKING:
    from bt2c.semantic import Analyzer

DATA_FUNCTIONS = {"buf", "ntop", "pton", "macaddr", "cgroupid", "signal", "signal_thread",
                  "override", "reg", "uaddr", "path", "percpu_kaddr", "uptr", "kptr",
                  "cgroup_path", "socket_cookie"}
#: The probe types where bpftrace's signal() and signal_thread() may be used.
SIGNAL_PROBES = ("kprobe", "kretprobe", "uprobe", "uretprobe", "usdt", "tracepoint",
                 "profile", "fentry", "fexit", "rawtracepoint")
#: bpftrace's limit on a buffer (its max_strlen default).
BUF_MAX = 1024
AF_INET, AF_INET6 = 2, 10

#: reg("name"): the register's index among the leading u64 words of the probe
#: context (struct pt_regs), per architecture, with bpftrace's names.
REGISTERS: dict[str, dict[str, int]] = {
    "x86_64": {n: i for i, n in enumerate(
        "r15 r14 r13 r12 bp bx r11 r10 r9 r8 ax cx dx si di orig_ax ip cs flags sp ss".split())},
    "aarch64": {**{f"r{i}": i for i in range(31)}, "sp": 31, "pc": 32, "pstate": 33},
}
#: The __TARGET_ARCH_ names of the machines above (the build's -D flag).
TARGET_ARCH = {"x86_64": "x86", "aarch64": "arm64"}


def signal_number(name: str) -> int | None:
    """``SIGKILL`` or ``KILL`` to 9 (Linux numbering), None if unknown."""
    name = name if name.startswith("SIG") else "SIG" + name
    sig = getattr(_signal, name, None)
    return int(sig) if isinstance(sig, _signal.Signals) else None


def pton_bytes(text: str) -> bytes | None:
    """bpftrace's pton(): IPv4 if the text has a '.', else IPv6 (so an IPv4-mapped
    IPv6 address is rejected, as there)."""
    try:
        if "." in text:
            return ipaddress.IPv4Address(text).packed
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


class DataCalls:
    """Semantic rules of the data functions (a mixin of Analyzer)."""

    def probe_providers(self: Analyzer) -> set[str]:
        return {t.provider for t in self.result.targets[self.probe.index]}  # type: ignore[union-attr]

    def data_call(self: Analyzer, e: ast.Call) -> Type:  # noqa: C901 - one dispatch
        name = e.name
        if name == "buf":
            self.nargs(e, 1, 2)
            t = self.expr(e.args[0])
            if len(e.args) == 1:
                if not isinstance(t, ArrayType):
                    raise self.error("buf() expects a length argument for non-array type "
                                     "pointer", e.span)
                return BufType(t.size)
            self.int_args(e, e.args[1:], "int")
            if not isinstance(t, (IntType, ArrayType, StringType)):
                raise self.error(f"buf() only supports int arguments ({t} provided)", e.span)
            n = e.args[1]
            if isinstance(n, ast.Int):
                if n.value > BUF_MAX:
                    raise self.error(f"buf() length is too long ({n.value} > {BUF_MAX})",
                                     n.span)
                return BufType(max(n.value, 1))
            return BufType(min(self.max_strlen, BUF_MAX))
        if name == "ntop":
            self.nargs(e, 1, 2)
            for a in e.args:
                self.expr(a)
            if len(e.args) == 2:
                self.require_int(e.args[0], "ntop() address family")
            addr = e.args[-1].type
            if isinstance(addr, ArrayType) and addr.size in (4, 16):
                return InetType()
            if isinstance(addr, StringType) and addr.length in (4, 16) or \
                    isinstance(addr, IntType) and not isinstance(addr, PointerType):
                return InetType()
            raise self.error(f"ntop() expects an integer or array argument, got {addr}",
                             e.span)
        if name == "pton":
            self.nargs(e, 1)
            a = e.args[0]
            self.expr(a)
            if not isinstance(a, ast.Str):
                raise self.error("pton() expects an string literal at the first argument",
                                 e.span)
            addr = pton_bytes(a.value)
            if addr is None:
                what = "a valid IPv4/IPv6 address" if ":" in a.value or "." in a.value else \
                    "an string argument of an IPv4/IPv6 address"
                raise self.error(f"pton() expects {what}, got {a.value}", e.span)
            return ArrayType(IntType(8, False), len(addr))
        if name == "macaddr":
            self.nargs(e, 1)
            t = self.expr(e.args[0])
            if isinstance(e.args[0], ast.Str):
                raise self.error("macaddr() does not support literal string arguments", e.span)
            if isinstance(t, (ArrayType, StringType)) and t.size < 6:
                raise self.error("macaddr() argument must be at least 6 bytes in size", e.span)
            if not isinstance(t, (IntType, ArrayType, StringType)):
                raise self.error(f"macaddr() expects an integer or array argument, got {t}",
                                 e.span)
            return MacType()
        if name == "cgroupid":
            self.nargs(e, 1)
            t = self.expr(e.args[0])
            if not isinstance(e.args[0], ast.Str):
                shown = "string" if isinstance(t, StringType) else t
                raise self.error(f"cgroupid() expects a string literal ({shown} provided)",
                                 e.span)
            if e.args[0].value not in self.result.cgroupids:
                self.result.cgroupids.append(e.args[0].value)
            return UINT64
        if name == "percpu_kaddr":
            return self.percpu_kaddr_call(e)
        if name in ("signal", "signal_thread"):
            return self.signal_call(e)
        if name in ("uptr", "kptr"):
            return self.space_call(e)
        if name == "cgroup_path":
            return self.cgroup_path_call(e)
        if name == "socket_cookie":
            return self.socket_cookie_call(e)
        if name == "override":
            self.nargs(e, 1)
            self.int_args(e, e.args, "int")
            if self.probe_providers() != {"kprobe"}:
                raise self.error("override() can only be used inside kprobes", e.span)
            if not self.unsafe:
                raise self.error("override() is unsafe. To use you need the --unsafe flag",
                                 e.span)
            return VOID
        if name == "reg":
            return self.reg_call(e)
        if name == "uaddr":
            return self.uaddr_call(e)
        # path(struct path *[, size])
        self.nargs(e, 1, 2)
        for a in e.args:
            self.expr(a)
        if not self.probe_providers() <= {"fentry", "fexit"}:
            raise self.error("The path function can only be used with 'fentry', 'fexit', "
                             "'iter' probes", e.span)
        self.require_int(e.args[0], "path() argument")
        size = self.max_strlen
        if len(e.args) == 2:
            size = self.const_int(e.args[1], "path() size")
            if not 1 <= size <= BUF_MAX:
                raise self.error(f"path() size must be between 1 and {BUF_MAX}", e.span)
        return StringType(size)

    def percpu_kaddr_call(self: Analyzer, e: ast.Call) -> Type:
        """percpu_kaddr(NAME[, CPU]): the address of a kernel per-CPU variable on this CPU
        (or CPU), a uint64.  The variable's type comes from the kernel BTF: the BPF C
        declares it as a typed ``__ksym`` extern, which bpf_this_cpu_ptr() and
        bpf_per_cpu_ptr() need."""
        self.nargs(e, 1, 2)
        t = self.expr(e.args[0])
        if not isinstance(e.args[0], ast.Str):
            shown = "string" if isinstance(t, StringType) else t
            raise self.error(f"percpu_kaddr() expects a string literal ({shown} provided)",
                             e.span)
        self.int_args(e, e.args[1:], "int")
        var = e.args[0].value
        btf = vmlinux()
        if btf is None:
            raise self.error("percpu_kaddr() needs the kernel's BTF (/sys/kernel/btf/vmlinux "
                             "or $BT2C_BTF)", e.span)
        tid = btf.percpu_var(var)
        if tid is None:
            raise self.error(f'Could not resolve variable "{var}" from BTF', e.span)
        decl = btf.c_decl(tid, var)
        if decl is None:
            raise self.error(f"bt2c cannot declare the type of the per-CPU variable {var} "
                             f"({btf.c_type(tid)}) in C", e.span)
        self.result.percpu_vars.setdefault(var, decl)
        return UINT64

    def signal_call(self: Analyzer, e: ast.Call) -> Type:
        """signal(SIG) (the process) and signal_thread(SIG) (the thread), checked as
        bpftrace's standard library checks them: probe type, --unsafe, the signal."""
        name = e.name
        if name == "signal":
            self.nargs(e, 1)
        else:
            self.no_matching_definition(e, 1)
        t = self.expr(e.args[0])
        for target in self.result.targets[self.probe.index]:  # type: ignore[union-attr]
            if target.provider not in SIGNAL_PROBES:
                kind = "special" if target.provider in ("begin", "end", "self") else target.provider
                raise self.error(f"{name}() can not be used for this probetype {kind}",
                                 e.span)
        a = e.args[0]
        if isinstance(a, ast.Str) and signal_number(a.value) is None:
            raise self.error(f"Invalid string for signal: {a.value}", e.span)
        if not self.unsafe:
            raise self.error(f"{name}() is unsafe. To use you need the --unsafe flag", e.span)
        if isinstance(a, ast.Str):
            pass
        elif isinstance(a, ast.Int) or (isinstance(a, ast.Unary) and a.op == "-"
                                        and isinstance(a.operand, ast.Int)):
            value = a.value if isinstance(a, ast.Int) else -a.operand.value  # type: ignore[attr-defined]
            if not 1 <= value <= 64:
                raise self.error(f"{name}() accepts a string literal or an integer between "
                                 "1 and 64 (inclusive)", e.span)
        elif not isinstance(t, IntType) or (isinstance(a, ast.Map) and self.map_info(a).agg):
            # an aggregation's value (count(), sum(), ...) is not an integer to bpftrace
            raise self.error(f"{name}() accepts a string literal or an integer", e.span)
        return VOID

    def cgroup_path_call(self: Analyzer, e: ast.Call) -> Type:
        """cgroup_path(ID[, FILTER]): the id, which the loader prints as the cgroup's
        paths in the hierarchies FILTER (a string literal, '*' wildcards) selects."""
        self.nargs(e, 1, 2)
        types = [self.expr(a) for a in e.args]

        def shown(t: Type) -> str:
            return ("string" if isinstance(t, StringType) else
                    "pointer" if isinstance(t, PointerType) else
                    "int" if isinstance(t, IntType) else str(t))

        if not isinstance(types[0], IntType) or isinstance(types[0], (PointerType, FormattedInt)):
            raise self.error(f"cgroup_path() only supports int arguments ({shown(types[0])} "
                             "provided)", e.span)
        if len(e.args) == 2 and not isinstance(types[1], StringType):
            raise self.error("cgroup_path() only supports string arguments "
                             f"({shown(types[1])} provided)", e.span)
        if len(e.args) == 2 and not isinstance(e.args[1], ast.Str):
            raise self.error("cgroup_path() expects a string literal as its filter",
                             e.args[1].span)
        self.result.uses_cgroup_path = True
        return FormattedInt(kind=CGROUP_PATH,
                            fmt=e.args[1].value if len(e.args) == 2 else "*")  # type: ignore[attr-defined]

    def socket_cookie_call(self: Analyzer, e: ast.Call) -> Type:
        """socket_cookie(struct sock *): bpf_get_socket_cookie(), which BPF tracing
        programs (fentry/fexit) have for a socket pointer the kernel vouches for.
        bt2c types fentry arguments as integers, so an integer is taken as the
        pointer too (the verifier checks that it is a socket)."""
        for kind in sorted(self.probe_providers()):
            if kind == "rawtracepoint":
                raise self.error("socket_cookie() needs fentry/fexit probes in bt2c "
                                 "(its rawtracepoint programs are raw_tp, which lack the "
                                 "helper)", e.span)
            if kind not in ("fentry", "fexit"):
                raise self.error(f'socket_cookie can not be used with "{kind}" probes',
                                 e.span)
        self.nargs(e, 1)
        t = self.expr(e.args[0])
        if isinstance(t, IntType) and not isinstance(t, (PointerType, FormattedInt)):
            return UINT64
        if not isinstance(t, PointerType) or not isinstance(t.target, StructType):
            shown = "pointer" if isinstance(t, PointerType) else \
                "string" if isinstance(t, StringType) else \
                "int" if isinstance(t, IntType) else str(t)
            raise self.error("socket_cookie() only supports 'struct sock *' as the argument "
                             f"({shown} provided)", e.span)
        if str(t.target) != "struct sock":
            raise self.error("socket_cookie() only supports 'struct sock *' as the argument "
                             f"('{t}' provided)", e.span)
        return UINT64

    def space_call(self: Analyzer, e: ast.Call) -> Type:
        """uptr(p), kptr(p): the same value, marked as an address in user (kernel) memory,
        which says how pointer reads through it are done."""
        self.nargs(e, 1)
        t = self.expr(e.args[0])
        if not isinstance(t, IntType) or isinstance(t, FormattedInt):
            shown = "string" if isinstance(t, StringType) else t
            raise self.error(f"{e.name}() only supports integer or pointer arguments ({shown} "
                             "provided)", e.span)
        if isinstance(t, PointerType):
            return PointerType(target=t.target, user=e.name == "uptr")
        return t

    def reg_call(self: Analyzer, e: ast.Call) -> Type:
        self.nargs(e, 1)
        self.expr(e.args[0])
        kinds = sorted(self.probe_providers())
        if not set(kinds) <= {"kprobe", "kretprobe", "uprobe", "uretprobe", "usdt"}:
            bad = next(k for k in kinds if k not in ("kprobe", "kretprobe", "uprobe",
                                                    "uretprobe", "usdt"))
            raise self.error(f'reg can not be used with "{bad}" probes', e.span)
        a = e.args[0]
        if not isinstance(a, ast.Str):
            raise self.error("reg() expects a string literal", e.span)
        machine = os.uname().machine
        if a.value not in REGISTERS.get(machine, {}):
            raise self.error(f"'{a.value}' is not a valid register on this architecture "
                             f"({machine})", e.span)
        if a.value not in self.result.registers:
            self.result.registers.append(a.value)
        return UINT64

    def uaddr_call(self: Analyzer, e: ast.Call) -> Type:
        from bt2c.uprobes import _elf
        self.nargs(e, 1)
        self.expr(e.args[0])
        targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
        kinds = sorted({t.provider for t in targets})
        bad = [k for k in kinds if k not in ("uprobe", "uretprobe", "usdt")]
        if bad:
            raise self.error(f'uaddr can not be used with "{bad[0]}" probes', e.span)
        a = e.args[0]
        if not isinstance(a, ast.Str):
            raise self.error("uaddr() expects a string literal", e.span)
        addrs = set()
        sizes = set()
        for t in targets:
            assert t.user is not None
            path = t.user.path
            sym = _elf(path, os.stat(path).st_mtime).objects().get(a.value)
            if sym is None:
                raise self.error(f"Could not resolve symbol: {path}:{a.value}", e.span)
            addrs.add(sym.addr)
            sizes.add(sym.size)
        if len(addrs) > 1:
            raise self.error(f"uaddr(\"{a.value}\") has different addresses in the probed "
                             "files", e.span)
        e.value = addrs.pop()  # type: ignore[attr-defined]
        size = sizes.pop() if len(sizes) == 1 else 8
        target = IntType(size * 8, False) if size in (1, 2, 4, 8) else IntType(64, False)
        return PointerType(target=target, user=True)
