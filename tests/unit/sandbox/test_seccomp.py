"""The seccomp filter is libseccomp's for the machine it runs on, and refuses every other ABI."""

from __future__ import annotations

import platform
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pyseccomp

from codeloop.sandbox.isolation import namespaces, seccomp

# Audit arch and syscall numbers from the kernel's own tables (syscall_64.tbl, asm-generic/unistd.h).
MACHINES = {
    "x86_64": (0xC000003E, {"ptrace": 101, "mount": 165, "pivot_root": 155, "setns": 308, "bpf": 321}),
    "aarch64": (0xC00000B7, {"ptrace": 117, "mount": 40, "pivot_root": 41, "setns": 268, "bpf": 280}),
}


def compared(code: bytes) -> tuple[int, set[int]]:
    """The architecture a program checks first, and every constant it compares with."""
    instructions = [struct.unpack("=HBBI", code[at : at + 8]) for at in range(0, len(code), 8)]
    assert instructions[0] == (0x20, 0, 0, 4)  # load seccomp_data.arch
    return instructions[1][3], {k for op, _, _, k in instructions if op == 0x15}


def test_the_filter_is_built_for_the_running_architecture() -> None:
    arch, numbers = MACHINES[platform.machine()]
    assert arch == seccomp.NATIVE_ARCH
    checked, constants = compared(seccomp.programs()[0])
    assert checked == arch
    for name, number in numbers.items():
        assert seccomp.DENIED[name] == number
        assert number in constants
    assert numbers["pivot_root"] == namespaces._SYS_PIVOT_ROOT  # the sandbox calls it by number


def test_each_architecture_gets_its_own_numbers() -> None:
    x86_64, aarch64 = MACHINES["x86_64"], MACHINES["aarch64"]
    for arch, (token, numbers), other in (
        (pyseccomp.Arch.X86_64, x86_64, aarch64),
        (pyseccomp.Arch.AARCH64, aarch64, x86_64),
    ):
        checked, constants = compared(seccomp.programs(arch)[0])
        assert checked == token
        assert set(numbers.values()) <= constants
        # ptrace on x86_64 is nanosleep on aarch64, mount is getxattr: neither may be denied there
        assert not {other[1]["ptrace"], other[1]["mount"]} & constants


ABIS = """
import ctypes, mmap, sys
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "filtered":
    import seccomp
    seccomp.install()
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
# x32: ptrace numbered from 0x40000000, entered through x86_64's own syscall instruction
print(libc.syscall(ctypes.c_long(0x40000000 | 521), 0, 0, 0, 0), ctypes.get_errno(), flush=True)
# i386: getpid (20) through int 0x80, the 32-bit compat entry
page = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
page.write(bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3]))  # mov eax, 20; int 0x80; ret
getpid = ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(page)))
print(getpid() == __import__("os").getpid(), flush=True)
"""


def run_abis(mode: str) -> subprocess.CompletedProcess[str]:
    isolation = Path(seccomp.__file__).parent
    return subprocess.run(
        [sys.executable, "-c", ABIS, str(isolation), mode], capture_output=True, text=True, timeout=30
    )


def test_x86_64s_other_syscall_tables_are_refused_in_a_real_process() -> None:
    assert platform.machine() == "x86_64", "the probe is x86 machine code"
    plain = run_abis("plain")
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.splitlines()[1] == "True"  # the i386 table is open on this kernel without a filter
    filtered = run_abis("filtered")
    # x32: ENOSYS for every call, even one the deny list would answer EPERM; the process lives on
    assert filtered.stdout.splitlines() == ["-1 38"]
    assert filtered.returncode == -signal.SIGSYS  # i386: killed at its first syscall
