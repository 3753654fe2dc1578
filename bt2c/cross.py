"""Target architectures: which compiler, libraries and BPF flags build a tool for each.

A generated tool has two halves with different portability.  The BPF object
is bytecode for the BPF machine in the target's byte order (``-target bpfel``,
or ``bpfeb`` for big-endian s390x); the only other arch-specific input is
``-D__TARGET_ARCH_xxx``, which selects the register layout in
templates/bpf/regs.h (argN, retval).  The loader is ordinary C for the target
CPU, linked against that architecture's libbpf, libelf and zlib.

``vmlinux.h`` is deliberately *not* per-arch: the generated BPF C only uses
types that are the same on every architecture (the ``__u64``-style integer
types, the ``BPF_MAP_TYPE_*``/``BPF_ANY`` UAPI enums, its own tracepoint
record structs emitted from the tracefs format, and its own register structs
from regs.h; kernel structs are read with CO-RE), so the host's BTF dump
serves every target.  tests/test_cross.py checks that claim against the
generated C.

On Debian the cross pieces are ``gcc-TRIPLET`` and the multiarch
``libbpf-dev:ARCH libelf-dev:ARCH zlib1g-dev:ARCH`` (``.ci/install``
installs them for arm64, s390x and ppc64el); a missing one is reported with
the package to install.  Debian 12 has no riscv64 or loongarch64 libraries,
so those targets get their BPF objects and skeletons, and the loader is
built on the target itself (the generated Makefile).
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

    name: str  #: bt2c's name for it (``--arch``): x86_64, arm64, s390x...
    machine: str  #: ``uname -m`` on that architecture
    bpf_arch: str  #: the ``__TARGET_ARCH_xxx`` suffix regs.h (and bpf_tracing.h) expects
    debian_arch: str  #: Debian's architecture name (packages, multiarch)
    triplet: str  #: GNU multiarch triplet: the cross compiler's prefix and library dir
    elf_machine: int  #: ELF e_machine of its binaries (to check what was built)
    big_endian: bool = False  #: byte order of the CPU, hence of its BPF objects

    @property
    def cpp_test(self) -> str:
        """The preprocessor test that is true when compiling for this architecture."""
        return {
            "x86_64": "defined(__x86_64__)",
            "arm64": "defined(__aarch64__)",
            "riscv64": "defined(__riscv) && __riscv_xlen == 64",
            "s390x": "defined(__s390x__)",
            "powerpc64le": "defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__",
            "loongarch64": "defined(__loongarch64)",
        }.get(self.name, f"defined(__{self.machine}__)")

    @property
    def clang_target(self) -> str:
        """clang's BPF target in this architecture's byte order (the kernel's BPF is native)."""
        return "bpfeb" if self.big_endian else "bpfel"

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
        Target("riscv64", "riscv64", "riscv", "riscv64", "riscv64-linux-gnu", 243),
        Target("s390x", "s390x", "s390", "s390x", "s390x-linux-gnu", 22, big_endian=True),
        Target("powerpc64le", "ppc64le", "powerpc", "ppc64el", "powerpc64le-linux-gnu", 21),
        Target("loongarch64", "loongarch64", "loongarch", "loong64", "loongarch64-linux-gnu",
               258),
    )
}

#: Targets whose libbpf, libelf and zlib Debian 12 does not package (not a release
#: architecture there): their loaders are built on the target, with its Makefile.
NO_CROSS_LIBS = frozenset({"riscv64", "loongarch64"})

#: Other spellings people use for the same architectures.
ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "x86": "x86_64", "aarch64": "arm64",
           "riscv": "riscv64", "s390": "s390x", "ppc64le": "powerpc64le",
           "ppc64el": "powerpc64le", "powerpc": "powerpc64le", "loong64": "loongarch64",
           "loongarch": "loongarch64"}


def resolve_targets(spec: str | None) -> list[Target]:
    """``--arch`` as given: one name, a comma-separated list, or ``all`` (every target).

    Order is the user's, duplicates (also through aliases) are dropped.
    """
    if spec is None:
        return [host_target()]
    names = list(TARGETS) if spec.strip().lower() == "all" else \
        [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise Bt2cError("--arch needs an architecture: " + ", ".join(TARGETS) + " or all")
    out: list[Target] = []
    for n in names:
        t = resolve_target(n)
        if t not in out:
            out.append(t)
    return out


def resolve_target(name: str | None) -> Target:
    """The target called ``name`` (or an alias of it); None means this machine."""
    if name is None:
        return host_target()
    key = ALIASES.get(name.lower(), name.lower())
    if key not in TARGETS:
        raise Bt2cError(f"unknown architecture {name!r}: choose one of {', '.join(TARGETS)}"
                        " (or all)")
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


def target_libdir(target: Target) -> Path:
    """Where the loader's libraries for ``target`` are: Debian's multiarch directory, or
    ``$BT2C_CROSS_ROOT/DEBIAN_ARCH/usr/lib/TRIPLET`` when that exists.

    The second is for machines where the multiarch -dev packages cannot be
    installed (their versions must equal the host's, which a mirror may not
    have yet): the target's .deb files unpacked with ``dpkg-deb -x`` serve as
    well.  tests/qemu builds such a root itself when it needs one.
    """
    root = os.environ.get("BT2C_CROSS_ROOT")
    if root and not target.is_host():
        unpacked = Path(root) / target.debian_arch / "usr" / "lib" / target.triplet
        if unpacked.is_dir():
            return unpacked
    return target.libdir


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
               if not (target_libdir(target) / f"{lib}.{suffix}").exists()]
    if missing:
        what = f"{'static ' if static else ''}libraries for {target.name}"
        raise ToolMissingError(what, " ".join(missing))


@dataclass(frozen=True)
class ElfInfo:
    """What a built binary is: its ELF machine and whether it needs a dynamic loader."""

    machine: int
    static: bool


def elf_info(path: Path) -> ElfInfo:
    """Read the ELF header and program headers of ``path`` (64-bit, either byte order).

    A binary is static when it has no PT_INTERP segment: the kernel then runs
    it without ld.so, which is what lets one file be copied to any target
    (and run in an initramfs that holds nothing else).
    """
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] not in (1, 2):
        raise Bt2cError(f"{path}: not a 64-bit ELF file")
    e = "<" if data[5] == 1 else ">"
    machine = struct.unpack_from(e + "H", data, 18)[0]
    phoff = struct.unpack_from(e + "Q", data, 32)[0]
    phentsize, phnum = struct.unpack_from(e + "HH", data, 54)
    pt_interp = 3
    has_interp = any(struct.unpack_from(e + "I", data, phoff + i * phentsize)[0] == pt_interp
                     for i in range(phnum))
    return ElfInfo(machine, not has_interp)
