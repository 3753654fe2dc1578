"""C definitions written in a script (``struct foo { int a; };``), via pycparser.

The definitions go into a :class:`bt2c.cdefs.TypeTable` with the layout the
x86-64 and arm64 SysV ABIs give them (natural alignment, bitfields packed in
units of their declared type), which is what the traced program's compiler
used.  Type names the script does not define (``u32``, ``pid_t``, kernel
typedefs) are resolved through the table, so they must be declared to
pycparser first: a one-line prelude of placeholder typedefs does that.
"""

from __future__ import annotations

import re

from pycparser import c_ast, c_parser

try:
    from pycparser.c_parser import ParseError
except ImportError:  # pycparser 2.x
    from pycparser.plyparser import ParseError  # type: ignore[no-redef]

from bt2c.cdefs import FieldInfo, ScriptStruct, TypeError_, TypeTable
from bt2c.types import ArrayType, EnumType, IntType, PointerType, StringType, StructType, Type

_KEYWORDS = {"struct", "union", "enum", "typedef", "const", "volatile", "unsigned", "signed",
             "int", "char", "short", "long", "void", "float", "double", "_Bool", "sizeof"}


class DefinitionError(Exception):
    """A definition pycparser or the layout rejects; ``line`` is 1-based in the C text."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.line = line


def _blank(m: re.Match[str]) -> str:
    """A comment as spaces, keeping its newlines so that lines still count right."""
    return re.sub(r"[^\n]", " ", m.group(0))


def _strip_attributes(text: str) -> tuple[str, set[str]]:
    """Remove comments and ``__attribute__((...))`` lists (pycparser knows neither);
    return the text and the names of the structs and unions marked ``packed``."""
    text = re.sub(r"/\*.*?\*/|//[^\n]*", _blank, text, flags=re.S)
    packed: set[str] = set()
    while m := re.search(r"__attribute__\s*\(\(", text):
        depth, i = 2, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        if "packed" in text[m.end():i]:
            name = _attributed_struct(text, m.start())
            if name:
                packed.add(name)
        text = text[:m.start()] + " " * (i - m.start()) + text[i:]
    return text, packed


def _attributed_struct(text: str, at: int) -> str | None:
    """The struct or union an attribute at ``at`` belongs to: the one whose body ends
    just before it (``struct s {...} __attribute__``) or starts just after it
    (``struct __attribute__ s {...}``)."""
    before = text[:at].rstrip()
    if before.endswith("}"):
        depth, i = 0, len(before) - 1
        while i >= 0:
            depth += {"}": 1, "{": -1}.get(before[i], 0)
            if depth == 0:
                break
            i -= 1
        m = re.search(r"\b(?:struct|union)\s+(\w+)\s*$", before[:i])
        return m.group(1) if m else None
    if re.search(r"\b(?:struct|union)\s*$", before):
        m = re.match(r"[^{]*?(\w+)\s*\{", text[at:])
        return m.group(1) if m else None
    return None


def _complete_members(text: str) -> str:
    """Add the ``;`` clang lets a struct's last member go without (``{ int a; int b }``);
    an enum's list has none."""
    out, kinds = [], []
    for i, ch in enumerate(text):
        if ch == "{":
            kinds.append("enum" if re.search(r"\benum\b[\w\s]*$", text[:i]) else "struct")
        elif ch == "}" and kinds:
            last = "".join(out).rstrip()[-1:]
            if kinds.pop() == "struct" and last not in (";", "{", ""):
                out.append(";")
        out.append(ch)
    return "".join(out)


def parse_definitions(table: TypeTable, text: str) -> None:
    """Parse ``text`` (C declarations) into ``table``."""
    text, packed = _strip_attributes(text)
    text = _complete_members(text)
    defined = set(re.findall(r"typedef[^;]*?\b(\w+)\s*;", text))
    prelude = []
    for word in sorted(set(re.findall(r"\b[A-Za-z_]\w*\b", text)) - _KEYWORDS - defined):
        try:
            table.base_type(word)
        except TypeError_:
            continue
        prelude.append(f"typedef int {word};")
    try:
        tree = c_parser.CParser().parse(" ".join(prelude) + "\n" + text, "definitions")
    except ParseError as exc:
        m = re.match(r"definitions:(\d+):(\d+): (.*)", str(exc))
        if m:
            raise DefinitionError(f"syntax error in C definition: {m.group(3)}",
                                  int(m.group(1)) - 1) from None
        msg = str(exc).removeprefix("definitions:").strip()
        raise DefinitionError(f"syntax error in C definition: {msg} (a type neither the "
                              "script nor the kernel's BTF defines?)") from None
    layout = _Layout(table, packed)
    for node in tree.ext:
        layout.top(node)


