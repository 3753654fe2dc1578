"""A minimal reader of 64-bit ELF relocatable objects (BPF objects), in either byte order.

bt2c reads its own BPF objects to write their skeletons (bt2c/skeleton.py): the
section list, the symbol table and the ``.BTF`` section.  An s390x object is
big-endian, which bpftool 7.1 refuses on a little-endian host, so the reader
takes the byte order from the ELF header instead of assuming the host's.
(bt2c/elf.py reads executables for uprobes: function symbols, segments, notes.)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

from bt2c.diagnostics import Bt2cError

EM_BPF = 247
SHT_SYMTAB = 2
SHF_WRITE = 0x1
SHF_ALLOC = 0x2
SHF_EXECINSTR = 0x4
STT_OBJECT = 1
STT_FUNC = 2


@dataclass(frozen=True)
class Section:
    """One section header (index 0 is the null section)."""

    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    entsize: int


@dataclass(frozen=True)
class Symbol:
    """One symbol table entry."""

    name: str
    value: int
    size: int
    type: int  #: STT_*
    bind: int  #: STB_* (0 local, 1 global, 2 weak)
    shndx: int


class Elf:
    """A parsed ELF64 file: byte order, machine, sections (by index and name), symbols."""

    def __init__(self, data: bytes, where: str = "ELF file"):
        if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] not in (1, 2):
            raise Bt2cError(f"{where}: not a 64-bit ELF file")
        self.data = data
        self.big_endian = data[5] == 2
        self.e = ">" if self.big_endian else "<"
        self.machine = struct.unpack_from(self.e + "H", data, 18)[0]
        shoff = struct.unpack_from(self.e + "Q", data, 40)[0]
        shentsize, shnum, shstrndx = struct.unpack_from(self.e + "HHH", data, 58)
        raw = [struct.unpack_from(self.e + "IIQQQQIIQQ", data, shoff + i * shentsize)
               for i in range(shnum)]
        names_off = raw[shstrndx][4] if shnum else 0
        self.sections = [Section(i, self._str(names_off, r[0]), r[1], r[2], r[4], r[5], r[6],
                                 r[9]) for i, r in enumerate(raw)]

    def _str(self, table: int, off: int) -> str:
        start = table + off
        return self.data[start:self.data.index(b"\0", start)].decode()

    def section(self, name: str) -> Section | None:
        """The first section called ``name``."""
        return next((s for s in self.sections if s.name == name), None)

    def contents(self, sec: Section) -> bytes:
        """A section's bytes."""
        return self.data[sec.offset:sec.offset + sec.size]

    def symbols(self) -> list[Symbol]:
        """The symbol table, in table order (index 0, the null symbol, left out)."""
        symtab = next((s for s in self.sections if s.type == SHT_SYMTAB), None)
        if symtab is None:
            return []
        strtab = self.sections[symtab.link].offset
        out = []
        for i in range(1, symtab.size // symtab.entsize):
            name, info, _other, shndx, value, size = struct.unpack_from(
                self.e + "IBBHQQ", self.data, symtab.offset + i * symtab.entsize)
            out.append(Symbol(self._str(strtab, name), value, size, info & 0xF, info >> 4,
                              shndx))
        return out


def read(path: Path) -> Elf:
    """Parse the ELF file at ``path``."""
    return Elf(path.read_bytes(), str(path))
