"""Namespaces, credentials and process control through libc: Python 3.11 has no os.unshare."""

from __future__ import annotations

import ctypes
import errno
import os

import pyseccomp

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# Unshared by the keeper: every namespace but the user one, which the session adds last, on top,
# so that it owns none of them, and the mount one, which only the session may have (pivot_root
# moves every process of a mount namespace into the new root, the keeper included).
KEEPER_NAMESPACES = CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWCGROUP

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NAME = 15
PR_SET_NO_NEW_PRIVS = 38
PR_CAPBSET_DROP = 24
_CAP_LAST = 63
# glibc has no wrapper for it; libseccomp knows its number on every architecture.
_SYS_PIVOT_ROOT: int = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, "pivot_root")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


_NAMES = {
    CLONE_NEWNS: "CLONE_NEWNS",
    CLONE_NEWCGROUP: "CLONE_NEWCGROUP",
    CLONE_NEWUTS: "CLONE_NEWUTS",
    CLONE_NEWIPC: "CLONE_NEWIPC",
    CLONE_NEWUSER: "CLONE_NEWUSER",
    CLONE_NEWPID: "CLONE_NEWPID",
    CLONE_NEWNET: "CLONE_NEWNET",
}


def unshare(flags: int) -> None:
    names = "|".join(name for flag, name in _NAMES.items() if flags & flag) or hex(flags)
    _check(_libc.unshare(flags), f"unshare({names})")


def initial_root() -> bool:
    """Whether we are root of the host, not merely root of some user namespace (a container's)."""
    try:
        with open("/proc/self/uid_map") as f:
            return os.geteuid() == 0 and f.read().split() == ["0", "0", "4294967295"]
    except OSError:
        return False


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data is not None else None,
        ),
        f"mount {source or fstype} on {target}",
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    _check(_libc.sethostname(name.encode(), len(name)), "sethostname")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> None:
    _check(_libc.prctl(option, arg2, arg3, arg4, arg5), f"prctl({option})")


def die_with_parent(signal_number: int = 9) -> None:
    """SIGKILL when the parent thread dies; the caller must then check its parent is still there."""
    prctl(PR_SET_PDEATHSIG, signal_number)


def set_title(title: str) -> None:
    """Name this process for ps and /proc: its comm, and its command line written over argv's
    memory (as setproctitle does). Children forked later inherit both, so no session sees the
    paths and arguments its zygote was started with."""
    name = ctypes.create_string_buffer(title.encode()[:15])
    prctl(PR_SET_NAME, ctypes.addressof(name))
    with open("/proc/self/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    arg_start, arg_end = int(fields[45]), int(fields[46])  # fields 48 and 49 of proc(5)
    text = title.encode()[: max(arg_end - arg_start - 1, 0)]
    # Nothing reads argv's strings after start-up: Python keeps its own copies (sys.orig_argv).
    ctypes.memmove(arg_start, text, len(text))
    ctypes.memset(arg_start + len(text), 0, arg_end - arg_start - len(text))


def map_user(uid: int, gid: int, inside_uid: int = 0, inside_gid: int = 0) -> None:
    """Enter a new user namespace where inside_uid is our (uid, gid); writable by ourselves."""
    unshare(CLONE_NEWUSER)
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{inside_uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{inside_gid} {gid} 1")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities() -> None:
    """Empty the bounding, effective, permitted and inheritable sets (in our user namespace)."""
    for cap in range(_CAP_LAST + 1):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() == errno.EINVAL:
            break  # past the last capability this kernel knows
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
