"""Unit tests of the qemu harness's parts, without booting anything (seconds, not minutes).

The matrix itself (test_qemu_matrix.py) only says that a case passed or
failed on a kernel; these pin down the plumbing that decides it — the
initramfs format, the console protocol, the argv a case gets in the guest,
the verdicts, the skip without network, the README table — so a harness bug
is not mistaken for a kernel difference.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import qemu_harness as qh  # noqa: E402

CASES = {c.name: c for c in qh.e2e.load_cases(list(qh.MATRIX_CASES))}


def test_cpio_is_read_back_by_cpio(tmp_path: Path) -> None:
    """The newc archive written by Cpio lists the same entries with busybox's cpio."""
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.skip("busybox-static not installed: run .ci/install")
    cpio = qh.Cpio()
    cpio.dir("bin")
    cpio.file("bin/hello", b"#!/bin/sh\necho hi\n")
    cpio.symlink("bin/sh", "busybox")
    cpio.chardev("console", 5, 1)
    data = cpio.finish()
    assert len(data) % 512 == 0
    listing = subprocess.run([busybox, "cpio", "-t", "-v"], input=data, capture_output=True,
                             check=True).stdout.decode()
    lines = listing.splitlines()
    assert [line.split()[-1] if "->" not in line else line.split()[-3] for line in lines] == \
        ["bin", "bin/hello", "bin/sh", "console"]
    assert lines[0].startswith("d") and lines[1].startswith("-rwxr-xr-x")
    assert lines[2].startswith("l") and lines[2].endswith("-> busybox")
    assert lines[3].startswith("c")
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run([busybox, "cpio", "-i", "-d", "bin/hello"], input=data, cwd=out, check=True,
                   capture_output=True)
    assert (out / "bin" / "hello").read_bytes() == b"#!/bin/sh\necho hi\n"


def test_console_protocol_round_trip() -> None:
    """Marker lines survive \\r\\n, kernel noise and wrapped base64; bytes come back exact."""
    import base64

    out = b"line one\n\nbinary \x00\xff end without newline"
    enc = base64.encodebytes(out * 10).decode()  # wrapped at 76 columns, like busybox
    console = "\r\n".join([
        "[    1.0] some kernel message",
        f"{qh.MARK} KERNEL 5.10.0-32-amd64 x86_64 2",
        f"{qh.MARK} BEGIN one",
        f"{qh.MARK} STDOUT", *enc.splitlines(),
        f"{qh.MARK} STDERR", base64.b64encode(b"Attached 1 probe\n").decode(),
        f"{qh.MARK} END one 3 10.50 11.75",
        f"{qh.MARK} BEGIN two",
        f"{qh.MARK} STDOUT",
        f"{qh.MARK} STDERR",
        f"{qh.MARK} END two 137 12.00 72.00",
        f"{qh.MARK} DONE",
        "[    2.0] reboot: Power down",
    ])
    con = qh.parse_console(console)
    assert (con.release, con.machine, con.cpus, con.done) == ("5.10.0-32-amd64", "x86_64", 2, True)
    one = con.results["one"]
    assert one.stdout == out * 10 and one.stderr == b"Attached 1 probe\n"
    assert one.returncode == 3 and one.seconds == 1.25 and not one.timed_out
    assert con.results["two"].stdout == b"" and con.results["two"].timed_out


def test_console_without_done_marker_is_not_done() -> None:
    con = qh.parse_console("Kernel panic - not syncing: No working init found.\n")
    assert not con.done and not con.release and not con.results


def test_guest_argv_follows_bt2c_run() -> None:
    """RUN headers become the tool's own options, with the workload at its guest path."""
    assert qh.guest_argv(CASES["positional_str"], "/t/p") == \
        ("/t/p", "--", "hello", "two words", "42")
    assert qh.guest_argv(CASES["tp_read_args"], "/t/r") == \
        ("/t/r", "-c", "/bin/workload read 3 100", "--")


def test_init_script_quotes_arguments() -> None:
    """A parameter with a space reaches the tool as one argument."""
    case = qh.GuestCase("positional_str", ("/t/p", "--", "hello", "two words", "42"))
    script = qh.init_script([case], timeout=7)
    run_line = next(line for line in script.splitlines() if line.startswith("run "))
    assert shlex.split(run_line) == ["run", "positional_str", "/t/p", "--", "hello",
                                     "two words", "42"]
    assert "timeout -s KILL 7" in script and script.rstrip().endswith("poweroff -f")


