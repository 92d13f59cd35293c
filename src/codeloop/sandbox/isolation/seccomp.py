"""A seccomp filter built with libseccomp: deny what a sandbox escape needs, allow the rest.

A deny list, not an allow list: numpy, pandas and friends (and the subprocesses user code starts)
use a wide and changing set of syscalls, while the dangerous ones are few and stable. libseccomp
numbers each name for the running architecture and checks the architecture first. A syscall of
any other ABI the kernel takes here (i386 on x86_64, arm on aarch64) kills the process, and on
x86_64 every syscall of the x32 ABI (x86_64's audit arch, its own numbers from 0x40000000) gets
ENOSYS: no alternate syscall table can slip past.

The filters are built once, in the zygote before it forks (see programs()); installing them in a
session is then a few prctl() calls, with no libseccomp work and no file access.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os

import pyseccomp

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_KILL_PROCESS = pyseccomp.KILL_PROCESS
SECCOMP_RET_ALLOW = pyseccomp.ALLOW
NATIVE_ARCH: int = pyseccomp.system_arch()
AF_UNIX = 1
# clone() flags that create namespaces; unshare and setns are denied whole.
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}

DENIED_NAMES = (
    "ptrace",
    "syslog",
    "uselib",
    "ustat",
    "sysfs",
    "vhangup",
    "modify_ldt",
    "pivot_root",
    "_sysctl",
    "adjtimex",
    "chroot",
    "acct",
    "settimeofday",
    "mount",
    "umount2",
    "swapon",
    "swapoff",
    "reboot",
    "sethostname",
    "setdomainname",
    "iopl",
    "ioperm",
    "create_module",
    "init_module",
    "delete_module",
    "get_kernel_syms",
    "query_module",
    "quotactl",
    "nfsservctl",
    "lookup_dcookie",
    "clock_settime",
    "kexec_load",
    "add_key",
    "request_key",
    "keyctl",
    "unshare",
    "move_pages",
    "perf_event_open",
    "fanotify_init",
    "name_to_handle_at",
    "open_by_handle_at",
    "clock_adjtime",
    "setns",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "finit_module",
    "kexec_file_load",
    "bpf",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "pidfd_getfd",
    "mount_setattr",
    "quotactl_fd",
)
# __NR_SCMP_ERROR: a name this libseccomp has never heard of. Other negative numbers stand for
# names it knows but this architecture lacks (uselib on aarch64).
_UNKNOWN = -1


def _numbers() -> dict[str, int]:
    numbers: dict[str, int] = {}
    for name in DENIED_NAMES:
        number: int = pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
        if number == _UNKNOWN:
            # It could not be denied, and this kernel may well have it.
            raise OSError(errno.ENOSYS, f"seccomp: libseccomp is too old to know {name}")
        if number >= 0:
            numbers[name] = number
    return numbers


# The deny list as this architecture numbers it.
DENIED = _numbers()


@functools.cache
def programs(arch: int = NATIVE_ARCH) -> tuple[bytes, ...]:
    """The filters for `arch` as classic BPF, in the order they are installed.

    Cached: the zygote calls this before it forks, so that sessions inherit the programs."""
    built = [_deny_list(arch)]
    if arch == pyseccomp.Arch.X86_64:
        built.append(_new_filter(pyseccomp.ERRNO(errno.ENOSYS), pyseccomp.Arch.X32, pyseccomp.ALLOW))
    return tuple(_bpf(each) for each in built)


def program(arch: int = NATIVE_ARCH) -> list[bytes]:
    """The deny list's instructions, 8 bytes each: struct sock_filter."""
    code = programs(arch)[0]
    return [code[at : at + 8] for at in range(0, len(code), 8)]


def _deny_list(arch: int) -> pyseccomp.SyscallFilter:
    denied = _new_filter(pyseccomp.ALLOW, arch, pyseccomp.KILL_PROCESS)
    if arch == pyseccomp.Arch.X86_64:
        # x32 syscalls pass this filter's architecture check so that the second filter answers them
        # ENOSYS rather than the kill; the kernel takes the strictest answer of all filters.
        denied.add_arch(pyseccomp.Arch.X32)
    for name in DENIED_NAMES:
        denied.add_rule(pyseccomp.ERRNO(errno.EPERM), name)
    # glibc falls back to clone() on ENOSYS; clone3 passes its flags in memory BPF cannot read.
    denied.add_rule(pyseccomp.ERRNO(errno.ENOSYS), "clone3")
    for name in ("socket", "socketpair"):  # only AF_UNIX: no network, no netlink, no packet sockets
        denied.add_rule(pyseccomp.ERRNO(errno.EAFNOSUPPORT), name, pyseccomp.Arg(0, pyseccomp.NE, AF_UNIX))
    # s390 passes clone()'s flags second (its first argument is the new stack).
    flags = 1 if arch in (pyseccomp.Arch.S390, pyseccomp.Arch.S390X) else 0
    for bit in range(32):
        if NAMESPACE_FLAGS & 1 << bit:
            flag = pyseccomp.Arg(flags, pyseccomp.MASKED_EQ, 1 << bit, 1 << bit)
            denied.add_rule(pyseccomp.ERRNO(errno.EPERM), "clone", flag)
    return denied


def _new_filter(default: int, arch: int, bad_arch: int) -> pyseccomp.SyscallFilter:
    """A filter for `arch` alone: `default` for its syscalls, `bad_arch` for any other ABI's."""
    made = pyseccomp.SyscallFilter(default)
    made.set_attr(pyseccomp.Attr.ACT_BADARCH, bad_arch)
    if arch != NATIVE_ARCH:
        made.add_arch(arch)
        made.remove_arch(pyseccomp.Arch.NATIVE)
    return made


def _bpf(built: pyseccomp.SyscallFilter) -> bytes:
    with open(os.memfd_create("seccomp-bpf"), "w+b") as memory:
        built.export_bpf(memory)
        memory.seek(0)
        return memory.read()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """no_new_privs, then the filters: from here on, for this process and all it starts."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    for code in programs():
        buf = ctypes.create_string_buffer(code, len(code))
        prog = _SockFprog(len(code) // 8, ctypes.addressof(buf))
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
