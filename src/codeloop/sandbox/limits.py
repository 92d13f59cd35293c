"""Hard limits applied to every block a session runs, and how the sandbox itself is set up."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_OUTPUT_BYTES = 1 << 20
# What the zygote imports once, so that every session starts with it loaded.
DEFAULT_PRELOAD = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot")


@dataclass(frozen=True)
class Limits:
    """Per session (memory, processes, disk) and per block (time, output)."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    output_bytes: int = DEFAULT_OUTPUT_BYTES
    memory_mib: int = 1024  # on top of what the preloaded stack already maps
    pids: int = 128  # processes and threads, together
    disk_mib: int = 256  # each of the working dir, /tmp and /dev/shm (all in memory)
    file_mib: int = 256  # largest file a session may write
    open_files: int = 1024
    cpus: float = 1.0  # CPU time per wall second, where cgroups allow


@dataclass(frozen=True)
class SandboxConfig:
    """The sandbox as a whole: what is preloaded, how many sessions, and whether to isolate at all."""

    preload: tuple[str, ...] = DEFAULT_PRELOAD
    zygotes: int = 1
    max_sessions: int = 64  # live interpreters; past it the least recently used idle one is reset
    spare_sessions: int = 1  # interpreters kept started ahead of demand (0: start each on demand)
    idle_timeout_s: float = 600.0  # an interpreter idle this long is reset (its state dropped)
    sessions_memory_mib: int | None = None  # all live sessions together; None: half the machine's memory
    insecure_no_sandbox: bool = False  # plain processes: no namespaces, no seccomp, no cgroups
    cgroups: bool = True
    uid_base: int = 200_000  # as root, session n runs as host uid uid_base + n % uid_count
    uid_count: int = 100_000
