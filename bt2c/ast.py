"""The syntax tree: small dataclasses, each with the span it came from.

Expression nodes get a ``type`` filled in by :mod:`bt2c.semantic`; nothing else
in the tree changes after parsing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field

from bt2c.diagnostics import Source, Span
from bt2c.types import Type


def child_fields(node: object) -> Iterator[tuple[str, object]]:
    """(name, value) of each field of a node that may hold other nodes: every field but
    its span and type.  The one place that knows how to descend the tree generically."""
    for f in dataclasses.fields(node):  # type: ignore[arg-type]
        if f.name not in ("span", "type") and \
                not (f.name == "then" and getattr(node, "elvis", False)):  # `a ?: b`: a once
            yield f.name, getattr(node, f.name)


def walk(node: object) -> Iterator[Node]:
    """``node`` and every node below it, parents first (lists are descended into)."""
    if isinstance(node, list):
        for item in node:
            yield from walk(item)
    elif isinstance(node, Node):
        yield node
        for _, value in child_fields(node):
            yield from walk(value)


@dataclass
class Node:
    """Base of every node."""

    span: Span


@dataclass
class Expr(Node):
    """Base of expressions."""

    type: Type | None = field(default=None, init=False, compare=False, repr=False)


@dataclass
class Int(Expr):
    value: int


@dataclass
class Str(Expr):
    value: str


@dataclass
class Var(Expr):
    """A scratch variable ``$name``."""

    name: str


@dataclass
class Param(Expr):
    """A positional parameter ``$1`` or ``$#`` (index ``0`` stands for ``$#``)."""

    index: int


@dataclass
class Map(Expr):
    """``@name`` or ``@name[k1, k2]``; keys is empty for a scalar map."""

    name: str
    keys: list[Expr]


@dataclass
class Builtin(Expr):
    """pid, comm, nsecs, args, ..."""

    name: str


@dataclass
class Call(Expr):
    name: str
    args: list[Expr]
    #: a call bpftrace evaluates at compile time (is_str(), kfunc_exist(), ...): its
    #: value, set by the semantic pass (see :mod:`bt2c.comptime`)
    folded: int | None = field(default=None, init=False, compare=False)


@dataclass
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass
class Unary(Expr):
    op: str
    operand: Expr


@dataclass
class IncDec(Expr):
    """``x++``, ``++x``, ``x--``, ``--x`` on a variable or map element."""

    op: str
    prefix: bool
    target: Expr


@dataclass
class Ternary(Expr):
    cond: Expr
    then: Expr
    other: Expr
    elvis: bool = False  #: ``cond ?: other``: ``then`` is ``cond`` itself, evaluated once


@dataclass
class Tuple(Expr):
    items: list[Expr]
    names: list[str] | None = None  #: a record, ``(a=1, b="x")``


@dataclass
class Field(Expr):
    """``expr.name`` (``args.fd``) or ``expr.N`` (tuple element)."""

    expr: Expr
    name: str
    arrow: bool = False


@dataclass
class Index(Expr):
    """``expr[index]`` on an array or pointer (maps have their own node)."""

    expr: Expr
    index: Expr


@dataclass
class TypeOf(Expr):
    """``typeof(TYPE)`` or ``typeof(EXPR)`` where a type is written (``let $x:``, casts,
    sizeof, offsetof, container_of): the type itself; EXPR is never evaluated."""

    type_name: str | None
    expr: Expr | None


@dataclass
class Cast(Expr):
    type_name: str
    expr: Expr
    type_of: TypeOf | None = None  #: ``(typeof(x))v`` (type_name is then "typeof")


@dataclass
class SizeOf(Expr):
    """``sizeof(TYPE)`` (type_name set) or ``sizeof(expr)``."""

    type_name: str | None
    expr: Expr | None
    value: int = field(default=0, init=False, compare=False)


@dataclass
class OffsetOf(Expr):
    """``offsetof(TYPE, a.b)``."""

    type_name: str
    fields: list[str]
    value: int = field(default=0, init=False, compare=False)
    type_of: TypeOf | None = None


