"""#define macros and imports: bt2c's own choices, and the file an error names.

What bpftrace v0.27.1 prints for these features is checked by the recorded e2e
cases (preproc_define, import_script) and error cases (define_*, import_*); the
tests here cover what those cannot: the file name in a diagnostic, and where bt2c
deliberately differs (README: "Choices where bpftrace is silent or odd").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bt2c.diagnostics import Bt2cError, Source
from bt2c.imports import import_digest
from bt2c.parser import parse
from bt2c.transpile import transpile

REPO = Path(__file__).resolve().parent.parent
ERRORS = REPO / "tests" / "errors"


def _error(text: str, name: str = "t.bt", directory: Path | None = None) -> str:
    with pytest.raises(Bt2cError) as info:
        transpile(text, name, warn=False, directory=directory)
    return info.value.render()


def _probe_texts(text: str, directory: Path) -> list[str]:
    program = parse(Source("main.bt", text), directory)
    assert program.source is not None
    return [program.source.text[p.span.start:p.span.end] for p in program.probes]


@pytest.mark.parametrize("case", ["import_syntax_error", "import_unknown_function",
                                  "import_config"])
def test_error_in_import_names_that_file(case: str) -> None:
    """An error inside an imported file is reported under the name it was imported by,
    at its line and column there, as bpftrace reports it."""
    want = (ERRORS / "expected" / f"{case}.err").read_text().splitlines()[0]
    m = re.match(r"([^:]+):(\d+):(\d+)", want)
    assert m
    path = ERRORS / "cases" / f"{case}.bt"
    rendered = _error(path.read_text(), str(path.relative_to(REPO)))
    assert rendered.startswith(f"{m[1]}:{m[2]}:{m[3]}: ERROR: ")
    quoted = (ERRORS / "expected" / f"{case}.err").read_text().splitlines()[1]
    assert rendered.splitlines()[1] == quoted


def test_error_in_expansion_points_at_the_use() -> None:
    """A macro's value is checked where the script uses the name: the diagnostic quotes
    the script's line, not the #define."""
    text = "#define F nosuchfn(1)\nBEGIN {\n  print(F);\n}\n"
    lines = _error(text).splitlines()
    assert lines[0] == "t.bt:3:9: ERROR: Unknown function: 'nosuchfn'"
    assert lines[1:] == ["  print(F);", "        ~"]


def test_macro_naming_a_macro() -> None:
    """``#define B A`` means A's value, as in C (bpftrace v0.27.1 leaves a macro whose
    whole value is one name unexpanded and reports that name as unknown)."""
    text = ('#define A 4\n#define B A\n#define C (B)\n#define S "x"\n#define T S\n'
            'BEGIN { @a = B + C; @s = T; exit(); }\n')
    transpile(text, "t.bt", warn=False)
    assert "Unknown identifier: 'R1'" in _error(
        "#define R1 R2\n#define R2 R1\nBEGIN { print(R1); }\n")


def test_value_keeps_its_spaces() -> None:
    """A macro's value is read with its spaces (bpftrace v0.27.1 glues the tokens
    together, so ``sizeof(struct x)`` became ``sizeof(structx)``)."""
    text = ("struct pair { int a; int b; }\n#define SZ sizeof(struct pair)\n"
            "#define U (unsigned int)7\nBEGIN { @a = SZ + U; exit(); }\n")
    transpile(text, "t.bt", warn=False)
    assert "1 2" in _error("#define X 1 2\nBEGIN { print(X); }\n")


def test_builtins_win_and_function_like_macros_are_not_names() -> None:
    assert "Unknown identifier: 'TW'" in _error("#define TW(x) x\nBEGIN { print(TW); }\n")
    program = parse(Source("t.bt", "#define pid 7\nBEGIN { print(pid); }\n"))
    assert "Builtin(" in repr(program.probes[0].body) and "name='pid'" in repr(program.probes[0])


@pytest.mark.parametrize(("cond", "taken"), [
    ("1 > 2", False), ("N * 2 == 6", True), ("defined(N) && !defined M", True),
    ("UNDEFINED_NAME", False), ("(N << 2) / 3 == 4 ? 1 : 0", True), ("0x10 >= 16UL", True),
])
def test_if_conditions(cond: str, taken: bool) -> None:
    text = f"#define N 3\n#if {cond}\n#define R 1\n#else\n#define R 2\n#endif\nBEGIN {{ @ = R; }}\n"
    program = parse(Source("t.bt", text))
    assert re.search(rf"value={1 if taken else 2}\b", repr(program.probes[0].body))


