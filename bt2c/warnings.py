"""Compile-time warnings, worded and placed as bpftrace v0.27 prints them.

bpftrace warns about scripts that compile but may not do what their author meant:
deprecated ``while`` loops, unreachable statements, discarded values, signed division,
implicit integer conversions, mixed address spaces, needless casts, unused declarations.
Its warnings follow from its own type system (literals get the smallest fitting width,
``pid`` is 32 bits, ``a - b`` is signed), which is not the one bt2c generates code with
(64-bit values), so this pass keeps a small shadow of bpftrace's integer types
(:class:`Shadow`) just to decide where bpftrace would warn.  It runs after semantic
analysis, reads the typed tree and changes nothing.  The rules were taken from the
reference's behaviour (tests/warnings records it) more than from its sources: where
they disagree with bpftrace, the tests say so.

bpftrace prints a script's warnings after all its passes, grouped by the pass that
found them; :data:`Warning.group` keeps that order (see ``PASSES``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from bt2c import ast
from bt2c.diagnostics import Source, Span, quote
from bt2c.types import AggType, BoolType, EnumType, IntType, PointerType, Type, VoidType

if TYPE_CHECKING:
    from bt2c.semantic import Analysis

#: bpftrace's passes that warn, in the order it runs them (and prints their warnings).
PASSES = ("unstable", "deprecated", "attach", "control-flow", "prune", "literals", "variables",
          "types", "casts", "checks")

WHILE_HINT = ("For loops support ranges (e.g. `for ($x : $start..$end) { ... }`), and can "
              "be used in place of while. These are more easily proven to be bounded by "
              "the verifier.")
PRINT_IN_LOOP = ("Due to it's asynchronous nature using 'print()' in a loop can lead to "
                 "unexpected behavior. The map will likely be updated before the runtime "
                 "can 'print' it.")
#: Builtins that bpftrace types narrower than bt2c's 64 bits.
_BUILTIN_BITS = {"pid": 32, "tid": 32}
#: bt2c calls that return nothing in bt2c's types but a value in bpftrace's.
_VALUE_CALLS = {"delete"}
_ARITH = {"+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>"}
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class Warning:  # noqa: A001 - the module's one public word for it
    """One warning: where, what, and bpftrace's hint if it gives one."""

    span: Span | None
    message: str
    group: str
    hint: str | None = None
    also: Span | None = None  #: a second location bpftrace prints ("expanded from")
    param: int = 0            #: $N that this warns is missing: depends on the run's arguments

    def render(self, source: Source) -> str:
        text = render(source, self.span, "WARNING", self.message)
        if self.also is not None:
            text += "\n" + render(source, self.also, "WARNING", "expanded from")
        if self.hint:
            text += f"\nHINT: {self.hint}"
        return text


def render(source: Source, span: Span | None, level: str, message: str) -> str:
    """bpftrace's form: ``FILE:LINE:COL-END: LEVEL: message``, the line, an underline
    (END is one past the last column); a span over several lines is ``FILE:L1-L2:``
    followed by those lines and no underline."""
    if span is None:
        return f"{level}: {message}"
    line, col = source.position(span.start)
    end_line, end_col = source.position(max(span.end - 1, span.start))
    if end_line != line:
        lines = "\n".join(source.line(n, span.start) for n in range(line, end_line + 1))
        return f"{source.name_at(span.start)}:{line}-{end_line}: {level}: {message}\n{lines}"
    _, _, text, underline = quote(source, span)
    end = col + max(1, span.end - span.start)
    return (f"{source.name_at(span.start)}:{line}:{col}-{end}: {level}: "
            f"{message}\n{text}\n{underline}")


def sort(warnings: list[Warning]) -> list[Warning]:
    """In the order bpftrace prints them: by pass, then as found."""
    return sorted(warnings, key=lambda w: PASSES.index(w.group))


def applies(param: int, params: list[str] | None) -> bool:
    """Whether a warning stands for a run with these positional parameters: one about
    ``$N`` does when $N is absent or empty; ``None`` (a build for any arguments) keeps
    such warnings back, as the tool takes its parameters when it runs."""
    if param == 0:
        return True
    return params is not None and (param > len(params) or params[param - 1] == "")


