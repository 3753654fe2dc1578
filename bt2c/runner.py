"""``bt2c run``: bpftrace's command line, a build cache, and exec of the built tool.

Built tools are cached under a key made of the script, bt2c's own sources and
templates, and the toolchain, so a second run of the same script starts at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bt2c.build import Builder, cache_root, templates_digest, toolchain_id
from bt2c.diagnostics import Bt2cError
from bt2c.imports import import_digest
from bt2c.templating import templates_dir

USAGE = """USAGE: bt2c run [options] FILENAME [ARGS...]
       bt2c run [options] -e 'program' [ARGS...]

OPTIONS (as bpftrace's):
    -e PROGRAM     program text
    -c CMD         run CMD and trace until it exits
    -p PID         trace until process PID exits
    -o FILE        redirect the program's output to FILE
    -f FORMAT      output format: text (default) or json
    -q             keep messages quiet
    -B MODE        output buffering: line (default), full or none
    -k             warn when a probe read helper fails
    --unsafe       allow unsafe functions (system(), signal(), override())
    --no-warnings  don't print the script's compile-time warnings
    -v             verbose: show the build commands and libbpf's messages
    --no-feature F don't use kernel feature F (kfunc, for_each_map_elem)
    -h             show this help
"""


@dataclass
class RunOptions:
    """bpftrace-style options of ``bt2c run``."""

    program: str | None = None
    script: str | None = None
    command: str | None = None
    pid: str | None = None
    output: str | None = None
    output_format: str | None = None
    quiet: bool = False
    verbose: bool = False
    no_features: list[str] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    buffering: str | None = None      # -B line|full|none
    helper_warnings: bool = False     # -k
    unsafe: bool = False              # --unsafe
    no_warnings: bool = False         # --no-warnings: no compile-time warnings


def parse_run_args(argv: list[str]) -> RunOptions:
    """Parse bpftrace's options: flags first, then the script (unless -e), then $1.."""
    opts = RunOptions()
    i = 0
    dashdash = False   # the options ended with "--": the rest is all arguments
    with_value = {"-e": "program", "-c": "command", "-p": "pid", "-o": "output",
                  "-f": "output_format", "-B": "buffering"}
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            dashdash = True
            break
        if arg == "--no-feature" or arg.startswith("--no-feature="):
            if "=" in arg:
                opts.no_features.append(arg.split("=", 1)[1])
            elif i + 1 < len(argv):
                opts.no_features.append(argv[i + 1])
                i += 1
            else:
                raise Bt2cError("option --no-feature requires an argument")
            i += 1
            continue
        if arg in ("-h", "--help"):
            print(USAGE, end="")
            raise SystemExit(0)
        if arg in with_value or (arg[:2] in with_value and len(arg) > 2):
            flag, value = (arg, None) if arg in with_value else (arg[:2], arg[2:])
            if value is None:
                if i + 1 >= len(argv):
                    raise Bt2cError(f"option {flag} requires an argument")
                value = argv[i + 1]
                i += 1
            setattr(opts, with_value[flag], value)
        elif arg == "-q":
            opts.quiet = True
        elif arg == "-v":
            opts.verbose = True
        elif arg == "-k":
            opts.helper_warnings = True
        elif arg == "--unsafe":
            opts.unsafe = True
        elif arg == "--no-warnings":
            opts.no_warnings = True
        elif arg.startswith("-") and arg != "-":
            raise Bt2cError(f"unknown option {arg}\n{USAGE}")
        else:
            break
        i += 1
    if opts.output_format not in (None, "text", "json"):
        raise Bt2cError(f'Invalid output format "{opts.output_format}"\n'
                        "Valid formats: 'text', 'json'")
    if opts.buffering not in (None, "line", "full", "none"):
        raise Bt2cError("USAGE: -B must be either 'line', 'full', or 'none'.")
    rest = argv[i:]
    if opts.program is None:
        if not rest:
            raise Bt2cError(f"no program given\n{USAGE}")
        opts.script, rest = rest[0], rest[1:]
    end = 0 if dashdash else rest.index("--") if "--" in rest else len(rest)
    for arg in rest[:end]:  # named program options (getopt()) only after "--"
        if arg.startswith("--"):
            raise Bt2cError(f"unrecognized option '{arg}'\n{USAGE}")
    if "--" in rest:  # `bpftrace script.bt 1 -- -5`: "--" only ends option parsing
        rest.remove("--")
    opts.params = rest
    return opts


def build_cached(text: str, script_name: str, verbose: bool, name: str | None = None,
                 unsafe: bool = False, params: list[str] | None = None,
                 warn: bool = True) -> Path:
    """Transpile and build ``text`` unless an identical build is cached; return the binary.

    The script's compile-time warnings are printed either way (unless ``warn`` is false),
    once: a cached build keeps them in ``warnings.json`` beside the binary."""
    # $BPFTRACE_MAX_STRLEN (string sizes) and $BPFTRACE_DUMMY_TS_MAP (tseries clock) are
    # built into the tool, so they key the cache.
    key = hashlib.sha256("\0".join([text, script_name, templates_digest(templates_dir()),
                                    toolchain_id(), "unsafe" if unsafe else "",
                                    os.environ.get("BPFTRACE_MAX_STRLEN", ""),
                                    os.environ.get("BPFTRACE_DUMMY_TS_MAP", ""),
                                    *filter(None, [import_digest(text, script_name)])]
                                   ).encode()).hexdigest()[:24]
    entry = cache_root() / "tools" / key
    if entry.is_dir():
        binaries = [p for p in entry.iterdir() if p.is_file() and os.access(p, os.X_OK)]
        if binaries:
            if verbose:
                print(f"bt2c: using cached build {entry}", file=sys.stderr)
            if warn:
                print_cached_warnings(entry / "warnings.json", params)
            return binaries[0]
    from bt2c.transpile import transpile  # only on a cache miss: keeps start-up fast

    out = transpile(text, script_name, name, unsafe, warn=warn, params=params)
    entry.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".build-"))
    try:
        out.write(work)
        (work / "warnings.json").write_text(json.dumps(out.all_warnings))
        Builder(work, out.name, verbose=verbose).all()
        (work / "vmlinux.h").unlink(missing_ok=True)
        try:
            os.replace(work, entry)
        except OSError:  # another run built it first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return entry / out.name


