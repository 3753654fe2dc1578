"""The types of bpftrace values as bt2c models them.

Integers are 64-bit unless a cast or a builtin says otherwise; strings are
fixed-size NUL-terminated buffers, as in bpftrace.  Aggregation types
(count, sum, hist, ...) only ever live in maps.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STRLEN = 64
COMM_LEN = 16


class Type:
    """Base class of all value types."""

    def c_decl(self, name: str) -> str:
        """A C declaration of ``name`` holding a value of this type."""
        raise NotImplementedError

    @property
    def size(self) -> int:
        """Size in bytes of the C representation."""
        raise NotImplementedError


@dataclass(frozen=True)
class IntType(Type):
    """A fixed-width integer."""

    bits: int = 64
    signed: bool = True

    def c_name(self) -> str:
        """The kernel-style C type name, e.g. ``__s64``."""
        return f"__{'s' if self.signed else 'u'}{self.bits}"

    def c_decl(self, name: str) -> str:
        return f"{self.c_name()} {name}"

    @property
    def size(self) -> int:
        return self.bits // 8

    def __str__(self) -> str:
        return f"{'' if self.signed else 'u'}int{self.bits}"


@dataclass(frozen=True)
class StringType(Type):
    """A NUL-terminated string in a fixed ``char[size]`` buffer."""

    length: int = DEFAULT_STRLEN

    def c_decl(self, name: str) -> str:
        return f"char {name}[{self.length}]"

    @property
    def size(self) -> int:
        return self.length

    def __str__(self) -> str:
        return f"string[{self.length}]"


@dataclass(frozen=True)
class TupleType(Type):
    """An ordered group of values; a C struct with fields ``f0``, ``f1``, ..."""

    elems: tuple[Type, ...]
    names: tuple[str, ...] | None = None  #: a record's member names

    def c_decl(self, name: str) -> str:
        return f"{self.struct_name()} {name}"

    def struct_name(self) -> str:
        """A C struct name that identifies the tuple's shape."""
        return "struct " + tuple_tag(self)

    @property
    def size(self) -> int:
        return sum(_aligned(e) for e in self.elems)

    def __str__(self) -> str:
        if self.names:
            return "record(" + ",".join(f"{n}={e}" for n, e in zip(self.names, self.elems)) + ")"
        return "(" + ",".join(str(e) for e in self.elems) + ")"


def _aligned(t: Type) -> int:
    """Every tuple field is padded to 8 bytes, so layouts never depend on the compiler."""
    return (t.size + 7) // 8 * 8


def tuple_tag(t: Type) -> str:
    """A C identifier naming a type's shape, used for tuple struct names."""
    if isinstance(t, PointerType):
        return "ptr"
    if isinstance(t, EnumType):   # laid out as the integer it is
        return str(IntType(t.bits, t.signed))
    if isinstance(t, IntType):
        return str(t)
    if isinstance(t, StringType):
        return f"str{t.length}"
    if isinstance(t, TupleType):
        if t.names:
            return "record_" + "_".join(f"{n}_{tuple_tag(e)}" for n, e in zip(t.names, t.elems))
        return "tuple_" + "_".join(tuple_tag(e) for e in t.elems)
    if isinstance(t, StackType):
        return "stack"
    if isinstance(t, SymType):
        return "sym"
    if isinstance(t, (BufType, InetType, MacType, StructType, ArrayType)):
        return f"bytes{t.size}"
    raise TypeError(t)


STACK_MODES = ("bpftrace", "perf", "raw")
MAX_STACK_FRAMES = 127


@dataclass(frozen=True)
class StackType(Type):
    """``kstack``/``ustack``: a stack map id (and the pid of a user stack), printed by mode.

    The frames stay in the kernel's stack trace map; user space resolves them
    when it prints, so the value is 8 bytes whatever the depth.
    """

    user: bool = False
    mode: str = "bpftrace"
    limit: int = MAX_STACK_FRAMES

    def c_decl(self, name: str) -> str:
        return f"struct bt_stack {name}"

    @property
    def size(self) -> int:
        return 8

    def __str__(self) -> str:
        return f"{'u' if self.user else 'k'}stack_{self.mode}_{self.limit}"


@dataclass(frozen=True)
class SymType(Type):
    """``ksym(addr)``/``usym(addr)``: an address (and pid) resolved to a name when printed."""

    user: bool = False

    def c_decl(self, name: str) -> str:
        return f"struct bt_sym {name}"

    @property
    def size(self) -> int:
        return 16

    def __str__(self) -> str:
        return "usym_t" if self.user else "ksym_t"


@dataclass(frozen=True)
class BufType(Type):
    """``buf(ptr, len)``: up to ``cap`` bytes and their count, printed with ``%r``.

    Held as raw bytes: a __u32 length, 4 bytes of padding, then the data (the
    runtime's BT_KIND_BUF reads it that way).
    """

    cap: int = 64

    def c_decl(self, name: str) -> str:
        # aligned: the count is written as a __u32
        return f"__u8 {name}[{self.size}] __attribute__((aligned(8)))"

    @property
    def size(self) -> int:
        return 8 + self.cap

    def __str__(self) -> str:
        return f"buffer[{self.cap + 4}]"   # bpftrace counts its 4-byte length field


@dataclass(frozen=True)
class InetType(Type):
    """``ntop()``: an address family (__u64) and 16 address bytes, printed as text."""

    def c_decl(self, name: str) -> str:
        # aligned: the family is written as a __u64
        return f"__u8 {name}[24] __attribute__((aligned(8)))"

    @property
    def size(self) -> int:
        return 24

    def __str__(self) -> str:
        return "inet[16]"


