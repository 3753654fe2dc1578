"""Shared plumbing of the end-to-end corpus: RUN headers, the workload, running a case.

The recorder (record.py, which runs the reference bpftrace) and the pytest
module (test_e2e.py, which runs ``bt2c run``) must build exactly the same
command line for a case, or a recorded output would not describe what the
test runs.  Everything that decides that command line therefore lives here,
in one place, and both import it.

A case is ``cases/NAME.bt`` whose first line is::

    // RUN: <bpftrace options> SCRIPT <positional params>

The text after ``RUN:`` is split like a POSIX shell would (``shlex``).  The
token ``SCRIPT`` becomes the script's absolute path; the word ``WORKLOAD``,
anywhere inside any token (typically inside ``-c "WORKLOAD openat 3"``),
becomes the workload binary's absolute path.  Absolute paths are used because
the reference runs bpftrace in a chroot that bind-mounts the current directory
at the same path, and because the tracer resolves ``-c`` without a shell.

Expected stdout is ``expected/NAME.out``; a non-zero exit status is kept in
``expected/NAME.rc`` (absent means 0).

Output that cannot repeat (the wall-clock times of a tseries() graph) is masked: each
``// MASK: REGEX`` line right after the RUN line (Python ``re`` syntax, applied to the
bytes of stdout) replaces every match with ``<masked>`` in BOTH the recorded and the
actual stdout when they are compared.  The recorded file stays the reference's raw
stdout; only the comparison (test_e2e.py, ``record.py --check`` and ``--repeat``) masks.

``// ENV: NAME=VALUE`` lines (among the MASK lines) set an environment variable for the
tracer, e.g. ``BPFTRACE_DUMMY_TS_MAP=@ts``, bpftrace's hook that makes tseries() take its
time from a map, so that a case decides which interval each value lands in.

A case where the reference itself fails on this machine (the kernel refuses the
program) says so with a ``// FAILS: REGEX`` line among those header lines: the
recorder then records its empty stdout and exit status instead of refusing them,
and test_e2e.py also requires bt2c's stderr to match REGEX (the kernel's reason).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

E2E_DIR = Path(__file__).resolve().parent
REPO_ROOT = E2E_DIR.parent.parent
CASES_DIR = E2E_DIR / "cases"
EXPECTED_DIR = E2E_DIR / "expected"
WORKLOAD_DIR = REPO_ROOT / "tests" / "workload"
WORKLOAD_SRC = WORKLOAD_DIR / "workload.c"
WORKLOAD_BIN = WORKLOAD_DIR / "workload"

RUN_PREFIX = "// RUN:"
MASK_PREFIX = "// MASK:"
ENV_PREFIX = "// ENV:"
FAILS_PREFIX = "// FAILS:"
MASKED = b"<masked>"
SCRIPT_TOKEN = "SCRIPT"
WORKLOAD_TOKEN = "WORKLOAD"

#: Seconds a single case may run; bpftrace needs well under one for most cases,
#: so hitting this means a hang (an exit() that never fires, a child that never ends).
DEFAULT_TIMEOUT = 30.0


class CaseError(Exception):
    """A case file is malformed; raised early so a typo is not mistaken for a tool bug."""


@dataclass(frozen=True)
class Case:
    """One end-to-end case: the script and the raw (unsubstituted) RUN tokens."""

    name: str
    script: Path
    run_tokens: tuple[str, ...]
    masks: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    fails: str | None = None      # // FAILS: the reference fails here; bt2c's stderr pattern

    def mask(self, stdout: bytes) -> bytes:
        """``stdout`` with every match of the case's MASK patterns replaced by <masked>:
        what is compared, on both sides."""
        for pattern in self.masks:
            stdout = re.sub(pattern.encode(), MASKED, stdout)
        return stdout

    @property
    def expected_out(self) -> Path:
        """Where the reference's stdout for this case is recorded."""
        return EXPECTED_DIR / f"{self.name}.out"

    @property
    def expected_rc_file(self) -> Path:
        """Where a non-zero reference exit status is recorded (absent when it was 0)."""
        return EXPECTED_DIR / f"{self.name}.rc"

    def argv(self, workload: Path = WORKLOAD_BIN) -> list[str]:
        """Return the tracer's arguments (everything after its name), substituted."""
        out: list[str] = []
        for tok in self.run_tokens:
            if tok == SCRIPT_TOKEN:
                out.append(str(self.script))
            else:
                out.append(tok.replace(WORKLOAD_TOKEN, str(workload)))
        return out

    def params(self) -> list[str]:
        """The positional parameters the header passes after SCRIPT (after ``--`` too)."""
        rest = list(self.run_tokens[self.run_tokens.index(SCRIPT_TOKEN) + 1:])
        return [t for t in rest if t != "--"]

    def script_text(self) -> str:
        """The script as `bt2c run` builds it: attach-point parameters bound to the case's
        parameters (for tests that transpile the cases directly)."""
        from bt2c.runner import bind_attach_params

        return bind_attach_params(self.script.read_text(), self.params())

    @property
    def unsafe(self) -> bool:
        """Whether the case runs with --unsafe (signal(), system(), override())."""
        return "--unsafe" in self.run_tokens[:self.run_tokens.index(SCRIPT_TOKEN)]

    def uses_workload(self) -> bool:
        """Whether the workload binary must exist for this case to run."""
        return any(WORKLOAD_TOKEN in tok for tok in self.run_tokens)

    def expected_stdout(self) -> bytes:
        """Return the recorded stdout; a missing file is an error (run record.py)."""
        return self.expected_out.read_bytes()

    def expected_rc(self) -> int:
        """Return the recorded exit status, 0 when no .rc file was written."""
        if not self.expected_rc_file.exists():
            return 0
        return int(self.expected_rc_file.read_text().strip())