def test_init_script_runs_under_a_posix_shell(tmp_path: Path) -> None:
    """The run() function's report parses back: exercised with the host's sh, fake mounts."""
    script = qh.init_script([qh.GuestCase("echo", ("printf", "a b\\n")),
                             qh.GuestCase("fails", ("sh", "-c", "echo oops >&2; exit 4"))])
    body = "\n".join(line for line in script.splitlines()
                     if not line.startswith(("mount ", "/bin/busybox", "export PATH",
                                             "poweroff")))
    body = body.replace("/tmp/out", str(tmp_path / "out")).replace("/tmp/err",
                                                                   str(tmp_path / "err"))
    body = body.replace("/proc/uptime", str(tmp_path / "uptime"))
    (tmp_path / "uptime").write_text("5.00 1.00\n")
    proc = subprocess.run(["sh", "-c", body], capture_output=True, text=True, timeout=30)
    con = qh.parse_console(proc.stdout)
    assert con.done
    assert con.results["echo"].stdout == b"a b\n" and con.results["echo"].returncode == 0
    assert con.results["fails"].stderr == b"oops\n" and con.results["fails"].returncode == 4


def _result(stdout: bytes, rc: int = 0, stderr: bytes = b"") -> qh.GuestResult:
    return qh.GuestResult(stdout, stderr, rc, 0.1)


def test_judge_compares_with_the_recorded_output() -> None:
    case = CASES["begin_end"]
    ok = _result(case.expected_stdout())
    assert qh.judge(case, "6.1.0-50-amd64", ok).status == "pass"
    bad = qh.judge(case, "6.1.0-50-amd64", _result(b"hello\n"))
    assert bad.status == "fail" and "stdout differs" in bad.detail
    rc = qh.judge(CASES["exit_code"], "6.1.0", _result(CASES["exit_code"].expected_stdout()))
    assert rc.status == "fail" and "exit status 0, expected 3" in rc.detail
    assert qh.judge(case, "6.1.0", None).status == "fail"
    assert qh.judge(case, "6.1.0", ok, build_error="boom").detail.startswith("build failed")
    hung = qh.judge(case, "6.1.0", _result(b"", qh.KILLED_RC))
    assert hung.status == "fail" and "timed out" in hung.detail


def test_judge_on_a_kernel_that_lacks_a_feature() -> None:
    """Old kernel: the clear message passes, a clean but vague error is xfail, else fail."""
    limit = next(lim for lim in qh.KERNEL_LIMITS if "for_map" in lim.cases)
    case = CASES["for_map"]
    old = f"{limit.needs[0]}.{limit.needs[1] - 1}.0-1-amd64"
    clear = _result(b"", 1, f"for_map.bt:6: ERROR: a for loop over a map needs Linux "
                    f"{limit.needs[0]}.{limit.needs[1]} or newer\n".encode())
    assert qh.judge(case, old, clear).status == "limit"
    if limit.interim:
        vague = _result(b"", 1, b"ERROR: the kernel's BPF verifier rejected the program: x\n")
        v = qh.judge(case, old, vague)
        assert v.status == "xfail" and "does not say so" in v.detail
    assert qh.judge(case, old, _result(case.expected_stdout())).status == "fail"
    new = f"{limit.needs[0]}.{limit.needs[1]}.0"
    assert qh.judge(case, new, _result(case.expected_stdout())).status == "pass"


def test_kernel_version_and_limits() -> None:
    assert qh.kernel_version("5.10.0-32-amd64") == (5, 10)
    assert qh.kernel_version("6.12.117+deb13-arm64") == (6, 12)
    assert qh.limit_for("begin_end", "5.10.0") is None
    for limit in qh.KERNEL_LIMITS:
        assert limit.cases <= set(qh.MATRIX_CASES), "limits must name matrix cases"


def test_apt_sources_parsing() -> None:
    deb822 = ("Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
              "Components: main\n\nTypes: deb-src\nURIs: http://src.example/debian\n"
              "Suites: bookworm\nComponents: main\n")
    assert qh.parse_apt_sources(deb822, deb822=True) == [
        ("http://mirror.example/debian", ["bookworm", "bookworm-updates"], ["main"])]
    one_line = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian trixie main\n"
    assert qh.parse_apt_sources(one_line, deb822=False) == [
        ("http://m.example/debian", ["trixie"], ["main"])]


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get")
def test_no_network_is_a_clear_skip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unreachable archive and an empty cache raise Unavailable (a skip), saying why.

    The archive is a closed port on the loopback address, so the test needs
    no network and sends nothing off the machine.
    """
    if not qh.DebianArchive.KEYRING.exists():
        pytest.skip("debian-archive-keyring not installed")
    monkeypatch.setenv("BT2C_QEMU_MIRROR", "http://127.0.0.1:9/debian")
    matrix = qh.Matrix(["begin_end"], root=tmp_path)
    with pytest.raises(qh.Unavailable, match="cannot reach the Debian archive"):
        matrix.run(qh.MATRIX[0])
    with pytest.raises(qh.Unavailable):  # remembered: not retried for every case
        matrix.run(qh.MATRIX[0])
    assert not (tmp_path / "tools").exists(), "nothing is built without a kernel"
    monkeypatch.setattr(qh.DebianArchive, "update", lambda self: pytest.fail("tried again"))
    with pytest.raises(qh.Unavailable, match="cannot reach"):  # other kernels: no new attempt
        matrix.run(qh.MATRIX[1])


def test_cached_kernel_needs_no_network(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a kernel in the cache, fetch_kernel does not touch apt at all."""
    kernel = qh.MATRIX[0]
    kdir = tmp_path / "kernels" / f"{kernel.suite}-{kernel.target.debian_arch}"
    kdir.mkdir(parents=True)
    (kdir / "vmlinuz-x").write_bytes(b"kernel")
    (kdir / "kernel.json").write_text('{"file": "vmlinuz-x", "package": "p", "version": "1"}')
    monkeypatch.setenv("BT2C_QEMU_MIRROR", "http://127.0.0.1:9/debian")
    monkeypatch.delenv("BT2C_QEMU_REFRESH", raising=False)
    monkeypatch.setattr(qh.DebianArchive, "update", lambda self: pytest.fail("apt was used"))
    image = qh.fetch_kernel(kernel, tmp_path)
    assert image.vmlinuz == kdir / "vmlinuz-x" and image.package == "p"


