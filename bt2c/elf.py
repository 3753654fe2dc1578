"""A small ELF reader: function symbols, segments and USDT notes of a binary.

User-space probes name functions of a file on disk (``uprobe:/bin/bash:readline``);
bt2c checks them and expands wildcards at transpile time, as bpftrace does before
attaching, so a typo is a diagnostic on the script line, not a failure at run time.
Only what that needs is read: the section headers, ``.symtab``/``.dynsym`` with
their string tables, the ``PT_LOAD`` program headers (virtual address to file
offset) and the ``.note.stapsdt`` notes (USDT probes).  Both ELF classes and
byte orders are handled, so a cross target's binary can be inspected too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

_SHT_SYMTAB = 2
_SHT_NOTE = 7
_SHT_DYNSYM = 11
_STT_OBJECT = 1
_STT_FUNC = 2
_STT_GNU_IFUNC = 10
_SHN_UNDEF = 0
_PT_LOAD = 1
_NT_STAPSDT = 3


class ElfError(Exception):
    """The file is not an ELF file bt2c can read (the message says why)."""


@dataclass(frozen=True)
class Symbol:
    """A defined function symbol: its virtual address and size."""

    name: str
    addr: int
    size: int


@dataclass(frozen=True)
class UsdtNote:
    """One USDT probe site from ``.note.stapsdt`` (a probe may have several sites)."""

    provider: str
    name: str
    addr: int
    args: str


@dataclass(frozen=True)
class _Section:
    name_off: int
    type: int
    offset: int
    size: int
    link: int
    entsize: int
    name: str = ""


class ElfFile:
    """The parts of one ELF file that probes need, read once when opened."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        try:
            self.data = Path(path).read_bytes()
        except OSError as e:
            raise ElfError(f"cannot read {path}: {e.strerror}") from None
        d = self.data
        if d[:4] != b"\x7fELF" or len(d) < 52:
            raise ElfError(f"{path} is not an ELF file")
        self.is64 = d[4] == 2
        self.end = "<" if d[5] == 1 else ">"
        if self.is64:
            (self.e_type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum,
             shentsize, shnum, shstrndx) = struct.unpack_from(self.end + "HHIQQQIHHHHHH", d, 16)
        else:
            (self.e_type, self.machine, _, _, phoff, shoff, _, _, phentsize, phnum,
             shentsize, shnum, shstrndx) = struct.unpack_from(self.end + "HHIIIIIHHHHHH", d, 16)
        self.segments = self._read_segments(phoff, phentsize, phnum)
        self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)

    def _read_segments(self, off: int, size: int, n: int) -> list[tuple[int, int, int]]:
        """(vaddr, file offset, file size) of each PT_LOAD segment."""
        out = []
        for i in range(n):
            if self.is64:
                p_type, _, p_off, p_vaddr, _, p_filesz = struct.unpack_from(
                    self.end + "IIQQQQ", self.data, off + i * size)
            else:
                p_type, p_off, p_vaddr, _, p_filesz = struct.unpack_from(
                    self.end + "IIIII", self.data, off + i * size)
            if p_type == _PT_LOAD:
                out.append((p_vaddr, p_off, p_filesz))
        return out

    def _read_sections(self, off: int, size: int, n: int, strndx: int) -> list[_Section]:
        raw = []
        for i in range(n):
            if self.is64:
                name, typ, _, _, s_off, s_size, link, _, _, entsize = struct.unpack_from(
                    self.end + "IIQQQQIIQQ", self.data, off + i * size)
            else:
                name, typ, _, _, s_off, s_size, link, _, _, entsize = struct.unpack_from(
                    self.end + "IIIIIIIIII", self.data, off + i * size)
            raw.append(_Section(name, typ, s_off, s_size, link, entsize))
        if not 0 < strndx < len(raw):
            return raw
        names = raw[strndx]
        return [_Section(s.name_off, s.type, s.offset, s.size, s.link, s.entsize,
                         self._cstr(names.offset + s.name_off)) for s in raw]

    def _cstr(self, off: int) -> str:
        end = self.data.find(b"\0", off)
        return self.data[off:end if end >= 0 else len(self.data)].decode(errors="replace")

    def functions(self) -> dict[str, Symbol]:
        """Defined function symbols by name, from .symtab and .dynsym.

        A name defined twice (two static functions in different files) keeps its
        first definition, as bpftrace and libbpf also see one address per name.
        Versioned names (``memcpy@GLIBC_2.2.5``) lose their version.
        """
        return self._symbols((_STT_FUNC, _STT_GNU_IFUNC))

    def objects(self) -> dict[str, Symbol]:
        """Defined data and function symbols by name (``uaddr()`` takes either)."""
        return self._symbols((_STT_OBJECT, _STT_FUNC, _STT_GNU_IFUNC))

    def _symbols(self, kinds: tuple[int, ...]) -> dict[str, Symbol]:
        out: dict[str, Symbol] = {}
        for sec in self.sections:
            if sec.type not in (_SHT_SYMTAB, _SHT_DYNSYM) or sec.link >= len(self.sections):
                continue
            strtab = self.sections[sec.link]
            entsize = sec.entsize or (24 if self.is64 else 16)
            for i in range(1, sec.size // entsize):
                base = sec.offset + i * entsize
                if self.is64:
                    name, info, _, shndx, value, size = struct.unpack_from(
                        self.end + "IBBHQQ", self.data, base)
                else:
                    name, value, size, info, _, shndx = struct.unpack_from(
                        self.end + "IIIBBH", self.data, base)
                if info & 0xF not in kinds or shndx == _SHN_UNDEF:
                    continue
                sym = self._cstr(strtab.offset + name).split("@", 1)[0]
                if sym and sym not in out:
                    out[sym] = Symbol(sym, value, size)
        return out

    def symbol_at(self, addr: int) -> Symbol | None:
        """The function whose [addr, addr + size) holds ``addr``, if any."""
        for sym in self.functions().values():
            if sym.addr <= addr < sym.addr + max(sym.size, 1):
                return sym
        return None

    def file_offset(self, vaddr: int) -> int | None:
        """The file offset of virtual address ``vaddr`` (None outside every segment)."""
        for seg_vaddr, seg_off, seg_size in self.segments:
            if seg_vaddr <= vaddr < seg_vaddr + seg_size:
                return vaddr - seg_vaddr + seg_off
        return None

    def usdt_notes(self) -> list[UsdtNote]:
        """Every ``stapsdt`` note: provider, probe name, site address, argument spec."""
        out = []
        word = 8 if self.is64 else 4
        for sec in self.sections:
            if sec.type != _SHT_NOTE or sec.name != ".note.stapsdt":
                continue
            pos, stop = sec.offset, sec.offset + sec.size
            while pos + 12 <= stop:
                namesz, descsz, ntype = struct.unpack_from(self.end + "III", self.data, pos)
                owner = self.data[pos + 12:pos + 12 + namesz].rstrip(b"\0")
                desc = pos + 12 + (namesz + 3) // 4 * 4
                pos = desc + (descsz + 3) // 4 * 4
                if ntype != _NT_STAPSDT or owner != b"stapsdt":
                    continue
                addr = struct.unpack_from(self.end + ("Q" if word == 8 else "I"),
                                          self.data, desc)[0]
                strs = self.data[desc + 3 * word:desc + descsz].split(b"\0")
                if len(strs) >= 2:
                    out.append(UsdtNote(strs[0].decode(errors="replace"),
                                        strs[1].decode(errors="replace"), addr,
                                        strs[2].decode(errors="replace") if len(strs) > 2
                                        else ""))
        return out
