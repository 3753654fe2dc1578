"""Test cases for the map-printing runtime (templates/runtime/maps.c).

Each case pairs a bpftrace script with the arguments of the C test driver
(tests/runtime/driver.c) that builds the same maps with real BPF maps and
prints them with the runtime.  ``record.py`` runs the scripts with
bpftrace-ref and stores their stdout in ``expected/<name>.out``;
``tests/test_runtime.py`` runs the driver and compares byte for byte.

Hand-written driver cases (``driver case NAME``) keep the equivalent
bpftrace script in the ``SCRIPTS`` mapping below; the histogram index cases
are generated from value lists so that the script and the driver arguments
come from the same data.

Every case also runs as ``json_<name>``: bpftrace with ``-f json`` and the
driver with ``-f json`` (the runtime's JSON output of the same maps).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One comparison: a bpftrace script and the driver arguments."""

    name: str
    script: str
    argv: tuple[str, ...]
    min_cpus: int = 1
    options: tuple[str, ...] = ()  # bpftrace's options, e.g. ("-q", "-f", "json")


# Scripts of the hand-written driver cases; keep them in sync with the
# functions of the same name in driver.c.  Scripts must give the same stdout
# on every run: bpftrace orders equal values of non-histogram maps (and all
# integer values narrower than 64 bits) in random hash order, so avoid ties.
# Note that print(), clear() and zero() are carried out by bpftrace's user
# space after the whole probe has run, so the driver applies every update
# of a BEGIN block first and then performs these calls in order.
SCRIPTS: dict[str, str] = {
    "empty": "BEGIN { exit(); }",
    "scalars": """
BEGIN {
  @a = (int64)-7; @b = (uint64)18446744073709551615;
  @c = count(); @c = count(); @c = count();
  @s = sum(-10); @s = sum(3);
  @mn = min(5); @mn = min(-2); @mx = max(5); @mx = max(9);
  @v = avg(-5); @v = avg(-6);
  @st = stats(10); @st = stats(-3);
  @str = "hello"; @t = (1, "x", -5); @i8 = (int8)-3; @u16 = (uint16)65535;
  print(@v); print(@st, 0, 2); print(@t, 0, 2); print(@c); print(@a, 0, 2);
  print(@b, 0, 3); print(@mn); print(@mx, 0, 2); print(@s, 0, 2);
  exit();
}""",
    "keyed_ints": """
BEGIN {
  @c[1] = count();
  @c[2] = count(); @c[2] = count();
  @c[-3] = count(); @c[-3] = count(); @c[-3] = count(); @c[-3] = count();
  @c[7] = count(); @c[7] = count(); @c[7] = count();
  @s["a"] = sum(-10); @s["b"] = sum(5); @s["c"] = sum(-3); @s["c"] = sum(-4);
  @s["longer key"] = sum(100);
  @i[1] = (int64)-5; @i[2] = (int64)50; @i[3] = (int64)0; @i[4] = (int64)-50;
  @u[1] = (uint64)18446744073709551615; @u[2] = (uint64)3;
  @u[3] = (uint64)9223372036854775808;
  print(@c); print(@c, 2); print(@c, 0, 2); print(@c, 10, 3);
  print(@s, 1); print(@s, 0, 3); print(@i, 0, 2); print(@u, 2);
  exit();
}""",
    "minmax": """
BEGIN {
  @mn[1] = min(-5); @mn[2] = min(3); @mn[3] = min(-1); @mn[4] = min(7);
  @mn[4] = min(2); @mn[5] = min(-7); @mn[5] = min(4);
  @mx[1] = max(-5); @mx[2] = max(3); @mx[3] = max(10); @mx[4] = max(-1);
  @mx[4] = max(-7); @mx[5] = max(0);
  print(@mn, 2); print(@mx, 0, 2); print(@mn, 0, 3);
  exit();
}""",
    "avgstats": """
BEGIN {
  @v[1] = avg(-5); @v[1] = avg(-6); @v[2] = avg(7); @v[2] = avg(8);
  @v[3] = avg(1); @v[4] = avg(-1); @v[4] = avg(6);
  @st["x"] = stats(10); @st["x"] = stats(-3); @st["y"] = stats(100);
  @st["z"] = stats(-50); @st["z"] = stats(-51);
  print(@v, 0, 3); print(@st, 2, 2); print(@st); print(@v, 1);
  exit();
}""",
    "strings_tuples": """
BEGIN {
  @s[3] = "c"; @s[1] = "zz"; @s[200] = "b"; @s[2] = "a"; @s[-1] = "neg";
  @k["b"] = "c"; @k["a"] = "zz"; @k["ab"] = "b"; @k[""] = "e";
  @k["(hi)"] = "paren"; @k["(x"] = "half";
  @t[1, "x"] = (1, "a"); @t[1, "a"] = (2, "b"); @t[0, "z"] = (-3, "c");
  @t[2, "a"] = (4, "dd"); @t[-1, "b"] = (5, "e");
  @u8[(uint8)200] = "x"; @u8[(uint8)1] = "y"; @u8[(uint8)100] = "z";
  @m["k", 2, "v"] = 5;
  print(@t, 2); print(@t, 0, 2); print(@k); print(@u8, 1);
  exit();
}""",
    "truncated": """
config = { max_strlen = 4 }
BEGIN {
  @s = str(comm); @t = (str(comm), 5); @k[str(comm), 1] = 3; @c[comm] = 1;
  exit();
}""",
    "names": """
BEGIN {
  @ = 1; @a = 2; @A = 3; @_x = 4; @a1 = 5; @a_b = 6; @ab = 7; @Z = 8;
  @zz = hist(2); @b = lhist(1, 0, 5, 1);
  exit();
}""",
    "anon": """
BEGIN {
  @[1, "a"] = count();
  @[2, "b"] = count(); @[2, "b"] = count(); @[2, "b"] = count();
  @[-5, "(c)"] = count(); @[-5, "(c)"] = count();
  print(@);
  exit();
}""",
    "nested": """
BEGIN {
  @n[1, (2, "x")] = "a"; @n[0, (5, "y")] = "b"; @n[-1, (1, "z")] = "c";
  @p[(3, "b")] = "s3"; @p[(1, "a")] = "s1"; @p[(2, "c")] = "s2";
  @v = (1, (2, "x"), -3);
  @w[(int64)1] = ((1, 2), "s"); @w[(int64)2] = ((3, 4), "t");
  print(@v, 0, 2); print(@w, 0, 2);
  exit();
}""",
    "hist_basic": """
BEGIN {
  @h = hist(0); @h = hist(1); @h = hist(2); @h = hist(3); @h = hist(-1);
  @h = hist(1024); @h = hist(5000);
  @h2 = hist(5, 2); @h2 = hist(100, 2); @h2 = hist(3584, 2); @h2 = hist(4096, 2);
  @k[1] = hist(5); @k[2] = hist(100); @k[2] = hist(100); @k[3] = hist(3);
  @k[3] = hist(3); @k[3] = hist(3); @k[3] = hist(9);
  @e = hist(1 << 40, 3); @e = hist((1 << 40) + (1 << 38), 3);
  print(@h); print(@k, 1); print(@k, 0, 2); print(@h2, 0, 2); print(@e);
  exit();
}""",
    "hist_bars": """
BEGIN {
  for ($i : 0..1300) { @b = lhist(0, 0, 20, 1); }
  for ($i : 0..1) { @b = lhist(1, 0, 20, 1); }
  for ($i : 0..7) { @b = lhist(2, 0, 20, 1); }
  for ($i : 0..13) { @b = lhist(3, 0, 20, 1); }
  for ($i : 0..25) { @b = lhist(4, 0, 20, 1); }
  for ($i : 0..26) { @b = lhist(5, 0, 20, 1); }
  for ($i : 0..50) { @b = lhist(6, 0, 20, 1); }
  for ($i : 0..75) { @b = lhist(7, 0, 20, 1); }
  for ($i : 0..99) { @b = lhist(8, 0, 20, 1); }
  for ($i : 0..100) { @b = lhist(9, 0, 20, 1); }
  for ($i : 0..325) { @b = lhist(10, 0, 20, 1); }
  for ($i : 0..650) { @b = lhist(11, 0, 20, 1); }
  for ($i : 0..975) { @b = lhist(12, 0, 20, 1); }
  for ($i : 0..1299) { @b = lhist(13, 0, 20, 1); }
  for ($i : 0..3) { @c = hist(1); }
  for ($i : 0..7) { @c = hist(8); }
  for ($i : 0..11) { @c = hist(100); }
  for ($i : 0..13) { @c = hist(1000); }
  for ($i : 0..1) { @d = lhist(5, 0, 20, 1); }
  for ($i : 0..3) { @d = lhist(6, 0, 20, 1); }
  print(@d, 0, 2); print(@c, 0, 4);
  exit();
}""",
    "lhist": """
BEGIN {
  @l = lhist(-5, 0, 100, 10); @l = lhist(100, 0, 100, 10); @l = lhist(55, 0, 100, 10);
  @k = lhist(0, 0, 4096, 1024); @k = lhist(5000, 0, 4096, 1024);
  @k = lhist(2048, 0, 4096, 1024);
  @m = lhist(3 * 1048576, 0, 4194304, 1048576); @m = lhist(1048576, 0, 4194304, 1048576);
  @n = lhist(-7, 10, 30, 3); @n = lhist(29, 10, 30, 3); @n = lhist(30, 10, 30, 3);
  @n = lhist(31, 10, 30, 3);
  @o = lhist(95, 0, 95, 10); @o = lhist(200, 0, 95, 10);
  @p = lhist(200, 0, 95, 10);
  @q = lhist(1536, 0, 10240, 512); @q = lhist(1024, 0, 10240, 512);
  @s = lhist(3, 0, 10, 1); @s = lhist(5, 0, 10, 1); @s = lhist(10, 0, 10, 1);
  @s = lhist(9, 0, 10, 1);
  @t = lhist(-1, 0, 10, 1); @t = lhist(0, 0, 10, 1);
  @w[1] = lhist(5, 0, 100, 10); @w[2] = lhist(5, 0, 100, 10);
  @w[2] = lhist(15, 0, 100, 10); @w[3] = lhist(500, 0, 100, 10);
  @w[3] = lhist(500, 0, 100, 10); @w[3] = lhist(500, 0, 100, 10);
  print(@l, 0, 2); print(@w, 2); print(@s);
  exit();
}""",
    "percpu": """
BEGIN {
  @c[1] = count(); @c[1] = count(); @c[1] = count(); @c[1] = count(); @c[1] = count();
  @c[2] = count();
  @s = sum(-10); @s = sum(3);
  @mn[1] = min(5); @mn[1] = min(-3); @mn[2] = min(4);
  @mx[1] = max(5); @mx[1] = max(-3); @mx[2] = max(4);
  @v = avg(10); @v = avg(-4); @v = avg(-5);
  @st = stats(10); @st = stats(-4); @st = stats(-5);
  @h = hist(5); @h = hist(5); @h = hist(100);
  @l[1] = lhist(5, 0, 100, 10); @l[1] = lhist(15, 0, 100, 10);
  @l[1] = lhist(15, 0, 100, 10);
  print(@c); print(@h);
  exit();
}""",
    "clear_all": """
BEGIN {
  @a = 1; @b[1] = 2; @c = count(); @h = hist(3); @l[1] = lhist(3, 0, 10, 1);
  @s = stats(4); @m = min(5); @v = avg(5); @t = (1, "x"); @str = "s";
  @keep = count();
  clear(@a); clear(@b); clear(@c); clear(@h); clear(@l); clear(@s); clear(@m);
  clear(@v); clear(@t); clear(@str);
  print(@a); print(@b); print(@c); print(@h); print(@l); print(@s); print(@m);
  print(@v); print(@t); print(@str);
  exit();
}""",
    "zero_all": """
BEGIN {
  @a = 1; @b[1] = 2; @c = count(); @h = hist(3); @l[1] = lhist(3, 0, 10, 1);
  @s = stats(4); @m = min(5); @v = avg(5); @mk[1] = max(-3);
  zero(@a); zero(@b); zero(@c); zero(@h); zero(@l); zero(@s); zero(@m);
  zero(@v); zero(@mk);
  print(@a); print(@b); print(@c); print(@h); print(@l); print(@s); print(@m);
  print(@v); print(@mk);
  exit();
}""",
}


