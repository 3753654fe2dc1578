"""bpftrace's compile-time functions: is_str(), is_integer(), is_unsigned_integer(),
is_ptr(), is_array(), is_literal(), kfunc_exist(), kfunc_allowed(), static_assert(),
fail() and ``comptime``/``if comptime``; plus is_err() and find(), the other
standard-library macros that bpftrace builds from compile-time pieces.

A mixin of :class:`bt2c.semantic.Analyzer`.  The predicates are answered from the
types the analysis gives their argument, and the answer is kept in the call node
(``Call.folded``): the generated C holds only the constant, and the argument is
never evaluated, as in bpftrace (where they are macros over ``typeinfo()``).
static_assert() and fail() stop the compilation with bpftrace's messages.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.diagnostics import Bt2cError
from bt2c.kfuncs import kfunc_allowed, kfunc_exist
from bt2c.types import (
    BOOL,
    INT64,
    VOID,
    AggType,
    ArrayType,
    BoolType,
    FormattedInt,
    IntType,
    PointerType,
    StringType,
    StructType,
    Type,
)

if TYPE_CHECKING:
    from bt2c.semantic import Analyzer

#: Predicates on the argument's type, folded to true/false.
TYPE_PREDICATES = {"is_str", "is_integer", "is_unsigned_integer", "is_ptr", "is_array"}
COMPTIME_FUNCTIONS = TYPE_PREDICATES | {"is_literal", "kfunc_exist", "kfunc_allowed",
                                        "static_assert", "fail", "comptime", "is_err",
                                        "find", "write_user"}
#: printf conversions fail() formats: flags, width, precision, length, conversion.
_CONVERSION = re.compile(r"%([-+ #0]*\d*(?:\.\d+)?)(?:hh|h|ll|l|z|j)?([diouxXcsp%])")


def _is_integer(t: Type | None) -> bool:
    """bpftrace's "int" base type: not bool, pointers, or formatted values."""
    return isinstance(t, IntType) and not isinstance(t, (BoolType, PointerType, FormattedInt))


def type_predicate(name: str, t: Type | None, pointer: bool = False) -> bool:
    """``pointer``: the value is a pointer bt2c keeps as an integer (a tracepoint's
    ``char *`` field, say)."""
    if name == "is_str":
        return isinstance(t, StringType)
    if name == "is_ptr":
        return pointer or isinstance(t, PointerType)
    if pointer:
        return False
    if name == "is_array":
        return isinstance(t, ArrayType)
    if name == "is_integer":
        return _is_integer(t)
    return _is_integer(t) and not t.signed  # type: ignore[union-attr]


def is_literal(e: ast.Expr) -> bool:
    """bpftrace's literals after its constant folding: numbers, strings, booleans,
    positional parameters, and operators over literals (``-1``, ``1 + 2``, ``!1``)."""
    if isinstance(e, (ast.Int, ast.Str, ast.Param)):
        return True
    if isinstance(e, ast.Builtin):
        return e.name in ("true", "false")
    if isinstance(e, ast.Unary):
        return e.op != "*" and is_literal(e.operand)
    if isinstance(e, ast.Binary):
        return is_literal(e.left) and is_literal(e.right)
    if isinstance(e, ast.Ternary):
        return is_literal(e.cond) and is_literal(e.then) and is_literal(e.other)
    return False


def _wrap(value: int, t: Type | None) -> int:
    """``value`` as a C integer of type ``t`` holds it."""
    if not isinstance(t, IntType) or isinstance(t, BoolType):
        return int(bool(value)) if isinstance(t, BoolType) else value
    value &= (1 << t.bits) - 1
    if t.signed and value >= 1 << (t.bits - 1):
        value -= 1 << t.bits
    return value


