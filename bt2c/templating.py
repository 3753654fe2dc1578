"""The Jinja2 environment that holds all emitted C.

Templates live in the top-level ``templates/`` folder, installed as the
``bt2c.templates`` package; ``templates/runtime`` and ``templates/bpf`` hold
verbatim C included into the generated files.
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2


def templates_dir() -> Path:
    """Where the templates are: this source checkout's, else the installed package's.

    The checkout comes first so that a second checkout (a git worktree run with
    ``PYTHONPATH``) uses its own templates, not those an editable install maps in.
    """
    local = Path(__file__).resolve().parent.parent / "templates"
    if (local / "program.bpf.c.j2").is_file():
        return local
    try:
        import bt2c.templates as pkg

        return Path(pkg.__file__).parent
    except ImportError:  # pragma: no cover - neither installed nor in a checkout
        return local


def _bytecode_cache(jinja2: Any) -> Any:
    """Compiled templates kept in bt2c's cache directory, None when it is not writable.

    Compiling the templates is a third of a transpile's time (about 0.2 s of
    CPU); jinja2 keys each entry on the template's name and checksum, so an
    edited template is recompiled.
    """
    import os

    base = os.environ.get("BT2C_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "bt2c")
    path = Path(base) / "jinja"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return None
    return jinja2.FileSystemBytecodeCache(str(path))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """One shared environment: no autoescape (this is C), strict undefined names."""
    import jinja2  # imported here: `bt2c run` with a cached build never renders

    from bt2c.formats import c_string_literal

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        bytecode_cache=_bytecode_cache(jinja2),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.filters["cstr"] = c_string_literal   # a Python string as a C string literal
    return env


def render(template: str, **context: Any) -> str:
    """Render one template file."""
    return environment().get_template(template).render(**context)


@cache
def snippets(name: str) -> Any:
    """The macros of a snippet template, callable from Python."""
    return environment().get_template(name).module