def parse_run_header(text: str, where: str = "<script>") -> tuple[str, ...]:
    """Return the shell-split tokens of the first line's ``// RUN:`` header.

    The header must be the first line so that it is trivially found and never
    confused with a comment in the script body.  Exactly one ``SCRIPT`` token
    is required: without it the tracer would not know what to run.
    """
    first = text.split("\n", 1)[0]
    if not first.startswith(RUN_PREFIX):
        raise CaseError(f"{where}: first line must start with {RUN_PREFIX!r}")
    try:
        tokens = tuple(shlex.split(first[len(RUN_PREFIX) :]))
    except ValueError as e:
        raise CaseError(f"{where}: bad RUN header: {e}") from None
    if tokens.count(SCRIPT_TOKEN) != 1:
        raise CaseError(f"{where}: RUN header needs exactly one {SCRIPT_TOKEN} token")
    return tokens


def header_lines(text: str, prefix: str) -> list[str]:
    """The values of the ``prefix`` lines among the MASK/ENV/FAILS lines that follow the
    RUN line (the header ends at the first other line)."""
    values = []
    for line in text.split("\n")[1:]:
        if not line.startswith((MASK_PREFIX, ENV_PREFIX, FAILS_PREFIX)):
            break
        if line.startswith(prefix):
            values.append(line[len(prefix):].strip())
    return values


def parse_env(text: str, where: str = "<script>") -> tuple[tuple[str, str], ...]:
    """The ``// ENV: NAME=VALUE`` lines of the header."""
    env = []
    for value in header_lines(text, ENV_PREFIX):
        name, sep, setting = value.partition("=")
        if not sep or not name:
            raise CaseError(f"{where}: ENV needs NAME=VALUE: {value!r}")
        env.append((name, setting))
    return tuple(env)


def _pattern(value: str, kind: str, where: str) -> str:
    """A MASK or FAILS pattern, checked to compile (MASK applies to bytes, FAILS to text)
    and not to be empty."""
    try:
        re.compile(value.encode() if kind == "MASK" else value)
    except re.error as e:
        raise CaseError(f"{where}: bad {kind} pattern {value!r}: {e}") from None
    if not value:
        raise CaseError(f"{where}: empty {kind} pattern")
    return value


def parse_masks(text: str, where: str = "<script>") -> tuple[str, ...]:
    """The patterns of the ``// MASK: REGEX`` lines of the header."""
    return tuple(_pattern(v, "MASK", where) for v in header_lines(text, MASK_PREFIX))


