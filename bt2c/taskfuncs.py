"""bpftrace's task accessors: ppid, pcomm, leader_tid and leader_comm.

bpftrace v0.27 defines them in its standard library as macros over a task pointer
(``curtask`` when called bare or with no arguments): ``ppid(task)`` is
``task.real_parent.pid``, ``pcomm`` the parent's ``comm``, ``leader_tid`` and
``leader_comm`` the thread-group leader's ``pid`` and ``comm``.  bt2c does the same
right after parsing: each use becomes that field chain, so type checking, errors
(a non-task argument cannot have the field) and code generation (one CO-RE
``BPF_CORE_READ`` of the chain) are the ordinary ones of ``curtask->...``.

Calls with the wrong number of arguments are left alone: the analyzer reports
them with bpftrace's "do not match any definition" message.
"""

from __future__ import annotations

import dataclasses

from bt2c import ast
from bt2c.diagnostics import Span

#: accessor -> the task_struct fields it follows.
TASK_ACCESSORS: dict[str, tuple[str, str]] = {
    "ppid": ("real_parent", "pid"),
    "pcomm": ("real_parent", "comm"),
    "leader_tid": ("group_leader", "pid"),
    "leader_comm": ("group_leader", "comm"),
}


def rewrite_task_accessors(program: ast.Program) -> None:
    """Replace every task accessor in the program's probes by its field chain."""
    for probe in program.probes:
        if probe.predicate is not None:
            probe.predicate = _rewrite(probe.predicate)
        probe.body = _rewrite(probe.body)


def _rewrite(node):  # noqa: ANN001, ANN202 - any node or list of nodes
    if isinstance(node, list):
        return [_rewrite(n) for n in node]
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return node
    for name, value in list(ast.child_fields(node)):
        new = _rewrite(value)
        if new is not value:
            setattr(node, name, new)
    if isinstance(node, ast.Builtin) and node.name in TASK_ACCESSORS:
        return _chain(node.name, ast.Builtin(node.span, "curtask"), node.span)
    if isinstance(node, ast.Call) and node.name in TASK_ACCESSORS and len(node.args) <= 1:
        task = node.args[0] if node.args else ast.Builtin(node.span, "curtask")
        return _chain(node.name, task, node.span)
    return node


def _chain(name: str, task: ast.Expr, span: Span) -> ast.Expr:
    """``task.FIELD.FIELD`` with the span of the call, so errors point at it."""
    link, member = TASK_ACCESSORS[name]
    return ast.Field(span, ast.Field(span, task, link), member)