def test_conditional_errors() -> None:
    assert "t.bt:1:1: ERROR: unterminated conditional directive" in _error(
        "#ifdef X\nBEGIN { exit(); }\n")
    assert "t.bt:1:1: ERROR: #endif without #if" in _error("#endif\nBEGIN { exit(); }\n")
    assert "ERROR: invalid #if expression" in _error("#if 1 +\n#endif\nBEGIN { exit(); }\n")
    assert "syntax: C definitions must appear before probes and functions" in _error(
        "BEGIN { exit(); }\n#define N 1\n")


def test_c_files_are_not_imported(tmp_path: Path) -> None:
    """bpftrace compiles imported .bpf.c (and .h) files into the program; bt2c says it
    cannot instead of leaving them out."""
    (tmp_path / "lib.bpf.c").write_text("int one(void) { return 1; }\n")
    assert "bt2c cannot import C files" in _error('import "lib.bpf.c";\nBEGIN { exit(); }\n',
                                                  "main.bt", tmp_path)


def test_nested_import_next_to_its_importer(tmp_path: Path) -> None:
    """A file imports relative to its own directory first (bpftrace's documentation),
    then relative to the main script (what bpftrace v0.27.1 does)."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.bt").write_text('import "b.bt";\nimport "sub/c.bt";\n')
    (tmp_path / "sub" / "b.bt").write_text("macro b() { 2 }\n")
    (tmp_path / "sub" / "c.bt").write_text("macro c() { 3 }\n")
    transpile('import "sub/a.bt";\nBEGIN { @ = b() + c(); exit(); }\n', "main.bt",
              warn=False, directory=tmp_path)


def test_imported_probes_run_first_by_path(tmp_path: Path) -> None:
    """bpftrace v0.27.1 runs imported probes before the script's, ordered by their files'
    paths in reverse, whatever the order of the imports."""
    for name in ("a", "b", "z"):
        (tmp_path / f"{name}.bt").write_text(f'END {{ printf("{name}\\n"); }}\n')
    (tmp_path / "c.bt").write_text('import "a.bt";\nEND { printf("c\\n"); }\n')
    probes = _probe_texts('import "c.bt";\nimport "z.bt";\nimport "b.bt";\n'
                          'END { printf("main\\n"); }\n', tmp_path)
    assert [re.search(r'"(\w+)', p)[1] for p in probes] == ["z", "c", "b", "a", "main"]


def test_cache_key_follows_imported_files(tmp_path: Path) -> None:
    (tmp_path / "lib.bt").write_text("macro one() { 1 }\n")
    main = tmp_path / "main.bt"
    text = 'import "lib.bt";\nBEGIN { print(one()); }\n'
    before = import_digest(text, str(main))
    assert before and before == import_digest(text, str(main))
    (tmp_path / "lib.bt").write_text("macro one() { 2 }\n")
    assert import_digest(text, str(main)) != before
    assert import_digest("BEGIN { exit(); }", str(main)) == ""


def test_c_error_after_a_replaced_macro_quotes_the_right_line() -> None:
    """A #define's value changes the length of a struct's line; a C error on a later line
    still quotes that line of the script."""
    text = ("#define LONG_MACRO_NAME 4\nstruct s {\n  int a[LONG_MACRO_NAME];\n"
            "  int b[x y];\n}\nBEGIN { exit(); }\n")
    lines = _error(text).splitlines()
    assert lines[0].startswith("t.bt:4:1: ERROR: syntax error in C definition")
    assert lines[1] == "  int b[x y];"


def test_run_binds_attach_params_of_a_script_with_imports(tmp_path: Path) -> None:
    """`bt2c run` puts $1 into attach points before the build: it must parse a script that
    imports (from the script's directory, not the current one)."""
    from bt2c.runner import bind_attach_params

    (tmp_path / "lib.bt").write_text("macro one() { 1 }\n")
    text = 'import "lib.bt";\ninterval:ms:$1 { print(one()); }\n'
    assert "interval:ms:50 " in bind_attach_params(text, ["50"], str(tmp_path / "main.bt"))
