"""libbpf skeleton headers (NAME.skel.h), written by bt2c from its BPF object.

Why not ``bpftool gen skeleton``: bpftool 7.1 (Debian 12) opens the object with
its libbpf, which refuses an object of the other byte order ("endianness
mismatch"), so it cannot write the s390x skeleton on an x86_64 or arm64 build
machine.  A skeleton is only a description of the object (its maps, programs
and the layout of its global data sections) plus the object's bytes, so bt2c
writes it itself, for every architecture alike, reading what it needs from
the object: map names from the ``.maps`` BTF DATASEC, programs from the
symbol table, and the ``.rodata``/``.data``/``.bss`` struct layouts from their
BTF DATASECs (offsets exactly as the object has them).  The API is bpftool's
(``NAME_bpf__open()``, ``->rodata->x``, ``->maps.m``, ``->progs.p`` ...), so a
loader builds against either, and tests/test_arch.py checks the two agree for
little-endian objects.

Order follows libbpf, which is what bpftool's skeleton reflects: user maps in
``.maps`` DATASEC order, then one internal map per data section in section
order; programs by section, then offset.  Internal maps are named by their
real name (``.rodata``), which libbpf >= 1.0 resolves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bt2c import bpf_elf as elf
from bt2c.btf import Btf, BtfError
from bt2c.diagnostics import Bt2cError
from bt2c.templating import render

#: Section name prefixes libbpf turns into internal (memory-mapped) maps.
DATA_PREFIXES = (".data", ".rodata", ".bss")


@dataclass
class DataVar:
    """A global variable of a data section, as a member of the skeleton's struct."""

    decl: str  #: C declaration of the member, e.g. ``char bt_param_str[3][64]``
    name: str
    size: int


@dataclass
class DataSection:
    """An internal map: its real name, the skeleton member, and the struct layout."""

    real_name: str  #: ``.rodata``
    ident: str  #: ``rodata``
    members: list[str] = field(default_factory=list)  #: declarations incl. padding
    vars: list[DataVar] = field(default_factory=list)


@dataclass
class Skeleton:
    """Everything the skeleton template needs."""

    name: str  #: object name: ``NAME_bpf``
    source: str  #: the object file it describes (for the header comment)
    maps: list[str]  #: user map names
    datasecs: list[DataSection]
    progs: list[str]
    data: bytes  #: the object itself

    @property
    def guard(self) -> str:
        return "__" + self.name.upper() + "_SKEL_H__"

    def c_bytes(self) -> list[str]:
        """The object as C string literal lines: every byte escaped, 32 bytes a line."""
        out = []
        for i in range(0, len(self.data), 32):
            chunk = self.data[i:i + 32]
            out.append("".join("\\0" if b == 0 else f"\\x{b:02x}" for b in chunk))
        return out


