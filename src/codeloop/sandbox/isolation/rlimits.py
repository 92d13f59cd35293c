"""Per-process resource limits: the backstop that holds even where cgroups are not available."""

from __future__ import annotations

import resource

MIB = 1 << 20


def current_address_space() -> int:
    """Bytes of virtual memory this process already maps (the preloaded stack, mostly)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def apply(address_space_mib: int, pids: int, file_mib: int, open_files: int) -> None:
    """Limits for a session process and all it starts; never raised again (no privilege to)."""
    # Address space counts what the zygote already mapped; the budget comes on top of it.
    address_space = current_address_space() + address_space_mib * MIB
    for limit, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_NPROC, pids),
        (resource.RLIMIT_FSIZE, file_mib * MIB),
        (resource.RLIMIT_NOFILE, open_files),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(limit, (value, value))
