"""Build: clang for the BPF objects, bpftool for vmlinux.h, bt2c for the skeletons, cc for
the loaders.

The commands are the same as the generated Makefile's, run from Python so that
a missing tool is named with its Debian package and ``-v`` can show each one.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from bt2c.cross import Target, check_target_libs, find_cc, resolve_targets, target_libdir
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
    """Runs the build steps in one output directory, for one or more architectures.

    ``arch`` is what ``--arch`` says: a :mod:`bt2c.cross` target name, a
    comma-separated list, ``all``, or None for this machine.  Each target gets
    NAME.ARCH.bpf.o (clang: its byte order and register layout) and
    NAME.ARCH.skel.h (bt2c.skeleton), and a loader where its C compiler and
    libraries are installed: NAME for this machine, NAME.ARCH for another.
    ``static`` links the loaders statically, so one file runs on any target
    kernel.  NAME.skel.h (written by transpile) picks the skeleton of the
    architecture the loader is compiled for.
    """

    def __init__(self, out_dir: Path, name: str, verbose: bool = False, static: bool = False,
                 arch: str | None = None, progress: bool = False):
        self.out = out_dir
        self.name = name
        self.verbose = verbose
        self.static = static
        self.targets = resolve_targets(arch)
        self.target = self.targets[0]
        self.progress = progress
        self.notes: list[str] = []  #: loaders that were not built, and why

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
        """vmlinux.h from this kernel's BTF, cached per kernel build.

        The same for every target: the generated BPF C takes only
        arch-independent types from it (bt2c/cross.py).
        """
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

    def object_name(self, target: Target) -> str:
        return f"{self.name}.{target.name}.bpf.o"

    def skeleton_name(self, target: Target) -> str:
        return f"{self.name}.{target.name}.skel.h"

    def loader_path(self, target: Target) -> Path:
        """NAME for this machine, NAME.ARCH for another (as the Makefile names them)."""
        return self.out / (self.name if target.is_host() else f"{self.name}.{target.name}")

    def bpf_object(self, target: Target) -> None:
        """NAME.ARCH.bpf.o: BTF and CO-RE relocations (-g), in the target's byte order."""
        clang = find_clang()
        extra: list[str] = []
        if "<bpf/usdt.bpf.h>" in (self.out / f"{self.name}.bpf.c").read_text():
            extra = bpf_sys_includes(clang)
        # -ffile-prefix-map: the debug info names the sources relative to the output
        # folder, so the object does not depend on where it was built (reproducible).
        self.run([clang, "-g", "-O2", "-target", target.clang_target,
                  f"-D__TARGET_ARCH_{target.bpf_arch}", *extra,
                  *self.pch_flags(clang, target.clang_target),
                  f"-ffile-prefix-map={self.out.resolve()}=.", "-c", f"{self.name}.bpf.c",
                  "-o", self.object_name(target)], f"clang (BPF object for {target.name})")

    @functools.cached_property
    def vmlinux_digest(self) -> hashlib._Hash:
        """sha256 of the output folder's vmlinux.h, read once for all targets."""
        return hashlib.sha256((self.out / "vmlinux.h").read_bytes())

    def pch_flags(self, clang: str, triple: str) -> list[str]:
        """clang flags that use vmlinux.h precompiled for ``triple`` (bpfel or bpfeb).

        Parsing the 2.8 MB vmlinux.h is most of a BPF object's compile time, and
        ``--arch all`` did it six times.  The precompiled header is built once per
        vmlinux.h, clang and byte order into the cache (about a second), after which
        an object compiles in a third of the time.  Its paths are mapped to ``.`` like
        the output folder's, so objects stay the same wherever they are built.  When
        it cannot be made, the object is compiled without it.
        """
        header = self.out / "vmlinux.h"
        if os.environ.get("BT2C_NO_PCH") or not header.exists():
            return []
        clang_id = os.stat(shutil.which(clang) or clang)
        digest = self.vmlinux_digest.copy()
        digest.update(f"{clang}|{clang_id.st_size}|{clang_id.st_mtime_ns}|{triple}".encode())
        folder = cache_root() / "pch" / digest.hexdigest()[:16]
        pch = folder / "vmlinux.h.pch"
        with _PCH_LOCK:
            if not pch.exists():
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                    if not (folder / "vmlinux.h").exists():
                        tmp = folder / f"vmlinux.h.tmp{os.getpid()}"
                        shutil.copyfile(header, tmp)
                        os.replace(tmp, folder / "vmlinux.h")
                    tmp = folder / f"vmlinux.h.pch.tmp{os.getpid()}"
                    proc = subprocess.run(
                        [clang, "-g", "-O2", "-target", triple, "-x", "c-header", "vmlinux.h",
                         f"-ffile-prefix-map={folder}=.", "-o", tmp.name],
                        cwd=folder, capture_output=True, text=True)
                    if proc.returncode != 0:
                        tmp.unlink(missing_ok=True)
                        return []
                    os.replace(tmp, pch)
                except OSError:
                    return []
        return ["-include-pch", str(pch), f"-ffile-prefix-map={folder}=."]

    def skeleton(self, target: Target) -> None:
        """NAME.ARCH.skel.h, written by bt2c from the object (any byte order)."""
        from bt2c.skeleton import generate

        text = generate(self.out / self.object_name(target), self.name)
        (self.out / self.skeleton_name(target)).write_text(text)

    def bpf_objects(self) -> None:
        """Every target's object and skeleton, clang running in parallel."""
        jobs = min(len(self.targets), os.cpu_count() or 1)
        shown = Progress(len(self.targets), "BPF objects") if self.progress else None

        def one(target: Target) -> None:
            self.bpf_object(target)
            self.skeleton(target)
            if shown:
                shown.done(target.name)

        if jobs == 1:
            for t in self.targets:
                one(t)
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                for f in [pool.submit(one, t) for t in self.targets]:
                    f.result()
        if shown:
            shown.finish()

    def loader(self, target: Target | None = None) -> Path:
        """The loader for ``target`` (default: the first one); returns its path."""
        target = target or self.target
        cc = find_cc(target)
        check_target_libs(target, self.static)
        out = self.loader_path(target)
        # No -I.: a tool named like a system header (strings.h) must not shadow it.
        cmd = [cc, "-O2", "-g", "-Wall", f"{self.name}.c", "-o", out.name]
        if self.static:
            cmd.insert(1, "-static")
        libdir = target_libdir(target)
        if libdir != target.libdir:
            cmd.append(f"-L{libdir}")
        self.run(cmd + ["-lbpf", "-lelf", "-lz"], f"cc (loader for {target.name})")
        return out

    def loaders(self) -> list[Path]:
        """Every target's loader, cc running in parallel (it is the longest step: the
        map-printing runtime is compiled into each).  With several targets, one whose
        compiler or libraries are missing is skipped with a note (its skeleton can be
        built on the target); with one target that is an error."""

        def one(t: Target) -> tuple[Path | None, str | None]:
            try:
                return self.loader(t), None
            except ToolMissingError as e:
                if len(self.targets) == 1:
                    raise
                return None, (f"{t.name}: no loader built here ({e.message}); "
                              f"run `make` on a {t.name} machine")

        jobs = min(len(self.targets), os.cpu_count() or 1)
        if jobs == 1:
            results = [one(t) for t in self.targets]
        else:
            with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(one, self.targets))
        self.notes += [note for _, note in results if note]
        return [path for path, _ in results if path]

    def all(self) -> Path:
        """Every step; returns the (first) loader binary."""
        check_headers()
        self.vmlinux_h()
        self.bpf_objects()
        built = self.loaders()
        return built[0] if built else self.out / self.skeleton_name(self.target)


#: One precompiled header is built at a time (parallel targets share it).
_PCH_LOCK = threading.Lock()


class Progress:
    """A one-line progress display on a terminal: ``BPF objects [3/6] s390x``."""

    def __init__(self, total: int, what: str):
        self.total = total
        self.what = what
        self.count = 0
        self.lock = threading.Lock()
        self.tty = sys.stderr.isatty()

    def done(self, item: str) -> None:
        with self.lock:
            self.count += 1
            if self.tty:
                print(f"\r\033[K{self.what} [{self.count}/{self.total}] {item}",
                      end="", file=sys.stderr, flush=True)

    def finish(self) -> None:
        if self.tty:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


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