class _Layout:
    def __init__(self, table: TypeTable, packed: set[str] | None = None):
        self.table = table
        self.packed = packed or set()   # structs laid out without padding

    def top(self, node: c_ast.Node) -> None:
        if isinstance(node, c_ast.Typedef):
            if node.coord and node.coord.line == 1:
                return  # the placeholder prelude
            self.table.typedefs[node.name] = self.type_of(node.type)
            return
        if isinstance(node, c_ast.Decl):
            self.type_of(node.type)

    def line(self, node: c_ast.Node) -> int:
        return node.coord.line - 1 if node.coord else 1

    def type_of(self, node: c_ast.Node) -> Type:
        """The bt2c type of a pycparser type node, defining structs on the way."""
        if isinstance(node, c_ast.TypeDecl):
            return self.type_of(node.type)
        if isinstance(node, c_ast.PtrDecl):
            try:
                target: Type | None = self.type_of(node.type)
            except DefinitionError:
                target = None       # a pointer to an undefined struct is fine in C
            return PointerType(target=target)
        if isinstance(node, c_ast.ArrayDecl):
            elem = self.type_of(node.type)
            if node.dim is None:
                n = 0
            else:
                try:
                    n = _const(node.dim, self.table)
                except DefinitionError:
                    raise DefinitionError("array sizes must be integer constants",
                                          self.line(node)) from None
            if isinstance(elem, IntType) and elem.bits == 8 and not isinstance(elem, PointerType):
                return StringType(n)
            return ArrayType(elem, n)
        if isinstance(node, c_ast.IdentifierType):
            name = " ".join(node.names)
            try:
                return self.table.base_type(name)
            except TypeError_ as exc:
                raise DefinitionError(str(exc), self.line(node)) from None
        if isinstance(node, (c_ast.Struct, c_ast.Union)):
            kind = "struct" if isinstance(node, c_ast.Struct) else "union"
            if node.decls is not None:
                return self.define_struct(kind, node)
            st = self.table.struct(kind, node.name or "")
            if st is None:
                raise DefinitionError(f'Cannot resolve unknown type "{kind} {node.name}"',
                                      self.line(node))
            return st
        if isinstance(node, c_ast.Enum):
            if node.values is None:   # a use: enum color c;
                et = self.table.enum_type(node.name or "", 32)
                if et is None:
                    raise DefinitionError(f"Unknown enum: {node.name}", self.line(node))
                return et
            # bpftrace names an anonymous enum after its place among the script's enums
            name = node.name or f"<anon_{len(self.table.enum_defs) + 1}>"
            value, members = -1, []
            for e in node.values.enumerators:
                value = _const(e.value, self.table) if e.value is not None else value + 1
                self.table.enums[e.name] = value
                self.table.enum_of[e.name] = name
                members.append((value % (1 << 64), e.name))
            self.table.enum_defs[name] = tuple(members)
            return EnumType(32, False, name)
        raise DefinitionError(f"unsupported C declaration ({type(node).__name__})",
                              self.line(node))

    def define_struct(self, kind: str, node: c_ast.Node) -> StructType:
        name = node.name or f"anon_{len(self.table.structs)}"
        fields: list[FieldInfo] = []
        bitpos, align = 0, 1
        for d in node.decls:
            t = self.type_of(d.type)
            a = 1 if name in self.packed else _align(t, self.table)
            size = t.size
            align = max(align, a)
            width = _const(d.bitsize, self.table) if d.bitsize is not None else None
            start = 0 if kind == "union" else bitpos
            if width is not None:
                unit = size * 8
                if width == 0 or (start // unit) != ((start + width - 1) // unit):
                    start = (start + unit - 1) // unit * unit
                if d.name:
                    fields.append(FieldInfo(d.name, t, start // 8, start % 8, width))
                end = start + width
            else:
                start = (start + a * 8 - 1) // (a * 8) * (a * 8)
                if d.name:
                    fields.append(FieldInfo(d.name, t, start // 8))
                elif isinstance(t, StructType):   # anonymous struct/union member
                    for f in self.table.fields(t):
                        fields.append(FieldInfo(f.name, f.type, start // 8 + f.offset,
                                                f.bit_offset, f.bits))
                end = start + size * 8
            bitpos = max(bitpos, end) if kind == "union" else end
        size = (bitpos + 7) // 8
        size = (size + align - 1) // align * align
        self.table.structs[(kind, name)] = ScriptStruct(kind, name, size, align, fields)
        return StructType(kind, name, size, btf=False)


def _align(t: Type, table: TypeTable) -> int:
    if isinstance(t, IntType):
        return t.size
    if isinstance(t, StringType):
        return 1
    if isinstance(t, ArrayType):
        return _align(t.elem, table)
    if isinstance(t, StructType):
        if not t.btf:
            return table.structs[(t.kind, t.name)].align
        return min(8, max([_align(f.type, table) for f in table.fields(t)] or [1]))
    return 8


_ARITH = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
          "/": lambda a, b: int(a / b), "%": lambda a, b: a - int(a / b) * b,
          "<<": lambda a, b: a << b, ">>": lambda a, b: a >> b, "&": lambda a, b: a & b,
          "|": lambda a, b: a | b, "^": lambda a, b: a ^ b}


def _const(node: c_ast.Node, table: TypeTable) -> int:
    if isinstance(node, c_ast.Constant):
        return int(node.value.rstrip("uUlL"), 0)
    if isinstance(node, c_ast.ID) and node.name in table.enums:
        return table.enums[node.name]
    if isinstance(node, c_ast.UnaryOp) and node.op == "-":
        return -_const(node.expr, table)
    if isinstance(node, c_ast.BinaryOp) and node.op in _ARITH:
        # ``int a[N * 2]`` once a #define is replaced: C's integer constant expressions
        a, b = _const(node.left, table), _const(node.right, table)
        if node.op in ("/", "%") and b == 0:
            raise DefinitionError("division by zero in a constant",
                                  node.coord.line - 1 if node.coord else 1)
        return _ARITH[node.op](a, b)
    raise DefinitionError("expected an integer constant", node.coord.line - 1 if node.coord else 1)