@dataclass
class ContainerOf(Expr):
    """``container_of(ptr, TYPE, member)``: the TYPE object holding ``*ptr`` as ``member``."""

    ptr: Expr
    type_name: str
    fields: list[str]
    value: int = field(default=0, init=False, compare=False)  #: the member's offset
    type_of: TypeOf | None = None


@dataclass
class Stmt(Node):
    """Base of statements."""


@dataclass
class ExprStmt(Stmt):
    expr: Expr


@dataclass
class Assign(Stmt):
    """``target = value`` or compound ``target op= value`` (op is e.g. ``+``)."""

    target: Expr
    op: str | None
    value: Expr
    decl: bool = False  #: ``let $x = value``: declares $x in the enclosing block
    decl_type: str | None = None  #: ``let $x: TYPE = value``
    decl_type_of: TypeOf | None = None  #: ``let $x: typeof(...) = value``


@dataclass
class Let(Stmt):
    """``let $x;`` or ``let $x: TYPE;``: declares $x in the enclosing block."""

    var: Var
    type_name: str | None
    type_of: TypeOf | None = None


@dataclass
class Block(Node):
    stmts: list[Stmt]
    value_last: bool = False  #: ends in an expression with no ';': the block's value


@dataclass
class BlockExpr(Expr):
    """``{ stmts; expr }`` used as an expression (also what a macro call expands to)."""

    block: Block

    @property
    def value(self) -> Expr | None:
        last = self.block.stmts[-1] if self.block.stmts else None
        return last.expr if self.block.value_last and isinstance(last, ExprStmt) else None

    @property
    def body(self) -> list[Stmt]:
        return self.block.stmts[:-1] if self.value is not None else self.block.stmts


@dataclass
class If(Stmt):
    cond: Expr
    then: Block
    other: Block | None
    #: ``if comptime (cond)``: decided when the script is compiled; the semantic pass
    #: leaves only the branch taken in ``then`` (and ``other`` None)
    comptime: bool = False
    #: the statements of the branch ``if comptime`` dropped, for the C's comments
    dropped: list[Span] = field(default_factory=list)


@dataclass
class Unroll(Stmt):
    count: int
    body: Block


@dataclass
class While(Stmt):
    cond: Expr
    body: Block


@dataclass
class ForRange(Stmt):
    var: Var
    start: Expr
    end: Expr
    body: Block


@dataclass
class ForMap(Stmt):
    var: Var
    map: Map
    body: Block


@dataclass
class Jump(Stmt):
    """break, continue or return."""

    kind: str
    value: Expr | None = None  #: ``return EXPR;``: the probe program's return value


@dataclass
class AttachPoint(Node):
    """One attach point, split on ':' (``tracepoint:syscalls:sys_enter_openat``)."""

    raw: str
    provider: str
    parts: list[str]


@dataclass
class Probe(Node):
    attach_points: list[AttachPoint]
    predicate: Expr | None
    body: Block
    index: int = 0


@dataclass
class CDefinition(Node):
    """C text before the probes: a struct/union/enum/typedef definition."""

    text: str


@dataclass
class Macro(Node):
    """``macro name(params) { body }``: params are ``$var``, ``@map`` or expression names."""

    name: str
    params: list[str]
    body: Block


@dataclass
class MapDecl(Node):
    """``let @name = KIND(max_entries);`` before the probes: the map's BPF type and size."""

    name: str
    kind: str
    max_entries: int


@dataclass
class Program(Node):
    probes: list[Probe]
    config: dict[str, object] = field(default_factory=dict)
    c_definitions: list[CDefinition] = field(default_factory=list)
    includes: list[str] = field(default_factory=list)   # preprocessor lines, as written
    map_decls: list[MapDecl] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)
    #: The text every span points into: the script followed by the files it imports.
    source: Source | None = field(default=None, compare=False, repr=False)
