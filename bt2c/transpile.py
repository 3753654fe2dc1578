"""The pipeline: script text → parse → analyse → resources → C files.

Nothing is written until every stage has succeeded, so a script with an error
leaves no partial output behind.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bt2c import __version__, loader_format
from bt2c.codegen import CodeGen
from bt2c.cross import TARGETS
from bt2c.datafuncs import REGISTERS, TARGET_ARCH
from bt2c.diagnostics import Bt2cError, Source
from bt2c.formats import c_string_literal
from bt2c.formatting import format_c
from bt2c.loader_format import diag_args, enum_tables, event_format, json_value_code
from bt2c.parser import parse
from bt2c.resources import (
    DUMMY_TS_ENV,
    MAX_MAP_KEYS,
    CField,
    Resources,
    collect_maps,
    tseries_clock,
)
from bt2c.semantic import Analysis, analyze
from bt2c.templating import render, templates_dir
from bt2c.tracepoints import Tracepoint
from bt2c.types import DEFAULT_STRLEN, ArrayType
from bt2c.warnings import applies, lint, sort


@dataclass
class Output:
    """The generated files of one script, by file name."""

    name: str
    files: dict[str, str]
    #: bpftrace's compile-time warnings for the script's run, rendered (already printed)
    warnings: list[str] = field(default_factory=list)
    #: every warning as (N, text): N > 0 for "$N is empty or not provided", which only
    #: stands for a run without $N (see :func:`bt2c.warnings.applies`)
    all_warnings: list[tuple[int, str]] = field(default_factory=list)

    def write(self, out_dir: Path) -> None:
        """Write all files into ``out_dir`` (created if needed), each atomically."""
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise Bt2cError(f"{out_dir}: exists and is not a directory") from None
        except OSError as e:
            raise Bt2cError(f"{out_dir}: cannot create the output directory: "
                            f"{e.strerror}") from None
        for fname, text in self.files.items():
            fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{fname}.")
            with os.fdopen(fd, "w") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, out_dir / fname)


def register_table(names: list[str]) -> list[tuple[str, list[tuple[str, int]]]]:
    """reg() names and their word index in struct pt_regs for each architecture
    that has them (program.bpf.c.j2 turns this into per-arch #defines)."""
    return [(n, [(TARGET_ARCH[m], regs[n]) for m, regs in REGISTERS.items() if n in regs])
            for n in names]


def tool_name(script: str) -> str:
    """The tool's name: the script's file name without .bt, as a C identifier."""
    base = Path(script).name
    base = base[:-3] if base.endswith(".bt") else base
    name = re.sub(r"[^A-Za-z0-9_]", "_", base) or "prog"
    return name if not name[0].isdigit() else "bt_" + name


def tracepoint_fields(tp: Tracepoint) -> list[str]:
    """C members of a tracepoint record at the offsets tracefs gives, padded explicitly."""
    out, cursor = [], 8
    for f in sorted(tp.fields, key=lambda f: f.offset):
        if f.offset > cursor:
            out.append(f"__u8 __pad_{cursor}[{f.offset - cursor}]")
        if f.is_pointer or "__data_loc" in f.c_decl:
            ctype = {8: "__u64", 4: "__u32"}.get(f.size, "__u64")
            out.append(f"{ctype} {f.name}")
        elif hasattr(f.type, "length"):
            out.append(f"char {f.name}[{f.size}]")
        elif isinstance(f.type, ArrayType):
            out.append(f"__u8 {f.name}[{f.size}]")
        else:
            bits = f.size * 8 if f.size in (1, 2, 4, 8) else 64
            out.append(f"__{'s' if f.type.signed else 'u'}{bits} {f.name}")  # type: ignore[attr-defined]
        cursor = f.offset + f.size
    return out


def script_line_map(bpf_c: str) -> list[tuple[int, int]]:
    """(C line, script line) for each ``/* line N: */`` comment, in C-line order."""
    out = []
    for i, line in enumerate(bpf_c.splitlines(), 1):
        m = re.match(r"\s*/\* line (\d+):", line)
        if m:
            out.append((i, int(m.group(1))))
    return out


def strerror_table() -> list[str]:
    """C string literals of strerror()'s table, indexed by errno, "Unknown error" last."""
    from bt2c.errnos import MESSAGES, UNKNOWN
    n = max(MESSAGES) + 1
    return [c_string_literal(MESSAGES.get(i, "")) for i in range(n)] + [c_string_literal(UNKNOWN)]


def option_table(analysis: Analysis) -> list[dict[str, object]]:
    """getopt()'s options for the templates: rodata declaration and loader table row."""
    from bt2c.getopt import string_capacity
    rows: list[dict[str, object]] = []
    for o in analysis.options.values():
        if o.kind == "string":
            decl = f"char {o.ident}[{string_capacity(analysis.max_strlen)}]"
            default = c_string_literal(str(o.default))
        else:
            decl = f"{'__s64' if o.kind == 'int' else '__u64'} {o.ident}"
            default = str(int(o.default))
        rows.append({"name": c_string_literal(o.name), "ident": o.ident, "decl": decl,
                     "default": default, "kind": f"BT_OPT_{o.kind.upper()}",
                     "string": o.kind == "string",
                     "description": c_string_literal(o.description)
                     if o.description is not None else "NULL"})
    return rows


def signal_table() -> list[str]:
    """C string literals of signal_name()'s table, indexed by signal number."""
    from bt2c.signames import NAMES
    return [c_string_literal(NAMES.get(i, "")) for i in range(max(NAMES) + 1)]


def syscall_tables() -> list[tuple[str, list[tuple[int, str]]]]:
    """syscall_name()'s tables: (the preprocessor test of the architectures that share
    it, [(number, C string literal)]), from bt2c/syscall_table.py."""
    from bt2c.syscall_table import TABLES
    groups: dict[tuple[str, ...], list[str]] = {}
    for arch, names in TABLES.items():
        groups.setdefault(names, []).append(arch)
    return [(" || ".join(f"defined(__TARGET_ARCH_{a})" for a in archs),
             [(i, c_string_literal(n)) for i, n in enumerate(names) if n])
            for names, archs in groups.items()]


def transpile(text: str, script: str, name: str | None = None, unsafe: bool = False,
              warn: bool = True, params: list[str] | None = None,
              directory: Path | None = None) -> Output:
    """Translate one bpftrace script into the files of a libbpf tool.

    ``unsafe`` allows system(), as bpftrace's --unsafe does.  The script's warnings are
    printed on stderr as bpftrace prints them unless ``warn`` is false (they are in
    :attr:`Output.warnings` either way); ``params`` are the positional parameters of the
    run the tool is built for, if known (a missing one is warned about).  ``import``s
    are looked for in ``directory`` (default: the directory of ``script``).
    """
    try:
        return _transpile(text, script, name, unsafe, warn, params, directory)
    except RecursionError:
        # The parser bounds nesting, but a chain of thousands of binary operators is
        # parsed by a loop into a tree too deep for the recursive passes after it.
        raise Bt2cError(f"{script}: the program is too complex to compile (an expression "
                        "with thousands of operators?)") from None


def _transpile(text: str, script: str, name: str | None, unsafe: bool, warn: bool,
               params: list[str] | None, directory: Path | None) -> Output:
    program = parse(Source(script, text), directory)
    source = program.source or Source(script, text)   # with the files it imports
    analysis = analyze(program, source, unsafe)
    all_warnings = [(w.param, w.render(source))
                    for w in sort(analysis.warnings + lint(analysis, source))]
    warnings = [text for n, text in all_warnings if applies(n, params)]
    if warn:
        for warning in warnings:
            print(warning, file=sys.stderr)
    res = Resources()
    name = name or tool_name(script)
    taken = {"bt_events", "bt_zero", "LICENSE"}
    collect_maps(analysis, res, taken)
    tseries_clock(res, os.environ.get(DUMMY_TS_ENV))
    gen = CodeGen(analysis, res, source)
    gen.generate()

    maps = list(res.maps.values())
    for m in maps:
        m.line = source.position(m.info.span.start)[0] if m.info.span else 0  # type: ignore[attr-defined]
    tracepoints: dict[str, Tracepoint] = {}
    for p in gen.programs:
        tp = p.target.tracepoint
        if tp is not None:
            tracepoints.setdefault(f"{tp.category}:{tp.name}", tp)
    tp_ctx = [{"category": tp.category, "name": tp.name, "c_fields": tracepoint_fields(tp)}
              for tp in tracepoints.values()]
    helper_event = None
    if gen.helper_sites:   # -k: one record kind for every failed probe read
        helper_event = res.add_event("helper_error", 0, [
            CField("site", "__u32 site", "BT_KIND_UINT", 4, 0),
            CField("ret", "__s64 ret", "BT_KIND_INT", 8, 8)])
    loader_format.TYPES = analysis.types
    for ev in res.events:
        if ev.kind == "helper_error":
            ev.c_format, ev.c_args, ev.diag_args, ev.json_code = "", [], "", []  # type: ignore[attr-defined]
            continue
        fmt, args = event_format(ev)
        ev.c_format, ev.c_args = fmt, args  # type: ignore[attr-defined]
        ev.diag_args = diag_args(ev) if ev.where else ""  # type: ignore[attr-defined]
        ev.json_code = (json_value_code(ev.value_type, "e->value")  # type: ignore[attr-defined]
                        if ev.kind == "print" and ev.value_type is not None else [])
    uses_usdt = any(p.target.user and p.target.user.usdt for p in gen.programs)
    uses_formatted = any(kind in ("BT_KIND_TIMESTAMP", "BT_KIND_TAI_TIMESTAMP",
                                  "BT_KIND_USERNAME")
                         for m in res.maps.values()
                         for kind, *_ in (m.key_layout + m.value_layout))
    license_ = str(program.config.get("license", "GPL"))
    ctx = {
        "name": name,
        "bt2c_version": __version__,
        "script": Path(script).name,
        "guard": name.upper(),
        "license": license_,
        "maps": maps,
        "events": res.events,
        "tuples": res.tuple_structs(),
        "programs": gen.programs,
        "callbacks": gen.callbacks,
        "scratch": gen.scratch,
        "tracepoints": tp_ctx,
        "nparams": gen.max_param,
        # str($N): a row per parameter, max_strlen rounded up to a power of two (the
        # BPF side masks its index with it)
        "param_strlen": max(DEFAULT_STRLEN, 1 << (analysis.max_strlen - 1).bit_length()),
        "ringbuf_size": 1024 * 1024,
        "max_entries": int(program.config.get("max_map_keys", MAX_MAP_KEYS)),
        "max_hist_buckets": res.max_hist_buckets,
        "uses_tseries": res.uses_tseries,
        "uses_agg_read": gen.uses_agg_read,
        "uses_len": gen.uses_len,
        "enum_tables": enum_tables(res.events, [t for m in maps
                                                for t in [*(m.info.key or []), m.info.value]]),
        "signal_probes": any(p.target.provider == "self" for p in gen.programs),
        "len_sites": gen.len_sites,
        "requirements": gen.requirements,
        "len_kfunc": "kfunc" in gen.len_strategies(),
        "missing_probes": "BT_MISSING_" + str(program.config.get("missing_probes",
                                                                  "error")).upper(),
        "fentry_pairs": [(p.target.fallback_for, p.name, p.target.func, p.target.raw)
                         for p in gen.programs
                         if p.target.fallback_for and "entry_for" not in p.target.extra],
        "fexit_entries": {p.target.fallback_for: p.name for p in gen.programs
                          if "entry_for" in p.target.extra},
        "fexit_nargs": gen.fexit_nargs,
        "uses_regs": gen.uses_regs or uses_usdt,
        "uses_usdt": uses_usdt,
        "uses_symbols": res.uses_symbols,
        "stack_limits": res.stack_limits,
        "stack_entries": 2 * int(program.config.get("max_map_keys", MAX_MAP_KEYS)),
        "kaddrs": analysis.kaddrs,
        "strerror_table": strerror_table() if gen.uses_strerror else [],
        # TAI time on the BPF side (boot time plus the loader's offset): nsecs(sw_tai), tseries()
        "uses_sw_tai": gen.uses_sw_tai or res.uses_tseries,
        "strstr_sizes": sorted(gen.strstr_sizes),
        "string_funcs": sorted(gen.string_funcs),
        "options": option_table(analysis),
        "signal_table": signal_table() if "signal_name" in gen.string_funcs else [],
        "syscall_tables": syscall_tables() if "syscall_name" in gen.string_funcs else [],
        "helper_event": helper_event,
        "helper_sites": sorted(gen.helper_sites.values()),
        "uses_formatted": uses_formatted,
        "uses_cgroup_path": analysis.uses_cgroup_path,
        "uses_loader_stdlib": uses_formatted or analysis.uses_cgroup_path or any(
            ev.kind in ("time", "join") or ev.sink != "printf" or ev.formatted
            or (ev.kind == "print" and "bt_fmt_" in " ".join(ev.c_args))
            for ev in res.events),
        "cgroupids": analysis.cgroupids,
        "percpu_vars": analysis.percpu_vars,
        "ksym_lines": sorted(gen.ksym_lines.items()),
        "registers": register_table(analysis.registers),
        "has_aggregates_h": (templates_dir() / "bpf" / "aggregates.h").exists(),
        "targets": list(TARGETS.values()),
    }
    bpf_c = format_c(render("program.bpf.c.j2", **ctx), f"{name}.bpf.c")
    ctx["line_map"] = script_line_map(bpf_c)
    ctx["script_lines"] = [c_string_literal(line) for line in text.splitlines()]
    files = {
        f"{name}.bpf.c": bpf_c,
        f"{name}.h": format_c(render("program.h.j2", **ctx), f"{name}.h"),
        f"{name}.c": format_c(render("loader.c.j2", **ctx), f"{name}.c"),
        f"{name}.skel.h": render("skel.h.j2", **ctx),
        "Makefile": render("Makefile.j2", **ctx),
    }
    return Output(name, files, warnings, all_warnings)
