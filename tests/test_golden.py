"""The golden corpus matches what bt2c generates today, and its review workflow works."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c import golden
from bt2c.transpile import transpile

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "golden"
SCRIPTS = sorted(GOLDEN.glob("*.bt"))


def bt2c(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "bt2c", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)


def test_corpus_is_current() -> None:
    """Any unreviewed change in generated output fails here (and in `bt2c golden check`)."""
    changes = golden.compare(GOLDEN)
    assert not changes, ("generated C changed; review `bt2c golden diff`, then run "
                         "`bt2c golden update`:\n" + golden.summary(changes)
                         + "".join(golden.unified(c) for c in changes[:3]))


def test_check_command_passes_on_the_corpus() -> None:
    r = bt2c("golden", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"golden: {len(SCRIPTS)} scripts, all generated files match" in r.stdout


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A private copy of three golden scripts and their outputs."""
    root = tmp_path / "golden"
    root.mkdir()
    for stem in ("opensnoop", "syscount", "maplen"):
        shutil.copy(GOLDEN / f"{stem}.bt", root)
        shutil.copytree(GOLDEN / stem, root / stem)
    shutil.copytree(GOLDEN / golden.TRACEFS_SNAPSHOT, root / golden.TRACEFS_SNAPSHOT)
    return root


def test_check_fails_with_a_diff(corpus: Path) -> None:
    bpf = corpus / "syscount" / "syscount.bpf.c"
    bpf.write_text(bpf.read_text().replace("map_syscalls SEC", "map_renamed SEC", 1))
    r = bt2c("golden", "check", "--dir", str(corpus), "--color", "never")
    assert r.returncode == 1
    assert "--- a/golden/syscount/syscount.bpf.c" in r.stdout
    assert "-} map_renamed SEC(\".maps\");" in r.stdout
    assert "+} map_syscalls SEC(\".maps\");" in r.stdout
    assert "modified golden/syscount/syscount.bpf.c (+1 -1)" in r.stdout
    assert "\033[" not in r.stdout
    colored = bt2c("golden", "check", "--dir", str(corpus), "--color", "always")
    assert "\033[31m-} map_renamed" in colored.stdout


def test_check_reports_missing_and_stale_files(corpus: Path) -> None:
    (corpus / "maplen" / "maplen.h").unlink()
    (corpus / "gone").mkdir()
    (corpus / "gone" / "gone.c").write_text("int x;\n")
    r = bt2c("golden", "check", "--dir", str(corpus), "--color", "never")
    assert r.returncode == 1
    assert "added    golden/maplen/maplen.h" in r.stdout
    assert "removed  golden/gone/gone.c" in r.stdout


def test_version_line_is_ignored(corpus: Path) -> None:
    for p in (corpus / "opensnoop").iterdir():
        text = p.read_text()
        assert len(golden.VERSION_RE.findall(text)) == 1, f"{p.name}: one version line"
        p.write_text(golden.VERSION_RE.sub(r"\g<1>99.1.2", text))
    assert bt2c("golden", "check", "--dir", str(corpus)).returncode == 0


def test_update_named_script_and_summary(corpus: Path) -> None:
    for stem in ("opensnoop", "syscount"):
        c = corpus / stem / f"{stem}.c"
        c.write_text(c.read_text() + "/* stray */\n")
    r = bt2c("golden", "update", "syscount", "--dir", str(corpus))
    assert r.returncode == 0, r.stderr
    assert "golden: 1 files updated:" in r.stdout
    assert "modified golden/syscount/syscount.c (+0 -1)" in r.stdout
    r = bt2c("golden", "check", "--dir", str(corpus), "--color", "never")
    assert r.returncode == 1 and "golden/opensnoop/opensnoop.c" in r.stdout
    assert "golden/syscount/" not in r.stdout
    assert bt2c("golden", "update", "--dir", str(corpus)).returncode == 0
    assert bt2c("golden", "check", "--dir", str(corpus)).returncode == 0
    r = bt2c("golden", "update", "nosuch", "--dir", str(corpus))
    assert r.returncode == 1 and "nosuch: not a golden script" in r.stderr
    assert "Traceback" not in r.stderr


def test_generation_uses_the_tracefs_snapshot(corpus: Path, tmp_path: Path) -> None:
    """Golden output does not depend on the kernel of the machine that checks it."""
    fmt = corpus / golden.TRACEFS_SNAPSHOT / "raw_syscalls" / "sys_enter" / "format"
    fmt.write_text(fmt.read_text().replace("field:long id;", "field:int id;")
                   .replace("offset:8;\tsize:8;\tsigned:1;", "offset:8;\tsize:4;\tsigned:1;", 1))
    r = bt2c("golden", "check", "--dir", str(corpus), "--color", "never")
    assert r.returncode == 1
    assert "+\t__s32 id;" in r.stdout