def _ties_script() -> str:
    """40 histogram keys with equal totals: tests the std::sort tie order."""
    body = " ".join(f"@h[{i}] = hist(1);" for i in range(40))
    return "BEGIN { " + body + " exit(); }"


def _ties_mixed_script() -> str:
    """100 histogram keys, totals 1..4: tie order of larger inputs."""
    stmts = []
    for i in range(100):
        for _ in range((i * 7) % 4 + 1):
            stmts.append(f"@h[{i}] = hist({i});")
    return "BEGIN { " + " ".join(stmts) + " exit(); }"


# min()/max() on several CPUs: bpftrace prints the signed extreme but sorts
# by the extreme taken over the values read as unsigned numbers.
PERCPU_SORT_SCRIPT = """
profile:hz:99 {
  if (cpu == 0) { @mx[1] = max(5); } else { @mx[1] = max(-3); }
  @mx[2] = max(-4); @mx[3] = max(-6);
  @mn[1] = min(cpu == 0 ? -3 : 5); @mn[2] = min(4); @mn[3] = min(6);
}
interval:s:1 { exit(); }"""

SCRIPTS["hist_ties"] = _ties_script()
SCRIPTS["hist_ties_mixed"] = _ties_mixed_script()

# Values for the bucket-index cases (each value is added once).
HIST_SMALL = [
    -(2**40),
    -3,
    -1,
    *range(0, 70),
    99,
    100,
    127,
    128,
    129,
    255,
    256,
    1000,
    1023,
    1024,
    1025,
    4095,
    4096,
    65535,
    65536,
    (1 << 20) - 1,
    1 << 20,
    1_000_000,
]
HIST_BIG = [
    (1 << 40) - 1,
    1 << 40,
    3 << 40,
    (1 << 50) + 12345,
    (1 << 62) - 1,
    1 << 62,
    (1 << 62) + (1 << 60),
    2**63 - 2,
    2**63 - 1,
]
LHIST_CONFIGS: list[tuple[int, int, int, list[int]]] = [
    (0, 100, 10, [-5, 0, 9, 10, 11, 55, 99, 100, 101, 1000]),
    (10, 30, 3, [9, 10, 12, 13, 27, 28, 29, 30, 31]),
    (0, 95, 10, [0, 89, 90, 94, 95, 96, 200]),
    (0, 10, 1, [-1, 0, 1, 2, 5, 9, 10, 11]),
    (0, 4096, 1024, [0, 1023, 1024, 3000, 4095, 4096, 9000]),
    (1000, 9000, 1024, [999, 1000, 2023, 2024, 8999, 9000, 9001]),
    (0, 1000000, 1000, [5, 1500, 999999, 1000000, 2000000]),
]


