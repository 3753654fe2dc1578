"""bpftrace macros: expanded into block expressions right after parsing.

``macro add_one(x) { x + 1 }`` called as ``add_one($v)`` becomes the block
expression ``{ $v + 1 }``.  A parameter's spelling says what it takes, as in
bpftrace: ``$a`` a scratch variable (the macro may change it), ``@m`` a map, and
a plain name any expression, substituted wherever the name appears.  Variables
the body creates are its own (the macros are hygienic): they are renamed so they
cannot meet the caller's.  Expanded nodes keep the spans of the macro body, so
diagnostics and the ``/* line N: */`` comments point into the macro.
"""

from __future__ import annotations

import copy
import dataclasses

from bt2c import ast
from bt2c.diagnostics import Bt2cError, Source

MAX_DEPTH = 16  #: macros calling macros, deeper than this is taken for recursion


def expand_macros(program: ast.Program, source: Source) -> None:
    """Replace every macro call in the program's probes by its expansion."""
    expander = _Expander(program.macros, source)
    for probe in program.probes:
        if probe.predicate is not None:
            probe.predicate = expander.rewrite(probe.predicate, 0)
        probe.body = expander.rewrite(probe.body, 0)


class _Expander:
    def __init__(self, macros: dict[str, ast.Macro], source: Source):
        self.macros = macros
        self.source = source
        self.count = 0

    def rewrite(self, node, depth: int, chain: tuple[str, ...] = ()):  # noqa: ANN001, ANN201
        """``node`` with macro calls expanded, children first (``chain``: the macros
        being expanded around it, to catch recursion)."""
        if isinstance(node, list):
            return [self.rewrite(n, depth, chain) for n in node]
        if not dataclasses.is_dataclass(node) or isinstance(node, type):
            return node
        for name, value in list(ast.child_fields(node)):
            new = self.rewrite(value, depth, chain)
            if new is not value:
                setattr(node, name, new)
        if isinstance(node, ast.Call) and node.name in self.macros:
            return self.expand(node, node.args, depth, chain)
        if isinstance(node, ast.Builtin) and node.name in self.macros:
            return self.expand(node, [], depth, chain)  # a bare name: a macro with no params
        return node

    def expand(self, call: ast.Expr, args: list[ast.Expr], depth: int,
               chain: tuple[str, ...] = ()) -> ast.BlockExpr:
        name = call.name  # type: ignore[attr-defined]
        macro = self.macros[name]
        if name in chain or depth >= MAX_DEPTH:
            raise Bt2cError("Recursive macro call detected. Call chain: "
                            + " > ".join((*chain, name)), call.span, self.source)
        mismatch = Bt2cError(f"Call to {name}() has arguments that do not match any "
                             "definition.", call.span, self.source)
        if len(args) != len(macro.params):
            raise mismatch
        self.count += 1
        vars_: dict[str, str] = {}
        maps: dict[str, str] = {}
        exprs: dict[str, ast.Expr] = {}
        for param, arg in zip(macro.params, args):
            if param.startswith("$"):
                if not isinstance(arg, ast.Var):
                    raise mismatch
                vars_[param] = arg.name
            elif param.startswith("@"):
                if not isinstance(arg, ast.Map) or arg.keys:
                    raise mismatch
                maps[param] = arg.name
            else:
                exprs[param] = arg
        body = copy.deepcopy(macro.body)
        self._substitute(body, vars_, maps, exprs, f"$__{name}{self.count}_")
        body = self.rewrite(body, depth + 1, (*chain, name))
        return ast.BlockExpr(call.span, body)

    def _substitute(self, node, vars_: dict[str, str], maps: dict[str, str],  # noqa: ANN001
                    exprs: dict[str, ast.Expr], prefix: str):  # noqa: ANN202
        """Bind the parameters in the copied body, in place; returns the node to use."""
        if isinstance(node, list):
            return [self._substitute(n, vars_, maps, exprs, prefix) for n in node]
        if not dataclasses.is_dataclass(node) or isinstance(node, type):
            return node
        if isinstance(node, ast.Builtin) and node.name in exprs:
            return copy.deepcopy(exprs[node.name])
        if isinstance(node, ast.Cast) and node.type_name in exprs:
            # (T)v with T given a type: typeof(...) or a type's name (uint8)
            arg = exprs[node.type_name]
            if isinstance(arg, ast.TypeOf):
                node.type_name, node.type_of = "typeof", copy.deepcopy(arg)
            elif isinstance(arg, ast.Builtin):
                node.type_name = arg.name
        if isinstance(node, ast.Var):
            node.name = vars_.get(node.name, prefix + node.name[1:])
        elif isinstance(node, ast.Map) and node.name in maps:
            node.name = maps[node.name]
        for name, value in list(ast.child_fields(node)):
            new = self._substitute(value, vars_, maps, exprs, prefix)
            if new is not value:
                setattr(node, name, new)
        return node