def _ident(name: str) -> str:
    """bpftool's member name for a section: ``.rodata.str1.1`` -> ``rodata_str1_1``."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name[1:])


def _strip(btf: Btf, tid: int) -> int:
    """Drop const/volatile/restrict/type tags (bpftool's strip_mods), keeping typedefs."""
    t = btf.type(tid)
    while t.kind in ("const", "volatile", "restrict", "type_tag"):
        tid = t.ref
        t = btf.type(tid)
    return tid


def c_decl(btf: Btf, tid: int, name: str) -> str:
    """The C declaration of ``name`` with type ``tid``, qualifiers stripped."""
    t = btf.type(_strip(btf, tid))
    if t.kind in ("int", "float", "typedef"):
        return f"{t.name} {name}"
    if t.kind in ("struct", "union", "enum") and t.name:
        return f"{t.kind} {t.name} {name}"
    if t.kind == "array":
        return c_decl(btf, t.ref, f"{name}[{t.nelems}]")
    if t.kind == "ptr" and btf.type(_strip(btf, t.ref)).kind != "func_proto":
        return c_decl(btf, t.ref, f"*{name}")
    raise Bt2cError(f"skeleton: global {name.strip('*[]0123456789')!r} has a type bt2c "
                    f"cannot declare ({t.kind})")


def align_of(btf: Btf, tid: int) -> int:
    """The type's alignment as libbpf's btf__align_of computes it."""
    t = btf.resolve(tid)
    if t.kind in ("int", "enum", "float"):
        return min(t.size, 8) or 1
    if t.kind == "ptr":
        return 8
    if t.kind == "array":
        return align_of(btf, t.ref)
    if t.kind in ("struct", "union"):
        return max((align_of(btf, m.type) for m in t.members), default=1)
    return 1


def datasec_layout(btf: Btf, sec_tid: int, real_name: str,
                   offsets: dict[str, int]) -> DataSection:
    """A data section's struct: its global variables at their offsets, gaps as padding.

    clang leaves the DATASEC's offsets 0 in an object (libbpf fills them in
    at open from the symbol table), so ``offsets`` are the symbols' values.
    Padding is computed as bpftool does, assuming alignment of at most 4 (a
    32-bit target), so the struct's layout is the section's on every host.
    """
    out = DataSection(real_name, _ident(real_name))
    off = 0
    vars_ = sorted(btf.type(sec_tid).members, key=lambda m: offsets.get(m.name, 0))
    for v in vars_:
        var = btf.type(v.type)
        if var.linkage == 0:  # static: not part of the skeleton
            continue
        if var.name not in offsets:
            raise Bt2cError(f"skeleton: no symbol for {var.name} in {real_name}")
        need = offsets[var.name]
        align = min(align_of(btf, var.ref), 4)
        if (off + align - 1) // align * align != need:
            out.members.append(f"char __pad{sum(m.startswith('char __pad') for m in out.members)}"
                               f"[{need - off}]")
        decl = c_decl(btf, var.ref, var.name)
        out.members.append(decl)
        out.vars.append(DataVar(decl, var.name, v.value))
        off = need + v.value
    return out


def describe(obj_path: Path, name: str) -> Skeleton:
    """Read the BPF object ``obj_path`` and describe its skeleton, named ``NAME_bpf``."""
    obj = elf.read(obj_path)
    if obj.machine != elf.EM_BPF:
        raise Bt2cError(f"{obj_path}: not a BPF object")
    btf_sec = obj.section(".BTF")
    if btf_sec is None:
        raise Bt2cError(f"{obj_path}: no .BTF section (build with clang -g)")
    try:
        btf = Btf(obj.contents(btf_sec))
    except BtfError as e:
        raise Bt2cError(f"{obj_path}: {e}") from None

    datasec = {btf.type(tid).name: tid for tid in range(1, len(btf))
               if btf.type(tid).kind == "datasec"}.get
    maps: list[str] = []
    maps_tid = datasec(".maps")
    if maps_tid is not None:
        maps = [btf.type(v.type).name for v in btf.type(maps_tid).members]
    symbols = obj.symbols()
    datasecs = []
    for sec in obj.sections:
        if not (sec.flags & elf.SHF_ALLOC) or sec.flags & elf.SHF_EXECINSTR:
            continue
        if not any(sec.name == p or sec.name.startswith(p + ".") for p in DATA_PREFIXES):
            continue
        tid = datasec(sec.name)
        offsets = {s.name: s.value for s in symbols
                   if s.shndx == sec.index and s.type == elf.STT_OBJECT}
        datasecs.append(datasec_layout(btf, tid, sec.name, offsets) if tid is not None
                        else DataSection(sec.name, _ident(sec.name)))
    exec_secs = {s.index for s in obj.sections
                 if s.flags & elf.SHF_EXECINSTR and s.size and s.name != ".text"}
    progs = [s.name for s in sorted((s for s in symbols
                                     if s.type == elf.STT_FUNC and s.shndx in exec_secs),
                                    key=lambda s: (s.shndx, s.value))]
    return Skeleton(f"{name}_bpf", obj_path.name, maps, datasecs, progs, obj.data)


def generate(obj_path: Path, name: str) -> str:
    """The text of NAME.skel.h for the object at ``obj_path``."""
    return render("skeleton.h.j2", skel=describe(obj_path, name))
