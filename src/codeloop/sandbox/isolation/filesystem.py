"""The session's filesystem view: a fresh root holding only the system, Python, its working dir and /tmp.

Everything is bind-mounted read-only from the host but the working dir, /tmp and /dev/shm
(size-limited tmpfs); /proc is the session's own. No home dirs, no project dir, no
server state: a path that is not listed here does not exist inside.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from . import namespaces as ns

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MNT_DETACH = 2

WORKDIR = "/home/user"
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
ETC_PATHS = (
    "/etc/alternatives",
    "/etc/ca-certificates",
    "/etc/debian_version",
    "/etc/fonts",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/mime.types",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/services",
    "/etc/ssl",
)
DEVICES = ("null", "zero", "full", "random", "urandom")
GENERATED = {
    "/etc/passwd": "root:x:0:0:user:/home/user:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n",
    "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "/etc/hostname": "sandbox\n",
    "/etc/hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
}
# statvfs flags that a bind remount must keep (the kernel locks them inside a user namespace).
_KEPT = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)


def readonly_paths(prefixes: Iterable[str]) -> list[str]:
    """System dirs, selected /etc files and the Python installs, without duplicates or nesting."""
    wanted = [*SYSTEM_PATHS, *ETC_PATHS, *(os.path.realpath(p) for p in prefixes), *prefixes]
    out: list[str] = []
    for path in sorted(dict.fromkeys(wanted), key=len):
        if any(path == p or path.startswith(p.rstrip("/") + "/") for p in out):
            continue
        if os.path.lexists(path) and os.path.realpath(path) != "/":
            out.append(path)
    return out


def build_root(
    new_root: str,
    readonly: Iterable[str],
    disk_mib: int,
    owner: tuple[int, int] | None,
    mplconfig: str | None,
) -> None:
    """Mount the view on new_root and pivot into it. Runs in the session's fresh mount namespace."""
    mount = ns.mount
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new_root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=4m")
    # The working dir and /tmp live in memory: size-capped, charged to the session's cgroup,
    # and gone with the session's mount namespace. They come first, so that a read-only path
    # below them (a virtualenv under /tmp, say) is bound inside them, not hidden by them.
    ids = f",uid={owner[0]},gid={owner[1]}" if owner is not None else ""
    for path, options in ((WORKDIR, "mode=0755" + ids), ("/tmp", "mode=1777")):
        os.makedirs(new_root + path)
        mount("tmpfs", new_root + path, "tmpfs", MS_NOSUID | MS_NODEV, f"{options},size={disk_mib}m")
    for path in readonly:
        _bind(path, new_root + path, writable=False)
    for path, text in GENERATED.items():
        os.makedirs(os.path.dirname(new_root + path), exist_ok=True)
        with open(new_root + path, "w") as f:
            f.write(text)
    if mplconfig is not None:  # matplotlib not preloaded: give it the font cache the zygote built
        shutil.copytree(mplconfig, new_root + "/tmp/matplotlib")
        if owner is not None:
            for parent, _, names in os.walk(new_root + "/tmp/matplotlib"):
                for path in (parent, *(os.path.join(parent, n) for n in names)):
                    os.chown(path, *owner)
    _make_dev(new_root, disk_mib)
    os.makedirs(new_root + "/proc")
    mount("proc", new_root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    old = new_root + "/.old-root"
    os.makedirs(old)
    ns.pivot_root(new_root, old)
    os.chdir("/")
    ns.umount2("/.old-root", MNT_DETACH)
    os.rmdir("/.old-root")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind(source: str, target: str, writable: bool, device: bool = False) -> None:
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    ns.mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY) | (0 if device else MS_NODEV)
    kept = os.statvfs(target).f_flag
    for st, ms in _KEPT:
        if kept & st:
            flags |= ms
    ns.mount(None, target, None, flags)


def _make_dev(new_root: str, disk_mib: int) -> None:
    dev = new_root + "/dev"
    os.makedirs(dev)
    ns.mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k")
    for name in DEVICES:
        _bind("/dev/" + name, f"{dev}/{name}", writable=True, device=True)
    os.makedirs(dev + "/shm")
    ns.mount("tmpfs", dev + "/shm", "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={disk_mib}m")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{dev}/{name}")
