"""Type rules of bpftrace's string helpers: strlen, strcap, strstr, str_concat, memcmp,
default_str_length, signal_name and syscall_name.

A mixin of :class:`bt2c.semantic.Analyzer`.  bpftrace v0.27 writes these as macros of
its standard library over "string-like" values: strings, arrays of int8 and pointers
to int8; a call with anything else fails in the macro, and bpftrace reports the macro's
message at the call.  The same messages are raised here at the call's span.  What the
calls compile to is in :mod:`bt2c.strgen`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.types import (
    UINT64,
    ArgsType,
    ArrayType,
    IntType,
    PointerType,
    StringType,
    StructType,
    TupleType,
    Type,
)

if TYPE_CHECKING:
    from bt2c.semantic import Analyzer

STRING_FUNCTIONS = {"strlen", "strcap", "strstr", "str_concat", "memcmp", "default_str_length",
                    "signal_name", "syscall_name"}
#: str_concat()'s result: bpftrace's macro declares a string[1024], whatever max_strlen is.
CONCAT_LEN = 1024
#: signal_name() and syscall_name() return a string[64].
NAME_LEN = 64
INT32 = IntType(32, True)
#: What memcmp() compares (the bytes of the value as the program holds it).
MEMCMP_TYPES = (IntType, StringType, TupleType, ArrayType, StructType)
_ARITY = {"strlen": 1, "strcap": 1, "strstr": 2, "str_concat": 2, "memcmp": 3,
          "default_str_length": 0, "signal_name": 1, "syscall_name": 1}


def is_char(t: Type | None) -> bool:
    """int8: the element type of a string-like array or pointer."""
    return isinstance(t, IntType) and not isinstance(t, PointerType) and t.bits == 8 \
        and t.signed


class StringCalls:
    """Semantic rules of the string helpers (a mixin of Analyzer)."""

    def string_like(self: Analyzer, e: ast.Call, arg: ast.Expr) -> Type:
        """Type ``arg`` and check it is string-like, with the messages of bpftrace's
        assert_str macro."""
        t = self.expr(arg)
        if isinstance(t, StringType):
            return t
        if isinstance(t, ArrayType):
            if not is_char(t.elem):
                raise self.error("string-like arrays must contain a char-like type", e.span)
            return t
        if isinstance(t, PointerType):
            if not is_char(t.target):
                raise self.error("string-like pointers must point to a char-like type", e.span)
            return t
        if self.tracepoint_pointer(arg):
            # bpftrace types a tracepoint's `const char *` as a pointer to const int8
            raise self.error("string-like pointers must point to a char-like type", e.span)
        raise self.error("string-like values must be either strings, arrays or pointers",
                         e.span)

    def tracepoint_pointer(self: Analyzer, arg: ast.Expr) -> bool:
        """Whether ``arg`` is ``args.NAME`` of a tracepoint field declared as a pointer
        (bt2c holds those as integers)."""
        if not (isinstance(arg, ast.Field) and isinstance(arg.expr.type, ArgsType)
                and self.tracepoints):
            return False
        return any(f.name == arg.name and f.is_pointer for f in self.tracepoints[0].fields)

    def string_call(self: Analyzer, e: ast.Call) -> Type:
        name = e.name
        self.no_matching_definition(e, _ARITY[name])
        if name in ("strlen", "strcap"):
            self.string_like(e, e.args[0])
            return UINT64
        if name == "default_str_length":
            return UINT64
        if name == "strstr":
            self.string_like(e, e.args[0])
            t = self.expr(e.args[1])
            if not isinstance(t, (StringType, ArrayType, PointerType)):
                # bpftrace's macro indexes the needle before it checks it
                raise self.error("The array index operator [] can only be used on arrays, "
                                 f"pointers, and tuples, found {t}.", e.span)
            self.string_like(e, e.args[1])
            return INT32
        if name == "str_concat":
            for a in e.args:
                self.string_like(e, a)
            if self.max_strlen < CONCAT_LEN:
                raise self.error(f"String type is too long (over {self.max_strlen} bytes): "
                                 f"string[{CONCAT_LEN}]", e.span)
            return StringType(CONCAT_LEN)
        if name == "memcmp":
            for a in e.args[:2]:
                t = self.expr(a)
                if not isinstance(t, MEMCMP_TYPES):
                    raise self.error(f"memcmp() compares integers, strings, tuples, arrays "
                                     f"and structs, not {t}", a.span)
            t = self.expr(e.args[2])
            if not isinstance(t, IntType):
                raise self.error(f'Cannot cast from "{t}" to "uint64"', e.span)
            return INT32
        # signal_name, syscall_name: the number is cast to int32
        t = self.expr(e.args[0])
        if not isinstance(t, IntType):
            raise self.error(f'Cannot cast from "{t}" to "int32"', e.span)
        return StringType(NAME_LEN)
