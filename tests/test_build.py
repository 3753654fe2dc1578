"""`bt2c transpile` and `bt2c build` produce the promised files, and they compile."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.cross import host_target

GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def bt2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def make(out: Path, *args: str) -> None:
    """Build a transpiled tool with its own generated Makefile, as a user would."""
    from bt2c.build import find_clang, find_tool

    proc = subprocess.run(["make", f"CLANG={find_clang()}",
                           f"BPFTOOL={find_tool('bpftool', 'bpftool')}", *args],
                          cwd=out, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


def test_transpile_writes_four_files(tmp_path: Path) -> None:
    proc = bt2c("transpile", str(GOLDEN / "opensnoop.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["Makefile", "opensnoop.bpf.c", "opensnoop.c", "opensnoop.h",
                     "opensnoop.skel.h"]
    bpf = (tmp_path / "out" / "opensnoop.bpf.c").read_text()
    assert 'SEC(".maps")' in bpf and "BPF_MAP_TYPE_RINGBUF" in bpf
    assert "/* line 13: @filename[tid] = args.filename */" in bpf


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_build_produces_object_skeleton_and_binary(tmp_path: Path) -> None:
    proc = bt2c("build", str(GOLDEN / "opensnoop.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    arch = host_target().name
    for name in (f"opensnoop.{arch}.bpf.o", f"opensnoop.{arch}.skel.h", "opensnoop"):
        assert (out / name).exists(), name
    assert os.access(out / "opensnoop", os.X_OK)
    assert "opensnoop_bpf__open" in (out / f"opensnoop.{arch}.skel.h").read_text()
    assert f'#include "opensnoop.{arch}.skel.h"' in (out / "opensnoop.skel.h").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_generated_makefile_builds(tmp_path: Path) -> None:
    proc = bt2c("transpile", str(GOLDEN / "syscount.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    make(tmp_path / "out")
    assert (tmp_path / "out" / "syscount").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="loads BPF programs")
def test_wildcard_targets_missing_on_the_running_kernel_are_skipped(tmp_path: Path) -> None:
    """A wildcard is expanded on the build host; a kernel without one of the
    matches must still run the tool, attaching the tracepoints it has.  Simulated
    here by renaming one match in the generated loader's probe table."""
    script = tmp_path / "wild.bt"
    script.write_text('tracepoint:syscalls:sys_enter_open* /comm == "workload"/ '
                      '{ @[probe] = count(); }\n')
    proc = bt2c("transpile", str(script), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    loader = tmp_path / "out" / "wild.c"
    text = loader.read_text()
    entry = '"tracepoint:syscalls:sys_enter_openat",'
    assert entry in text
    loader.write_text(text.replace(entry, '"tracepoint:syscalls:sys_enter_no_such_tp",'))
    make(tmp_path / "out")
    workload = Path(__file__).resolve().parent / "workload"
    subprocess.run(["gcc", "-O2", "-static", "-o", str(workload / "workload"),
                    str(workload / "workload.c")], check=True)
    run = subprocess.run([str(tmp_path / "out" / "wild"), "-c",
                          f"{workload / 'workload'} open 2 openat 3"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "@[tracepoint:syscalls:sys_enter_open]: 2" in run.stdout
    assert "sys_enter_openat" not in run.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None,
                    reason="no arm64 cross compiler (gcc-aarch64-linux-gnu)")
def test_generated_makefile_cross_builds_a_static_arm64_tool(tmp_path: Path) -> None:
    proc = bt2c("transpile", str(GOLDEN / "syscount.bt"), "-o", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    make(tmp_path / "out", "CC=aarch64-linux-gnu-gcc", "LDFLAGS=-static")
    assert (tmp_path / "out" / "syscount.arm64.skel.h").exists()  # ARCH from $(CC)
    header = (tmp_path / "out" / "syscount.arm64").read_bytes()[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 183  # e_machine: EM_AARCH64


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_shipped_folder_builds_with_make_alone(tmp_path: Path) -> None:
    """What a target needs: the sources and skeletons of `bt2c build --arch all`, copied with
    their times, then `make` with a C compiler and libbpf only (no clang, no bpftool)."""
    proc = bt2c("build", "--arch", "all", str(GOLDEN / "syscount.bt"), "-o", "out",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ship = tmp_path / "ship"
    ship.mkdir()
    for f in (tmp_path / "out").iterdir():
        if f.name == "Makefile" or f.suffix in (".c", ".h") and f.name != "vmlinux.h":
            shutil.copy2(f, ship / f.name)
    assert not list(ship.glob("*.bpf.o")) and not (ship / "vmlinux.h").exists()
    proc = subprocess.run(["make", "CLANG=false", "BPFTOOL=false"], cwd=ship,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert os.access(ship / "syscount", os.X_OK)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root for BTF and tracefs")
def test_precompiled_vmlinux_h_gives_the_same_program(tmp_path: Path) -> None:
    """The cached precompiled vmlinux.h changes only where the debug info says types are
    declared: the instructions, BTF and CO-RE relocations match a plain compile."""
    cache = tmp_path / "cache"
    objects = {}
    for mode in ("pch", "plain"):
        env = {**os.environ, "BT2C_CACHE": str(cache)}
        if mode == "plain":
            env["BT2C_NO_PCH"] = "1"
        proc = subprocess.run([sys.executable, "-m", "bt2c", "build", str(GOLDEN / "opensnoop.bt"),
                               "-o", mode], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        objects[mode] = tmp_path / mode / f"opensnoop.{host_target().name}.bpf.o"
    assert list(cache.glob("pch/*/vmlinux.h.pch")), "no precompiled header was cached"
    from bt2c.build import find_tool

    def dump(obj: Path, *cmd: str) -> str:
        out = subprocess.run([*cmd, str(obj)], capture_output=True, text=True, check=True)
        return out.stdout.replace(str(obj), "OBJ")

    objdump = shutil.which("llvm-objdump-19") or shutil.which("llvm-objdump")
    if objdump is None:
        pytest.skip("llvm-objdump is missing (apt-get install llvm-19)")
    bpftool = find_tool("bpftool", "bpftool")
    for cmd in ([objdump, "-dr"], [bpftool, "btf", "dump", "file"]):
        assert dump(objects["pch"], *cmd) == dump(objects["plain"], *cmd), cmd