@dataclass(frozen=True)
class MacType(Type):
    """``macaddr()``: 6 bytes printed as ``01:02:03:04:05:06``."""

    def c_decl(self, name: str) -> str:
        return f"__u8 {name}[6]"

    @property
    def size(self) -> int:
        return 6

    def __str__(self) -> str:
        return "mac_address"


@dataclass(frozen=True)
class AggType(Type):
    """An aggregation stored in a map: count, sum, min, max, avg, stats, hist, lhist,
    tseries (``tseries`` is its interval in ns, number of intervals and mode: "" for the
    last value, or avg, max, min, sum)."""

    kind: str
    signed: bool = True
    hist_bits: int = 0
    lhist: tuple[int, int, int] = (0, 0, 0)
    tseries: tuple[int, int, str] = (0, 0, "")

    def __str__(self) -> str:
        return f"{self.kind}_t"


@dataclass(frozen=True)
class VoidType(Type):
    """The type of statements-as-expressions such as printf()."""

    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True)
class ArgsType(Type):
    """The ``args`` builtin of a tracepoint: a record of typed fields."""

    fields: tuple[tuple[str, Type], ...]

    def field(self, name: str) -> Type | None:
        """The type of field ``name`` or None."""
        return dict(self.fields).get(name)

    def __str__(self) -> str:
        return "args"


@dataclass(frozen=True)
class PointerType(IntType):
    """A pointer: a 64-bit unsigned integer that knows what it points to and where.

    ``user`` says the address is in user memory (syscall arguments, uprobes), read
    with bpf_probe_read_user; otherwise kernel memory (CO-RE reads).  Being an
    IntType, a pointer works wherever bpftrace accepts an integer.
    """

    bits: int = 64
    signed: bool = False
    target: Type | None = None    # None: void *
    user: bool = False

    def __str__(self) -> str:
        return f"{self.target if self.target is not None else 'void'} *"


@dataclass(frozen=True)
class StructType(Type):
    """A C struct or union, from kernel BTF (``btf``) or defined in the script.

    Members are looked up in the program's :class:`bt2c.cdefs.TypeTable`; the type
    itself is a reference by name, so recursive types need no cycles.  Values are
    held as raw bytes (``__u8 name[size]``).
    """

    kind: str          # "struct" or "union"
    name: str
    nbytes: int
    btf: bool = True   # kernel type: read with CO-RE relocations

    def c_decl(self, name: str) -> str:
        return f"__u8 {name}[{max(self.nbytes, 1)}]"

    def c_name(self) -> str:
        """The C type name (vmlinux.h spells kernel types the same way)."""
        return f"{self.kind} {self.name}"

    @property
    def size(self) -> int:
        return self.nbytes

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class ArrayType(Type):
    """A C array ``elem[n]`` (char arrays are StringType, as in bpftrace)."""

    elem: Type
    n: int

    def c_decl(self, name: str) -> str:
        return f"__u8 {name}[{max(self.size, 1)}]"

    @property
    def size(self) -> int:
        return self.elem.size * self.n

    def __str__(self) -> str:
        return f"{self.elem}[{self.n}]"


@dataclass(frozen=True)
class BoolType(IntType):
    """``true``/``false`` and the result of comparisons and ``!``: an unsigned integer in
    the program, printed as ``true``/``false`` by print(), printf's ``%s`` and map dumps."""

    bits: int = 64
    signed: bool = False

    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True)
class FormattedInt(IntType):
    """An integer the loader prints as text: strftime()'s timestamp, username's uid.

    bpftrace sends the number from the probe and formats it in user space (the
    time zone, the password database are there), so bt2c does the same: in the
    BPF program it is a u64, and printf("%s")/print() call the loader's formatter.
    """

    bits: int = 64
    signed: bool = False
    kind: str = ""       # "timestamp" (strftime), "username" or CGROUP_PATH
    fmt: str = ""        # strftime's format
    clock: str = "boot"  # strftime's clock: "boot" (since boot) or "tai" (since the epoch)

    def __str__(self) -> str:
        return self.kind

#: FormattedInt.kind of cgroup_path(): the cgroup id, ``fmt`` the hierarchy filter
#: (bpftrace's type name, which its messages show).
CGROUP_PATH = "cgroup_path_t"


@dataclass(frozen=True)
class EnumType(IntType):
    """A value of a C enum (``enum color``, script or kernel): an unsigned integer that
    print(), printf's ``%s`` and map dumps show as its enumerator's name (the number
    when none has it), as bpftrace does; arithmetic on it gives a plain integer.

    ``name`` is the enum's tag, ``<anon_N>`` for an anonymous one.
    """

    bits: int = 64
    signed: bool = False
    name: str = ""

    def __str__(self) -> str:
        return f"enum {self.name}"

    @property
    def c_table(self) -> str:
        """The loader's table of its enumerators (``bt_enum_color``)."""
        return "bt_enum_" + "".join(c if c.isalnum() else "_" for c in self.name).strip("_")


#: Values held as raw bytes and printed by the runtime (no integer or string semantics).
BYTES_TYPES = (BufType, InetType, MacType, StructType, ArrayType)

INT64 = IntType(64, True)
UINT64 = IntType(64, False)
UINT32 = IntType(32, False)
BOOL = BoolType()
VOID = VoidType()


def field_layout(t: Type) -> list[tuple[int, Type]]:
    """(offset, type) of each member of a tuple struct, matching the C struct we emit."""
    if not isinstance(t, TupleType):
        return [(0, t)]
    out, off = [], 0
    for e in t.elems:
        out.append((off, e))
        off += _aligned(e)
    return out
