"""The ``bt2c`` executable's entry point.

``bt2c run`` stands in for bpftrace, so its start-up time counts: it goes
straight to :mod:`bt2c.runner` without importing typer (and what typer pulls
in); every other command goes through the typer app in :mod:`bt2c.cli`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Dispatch ``run`` directly, everything else to the typer CLI."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["run"]:
        from bt2c.diagnostics import Bt2cError
        from bt2c.runner import run

        try:
            sys.exit(run(args[1:]))
        except Bt2cError as e:
            print(e.render(), file=sys.stderr)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
    from bt2c.cli import main as cli_main

    cli_main(args)
