"""pytest set-up of the qemu matrix: the ``qemu`` marker.

Registered here (not in pyproject.toml) so the matrix is self-contained:
``pytest -m "not qemu"`` leaves it out, ``pytest -m qemu`` runs only it.
"""

from __future__ import annotations

import sys

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Declare the marker, so --strict-markers accepts it and --markers lists it."""
    config.addinivalue_line(
        "markers", "qemu: boots Debian kernels under qemu and runs bt2c tools inside them"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say what each kernel run cost, so CI logs show the matrix's share of the time budget."""
    harness = sys.modules.get("qemu_harness")  # loaded only if the matrix was collected
    runs = getattr(harness, "COMPLETED", [])
    if runs:
        terminalreporter.section("qemu matrix")
        for run in runs:
            terminalreporter.write_line(run.summary())
