"""Kernel-side probes: kprobe/kretprobe, fentry/fexit, rawtracepoint, profile, software,
hardware.

kprobes and fentry cannot attach on the development host (no kprobe PMU, function
tracing closed), so their tools are tested up to the kernel's verifier: built, then
loaded without attaching (``--check``).  The corpus in tests/corpus is real-world
style tools (biolatency, runqlat, tcpconnect, vfsstat, execsnoop) mixing the probe
types.  What attaches here (profile, software, rawtracepoint) runs end to end in
tests/e2e against bpftrace's recorded output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bt2c.diagnostics import Bt2cError
from bt2c.transpile import transpile

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "tests" / "corpus").glob("*.bt"))
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="loading BPF programs needs root")


def kprobes_attach_here() -> bool:
    """Whether this kernel can attach kprobes (perf kprobe PMU or tracefs kprobe_events)."""
    return (Path("/sys/bus/event_source/devices/kprobe").exists()
            or Path("/sys/kernel/tracing/kprobe_events").exists())


def build(script: Path, out: Path) -> Path:
    proc = subprocess.run([sys.executable, "-m", "bt2c", "build", str(script), "-o", str(out)],
                          capture_output=True, text=True, env=ENV, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


def test_corpus_is_there() -> None:
    assert len(CORPUS) >= 5


@root_only
@pytest.mark.parametrize("script", CORPUS, ids=[s.stem for s in CORPUS])
def test_corpus_tool_loads(script: Path, tmp_path: Path, kernel_mounts: None) -> None:
    """Each corpus tool transpiles, builds and passes the verifier on this kernel."""
    tool = build(script, tmp_path / script.stem)
    proc = subprocess.run([str(tool), "--check"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{script.name}: loads on this kernel" in proc.stdout


@root_only
def test_fentry_chooses_a_variant_and_no_feature_kfunc_forces_kprobe(
        tmp_path: Path, kernel_mounts: None) -> None:
    script = tmp_path / "ff.bt"
    script.write_text("fentry:vfs_read { @[args.count > 10] = count(); }\n"
                      "fexit:vfs_write { @w = hist(retval + args.count); }\n")
    tool = build(script, tmp_path / "ff")
    proc = subprocess.run([str(tool), "--check"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "fentry:vmlinux:vfs_read: attaches with " in proc.stdout
    assert "fexit:vmlinux:vfs_write: attaches with " in proc.stdout
    forced = subprocess.run([str(tool), "--check", "--no-feature", "kfunc"],
                            capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0, forced.stderr
    assert "fentry:vmlinux:vfs_read: attaches with a kprobe" in forced.stdout
    assert "fexit:vmlinux:vfs_write: attaches with a kprobe" in forced.stdout


@root_only
@pytest.mark.skipif(kprobes_attach_here(), reason="kprobes attach on this kernel")
def test_kprobe_attach_failure_is_reported_like_bpftrace(tmp_path: Path,
                                                         kernel_mounts: None) -> None:
    """bpftrace: 'ERROR: Unable to attach probe: kprobe:F. If this is expected, set the
    'missing_probes' config variable to 'warn'.' and exit status 255."""
    script = tmp_path / "k.bt"
    script.write_text("kprobe:do_sys_openat2 { @[arg0] = count(); }\n")
    tool = build(script, tmp_path / "k")
    proc = subprocess.run([str(tool)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 255
    assert ("ERROR: Unable to attach probe: kprobe:do_sys_openat2. If this is expected, set "
            "the 'missing_probes' config variable to 'warn'.") in proc.stderr
    assert "Traceback" not in proc.stderr


@root_only
@pytest.mark.skipif(kprobes_attach_here(), reason="kprobes attach on this kernel")
def test_missing_probes_warn_skips_the_probe_at_attach(tmp_path: Path,
                                                       kernel_mounts: None) -> None:
    script = tmp_path / "w.bt"
    script.write_text('config = { missing_probes = "warn" }\n'
                      "kprobe:do_sys_openat2 { @n = count(); }\n"
                      'BEGIN { printf("begin\\n"); exit(); }\n')
    tool = build(script, tmp_path / "w")
    proc = subprocess.run([str(tool)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("begin\n")
    assert "WARNING: Unable to attach probe: kprobe:do_sys_openat2. Skipping." in proc.stderr
    assert "Attached 1 probe" in proc.stderr


def test_missing_kernel_function_is_an_error_by_default() -> None:
    with pytest.raises(Bt2cError, match=r"No matches for kprobe no_such_fn_bt2c\. If this is "
                       "expected, set the 'missing_probes' config variable to 'warn'."):
        transpile("kprobe:no_such_fn_bt2c { exit(); }", "t.bt")
    with pytest.raises(Bt2cError, match="Probe has no valid attach points"):
        transpile("kprobe:no_such_fn_bt2c_* { exit(); }", "t.bt")


def test_missing_probes_warn_and_ignore_drop_the_probe(capsys: pytest.CaptureFixture[str]) -> None:
    text = ('config = { missing_probes = "warn" }\n'
            "kprobe:no_such_fn_bt2c { @x = count(); }\nBEGIN { exit(); }\n")
    out = transpile(text, "t.bt")
    err = capsys.readouterr().err
    assert "t.bt:2:1-23: WARNING: No matches for kprobe no_such_fn_bt2c. Skipping." in err
    assert "Probe has no valid attach points. It is being removed" in err
    assert "no_such_fn_bt2c" not in out.files["t.bpf.c"].split("SEC(", 1)[1]
    transpile(text.replace('"warn"', '"ignore"'), "t.bt")
    assert capsys.readouterr().err == ""


def test_kprobe_wildcards_expand_to_one_program_per_function() -> None:
    out = transpile("kprobe:vfs_read* { @[probe] = count(); }", "t.bt")
    bpf = out.files["t.bpf.c"]
    assert 'SEC("kprobe/vfs_read")' in bpf
    assert bpf.count('SEC("kprobe/vfs_read') >= 2


def test_kprobe_module_and_offset_are_attached_by_the_loader() -> None:
    out = transpile("kprobe:vfs_read+8 { @ = count(); }", "t.bt")
    assert 'SEC("kprobe")' in out.files["t.bpf.c"]
    loader = " ".join(out.files["t.c"].split())  # clang-format decides the line breaks
    assert '.func = "vfs_read", .offset = 8, .retprobe = 0' in loader
    with pytest.raises(Bt2cError, match="Offset not allowed for kretprobe"):
        transpile("kretprobe:vfs_read+8 { @ = count(); }", "t.bt")


@pytest.mark.parametrize("script, message", [
    ("kretprobe:vfs_read { @ = arg0; }",
     "The arg0 builtin can only be used with 'kprobes', 'uprobes' and 'usdt' probes"),
    ("kprobe:vfs_read { @ = retval; }",
     "The retval builtin can only be used with 'kretprobe' and 'uretprobe' and 'fentry'"),
    ("hardware:nosuch:100 { @ = count(); }", "nosuch is not a hardware probe"),
    ("software:nosuch { @ = count(); }", "nosuch is not a software probe"),
    ("profile:xs:10 { @ = count(); }", "Invalid profile probe"),
    ("fentry:vfs_read { @ = args.nosuch; }", "Can't find field 'nosuch' in args"),
    ("rawtracepoint:no_such_event_bt2c { @ = count(); }",
     "No matches for rawtracepoint no_such_event_bt2c"),
])
def test_kernel_probe_errors(script: str, message: str) -> None:
    with pytest.raises(Bt2cError, match=message.replace("(", r"\(").replace(")", r"\)")):
        transpile(script, "t.bt")


def test_fentry_args_and_retval_are_typed_from_btf() -> None:
    out = transpile("fexit:do_sys_openat2 { @[args.dfd] = hist(retval); }", "t.bt")
    bpf = out.files["t.bpf.c"]
    # do_sys_openat2(int dfd, const char *filename, struct open_how *how) returns long
    assert "((__s32)ctx[0])" in bpf            # fexit: args then retval in the u64 array
    assert "ctx[3])" in bpf
    assert 'SEC("kretprobe/do_sys_openat2")' in bpf   # the fallback twin
    assert "bt_fexit_save(ctx, 0, 3);" in bpf          # args saved at entry for it


@root_only
@pytest.mark.skipif(kprobes_attach_here(), reason="kprobes attach on this kernel")
def test_wildcard_fentry_programs_are_attached_not_skipped(tmp_path: Path,
                                                           kernel_mounts: None) -> None:
    """Wildcard-matched targets are optional only for tracepoints (skipped where the
    running kernel lacks the event); fentry/kprobe wildcard targets are attached."""
    script = tmp_path / "wf.bt"
    script.write_text("fentry:vfs_read* { @ = count(); }\n")
    tool = build(script, tmp_path / "wf")
    proc = subprocess.run([str(tool), "--no-feature", "kfunc"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 255, proc.stderr
    assert "Unable to attach probe: fentry:vmlinux:vfs_read" in proc.stderr


@root_only
def test_override_loads_or_names_the_kernel_option(tmp_path: Path, kernel_mounts: None) -> None:
    """override() in a kprobe: the tool loads where the kernel has bpf_override_return
    (CONFIG_BPF_KPROBE_OVERRIDE), else says so before loading, naming the option."""
    script = tmp_path / "override.bt"
    script.write_text("kprobe:do_sys_openat2 /uid == 12345/ { override(-1); }\n")
    with pytest.raises(Bt2cError, match="override.. is unsafe"):
        transpile(script.read_text(), str(script))
    proc = subprocess.run([sys.executable, "-m", "bt2c", "build", "--unsafe", str(script), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True, env=ENV,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    tool = tmp_path / "out" / "override"
    proc = subprocess.run([str(tool), "--check"], capture_output=True, text=True, timeout=120)
    from bt2c.btf import vmlinux
    btf = vmlinux()
    if btf is not None and btf.find("bpf_override_return", "func") is not None:
        assert proc.returncode == 0, proc.stderr
        assert "override.bt: loads on this kernel" in proc.stdout
    else:
        assert proc.returncode != 0
        assert "override.bt:1: ERROR: override() (CONFIG_BPF_KPROBE_OVERRIDE) needs Linux " \
            "4.16" in proc.stderr


@root_only
def test_path_is_fentry_only_and_builds(tmp_path: Path, kernel_mounts: None) -> None:
    """path() compiles to bpf_d_path() in an fentry program with no kprobe twin (the
    helper exists for fentry/fexit only); it loads where fentry does."""
    script = tmp_path / "paths.bt"
    script.write_text("fentry:vfs_getattr { @[path(args.path)] = count(); }\n")
    out = transpile(script.read_text(), str(script))
    bpf = out.files["paths.bpf.c"]
    assert 'SEC("fentry/vfs_getattr")' in bpf and "bpf_d_path(" in bpf
    assert "__kprobe" not in bpf
    tool = build(script, tmp_path / "out")
    proc = subprocess.run([str(tool), "--check"], capture_output=True, text=True, timeout=120)
    fentry = subprocess.run([str(tool), "--check", "-v"], capture_output=True, text=True,
                            timeout=120)
    if proc.returncode == 0:
        assert "paths.bt: loads on this kernel" in proc.stdout
    else:  # fentry programs cannot load here (e.g. lockdown): that, not the verifier
        assert "verifier rejected" not in proc.stderr
        assert "Operation not permitted" in proc.stderr + fentry.stderr