@dataclass(frozen=True)
class Shadow:
    """bpftrace's view of an integer value: width, sign, and the flags its rules test."""

    bits: int = 64
    signed: bool = False
    literal: bool = False    #: an integer literal (after folding): never warned about
    flexible: bool = False   #: a non-negative literal: takes the other operand's sign
    agg: bool = False        #: a count()/sum()/... value: converted without warnings
    space: str = "none"      #: address space: "none", "kernel" or "user"

    def name(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"

    def fits(self, other: Shadow) -> bool:
        """Whether every value of self is a value of other (bpftrace's FitsInto)."""
        if self.signed == other.signed:
            return self.bits <= other.bits
        return not self.signed and self.bits < other.bits


def _smallest(value: int) -> Shadow:
    """The type bpftrace gives an integer literal: the narrowest signed type that holds
    it, whose sign yields to the other operand's if it is not negative (a literal past
    INT64_MAX is uint64)."""
    for bits in (8, 16, 32, 64):
        if -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            return Shadow(bits, True, literal=True, flexible=value >= 0)
    return Shadow(64, False, literal=True)


def unify(a: Shadow | None, b: Shadow) -> Shadow:
    """The type of a variable or map given both values: bpftrace widens, keeps a sign
    and the first address space."""
    if a is None:
        return replace(b, literal=False)
    if b.flexible and not a.flexible:
        b = replace(b, signed=a.signed)
    elif a.flexible and not b.flexible:
        a = replace(a, signed=b.signed)
    return replace(promote(a, b), flexible=a.flexible and b.flexible, agg=a.agg,
                   space=a.space if a.space != "none" else b.space)


def promote(a: Shadow, b: Shadow) -> Shadow:
    """The narrowest type that holds the values of both (int64 for mixed signs, unless
    the signed one is wider than the unsigned one)."""
    if a.signed == b.signed:
        return Shadow(max(a.bits, b.bits), a.signed)
    signed, unsigned = (a, b) if a.signed else (b, a)
    return Shadow(signed.bits, True) if unsigned.bits < signed.bits else Shadow(64, True)


def _fold(op: str, a: int, b: int) -> int | None:
    """The value of a binary operation on two literals, as bpftrace folds it."""
    try:
        return {"+": a + b, "-": a - b, "*": a * b, "&": a & b, "|": a | b, "^": a ^ b,
                "/": int(a / b) if b else 0, "%": (abs(a) % abs(b)) * (1 if a >= 0 else -1)
                if b else 0, "<<": a << b if 0 <= b < 64 else 0,
                ">>": a >> b if 0 <= b < 64 else 0}[op]
    except KeyError:
        return None


class Linter:
    """Walks the analysed tree (three times: see :meth:`run`) and collects bpftrace's
    warnings."""

    def __init__(self, analysis: Analysis, source: Source) -> None:
        self.program = analysis.program
        self.source = source
        self.targets = analysis.targets
        self.aggs = {name: info.agg.kind for name, info in analysis.maps.items()
                     if info.agg is not None}
        self.out: list[Warning] = []
        self.collecting = False
        self.maps: dict[str, Shadow] = {}
        self.key_types: dict[str, dict[int, Shadow]] = {}
        self.used_maps: set[str] = set()
        self.var_types: dict[tuple[int, str], Shadow] = {}
        self.probe_index = 0
        self.assigned: set[str] = set()
        self.lets: list[tuple[str, Span]] = []   # ``let $x;`` of the current probe
        self.typed: set[str] = set()              # ``let $x: TYPE``: assignments convert
        self.assigned_casts: set[int] = set()     # id() of casts assigned to a variable/map
        self.loop_depth = 0
        self.space = "none"          # the probe's default address space
        self.pointer_fields: set[str] = set()   # tracepoint fields that are pointers
        self.args_space = "none"     # address space of the probe's args fields
        self.values: dict[int, int] = {}   # id(literal expression) -> its folded value

    def warn(self, span: Span | None, message: str, group: str, hint: str | None = None,
             also: Span | None = None, param: int = 0) -> None:
        if not self.collecting:
            self.out.append(Warning(span, message, group, hint, also, param))

    def run(self) -> list[Warning]:
        # bpftrace types a variable or map by all its assignments (``$a /= 2`` makes $a
        # 64-bit everywhere): two silent walks collect those types, the third warns.
        for collecting in (True, True, False):
            self.collecting = collecting
            for probe in self.program.probes:
                self.probe(probe)
        for decl in self.program.map_decls:
            if decl.name not in self.used_maps:
                self.warn(self.with_semicolon(decl.span), f"Unused map: {decl.name}",
                          "checks")
        return self.out

    # -- spans ----------------------------------------------------------------
    def with_semicolon(self, span: Span) -> Span:
        """The span and the ``;`` that ends it, as bpftrace's statement locations have."""
        text = self.source.text
        i = span.end
        while i < len(text) and text[i] in " \t":
            i += 1
        return Span(span.start, i + 1) if i < len(text) and text[i] == ";" else span

    def op_span(self, stmt: ast.Assign) -> Span:
        """``/= 2`` of ``$a /= 2``: where bpftrace places a compound assignment's operation."""
        start = self.source.text.find(stmt.op + "=", stmt.target.span.end, stmt.value.span.start)
        return Span(start if start >= 0 else stmt.span.start, stmt.value.span.end)

    # -- probes and statements -------------------------------------------------
    def probe(self, probe: ast.Probe) -> None:
        self.probe_index = probe.index
        self.assigned = set()
        self.lets = []
        self.typed = set()
        targets = self.targets.get(probe.index, [])
        providers = {t.provider for t in targets}
        if providers & {"uprobe", "uretprobe", "usdt"}:
            self.space = "user"
        elif providers & {"tracepoint", "kprobe", "kretprobe", "fentry", "fexit",
                          "rawtracepoint"}:
            self.space = "kernel"
        else:
            self.space = "none"
        syscalls = any(t.tracepoint is not None and t.tracepoint.category == "syscalls"
                       for t in targets)
        self.args_space = "user" if syscalls or self.space == "user" else self.space
        self.pointer_fields = {f.name for t in targets if t.tracepoint is not None
                               for f in t.tracepoint.fields if f.is_pointer}
        if probe.predicate is not None:
            self.expr(probe.predicate)
        self.block(probe.body)
        for name, span in self.lets:
            if name not in self.assigned:
                self.warn(span, f"Variable {name.split('#')[0]} was never assigned to.",
                          "variables")

    def block(self, block: ast.Block) -> bool:
        """Lint the statements; return whether the block always leaves (return, exit...)."""
        ends = False
        for i, stmt in enumerate(block.stmts):
            last = i == len(block.stmts) - 1
            last_value = block.value_last and last
            if ends:
                if last_value:
                    self.warn(stmt.span, "Unreachable expression; block type is "
                              "implicitly none.", "control-flow")
                else:
                    # (an expression statement's location ends at its ';', an
                    # assignment's does not)
                    expression = isinstance(stmt, ast.ExprStmt) and \
                        not isinstance(stmt.expr, ast.IncDec)
                    self.warn(self.with_semicolon(stmt.span) if expression else stmt.span,
                              "Unreachable statement.", "control-flow")
                break
            ends = self.stmt(stmt, last_value, last)
        return ends

    def stmt(self, stmt: ast.Stmt, value: bool = False,  # noqa: C901 - one dispatch
             last: bool = True) -> bool:
        if isinstance(stmt, ast.ExprStmt):
            e = stmt.expr
            self.expr(e)
            if not value and self.discards(e):
                # (bpftrace's statement ends at its ';', but the last one of a block, a
                # variable and a map end with the expression)
                bare = last or isinstance(e, (ast.Var, ast.Map))
                self.warn(e.span if bare else self.with_semicolon(e.span),
                          "Return value discarded.", "checks")
            return isinstance(e, ast.Call) and e.name == "exit"
        if isinstance(stmt, ast.Let):
            self.lets.append((stmt.var.name, stmt.span))
            if stmt.type_name is not None:
                self.typed.add(stmt.var.name)
            return False
        if isinstance(stmt, ast.Assign):
            self.assign(stmt)
            return False
        if isinstance(stmt, ast.If):
            self.expr(stmt.cond)
            a = self.block(stmt.then)
            b = self.block(stmt.other) if stmt.other else False
            return a and b
        if isinstance(stmt, ast.While):
            self.warn(stmt.span, "While loops are deprecated and may be removed in the "
                      "future.", "deprecated", WHILE_HINT)
            self.expr(stmt.cond)
            self.loop(stmt.body)
        elif isinstance(stmt, ast.ForRange):
            start, end = self.expr(stmt.start), self.expr(stmt.end)
            if start is not None and end is not None:
                self.set_var(stmt.var.name, unify(unify(None, start), end))
            self.loop(stmt.body)
        elif isinstance(stmt, ast.ForMap):
            self.used_maps.add(stmt.map.name)
            self.loop(stmt.body)
        elif isinstance(stmt, ast.Unroll):
            self.block(stmt.body)
        elif isinstance(stmt, ast.Jump):
            return True
        return False

    def loop(self, body: ast.Block) -> None:
        self.loop_depth += 1
        self.block(body)
        self.loop_depth -= 1

    def discards(self, e: ast.Expr) -> bool:
        """Whether bpftrace warns that the statement's value is thrown away."""
        if isinstance(e, ast.IncDec):
            return False
        if isinstance(e, ast.Call) and e.name in _VALUE_CALLS:
            return True
        if isinstance(e, ast.BlockExpr):
            return False    # its value was checked as the block's last statement
        if isinstance(e, ast.Var):
            return True
        return e.type is not None and not isinstance(e.type, VoidType)

    def assign(self, stmt: ast.Assign) -> None:
        target = stmt.target
        final = self.read_target(target) if not self.collecting else None
        cast = self.from_type(stmt.value.type) if isinstance(stmt.value, ast.Cast) else None
        if cast is not None and final is not None and stmt.op is None and \
                (cast.bits, cast.signed) != (final.bits, final.signed):
            # bpftrace converts the value to the variable's type by wrapping a copy of
            # it, and then names both places
            self.assigned_casts.add(id(stmt.value))
        value = self.expr(stmt.value)
        if isinstance(target, ast.Map):
            self.used_maps.add(target.name)
            self.map_keys(target)
        if stmt.op is not None:   # ``$a /= 2`` is ``$a = $a / 2``
            current = self.read_target(target)
            if current is not None and value is not None:
                value = self.arith(stmt.op, current, value, self.op_span(stmt),
                                   right_e=stmt.value, check_space=True)
            else:
                return
        if isinstance(target, ast.Var):
            self.assigned.add(target.name)
            if stmt.decl_type is not None:
                self.typed.add(target.name)
            if target.name in self.typed:
                if value is not None and isinstance(target.type, IntType):
                    declared = Shadow(target.type.bits, target.type.signed)
                    self.implicit(stmt.value, value, declared,
                                  self.op_span(stmt) if stmt.op else None)
                    self.set_var(target.name, declared, fixed=True)
            elif value is not None:
                self.set_var(target.name, value)
                if final is not None and stmt.op is None:
                    self.implicit(stmt.value, value, final)
        elif value is not None and target.name not in self.aggs:
            self.set_map(target.name, value)
            if final is not None and stmt.op is None:
                self.implicit(stmt.value, value, final)

    def map_keys(self, m: ast.Map) -> None:
        """A map's keys have one type per position, the widest of its uses: bpftrace
        converts each key to it, and warns where that may change the key."""
        keys = [self.expr(k) for k in m.keys]
        known = self.key_types.setdefault(m.name, {})
        for i, (node, key) in enumerate(zip(m.keys, keys)):
            if key is None:
                continue
            if self.collecting:
                known[i] = unify(known.get(i), key)
            elif i in known:
                # several keys are a tuple, converted element by element from a copy
                self.implicit(node, key, known[i], also=len(m.keys) > 1)

    def set_var(self, name: str, value: Shadow, fixed: bool = False) -> None:
        if self.collecting:
            key = (self.probe_index, name)
            self.var_types[key] = value if fixed else unify(self.var_types.get(key), value)

    def set_map(self, name: str, value: Shadow) -> None:
        if self.collecting:
            self.maps[name] = unify(self.maps.get(name), replace(value, space="none"))

    def read_target(self, target: ast.Expr) -> Shadow | None:
        """The current value of an assignment's target, for ``op=`` and ``++``."""
        if isinstance(target, ast.Var):
            return self.var_types.get((self.probe_index, target.name)) or \
                self.from_type(target.type)
        if isinstance(target, ast.Map):
            if target.name in self.aggs:
                return None
            return self.maps.get(target.name) or self.from_type(target.type)
        return None

    # -- expressions ------------------------------------------------------------
    def children(self, e: ast.Expr) -> None:
        for _, value in ast.child_fields(e):
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, ast.Expr):
                    self.expr(item)
                elif isinstance(item, ast.Block):
                    self.block(item)

    def expr(self, e: ast.Expr) -> Shadow | None:  # noqa: C901 - one dispatch over node kinds
        """Lint ``e`` and return bpftrace's integer type for it (None: not an integer)."""
        if isinstance(e, ast.Int):
            self.values[id(e)] = e.value
            return replace(_smallest(e.value), space=self.space)
        if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.Int):
            self.values[id(e)] = -e.operand.value
            return replace(_smallest(-e.operand.value), space=self.space)
        if isinstance(e, ast.Param):
            if e.index > 0:
                self.warn(e.span, f"Positional parameter ${e.index} is empty or not "
                          "provided. ", "literals", param=e.index)
            # bpftrace folds a positional parameter into a literal of its value
            return Shadow(8, True, literal=True, flexible=True, space=self.space)
        if isinstance(e, (ast.SizeOf, ast.OffsetOf)):
            self.children(e)
            return Shadow(64, False, literal=True, space=self.space)
        if isinstance(e, ast.Var):
            return self.read_target(e)
        if isinstance(e, ast.Map):
            self.used_maps.add(e.name)
            self.map_keys(e)
            if e.name in self.aggs:
                return self.from_type(e.type, agg=True)
            return self.maps.get(e.name) or self.from_type(e.type)
        if isinstance(e, ast.Builtin):
            if e.name == "default_str_length":
                return Shadow(64, False, literal=True)  # a sizeof() in bpftrace's macro
            if isinstance(e.type, EnumType):   # an enumerator: a constant of no address space
                return Shadow(64, False, space="none")
            if e.name in _BUILTIN_BITS:
                return Shadow(_BUILTIN_BITS[e.name], False, space=self.space)
            if re.fullmatch(r"arg\d+|retval", e.name):
                s = self.from_type(e.type)
                return replace(s, space=self.args_space) if s else None
            s = self.from_type(e.type)
            return replace(s, space=self.space) if s else None
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Unary):
            inner = self.expr(e.operand)
            if e.op in ("-", "~") and inner is not None:
                return Shadow(64, True, space=inner.space)
            return None if e.op == "!" else inner
        if isinstance(e, ast.Cast):
            inner = self.expr(e.expr)
            self.unnecessary_cast(e, inner)
            self.literal_cast(e, id(e) in self.assigned_casts)
            s = self.from_type(e.type)
            return replace(s, space=inner.space) if s and inner else s
        if isinstance(e, ast.Field):
            self.expr(e.expr)
            s = self.from_type(e.type)
            if s is None:
                return None
            if isinstance(e.expr, ast.Builtin) and e.expr.name == "args":
                if e.name in self.pointer_fields:
                    return None   # a pointer in bpftrace's types: pointer arithmetic
                return replace(s, space=self.args_space)
            base = e.expr.type
            if isinstance(base, PointerType):
                return replace(s, space="user" if base.user else "kernel")
            return replace(s, space=self.space)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.IncDec):
            current = self.read_target(e.target)
            if isinstance(e.target, ast.Map):
                self.map_keys(e.target)
                self.used_maps.add(e.target.name)
            if current is None:
                return self.from_type(e.type)
            value = self.arith(e.op[0], current, _smallest(1), e.span)
            if isinstance(e.target, ast.Var):
                self.set_var(e.target.name, value)
            elif e.target.name not in self.aggs:
                self.set_map(e.target.name, value)
            return current
        if isinstance(e, ast.Ternary):
            self.expr(e.cond)
            a, b = self.expr(e.then), self.expr(e.other)
            if a is None or b is None:
                return self.from_type(e.type)
            if a.literal and b.literal:
                return replace(a, flexible=a.flexible and b.flexible)
            # both branches are converted to one type
            if a.flexible and not b.flexible:
                a = replace(a, signed=b.signed)
            elif b.flexible and not a.flexible:
                b = replace(b, signed=a.signed)
            common = promote(a, b)
            self.implicit(e.then, a, common)
            self.implicit(e.other, b, common)
            return common
        if isinstance(e, ast.BlockExpr):
            self.block(e.block)
            return self.from_type(e.type)
        self.children(e)
        return self.from_type(e.type)

    def from_type(self, t: Type | None, agg: bool = False) -> Shadow | None:
        if isinstance(t, AggType):
            return Shadow(64, t.kind != "count" and t.signed, agg=True)
        if isinstance(t, (BoolType, PointerType)) or not isinstance(t, IntType):
            return None
        return Shadow(t.bits, t.signed, agg=agg, space=self.space)

    def call(self, e: ast.Call) -> Shadow | None:
        for a in e.args:
            self.expr(a)
        if e.name == "find" and len(e.args) == 3 and isinstance(e.args[2], ast.Var):
            self.assigned.add(e.args[2].name)   # find(@m, key, $var) may set $var
        if e.name == "print" and e.args and isinstance(e.args[0], ast.Map):
            if self.loop_depth:
                self.warn(e.span, PRINT_IN_LOOP, "checks")
            if len(e.args) > 1 and self.aggs.get(e.args[0].name) == "stats":
                self.warn(e.span, "print()'s top and div arguments are ignored when used "
                          "on stats() maps.", "checks")
        for a in e.args:
            if isinstance(a, ast.Map):
                self.used_maps.add(a.name)
        if e.name == "default_str_length" or (
                e.name == "strcap" and not isinstance(e.args[0].type, PointerType)):
            return Shadow(64, False, literal=True)  # a sizeof() in bpftrace's macros
        s = self.from_type(e.type)
        return replace(s, space=self.space) if s else None

    def binary(self, e: ast.Binary) -> Shadow | None:
        left, right = self.expr(e.left), self.expr(e.right)
        if e.op in ("&&", "||"):
            if left is not None and right is not None:
                self.space_check(e, left, right)
            return None
        if left is None or right is None:
            return None
        if e.op in _COMPARE:
            space = self.space_check(e, left, right)
            self.compare_casts(e, left, right)
            _ = space
            return None
        if left.literal and right.literal:
            lv, rv = self.values.get(id(e.left)), self.values.get(id(e.right))
            if lv is not None and rv is not None:
                v = _fold(e.op, lv, rv)
                if v is not None:
                    self.values[id(e)] = v
                    return _smallest(v)
            return Shadow(64, left.signed or right.signed, literal=True)
        return self.arith(e.op, left, right, e.span, e.right, e.left, check_space=True)

    def space_check(self, e: ast.Binary | Span, left: Shadow, right: Shadow) -> str:
        """bpftrace's warning for an operation on values from two address spaces (a
        syscall's arguments are user memory; the probe's own values are not)."""
        if left.space != right.space and "none" not in (left.space, right.space):
            self.warn(e if isinstance(e, Span) else e.span, "Addrspace mismatch", "types")
            return "none"
        return left.space if left.space != "none" else right.space

    def arith(self, op: str, left: Shadow, right: Shadow, span: Span,
              right_e: ast.Expr | None = None, left_e: ast.Expr | None = None,
              check_space: bool = False) -> Shadow:
        """bpftrace's rules for an arithmetic operation: the result's type, and the
        warnings for signed division and for operands converted to a type that does
        not hold all their values."""
        if check_space:
            space = self.space_check(span, left, right)
        else:
            space = left.space if left.space != "none" else right.space
        if left.flexible and not right.flexible:
            left = replace(left, signed=right.signed)
        elif right.flexible and not left.flexible:
            right = replace(right, signed=left.signed)
        same = (left.bits, left.signed) == (right.bits, right.signed)
        if same:
            signed = left.signed or op == "-"
        else:
            signed = (left.signed if op in ("<<", ">>") else left.signed or right.signed) \
                or op == "-"
            if op in ("/", "%") and (left.signed or right.signed):
                self.warn(span, f"signed operands for '{op}' can lead to undefined behavior "
                          "(cast to unsigned to silence warning)", "types")
        result = Shadow(64, signed, space=space)
        for operand, node in ((left, left_e), (right, right_e)):
            if node is not None:
                self.implicit(node, operand, result)
        return result

    def compare_casts(self, e: ast.Binary, left: Shadow, right: Shadow) -> None:
        """A comparison converts both sides to their common type first."""
        if left.flexible and not right.flexible:
            left = replace(left, signed=right.signed)
        elif right.flexible and not left.flexible:
            right = replace(right, signed=left.signed)
        if (left.bits, left.signed) == (right.bits, right.signed):
            return
        common = promote(left, right)
        self.implicit(e.left, left, common)
        self.implicit(e.right, right, common)

    def implicit(self, node: ast.Expr, have: Shadow, want: Shadow,
                 span: Span | None = None, also: bool = False) -> None:
        """bpftrace's warning for a conversion that may change the value."""
        if have.literal or have.agg or have.fits(want):
            return
        if (have.bits, have.signed) == (want.bits, want.signed):
            return
        if span is None:
            span = self.cast_span(node) if isinstance(node, ast.Cast) else node.span
        self.warn(span, f"Expression of type: {have.name()} being cast to type: "
                  f"{want.name()}. This may cause unexpected results. Use an explicit cast "
                  "to suppress this warning.", "casts", also=span if also else None)

    def cast_span(self, e: ast.Cast) -> Span:
        """``(TYPE)`` of ``(TYPE)expr``: where bpftrace places a cast."""
        end = self.source.text.find(")", e.span.start, e.span.end)
        return Span(e.span.start, end + 1 if end >= 0 else e.span.end)

    def unnecessary_cast(self, e: ast.Cast, inner: Shadow | None) -> None:
        t = e.type
        if isinstance(t, PointerType):
            if isinstance(e.expr.type, PointerType) and str(e.expr.type) == str(t):
                self.warn(self.cast_span(e), f"Unnecessary cast: expression is already of "
                          f"type {t}", "checks")
            return
        if inner is None or not isinstance(t, IntType) or inner.literal or inner.agg:
            return
        if (inner.bits, inner.signed) == (t.bits, t.signed):
            self.warn(self.cast_span(e), f"Unnecessary cast: expression is already of type {t}",
                      "checks")

    def literal_cast(self, e: ast.Cast, assigned: bool) -> None:
        """``(int8)1``: bpftrace folds the literal to the cast's type and then finds the
        cast unnecessary (twice over when the value is assigned)."""
        t = e.type
        v = self.values.get(id(e.expr))
        if v is None or not isinstance(t, IntType) or isinstance(t, PointerType):
            return
        if (_smallest(v).bits, _smallest(v).signed) == (t.bits, t.signed):
            span = self.cast_span(e)
            self.warn(span, f"Unnecessary cast: expression is already of type {t}",
                      "checks", also=span if assigned else None)


def lint(analysis: Analysis, source: Source) -> list[Warning]:
    """bpftrace's compile-time warnings for an analysed program."""
    return Linter(analysis, source).run()
