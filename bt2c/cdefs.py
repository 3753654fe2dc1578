"""C types for a script: struct/union/enum definitions written in it, and kernel BTF.

bpftrace lets a script name C types (casts, ``sizeof``, ``offsetof``) and walk
kernel structures (``curtask->real_parent->pid``).  The :class:`TypeTable` answers
"what is ``struct foo``" and "what is member ``x`` of it": types the script
defines come first (parsed with pycparser and laid out with the x86-64/arm64
SysV rules), then the running kernel's BTF (:mod:`bt2c.btf`).  Kernel types
are read with CO-RE relocations, so their offsets here only drive type
checking; script types are plain memory layouts read at fixed offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bt2c import btf as btf_mod
from bt2c.types import (
    ArrayType,
    EnumType,
    IntType,
    PointerType,
    StringType,
    StructType,
    Type,
)

# C base types by the words that spell them (sorted, 'int' implied where C does).
_BASE: dict[str, IntType] = {
    "char": IntType(8, True), "signed char": IntType(8, True),
    "unsigned char": IntType(8, False), "short": IntType(16, True),
    "unsigned short": IntType(16, False), "int": IntType(32, True),
    "unsigned": IntType(32, False), "unsigned int": IntType(32, False),
    "long": IntType(64, True), "unsigned long": IntType(64, False),
    "long long": IntType(64, True), "unsigned long long": IntType(64, False),
    "_Bool": IntType(8, False), "bool": IntType(8, False),
    "int8": IntType(8, True), "int16": IntType(16, True), "int32": IntType(32, True),
    "int64": IntType(64, True), "uint8": IntType(8, False), "uint16": IntType(16, False),
    "uint32": IntType(32, False), "uint64": IntType(64, False),
}
for _bits in (8, 16, 32, 64):
    for _p in ("__s", "s", "__u", "u"):
        _BASE[f"{_p}{_bits}"] = IntType(_bits, "s" in _p)
    _BASE[f"int{_bits}_t"] = IntType(_bits, True)
    _BASE[f"uint{_bits}_t"] = IntType(_bits, False)
_BASE.update({"size_t": IntType(64, False), "ssize_t": IntType(64, True),
              "pid_t": IntType(32, True), "uid_t": IntType(32, False),
              "gid_t": IntType(32, False)})


class TypeError_(Exception):
    """A type the table cannot resolve; the message is bpftrace's wording."""


@dataclass(frozen=True)
class FieldInfo:
    """A member of a struct/union as the code generator needs it.

    ``offset`` is in bytes from the start of the struct (for a bitfield, of the
    byte holding its first bit); ``bit_offset``/``bits`` are set for bitfields.
    ``path`` is how C spells the access from the struct: members of anonymous
    structs/unions are reached directly, as in C.
    """

    name: str
    type: Type
    offset: int
    bit_offset: int = 0
    bits: int = 0


@dataclass
class ScriptStruct:
    """A struct/union defined in the script, with its computed layout."""

    kind: str
    name: str
    size: int
    align: int
    fields: list[FieldInfo]


