"""Code generation for bpftrace's data functions: buf, ntop, pton, macaddr, cgroupid,
signal, override, reg, uaddr, path, percpu_kaddr (their type rules are in
:mod:`bt2c.datafuncs`).

buf, ntop and macaddr build raw-byte values in the layouts the runtime prints
(templates/runtime/maps.c: BT_KIND_BUF, BT_KIND_INET, BT_KIND_MAC); pton and
uaddr are constants known when the tool is built; cgroupid is a rodata slot the
loader fills when the tool starts; percpu_kaddr takes the address of a typed
``__ksym`` extern, which libbpf and the kernel resolve when the program loads.
A mixin of :class:`bt2c.codegen.ProbeGen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.datafuncs import AF_INET, AF_INET6, pton_bytes, signal_number
from bt2c.types import ArrayType, BufType, InetType, IntType, PointerType, StringType

if TYPE_CHECKING:
    from bt2c.codegen import ProbeGen


def space_mark(e: ast.Expr) -> bool | None:
    """The address space ``uptr(p)`` (True) or ``kptr(p)`` (False) gives the pointer
    read where it is spelled out; None for any other expression."""
    if isinstance(e, ast.Call) and e.name in ("uptr", "kptr"):
        return e.name == "uptr"
    return None


class DataGen:
    """Data function calls of a probe body (a mixin of ProbeGen)."""

    def pointer_space(self: ProbeGen, e: ast.Expr) -> bool:
        """Whether the pointer ``e`` addresses user memory: uptr()/kptr() or its type
        says so, else the probe does (syscall arguments, user-space probes), as for str()."""
        mark = space_mark(e)
        if mark is not None:
            return mark
        if isinstance(e.type, PointerType) and e.type.target is not None:
            return e.type.user
        return self.user_memory()

    def is_buf_read(self: ProbeGen, e: ast.Expr) -> bool:
        """``buf(ptr, n)``: a probe read that can target a ring-buffer record directly."""
        return (isinstance(e, ast.Call) and e.name == "buf" and len(e.args) == 2
                and isinstance(e.args[0].type, IntType))

    def data_call(self: ProbeGen, e: ast.Call) -> str:  # noqa: C901 - one dispatch
        name = e.name
        if name == "buf":
            t = e.type
            assert isinstance(t, BufType)
            tmp = self.temp("buf")
            tmp = self.local(t.c_decl(tmp), tmp, t.size)
            src = e.args[0]
            if isinstance(src.type, (ArrayType, StringType)):
                # an array's or a string's own bytes (a string's storage is zero-padded)
                size = src.type.size if isinstance(src.type, ArrayType) else \
                    (src.type.length + 7) // 8 * 8
                n = self.expr(e.args[1]) if len(e.args) > 1 else str(size)
                data = self.expr(src)
                if len(e.args) < 2 or isinstance(e.args[1], ast.Int):
                    count = e.args[1].value if len(e.args) > 1 else size  # type: ignore[attr-defined]
                    self.emit(f"*(__u32 *){tmp} = {min(count, t.cap)};")
                else:
                    self.emit(f"*(__u32 *){tmp} = {n} < {t.cap} ? {n} : {t.cap};")
                n = min(t.cap, size)
                self.emit(self.copy(f"{tmp} + 8", data, n, n))
                return tmp
            ptr, n = self.expr(src), self.expr(e.args[1])
            self.emit(f"bt_read_buf({tmp}, {t.cap}, {n}, (const void *)({ptr}), "
                      f"{int(self.pointer_space(src))});")
            return tmp
        if name == "pton":
            addr = pton_bytes(e.args[0].value)  # type: ignore[attr-defined]
            assert addr is not None
            tmp = self.temp("addr")
            self.emit(f"__u8 {tmp}[{len(addr)}] = {{ {', '.join(str(b) for b in addr)} }};")
            return tmp
        if name == "ntop":
            return self.ntop(e)
        if name == "macaddr":
            src = e.args[0]
            tmp = self.temp("mac")
            self.emit(f"__u8 {tmp}[6] = {{}};")
            if isinstance(src.type, (ArrayType, StringType)):
                self.emit(f"__builtin_memcpy({tmp}, {self.expr(src)}, 6);")
            else:
                fn = "user" if self.pointer_space(src) else "kernel"
                self.emit(f"bpf_probe_read_{fn}({tmp}, 6, (const void *)({self.expr(src)}));")
            return tmp
        if name == "cgroupid":
            path = e.args[0].value  # type: ignore[attr-defined]
            return f"bt_cgroupid[{self.gen.analysis.cgroupids.index(path)}]"
        if name == "percpu_kaddr":
            var = e.args[0].value  # type: ignore[attr-defined]
            self.gen.require("BPF_FUNC_per_cpu_ptr", "5.10", "percpu_kaddr()", self.line_of(e))
            self.gen.ksym_lines.setdefault(var, self.line_of(e))
            if len(e.args) == 1:
                return f"((__u64)bpf_this_cpu_ptr(&{var}))"
            return f"bt_per_cpu_addr(bpf_per_cpu_ptr(&{var}, (__u32)({self.expr(e.args[1])})))"
        if name in ("signal", "signal_thread"):
            a = e.args[0]
            sig = str(signal_number(a.value)) if isinstance(a, ast.Str) else self.expr(a)
            if name == "signal":
                self.gen.require("BPF_FUNC_send_signal", "5.3", "signal()", self.line_of(e))
            else:
                self.gen.require("BPF_FUNC_send_signal_thread", "5.5", "signal_thread()",
                                 self.line_of(e))
            self.emit(f"bpf_send_{name}({sig});")
            return ""
        if name in ("uptr", "kptr"):
            return self.expr(e.args[0])
        if name == "cgroup_path":  # the id: the loader looks its path up when printing
            return f"((__u64)({self.expr(e.args[0])}))"
        if name == "socket_cookie":
            # Tracing programs have it since Linux 5.12; the loader's helper probe uses a
            # tracepoint program, which never has it, so an older kernel's verifier says so.
            return f"bpf_get_socket_cookie((void *)({self.expr(e.args[0])}))"
        if name == "override":
            self.gen.require("BPF_FUNC_override_return", "4.16",
                             "override() (CONFIG_BPF_KPROBE_OVERRIDE)", self.line_of(e))
            self.emit(f"bpf_override_return({self.ctx(e)}, (__u64)({self.expr(e.args[0])}));")
            return ""
        if name == "reg":
            reg = e.args[0].value  # type: ignore[attr-defined]
            return f"(((const __u64 *){self.ctx(e)})[BT_REGNO_{reg}])"
        if name == "uaddr":
            return f"0x{e.value:x}ULL"  # type: ignore[attr-defined]
        # path(struct path *[, size])
        assert name == "path" and isinstance(e.type, StringType)
        self.gen.require("BPF_FUNC_d_path", "5.10", "path()", self.line_of(e))
        tmp = self.temp("path")
        tmp = self.local(f"char {tmp}[{e.type.length}]", tmp, e.type.length)
        self.emit(f"bpf_d_path((struct path *)({self.expr(e.args[0])}), {tmp}, sizeof({tmp}));")
        return tmp

    def ntop(self: ProbeGen, e: ast.Call) -> str:
        """An inet value: the family (from the call, else from the address's size) and
        the address bytes, as bpftrace's ntop() keeps them."""
        addr = e.args[-1]
        at = addr.type
        tmp = self.temp("inet")
        self.emit(f"{InetType().c_decl(tmp)} = {{}};")
        if len(e.args) == 2:
            family = self.expr(e.args[0])
        else:
            family = str(AF_INET6 if at is not None and at.size == 16 and
                         not isinstance(at, IntType) else AF_INET)
        value = self.expr(addr)
        self.emit(f"*(__u64 *){tmp} = {family};")
        if isinstance(at, IntType):
            self.emit(f"*(__u32 *)({tmp} + 8) = (__u32)({value});")
        else:
            assert at is not None
            self.emit(f"__builtin_memcpy({tmp} + 8, {value}, {min(at.size, 16)});")
        return tmp