def const_value(e: ast.Expr) -> int | None:  # noqa: C901 - one dispatch over node kinds
    """The value of an integer expression known when the script is compiled, or None."""
    if isinstance(e, ast.Int):
        return e.value
    if isinstance(e, ast.Builtin) and e.name in ("true", "false"):
        return int(e.name == "true")
    if isinstance(e, ast.Call):
        return e.folded
    if isinstance(e, (ast.SizeOf, ast.OffsetOf)):
        return e.value
    if isinstance(e, ast.BlockExpr) and e.value is not None and not e.body:
        return const_value(e.value)
    if isinstance(e, ast.Cast) and isinstance(e.type, IntType) \
            and not isinstance(e.type, PointerType):
        inner = const_value(e.expr)
        return None if inner is None else _wrap(inner, e.type)
    if isinstance(e, ast.Unary):
        v = const_value(e.operand)
        if v is None or e.op == "*":
            return None
        return {"!": int(not v), "-": -v, "~": ~v}[e.op]
    if isinstance(e, ast.Ternary):
        c = const_value(e.cond)
        return None if c is None else const_value(e.then if c else e.other)
    if isinstance(e, ast.Binary):
        a = const_value(e.left)
        if e.op in ("&&", "||") and a is not None and bool(a) == (e.op == "||"):
            return int(bool(a))   # short-circuit: the right side does not matter
        b = const_value(e.right)
        if a is None or b is None:
            return None
        return _binary(e.op, a, b, e.type)
    return None


def _binary(op: str, a: int, b: int, t: Type | None) -> int | None:
    if op in ("/", "%") and b == 0:
        return None
    if op in ("/", "%"):   # C's: the quotient rounds toward zero
        q = abs(a) // abs(b)
        q = q if (a < 0) == (b < 0) else -q
        return _wrap(q if op == "/" else a - b * q, t)
    ops = {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b,
           "<<": a << (b & 63), ">>": a >> (b & 63), "==": a == b, "!=": a != b,
           "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b,
           "&&": bool(a) and bool(b), "||": bool(a) or bool(b)}
    value = ops.get(op)
    if value is None:
        return None
    return int(value) if isinstance(value, bool) else _wrap(value, t)


def format_fail(fmt: str, values: list[int | str]) -> str:
    """fail()'s message: its printf format applied to its literal arguments."""
    it = iter(values)

    def conv(m: re.Match[str]) -> str:
        if m[2] == "%":
            return "%"
        value = next(it, "")
        spec = m[1]
        kind = m[2]
        if kind in "diu":
            kind = "d"
        elif kind == "p":
            kind, spec = "x", "#" + spec
        if isinstance(value, str) and kind != "s":
            kind = "s"
        try:
            return f"%{spec}{kind}" % value
        except (TypeError, ValueError):
            return str(value)

    return _CONVERSION.sub(conv, fmt)


