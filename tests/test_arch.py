"""Builds for every architecture: ``bt2c build --arch all`` (bt2c/build.py, bt2c/skeleton.py).

What each architecture's object must get right is where the probed function's
registers are (templates/bpf/regs.h) and its byte order; the skeletons are
bt2c's own, checked against bpftool's where bpftool can write one.  Running
the objects on real kernels of other architectures is tests/qemu's job.
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

from bt2c.bpf_elf import EM_BPF
from bt2c.bpf_elf import read as read_elf
from bt2c.build import Builder, bpf_sys_includes, find_clang, find_tool
from bt2c.cross import TARGETS, Target
from bt2c.skeleton import describe

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "e2e" / "cases"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="transpiling reads tracefs/BTF")

#: Offsets in struct pt_regs (the probe's context) of arg0, arg1 and retval.
REG_OFFSETS = {
    "x86_64": (112, 104, 80),  # di, si, ax
    "arm64": (0, 8, 0),  # regs[0], regs[1], regs[0]
    "riscv64": (80, 88, 80),  # a0, a1, a0
    "s390x": (40, 48, 40),  # gprs[2], gprs[3], gprs[2]
    "powerpc64le": (24, 32, 24),  # gpr[3], gpr[4], gpr[3]
    "loongarch64": (32, 40, 32),  # regs[4], regs[5], regs[4]
}

REGS_SCRIPT = """\
kprobe:vfs_read { @a = sum(arg0); @b = sum(arg1); }
kretprobe:vfs_read { @r = sum(retval); }
uprobe:WORKLOAD:wl_add { @ua = sum(arg0); @ub = sum(arg1); }
uretprobe:WORKLOAD:wl_add { @ur = sum(retval); }
"""


def bt2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def ctx_loads(disasm: str, function: str) -> list[int]:
    """Offsets of the 64-bit loads from the context in ``function``, in program order.

    Follows the context pointer through register copies (``r6 = r1``) and
    forgets it in registers a call clobbers or an assignment overwrites.
    """
    body = disasm.split(f"<{function}>:\n", 1)[1].split("\n\n", 1)[0]
    ctx = {"r1"}
    offsets = []
    for line in body.splitlines():
        insn = line.split("\t")[-1].strip()
        if m := re.fullmatch(r"(r\d+) = \*\(u64 \*\)\((r\d+) \+ (0x[0-9a-f]+|\d+)\)", insn):
            if m[2] in ctx:
                offsets.append(int(m[3], 0))
            ctx.discard(m[1])
        elif m := re.fullmatch(r"(r\d+) = (r\d+)", insn):
            (ctx.add if m[2] in ctx else ctx.discard)(m[1])
        elif insn.startswith("call"):
            ctx -= {"r0", "r1", "r2", "r3", "r4", "r5"}
        elif m := re.match(r"(r\d+) (=|\+=|-=|&=|\|=|<<=|>>=)", insn):
            ctx.discard(m[1])
    return offsets


@pytest.fixture(scope="module")
def all_archs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """REGS_SCRIPT built with ``bt2c build --arch all``."""
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from harness import build_workload

    work = tmp_path_factory.mktemp("arch")
    (work / "regs.bt").write_text(REGS_SCRIPT.replace("WORKLOAD", str(build_workload())))
    proc = bt2c("build", "--arch", "all", "regs.bt", "-o", "out", cwd=work)
    assert proc.returncode == 0, proc.stderr
    return work / "out"


@pytest.mark.parametrize("arch", sorted(TARGETS))
def test_registers_at_the_arch_offsets(all_archs: Path, arch: str) -> None:
    """arg0, arg1 and retval of kprobes and uprobes are loads from the arch's pt_regs
    offsets (llvm-objdump -d)."""
    objdump = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
    if objdump is None:
        pytest.skip("llvm-objdump: apt-get install llvm-19")
    disasm = subprocess.run([objdump, "-d", str(all_archs / f"regs.{arch}.bpf.o")],
                            capture_output=True, text=True, check=True).stdout
    arg0, arg1, ret = REG_OFFSETS[arch]
    progs = describe(all_archs / f"regs.{arch}.bpf.o", "regs").progs
    entry = [p for p in progs if re.match(r"handle_[ku]probe_", p)]
    exits = [p for p in progs if re.match(r"handle_[ku]retprobe_", p)]
    assert len(entry) == 2 and len(exits) == 2, progs
    for prog in entry:
        assert ctx_loads(disasm, prog) == [arg0, arg1], prog
    for prog in exits:
        assert ctx_loads(disasm, prog) == [ret], prog


@pytest.mark.parametrize("arch", sorted(TARGETS))
def test_object_is_bpf_elf_of_the_arch_byte_order_with_skeleton(all_archs: Path,
                                                                arch: str) -> None:
    target = TARGETS[arch]
    obj = read_elf(all_archs / f"regs.{arch}.bpf.o")
    assert obj.machine == EM_BPF
    assert obj.big_endian == target.big_endian
    assert obj.section(".BTF") is not None and obj.section(".BTF.ext") is not None
    skel = (all_archs / f"regs.{arch}.skel.h").read_text()
    assert "struct regs_bpf {" in skel and "handle_kretprobe_vfs_read" in skel
    assert f'#include "regs.{arch}.skel.h"' in (all_archs / "regs.skel.h").read_text()


def skeleton_shape(text: str) -> list[str]:
    """A skeleton's struct and its map/program table, without comments and map name strings.

    Internal maps are named ``NAME.rodata`` by bpftool 7.1 and ``.rodata`` by
    bt2c (libbpf >= 1.0 resolves both), so those strings are left out.
    """
    struct = text.split("struct ", 1)[1].split("\n};", 1)[0]
    struct = re.sub(r"#ifdef __cplusplus.*?#endif /\* __cplusplus \*/\n?", "", struct, flags=re.S)
    table = [line.strip() for line in text.splitlines()
             if re.match(r"\s*s->(maps|progs)\[\d+\]\.(map|prog|link|mmaped) =", line)
             or re.match(r"\s*s->(map|prog)_cnt =", line)
             or "_Static_assert(sizeof" in line]
    return [line.rstrip() for line in struct.splitlines() if line.strip()] + table


@pytest.mark.parametrize("case", ["tp_read_args", "positional_str", "len_paths",
                                  "hist_default", "for_map"])
def test_skeleton_matches_bpftools(tmp_path: Path, case: str) -> None:
    """bt2c's skeleton of a little-endian object has bpftool's members, offsets, table."""
    proc = bt2c("build", str(CASES / f"{case}.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    host = next(t for t in TARGETS.values() if t.is_host())
    ours = (out / f"{case}.{host.name}.skel.h").read_text()
    theirs = subprocess.run([find_tool("bpftool", "bpftool"), "gen", "skeleton",
                             str(out / f"{case}.{host.name}.bpf.o"), "name", f"{case}_bpf"],
                            capture_output=True, text=True, check=True).stdout
    assert skeleton_shape(ours) == skeleton_shape(theirs)


def test_x86_64_build_loads_and_runs(all_archs: Path, tmp_path: Path) -> None:
    """The --arch all host loader, on its own skeleton, prints the recorded output."""
    if not TARGETS["x86_64"].is_host():
        pytest.skip("not an x86_64 host")
    proc = bt2c("build", "--arch", "all", str(CASES / "begin_end.bt"), "-o", "out",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = subprocess.run([str(tmp_path / "out" / "begin_end")], capture_output=True,
                         text=True, timeout=60)
    expected = (ROOT / "tests" / "e2e" / "expected" / "begin_end.out").read_text()
    assert run.returncode == 0, run.stderr
    assert run.stdout == expected


def test_every_case_builds_for_every_arch(tmp_path: Path, kernel_mounts: None) -> None:
    """Each e2e case compiles into a BPF object (and skeleton) for all six architectures.

    Compile-only and parallel; vmlinux.h is parsed once per byte order through
    a precompiled header (the same source as Builder's, about 6x faster).
    """
    from bt2c.transpile import transpile

    clang = find_clang()
    base = tmp_path / "base"
    base.mkdir()
    Builder(base, "base").vmlinux_h()
    pch = {}
    for order in ("bpfel", "bpfeb"):
        pch[order] = tmp_path / f"vmlinux.{order}.pch"
        subprocess.run([clang, "-g", "-O2", "-target", order, "-x", "c-header",
                        str(base / "vmlinux.h"), "-o", str(pch[order])], check=True)
    scripts = sorted(CASES.glob("*.bt"))
    sys_includes = bpf_sys_includes(clang)

    def build(script: Path, target: Target) -> str:
        work = tmp_path / script.stem
        name = names[script]
        obj = work / f"{name}.{target.name}.bpf.o"
        extra = sys_includes if "usdt.bpf.h" in (work / f"{name}.bpf.c").read_text() else []
        proc = subprocess.run([clang, "-g", "-O2", "-target", target.clang_target,
                               f"-D__TARGET_ARCH_{target.bpf_arch}", *extra, "-include-pch",
                               str(pch[target.clang_target]), "-c", str(work / f"{name}.bpf.c"),
                               "-o", str(obj)], capture_output=True, text=True)
        if proc.returncode:
            return f"{script.name} for {target.name}: {proc.stderr.strip()[:300]}"
        skel = describe(obj, name)
        return "" if skel.progs else f"{script.name} for {target.name}: no programs"

    # Transpile each script once (serially: tracefs and the BTF cache), then compile.
    names = {}
    sys.path.insert(0, str(ROOT / "tests" / "e2e"))
    from harness import load_case

    for script in scripts:
        case = load_case(script)
        out = transpile(case.script_text(), str(script), unsafe=case.unsafe)
        out.write(tmp_path / script.stem)
        (tmp_path / script.stem / "vmlinux.h").symlink_to(base / "vmlinux.h")
        names[script] = out.name
    # reg("di") names an x86-64 register: such scripts are for that architecture only.
    jobs = [(s, t) for s in scripts for t in TARGETS.values()
            if t.name == "x86_64" or 'reg("' not in s.read_text()]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        failures = [f for f in pool.map(lambda j: build(*j), jobs) if f]
    assert not failures, "\n".join(failures)


def test_builds_are_reproducible(all_archs: Path, tmp_path: Path) -> None:
    """The same script and toolchain give byte-identical objects and skeletons, wherever built."""
    (tmp_path / "regs.bt").write_text((all_archs.parent / "regs.bt").read_text())
    proc = bt2c("build", "--arch", "all", "regs.bt", "-o", "elsewhere", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in all_archs.iterdir()
                   if p.name.endswith((".bpf.o", ".skel.h", ".bpf.c", ".c", ".h")))
    assert len(names) >= 2 * len(TARGETS)
    differ = [n for n in names
              if (all_archs / n).read_bytes() != (tmp_path / "elsewhere" / n).read_bytes()]
    assert not differ
