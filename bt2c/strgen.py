"""Code generation for bpftrace's string helpers: strlen, strcap, strstr, str_concat,
memcmp, default_str_length, signal_name and syscall_name (their type rules are in
:mod:`bt2c.strfuncs`).

What is known at transpile time is folded to a constant (the length of a literal, a
search in two literals, a string's capacity); the rest calls the helpers of
``templates/bpf/strings.h.j2``, which the program includes only when it uses them.
A pointer argument is read as str() reads it (up to max_strlen bytes, from user or
kernel memory by the pointer's address space) before it is measured or searched.
A mixin of :class:`bt2c.codegen.ProbeGen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.formats import c_string_literal
from bt2c.strfuncs import CONCAT_LEN
from bt2c.types import ArrayType, IntType, PointerType, StringType

if TYPE_CHECKING:
    from bt2c.codegen import ProbeGen


class StringGen:
    """String helper calls of a probe body (a mixin of ProbeGen)."""

    def string_operand(self: ProbeGen, e: ast.Call, arg: ast.Expr) -> tuple[str, int]:
        """A string-like argument as (C ``const char *`` expression, buffer capacity).
        A literal stays in .rodata; a pointer is read into a max_strlen buffer."""
        if isinstance(arg, ast.Str):
            return c_string_literal(arg.value), len(arg.value.encode()) + 1
        t = arg.type
        if isinstance(t, StringType):
            return self.expr(arg), t.length
        if isinstance(t, ArrayType):
            return f"((const char *){self.expr(arg)})", t.n
        assert isinstance(t, PointerType)
        n = self.gen.analysis.max_strlen
        tmp = self.temp("str")
        tmp = self.local(f"char {tmp}[{n}]", tmp, n)
        user = self.pointer_space(arg)
        self.emit(self.s.read_str(tmp, n, self.expr(arg), user,
                                  site=self.helper_site(e, "str", user)))
        return tmp, n

    def string_call(self: ProbeGen, e: ast.Call) -> str:  # noqa: C901 - one dispatch
        name = e.name
        uses = self.gen.string_funcs
        args = e.args
        if name == "default_str_length":
            return f"{self.gen.analysis.max_strlen}ULL"
        if name == "strlen" and isinstance(args[0], ast.Str):
            return f"{len(args[0].value.encode())}ULL"
        if name == "strcap" and not isinstance(args[0].type, PointerType):
            if isinstance(args[0], ast.Str):
                return f"{len(args[0].value.encode()) + 1}ULL"
            t = args[0].type
            return f"{t.n if isinstance(t, ArrayType) else t.size}ULL"  # type: ignore[union-attr]
        if name in ("strlen", "strcap"):
            uses.add("strnlen")
            s, n = self.string_operand(e, args[0])
            return f"bt_strnlen({s}, {n})"
        if name == "strstr":
            h, n = args
            if isinstance(h, ast.Str) and isinstance(n, ast.Str):
                return str(h.value.find(n.value))
            hs, hn = self.string_operand(e, h)
            ns, nn = self.string_operand(e, n)
            if isinstance(n, ast.Str):
                uses.add("strstr")
                return f"bt_strstr({hs}, {hn}, {ns}, {len(n.value.encode())})"
            # A run-time needle: one bpf_loop() iteration per haystack position, the
            # callbacks strcontains() uses.
            self.gen.require("BPF_FUNC_loop", "5.17", "strstr() with a needle that is not "
                             "a string literal", self.line_of(e))
            self.gen.strstr_sizes.add((hn, nn))
            uses.add("strstr_loop")
            return f"bt_strstr_loop({hs}, {hn}, {ns}, bt_strstr_at_{hn}_{nn})"
        if name == "str_concat":
            uses.add("str_concat")
            a, na = self.string_operand(e, args[0])
            b, nb = self.string_operand(e, args[1])
            na, nb = min(na, CONCAT_LEN), min(nb, CONCAT_LEN)
            tmp = self.temp("cat")
            # room for the second string after any length of the first: the verifier
            # must see that the copy at a variable offset stays in the buffer
            tmp = self.local(f"char {tmp}[{CONCAT_LEN + nb}]", tmp, CONCAT_LEN + nb)
            self.emit(f"bt_str_concat({tmp}, {a}, {na}, {b}, {nb});")
            return tmp
        if name == "memcmp":
            uses.add("memcmp")
            ptrs, sizes = [], []
            for a in args[:2]:
                if isinstance(a, ast.Str):
                    ptrs.append(c_string_literal(a.value))
                    sizes.append(len(a.value.encode()) + 1)
                    continue
                t = a.type
                value = self.expr(a)
                if isinstance(t, IntType):
                    tmp = self.temp("cmp")
                    self.emit(f"{t.c_name()} {tmp} = {value};")
                    value = tmp
                ptrs.append(value if isinstance(t, StringType) else f"&{value}")
                sizes.append(t.size)  # type: ignore[union-attr]
            count = self.expr(args[2])
            return f"bt_memcmp({ptrs[0]}, {ptrs[1]}, {count}, {min(sizes)})"
        # signal_name, syscall_name: a row of a table, copied into a string[64]
        # (in the probe's scratch memory: a few of these would fill the BPF stack)
        uses.add(name)
        tmp = self.temp("name")
        tmp = self.scratch_member(f"char {tmp}[64]", tmp)
        self.emit(f"bt_{name}({tmp}, (__s32)({self.expr(args[0])}));")
        return tmp