def _hist_case(name: str, bits: int, values: list[int]) -> Case:
    body = " ".join(f"@h = hist({v}, {bits});" for v in values)
    return Case(name, "BEGIN { " + body + " exit(); }", ("hist", str(bits), *map(str, values)))


def _lhist_case(name: str, lo: int, hi: int, step: int, values: list[int]) -> Case:
    body = " ".join(f"@l = lhist({v}, {lo}, {hi}, {step});" for v in values)
    return Case(
        name,
        "BEGIN { " + body + " exit(); }",
        ("lhist", str(lo), str(hi), str(step), *map(str, values)),
    )


def all_cases() -> list[Case]:
    """Every case, in a stable order."""
    cases = [Case(name, script.strip(), ("case", name)) for name, script in SCRIPTS.items()]
    cases.append(
        Case("percpu_sort", PERCPU_SORT_SCRIPT.strip(), ("case", "percpu_sort"), min_cpus=2)
    )
    for bits in range(6):
        cases.append(_hist_case(f"hist_index_small_b{bits}", bits, HIST_SMALL))
        cases.append(_hist_case(f"hist_index_big_b{bits}", bits, HIST_BIG))
    for i, (lo, hi, step, values) in enumerate(LHIST_CONFIGS):
        cases.append(_lhist_case(f"lhist_index_{i}", lo, hi, step, values))
    # Every case again with -f json: the same maps printed as JSON records.
    json = [Case(f"json_{c.name}", c.script, ("-f", "json", *c.argv), c.min_cpus,
                 ("-q", "-f", "json"))
            for c in cases]
    return cases + json
