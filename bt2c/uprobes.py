"""User-space attach points: uprobe, uretprobe and usdt, resolved at transpile time.

bpftrace checks a user-space probe against the file before it attaches: the
file must exist, a named function must be in its symbol table, a wildcard is
expanded over the symbol table (or, for usdt, over the ``.note.stapsdt``
notes).  bt2c does the same here, so a bad attach point is an error on its
script line.  Named functions are still attached by name at run time (libbpf
looks the symbol up again), so a tool keeps working when the traced binary is
rebuilt; an address (``uprobe:PATH:0x401000``) is turned into a file offset now.

Paths are resolved like bpftrace's: a name with a ``/`` is a path (kept as
written, relative to the working directory); ``libNAME`` is looked up in the
dynamic linker's cache (``uprobe:libc:malloc``); any other bare name is searched
for on ``PATH``.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache

from bt2c import ast
from bt2c.elf import ElfError, ElfFile

Fail = Callable[[str, ast.AttachPoint], Exception]

#: bpftrace's wording when a wildcard (or a usdt probe) matches nothing.
NO_VALID = ("Probe has no valid attach points. If this is expected, set the "
            "'missing_probes' config variable to 'warn'.")
_LIB_DIRS = ("/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")


@dataclass(frozen=True)
class UserTarget:
    """One concrete user-space attach target.

    ``path`` is what the loader passes to libbpf; ``func`` is the function name
    to attach by (empty for an address); ``offset`` is added to it (or, without
    a function, is the file offset itself).  ``symbol`` is the ``func``
    builtin's value; ``usdt`` is (provider, name) for usdt probes.
    """

    provider: str
    path: str
    raw: str
    func: str = ""
    offset: int = 0
    symbol: str = ""
    usdt: tuple[str, str] | None = None
    wildcard: bool = False


def is_wildcard(text: str) -> bool:
    return any(c in text for c in "*?[")


@cache
def _ld_cache() -> tuple[tuple[str, str], ...]:
    """(soname, path) pairs from ``ldconfig -p``, this machine's library index."""
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return ()
    pairs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)", line)
        if m and ("64" in m.group(2)) == (os.uname().machine.endswith("64")):
            pairs.append((m.group(1), m.group(3)))
    return tuple(pairs)


def _find_library(name: str) -> str | None:
    """``libc`` -> the path of ``libc.so*``: the linker cache first, then the usual dirs."""
    for soname, path in _ld_cache():
        if soname == f"{name}.so" or soname.startswith(f"{name}.so."):
            return path
    for d in _LIB_DIRS:
        if not os.path.isdir(d):
            continue
        for entry in sorted(os.listdir(d)):
            if entry == f"{name}.so" or entry.startswith(f"{name}.so."):
                return os.path.join(d, entry)
    return None


def resolve_path(path: str) -> str | None:
    """The file a user-space attach point names, or None when there is none."""
    if "/" in path:
        return path if os.path.isfile(path) else None
    if path.startswith("lib"):
        found = _find_library(path)
        if found:
            return found
    return shutil.which(path)


@lru_cache(maxsize=32)
def _elf(path: str, mtime: float) -> ElfFile:
    return ElfFile(path)


def open_elf(path: str, ap: ast.AttachPoint, fail: Fail) -> ElfFile:
    try:
        return _elf(path, os.stat(path).st_mtime)
    except (ElfError, OSError) as e:
        raise fail(f"cannot read the symbols of '{path}': {e}", ap) from None


def _target_file(ap: ast.AttachPoint, fail: Fail) -> tuple[str, str]:
    """(path for libbpf, path as printed in the probe name) of an attach point."""
    given = ap.parts[0]
    path = resolve_path(given)
    if path is None or not os.access(path, os.R_OK):
        kind = "usdt" if ap.provider == "usdt" else "uprobe"
        raise fail(f"{kind} target file '{given}' does not exist or is not executable", ap)
    return path, (given if "/" in given else path)


def _number(text: str) -> int | None:
    try:
        return int(text, 0)
    except ValueError:
        return None


def resolve_uprobe(ap: ast.AttachPoint, fail: Fail) -> list[UserTarget]:
    """uprobe:PATH:FUNC[+OFFSET], uprobe:PATH:0xADDR and uretprobe:PATH:FUNC."""
    if len(ap.parts) != 2 or not ap.parts[0] or not ap.parts[1]:
        raise fail(f"{ap.provider} probes need a file and a function "
                   f"({ap.provider}:PATH:FUNC)", ap)
    path, shown = _target_file(ap, fail)
    elf = open_elf(path, ap, fail)
    spec = ap.parts[1]
    prefix = f"{ap.provider}:{shown}:"
    addr = _number(spec)
    if addr is not None and spec[0].isdigit():
        if ap.provider == "uretprobe":
            raise fail("Offset not allowed", ap)
        offset = elf.file_offset(addr)
        if offset is None:
            raise fail(f"Could not resolve address: {shown}:{spec}", ap)
        sym = elf.symbol_at(addr)
        return [UserTarget(ap.provider, path, f"{prefix}{addr}", offset=offset,
                           symbol=sym.name if sym else "")]
    func, _, off_text = spec.partition("+")
    offset = 0
    if off_text:
        if ap.provider == "uretprobe":
            raise fail("Offset not allowed", ap)
        number = _number(off_text)
        if number is None or is_wildcard(func):
            raise fail(f"Invalid offset in {ap.raw}", ap)
        offset = number
    functions = elf.functions()
    if not is_wildcard(func):
        sym = functions.get(func)
        if sym is None:
            raise fail(f"No matches for {ap.provider} {path}:{func}.", ap)
        if offset and sym.size and offset >= sym.size:
            raise fail(f"Offset {offset} is outside {func} ({sym.size} bytes)", ap)
        return [UserTarget(ap.provider, path, prefix + spec, func, offset, func)]
    names = sorted(n for n in functions if fnmatch.fnmatchcase(n, func))
    if not names:
        raise fail(NO_VALID, ap)
    return [UserTarget(ap.provider, path, prefix + n, n, 0, n, wildcard=True) for n in names]


def resolve_usdt(ap: ast.AttachPoint, fail: Fail) -> list[UserTarget]:
    """usdt:PATH:[PROVIDER:]NAME, with wildcards in PROVIDER and NAME."""
    if len(ap.parts) not in (2, 3) or not all(ap.parts):
        raise fail("usdt probes need a file and a probe name (usdt:PATH:[PROVIDER:]NAME)", ap)
    path, shown = _target_file(ap, fail)
    elf = open_elf(path, ap, fail)
    want_provider = ap.parts[1] if len(ap.parts) == 3 else "*"
    want_name = ap.parts[-1]
    found = sorted({(n.provider, n.name) for n in elf.usdt_notes()
                    if fnmatch.fnmatchcase(n.provider, want_provider)
                    and fnmatch.fnmatchcase(n.name, want_name)})
    if not found:
        raise fail(NO_VALID, ap)
    wildcard = is_wildcard(want_provider if len(ap.parts) == 3 else "") or is_wildcard(want_name)
    return [UserTarget("usdt", path, f"usdt:{shown}:{prov}:{name}", usdt=(prov, name),
                       wildcard=wildcard) for prov, name in found]
