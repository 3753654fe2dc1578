"""len(@map) on every path: the kfunc, bpf_for_each_map_elem and the counter.

The loader picks one path by probing the kernel; ``--no-feature`` forces the
others, so this 6.18 kernel exercises all three.  Each must print exactly what
bpftrace printed for the same script (the e2e corpus' recorded output).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))

import harness  # noqa: E402

from bt2c.transpile import transpile  # noqa: E402

if os.geteuid() != 0:
    pytest.skip("loads BPF programs: needs root", allow_module_level=True)

LEN_CASES = [c for c in harness.load_cases() if "len(" in c.script.read_text()]
PATHS = {
    "kfunc": [],
    "for_each": ["--no-feature", "kfunc"],
    "counter": ["--no-feature", "kfunc", "--no-feature", "for_each_map_elem"],
}


@pytest.fixture(scope="module")
def workload(kernel_mounts: None) -> Path:
    return harness.build_workload()


def test_there_are_len_cases() -> None:
    names = {c.name for c in LEN_CASES}
    assert {"len_paths", "has_key_len"} <= names


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("case", LEN_CASES, ids=[c.name for c in LEN_CASES])
def test_len_path_matches_bpftrace(case: harness.Case, path: str, workload: Path) -> None:
    runner = [sys.executable, "-m", "bt2c", "run", *PATHS[path]]
    res = harness.run_case(runner, case)
    assert not res.timed_out
    assert res.stdout == case.expected_stdout(), res.stderr.decode(errors="replace")


@pytest.mark.parametrize("path", sorted(PATHS))
def test_check_reports_the_path(path: str, tmp_path: Path) -> None:
    script = tmp_path / "l.bt"
    script.write_text("BEGIN { @m[1] = 1; printf(\"%d\\n\", len(@m)); exit(); }\n")
    binary = _build(script, tmp_path)
    out = subprocess.run([str(binary), "--check", *PATHS[path]], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    expect = {"kfunc": "the bpf_map_sum_elem_count kfunc", "for_each": "bpf_for_each_map_elem",
              "counter": "a counter kept at each insert and delete"}[path]
    assert f"l.bt:1: len(@m) counts with {expect}" in out.stdout


def _build(script: Path, tmp_path: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "bt2c", "build", str(script), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return tmp_path / "out" / script.stem


def test_kfunc_is_the_path_taken_on_this_kernel(tmp_path: Path) -> None:
    """The loaded program really calls the kfunc (bpftool's translated dump says so)."""
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    script = tmp_path / "lenprobe.bt"
    script.write_text("interval:ms:50 { @m[1] = 1; @n = len(@m); }\n")
    binary = _build(script, tmp_path)
    proc = subprocess.Popen([str(binary)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        progs: list[dict] = []
        for _ in range(50):
            time.sleep(0.1)
            shown = subprocess.run([bpftool, "prog", "show", "-j"], capture_output=True,
                                   text=True)
            progs = [p for p in json.loads(shown.stdout or "[]")
                     if p.get("name", "").startswith("handle_interva")]
            if progs:
                break
        assert progs, "the tool's program is not loaded"
        ids = [str(p["id"]) for p in progs]
        dumps = [subprocess.run([bpftool, "prog", "dump", "xlated", "id", i],
                                capture_output=True, text=True).stdout for i in ids]
        assert any("bpf_map_sum_elem_count" in d for d in dumps), dumps
        assert not any("for_each" in d for d in dumps)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_non_gpl_license_has_no_kfunc_and_loads(tmp_path: Path) -> None:
    text = 'config = { license = "MIT" }\nBEGIN { @m[1] = 1; printf("%d\\n", len(@m)); exit(); }\n'
    out = transpile(text, "mit.bt")
    bpf = out.files["mit.bpf.c"]
    assert "extern __s64 bpf_map_sum_elem_count" not in bpf
    assert "bpf_map_sum_elem_count((" not in bpf
    assert 'char LICENSE[] SEC("license") = "MIT";' in bpf
    script = tmp_path / "mit.bt"
    script.write_text(text)
    binary = _build(script, tmp_path)
    run = subprocess.run([str(binary), "-q"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("1\n")


def _functions_calling(c_text: str, name: str) -> list[str]:
    """The source of every top-level C function in ``c_text`` whose body calls ``name``."""
    import re

    out = []
    for m in re.finditer(r"^(?:static |int )[^\n]*\)\n\{\n.*?^\}\n", c_text, re.M | re.S):
        if f"{name}(" in m.group(0).split("{", 1)[1]:
            out.append(m.group(0))
    return out


def test_kfunc_calls_are_guarded_and_weak() -> None:
    """pycparser over the generated C: every kfunc call is dominated by its existence check."""
    import re

    from pycparser import c_ast, c_parser

    text = (harness.CASES_DIR / "len_paths.bt").read_text()
    bpf = transpile(text, "len_paths.bt").files["len_paths.bpf.c"]
    assert ("extern __s64 bpf_map_sum_elem_count(const struct bpf_map *map) __ksym __weak;"
            in bpf), "the kfunc must be declared weak"
    functions = _functions_calling(bpf, "bpf_map_sum_elem_count")
    assert functions, "no function calls the kfunc"
    prelude = ("typedef long long __s64; struct bpf_map;\n"
               "__s64 bpf_map_sum_elem_count(const struct bpf_map *map);\n"
               "int bpf_ksym_exists(); __s64 bt_len_counter(int);\n")
    source = prelude + "\n".join(f.replace("static __always_inline ", "") for f in functions)
    source = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)  # pycparser: no comments
    tree = c_parser.CParser().parse(source)

    class Checker(c_ast.NodeVisitor):
        def __init__(self) -> None:
            self.guards: list[bool] = []
            self.calls = 0

        def visit_If(self, node: c_ast.If) -> None:
            cond = node.cond
            guarded = (isinstance(cond, c_ast.FuncCall) and cond.name.name == "bpf_ksym_exists"
                       and cond.args.exprs[0].name == "bpf_map_sum_elem_count")
            self.guards.append(guarded)
            self.visit(node.iftrue)
            self.guards.pop()
            if node.iffalse is not None:
                self.guards.append(False)
                self.visit(node.iffalse)
                self.guards.pop()

        def visit_FuncCall(self, node: c_ast.FuncCall) -> None:
            if getattr(node.name, "name", "") == "bpf_map_sum_elem_count":
                self.calls += 1
                assert any(self.guards), "bpf_map_sum_elem_count called without its check"
            self.generic_visit(node)

    checker = Checker()
    checker.visit(tree)
    assert checker.calls >= 1
