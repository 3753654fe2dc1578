"""Cross and static builds: ``bt2c build --static [--arch arm64]`` and bt2c/cross.py.

The qemu matrix (tests/qemu) runs such builds on real kernels; these tests
check the build side on its own, quickly: the binary is of the requested
architecture and static, missing toolchains name their Debian package, and
the generated BPF C really is arch-independent, which is what lets every
target's build use the host's vmlinux.h.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.build import Builder, find_clang
from bt2c.cross import (
    NO_CROSS_LIBS,
    TARGETS,
    Target,
    check_target_libs,
    elf_info,
    find_cc,
    resolve_target,
    resolve_targets,
)
from bt2c.diagnostics import Bt2cError, ToolMissingError
from bt2c.golden import needs_unsafe

ROOT = Path(__file__).resolve().parent.parent
BEGIN_END = ROOT / "tests" / "e2e" / "cases" / "begin_end.bt"

#: The integer types the generated C may take from vmlinux.h: the same on every arch.
PORTABLE_TYPES = """\
typedef unsigned char __u8; typedef signed char __s8;
typedef unsigned short __u16; typedef short __s16;
typedef unsigned int __u32; typedef int __s32;
typedef unsigned long long __u64; typedef long long __s64;
typedef __u16 __be16; typedef __u32 __be32; typedef __u64 __be64; typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };
"""


def portable_vmlinux_h(tmp_path: Path) -> str:
    """A vmlinux.h cut down to arch-independent definitions: integer types and BPF enums.

    The BPF enums (``enum bpf_*`` and any enum of ``BPF_*`` constants: map
    types, helper ids, flags) come from the host's own vmlinux.h, with their
    values: they are UAPI, identical on every architecture.  Every struct,
    union and other typedef is left out, so anything whose layout could
    differ between architectures is undeclared.
    """
    work = tmp_path / "host"
    work.mkdir()
    Builder(work, "host").vmlinux_h()
    text = (work / "vmlinux.h").read_text()
    blocks = re.findall(r"^(enum(?: (\w+))? \{\n(.*?)^\};)", text, re.M | re.S)
    enums = [whole for whole, name, body in blocks
             if (name or "").startswith("bpf_") or re.search(r"^\s*BPF_", body, re.M)]
    return PORTABLE_TYPES + "\n".join(enums) + "\n"


def bt2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_resolve_target_names_and_aliases() -> None:
    assert resolve_target("arm64") is TARGETS["arm64"]
    assert resolve_target("aarch64") is TARGETS["arm64"]
    assert resolve_target("AMD64") is TARGETS["x86_64"]
    assert resolve_target("ppc64el") is TARGETS["powerpc64le"]
    assert resolve_target("s390") is TARGETS["s390x"]
    with pytest.raises(Bt2cError, match="unknown architecture 'sparc64': choose one of"):
        resolve_target("sparc64")
    assert [t.name for t in resolve_targets("all")] == list(TARGETS)
    assert [t.name for t in resolve_targets("arm64, aarch64,s390x")] == ["arm64", "s390x"]
    with pytest.raises(Bt2cError, match="--arch needs an architecture"):
        resolve_targets(",")


def test_missing_cross_compiler_names_the_package(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    foreign = next(t for t in TARGETS.values() if not t.is_host())
    with pytest.raises(ToolMissingError, match=f"apt-get install gcc-{foreign.triplet}"):
        find_cc(foreign)


def test_missing_target_libraries_name_the_multiarch_packages(tmp_path: Path) -> None:
    fake = Target("arm64", "aarch64-not-this-host", "arm64", "arm64", "no-such-triplet", 183)
    with pytest.raises(ToolMissingError,
                       match="libbpf-dev:arm64 libelf-dev:arm64 zlib1g-dev:arm64"):
        check_target_libs(fake, static=True)


#: Multiarch libraries that .ci/install adds only when the mirror has the host's versions.
BEST_EFFORT_LIBS = {"s390x", "powerpc64le"}


@pytest.mark.parametrize("arch", sorted(TARGETS))
def test_build_static_for_each_arch(arch: str, tmp_path: Path) -> None:
    """``bt2c build --static --arch A`` gives one static ELF file for A (what the VMs run)."""
    target = TARGETS[arch]
    if arch in NO_CROSS_LIBS:
        pytest.skip(f"Debian 12 packages no {arch} libbpf: its loader is built on the target")
    if not target.is_host() and shutil.which(f"{target.triplet}-gcc") is None \
            and not os.environ.get("CI"):
        pytest.skip(f"no {target.triplet}-gcc: run .ci/install")
    if arch in BEST_EFFORT_LIBS:
        try:
            check_target_libs(target, static=True)
        except ToolMissingError as e:
            pytest.skip(f"{e}: .ci/install adds them where the mirror's multiarch versions "
                        "match the host's (the qemu matrix unpacks its own copy)")
    proc = bt2c("build", "--static", "--arch", arch, str(BEGIN_END), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loader = "begin_end" if target.is_host() else f"begin_end.{arch}"
    info = elf_info(tmp_path / "out" / loader)
    assert info.machine == target.elf_machine
    assert info.static
    bpf = (tmp_path / "out" / f"begin_end.{arch}.bpf.o").read_bytes()
    assert bpf[:4] == b"\x7fELF" and bpf[5] == (2 if target.big_endian else 1)
    assert int.from_bytes(bpf[18:20], "big" if target.big_endian else "little") == 247


def test_dynamic_build_is_not_static(tmp_path: Path) -> None:
    proc = bt2c("build", str(BEGIN_END), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not elf_info(tmp_path / "out" / "begin_end").static


@pytest.mark.skipif(os.geteuid() != 0, reason="transpiling tracepoint scripts reads tracefs")
def test_bpf_c_is_arch_independent(tmp_path: Path, kernel_mounts: None,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Every corpus script's BPF C compiles with only arch-independent vmlinux.h definitions.

    Cross builds use the host's vmlinux.h (bt2c/cross.py).  That is right
    only while the generated C needs nothing whose layout differs between
    architectures (struct pt_regs, user_pt_regs, bpf_perf_event_data's
    regs...): register access has its own per-arch structs in
    templates/bpf/regs.h, so register scripts are held to it too.  If this
    fails on an identifier that is plain UAPI (an enum value, the same
    everywhere), add it to PORTABLE_VMLINUX_H.  If it is arch-specific, cross
    builds must take vmlinux.h from the target's BTF.

    Scripts that read kernel structs (curtask->..., casts to kernel struct
    pointers) need those structs' declarations; every access to them is a CO-RE
    relocation resolved against the target kernel's BTF at load time, so the
    host's declarations serve any target.  Those scripts compile with the full
    host vmlinux.h, and only their other code is held to the portable subset:
    the same script minus its CO-RE accesses is not separately checked.
    """
    from bt2c.build import bpf_sys_includes
    from bt2c.transpile import transpile

    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from harness import build_workload

    build_workload()                 # uprobe/usdt cases name it, relative to the repo root
    monkeypatch.chdir(ROOT)
    scripts = sorted((ROOT / "tests" / "e2e" / "cases").glob("*.bt"))
    scripts += sorted((ROOT / "golden").glob("*.bt"))
    clang = find_clang()
    header = portable_vmlinux_h(tmp_path)
    full_header = (tmp_path / "host" / "vmlinux.h").read_text()

    from harness import load_case

    # reg("di") names an x86-64 register: such scripts are for that architecture only.
    scripts = [s for s in scripts if 'reg("' not in s.read_text()]

    def compile_one(script: Path) -> str:
        text = load_case(script).script_text() if script.parent.name == "cases" else \
            script.read_text()
        out = transpile(text, str(script), unsafe=needs_unsafe(script.read_text()))
        work = tmp_path / script.stem
        out.write(work)
        bpf_c = out.files[f"{out.name}.bpf.c"]
        # CO-RE reads are relocated at load time, and a perf event's context is only
        # handed to helpers: the host's full header serves every target for those.
        core = re.search(r"\bBPF_CORE_READ|\bbpf_core_read\(|bpf_perf_event_data", bpf_c) \
            is not None
        (work / "vmlinux.h").write_text(full_header if core else header)
        extra = bpf_sys_includes(clang) if "usdt.bpf.h" in bpf_c else []
        proc = subprocess.run([clang, "-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_arm64",
                               *extra, "-c", f"{out.name}.bpf.c", "-o", f"{out.name}.bpf.o"],
                              cwd=work, capture_output=True, text=True)
        errors = [line for line in proc.stderr.splitlines() if "error:" in line]
        return f"{script.name}: {errors[:3]}" if proc.returncode else ""

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(compile_one, scripts) if f]
    assert not failures, "BPF C needs more than arch-independent types:\n" + "\n".join(failures)
