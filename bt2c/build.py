"""Build: clang for the BPF object, bpftool for vmlinux.h and the skeleton, cc for the loader.

The commands are the same as the generated Makefile's, run from Python so that
a missing tool is named with its Debian package and ``-v`` can show each one.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from bt2c.cross import check_target_libs, find_cc, resolve_target
from bt2c.diagnostics import Bt2cError, ToolMissingError

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


def find_clang() -> str:
    """$BT2C_CLANG, else the newest clang-N on PATH, else clang."""
    env = os.environ.get("BT2C_CLANG")
    if env:
        if shutil.which(env) is None:
            raise ToolMissingError(env, "clang")
        return env
    for version in range(30, 9, -1):
        path = shutil.which(f"clang-{version}")
        if path:
            return path
    path = shutil.which("clang")
    if path is None:
        raise ToolMissingError("clang", "clang")
    return path


def find_tool(name: str, package: str) -> str:
    """A required program on PATH (or in /usr/sbin, where Debian puts bpftool)."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        raise ToolMissingError(name, package)
    return path


def check_headers() -> None:
    """libbpf's headers are needed by both the BPF object and the loader."""
    if not Path("/usr/include/bpf/bpf_helpers.h").exists():
        raise ToolMissingError("libbpf headers (bpf/bpf_helpers.h)", "libbpf-dev")
    if not Path("/usr/include/gelf.h").exists() and not Path("/usr/include/libelf.h").exists():
        raise ToolMissingError("libelf headers", "libelf-dev")


def toolchain_id() -> str:
    """A string that changes whenever a build's result might: the tools and the kernel.

    Tools are identified by path, size and modification time, not by running them,
    so that a cached ``bt2c run`` starts without spawning clang.
    """
    parts = [platform.release()]
    for tool in (find_clang(), shutil.which("bpftool") or "/usr/sbin/bpftool",
                 "/usr/include/bpf/libbpf.h"):
        try:
            st = os.stat(os.path.realpath(tool))
            parts.append(f"{tool}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{tool}:missing")
    return "|".join(parts)


class Builder:
    """Runs the build steps in one output directory.

    ``arch`` (a :mod:`bt2c.cross` target name, None for this machine) selects
    the BPF arch macro and the loader's compiler and libraries; ``static``
    links the loader statically, so the one file runs on any target kernel.
    """

    def __init__(self, out_dir: Path, name: str, verbose: bool = False, static: bool = False,
                 arch: str | None = None):
        self.out = out_dir
        self.name = name
        self.verbose = verbose
        self.static = static
        self.target = resolve_target(arch)

    def run(self, cmd: list[str], what: str, stdout: Path | None = None) -> None:
        if self.verbose:
            print("+ " + " ".join(cmd) + (f" > {stdout}" if stdout else ""), file=sys.stderr)
        try:
            if stdout:
                with open(stdout, "w") as f:
                    proc = subprocess.run(cmd, cwd=self.out, stdout=f, stderr=subprocess.PIPE,
                                          text=True)
            else:
                proc = subprocess.run(cmd, cwd=self.out, capture_output=True, text=True)
        except FileNotFoundError as e:
            raise Bt2cError(f"{what}: {e}") from None
        if proc.returncode != 0:
            detail = (proc.stderr or "") + (getattr(proc, "stdout", "") or "" if not stdout
                                            else "")
            raise Bt2cError(f"{what} failed:\n{detail.strip()}")
        if self.verbose and proc.stderr:
            print(proc.stderr, file=sys.stderr, end="")

    def vmlinux_h(self) -> None:
        """vmlinux.h from this kernel's BTF, cached per kernel build."""
        target = self.out / "vmlinux.h"
        if target.exists():
            return
        if not Path(VMLINUX_BTF).exists():
            raise Bt2cError(f"{VMLINUX_BTF} is missing: the kernel needs CONFIG_DEBUG_INFO_BTF")
        bpftool = find_tool("bpftool", "bpftool")
        stamp = os.stat(VMLINUX_BTF)
        key = hashlib.sha256(f"{platform.release()}|{platform.version()}|{stamp.st_size}"
                             .encode()).hexdigest()[:16]
        cache = cache_root() / f"vmlinux-{key}.h"
        if not cache.exists():
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_suffix(f".tmp{os.getpid()}")
            self.run([bpftool, "btf", "dump", "file", VMLINUX_BTF, "format", "c"],
                     "bpftool btf dump", stdout=tmp)
            os.replace(tmp, cache)
        shutil.copyfile(cache, target)

    def bpf_object(self, arch: str | None = None) -> None:
        clang = find_clang()
        arch = arch or self.target.bpf_arch
        n = self.name
        extra: list[str] = []
        if "<bpf/usdt.bpf.h>" in (self.out / f"{n}.bpf.c").read_text():
            extra = bpf_sys_includes(clang)
        self.run([clang, "-g", "-O2", "-target", "bpf", f"-D__TARGET_ARCH_{arch}", *extra,
                  "-c", f"{n}.bpf.c", "-o", f"{n}.bpf.o"], "clang (BPF object)")

    def skeleton(self) -> None:
        bpftool = find_tool("bpftool", "bpftool")
        n = self.name
        self.run([bpftool, "gen", "skeleton", f"{n}.bpf.o", "name", f"{n}_bpf"],
                 "bpftool gen skeleton", stdout=self.out / f"{n}.skel.h")

    def loader(self) -> None:
        cc = find_cc(self.target)
        check_target_libs(self.target, self.static)
        n = self.name
        # No -I.: a tool named like a system header (strings.h) must not shadow it.
        cmd = [cc, "-O2", "-g", "-Wall", f"{n}.c", "-o", n]
        if self.static:
            cmd.insert(1, "-static")
        self.run(cmd + ["-lbpf", "-lelf", "-lz"], "cc (loader)")

    def all(self) -> Path:
        """Every step; returns the loader binary."""
        check_headers()
        self.vmlinux_h()
        self.bpf_object()
        self.skeleton()
        self.loader()
        return self.out / self.name


def bpf_sys_includes(clang: str) -> list[str]:
    """``-idirafter DIR`` for each of clang's own system include directories.

    ``-target bpf`` drops the host's multiarch directory (``/usr/include/x86_64-linux-gnu``),
    where ``<asm/errno.h>`` lives, and libbpf's usdt.bpf.h includes ``<linux/errno.h>``.
    libbpf-tools adds the same directories the same way (CLANG_BPF_SYS_INCLUDES).
    """
    proc = subprocess.run([clang, "-v", "-E", "-"], input="", capture_output=True, text=True)
    out, inside = [], False
    for line in proc.stderr.splitlines():
        if line.startswith("#include <...> search starts here:"):
            inside = True
        elif line.startswith("End of search list."):
            inside = False
        elif inside and line.startswith(" /"):
            out += ["-idirafter", line.strip()]
    return out


def cache_root() -> Path:
    """Where built tools and vmlinux.h are cached ($BT2C_CACHE or ~/.cache/bt2c)."""
    env = os.environ.get("BT2C_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bt2c"


def templates_digest(root: Path) -> str:
    """Hash of the templates and the package sources, so a new bt2c rebuilds tools."""
    h = hashlib.sha256()
    pkg = Path(__file__).parent
    for base in (root, pkg):
        for p in sorted(base.rglob("*")):
            if p.is_file() and not re.search(r"__pycache__|\.pyc$", str(p)):
                h.update(str(p.relative_to(base)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()
