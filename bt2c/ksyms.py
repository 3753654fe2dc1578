"""Kernel functions that kprobes and fentry can attach to, for wildcard expansion.

bpftrace reads ``available_filter_functions`` (the functions ftrace can trace,
which excludes ``notrace`` and inlined ones); where that file is unreadable
(function tracing closed, a locked-down kernel) bt2c falls back to the text
symbols of ``/proc/kallsyms``, which is a superset, and lets the attach say
whether a function is traceable.  Names are read once per process.
"""

from __future__ import annotations

import fnmatch
import functools
import re

FILTER_FUNCTIONS = ("/sys/kernel/tracing/available_filter_functions",
                    "/sys/kernel/debug/tracing/available_filter_functions")
KALLSYMS = "/proc/kallsyms"
# Compiler-made clones (foo.isra.0, foo.constprop.0, foo.cold) are not attachable by name.
_CLONE = re.compile(r"\.")


def _read_lines(path: str) -> list[str] | None:
    try:
        with open(path) as f:
            return f.read().splitlines()
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def kernel_functions() -> dict[str, str]:
    """Traceable kernel functions: name -> module ('' for vmlinux)."""
    out: dict[str, str] = {}
    for path in FILTER_FUNCTIONS:
        lines = _read_lines(path)
        if lines is None:
            continue
        for line in lines:
            # "name" or "name [module]"
            parts = line.split()
            if not parts or _CLONE.search(parts[0]):
                continue
            module = parts[1].strip("[]") if len(parts) > 1 else ""
            out.setdefault(parts[0], module)
        if out:
            return out
    for line in _read_lines(KALLSYMS) or []:
        parts = line.split()
        if len(parts) < 3 or parts[1] not in ("T", "t") or _CLONE.search(parts[2]):
            continue
        module = parts[3].strip("[]") if len(parts) > 3 else ""
        out.setdefault(parts[2], module)
    return out


def is_wildcard(pattern: str) -> bool:
    """Whether an attach-point part is a glob."""
    return any(c in pattern for c in "*?[")


def match_functions(pattern: str, module: str | None = None) -> list[tuple[str, str]]:
    """(module, function) pairs matching a glob, sorted; module '' is vmlinux.

    ``module`` restricts the match to one module (a glob too); None means any,
    as ``kprobe:FUNC`` matches a function wherever it lives.
    """
    funcs = kernel_functions()
    if not is_wildcard(pattern):
        mod = funcs.get(pattern)
        if mod is None:
            return []
        if module is not None and not fnmatch.fnmatchcase(mod or "vmlinux", module):
            return []
        return [(mod, pattern)]
    out = [(mod, name) for name, mod in funcs.items()
           if fnmatch.fnmatchcase(name, pattern)
           and (module is None or fnmatch.fnmatchcase(mod or "vmlinux", module))]
    return sorted(out, key=lambda p: (p[0], p[1]))