def parse_fails(text: str, where: str = "<script>") -> str | None:
    """The pattern of the first ``// FAILS: REGEX`` line of the header, or None."""
    fails = header_lines(text, FAILS_PREFIX)
    return _pattern(fails[0], "FAILS", where) if fails else None


def load_case(path: Path) -> Case:
    """Read one case file and parse its header."""
    text = path.read_text()
    return Case(
        name=path.stem,
        script=path.resolve(),
        run_tokens=parse_run_header(text, str(path)),
        masks=parse_masks(text, str(path)),
        env=parse_env(text, str(path)),
        fails=parse_fails(text, str(path)),
    )


def load_cases(names: list[str] | None = None) -> list[Case]:
    """All cases in name order, or just the named ones (a name may end in .bt)."""
    if names:
        paths = [CASES_DIR / (n if n.endswith(".bt") else f"{n}.bt") for n in names]
        missing = [str(p) for p in paths if not p.exists()]
        if missing:
            raise CaseError(f"no such case: {', '.join(missing)}")
    else:
        paths = sorted(CASES_DIR.glob("*.bt"))
    return [load_case(p) for p in paths]


def build_workload(force: bool = False) -> Path:
    """Compile the workload if missing or older than its source, and return its path.

    Static linking keeps the syscall sequence free of the dynamic loader's
    openat()s, so counted syscalls are exactly the requested ones.
    """
    stale = not WORKLOAD_BIN.exists() or WORKLOAD_BIN.stat().st_mtime < WORKLOAD_SRC.stat().st_mtime
    if force or stale:
        subprocess.run(
            ["gcc", "-O2", "-Wall", "-static", "-o", str(WORKLOAD_BIN), str(WORKLOAD_SRC)],
            check=True,
        )
    return WORKLOAD_BIN


@dataclass
class RunResult:
    """Outcome of one tracer run; ``timed_out`` means the process group was killed."""

    stdout: bytes
    stderr: bytes
    returncode: int
    timed_out: bool


def run_case(runner: list[str], case: Case, timeout: float = DEFAULT_TIMEOUT) -> RunResult:
    """Run ``runner + case.argv()`` from the repository root.

    The repository root is the working directory because the reference's
    chroot only sees $PWD (and /tmp).  stdin is /dev/null so that nothing
    waits on a terminal.  The tracer gets its own session so that on a timeout
    the whole group (tracer, chroot wrapper and traced child) is killed, not
    just the first process, which would leave a workload or bpftrace behind.
    """
    proc = subprocess.Popen(
        [*runner, *case.argv()],
        cwd=REPO_ROOT,
        env=dict(os.environ, **dict(case.env)) if case.env else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        return RunResult(out, err, proc.returncode, False)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        return RunResult(out, err, proc.returncode, True)


def default_runner() -> list[str]:
    """Return the command under test: ``$BT2C_E2E_RUNNER`` or ``python -m bt2c run``.

    The override exists so the harness itself can be validated against the
    reference (``BT2C_E2E_RUNNER=/work/shared/tools/bpftrace-ref``), which must
    pass every case by construction.
    """
    env = os.environ.get("BT2C_E2E_RUNNER")
    if env:
        return shlex.split(env)
    return [sys.executable, "-m", "bt2c", "run"]


def reference_sees_checkout() -> None:
    """Let the reference's chroot see this checkout (see bench/refroot.py).

    Scripts and the workload are passed to the reference by their paths in
    the checkout; a bind mount left by an earlier clone at the same path
    would hide them.
    """
    sys.path.insert(0, str(REPO_ROOT))
    from bench.refroot import see_directory

    see_directory(Path(os.environ.get("BPFTRACE_REF_ROOT", "/var/cache/bpftrace-ref/sid")),
                  REPO_ROOT)


def default_reference() -> Path:
    """Locate the reference bpftrace wrapper: ``$BPFTRACE_REF``, else shared/tools.

    CI clones the repository next to a copy of shared/, so the sibling
    location is tried before the workplace's fixed path.
    """
    env = os.environ.get("BPFTRACE_REF")
    if env:
        return Path(env)
    sibling = REPO_ROOT.parent / "shared" / "tools" / "bpftrace-ref"
    if sibling.exists():
        return sibling
    return Path("/work/shared/tools/bpftrace-ref")
