"""Which language features a script uses, named as the README's feature table names them.

The golden corpus must show the C generated for every supported feature, so a
reviewer has seen each construct's translation at least once.  The test suite
checks that every form listed in README.md's feature table is produced by
:func:`features` on some golden script, and that every feature the end-to-end
corpus uses is listed in the table.  The walk is generic over the dataclass
tree, so a new node kind shows up (under its class name) without changes here.
"""

from __future__ import annotations

import dataclasses
import re

from bt2c import ast, btf
from bt2c.semantic import CALLABLE_BUILTINS
from bt2c.taskfuncs import TASK_ACCESSORS

#: Probe providers as the table writes them.
_PROBE_NAMES = {"begin": "BEGIN", "end": "END"}


def features(program: ast.Program) -> set[str]:
    """The feature names ``program`` uses (probe types, statements, operators,
    builtins, functions, ...)."""
    found: set[str] = set()
    if program.config:
        found.add("config")
    if program.map_decls:
        found.add("let @map = hash(N)")
    if program.macros:
        found.add("macro")
    if program.c_definitions:
        found.add("struct/union/enum definitions")
    for line in program.includes:
        word = re.match(r"#\s*(\w*)", line)
        directive = word.group(1) if word else ""
        if directive in ("include", "define"):
            found.add("#" + directive)
        elif directive in ("if", "ifdef", "ifndef"):
            found.add("#if")
    if program.source is not None and program.source.parts:
        found.add("import")
    enumerators = {name for d in program.c_definitions
                   for body in re.findall(r"\benum\b[^{]*\{([^}]*)\}", d.text)
                   for name in re.findall(r"([A-Za-z_]\w*)\s*(?:=[^,]*)?(?:,|$)", body.strip())}
    for probe in program.probes:
        for ap in probe.attach_points:
            found.add(_PROBE_NAMES.get(ap.provider, ap.provider))
            if any(c in ap.raw for c in "*?"):
                found.add("wildcards")
        if len(probe.attach_points) > 1:
            found.add("multiple attach points")
        if probe.predicate is not None:
            found.add("/predicate/")
        _walk(probe, found)
    if found & enumerators:
        found -= enumerators
        found.add("enum values")
    kernel = {n for n in found if re.fullmatch(r"[A-Z][A-Z0-9_]*", n) and _kernel_enumerator(n)}
    if kernel:
        found -= kernel
        found.add("kernel enum values")
    return found


def _kernel_enumerator(name: str) -> bool:
    """Whether a bare name is an enumerator of the kernel's BTF (``SOCK_STREAM``)."""
    b = btf.vmlinux()
    return b is not None and b.enumerator(name) is not None


def _walk(node: object, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    name = _name(node)
    if name:
        found.add(name)
    if name and name.startswith("nsecs("):
        return   # the clock's name is part of the feature, not a builtin of its own
    for _, value in ast.child_fields(node):
        _walk(value, found)


def _name(node: object) -> str | None:  # noqa: C901 - one table over node kinds
    """The feature name of one node (None for nodes that are not a feature by themselves)."""
    if isinstance(node, (ast.Block, ast.ExprStmt, ast.Probe, ast.AttachPoint, ast.Int)):
        return None
    if isinstance(node, ast.Str):
        return "string literals"
    if isinstance(node, ast.Var):
        return "$var"
    if isinstance(node, ast.Param):
        return "$#" if node.index == 0 else "$N"
    if isinstance(node, ast.Map):
        if not node.keys:
            return "@map"
        if len(node.keys) > 1:
            return "@map[k1, k2]"
        return "@map[(a, b)]" if isinstance(node.keys[0], ast.Tuple) else "@map[key]"
    if isinstance(node, ast.Builtin) and node.name == "default_str_length":
        return "default_str_length()"   # a macro: bare or called, the same
    if isinstance(node, ast.Builtin) and node.span.end - node.span.start > len(node.name):
        return "__builtin_NAME"   # bpftrace's own spelling of a builtin
    if isinstance(node, ast.Builtin):
        return re.sub(r"^(s?arg)\d+$", r"\1N", node.name)
    if isinstance(node, ast.Call):
        if node.name in CALLABLE_BUILTINS | TASK_ACCESSORS.keys() | {"nsecs"} and not node.args:
            return node.name   # ncpus() is ncpus
        if node.name == "comptime":
            return "comptime"   # `comptime EXPR` (also what `if comptime` holds)
        if node.name == "nsecs" and isinstance(node.args[0], ast.Builtin):
            return f"nsecs({node.args[0].name})"   # one row per clock
        return f"{node.name}()"
    if isinstance(node, (ast.Binary, ast.Unary)):
        if isinstance(node, ast.Unary) and node.op == "-":
            return "unary -"
        if isinstance(node, ast.Unary) and node.op == "*":
            return "*ptr"
        if isinstance(node, ast.Unary) and node.op == "&":
            return "&$var"
        return node.op
    if isinstance(node, ast.IncDec):
        return node.op
    if isinstance(node, ast.Ternary):
        return "a ?: b" if node.elvis else "?:"
    if isinstance(node, ast.Tuple):
        return "records" if node.names else "tuples"
    if isinstance(node, ast.Field):
        if node.arrow:
            return "->"
        return ".N" if node.name.isdigit() else ".field"
    if isinstance(node, ast.Cast):
        if "*" in node.type_name:
            return "pointer casts"
        return "enum casts" if node.type_name.split()[0] == "enum" else "integer casts"
    if isinstance(node, ast.SizeOf):
        return "sizeof()"
    if isinstance(node, ast.OffsetOf):
        return "offsetof()"
    if isinstance(node, ast.ContainerOf):
        return "container_of()"
    if isinstance(node, ast.TypeOf):
        return "typeof()"
    if isinstance(node, ast.Index):
        if isinstance(node.expr, ast.Var) and isinstance(node.index, ast.Binary):
            return "$t[1 + 1]"   # a constant index expression (tuples)
        return "a[i]"
    if isinstance(node, ast.BlockExpr):
        return "block expressions"
    if isinstance(node, ast.Let) or (isinstance(node, ast.Assign) and node.decl):
        return "let"
    if isinstance(node, ast.Assign):
        return f"{node.op}=" if node.op else "="
    if isinstance(node, ast.If) and node.comptime:
        return "if comptime"
    if isinstance(node, ast.If):
        return "if/else" if node.other is not None else "if"
    if isinstance(node, ast.Unroll):
        return "unroll"
    if isinstance(node, ast.While):
        return "while"
    if isinstance(node, ast.ForRange):
        return "for ($i : a..b)"
    if isinstance(node, ast.ForMap):
        return "for ($kv : @map)"
    if isinstance(node, ast.Jump):
        return "return EXPR" if node.value is not None else node.kind
    return type(node).__name__
