"""Recursive-descent parser: tokens to :mod:`bt2c.ast`.

Operator precedence follows C (and bpftrace): ``?:`` < ``||`` < ``&&`` < ``|`` <
``^`` < ``&`` < equality < relational < shifts < additive < multiplicative <
unary < postfix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from bt2c import ast
from bt2c.defines import expand_defines, substitute_c
from bt2c.diagnostics import Bt2cError, Source, Span
from bt2c.imports import Importer, combine, shift
from bt2c.lexer import Kind, Lexer, Token
from bt2c.preproc import Preprocessor

_BINARY_LEVELS: list[list[str]] = [
    ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", "<=", ">", ">="],
    ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
]
_COMPOUND = {"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
_CAST_TYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "bool", "char", "short", "int", "long", "unsigned",
               "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t",
               "uint64_t", "size_t", "ssize_t"}
PROVIDER_ALIASES = {
    "t": "tracepoint", "tracepoint": "tracepoint", "i": "interval", "interval": "interval",
    "BEGIN": "begin", "begin": "begin", "END": "end", "end": "end",
    "p": "profile", "profile": "profile", "k": "kprobe", "kprobe": "kprobe",
    "kr": "kretprobe", "kretprobe": "kretprobe", "u": "uprobe", "uprobe": "uprobe",
    "ur": "uretprobe", "uretprobe": "uretprobe", "s": "software", "software": "software",
    "h": "hardware", "hardware": "hardware",
    "rt": "rawtracepoint", "rawtracepoint": "rawtracepoint", "f": "fentry", "fentry": "fentry",
    "fr": "fexit", "fexit": "fexit",
    "kfunc": "fentry", "kretfunc": "fexit", "U": "usdt", "usdt": "usdt", "self": "self",
}


#: Deepest nesting of expressions and blocks accepted (bpftrace has no stated limit;
#: real scripts stay far below it).
MAX_NESTING = 48



_ATTRIBUTE_RE = re.compile(r"(?:\s|/\*.*?\*/)*__attribute__(?:\s|/\*.*?\*/)*\(\(", re.S)


def _after_attributes(text: str, pos: int) -> int:
    """Where the ``__attribute__((...))`` lists after a definition's closing brace end
    (``pos`` when none follows): bpftrace hands definitions to clang, which takes them."""
    while m := _ATTRIBUTE_RE.match(text, pos):
        depth, i = 2, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        pos = i
    return pos


class Parser:
    """Parses one script; raises :class:`Bt2cError` on the first syntax error.

    ``pp`` and ``importer`` are shared by a script and the files it imports: one
    ``#define`` table, one set of files imported already.
    """

    def __init__(self, source: Source, pp: Preprocessor | None = None,
                 importer: Importer | None = None, path: Path | None = None):
        self.source = source
        self.lexer = Lexer(source)
        self.buffer: list[Token] = []
        self.depth = 0  # nesting of expressions and blocks, see nest()
        self.type_params: set[str] = set()  # a macro's plain parameters, while in its body
        self.pp = pp if pp is not None else Preprocessor()
        self.importer = importer
        self.path = path if path is not None else Path(source.name)
        # Which section of the script the parser is in: 0 C definitions, 1 config and
        # imports, 2 probes, macros and map declarations (bpftrace's order).
        self.section = 0
    def nest(self) -> None:
        """Count one more level of nesting; a clean error past MAX_NESTING (deeper
        programs would exhaust Python's recursion limit later on)."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise self.error(f"nesting too deep: more than {MAX_NESTING} levels of "
                             "parentheses, operators or blocks", self.peek().span)

    # -- token plumbing -------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token:
        while len(self.buffer) <= ahead:
            self.buffer.append(self.lexer.next())
        return self.buffer[ahead]

    def advance(self) -> Token:
        tok = self.peek()
        self.buffer.pop(0)
        return tok

    def at(self, text: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind in (Kind.OP, Kind.IDENT) and tok.text == text

    def accept(self, text: str) -> Token | None:
        return self.advance() if self.at(text) else None

    def expect(self, text: str, what: str = "") -> Token:
        """The next token, which must be ``text``; else bpftrace's "syntax: expected" error
        at the token found (``what`` adds context, as in "to close predicate")."""
        if not self.at(text):
            raise self.error(f"syntax: expected '{text}'{' ' + what if what else ''}")
        return self.advance()

    def describe(self, tok: Token) -> str:
        return "end of file" if tok.kind == Kind.EOF else tok.text

    def error(self, message: str, span: Span | None = None) -> Bt2cError:
        return Bt2cError(message, span or self.peek().span, self.source)

    # -- top level --------------------------------------------------------------
    def parse_program(self) -> ast.Program:
        """The whole script, with the files it imports merged in, macros expanded."""
        program = self.parse_file()
        program.source = program.source or self.source
        if not program.probes:
            raise Bt2cError("no probes in program", Span(0, max(1, len(self.source.text))),
                            self.source)
        # Imported files' probes run first, in bpftrace v0.27.1's order: by the files'
        # paths, last first (it does not follow the order of the imports).
        origin = self.importer.origin if self.importer is not None else {}
        own = [p for p in program.probes if id(p) not in origin]
        imported = sorted((p for p in program.probes if id(p) in origin),
                          key=lambda p: origin[id(p)], reverse=True)
        program.probes = imported + own
        for index, probe in enumerate(program.probes):
            probe.index = index
        program.span = program.probes[0].span.to(program.probes[-1].span)
        if program.macros:
            from bt2c.macros import expand_macros

            expand_macros(program, program.source)
        expand_defines(program, self.pp.defines, program.source)
        return program

    def parse_file(self) -> ast.Program:
        """This file's top level, with the files it imports (their probes first); no
        macro expanded yet.  ``program.source`` is set when files were imported."""
        if self.importer is None:
            self.importer = Importer(self.source)
        probes: list[ast.Probe] = []
        config: dict[str, object] = {}
        defs: list[ast.CDefinition] = []
        decls: list[ast.MapDecl] = []
        macros: dict[str, ast.Macro] = {}
        imported: list[tuple[ast.Program, Source]] = []
        conditionals = len(self.pp.stack)
        text = self.source.text
        while True:
            self.lexer.skip_space()
            pos = self.lexer.pos
            if pos >= len(text) and not self.buffer:
                break
            if not self.buffer and not self.pp.active and not text.startswith("#", pos):
                end = text.find("\n", pos)    # a line #if left out
                self.lexer.pos = len(text) if end < 0 else end + 1
                continue
            rest = text[pos:pos + 16] if not self.buffer else ""
            if re.match(r"import\b", rest):
                self.parse_import(imported)
                continue
            if re.match(r"let\s+@", rest):
                self.section = 2
                decls.append(self.parse_map_decl())
                continue
            if re.match(r"macro\s", rest):
                self.section = 2
                macro = self.parse_macro()
                if macro.name in macros:
                    raise self.error(f"Redefinition of macro: {macro.name}", macro.span)
                macros[macro.name] = macro
                continue
            if rest.startswith("config"):
                start = self.lexer.pos
                config.update(self.parse_config())
                if self.importer.root is not self.source:
                    raise self.error("invalid `config` within import",
                                     Span(start, self.lexer.pos))
                self.section = max(self.section, 1)
                continue
            if not self.buffer and self.parse_c_text(defs):
                continue
            self.section = 2
            probes.append(self.parse_probe())
        if len(self.pp.stack) > conditionals:
            raise Bt2cError("unterminated conditional directive", self.pp.stack[-1].span,
                            self.source)
        if self.importer.root is not self.source:
            self.importer.origin.update((id(p), os.path.realpath(self.path)) for p in probes)
        span = probes[0].span.to(probes[-1].span) if probes else Span(0, 0)
        program = ast.Program(span, probes, config, defs, self.pp.lines, decls, macros)
        if imported:
            self.merge(program, imported)
        return program

    def parse_import(self, imported: list[tuple[ast.Program, Source]]) -> None:
        """``import "path";``: parse the files it names (each once) into ``imported``."""
        keyword = self.advance()
        if self.section > 1:
            raise self.error("syntax: root imports must appear before probes and functions",
                             keyword.span)
        path = self.advance()
        if path.kind != Kind.STRING:
            raise self.error("syntax: expected string after 'import'", path.span)
        span = keyword.span.to(path.span)
        if not self.at(";"):
            raise self.error("syntax: expected ';' after import")
        self.advance()
        self.section = 1
        assert self.importer is not None
        name = str(path.value)
        for file in self.importer.files(self.path, name, span, self.source):
            shown = name if file.name == Path(name).name else str(Path(name) / file.name)
            source = self.importer.read(file, shown, span, self.source)
            sub = Parser(source, self.pp, self.importer, file).parse_file()
            imported.append((sub, sub.source or source))

    def merge(self, program: ast.Program, imported: list[tuple[ast.Program, Source]]) -> None:
        """Put the imported files' definitions, macros and probes into ``program`` (their
        probes first) and point every span into one combined Source."""
        combined, offsets = combine(self.source, [src for _, src in imported])
        probes: list[ast.Probe] = []
        macros: dict[str, ast.Macro] = {}
        for (sub, _), offset in zip(imported, offsets):
            shift(sub, offset)
            probes += sub.probes
            program.c_definitions += sub.c_definitions
            program.map_decls += sub.map_decls
            for macro in sub.macros.values():
                _add_macro(macros, macro, combined)
        for macro in program.macros.values():
            _add_macro(macros, macro, combined)
        program.macros = macros
        program.probes[:0] = probes
        program.source = combined

    def parse_macro(self) -> ast.Macro:
        """``macro name(p1, p2) { body }`` or ``macro name { body }``."""
        start = self.expect("macro").span
        name = self.advance()
        if name.kind != Kind.IDENT:
            raise self.error("syntax: expected a macro name", name.span)
        params: list[str] = []
        if self.accept("("):
            while not self.at(")"):
                p = self.advance()
                if p.kind not in (Kind.VAR, Kind.MAP, Kind.IDENT):
                    raise self.error("syntax: macro parameters are $variables, @maps or names",
                                     p.span)
                params.append(p.text)
                if not self.accept(","):
                    break
            self.expect(")")
        self.type_params = {p for p in params if p[0] not in "$@"}
        try:
            body = self.parse_block()
        finally:
            self.type_params = set()
        return ast.Macro(start.to(body.span), name.text, params, body)

    def parse_comptime(self, tok: Token) -> ast.Call:
        """``comptime EXPR``, ``comptime (EXPR)``: a value known at compile time (the
        span takes in the parentheses, where bpftrace's errors point)."""
        if self.at("("):
            self.advance()
            inner = self.parse_expr()
            end = self.expect(")").span
            operand = self.parse_postfix(inner)
            span = tok.span.to(end if operand is inner else operand.span)
        else:
            operand = self.parse_unary()
            span = tok.span.to(operand.span)
        return ast.Call(span, "comptime", [operand])

    def parse_container_of(self, tok: Token) -> ast.ContainerOf:
        return _container_of(self, tok)

    def parse_record(self, open_paren: Token) -> ast.Tuple:
        """``(name=expr, ...)``: a record, a tuple whose members have names."""
        names, items = _record_items(self)
        end = self.expect(")").span
        return ast.Tuple(open_paren.span.to(end), items, names)

    def parse_map_decl(self) -> ast.MapDecl:
        """``let @name = KIND(N);`` (the kind is checked by the semantic pass)."""
        start = self.expect("let").span
        m = self.advance()
        if m.kind != Kind.MAP:
            raise self.error("syntax: expected a map name", m.span)
        self.expect("=")
        kind = self.advance()
        if kind.kind != Kind.IDENT:
            raise self.error("syntax: expected a map type such as hash(100)", kind.span)
        self.expect("(")
        n = self.advance()
        if n.kind != Kind.INT:
            raise self.error("map declarations take the maximum number of entries", n.span)
        end = self.expect(")").span
        self.accept(";")
        return ast.MapDecl(start.to(end), m.text, kind.text, int(n.value))

    def parse_c_text(self, defs: list[ast.CDefinition]) -> bool:
        """Take a preprocessor line or a C definition at the top level, if one is next.

        Preprocessor lines go to :class:`Preprocessor` (``#define`` and conditionals;
        ``#include`` is recorded and otherwise ignored: kernel types come from BTF).
        A definition runs to its closing brace and an optional ``;``; the ``#define``
        macros it names are replaced in its text.
        """
        text, pos = self.source.text, self.lexer.pos
        if text.startswith("#", pos):
            end = pos
            while True:     # a line ending in a backslash goes on on the next one
                end = text.find("\n", end)
                end = len(text) if end < 0 else end
                if not text[pos:end].rstrip().endswith("\\") or end == len(text):
                    break
                end += 1
            self.check_c_section(Span(pos, end))
            line = re.sub(r"\\\s*\n", " ", text[pos:end])
            self.pp.directive(line, Span(pos, end), self.source)
            self.lexer.pos = end
            return True
        m = re.compile(r"(struct|union|enum|typedef)\b").match(text, pos)
        if not m:
            return False
        line_end = text.find("\n", pos)
        self.check_c_section(Span(pos, len(text) if line_end < 0 else line_end))
        depth, i = 0, pos
        while i < len(text):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    i = _after_attributes(text, i + 1) - 1
                    j = i + 1
                    while j < len(text) and text[j] in " \t":
                        j += 1
                    i = j if j < len(text) and text[j] == ";" else i
                    break
            elif ch == ";" and depth == 0:
                break
            i += 1
        if i >= len(text):
            raise Bt2cError("unterminated C definition", Span(pos, len(text)), self.source)
        end = i + 1
        body = text[pos:end]
        if not body.rstrip().endswith(";"):
            body += ";"
        defs.append(ast.CDefinition(Span(pos, end), substitute_c(body, self.pp.defines)))
        self.lexer.pos = end
        return True

    def check_c_section(self, span: Span) -> None:
        """C definitions come first in a script, as bpftrace requires."""
        if self.section > 0:
            raise self.error("syntax: C definitions must appear before probes and functions",
                             span)

    def parse_config(self) -> dict[str, object]:
        self.expect("config")
        self.expect("=")
        self.expect("{")
        out: dict[str, object] = {}
        while not self.accept("}"):
            key = self.advance()
            if key.kind != Kind.IDENT:
                raise self.error("expected a config key", key.span)
            self.expect("=")
            val = self.advance()
            if (key.text == "max_strlen" and val.kind != Kind.INT
                    and not str(val.value if val.kind == Kind.STRING else val.text).isdigit()):
                shown = val.value if val.kind == Kind.STRING else val.text
                raise self.error(f"max_strlen: expecting a number, got {shown}",
                                 key.span.to(val.span))
            out[key.text] = val.value if val.kind in (Kind.INT, Kind.STRING) else val.text
            self.accept(";")
        return out

    def parse_attach_point(self) -> ast.AttachPoint:
        tok = self.lexer.attach_point()
        if tok.kind != Kind.ATTACH:
            raise self.error(f"syntax error, unexpected {self.describe(tok)}, expecting "
                             "attach point", tok.span)
        parts = tok.text.split(":")
        provider = PROVIDER_ALIASES.get(parts[0])
        if provider is None:
            raise self.error(f"Invalid probe type: {parts[0]}", tok.span)
        return ast.AttachPoint(tok.span, tok.text, provider, parts[1:])

    def parse_probe(self) -> ast.Probe:
        points = [self.parse_attach_point()]
        while True:
            self.lexer.skip_space()
            if self.lexer.text.startswith(",", self.lexer.pos):
                self.lexer.pos += 1
                points.append(self.parse_attach_point())
            else:
                break
        predicate = None
        if self.accept("/"):
            predicate = self.parse_expr(in_predicate=True)
            self.expect("/", "to close predicate")
        body = self.parse_block()
        return ast.Probe(points[0].span.to(body.span), points, predicate, body)

    # -- statements -------------------------------------------------------------
    def parse_block(self) -> ast.Block:
        self.nest()
        try:
            return self._parse_block()
        finally:
            self.depth -= 1

    def _parse_block(self) -> ast.Block:
        start = self.expect("{").span
        stmts: list[ast.Stmt] = []
        while not self.at("}"):
            if self.peek().kind == Kind.EOF:
                raise self.error("syntax: expected '}'")
            if self.accept(";"):
                continue
            stmt = self.parse_stmt()
            stmts.append(stmt)
            if not self.at("}") and not isinstance(stmt, (ast.If, ast.Unroll, ast.While,
                                                             ast.ForRange, ast.ForMap)):
                self.expect(";")
        value_last = bool(stmts) and isinstance(stmts[-1], ast.ExprStmt) and \
            not self.source.text[:self.peek().span.start].rstrip().endswith(";")
        end = self.advance().span
        return ast.Block(start.to(end), stmts, value_last)

    def parse_stmt(self) -> ast.Stmt:
        tok = self.peek()
        if tok.kind == Kind.IDENT:
            if tok.text == "if":
                return self.parse_if()
            if tok.text == "unroll":
                self.advance()
                self.expect("(")
                count = self.advance()
                if count.kind != Kind.INT:
                    raise self.error("unroll() count must be an integer literal", count.span)
                self.expect(")")
                body = self.parse_block()
                return ast.Unroll(tok.span.to(body.span), int(count.value), body)  # type: ignore[arg-type]
            if tok.text == "while":
                self.advance()
                self.expect("(")
                cond = self.parse_expr()
                self.expect(")")
                body = self.parse_block()
                return ast.While(tok.span.to(body.span), cond, body)
            if tok.text == "for":
                return self.parse_for()
            if tok.text in ("break", "continue", "return"):
                self.advance()
                if tok.text == "return" and not self.at(";") and not self.at("}"):
                    value = self.parse_expr()
                    return ast.Jump(tok.span.to(value.span), tok.text, value)
                return ast.Jump(tok.span, tok.text)
            if tok.text == "let":
                self.advance()
                var = self.parse_primary()
                if not isinstance(var, ast.Var):
                    raise self.error("expected a scratch variable after let", var.span)
                type_name, type_of = None, None
                if self.accept(":"):
                    type_name, _, type_of = self.parse_type(stops=("=", ";", "}"))
                if self.accept("="):
                    value = self.parse_expr()
                    return ast.Assign(tok.span.to(value.span), var, None, value, decl=True,
                                      decl_type=type_name, decl_type_of=type_of)
                return ast.Let(tok.span.to(var.span), var, type_name, type_of)
        if tok.kind == Kind.IDENT and tok.text == "_" and self.at("=", 1):
            self.advance()
            self.advance()
            value = self.parse_expr()  # `_ = expr`: evaluate, discard the value
            return ast.ExprStmt(tok.span.to(value.span), value)
        expr = self.parse_expr()
        op = self.peek()
        if op.kind == Kind.OP and (op.text == "=" or op.text in _COMPOUND) and \
                not isinstance(expr, (ast.Var, ast.Map)):
            # Only a variable or a map can be assigned: anything else is a complete
            # expression statement, so bpftrace's grammar wants its ';' here.
            raise self.error("syntax: expected ';'", op.span)
        if op.kind == Kind.OP and op.text == "=":
            self.advance()
            value = self.parse_expr()
            self.check_target(expr)
            return ast.Assign(expr.span.to(value.span), expr, None, value)
        if op.kind == Kind.OP and op.text in _COMPOUND:
            self.advance()
            value = self.parse_expr()
            self.check_target(expr)
            return ast.Assign(expr.span.to(value.span), expr, op.text[:-1], value)
        return ast.ExprStmt(expr.span, expr)

    def check_target(self, expr: ast.Expr) -> None:
        if not isinstance(expr, (ast.Var, ast.Map)):
            raise self.error("can only assign to a map or a scratch variable", expr.span)

    def parse_if(self) -> ast.If:
        start = self.expect("if").span
        comptime = self.accept("comptime")
        if comptime is not None:
            cond = self.parse_comptime(comptime)
        else:
            cond = self.parse_expr()  # bpftrace's parentheses are those of the expression
        then = self.parse_block()
        other = None
        if self.accept("else"):
            if self.at("if"):
                nested = self.parse_if()
                other = ast.Block(nested.span, [nested])
            else:
                other = self.parse_block()
        return ast.If(start.to((other or then).span), cond, then, other,
                      comptime=comptime is not None)

    def parse_for(self) -> ast.Stmt:
        start = self.expect("for").span
        self.expect("(")
        var = self.parse_primary()
        if not isinstance(var, ast.Var):
            raise self.error("expected a scratch variable in for loop", var.span)
        self.expect(":")
        first = self.parse_expr()
        if self.accept(".."):
            end = self.parse_expr()
            self.expect(")")
            body = self.parse_block()
            return ast.ForRange(start.to(body.span), var, first, end, body)
        if not isinstance(first, ast.Map) or first.keys:
            raise self.error("for loops iterate over a map (@name) or a range (a..b)",
                             first.span)
        self.expect(")")
        body = self.parse_block()
        return ast.ForMap(start.to(body.span), var, first, body)

    # -- expressions ------------------------------------------------------------
    def parse_expr(self, in_predicate: bool = False) -> ast.Expr:
        self.nest()
        try:
            return self._parse_expr(in_predicate)
        finally:
            self.depth -= 1

    def _parse_expr(self, in_predicate: bool) -> ast.Expr:
        cond = self.parse_binary(0, in_predicate)
        if self.accept("?"):
            if self.accept(":"):
                # `a ?: b`, the elvis operator: a if a is true, else b (a runs once).
                other = self.parse_expr(in_predicate)
                return ast.Ternary(cond.span.to(other.span), cond, cond, other, elvis=True)
            then = self.parse_expr(in_predicate)
            self.expect(":")
            other = self.parse_expr(in_predicate)
            return ast.Ternary(cond.span.to(other.span), cond, then, other)
        return cond

    def parse_binary(self, level: int, in_predicate: bool) -> ast.Expr:
        if level == len(_BINARY_LEVELS):
            return self.parse_unary()
        left = self.parse_binary(level + 1, in_predicate)
        while True:
            tok = self.peek()
            if tok.kind != Kind.OP or tok.text not in _BINARY_LEVELS[level]:
                return left
            # The '/' that closes a predicate is followed by the action block.
            if in_predicate and tok.text == "/" and self.at("{", 1):
                return left
            self.advance()
            right = self.parse_binary(level + 1, in_predicate)
            left = ast.Binary(left.span.to(right.span), tok.text, left, right)

    def parse_unary(self) -> ast.Expr:
        self.nest()
        try:
            return self._parse_unary()
        finally:
            self.depth -= 1

    def _parse_unary(self) -> ast.Expr:
        tok = self.peek()
        if tok.kind == Kind.OP and tok.text in ("!", "~", "-", "+"):
            self.advance()
            operand = self.parse_unary()
            if tok.text == "+":
                return operand
            if tok.text == "-" and isinstance(operand, ast.Int):
                return ast.Int(tok.span.to(operand.span), -operand.value)
            return ast.Unary(tok.span.to(operand.span), tok.text, operand)
        if tok.kind == Kind.OP and tok.text in ("++", "--"):
            self.advance()
            target = self.parse_unary()
            self.check_target(target)
            return ast.IncDec(tok.span.to(target.span), tok.text, True, target)
        if tok.kind == Kind.OP and tok.text == "(" and self._is_cast():
            self.advance()
            name, _, type_of = self.parse_type()
            self.expect(")")
            operand = self.parse_unary()
            return ast.Cast(tok.span.to(operand.span), name, operand, type_of)
        if tok.kind == Kind.OP and tok.text == "*":
            self.advance()
            operand = self.parse_unary()
            return ast.Unary(tok.span.to(operand.span), "*", operand)
        if tok.kind == Kind.OP and tok.text == "&":
            self.advance()
            operand = self.parse_unary()
            if not isinstance(operand, (ast.Var, ast.Map)):
                raise self.error("syntax: address-of operator (&) can only be used on a map "
                                 "or variable", operand.span)
            return ast.Unary(tok.span.to(operand.span), "&", operand)
        return self.parse_postfix(self.parse_primary())

    def _is_cast(self) -> bool:
        nxt = self.peek(1)
        if nxt.kind != Kind.IDENT:
            return False
        if nxt.text == "typeof" and self.at("(", 2):
            return True
        if nxt.text in self.type_params and self.at(")", 2):
            # (T)v in a macro whose parameter T is given a type: my_macro(typeof(u8), x)
            after = self.peek(3)
            return after.kind in (Kind.IDENT, Kind.VAR, Kind.MAP, Kind.INT, Kind.STRING,
                                  Kind.PARAM) or (after.kind == Kind.OP and after.text == "(")
        if nxt.text in _CAST_TYPES or nxt.text in ("struct", "union", "enum"):
            return True
        # (u32 *)x: a type name followed by stars and ')'
        i = 2
        while self.at("*", i):
            i += 1
        return i > 2 and self.at(")", i)

    def parse_type_name(self, stops: tuple[str, ...] = (")", ",")) -> tuple[str, Span]:
        """A C type name up to ')' or ',': ``struct task_struct *``, ``unsigned int``."""
        first = self.peek()
        words: list[str] = []
        span = first.span
        while not any(self.at(s) for s in stops):
            if self.peek().kind == Kind.EOF:
                raise self.error("syntax: expected a type name")
            tok = self.advance()
            if tok.kind not in (Kind.IDENT, Kind.INT) and tok.text not in ("*", "[", "]"):
                raise self.error(f"syntax error, unexpected {self.describe(tok)}", tok.span)
            words.append(tok.text)
            span = span.to(tok.span)
        name = " ".join(words).replace(" *", "*").replace("*", " *").strip()
        return name.replace(" [ ", "[").replace(" ]", "]"), span

    def parse_type(self, stops: tuple[str, ...] = (")", ",")
                   ) -> tuple[str, Span, ast.TypeOf | None]:
        """A C type name, or ``typeof(TYPE)``/``typeof(EXPR)`` (then the name is
        "typeof" and the node says which)."""
        if self.at("typeof") and self.at("(", 1):
            node = self.parse_typeof()
            return "typeof", node.span, node
        name, span = self.parse_type_name(stops)
        return name, span, None

    def parse_typeof(self) -> ast.TypeOf:
        start = self.expect("typeof").span
        self.expect("(")
        if self._is_type_start() or (self.peek().kind == Kind.IDENT and self.at(")", 1)
                                     and self.peek().text in _CAST_TYPES):
            name, _ = self.parse_type_name(stops=(")",))
            end = self.expect(")").span
            return ast.TypeOf(start.to(end), name, None)
        inner = self.parse_expr()
        end = self.expect(")").span
        return ast.TypeOf(start.to(end), None, inner)

    def _is_type_start(self) -> bool:
        tok = self.peek()
        if tok.kind != Kind.IDENT:
            return False
        if tok.text in _CAST_TYPES or tok.text in ("struct", "union", "enum"):
            return True
        i = 1
        while self.at("*", i):
            i += 1
        return self.at(")", i) and i > 1

    def parse_postfix(self, expr: ast.Expr) -> ast.Expr:
        while True:
            tok = self.peek()
            if tok.kind == Kind.OP and tok.text in (".", "->"):
                self.advance()
                name = self.advance()
                if name.kind not in (Kind.IDENT, Kind.INT):
                    raise self.error("expected a field name", name.span)
                expr = ast.Field(expr.span.to(name.span), expr, name.text, tok.text == "->")
            elif tok.kind == Kind.OP and tok.text == "[" and not isinstance(expr, ast.Map):
                self.advance()
                index = self.parse_expr()
                end = self.expect("]").span
                expr = ast.Index(expr.span.to(end), expr, index)
            elif tok.kind == Kind.OP and tok.text in ("++", "--"):
                self.check_target(expr)
                self.advance()
                expr = ast.IncDec(expr.span.to(tok.span), tok.text, False, expr)
            else:
                return expr

    def parse_args(self) -> tuple[list[ast.Expr], Span]:
        self.expect("(")
        args: list[ast.Expr] = []
        while not self.at(")"):
            args.append(self.parse_expr())
            if not self.accept(","):
                break
        end = self.expect(")").span
        return args, end

    def parse_primary(self) -> ast.Expr:
        tok = self.advance()
        if tok.kind == Kind.INT:
            return ast.Int(tok.span, int(tok.value))  # type: ignore[arg-type]
        if tok.kind == Kind.STRING:
            return ast.Str(tok.span, str(tok.value))
        if tok.kind == Kind.VAR:
            return ast.Var(tok.span, tok.text)
        if tok.kind == Kind.PARAM:
            return ast.Param(tok.span, 0 if tok.value == "#" else int(tok.value))  # type: ignore[arg-type]
        if tok.kind == Kind.MAP:
            keys: list[ast.Expr] = []
            span = tok.span
            if self.accept("["):
                while True:
                    keys.append(self.parse_expr())
                    if not self.accept(","):
                        break
                span = span.to(self.expect("]").span)
            return ast.Map(span, tok.text, keys)
        if tok.kind == Kind.OP and tok.text == "{":
            self.buffer.insert(0, tok)  # parse_block expects the brace
            block = self.parse_block()
            return ast.BlockExpr(block.span, block)
        if tok.kind == Kind.IDENT:
            if tok.text == "sizeof" and self.at("("):
                self.advance()
                if self.at("typeof") and self.at("(", 1):
                    node = self.parse_typeof()   # the size of that type
                    end = self.expect(")").span
                    return ast.SizeOf(tok.span.to(end), None, node)
                if self._is_type_start():
                    name, _ = self.parse_type_name()
                    end = self.expect(")").span
                    return ast.SizeOf(tok.span.to(end), name, None)
                inner = self.parse_expr()
                end = self.expect(")").span
                return ast.SizeOf(tok.span.to(end), None, inner)
            if tok.text == "typeof" and self.at("("):
                self.buffer.insert(0, tok)
                return self.parse_typeof()   # a type argument (macros); else an error
            if tok.text == "comptime" and not self.at(";"):
                return self.parse_comptime(tok)
            if tok.text == "container_of" and self.at("("):
                return self.parse_container_of(tok)
            if tok.text == "offsetof" and self.at("("):
                self.advance()
                name, _, type_of = self.parse_type()
                self.expect(",")
                fields = [self.advance().text]
                while self.accept("."):
                    fields.append(self.advance().text)
                end = self.expect(")").span
                return ast.OffsetOf(tok.span.to(end), name, fields, type_of)
            if self.at("("):
                args, end = self.parse_args()
                return ast.Call(tok.span.to(end), tok.text, args)
            name = tok.text
            if name.startswith("__builtin_") and name[10:] in _BUILTIN_ALIASES:
                name = name[10:]  # bpftrace's own name for a builtin its stdlib wraps
            return ast.Builtin(tok.span, name)
        if tok.kind == Kind.OP and tok.text == "(":
            if self.peek().kind == Kind.IDENT and self.at("=", 1):
                return self.parse_record(tok)
            first = self.parse_expr()
            if self.accept(","):
                items = [first]
                while not self.at(")"):
                    items.append(self.parse_expr())
                    if not self.accept(","):
                        break
                end = self.expect(")").span
                return ast.Tuple(tok.span.to(end), items)
            self.expect(")")
            return first
        raise self.error("syntax: expected expression", tok.span)


def _container_of(parser: Parser, tok: Token) -> ast.ContainerOf:
    """``container_of(ptr, TYPE, member[.member...])``: TYPE is a C type name."""
    parser.expect("(")
    ptr = parser.parse_expr()
    parser.expect(",")
    name, _, type_of = parser.parse_type(stops=(",",))
    parser.expect(",")
    fields = [parser.advance().text]
    while parser.accept("."):
        fields.append(parser.advance().text)
    end = parser.expect(")").span
    return ast.ContainerOf(tok.span.to(end), ptr, name, fields, type_of)


#: Builtins also spelled ``__builtin_NAME`` (the names bpftrace's stdlib macros expand to).
_BUILTIN_ALIASES = {"comm", "cpu", "cpid", "elapsed", "ncpus", "usermode", "probetype",
                    "probe", "func", "retval"}


def _record_items(parser: Parser) -> tuple[list[str], list[ast.Expr]]:
    names: list[str] = []
    items: list[ast.Expr] = []
    while not parser.at(")"):
        name = parser.advance()
        if name.kind != Kind.IDENT:
            raise parser.error("syntax: expected a record field name", name.span)
        if name.text in names:
            raise parser.error(f"Duplicate field name in record: {name.text}", name.span)
        parser.expect("=")
        names.append(name.text)
        items.append(parser.parse_expr())
        if not parser.accept(","):
            break
    return names, items


def _add_macro(macros: dict[str, ast.Macro], macro: ast.Macro, source: Source) -> None:
    """Enter an imported or own macro; a second definition of a name is an error."""
    if macro.name in macros:
        raise Bt2cError(f"Redefinition of macro: {macro.name}", macro.span, source)
    macros[macro.name] = macro


def parse(source: Source, directory: Path | None = None) -> ast.Program:
    """Parse a whole script (its ``import``s are looked for in ``directory``, by default
    the directory of ``source.name``)."""
    importer = Importer(source, directory)
    path = directory / Path(source.name).name if directory is not None else None
    return Parser(source, importer=importer, path=path).parse_program()
