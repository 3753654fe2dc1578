"""bt2c.btf against bpftool's own decoding of the running kernel's BTF (every type)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bt2c import btf

VMLINUX = Path(btf.VMLINUX)
pytestmark = pytest.mark.skipif(not VMLINUX.exists() or shutil.which("bpftool") is None,
                                reason="needs kernel BTF and bpftool")

_HEAD = re.compile(r"^\[(\d+)\] (\w+) '([^']*)'(.*)$")
_MEMBER = re.compile(r"^\t'([^']*)' (?:type_id=(\d+)(?: bits_offset=(\d+))?"
                     r"(?: bitfield_size=(\d+))?|val=(-?\d+))")


def _bpftool_types() -> dict[int, dict]:
    out = subprocess.run(["bpftool", "btf", "dump", "file", str(VMLINUX), "format", "raw"],
                         check=True, capture_output=True, text=True).stdout
    types: dict[int, dict] = {}
    cur: dict | None = None
    for line in out.splitlines():
        m = _HEAD.match(line)
        if m:
            attrs = dict(re.findall(r"(\w+)=([^ ,]+)", m.group(4)))
            cur = types[int(m.group(1))] = {"kind": m.group(2).lower(), "name": m.group(3),
                                            "attrs": attrs, "members": []}
            continue
        mm = _MEMBER.match(line)
        if mm and cur is not None:
            cur["members"].append(mm.groups())
    return types


@pytest.fixture(scope="module")
def reader() -> btf.Btf:
    return btf.load(str(VMLINUX), use_cache=False)


def test_every_type_matches_bpftool(reader: btf.Btf) -> None:
    ref = _bpftool_types()
    assert len(reader) - 1 == max(ref)
    for tid, want in ref.items():
        t = reader.type(tid)
        kind = want["kind"]
        assert t.kind == ("enum" if kind == "enum64" else kind), tid
        assert (t.name or "(anon)") == want["name"], tid
        attrs = want["attrs"]
        if "size" in attrs and kind not in ("datasec",):
            assert t.size == int(attrs["size"]), tid
        if kind == "int":
            assert t.int_bits == int(attrs["nr_bits"]), tid
            assert t.int_signed == ("SIGNED" in attrs["encoding"]), tid
        if kind in ("ptr", "typedef", "const", "volatile", "restrict", "func", "type_tag"):
            assert t.ref == int(attrs["type_id"]), tid
        if kind == "array":
            assert (t.ref, t.nelems) == (int(attrs["type_id"]), int(attrs["nr_elems"])), tid
        if kind == "func_proto":
            assert t.ref == int(attrs["ret_type_id"]), tid
        if kind in ("struct", "union", "func_proto", "enum", "enum64"):
            got = []
            for m in t.members:
                if kind.startswith("enum"):
                    got.append((m.name or "(anon)", None, None, None, str(m.value)))
                elif kind == "func_proto":
                    got.append((m.name or "(anon)", str(m.type), None, None, None))
                else:
                    got.append((m.name or "(anon)", str(m.type), str(m.bit_offset),
                                str(m.bitfield_size) if m.bitfield_size else None, None))
            assert got == want["members"], tid


def test_lookups(reader: btf.Btf) -> None:
    tid = reader.find("task_struct", "struct")
    assert tid is not None
    task = reader.type(tid)
    names = {m.name: m for m in task.members}
    assert reader.c_type(names["real_parent"].type) == "struct task_struct *"
    assert reader.c_type(names["comm"].type) == "char[16]"
    assert reader.resolve(names["pid"].type).kind == "int"
    assert reader.size_of(names["pid"].type) == 4
    assert reader.size_of(tid) == task.size
    params, _ret = reader.func_params("vfs_read")
    assert [p for p, _ in params] == ["file", "buf", "count", "pos"]
    assert reader.c_type(params[0][1]) == "struct file *"
    assert reader.func_params("no_such_function_bt2c") is None
    assert reader.find("no_such_struct_bt2c", "struct") is None


def test_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BT2C_CACHE", str(tmp_path))
    first = btf.load(str(VMLINUX))
    assert list((tmp_path / "btf").iterdir())
    second = btf.load(str(VMLINUX))
    assert second.names == first.names
    assert list(second.offsets) == list(first.offsets)


def test_bad_blob() -> None:
    with pytest.raises(btf.BtfError):
        btf.Btf(b"\0" * 64)
