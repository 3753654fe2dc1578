"""bt2c: turn bpftrace scripts into standalone, readable C/libbpf tools."""

__version__ = "0.1.0"