def print_cached_warnings(path: Path, params: list[str] | None) -> None:
    """Print the warnings a cached build recorded, for a run with ``params``."""
    from bt2c.warnings import applies

    try:
        table = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    for param, text in table:
        if applies(param, params):
            print(text, file=sys.stderr)


def tool_argv(binary: str, opts: RunOptions) -> list[str]:
    """The built tool's command line for bpftrace-style options: the tool takes the
    same flags (-q -v -o -f -c -p --no-feature), then ``--`` and the parameters."""
    cmd = [binary]
    if opts.quiet:
        cmd.append("-q")
    if opts.verbose:
        cmd.append("-v")
    if opts.output:
        cmd += ["-o", opts.output]
    if opts.output_format:
        cmd += ["-f", opts.output_format]
    if opts.command:
        cmd += ["-c", opts.command]
    if opts.pid:
        cmd += ["-p", opts.pid]
    if opts.buffering:
        cmd += ["-B", opts.buffering]
    if opts.helper_warnings:
        cmd.append("-k")
    for feature in opts.no_features:
        cmd += ["--no-feature", feature]
    return [*cmd, "--", *opts.params]


def check(script: str, verbose: bool = False, unsafe: bool = False) -> int:
    """Build the tool, load it without attaching, and report the kernel features it uses."""
    try:
        text = Path(script).read_text()
    except OSError as e:
        raise Bt2cError(f"failed to open {script}: {e.strerror}") from None
    binary = build_cached(text, script, verbose, unsafe=unsafe)
    cmd = [str(binary), "--check"] + (["-v"] if verbose else [])
    sys.stdout.flush()
    os.execv(cmd[0], cmd)
    return 0  # pragma: no cover


_ATTACH_PARAM = re.compile(r"\$(\d+)")


def bind_attach_params(text: str, params: list[str], script: str = "script") -> str:
    """Substitute positional parameters inside attach points (``uprobe:$1:main``).

    bpftrace reads them when it parses; a bt2c tool's probes are fixed when it is built,
    so ``bt2c run`` builds one tool per value (the cache keys on the text).  Elsewhere
    parameters stay run-time values.  An absent parameter becomes empty, as in bpftrace.
    Only the text of attach points changes: a script that does not parse is left as it
    is, for the build to report.  ``script`` is the script's path, where its imports are.
    """
    if "$" not in text:
        return text
    from bt2c.diagnostics import Source
    from bt2c.parser import parse

    try:
        program = parse(Source(script, text))
    except Bt2cError:
        return text
    spans = [ap.span for probe in program.probes for ap in probe.attach_points
             if "$" in ap.raw and ap.span.end <= len(text)]   # not those of imported files
    for span in sorted(spans, key=lambda sp: sp.start, reverse=True):
        raw = text[span.start:span.end]
        bound = _ATTACH_PARAM.sub(
            lambda m: params[int(m.group(1)) - 1] if 0 < int(m.group(1)) <= len(params)
            else "", raw)
        text = text[:span.start] + bound + text[span.end:]
    return text


def run(argv: list[str]) -> int:
    """Build (or reuse) the tool for a script and exec it with bpftrace's options."""
    opts = parse_run_args(argv)
    if opts.program is not None:
        text, name = opts.program, "stdin"
    else:
        assert opts.script is not None
        try:
            text = Path(opts.script).read_text()
        except OSError as e:
            raise Bt2cError(f"failed to open {opts.script}: {e.strerror}") from None
        name = opts.script
    # --NAME[=VALUE] after "--" are getopt()'s options, for the tool; not $1, $2, ...
    positional = [p for p in opts.params if not (p.startswith("--") and p != "--")]
    text = bind_attach_params(text, positional, name)
    binary = build_cached(text, name, opts.verbose, "prog" if name == "stdin" else None,
                          opts.unsafe, positional, warn=not opts.no_warnings)
    cmd = tool_argv(str(binary), opts)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(cmd[0], cmd)
    return 0  # pragma: no cover - execv does not return
