"""A cgroup per session for memory, pids and cpu, on cgroup v2 or v1, wherever the host lets us.

Layout: <our cgroup>/codeloop-<zygote pid>/s<session id>, created by the session's keeper
process (which runs as the zygote's user), joined before any user code runs, removed when the
session ends. Where nothing can be created, sessions run on rlimits alone and say so.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass, field

ROOT = "/sys/fs/cgroup"
V1_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000


@dataclass
class Cgroup:
    """The session's cgroup dirs: one on v2, one per controller on v1."""

    version: int
    dirs: dict[str, str] = field(default_factory=dict)


def _own_path(controller: str) -> str | None:
    """Our cgroup's path within a hierarchy: '' names v2's unified one."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, names, path = line.rstrip("\n").split(":", 2)
            if controller in names.split(","):
                return path
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def base_dirs(tag: str) -> tuple[int, dict[str, str]]:
    """Create (or find) the per-zygote parent cgroup(s); (0, {}) where the host allows none."""
    if os.path.exists(os.path.join(ROOT, "cgroup.controllers")):  # pure v2
        own = _own_path("")
        if own is None:
            return 0, {}
        parent = os.path.join(ROOT, own.lstrip("/"))
        base = os.path.join(parent, tag)
        try:
            os.makedirs(base, exist_ok=True)
            with open(os.path.join(parent, "cgroup.subtree_control")) as f:
                enabled = f.read().split()
            wanted = [c for c in ("memory", "pids", "cpu") if c not in enabled]
            if wanted:
                _write(os.path.join(parent, "cgroup.subtree_control"), " ".join("+" + c for c in wanted))
            _write(os.path.join(base, "cgroup.subtree_control"), "+memory +pids +cpu")
        except OSError:
            return 0, {}
        return 2, {"": base}
    dirs = {}
    for controller in V1_CONTROLLERS:
        own = _own_path(controller)
        mountpoint = os.path.join(ROOT, controller)
        if own is None or not os.path.isdir(mountpoint):
            continue
        base = os.path.join(mountpoint, own.lstrip("/"), tag)
        try:
            os.makedirs(base, exist_ok=True)
        except OSError:
            continue
        dirs[controller] = base
    return (1, dirs) if dirs else (0, {})


def join(version: int, bases: dict[str, str], name: str, memory_mib: int, pids: int, cpus: float) -> Cgroup:
    """Create the session's cgroup under bases, set its limits, and move this process into it."""
    group = Cgroup(version)
    for controller, base in bases.items():
        path = os.path.join(base, name)
        os.makedirs(path, exist_ok=True)
        group.dirs[controller] = path
    memory = memory_mib << 20
    quota = int(cpus * CPU_PERIOD_US)
    if version == 2:
        path = group.dirs[""]
        _write(os.path.join(path, "memory.max"), str(memory))
        with contextlib.suppress(OSError):
            _write(os.path.join(path, "memory.swap.max"), "0")
        _write(os.path.join(path, "pids.max"), str(pids))
        with contextlib.suppress(OSError):
            _write(os.path.join(path, "cpu.max"), f"{quota} {CPU_PERIOD_US}")
        _write(os.path.join(path, "cgroup.procs"), "0")
        return group
    for controller, path in group.dirs.items():
        if controller == "memory":
            _write(os.path.join(path, "memory.limit_in_bytes"), str(memory))
            with contextlib.suppress(OSError):  # absent without swap accounting
                _write(os.path.join(path, "memory.memsw.limit_in_bytes"), str(memory))
        elif controller == "pids":
            _write(os.path.join(path, "pids.max"), str(pids))
        elif controller == "cpu":
            with contextlib.suppress(OSError):
                _write(os.path.join(path, "cpu.cfs_period_us"), str(CPU_PERIOD_US))
                _write(os.path.join(path, "cpu.cfs_quota_us"), str(quota))
        _write(os.path.join(path, "cgroup.procs"), "0")
    return group


def usage_file(group: Cgroup | None) -> str | None:
    """Where the server reads the session's memory use (tmpfs files included), if it has a cgroup."""
    if group is None:
        return None
    path = group.dirs.get("" if group.version == 2 else "memory")
    if path is None:
        return None
    return os.path.join(path, "memory.current" if group.version == 2 else "memory.usage_in_bytes")


def oom_killed(group: Cgroup) -> bool:
    """Whether the kernel's OOM killer struck inside the session's cgroup."""
    name = "memory.events" if group.version == 2 else "memory.oom_control"
    path = group.dirs.get("" if group.version == 2 else "memory")
    if path is None:
        return False
    try:
        with open(os.path.join(path, name)) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
    except (OSError, ValueError):
        pass
    return False


def remove(group: Cgroup) -> None:
    """Leave the session's cgroup and delete it (retrying while the last tasks exit)."""
    for path in group.dirs.values():
        with contextlib.suppress(OSError):
            _write(os.path.join(os.path.dirname(path), "cgroup.procs"), "0")
        for _ in range(100):
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


def sweep(bases: dict[str, str], prefix: str) -> None:
    """Remove what zygotes killed without cleaning up left: parents named prefix<pid> of a dead pid."""
    for base in bases.values():
        parent = os.path.dirname(base)
        with contextlib.suppress(OSError):
            for name in os.listdir(parent):
                pid = name.removeprefix(prefix)
                if name.startswith(prefix) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                    remove_base({"": os.path.join(parent, name)})


def remove_base(bases: dict[str, str]) -> None:
    for base in bases.values():
        with contextlib.suppress(OSError):
            for name in os.listdir(base):
                entry = os.path.join(base, name)
                if os.path.isdir(entry):
                    with contextlib.suppress(OSError):
                        os.rmdir(entry)
            os.rmdir(base)
