"""User-space probes: the ELF reader, attach-point resolution, and what the
reference cannot record (sargN crashes bpftrace v0.27.1, -p needs a live pid).

The expected values here come from tests/workload/workload.c itself (the
arguments it passes, the functions and USDT probes it defines), not from a
belief about bpftrace's output; outputs bpftrace can produce are compared with
its recorded output in tests/e2e (uprobe_*, uretprobe_*, usdt_*).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.diagnostics import Bt2cError
from bt2c.elf import ElfError, ElfFile
from bt2c.transpile import transpile
from bt2c.uprobes import resolve_path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from harness import build_workload  # noqa: E402

BT2C = [sys.executable, "-m", "bt2c", "run"]
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="loads BPF programs")


@pytest.fixture(scope="module")
def workload() -> Path:
    return build_workload()


def test_elf_reads_the_workload_functions(workload: Path) -> None:
    elf = ElfFile(workload)
    funcs = elf.functions()
    for name in ("wl_add", "wl_readline", "wl_greet", "wl_many", "wl_work", "main"):
        assert name in funcs and funcs[name].size > 0
    add = funcs["wl_add"]
    assert elf.symbol_at(add.addr + add.size - 1) == add
    # A static x86_64/arm64 executable: the text segment maps file offset 0 at its base.
    off = elf.file_offset(add.addr)
    assert off is not None and elf.data[off:off + 1] != b""
    assert elf.file_offset(0) is None


def test_elf_reads_the_workload_usdt_notes(workload: Path) -> None:
    probes = {(n.provider, n.name) for n in ElfFile(workload).usdt_notes()}
    assert probes == {("workload", "tick"), ("workload", "tock"), ("workload_aux", "done")}


def test_elf_reads_a_shared_library() -> None:
    libc = resolve_path("libc")
    assert libc is not None and "libc.so" in libc
    assert "malloc" in ElfFile(libc).functions()


def test_not_an_elf_file(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("#!/bin/sh\n")
    with pytest.raises(ElfError, match="not an ELF file"):
        ElfFile(tmp_path / "x")


def test_script_is_not_elf_is_a_diagnostic(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("#!/bin/sh\n")
    with pytest.raises(Bt2cError, match="cannot read the symbols"):
        transpile(f"uprobe:{tmp_path}/x:f {{ }}", "prog.bt")


def test_address_probe_is_named_like_bpftrace(workload: Path) -> None:
    """uprobe:PATH:0xADDR: bpftrace names it by the decimal address; func is the symbol."""
    add = ElfFile(workload).functions()["wl_add"]
    out = transpile(f'uprobe:{workload}:{add.addr:#x} {{ printf("%s %s\\n", probe, func); }}',
                    "prog.bt")
    bpf = out.files["prog.bpf.c"]
    assert f'"uprobe:{workload}:{add.addr}"' in bpf
    assert '"wl_add"' in bpf
    assert ".func = NULL" in out.files["prog.c"]


def test_library_name_resolves_like_bpftrace() -> None:
    out = transpile("uprobe:libc:malloc { @ = count(); }", "prog.bt")
    loader = out.files["prog.c"]
    assert f'.path = "{resolve_path("libc")}",' in loader and '.func = "malloc"' in loader


def run(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BT2C, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@needs_root
def test_stack_arguments(workload: Path, kernel_mounts: None) -> None:
    """wl_many(1..8) on x86_64: arg0..arg5 in registers, the 7th and 8th on the stack."""
    if os.uname().machine != "x86_64":
        pytest.skip("the stack arguments of wl_many are an x86_64 calling-convention fact")
    proc = run(["-c", f"{workload} many 2", "-e",
                f'uprobe:{workload}:wl_many {{ printf("%d %d %d %d\\n", arg0, arg5, sarg0, '
                "sarg1); }"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n\n")[0] == "1 6 7 8\n1 6 7 8"


@needs_root
def test_pid_option_attaches_to_that_process_only(workload: Path, kernel_mounts: None,
                                                  tmp_path: Path) -> None:
    """-p PID: calls in another process running the same file are not seen."""
    script = tmp_path / "pidonly.bt"
    script.write_text(f"uprobe:{workload}:wl_add {{ @ = count(); }}\n"
                      f"usdt:{workload}:tick {{ @t = count(); }}\n")
    build = subprocess.run([sys.executable, "-m", "bt2c", "build", str(script), "-o",
                            str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    target = subprocess.Popen([str(workload), "sleep", "1000", "add", "4"])
    other = subprocess.Popen([str(workload), "sleep", "700", "add", "7", "usdt", "2"])
    try:
        proc = subprocess.run([str(tmp_path / "out" / "pidonly"), "-p", str(target.pid)],
                              capture_output=True, text=True, timeout=30)
    finally:
        other.wait()
        target.wait()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "@: 4"
