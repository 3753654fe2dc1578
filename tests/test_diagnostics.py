"""Bad input: located diagnostics, exit status 1, no traceback, no partial output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    # (script, expected first line of stderr, expected underline)
    ('BEGIN { @x = 1 +; }', "prog.bt:1:17: ERROR: syntax: expected expression", "~"),
    ('BEGIN { @x = 1 + "a"; }', "prog.bt:1:14: ERROR: Type mismatch for '+': comparing int64 "
     "with string[8]", "~~~~~~~"),
    ('BEGIN { printf("%d\\n"); }',
     "prog.bt:1:9: ERROR: not enough arguments for format string", "~" * 14),
    ('BEGIN { $x = 1; $x = "s"; }', "prog.bt:1:17: ERROR: Type mismatch for $x", "~" * 8),
    ('BEGIN { print($y); }', "prog.bt:1:15: ERROR: Undefined or undeclared variable: $y",
     "~~"),
    ('BEGIN { foo(); }', "prog.bt:1:9: ERROR: Unknown function: 'foo'", "~~~~~"),
    ('tracepoint:nosuch:thing { }', "prog.bt:1:1: ERROR: No matches for tracepoint", "~"),
    ('BEGIN { "unterminated }', "prog.bt:1:9: ERROR: syntax: unterminated string", "~"),
    ('BEGIN { @x = 1; @x = "s"; }', "prog.bt:1:17: ERROR: Type mismatch for @x", "~" * 8),
    ('BEGIN { break; }', "prog.bt:1:9: ERROR: 'break' statement is not allowed", "~~~~~"),
    # C types: bpftrace's wording for unknown types and members
    ('BEGIN { $x = curtask->nosuch; }', "prog.bt:1:14: ERROR: Struct/union of type "
     "'struct task_struct' does not contain a field named 'nosuch'", "~" * 15),
    ('BEGIN { $x = (struct nosuch *)0; }',
     'prog.bt:1:15: ERROR: Cannot resolve unknown type "struct nosuch"', "~" * 15),
    ('struct foo { int a; } BEGIN { $x = (struct foo *)0; print($x->b); }',
     "prog.bt:1:59: ERROR: Struct/union of type 'struct foo' does not contain a field "
     "named 'b'", "~~~~~"),
    ('struct foo { int a; nosuch_t b; } BEGIN { }',
     'prog.bt:1:1: ERROR: syntax error in C definition', "~"),
    ('struct foo { int a; int b c; } BEGIN { }', "prog.bt:1:1: ERROR: syntax error in C definition",
     "~"),
    ('BEGIN { print(*pid); }',
     "prog.bt:1:15: ERROR: Can not dereference an expression of type 'uint64'", "~~~~"),
    ('BEGIN { print(sizeof(struct nosuch)); }',
     'prog.bt:1:15: ERROR: Cannot resolve unknown type "struct nosuch"', "~"),
    # user-space probes: checked against the file at transpile time, as bpftrace does
    ('uprobe:/bin/bash:no_such_function { }',
     "prog.bt:1:1: ERROR: No matches for uprobe /bin/bash:no_such_function.", "~~~~"),
    ('uprobe:/bin/bash:no_such_*ction { }',
     "prog.bt:1:1: ERROR: Probe has no valid attach points.", "~~~~"),
    ('uprobe:/no/such/file:f { }',
     "prog.bt:1:1: ERROR: uprobe target file '/no/such/file' does not exist", "~~~~"),
    ('usdt:/bin/bash:no_such_probe { }',
     "prog.bt:1:1: ERROR: Probe has no valid attach points.", "~~~~"),
    ('uretprobe:/bin/bash:readline+4 { }', "prog.bt:1:1: ERROR: Offset not allowed", "~~~~"),
    ('uprobe:/bin/bash:readline { print(retval); }',
     "prog.bt:1:35: ERROR: The retval builtin can only be used with 'kretprobe' and "
     "'uretprobe'", "~~~~~~"),
    ('uretprobe:/bin/bash:readline { print(arg0); }',
     "prog.bt:1:38: ERROR: The arg0 builtin can only be used with 'kprobes', 'uprobes' "
     "and 'usdt' probes", "~~~~"),
    ('uprobe:/bin/bash:readline { print(arg9); }', "prog.bt:1:35: ERROR: ", "~~~~"),
    ('usdt:/usr/bin/python3:python:function__entry { print(func); }',
     "prog.bt:1:54: ERROR: The func builtin can not be used with 'usdt' probes", "~~~~"),
    ('BEGIN { @[kstack(foo)] = count(); }',
     "prog.bt:1:18: ERROR: Error parsing stack mode: kstack: Invalid value for stack_mode",
     "~~~"),
    ('BEGIN { $a = 3; @[ustack($a)] = count(); }',
     "prog.bt:1:19: ERROR: ustack: invalid limit value", "~~~~~~~~~~"),
    ('BEGIN { @[kstack(perf, 3, 4)] = count(); }',
     "prog.bt:1:11: ERROR: kstack() takes up to 2 arguments (3 provided)", "~~~~~~~~~~~~~~~~~~"),
    ('BEGIN { @[kstack + 1] = count(); }',
     "prog.bt:1:11: ERROR: Type mismatch for '+': comparing kstack_bpftrace_127 with int64",
     "~~~~~~~~~~"),
    ('BEGIN { $x = kstack; $x = kstack(perf); }',
     "prog.bt:1:22: ERROR: Type mismatch for $x", "~~"),
    ('BEGIN { printf("%d", ustack); }',
     "prog.bt:1:9: ERROR: unsupported format specifier for type 'ustack_bpftrace_127': d",
     "~~~~~~~~~~~~~~~~~~~~"),
    ('tracepoint:syscalls:sys_enter_read { print(uaddr("main")); }',
     'prog.bt:1:44: ERROR: uaddr can not be used with "tracepoint" probes', "~~~~~~~~~~~~~"),
    # bt2c keeps a strftime() format in the type (bpftrace stores one with each value)
    ('BEGIN { @b = strftime("%H", 0); @b = strftime("%Y", 0); }',
     "prog.bt:1:33: ERROR: bt2c keeps one strftime() format per variable or map value: "
     "'%Y' here, '%H' before", "~" * 22),
    # and one cgroup_path() filter, which must be a literal (bpftrace crashes on others)
    ('BEGIN { $p = cgroup_path(1, "a"); $p = cgroup_path(1, "b"); }',
     "prog.bt:1:35: ERROR: bt2c keeps one cgroup_path() filter per variable or map value: "
     "'b' here, 'a' before", "~" * 24),
    ('BEGIN { $f = "unified"; print(cgroup_path(1, $f)); }',
     "prog.bt:1:46: ERROR: cgroup_path() expects a string literal as its filter", "~~"),
]


def bt2c(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("script,first,underline", CASES)
def test_error_is_located_and_leaves_nothing(tmp_path: Path, script: str, first: str,
                                             underline: str) -> None:
    (tmp_path / "prog.bt").write_text(script + "\n")
    proc = bt2c("transpile", "prog.bt", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(first), proc.stderr
    assert lines[1] == script
    assert lines[2].strip() == underline or lines[2].strip().startswith(underline)
    col = int(first.split(":")[2])
    assert lines[2].index("~") == col - 1
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_run_error_uses_stdin_name(tmp_path: Path) -> None:
    proc = bt2c("run", "-e", "BEGIN { @x = 1 + ; }", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("stdin:1:18: ERROR: ")


def test_missing_script_is_reported(tmp_path: Path) -> None:
    proc = bt2c("transpile", "nope.bt", cwd=tmp_path)
    assert proc.returncode == 1
    assert "ERROR: failed to open nope.bt" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_clang_names_the_package(tmp_path: Path) -> None:
    (tmp_path / "prog.bt").write_text("BEGIN { exit(); }\n")
    env = {"PATH": "/nonexistent", "BT2C_CLANG": "clang-404", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-m", "bt2c", "build", "prog.bt", "-o", "out"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert "apt-get install clang" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_verifier_rejection_names_the_script_line(tmp_path: Path) -> None:
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root to load BPF")
    script = "BEGIN { printf(\"start\\n\"); }\nBEGIN { $i = 0; while (1) { $i++; } }\n"
    (tmp_path / "loop.bt").write_text(script)
    env = dict(os.environ, BT2C_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "bt2c", "run", "loop.bt"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 255   # bpftrace's status when a program fails to load
    lines = proc.stderr.splitlines()
    at = next(i for i, line in enumerate(lines) if "verifier rejected" in line)
    assert lines[at].startswith("loop.bt:2: ERROR: the kernel's BPF verifier rejected")
    assert lines[at + 1] == script.splitlines()[1]
    assert "Traceback" not in proc.stderr


def test_no_arguments_prints_help_without_traceback(tmp_path: Path) -> None:
    proc = bt2c(cwd=tmp_path)
    assert proc.returncode == 2
    assert "Usage" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_escapes_bpftrace_rejects_are_errors(tmp_path: Path) -> None:
    (tmp_path / "prog.bt").write_text('BEGIN { printf("\\a"); }\n')
    proc = bt2c("transpile", "prog.bt", "-o", "out", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.startswith("prog.bt:1:17: ERROR: invalid escape character '\\a'")


@pytest.mark.parametrize("argv, message", [
    (["transpile", "-e", "BEGIN {}"], "No such option: -e"),
    (["build"], "Missing argument 'script'"),
    (["golden", "frobnicate"], "No such command 'frobnicate'"),
])
def test_usage_errors_are_click_usage_messages(argv: list[str], message: str,
                                               tmp_path: Path) -> None:
    """A wrong command line gets the usage text and exit status 2, whichever click copy
    typer uses, never an internal error."""
    proc = subprocess.run([sys.executable, "-m", "bt2c", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert "Usage:" in proc.stderr and "internal error" not in proc.stderr


def test_output_path_that_is_a_file_is_a_clean_error(tmp_path: Path) -> None:
    """-o naming an existing file: one ERROR line and exit 1, no traceback."""
    script = tmp_path / "s.bt"
    script.write_text("BEGIN { exit(); }\n")
    (tmp_path / "taken").write_text("")
    proc = subprocess.run([sys.executable, "-m", "bt2c", "transpile", str(script), "-o",
                           "taken"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "ERROR: taken: exists and is not a directory"
