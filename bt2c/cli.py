"""The ``bt2c`` command line (typer): transpile, build, run, golden.

Every :class:`Bt2cError` is printed as a diagnostic and exits 1; no Python
traceback reaches a user.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Optional

import typer

from bt2c.diagnostics import Bt2cError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Turn bpftrace scripts into standalone C/libbpf tools.")


def _read(script: Path) -> str:
    try:
        return script.read_text()
    except OSError as e:
        raise Bt2cError(f"failed to open {script}: {e.strerror}") from None


@app.command("transpile")
def transpile_cmd(
    script: Path = typer.Argument(..., help="bpftrace script (.bt)"),
    out: Path = typer.Option(Path("out"), "-o", "--output", help="output directory"),
    unsafe: bool = typer.Option(False, "--unsafe", help="allow system(), signal(), override()"),
) -> None:
    """Write NAME.bpf.c, NAME.c, NAME.h and a Makefile into OUT."""
    from bt2c.transpile import transpile

    result = transpile(_read(script), str(script), unsafe=unsafe)
    result.write(out)
    for name in result.files:
        typer.echo(str(out / name))


@app.command("build")
def build_cmd(
    script: Path = typer.Argument(..., help="bpftrace script (.bt)"),
    out: Path = typer.Option(Path("out"), "-o", "--output", help="output directory"),
    static: bool = typer.Option(False, "--static", help="link the loader statically"),
    arch: Optional[str] = typer.Option(  # noqa: UP045 - typer needs Optional on py3.9
        None, "--arch", help="architectures to build for, comma-separated, or all: "
                             "x86_64, arm64, riscv64, s390x, powerpc64le, loongarch64 "
                             "(default: this machine's)"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="show build commands"),
    unsafe: bool = typer.Option(False, "--unsafe", help="allow system(), signal(), override()"),
) -> None:
    """Transpile, then build NAME.ARCH.bpf.o and NAME.ARCH.skel.h for each architecture
    and the loaders (NAME here, NAME.ARCH for others where a cross compiler is installed)."""
    from bt2c.build import Builder
    from bt2c.transpile import transpile

    result = transpile(_read(script), str(script), unsafe=unsafe)
    fresh = not out.exists()
    result.write(out)
    builder = Builder(out, result.name, verbose=verbose, static=static, arch=arch,
                      progress=True)
    try:
        builder.all()
    except BaseException:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise
    for t in builder.targets:
        for path in (out / builder.object_name(t), out / builder.skeleton_name(t),
                     builder.loader_path(t)):
            if path.exists():
                typer.echo(str(path))
    for note in builder.notes:
        typer.echo(f"note: {note}", err=True)


@app.command("run", context_settings={"allow_extra_args": True,
                                      "ignore_unknown_options": True,
                                      "help_option_names": []})
def run_cmd(ctx: typer.Context) -> None:
    """Build for this host and run, as a drop-in for bpftrace: bt2c run [-e PROG|FILE] [ARGS]."""
    from bt2c.runner import run

    raise typer.Exit(run(list(ctx.args)))


@app.command("check")
def check_cmd(
    script: Path = typer.Argument(..., help="bpftrace script (.bt)"),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="show build and libbpf output"),
    unsafe: bool = typer.Option(False, "--unsafe", help="allow system(), signal(), override()"),
) -> None:
    """Build, load into this kernel without attaching, and say which kernel features are used
    (e.g. how each len() counts)."""
    from bt2c.runner import check

    raise typer.Exit(check(str(script), verbose, unsafe))


golden_app = typer.Typer(add_completion=False, no_args_is_help=True,
                         help="The golden corpus of generated C (golden/): check, update, diff.")
app.add_typer(golden_app, name="golden")

_DIR = typer.Option(Path("golden"), "--dir", help="golden corpus directory")
_COLOR = typer.Option("auto", "--color", help="auto (on a terminal), always or never")


@golden_app.command("check")
def golden_check(root: Path = _DIR, color: str = _COLOR) -> None:
    """Regenerate every golden output in memory; show a diff of each file that changed.

    Exit status 1 when anything differs (an unreviewed change in generated code).
    """
    from bt2c import golden

    changes = golden.compare(root)
    colored = golden.use_color(color)
    for c in changes:
        sys.stdout.write(golden.unified(c, colored))
    n = len(golden.scripts(root))
    if changes:
        print(f"golden: {n} scripts, {len(changes)} files differ:\n{golden.summary(changes)}"
              "Review the diff, then run `bt2c golden update`.")
        raise typer.Exit(1)
    print(f"golden: {n} scripts, all generated files match")


@golden_app.command("update")
def golden_update(
    names: Optional[list[str]] = typer.Argument(None, help="scripts to update (default: all)"),  # noqa: UP045
    root: Path = _DIR,
) -> None:
    """Rewrite the golden files of all (or the named) scripts; print what changed."""
    from bt2c import golden

    changes = golden.update(root, names or None)
    if changes:
        print(f"golden: {len(changes)} files updated:\n{golden.summary(changes)}", end="")
    else:
        print("golden: no changes")


@golden_app.command("diff")
def golden_diff(
    html: Optional[Path] = typer.Option(None, "--html", help="write a side-by-side review page"),  # noqa: UP045
    base: Optional[str] = typer.Option(None, "--base",  # noqa: UP045
                                       help="compare the corpus with this git revision "
                                            "(what a pull request changes) instead of "
                                            "with what bt2c generates now"),
    root: Path = _DIR,
    color: str = _COLOR,
) -> None:
    """Show pending changes to the corpus (or those since --base), as text or an HTML page."""
    from bt2c import golden

    changes = golden.changes_since(root, base) if base else golden.compare(root)
    if html is not None:
        what = f"since {base}" if base else "pending (bt2c golden update would write them)"
        golden.write_html(changes, html, f"bt2c golden corpus: changes {what}")
        print(f"golden: {len(changes)} files changed; review page written to {html}")
        return
    colored = golden.use_color(color)
    for c in changes:
        sys.stdout.write(golden.unified(c, colored))
    print(f"golden: {len(changes)} files changed")


def main(argv: Optional[list[str]] = None) -> None:  # noqa: UP045 - typer-era signature
    """Entry point: run the app, turning errors into diagnostics."""
    try:
        rc = app(args=argv, standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except Bt2cError as e:
        print(e.render(), file=sys.stderr)
        sys.exit(1)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # click usage errors and the like
        if isinstance(e, _click_errors("ClickException")):
            e.show()  # type: ignore[attr-defined]
            sys.exit(e.exit_code)  # type: ignore[attr-defined]
        if isinstance(e, _click_errors("Abort")):
            sys.exit(1)
        if type(e).__name__ == "NoArgsIsHelpError":  # help was printed already
            sys.exit(2)
        print(f"ERROR: internal error: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(2)


def _click_errors(name: str) -> tuple[type, ...]:
    """click's exception class ``name``, from click itself and from the copy newer typer
    releases bundle (typer._click): usage errors come from whichever typer uses."""
    import importlib

    found = []
    for module in ("click.exceptions", "typer._click.exceptions"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(found)
