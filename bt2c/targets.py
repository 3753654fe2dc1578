"""Attach targets: one concrete place a probe's program attaches, after wildcards.

Tracepoints and intervals are resolved in :mod:`bt2c.semantic`; the kernel-side
providers (kprobe, kretprobe, rawtracepoint, profile, software, hardware) here,
each checked against what this machine's kernel offers at transpile time.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass, field

from bt2c import ast
from bt2c.kernel_args import KArg, function_args, has_btf, rawtracepoint_args, rawtracepoint_names
from bt2c.ksyms import is_wildcard, kernel_functions, match_functions
from bt2c.tracepoints import Tracepoint
from bt2c.types import ArgsType
from bt2c.uprobes import UserTarget

#: Providers whose context is the probed function's registers (argN via regs.h).
REGS_PROVIDERS = ("kprobe", "uprobe")
RETVAL_REGS_PROVIDERS = ("kretprobe", "uretprobe")
PERF_PROVIDERS = ("profile", "software", "hardware")

_TIME_UNITS_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000}

#: bpftrace's software events: (names, perf config, default period).
SOFTWARE_EVENTS = [
    (("cpu-clock", "cpu"), "PERF_COUNT_SW_CPU_CLOCK", 1_000_000),
    (("task-clock",), "PERF_COUNT_SW_TASK_CLOCK", 1_000_000),
    (("page-faults", "faults"), "PERF_COUNT_SW_PAGE_FAULTS", 100),
    (("context-switches", "cs"), "PERF_COUNT_SW_CONTEXT_SWITCHES", 1_000),
    (("cpu-migrations",), "PERF_COUNT_SW_CPU_MIGRATIONS", 1),
    (("minor-faults",), "PERF_COUNT_SW_PAGE_FAULTS_MIN", 100),
    (("major-faults",), "PERF_COUNT_SW_PAGE_FAULTS_MAJ", 1),
    (("alignment-faults",), "PERF_COUNT_SW_ALIGNMENT_FAULTS", 1),
    (("emulation-faults",), "PERF_COUNT_SW_EMULATION_FAULTS", 1),
    (("dummy",), "PERF_COUNT_SW_DUMMY", 1),
    (("bpf-output",), "PERF_COUNT_SW_BPF_OUTPUT", 1),
]

#: bpftrace's hardware events: (names, perf config, default period).
HARDWARE_EVENTS = [
    (("cpu-cycles", "cycles"), "PERF_COUNT_HW_CPU_CYCLES", 1_000_000),
    (("instructions",), "PERF_COUNT_HW_INSTRUCTIONS", 1_000_000),
    (("cache-references",), "PERF_COUNT_HW_CACHE_REFERENCES", 1_000_000),
    (("cache-misses",), "PERF_COUNT_HW_CACHE_MISSES", 1_000_000),
    (("branch-instructions", "branches"), "PERF_COUNT_HW_BRANCH_INSTRUCTIONS", 100_000),
    (("branch-misses",), "PERF_COUNT_HW_BRANCH_MISSES", 100_000),
    (("bus-cycles",), "PERF_COUNT_HW_BUS_CYCLES", 100_000),
    (("frontend-stalls",), "PERF_COUNT_HW_STALLED_CYCLES_FRONTEND", 1_000_000),
    (("backend-stalls",), "PERF_COUNT_HW_STALLED_CYCLES_BACKEND", 1_000_000),
    (("ref-cycles",), "PERF_COUNT_HW_REF_CPU_CYCLES", 1_000_000),
]


@dataclass(frozen=True)
class PerfEvent:
    """A perf event a program attaches to: PERF_TYPE_*, its config, period or frequency."""

    type: str
    config: str
    period: int
    freq: bool = False
    all_cpus: bool = True


@dataclass
class ProbeTarget:
    """One concrete attach target of a probe after wildcard expansion."""

    provider: str
    parts: list[str]
    raw: str
    tracepoint: Tracepoint | None = None
    wildcard: bool = False   # matched by a wildcard: optional on other kernels
    func: str = ""           # kprobe/fentry/rawtracepoint: the kernel function or event
    module: str = ""         # its module ('' for vmlinux)
    offset: int = 0          # kprobe:FUNC+OFFSET
    perf: PerfEvent | None = None
    kargs: tuple[KArg, ...] | None = None   # fentry/fexit/rawtracepoint: typed args
    kret: KArg | None = None                # fexit: the return value (None: void)
    fallback_for: str = ""                  # kprobe variant of this fentry program
    extra: dict[str, object] = field(default_factory=dict)
    user: UserTarget | None = None   # uprobe, uretprobe, usdt: file, function, offset

    @property
    def args_type(self) -> ArgsType | None:
        """The type of ``args`` here, for the providers whose args come from BTF."""
        if self.kargs is None:
            return None
        return ArgsType(tuple((a.name, a.type) for a in self.kargs if a.size))

    def karg(self, name: str) -> tuple[int, KArg] | None:
        """The index and description of typed argument ``name``."""
        for i, a in enumerate(self.kargs or ()):
            if a.name == name:
                return i, a
        return None

    @property
    def name(self) -> str:
        """The ``probe`` builtin's value: bpftrace's canonical (lower-case) name."""
        return self.provider if self.provider in ("begin", "end") else self.raw


Warn = Callable[[str, ast.AttachPoint], None]
Fail = Callable[[str, ast.AttachPoint], Exception]


#: The signals a ``self:signal:SIG`` probe can name (bpftrace's list).
SELF_SIGNALS = ("SIGUSR1",)


def resolve_self(ap: ast.AttachPoint, fail: Fail) -> ProbeTarget:
    """self:signal:SIGUSR1: runs (BPF_PROG_TEST_RUN, like BEGIN) when the tool gets SIGUSR1."""
    if len(ap.parts) != 2:
        raise fail(f"self probe type requires 2 arguments, found {len(ap.parts)}", ap)
    trigger, sig = ap.parts
    if trigger != "signal":
        raise fail(f"{trigger} is not a supported trigger", ap)
    if sig not in SELF_SIGNALS:
        raise fail(f"{sig} is not a supported signal", ap)
    return ProbeTarget("self", [trigger, sig], f"self:{trigger}:{sig}")


def _split_offset(func: str) -> tuple[str, int] | None:
    """``FUNC+OFFSET`` -> (FUNC, OFFSET); None when OFFSET is not a number."""
    if "+" not in func:
        return func, 0
    name, off = func.split("+", 1)
    try:
        return name, int(off, 0)
    except ValueError:
        return None


def resolve_kprobe(ap: ast.AttachPoint, missing: str, warn: Warn,
                   fail: Fail) -> list[ProbeTarget]:
    """kprobe:[MODULE:]FUNC[+OFFSET] and kretprobe:[MODULE:]FUNC, wildcards expanded."""
    if len(ap.parts) not in (1, 2):
        raise fail(f"{ap.provider} probe type requires 1 or 2 arguments, found "
                   f"{len(ap.parts)}", ap)
    if not ap.parts[-1]:
        raise fail(f"{ap.provider} probes need a function ({ap.provider}:[MODULE:]FUNC)", ap)
    module = ap.parts[0] if len(ap.parts) == 2 else None
    split = _split_offset(ap.parts[-1])
    if split is None:
        raise fail(f"Invalid offset in {ap.raw}", ap)
    func, offset = split
    if offset and ap.provider == "kretprobe":
        raise fail("Offset not allowed for kretprobe probes", ap)
    wildcard = is_wildcard(func) or (module is not None and is_wildcard(module))
    if offset and wildcard:
        raise fail("Offset not allowed with wildcards", ap)
    matches = match_functions(func, module)
    if not matches:
        if wildcard:
            message = "Probe has no valid attach points."
        else:
            message = f"No matches for {ap.provider} {func}."
        if missing == "error":
            raise fail(message + " If this is expected, set the 'missing_probes' config "
                       "variable to 'warn'.", ap)
        if missing == "warn":
            warn(message + " Skipping.", ap)
        return []
    out = []
    for mod, name in matches:
        raw = f"{ap.provider}:{mod + ':' if module is not None and mod else ''}{name}"
        if offset:
            raw += f"+{offset}" if not ap.parts[-1].split("+", 1)[1].startswith("0x") else \
                "+" + ap.parts[-1].split("+", 1)[1]
        out.append(ProbeTarget(ap.provider, [mod, name], raw, wildcard=wildcard,
                               func=name, module=mod if module is not None else "",
                               offset=offset))
    return out


def _number(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def resolve_profile(ap: ast.AttachPoint, fail: Fail) -> ProbeTarget:
    """profile:hz:N, profile:s|ms|us:N (and profile:N, meaning hz): a timer on every CPU."""
    parts = ["hz", ap.parts[0]] if len(ap.parts) == 1 else ap.parts
    n = _number(parts[1]) if len(parts) == 2 else None
    if len(parts) != 2 or parts[0] not in ("hz", "s", "ms", "us") or not n or n <= 0:
        raise fail(f"Invalid profile probe: {ap.raw} (expected profile:hz|s|ms|us:N)", ap)
    if parts[0] == "hz":
        perf = PerfEvent("PERF_TYPE_SOFTWARE", "PERF_COUNT_SW_CPU_CLOCK", n, freq=True)
    else:
        perf = PerfEvent("PERF_TYPE_SOFTWARE", "PERF_COUNT_SW_CPU_CLOCK",
                         n * _TIME_UNITS_NS[parts[0]])
    return ProbeTarget("profile", parts, f"profile:{parts[0]}:{parts[1]}", perf=perf)


def resolve_perf_counter(ap: ast.AttachPoint, fail: Fail) -> ProbeTarget:
    """software:EVENT[:N] and hardware:EVENT[:N]: a counter overflowing every N events."""
    table = SOFTWARE_EVENTS if ap.provider == "software" else HARDWARE_EVENTS
    if len(ap.parts) not in (1, 2) or not ap.parts[0]:
        raise fail(f"{ap.provider} probes need an event ({ap.provider}:EVENT[:COUNT])", ap)
    event = ap.parts[0]
    found = next((e for e in table if event in e[0]), None)
    if found is None:
        raise fail(f"{event} is not a {ap.provider} probe", ap)
    period = found[2]
    if len(ap.parts) == 2:
        n = _number(ap.parts[1])
        if not n or n <= 0:
            raise fail(f"Invalid count in {ap.raw}", ap)
        period = n
    ptype = "PERF_TYPE_SOFTWARE" if ap.provider == "software" else "PERF_TYPE_HARDWARE"
    raw = f"{ap.provider}:{event}:{ap.parts[1]}" if len(ap.parts) == 2 else \
        f"{ap.provider}:{event}"
    return ProbeTarget(ap.provider, [event, str(period)], raw,
                       perf=PerfEvent(ptype, found[1], period))


def _missing(ap: ast.AttachPoint, message: str, missing: str, warn: Warn, fail: Fail) -> None:
    if missing == "error":
        raise fail(message + " If this is expected, set the 'missing_probes' config "
                   "variable to 'warn'.", ap)
    if missing == "warn":
        warn(message + " Skipping.", ap)


def resolve_fentry(ap: ast.AttachPoint, missing: str, warn: Warn,
                   fail: Fail) -> list[ProbeTarget]:
    """fentry:[MODULE:]FUNC / fexit:...: kernel functions with a BTF prototype."""
    if len(ap.parts) not in (1, 2):
        raise fail(f"{ap.provider} probe type requires 1 or 2 arguments, found "
                   f"{len(ap.parts)}", ap)
    if not ap.parts[-1]:
        raise fail(f"{ap.provider} probes need a function ({ap.provider}:[MODULE:]FUNC)", ap)
    if not has_btf():
        raise fail(f"{ap.provider} probes need kernel BTF (/sys/kernel/btf/vmlinux)", ap)
    module = ap.parts[0] if len(ap.parts) == 2 else None
    func = ap.parts[-1]
    wildcard = is_wildcard(func) or (module is not None and is_wildcard(module))
    if module not in (None, "vmlinux"):
        raise fail(f"{ap.provider} on module functions ({module}:{func}) is not supported "
                   "by bt2c yet: module BTF is not read", ap)
    if is_wildcard(func):
        names = sorted(n for n, mod in kernel_functions().items()
                       if not mod and fnmatch.fnmatchcase(n, func))
    else:
        names = [func]
    out = []
    for name in names:
        found = function_args(name)
        if found is None:
            continue
        kargs, kret = found
        out.append(ProbeTarget(ap.provider, ["vmlinux", name],
                               f"{ap.provider}:vmlinux:{name}", wildcard=wildcard,
                               func=name, kargs=tuple(kargs), kret=kret))
    if not out:
        _missing(ap, "Probe has no valid attach points." if wildcard else
                 f"No BTF found for {func}.", missing, warn, fail)
    return out


def resolve_rawtracepoint(ap: ast.AttachPoint, missing: str, warn: Warn,
                          fail: Fail) -> list[ProbeTarget]:
    """rawtracepoint:[MODULE:]NAME: args typed from the event's BTF prototype."""
    if len(ap.parts) not in (1, 2) or not ap.parts[-1]:
        raise fail("rawtracepoint probes need an event (rawtracepoint:[MODULE:]NAME)", ap)
    module = ap.parts[0] if len(ap.parts) == 2 else "vmlinux"
    name = ap.parts[-1]
    wildcard = is_wildcard(name)
    names = [n for n in rawtracepoint_names() if fnmatch.fnmatchcase(n, name)] \
        if wildcard else [name]
    out = []
    for n in names:
        kargs = rawtracepoint_args(n)
        if kargs is None:
            continue
        out.append(ProbeTarget("rawtracepoint", [module, n], f"rawtracepoint:{module}:{n}",
                               wildcard=wildcard, func=n, module="" if module == "vmlinux"
                               else module, kargs=tuple(kargs)))
    if not out:
        _missing(ap, "Probe has no valid attach points." if wildcard else
                 f"No matches for rawtracepoint {name}.", missing, warn, fail)
    return out
