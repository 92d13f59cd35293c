"""A seccomp filter, built by hand as classic BPF: deny what a sandbox escape needs, allow the rest.

A deny list, not an allow list: numpy, pandas and friends (and the subprocesses user code starts)
use a wide and changing set of syscalls, while the dangerous ones are few and stable. Foreign
architectures and the x32 ABI are refused outright, so no alternate syscall table can slip past.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
AF_UNIX = 1
# clone() flags that create namespaces; unshare and setns are denied whole.
NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET,TIME}

# x86_64 numbers, from arch/x86/entry/syscalls/syscall_64.tbl.
DENIED = {
    "ptrace": 101,
    "syslog": 103,
    "uselib": 134,
    "ustat": 136,
    "sysfs": 139,
    "vhangup": 153,
    "modify_ldt": 154,
    "pivot_root": 155,
    "_sysctl": 156,
    "adjtimex": 159,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "get_kernel_syms": 177,
    "query_module": 178,
    "quotactl": 179,
    "nfsservctl": 180,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "move_pages": 279,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "mount_setattr": 442,
    "quotactl_fd": 443,
}
SOCKET, SOCKETPAIR, CLONE, CLONE3 = 41, 53, 56, 435

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
_NR, _ARCH, _ARG0 = 0, 4, 16
_LD_W_ABS, _JEQ_K, _JGE_K, _JSET_K, _RET_K = 0x20, 0x15, 0x35, 0x45, 0x06


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _errno(number: int) -> int:
    return SECCOMP_RET_ERRNO | number


def program() -> list[bytes]:
    """The filter's instructions, for x86_64."""
    out = [
        _ins(_LD_W_ABS, 0, 0, _ARCH),
        _ins(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _ins(_RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _ins(_LD_W_ABS, 0, 0, _NR),
        _ins(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _ins(_RET_K, 0, 0, _errno(errno.ENOSYS)),
    ]
    for number in sorted(DENIED.values()):
        out += [_ins(_JEQ_K, 0, 1, number), _ins(_RET_K, 0, 0, _errno(errno.EPERM))]
    # glibc falls back to clone() on ENOSYS; clone3 passes its flags in memory BPF cannot read.
    out += [_ins(_JEQ_K, 0, 1, CLONE3), _ins(_RET_K, 0, 0, _errno(errno.ENOSYS))]
    for number in (SOCKET, SOCKETPAIR):  # only AF_UNIX: no network, no netlink, no packet sockets
        out += [
            _ins(_JEQ_K, 0, 4, number),
            _ins(_LD_W_ABS, 0, 0, _ARG0),
            _ins(_JEQ_K, 0, 1, AF_UNIX),
            _ins(_RET_K, 0, 0, SECCOMP_RET_ALLOW),
            _ins(_RET_K, 0, 0, _errno(errno.EAFNOSUPPORT)),
        ]
    out += [
        _ins(_JEQ_K, 0, 4, CLONE),
        _ins(_LD_W_ABS, 0, 0, _ARG0),
        _ins(_JSET_K, 0, 1, NAMESPACE_FLAGS),
        _ins(_RET_K, 0, 0, _errno(errno.EPERM)),
        _ins(_RET_K, 0, 0, SECCOMP_RET_ALLOW),
        _ins(_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    return out


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def supported() -> bool:
    return platform.machine() == "x86_64"


def install() -> None:
    """no_new_privs, then the filter: from here on, for this process and all it starts."""
    if not supported():
        raise OSError(0, f"seccomp: no filter for {platform.machine()}")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    code = b"".join(program())
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.addressof(buf))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