def test_diff_html_page(corpus: Path, tmp_path: Path) -> None:
    bpf = corpus / "maplen" / "maplen.bpf.c"
    bpf.write_text(bpf.read_text().replace("BPF_MAP_TYPE_RINGBUF", "BPF_MAP_TYPE_RING<&>", 1))
    out = tmp_path / "review.html"
    r = bt2c("golden", "diff", "--dir", str(corpus), "--html", str(out))
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "golden/maplen/maplen.bpf.c" in page
    assert "RING<del>&lt;&amp;&gt;</del>" in page  # escaped, with the changed characters marked
    assert "<ins>BUF</ins>" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "no network resources"
    assert "<script" not in page


def test_diff_base_revision(tmp_path: Path) -> None:
    """--base REV compares the corpus with a git revision (what a pull request changes)."""
    repo = tmp_path / "repo"
    shutil.copytree(GOLDEN, repo / "golden")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    h = repo / "golden" / "syscount" / "syscount.h"
    h.write_text(h.read_text().replace("EVENT_EXIT = 1", "EVENT_EXIT = 7"))
    r = bt2c("golden", "diff", "--base", "HEAD", "--color", "never", cwd=repo)
    assert r.returncode == 0, r.stderr
    assert "-\tEVENT_EXIT = 1," in r.stdout and "+\tEVENT_EXIT = 7," in r.stdout
    assert "golden: 1 files changed" in r.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian package chromium")
def test_review_page_renders_in_chromium(corpus: Path, tmp_path: Path) -> None:
    """Headless Chromium lays the page out: the DOM has the side-by-side rows, and a
    screenshot is a real picture (not blank)."""
    h = corpus / "opensnoop" / "opensnoop.h"
    h.write_text(h.read_text().replace("EVENT_EXIT = 1", "EVENT_EXIT = 3"))
    page = tmp_path / "review.html"
    assert bt2c("golden", "diff", "--dir", str(corpus), "--html", str(page)).returncode == 0
    flags = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert '<tr class="replace">' in dom.stdout
    shot = tmp_path / "review.png"
    subprocess.run([*flags, "--window-size=1200,800", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1200, 800)
    assert len(data) > 20_000, "a blank page compresses to a few kB"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_generation_is_deterministic(script: Path, tmp_path: Path) -> None:
    """Same input, same bytes: in another process, from another directory, by another path."""
    unsafe = golden.needs_unsafe(script.read_text())
    here = transpile(script.read_text(), script.name, unsafe=unsafe,
                     directory=script.parent).files
    copy = tmp_path / "elsewhere" / script.name
    copy.parent.mkdir()
    for sibling in GOLDEN.glob("*.bt"):    # with the scripts it may import
        shutil.copy(sibling, copy.parent)
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONHASHSEED="12345",
               BT2C_TRACEFS=str(GOLDEN / golden.TRACEFS_SNAPSHOT))
    subprocess.run([sys.executable, "-m", "bt2c", "transpile", str(copy), "-o", str(out),
                    *(["--unsafe"] if unsafe else [])], cwd=tmp_path, env=env, check=True)
    for fname, text in here.items():
        assert (out / fname).read_text() == text, fname


def test_no_machine_specific_text() -> None:
    """No absolute paths, timestamps or host names in any golden file."""
    host = os.uname().nodename
    for p in GOLDEN.glob("*/*"):
        if p.parent.name == golden.TRACEFS_SNAPSHOT or not p.is_file():
            continue
        text = p.read_text()
        assert not re.search(r"/(home|root|tmp|work|usr/src)/", text), p
        assert not re.search(r"\b20\d\d-\d\d-\d\d\b|\d\d:\d\d:\d\d", text), p
        if len(host) > 3:
            assert not re.search(rf"\b{re.escape(host)}\b", text), p


