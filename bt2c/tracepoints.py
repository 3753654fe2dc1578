"""Tracepoint discovery: expand wildcards and read each event's field layout.

bpftrace reads ``events/CAT/NAME/format`` from tracefs; so does bt2c, at
transpile time, and emits a C struct with the same offsets.  Tracepoint
formats are a stable ABI, so the struct stays valid on other kernels.

Pointer fields get the C type their declaration spells, resolved against the
kernel's BTF as bpftrace does (``args.argv`` is ``uint8 * *``, ``args.rqtp`` a
``struct __kernel_timespec *``), so scripts can index, dereference and walk
them.  The pointers of syscall tracepoints are user addresses (the syscall's
own arguments); all others are kernel addresses.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass

from bt2c.cdefs import TypeError_, TypeTable
from bt2c.types import ArgsType, ArrayType, EnumType, IntType, PointerType, StringType, Type

TRACEFS_DIRS = ("/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events")
#: Qualifiers and annotations a field's C type may carry that do not change it.
_QUALIFIERS = re.compile(r"\b(const|volatile|restrict|__user|__rcu|__percpu|__iomem|"
                         r"__force|__seg_gs|__seg_fs)\b")
_FIELD_RE = re.compile(r"field:(?P<decl>[^;]+);\s*offset:(?P<off>\d+);\s*size:(?P<size>\d+);"
                       r"\s*signed:(?P<signed>\d+);")


@dataclass(frozen=True)
class TpField:
    """One field of a tracepoint record."""

    name: str
    c_decl: str
    offset: int
    size: int
    type: Type
    is_pointer: bool = False


@dataclass(frozen=True)
class Tracepoint:
    """A tracepoint's category, name and (non-common) fields."""

    category: str
    name: str
    fields: tuple[TpField, ...]

    @property
    def args_type(self) -> ArgsType:
        """The type of ``args`` in a probe on this tracepoint."""
        return ArgsType(tuple((f.name, f.type) for f in self.fields))

    @property
    def user_pointers(self) -> bool:
        """Syscall arguments point into user memory."""
        return self.category == "syscalls"


#: Every (category, name) whose format was read in this process, for snapshots
#: of the formats a transpile depended on (``bt2c golden update``).
formats_read: set[tuple[str, str]] = set()


def events_dir() -> str | None:
    """The tracefs events directory: ``$BT2C_TRACEFS`` if set, else the mounted one.

    The override lets a transpile use saved format files (another kernel's, or
    the golden corpus's snapshot) instead of this machine's.
    """
    override = os.environ.get("BT2C_TRACEFS")
    if override:
        return override
    for d in TRACEFS_DIRS:
        if os.path.isdir(d):
            return d
    return None


def expand(category: str, name: str) -> list[tuple[str, str]]:
    """All (category, name) pairs matching a possibly wildcarded spec, sorted."""
    root = events_dir()
    if root is None or not os.path.isdir(root):
        return []
    out = []
    for cat in sorted(os.listdir(root)):
        if not fnmatch.fnmatchcase(cat, category) or not os.path.isdir(os.path.join(root, cat)):
            continue
        for ev in sorted(os.listdir(os.path.join(root, cat))):
            if fnmatch.fnmatchcase(ev, name) and os.path.isfile(
                    os.path.join(root, cat, ev, "format")):
                out.append((cat, ev))
    return out


def pointer_type(decl: str, user: bool, types: TypeTable | None = None) -> PointerType:
    """The type of a pointer field from its C declaration (``const char *const * argv``).

    The pointee is resolved in the kernel's BTF, where ``char`` is unsigned (bpftrace
    shows ``args.filename`` as ``uint8 *``); ``void``, and a type the kernel does not
    describe, make a ``void *``.
    """
    text = re.sub(r"[A-Za-z_][A-Za-z0-9_]*\s*$", "", decl.strip())   # the field's name
    text = _QUALIFIERS.sub(" ", text)
    stars = text.count("*")
    base = " ".join(text.replace("*", " ").split())
    table = types or TypeTable()
    target: Type | None
    if base == "void":
        target = None
    elif base == "char":
        btf = table.btf
        tid = btf.find("char", "int") if btf is not None else None
        target = IntType(8, bool(tid is not None and btf.type(tid).int_signed))  # type: ignore[union-attr]
    else:
        try:
            target = table.base_type(base)
        except TypeError_:
            target = None
    for _ in range(max(stars, 1)):
        target = PointerType(target=target, user=user)
    assert isinstance(target, PointerType)
    return target


def parse_format(category: str, name: str, text: str) -> Tracepoint:
    """Parse a tracefs ``format`` file."""
    fields = []
    user = category == "syscalls"
    for m in _FIELD_RE.finditer(text):
        decl = m.group("decl").strip()
        size, signed = int(m.group("size")), m.group("signed") == "1"
        fname_m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?$", decl)
        if not fname_m:
            continue
        fname = fname_m.group(1)
        if fname.startswith("common_"):
            continue
        is_array = fname_m.group(2) is not None
        count = fname_m.group(2)[1:-1].strip() if is_array else ""
        if is_array and re.match(r"(const\s+)?(unsigned\s+)?char\b", decl) and "__data_loc" \
                not in decl:
            ftype: Type = StringType(size)
        elif count.isdigit() and int(count) > 0 and size % int(count) == 0 and \
                size // int(count) in (1, 2, 4, 8) and "__data_loc" not in decl:
            # __u8 saddr[4]: an array of integers, as bpftrace types it
            ftype = ArrayType(IntType(size // int(count) * 8, signed), int(count))
        elif "*" in decl and "__data_loc" not in decl and size == 8:
            ftype = pointer_type(decl, user)
        else:
            bits = {1: 8, 2: 16, 4: 32}.get(size, 64)
            enum = re.match(r"(?:const\s+)?enum\s+(\w+)\s+\w+$", decl)
            # enum landlock_rule_type rule_type: printed by name once the analysis
            # finds the enum in BTF (an integer otherwise)
            ftype = EnumType(bits, False, enum.group(1)) if enum else IntType(bits, signed)
        fields.append(TpField(fname, decl, int(m.group("off")), size, ftype, "*" in decl))
    return Tracepoint(category, name, tuple(fields))


def load(category: str, name: str) -> Tracepoint | None:
    """Read one tracepoint's format, or None when it does not exist."""
    root = events_dir()
    if root is None:
        return None
    path = os.path.join(root, category, name, "format")
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    formats_read.add((category, name))
    return parse_format(category, name, text)