class TypeTable:
    """Resolves C type names for one script: its own definitions first, then BTF."""

    def __init__(self, btf: btf_mod.Btf | None = None, use_btf: bool = True):
        self._btf = btf
        self._use_btf = use_btf
        self.structs: dict[tuple[str, str], ScriptStruct] = {}
        self.enums: dict[str, int] = {}         # enumerator -> value
        self.enum_of: dict[str, str] = {}       # enumerator -> its enum's name
        # enum name -> its enumerators, (value, name) in definition order; the
        # script's, then kernel enums as the script's values meet them
        self.enum_defs: dict[str, tuple[tuple[int, str], ...]] = {}
        self.typedefs: dict[str, Type] = {}

    @property
    def btf(self) -> btf_mod.Btf | None:
        if self._btf is None and self._use_btf:
            self._btf = btf_mod.vmlinux()
        return self._btf

    # -- lookups ----------------------------------------------------------------
    def struct(self, kind: str, name: str) -> StructType | None:
        """``struct NAME`` / ``union NAME``, or None if neither the script nor BTF has it."""
        s = self.structs.get((kind, name))
        if s is not None:
            return StructType(kind, name, s.size, btf=False)
        b = self.btf
        if b is None:
            return None
        tid = b.find(name, kind)
        if tid is None or b.type(tid).kind != kind:
            return None
        return StructType(kind, name, b.type(tid).size, btf=True)

    def fields(self, st: StructType) -> list[FieldInfo]:
        """All members of a struct, members of anonymous structs/unions flattened in."""
        if not st.btf:
            return self.structs[(st.kind, st.name)].fields
        b = self.btf
        assert b is not None
        anon = re.fullmatch(r"<anon (\d+)>", st.name)   # a member's unnamed struct type
        tid = int(anon[1]) if anon else b.find(st.name, st.kind)
        if tid is None:   # a forward declaration the kernel never defines
            return []
        return self._btf_fields(tid, 0)

    def _btf_fields(self, tid: int, base_bits: int) -> list[FieldInfo]:
        b = self.btf
        assert b is not None
        out: list[FieldInfo] = []
        for m in b.type(tid).members:
            bit = base_bits + m.bit_offset
            if not m.name:
                inner = b.resolve(m.type)
                if inner.kind in ("struct", "union"):
                    out.extend(self._btf_fields(inner.id, bit))
                continue
            t = self.from_btf(m.type)
            if m.bitfield_size:
                out.append(FieldInfo(m.name, t, bit // 8, bit % 8, m.bitfield_size))
            else:
                out.append(FieldInfo(m.name, t, bit // 8))
        return out

    def field(self, st: StructType, name: str) -> FieldInfo | None:
        for f in self.fields(st):
            if f.name == name:
                return f
        return None

    def from_btf(self, tid: int, user: bool = False) -> Type:
        """The bt2c type of a BTF type id (char arrays are strings, enums integers)."""
        b = self.btf
        assert b is not None
        t = b.resolve(tid)
        if t.kind == "int":
            bits = t.size * 8
            return IntType(bits, t.int_signed and t.int_bits != 1)
        if t.kind == "enum":
            if not t.name:   # bpftrace prints anonymous enum members as numbers
                return IntType(t.size * 8, t.int_signed)
            return EnumType(t.size * 8, False, self._btf_enum(t))
        if t.kind == "ptr":
            target = b.resolve(t.ref)
            inner = None if target.kind in ("void", "func_proto") else self.from_btf(t.ref, user)
            return PointerType(target=inner, user=user)
        if t.kind == "array":
            elem = self.from_btf(t.ref, user)
            if isinstance(elem, IntType) and elem.bits == 8 and not isinstance(elem, PointerType):
                return StringType(t.nelems)
            return ArrayType(elem, t.nelems)
        if t.kind in ("struct", "union"):
            return StructType(t.kind, t.name or f"<anon {t.id}>", t.size, btf=True)
        if t.kind == "fwd":
            kind = "union" if t.kind_flag else "struct"
            full = self.struct(kind, t.name)
            return full or StructType(kind, t.name, 0, btf=True)
        if t.kind == "float":
            return IntType(t.size * 8, True)
        return IntType(64, False)

    # -- enums ------------------------------------------------------------------------
    def enum_type(self, name: str, bits: int = 64) -> EnumType | None:
        """``enum NAME``: the script's, else the kernel's (BTF); None if neither has it."""
        if name not in self.enum_defs:
            b = self.btf
            tid = b.find(name, "enum") if b is not None else None
            if tid is None or b is None or b.type(tid).kind != "enum":
                return None
            self._btf_enum(b.type(tid))
        return EnumType(bits, False, name)

    def _btf_enum(self, t: btf_mod.BtfType) -> str:
        """Record a kernel enum's enumerators (for printing); returns its name."""
        name = t.name or f"<anon_{t.id}>"
        if name not in self.enum_defs:
            self.enum_defs[name] = tuple((m.value % (1 << 64), m.name) for m in t.members)
        return name

    def enumerator(self, ident: str) -> tuple[EnumType, int] | None:
        """The type and value of enumerator ``ident``: the script's enums first, then
        the kernel's, as bpftrace resolves a bare name such as ``SOCK_DGRAM``."""
        if ident in self.enums:
            return EnumType(64, False, self.enum_of[ident]), self.enums[ident]
        b = self.btf
        found = b.enumerator(ident) if b is not None else None
        if found is None or b is None:
            return None
        tid, value = found
        return EnumType(64, False, self._btf_enum(b.type(tid))), value

    # -- type names ---------------------------------------------------------------
    def parse_name(self, text: str, user: bool = False) -> Type:
        """A type written in a cast or sizeof: ``struct task_struct *``, ``uint32``, ..."""
        text = " ".join(text.replace("*", " * ").split())
        stars = text.count("*")
        base = text.replace("*", "").strip()
        base = re.sub(r"\b(const|volatile)\b", "", base).strip()
        base = " ".join(base.split())
        # void * points to nothing bt2c can read (bpftrace's 'void *')
        t: Type | None = None if base == "void" and stars else self.base_type(base)
        for _ in range(stars):
            t = PointerType(target=t, user=user)
        assert t is not None
        return t

    def base_type(self, base: str) -> Type:
        m = re.fullmatch(r"(struct|union|enum) (\w+)", base)
        if m:
            if m.group(1) == "enum":
                et = self.enum_type(m.group(2))
                if et is None:
                    raise TypeError_(f"Unknown enum: {m.group(2)}")
                return et
            st = self.struct(m.group(1), m.group(2))
            if st is None:
                raise TypeError_(f'Cannot resolve unknown type "{base}"')
            return st
        if base == "void":
            return IntType(8, False)
        words = " ".join(w for w in base.split() if w != "signed" or base == "signed")
        words = re.sub(r"\b(unsigned|long|short) int\b", r"\1", words)
        if words in self.typedefs:
            return self.typedefs[words]
        if words in _BASE:
            return _BASE[words]
        b = self.btf
        if b is not None:
            tid = b.find(words, "typedef")
            if tid is not None:
                return self.from_btf(tid)
        raise TypeError_(f'Cannot resolve unknown type "{base}"')

    def size_of(self, t: Type) -> int:
        return t.size

    # -- script definitions ---------------------------------------------------------
    def define(self, c_text: str) -> None:
        """Add the struct/union/enum/typedef definitions of a script (C source)."""
        from bt2c.cparse import parse_definitions
        parse_definitions(self, c_text)


def pointee(t: Type) -> Type | None:
    """What a pointer type points to (None for void * or a non-pointer)."""
    return t.target if isinstance(t, PointerType) else None