class ComptimeCalls:
    """Semantic rules of the compile-time functions (a mixin of Analyzer)."""

    def comptime_call(self: Analyzer, e: ast.Call) -> Type:  # noqa: C901 - one dispatch
        name = e.name
        if name in TYPE_PREDICATES or name == "is_literal":
            self.no_matching_definition(e, 1)
            t = self.expr(e.args[0])
            e.folded = int(is_literal(e.args[0]) if name == "is_literal"
                           else type_predicate(name, t, self.tracepoint_pointer(e.args[0])))
            return BOOL
        if name in ("kfunc_exist", "kfunc_allowed"):
            self.no_matching_definition(e, 1)
            arg = e.args[0]
            self.expr(arg)
            if not isinstance(arg, ast.Str):
                raise self.error(f"{name}() accepts a string literal only", e.span)
            if name == "kfunc_exist":
                e.folded = int(kfunc_exist(arg.value))
            else:
                targets = self.result.targets[self.probe.index]  # type: ignore[union-attr]
                provider = targets[0].provider if targets else "begin"
                e.folded = int(kfunc_allowed(arg.value, provider))
            return BOOL
        if name == "comptime":
            t = self.expr(e.args[0])
            e.folded = self.comptime_value(e.args[0], e)
            return t
        if name == "static_assert":
            self.no_matching_definition(e, 2)
            self.expr(e.args[0])
            if not self.comptime_value(e.args[0], e):
                self.fail(e, e.args[1:])
            return VOID
        if name == "find":
            return self.find(e)
        if name == "write_user":
            return self.write_user(e)
        if name == "fail":
            if not e.args:
                raise self.error("fail() requires at least one argument (0 provided)", e.span)
            self.fail(e, e.args)
        # is_err(ptr): the kernel's IS_ERR(), at run time
        self.no_matching_definition(e, 1)
        t = self.expr(e.args[0])
        if not isinstance(t, IntType):
            raise self.error(f'Cannot cast from "{t}" to "int64"', e.span)
        return BOOL

    def find(self: Analyzer, e: ast.Call) -> Type:
        """find(@map, key, $var): true and $var set to the key's value if the key is in
        the map (one lookup), else false and $var unchanged."""
        self.no_matching_definition(e, 3)
        m, key, var = e.args
        if not isinstance(m, ast.Map) or m.keys or not isinstance(var, ast.Var):
            self.no_matching_definition(e, -1)
        assert isinstance(m, ast.Map) and isinstance(var, ast.Var)
        info = self.map_info(m)
        if info.key == []:
            raise self.error(f"{m.name} used as a map with an explicit key (non-scalar map), "
                             "previously used without an explicit key (scalar map)", e.span)
        keys = key.items if isinstance(key, ast.Tuple) else [key]
        try:
            self.map_keys(ast.Map(m.span, m.name, keys), info)
        except Bt2cError as exc:
            raise self.error(exc.message, e.span) from None
        # (a map assigned in a later probe is known in the final pass)
        value = self.map_value_read_type(info, m.span) if info.value is not None else INT64
        if isinstance(value, AggType):
            raise self.error(f"Value '{value}' cannot be assigned to a scratch variable.",
                             e.span)
        if var.name.split("#")[0] in self.renames:   # declared (`let $v;`) or assigned
            self.resolve(var)
            self.bind_var(var, value, e.span)
        else:
            # bpftrace assigns $var inside the macro's block: an undeclared variable
            # exists only there
            self.scopes.append([])
            self.declare(var)
            self.bind_var(var, value, e.span)
            self.end_scope()
        return BOOL

    def write_user(self: Analyzer, e: ast.Call) -> Type:
        """write_user(dst, src, len): bpf_probe_write_user() of ``len`` bytes of the
        program's value ``src`` (a string, array or struct) to user address ``dst``;
        true on success.  Unsafe, as in bpftrace."""
        self.no_matching_definition(e, 3)
        if not self.unsafe:
            raise self.error("write_user() is unsafe. To use you need the --unsafe flag",
                             e.span)
        dst, src, n = e.args
        for arg, to in ((dst, "void *"), (n, "uint32")):
            t = self.expr(arg)
            if not isinstance(t, IntType) or isinstance(t, FormattedInt):
                raise self.error(f'Cannot cast from "{t}" to "{to}"', e.span)
        t = self.expr(src)
        if not isinstance(t, (StringType, ArrayType, StructType)):
            raise self.error("write_user() writes from the program's memory: its source "
                             f"must be a string, an array or a struct value, not '{t}'",
                             src.span)
        size = len(src.value.encode()) + 1 if isinstance(src, ast.Str) else t.size
        if isinstance(n, ast.Int) and not 0 < n.value <= size:
            raise self.error(f"write_user() can write 1 to {size} bytes of this value "
                             f"({n.value} requested)", n.span)
        return BOOL

    def comptime_value(self: Analyzer, cond: ast.Expr, where: ast.Expr) -> int:
        """The compile-time value of a typed expression; bpftrace's error if it has none."""
        value = const_value(cond)
        if value is None:
            raise self.error("Unable to resolve comptime expression", where.span)
        return value

    def fail(self: Analyzer, e: ast.Call, args: list[ast.Expr]) -> None:
        """fail(fmt, ...): stop with the formatted message, at the call (bpftrace reports
        a static_assert() at the call too: its stdlib fail() is expanded from there)."""
        fmt = args[0]
        if not isinstance(fmt, ast.Str):
            t = self.expr(fmt)
            shown = "string" if isinstance(t, StringType) else "int" if isinstance(
                t, IntType) else t
            raise self.error(f"fail() expects a string literal ({shown} provided)", e.span)
        values: list[int | str] = []
        for a in args[1:]:
            self.expr(a)
            if isinstance(a, ast.Str):
                values.append(a.value)
                continue
            v = const_value(a) if is_literal(a) and not isinstance(a, ast.Param) else None
            if v is None:
                raise self.error("fail() arguments need to be literals", e.span)
            values.append(v)
        raise self.error(format_fail(fmt.value, values), e.span)
