"""Target architectures: which compiler, libraries and BPF arch macro build a tool for each.

A generated tool has two halves with different portability.  The BPF object
is bytecode for the (little-endian) BPF machine; the only arch-specific input
is ``-D__TARGET_ARCH_xxx``, which libbpf's ``bpf_tracing.h`` uses for register
access (PT_REGS_*).  The loader is ordinary C for the target CPU, linked
against that architecture's libbpf, libelf and zlib.

``vmlinux.h`` is deliberately *not* per-arch: the generated BPF C only uses
types that are the same on every architecture (the ``__u64``-style integer
types, the ``BPF_MAP_TYPE_*``/``BPF_ANY`` UAPI enums, and its own tracepoint
record structs emitted from the tracefs format), so the host's BTF dump
serves every target.  tests/test_cross.py checks that claim against the
generated C, so the day a probe type needs ``struct pt_regs`` (whose layout
differs per arch) that test says the build must take the target's BTF.

On Debian the cross pieces are ``gcc-aarch64-linux-gnu`` and the multiarch
``libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64`` (``.ci/install``
installs them); a missing one is reported with the package to install.
"""

from __future__ import annotations

import os
import platform
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from bt2c.diagnostics import Bt2cError, ToolMissingError


@dataclass(frozen=True)
class Target:
    """One architecture a tool can be built for."""

    name: str  #: bt2c's name for it (``--arch``): x86_64, arm64
    machine: str  #: ``uname -m`` on that architecture
    bpf_arch: str  #: the ``__TARGET_ARCH_xxx`` suffix libbpf's bpf_tracing.h expects
    debian_arch: str  #: Debian's architecture name (packages, multiarch)
    triplet: str  #: GNU multiarch triplet: the cross compiler's prefix and library dir
    elf_machine: int  #: ELF e_machine of its binaries (to check what was built)

    @property
    def libdir(self) -> Path:
        """Where Debian's multiarch -dev packages put this architecture's libraries."""
        return Path("/usr/lib") / self.triplet

    def is_host(self) -> bool:
        """Whether binaries for this target run here without emulation."""
        return self.machine == platform.machine()


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("x86_64", "x86_64", "x86", "amd64", "x86_64-linux-gnu", 62),
        Target("arm64", "aarch64", "arm64", "arm64", "aarch64-linux-gnu", 183),
    )
}

#: Other spellings people use for the same architectures.
ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "aarch64": "arm64"}


def resolve_target(name: str | None) -> Target:
    """The target called ``name`` (or an alias of it); None means this machine."""
    if name is None:
        return host_target()
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TARGETS:
        raise Bt2cError(f"unknown architecture {name!r}: choose one of {', '.join(TARGETS)}")
    return TARGETS[key]


def host_target() -> Target:
    """The target matching this machine, so a plain build needs no --arch."""
    machine = platform.machine()
    for t in TARGETS.values():
        if t.machine == machine:
            return t
    # An architecture bt2c has no cross table for can still build natively.
    return Target(machine, machine, machine, machine, f"{machine}-linux-gnu", 0)


def find_cc(target: Target) -> str:
    """The C compiler for the loader: $CC (native builds only), cc/gcc, or the cross gcc.

    $CC is honoured for native builds only: it names the host's compiler, and
    silently using it for an arm64 build would produce an x86 binary.
    """
    if target.is_host():
        cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
        if cc is None:
            raise ToolMissingError("cc", "gcc")
        return cc
    name = f"{target.triplet}-gcc"
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(name, f"gcc-{target.triplet}")
    return path


def check_target_libs(target: Target, static: bool) -> None:
    """The loader's libraries for ``target`` exist; otherwise name the -dev packages.

    Native dynamic builds are left to the linker (the host's check_headers
    already covers libbpf-dev); the check matters for static and cross builds,
    where a missing ``.a`` or arm64 library otherwise ends in a cryptic ld error.
    """
    if target.is_host() and not static:
        return
    suffix = "a" if static else "so"
    qualifier = "" if target.is_host() else f":{target.debian_arch}"
    missing = [pkg + qualifier
               for lib, pkg in (("libbpf", "libbpf-dev"), ("libelf", "libelf-dev"),
                                ("libz", "zlib1g-dev"))
               if not (target.libdir / f"{lib}.{suffix}").exists()]
    if missing:
        what = f"{'static ' if static else ''}libraries for {target.name}"
        raise ToolMissingError(what, " ".join(missing))


@dataclass(frozen=True)
class ElfInfo:
    """What a built binary is: its ELF machine and whether it needs a dynamic loader."""

    machine: int
    static: bool


def elf_info(path: Path) -> ElfInfo:
    """Read the ELF header and program headers of ``path`` (64-bit little-endian only).

    A binary is static when it has no PT_INTERP segment: the kernel then runs
    it without ld.so, which is what lets one file be copied to any target
    (and run in an initramfs that holds nothing else).
    """
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise Bt2cError(f"{path}: not a 64-bit little-endian ELF file")
    machine = struct.unpack_from("<H", data, 18)[0]
    phoff = struct.unpack_from("<Q", data, 32)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 54)
    pt_interp = 3
    has_interp = any(struct.unpack_from("<I", data, phoff + i * phentsize)[0] == pt_interp
                     for i in range(phnum))
    return ElfInfo(machine, not has_interp)