def _statement_lines(script: Path) -> set[int]:
    """Lines of the script's probes and statements (jumps excepted: a lone break,
    continue or return needs no comment of its own); not those of files it imports."""
    import dataclasses

    from bt2c import ast
    from bt2c.diagnostics import Source
    from bt2c.parser import parse

    program = parse(Source(script.name, script.read_text()), script.parent)
    source = program.source
    assert source is not None
    lines: set[int] = set()

    def walk(node: object) -> None:
        if isinstance(node, list):
            for n in node:
                walk(n)
            return
        if not dataclasses.is_dataclass(node):
            return
        if (isinstance(node, (ast.Stmt, ast.Probe)) and not isinstance(node, ast.Jump)
                and source.name_at(node.span.start) == script.name):
            lines.add(source.position(node.span.start)[0])
        for _, value in ast.child_fields(node):
            walk(value)

    walk(program.probes)
    return lines


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_every_block_names_its_script_line(script: Path) -> None:
    """A reviewer can map each block of C back to the script line it came from."""
    bpf_c = (GOLDEN / script.stem / f"{script.stem}.bpf.c").read_text()
    commented = {int(n) for n in re.findall(r"/\* line (\d+): ", bpf_c)}
    missing = sorted(_statement_lines(script) - commented)
    assert not missing, f"script lines with no /* line N: */ comment in the C: {missing}"


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_golden_tool_loads(script: Path, kernel_mounts: None) -> None:
    """The reviewed C is real: it builds, and the kernel's verifier accepts every program
    (`bt2c check`: load without attaching)."""
    if os.geteuid() != 0:
        pytest.skip("loading BPF programs needs root")
    unsafe = ["--unsafe"] if golden.needs_unsafe(script.read_text()) else []
    r = bt2c("check", str(script), *unsafe)
    from bt2c.btf import vmlinux
    btf = vmlinux()
    if "override(" in script.read_text() and (
            btf is None or btf.find("bpf_override_return", "func") is None):
        # no CONFIG_BPF_KPROBE_OVERRIDE: the tool must say so, before loading
        assert "override() (CONFIG_BPF_KPROBE_OVERRIDE) needs Linux" in r.stderr, r.stderr
        return
    if "write_user(" in script.read_text() and \
            "cannot use helper bpf_probe_write_user" in r.stderr:
        # a kernel in lockdown mode (integrity) refuses the helper: the tool names the line
        assert re.search(r"\.bt:\d+: ERROR: the kernel's BPF verifier rejected", r.stderr)
        return
    unresolved = re.search(r"kernel symbol '(\w+)'", r.stderr)
    if "percpu_kaddr(" in script.read_text() and unresolved and r.returncode != 0:
        # a kernel without data symbols in kallsyms (no CONFIG_KALLSYMS_ALL) refuses
        # typed __ksym variables, as it does bpftrace's: the tool names the line
        kallsyms = Path("/proc/kallsyms").read_text()
        assert not re.search(rf" [dDbB] {unresolved[1]}$", kallsyms, re.M), r.stderr
        assert re.search(r"\.bt:\d+: ERROR: .*ldimm64 failed to find the address", r.stderr)
        return
    if "socket_cookie(" in script.read_text() and r.returncode != 0 and re.search(
            r"prog 'handle_f(entry|exit)_\w+': BPF program load failed: Operation not "
            r"permitted", r.stderr):
        pytest.skip("this kernel loads no fentry/fexit programs (no BTF trampolines or "
                    "locked down), and socket_cookie() has no kprobe twin")
    assert r.returncode == 0, r.stdout + r.stderr


FORMATTER = shutil.which("clang-format-19")


@pytest.mark.skipif(FORMATTER is None, reason="Debian package clang-format-19")
def test_golden_c_follows_the_checked_in_style() -> None:
    """Every generated C file is a fixed point of clang-format with templates/clang-format.style."""
    style = REPO / "templates" / "clang-format.style"
    for p in sorted(GOLDEN.glob("*/*")):
        if p.suffix not in (".c", ".h"):
            continue
        r = subprocess.run([FORMATTER, f"--style=file:{style}", str(p)], capture_output=True,
                           text=True, check=True)
        assert r.stdout == p.read_text(), f"{p} is not formatted"


def _code(text: str) -> str:
    """The text without whitespace and without the C line numbers of the verifier's line
    map (formatting moves lines)."""
    text = re.sub(r"bt_line_map\[\] = \{.*?\};", "", text, flags=re.S)
    return re.sub(r"\s+", "", text)


def test_unformatted_output_is_the_same_c(tmp_path: Path) -> None:
    """Without clang-format the files differ in whitespace only, and golden refuses to
    compare (naming the package to install) rather than report false changes."""
    script = GOLDEN / "opensnoop.bt"
    env = dict(os.environ, PYTHONPATH=str(REPO), BT2C_CLANG_FORMAT="",
               BT2C_TRACEFS=str(GOLDEN / golden.TRACEFS_SNAPSHOT))
    subprocess.run([sys.executable, "-m", "bt2c", "transpile", str(script), "-o",
                    str(tmp_path)], env=env, check=True)
    for p in (GOLDEN / "opensnoop").iterdir():
        plain, formatted = (tmp_path / p.name).read_text(), p.read_text()
        assert _code(plain) == _code(formatted), p.name
    r = subprocess.run([sys.executable, "-m", "bt2c", "golden", "check"], cwd=REPO, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "Debian package: clang-format-19" in r.stderr and "Traceback" not in r.stderr
