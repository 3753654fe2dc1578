"""`bt2c run` passes getopt()'s named options on as bpftrace takes them: only after `--`.

bpftrace v0.27.1 rejects `bpftrace script.bt --name` ("unrecognized option '--name'")
and takes `bpftrace script.bt 7 -- --name=v 8` as the option plus $1 = 7, $2 = 8; the
options' values themselves are checked by the built tool (tests/test_options.py).
"""

from __future__ import annotations

import pytest

from bt2c.diagnostics import Bt2cError
from bt2c.runner import parse_run_args, tool_argv


def test_options_after_dashdash_reach_the_tool() -> None:
    opts = parse_run_args(["-q", "script.bt", "7", "--", "--name=v", "8"])
    assert opts.script == "script.bt"
    assert opts.params == ["7", "--name=v", "8"]
    assert tool_argv("tool", opts) == ["tool", "-q", "--", "7", "--name=v", "8"]


def test_options_after_dashdash_with_a_program() -> None:
    opts = parse_run_args(["-e", "BEGIN { exit(); }", "--", "--flag"])
    assert opts.params == ["--flag"]


def test_named_option_before_dashdash_is_rejected() -> None:
    with pytest.raises(Bt2cError, match="unrecognized option '--name'"):
        parse_run_args(["script.bt", "--name"])
