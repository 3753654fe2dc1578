"""Formatting of the generated C with clang-format and the project's checked-in style.

Templates and code generation produce readable C, but line breaks in long
argument lists, initialisers and expressions depend on the script; clang-format
makes every file follow one style (``templates/clang-format.style``).  Its
output varies between clang-format releases, so bt2c uses one pinned major
version: the same script and toolchain always give the same bytes.  Without it
(``BT2C_CLANG_FORMAT=`` disables it) the files are the same C, unformatted.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache

from bt2c.templating import templates_dir

CLANG_FORMAT_MAJOR = 19  #: the release whose output the golden corpus records
PACKAGE = f"clang-format-{CLANG_FORMAT_MAJOR}"


@cache
def find_clang_format() -> str | None:
    """``$BT2C_CLANG_FORMAT`` (empty: none), else clang-format-19, else a ``clang-format``
    of that major version."""
    override = os.environ.get("BT2C_CLANG_FORMAT")
    if override is not None:
        return shutil.which(override) if override else None
    pinned = shutil.which(PACKAGE)
    if pinned:
        return pinned
    plain = shutil.which("clang-format")
    if plain:
        try:
            out = subprocess.run([plain, "--version"], capture_output=True, text=True).stdout
        except OSError:
            return None
        m = re.search(r"version (\d+)\.", out)
        if m and int(m.group(1)) == CLANG_FORMAT_MAJOR:
            return plain
    return None


def style_file() -> str:
    return str(templates_dir() / "clang-format.style")


def format_c(text: str, filename: str) -> str:
    """``text`` formatted as the C file ``filename``; unchanged when clang-format is
    unavailable or fails (the C is valid either way)."""
    tool = find_clang_format()
    if tool is None:
        return text
    try:
        r = subprocess.run([tool, f"--style=file:{style_file()}", f"--assume-filename={filename}"],
                           input=text, capture_output=True, text=True)
    except OSError:
        return text
    return r.stdout if r.returncode == 0 and r.stdout else text
