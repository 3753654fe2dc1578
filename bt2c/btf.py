"""A small reader of kernel BTF (``/sys/kernel/btf/vmlinux``).

bt2c needs the kernel's types at transpile time only: to type-check ``curtask->pid``,
to know a function's parameters for ``fentry`` ``args.NAME``, to lay out bitfields.
The generated code itself uses CO-RE relocations, so these types only have to be
*shaped* like the target's, not identical.

The format (linux/btf.h): a header, a type section (``struct btf_type`` records of
variable length, type id 1 is the first record, id 0 is ``void``) and a string
section.  Parsing is lazy: :func:`vmlinux` scans the type section once to find
where each record starts and to index named types by name, then decodes a type
only when asked.  The index is cached in ``~/.cache/bt2c/btf`` keyed by a hash of
the file's bytes (sysfs gives the file a fresh mtime on every boot), so later
runs skip the scan.

API (all ids are BTF type ids)::

    btf = vmlinux()                       # one BTF per process; None if absent
    tid = btf.find("task_struct", "struct")  # kinds: struct union enum typedef func int ...
    t = btf.type(tid)                     # BtfType(kind, name, size, ref, members, ...)
    btf.resolve(tid)                      # strip typedef/const/volatile/restrict/type tags
    btf.func_params("vfs_read")           # [(name, type id)], return type id; or None
    btf.c_type(tid)                       # C spelling: "struct task_struct *", "char[16]"
    btf.percpu_var("runqueues")           # a per-CPU variable's type id; or None
    btf.c_decl(tid, "runqueues")          # "struct rq runqueues"; None if unspellable
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
from array import array
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

VMLINUX = "/sys/kernel/btf/vmlinux"
MAGIC = 0xEB9F

KINDS = {
    0: "void", 1: "int", 2: "ptr", 3: "array", 4: "struct", 5: "union", 6: "enum",
    7: "fwd", 8: "typedef", 9: "volatile", 10: "const", 11: "restrict", 12: "func",
    13: "func_proto", 14: "var", 15: "datasec", 16: "float", 17: "decl_tag",
    18: "type_tag", 19: "enum64",
}
# Kinds that are only qualifiers or aliases of the type they point at.
MODIFIERS = {"typedef", "volatile", "const", "restrict", "type_tag"}
_CACHE_VERSION = 2   # 2: datasecs are indexed too


class BtfError(Exception):
    """The BTF blob is malformed or of an unknown version."""


@dataclass(frozen=True)
class Member:
    """A struct/union member, or a function parameter (offset 0), or an enumerator.

    ``bit_offset`` is from the start of the struct; ``bitfield_size`` is 0 unless the
    member is a bitfield.  For enumerators ``type`` is 0 and ``value`` holds the value.
    """

    name: str
    type: int
    bit_offset: int = 0
    bitfield_size: int = 0
    value: int = 0


@dataclass(frozen=True)
class BtfType:
    """One decoded type record.

    ``size`` is set for int/struct/union/enum/float; ``ref`` is the referenced type of
    ptr/typedef/const/volatile/restrict/func/var (for func: its func_proto) and the
    return type of func_proto; arrays have ``ref`` (element) and ``nelems``.
    ``members`` holds struct/union members, func_proto params, enumerators, and a
    datasec's variables.  int types have ``int_bits``/``int_signed``; a var has its
    ``linkage`` (0 static, 1 global).
    """

    id: int
    kind: str
    name: str
    size: int = 0
    ref: int = 0
    nelems: int = 0
    members: tuple[Member, ...] = field(default=())
    int_bits: int = 0
    int_signed: bool = False
    kind_flag: bool = False
    linkage: int = 0


class Btf:
    """A parsed BTF blob; types are decoded on demand and memoised."""

    def __init__(self, data: bytes, offsets: array | None = None,
                 names: dict[str, list[int]] | None = None):
        if len(data) < 24:
            raise BtfError("BTF too short")
        # BTF is in its producer's byte order: a big-endian (s390x) object's .BTF
        # section reads as the magic byte-swapped.
        self.e = "<" if struct.unpack_from("<H", data, 0)[0] == MAGIC else ">"
        magic, version, _flags, hdr_len = struct.unpack_from(self.e + "HBBI", data, 0)
        if magic != MAGIC or version != 1:
            raise BtfError("not BTF (bad magic or version)")
        type_off, type_len, str_off, str_len = struct.unpack_from(self.e + "IIII", data, 8)
        self.data = data
        self.types_start = hdr_len + type_off
        self.types_end = self.types_start + type_len
        self.strs_start = hdr_len + str_off
        self.strs_end = self.strs_start + str_len
        self._cache: dict[int, BtfType] = {}
        self._enumerators: dict[str, int] | None = None   # built on first use
        if offsets is None or names is None:
            offsets, names = self._scan()
        self.offsets = offsets
        self.names = names

    # -- scanning -------------------------------------------------------------
    def _scan(self) -> tuple[array, dict[str, list[int]]]:
        """Find where each type record starts and index named types by name."""
        data, unpack = self.data, struct.unpack_from
        offsets = array("I", [0])       # id 0 is void
        names: dict[str, list[int]] = {}
        pos, end, tid = self.types_start, self.types_end, 0
        strs = self.strs_start
        extra = {1: 4, 3: 12, 14: 4, 17: 4}          # fixed-size trailers
        per_member = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}
        indexed = {1, 4, 5, 6, 7, 8, 12, 15, 16, 19}
        while pos < end:
            tid += 1
            offsets.append(pos)
            name_off, info = unpack(self.e + "II", data, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            if name_off and kind in indexed:
                s = strs + name_off
                name = data[s:data.index(b"\0", s)].decode()
                names.setdefault(name, []).append(tid)
            pos += 12 + extra.get(kind, 0) + per_member.get(kind, 0) * vlen
        return offsets, names

    def __len__(self) -> int:
        return len(self.offsets)

    def string(self, off: int) -> str:
        s = self.strs_start + off
        return self.data[s:self.data.index(b"\0", s)].decode()

    # -- lookups ----------------------------------------------------------------
    def find(self, name: str, kind: str | None = None) -> int | None:
        """The id of a named type of the given kind ("struct", "typedef", ...), or None.

        For struct/union a full definition is preferred over a forward declaration.
        """
        ids = self.names.get(name, ())
        fwd = None
        for tid in ids:
            t = self.type(tid)
            if kind is None or t.kind == kind:
                return tid
            if t.kind == "fwd" and kind in ("struct", "union"):
                fwd = tid
        return fwd

    def type(self, tid: int) -> BtfType:
        """Decode type ``tid`` (0 is void)."""
        t = self._cache.get(tid)
        if t is None:
            t = self._cache[tid] = self._decode(tid)
        return t

    def _decode(self, tid: int) -> BtfType:
        if tid == 0:
            return BtfType(0, "void", "void")
        if not 0 < tid < len(self.offsets):
            raise BtfError(f"type id {tid} out of range")
        data, pos = self.data, self.offsets[tid]
        name_off, info, size_or_type = struct.unpack_from(self.e + "III", data, pos)
        kind = KINDS.get((info >> 24) & 0x1F, "unknown")
        vlen, kflag = info & 0xFFFF, bool(info >> 31)
        name = self.string(name_off) if name_off else ""
        body = pos + 12
        if kind == "int":
            (enc,) = struct.unpack_from(self.e + "I", data, body)
            return BtfType(tid, kind, name, size=size_or_type, int_bits=enc & 0xFF,
                           int_signed=bool((enc >> 24) & 1))
        if kind == "array":
            elem, _index, nelems = struct.unpack_from(self.e + "III", data, body)
            return BtfType(tid, kind, name, ref=elem, nelems=nelems)
        if kind in ("struct", "union"):
            members = []
            for i in range(vlen):
                m_name, m_type, m_off = struct.unpack_from(self.e + "III", data, body + 12 * i)
                bits = m_off >> 24 if kflag else 0
                bit_off = m_off & 0xFFFFFF if kflag else m_off
                members.append(Member(self.string(m_name) if m_name else "", m_type,
                                      bit_off, bits))
            return BtfType(tid, kind, name, size=size_or_type, members=tuple(members),
                           kind_flag=kflag)
        if kind in ("enum", "enum64"):
            members = []
            for i in range(vlen):
                if kind == "enum":
                    fmt = self.e + ("Ii" if kflag else "II")
                    e_name, val = struct.unpack_from(fmt, data, body + 8 * i)
                else:
                    e_name, lo, hi = struct.unpack_from(self.e + "III", data, body + 12 * i)
                    val = lo | hi << 32
                    if kflag and val >= 1 << 63:
                        val -= 1 << 64
                members.append(Member(self.string(e_name), 0, value=val))
            return BtfType(tid, "enum", name, size=size_or_type, members=tuple(members),
                           int_signed=kflag, kind_flag=kflag)
        if kind == "func_proto":
            params = []
            for i in range(vlen):
                p_name, p_type = struct.unpack_from(self.e + "II", data, body + 8 * i)
                params.append(Member(self.string(p_name) if p_name else "", p_type))
            return BtfType(tid, kind, name, ref=size_or_type, members=tuple(params))
        if kind in ("float",):
            return BtfType(tid, kind, name, size=size_or_type)
        if kind == "fwd":
            return BtfType(tid, kind, name, kind_flag=kflag)
        if kind == "datasec":
            # Each variable: Member(name, var type id, bit_offset=8*offset, value=size).
            members = []
            for i in range(vlen):
                v_type, v_off, v_size = struct.unpack_from(self.e + "III", data, body + 12 * i)
                members.append(Member(self.type(v_type).name, v_type, 8 * v_off,
                                      value=v_size))
            return BtfType(tid, kind, name, size=size_or_type, members=tuple(members))
        if kind == "var":
            (linkage,) = struct.unpack_from(self.e + "I", data, body)
            return BtfType(tid, kind, name, ref=size_or_type, linkage=linkage)
        return BtfType(tid, kind, name, ref=size_or_type, kind_flag=kflag)

    def resolve(self, tid: int) -> BtfType:
        """The type behind typedefs and qualifiers."""
        t = self.type(tid)
        while t.kind in MODIFIERS:
            t = self.type(t.ref)
        return t

    def size_of(self, tid: int) -> int:
        """sizeof the type, following aliases; pointers are 8 bytes."""
        t = self.resolve(tid)
        if t.kind == "ptr":
            return 8
        if t.kind == "array":
            return t.nelems * self.size_of(t.ref)
        return t.size

    def func_params(self, name: str) -> tuple[list[tuple[str, int]], int] | None:
        """A kernel function's parameters [(name, type id)] and return type id, or None."""
        tid = self.find(name, "func")
        if tid is None:
            return None
        proto = self.type(self.type(tid).ref)
        return [(m.name, m.type) for m in proto.members], proto.ref

    def enumerator(self, name: str) -> tuple[int, int] | None:
        """The enum type id and value of the kernel enumerator ``name``
        (``SKB_DROP_REASON_SOCKET_FILTER``), or None.  The first enum that has it wins."""
        if self._enumerators is None:
            self._enumerators = {}
            data, unpack, strs = self.data, struct.unpack_from, self.strs_start
            for tid in range(1, len(self.offsets)):
                pos = self.offsets[tid]
                info = unpack(self.e + "I", data, pos + 4)[0]
                kind = (info >> 24) & 0x1F
                if kind not in (6, 19):   # enum, enum64
                    continue
                step = 8 if kind == 6 else 12
                for i in range(info & 0xFFFF):
                    s = strs + unpack(self.e + "I", data, pos + 12 + step * i)[0]
                    self._enumerators.setdefault(data[s:data.index(b"\0", s)].decode(), tid)
        tid = self._enumerators.get(name)
        if tid is None:
            return None
        value = next(m.value for m in self.type(tid).members if m.name == name)
        return tid, value

    def percpu_var(self, name: str) -> int | None:
        """The type id of the kernel's per-CPU variable ``name`` (a VAR of the
        ``.data..percpu`` DATASEC), or None: what ``percpu_kaddr()`` may name."""
        for sec in self.names.get(".data..percpu", ()):
            for m in self.type(sec).members:
                if m.name == name:
                    return self.type(m.type).ref
        return None

    def c_decl(self, tid: int, name: str) -> str | None:
        """The C declaration of ``name`` with type ``tid`` ("struct rq runqueues",
        "char buf[16]", "struct irq_stack *ptr"), or None where the type has no
        name to spell it with (anonymous structs, pointers to functions or arrays)."""
        t = self.type(tid)
        if t.kind == "array":
            return self.c_decl(t.ref, f"{name}[{t.nelems}]")
        if t.kind == "ptr":
            target = self.resolve(t.ref)
            if target.kind in ("array", "func_proto") or (
                    target.kind in ("struct", "union", "enum") and not target.name):
                return None
            return f"{self.c_type(t.ref)} *{name}"
        base = self.resolve(tid)
        if base.kind in ("struct", "union", "enum") and not base.name and t is base:
            return None
        if base.kind == "func_proto":
            return None
        return f"{self.c_type(tid)} {name}"

    def c_type(self, tid: int) -> str:
        """The C spelling of a type, as bpftrace and bpftool print it."""
        t = self.type(tid)
        if t.kind == "void":
            return "void"
        if t.kind in ("int", "float", "typedef"):
            return t.name
        if t.kind in ("struct", "union", "enum"):
            return f"{t.kind} {t.name}" if t.name else f"{t.kind} <anon>"
        if t.kind == "fwd":
            return f"{'union' if t.kind_flag else 'struct'} {t.name}"
        if t.kind == "ptr":
            return self.c_type(t.ref) + " *"
        if t.kind in ("const", "volatile", "restrict"):
            return f"{t.kind} {self.c_type(t.ref)}"
        if t.kind == "type_tag":
            return self.c_type(t.ref)
        if t.kind == "array":
            return f"{self.c_type(t.ref)}[{t.nelems}]"
        if t.kind == "func_proto":
            return self.c_type(t.ref) + " (*)(" + ", ".join(
                self.c_type(m.type) for m in t.members) + ")"
        return t.name or t.kind


def _cache_dir() -> Path:
    base = os.environ.get("BT2C_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "bt2c")
    return Path(base) / "btf"


def load(path: str = VMLINUX, use_cache: bool = True) -> Btf:
    """Parse a BTF file; the type index is cached on disk by the file's content hash."""
    data = Path(path).read_bytes()
    if not use_cache:
        return Btf(data)
    digest = hashlib.blake2b(data, digest_size=16).hexdigest()
    cache = _cache_dir() / f"{digest}.v{_CACHE_VERSION}.pickle"
    try:
        with open(cache, "rb") as f:
            offsets, names = pickle.load(f)
        return Btf(data, offsets, names)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        pass
    btf = Btf(data)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as f:
            pickle.dump((btf.offsets, btf.names), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    except OSError:
        pass     # a read-only home only costs the scan next time
    return btf


@cache
def vmlinux() -> Btf | None:
    """The running kernel's BTF, parsed once per process; None without kernel BTF.

    ``$BT2C_BTF`` names another file (e.g. a target kernel's vmlinux BTF).
    """
    path = os.environ.get("BT2C_BTF", VMLINUX)
    try:
        return load(path)
    except (OSError, BtfError):
        return None
