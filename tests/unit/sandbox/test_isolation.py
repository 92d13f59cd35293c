"""The isolation layers on their own: the seccomp program, path selection, cgroup bookkeeping."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

from codeloop.sandbox.isolation import cgroups, filesystem, seccomp


def decode(program: list[bytes]) -> list[tuple[int, int, int, int]]:
    return [struct.unpack("=HBBI", ins) for ins in program]


def test_the_filter_checks_the_architecture_first_and_allows_by_default() -> None:
    code = decode(seccomp.program())
    assert code[0] == (0x20, 0, 0, 4)  # load seccomp_data.arch
    op, _, other_arch, arch = code[1]
    assert (op, arch) == (0x15, seccomp.NATIVE_ARCH)
    assert code[2 + other_arch] == (0x06, 0, 0, seccomp.SECCOMP_RET_KILL_PROCESS)
    assert (0x06, 0, 0, seccomp.SECCOMP_RET_ALLOW) in code
    for index, (op, jt, jf, _) in enumerate(code):
        if op & 0x07 == 0x05:  # a jump: both targets inside the program
            assert index + 1 + max(jt, jf) < len(code)


def test_the_filter_denies_what_escapes_need() -> None:
    denied = {k for op, _, _, k in decode(seccomp.program()) if op == 0x15}
    for name in (
        "ptrace",
        "mount",
        "umount2",
        "init_module",
        "finit_module",
        "bpf",
        "keyctl",
        "unshare",
        "setns",
    ):
        assert seccomp.DENIED[name] in denied


FILTERED = """
import ctypes, socket, sys
sys.path.insert(0, sys.argv[1])
import seccomp
seccomp.install()
libc = ctypes.CDLL(None, use_errno=True)
socket.socketpair()
for family in (socket.AF_INET, socket.AF_INET6, socket.AF_NETLINK):
    try:
        socket.socket(family, socket.SOCK_DGRAM)
        print('allowed', family)
    except OSError:
        pass
print(libc.ptrace(0, 0, 0, 0), libc.unshare(0x20000), libc.setns(0, 0), ctypes.get_errno())
import subprocess
print(subprocess.run(['true']).returncode)
"""


def test_an_installed_filter_holds_in_a_real_process() -> None:
    isolation = Path(seccomp.__file__).parent
    done = subprocess.run(
        [sys.executable, "-c", FILTERED, str(isolation)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "-1 -1 -1 1\n0\n"


def test_readonly_paths_drop_the_missing_the_nested_and_the_root(tmp_path: Path) -> None:
    (tmp_path / "venv").mkdir()
    paths = filesystem.readonly_paths([str(tmp_path / "venv"), str(tmp_path / "venv" / "lib"), "/", "/nope"])
    assert str(tmp_path / "venv") in paths
    assert str(tmp_path / "venv" / "lib") not in paths
    assert "/" not in paths and "/nope" not in paths
    assert "/usr" in paths
    assert not any(p.startswith(("/root", "/home", "/work")) for p in paths if "venv" not in p)


def test_oom_kills_are_read_from_v1_and_v2_counters(tmp_path: Path) -> None:
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert cgroups.oom_killed(cgroups.Cgroup(2, {"": str(tmp_path)}))
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not cgroups.oom_killed(cgroups.Cgroup(1, {"memory": str(tmp_path)}))
    assert not cgroups.oom_killed(cgroups.Cgroup(1, {}))