def test_readme_table_lists_the_matrix() -> None:
    """README's generated table has a column per MATRIX kernel and a row per case.

    The table's cells come from a matrix run (qemu_harness.py run
    --update-readme); this catches a kernel or case added without
    regenerating it.
    """
    text = qh.README.read_text()
    start, end = text.find(qh.README_BEGIN), text.find(qh.README_END)
    assert 0 <= start < end, "README lacks the qemu-matrix markers"
    table = text[start:end].splitlines()[1:]
    header = table[0]
    for kernel in qh.MATRIX:
        assert f"{kernel.arch} {kernel.series} ({kernel.suite}," in header, kernel.id
    rows = [line.split("|")[1].strip() for line in table[2:] if line.startswith("|")]
    assert rows == [f"`{name}`" for name in qh.MATRIX_CASES] + [f"`{qh.LEN_PROBE} --check`"]
    assert "**FAIL**" not in text[start:end], "the README records a failing matrix run"


def test_render_table_marks_each_outcome() -> None:
    results = {k.id: {"release": f"r-{k.id}", "cases": {}} for k in qh.MATRIX}
    first = qh.MATRIX[0].id
    results[first]["cases"] = {
        "begin_end": {"status": "pass", "detail": ""},
        "for_map": {"status": "limit", "detail": "needs Linux 5.13 (x)"},
        "agg_count_sum": {"status": "xfail", "detail": "needs Linux 5.19 (y), but the tool ..."},
        "has_key_len": {"status": "fail", "detail": "boom"},
    }
    table = qh.render_table(results)
    row = {line.split("|")[1].strip(): line for line in table.splitlines()[2:]}
    assert "| pass |" in row["`begin_end`"]
    assert "clear error: needs Linux 5.13 (x)" in row["`for_map`"]
    assert "error, unclear: needs Linux 5.19 (y)" in row["`agg_count_sum`"]
    assert "**FAIL**" in row["`has_key_len`"]
    assert "not run" in row["`str_len`"]


def test_host_busybox_is_static() -> None:
    """The host arch's initramfs uses busybox-static as installed by .ci/install."""
    host = qh.TARGETS.get("x86_64")
    if host is None or not host.is_host():
        pytest.skip("x86_64 hosts only")
    path = qh.fetch_busybox(host)
    assert qh.elf_info(path).static


def test_known_bugs_and_not_applicable_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """A listed bug turns a failure into 'known' (xfail); a fixed one simply passes."""
    bug = qh.KnownBug(frozenset({"while_loop"}), frozenset({"x86_64-6.1"}), "example bug")
    monkeypatch.setattr(qh, "KNOWN_BUGS", (bug, *qh.KNOWN_BUGS))
    case_name = sorted(bug.cases)[0]
    kernel = next(k for k in qh.MATRIX if not bug.kernels or k.id in bug.kernels)
    case = CASES[case_name]
    broken = _result(b"", 1, b"ERROR: something\n")
    v = qh.judge_on(kernel, case, "6.1.0", broken)
    assert v.status == "known" and bug.reason in v.detail and "ERROR: something" in v.detail
    assert qh.judge_on(kernel, case, "6.1.0", _result(case.expected_stdout())).status == "pass"
    (name, arch), why = next(iter(qh.NOT_APPLICABLE.items()))
    kernel = next(k for k in qh.MATRIX if k.arch == arch)
    assert qh.judge_on(kernel, CASES[name], "6.1.0", None).status == "n/a"
    for entry in qh.KNOWN_BUGS:
        assert entry.cases <= set(qh.MATRIX_CASES)
        assert entry.kernels <= {k.id for k in qh.MATRIX}
