"""kfunc_exist() and kfunc_allowed(): what the kernel offers, asked when the script is
compiled, as bpftrace asks at its compile time.

kfunc_exist() looks the name up among the functions of the kernel's BTF.
kfunc_allowed() loads a two-instruction program of the probe's program type that
calls the kfunc and reads the verifier's log: the kernel refuses a kfunc its
program type may not call before it checks anything else ("calling kernel function
NAME is not allowed").  Both describe the machine that builds the tool (or the BTF
named by ``$BT2C_BTF``), as bpftrace's answers describe the machine it runs on.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
import struct
from functools import cache

from bt2c.btf import vmlinux

#: bpftrace's program type for each kind of probe (its progtype()), by bpf_prog_type.
PROG_TYPES = {
    "begin": 17, "end": 17,                       # BPF_PROG_TYPE_RAW_TRACEPOINT
    "kprobe": 2, "kretprobe": 2, "uprobe": 2, "uretprobe": 2, "usdt": 2,  # KPROBE
    "tracepoint": 5,                              # TRACEPOINT
    "profile": 7, "interval": 7, "software": 7, "hardware": 7,   # PERF_EVENT
    "fentry": 26, "fexit": 26, "rawtracepoint": 26,               # TRACING
}
_BPF_PROG_LOAD = 5
_BPF_PSEUDO_KFUNC_CALL = 2
#: __NR_bpf by machine.
_NR_BPF = {"x86_64": 321, "aarch64": 280, "riscv64": 280, "s390x": 351, "ppc64le": 361}


def kfunc_btf_id(name: str) -> int | None:
    """The BTF id of kernel function ``name``, or None (no such function, no BTF)."""
    btf = vmlinux()
    return btf.find(name, "func") if btf is not None else None


def kfunc_exist(name: str) -> bool:
    return kfunc_btf_id(name) is not None


@cache
def kfunc_allowed(name: str, provider: str) -> bool:
    """Whether a program of ``provider``'s type may call kfunc ``name``.

    Without the right to load programs (not root), the answer is False: bt2c cannot
    tell, and a tool built on the answer True might not load.
    """
    btf_id = kfunc_btf_id(name)
    nr = _NR_BPF.get(platform.machine())
    if btf_id is None or nr is None:
        return False
    insns = struct.pack("<BBhi", 0x85, _BPF_PSEUDO_KFUNC_CALL << 4, 0, btf_id)  # call kfunc
    insns += struct.pack("<BBhi", 0x95, 0, 0, 0)                                # exit
    code = ctypes.create_string_buffer(insns, len(insns))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(4096)
    # union bpf_attr for BPF_PROG_LOAD, up to log_buf (the rest zero)
    attr = struct.pack("<IIQQIIQ", PROG_TYPES.get(provider, 17), 2,
                       ctypes.addressof(code), ctypes.addressof(license_),
                       1, len(log), ctypes.addressof(log))
    buf = ctypes.create_string_buffer(attr + bytes(128 - len(attr)), 128)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = libc.syscall(nr, _BPF_PROG_LOAD, buf, 128)
    if fd >= 0:
        os.close(fd)
        return True
    if ctypes.get_errno() == 1:   # EPERM: may not load programs at all
        return False
    return f"calling kernel function {name} is not allowed".encode() not in log.value
