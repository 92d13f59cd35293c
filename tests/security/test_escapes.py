"""One escape attempt per test, sent as model code through the real HTTP server.

Each attack is first shown to work against the --insecure-no-sandbox server where that is safe
to run on the test machine (so the test would catch a sandbox that silently did nothing), then
shown to fail against the sandboxed one. Every `execute` also checks /healthz afterwards.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time

import httpx
from servers import CANARY, LIMITS, REPO, Server

from processes import alive, descendants
from serve_process import start_serve

NO_PRELOAD_LONG_DEADLINE = ("--exec-timeout", "60", "--preload", "")
OK, FAILED, DEADLINE = "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"


def test_a_listener_on_the_host_loopback_is_unreachable(sandboxed: Server, unsandboxed: Server) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('BLOCKED', exc)\n"
        )
        assert unsandboxed.execute(code).output.startswith("CONNECTED")
        assert sandboxed.execute(code).output.startswith("BLOCKED")


def test_no_socket_reaches_any_network_or_resolver(sandboxed: Server, unsandboxed: Server) -> None:
    code = (
        "import socket\n"
        "kinds = [(socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_STREAM),\n"
        "         (socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW)]\n"
        "for family, kind in kinds:\n"
        "    try:\n"
        "        socket.socket(family, kind).close()\n"
        "        print('OPENED', family.name)\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        "    socket.getaddrinfo('pypi.org', 443)\n"
        "    print('RESOLVED')\n"
        "except OSError:\n"
        "    pass\n"
        "print('done')\n"
    )
    assert "OPENED AF_INET" in unsandboxed.execute(code).output  # the host may or may not resolve names
    assert sandboxed.execute(code).output == "done\n"


def test_nothing_outside_the_working_dir_and_tmp_is_writable(
    sandboxed: Server, unsandboxed: Server, tmp_path
) -> None:
    outside = tmp_path / "written-from-the-sandbox"
    attempt = f"open({str(outside)!r}, 'w').write('x')\nprint('WROTE')"
    assert unsandboxed.execute(attempt).output == "WROTE\n"
    assert outside.exists()
    outside.unlink()

    targets = ["/etc/pwned", "/usr/pwned", "/pwned", "/home/pwned", str(outside), f"{REPO}/.venv/pwned"]
    code = (
        "import os, sys\n"
        f"for path in {targets!r} + [sys.prefix + '/pwned']:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError:\n"
        "        pass\n"
        "open('mine.txt', 'w').write('x')\n"
        "open('/tmp/mine.txt', 'w').write('x')\n"
        "print('done')\n"
    )
    result = sandboxed.execute(code)
    assert result.outcome == OK
    assert result.output == "done\n"
    assert not outside.exists()


def test_the_servers_environment_never_shows(sandboxed: Server, unsandboxed: Server) -> None:
    code = (
        "import glob, os\n"
        "seen = [repr(dict(os.environ))]\n"
        "for path in glob.glob('/proc/*/environ') + [f'/proc/{os.getppid()}/environ', '/proc/1/environ']:\n"
        "    try:\n"
        "        seen.append(open(path, 'rb').read().decode(errors='replace'))\n"
        "    except OSError:\n"
        "        pass\n"
        # The canary's value is split so that this code itself does not contain it.
        f"print({CANARY[:10]!r} + {CANARY[10:]!r} in ''.join(seen))\n"
    )
    assert unsandboxed.execute(code).output == "True\n"  # read from the server's /proc/<pid>/environ
    assert sandboxed.execute(code).output == "False\n"


def test_the_project_files_are_not_there(sandboxed: Server, unsandboxed: Server) -> None:
    paths = [str(REPO / "README.md"), str(REPO / "src"), str(REPO / "pyproject.toml"), str(REPO / ".git")]
    code = f"import os\nprint([os.path.exists(p) for p in {paths!r}])"
    assert unsandboxed.execute(code).output == "[True, True, True, True]\n"
    assert sandboxed.execute(code).output == "[False, False, False, False]\n"


def test_killing_the_parent_and_every_visible_pid_hurts_nobody(sandboxed: Server) -> None:
    # Not run unsandboxed: kill(-1) as root there would take the test machine down.
    code = (
        "import os, signal\n"
        "print(os.getppid(), sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n"
        "for pid in range(1, 1 << 15):\n"
        "    try:\n"
        "        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        "    os.kill(-1, signal.SIGKILL)\n"
        "except ProcessLookupError:\n"
        "    pass\n"
        "print('still here')\n"
    )
    result = sandboxed.execute(code)
    assert result.output == "0 [1]\nstill here\n"  # no parent, and only itself to see


def test_a_fork_bomb_is_contained(sandboxed: Server) -> None:
    time.sleep(0.5)  # the spare interpreter the last request left started is ready
    before = len(descendants(sandboxed.process.pid))  # the zygote and a spare (keeper, interpreter)
    started = time.monotonic()
    result = sandboxed.execute("import os\nwhile True:\n    os.fork()")
    assert result.outcome in (FAILED, DEADLINE)
    assert time.monotonic() - started < 10
    # The request is over: its session, and everything the bomb forked, is gone.
    deadline = time.monotonic() + 5
    while len(descendants(sandboxed.process.pid)) > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(descendants(sandboxed.process.pid)) == before
    assert sandboxed.execute("print('fine')").output == "fine\n"


def test_a_memory_bomb_fails_cleanly(sandboxed: Server) -> None:
    at_once = sandboxed.execute("x = bytearray(1 << 40)")
    assert at_once.outcome == FAILED
    assert "MemoryError" in at_once.output
    grown = sandboxed.execute("chunks = []\nwhile True:\n    chunks.append(b'x' * (8 << 20))")
    assert grown.outcome == FAILED
    assert "MemoryError" in grown.output or "ran out of memory" in grown.output


def test_filling_the_disk_stops_at_the_sessions_quota(sandboxed: Server) -> None:
    code = (
        "import os\n"
        "for path in ('fill', '/tmp/fill', '/dev/shm/fill'):\n"
        "    written = 0\n"
        "    try:\n"
        "        with open(path, 'wb') as f:\n"
        "            while True:\n"
        "                f.write(b'x' * (1 << 20))\n"
        "                f.flush()\n"
        "                written += 1\n"
        "    except OSError as exc:\n"
        "        print(path, written <= 64, exc.errno in (27, 28))\n"  # EFBIG, ENOSPC
    )
    result = sandboxed.execute(code)
    assert result.outcome == OK, result.output
    assert result.output.startswith("fill True True\n/tmp/fill True True\n/dev/shm/fill True True\n")
    assert "[fill not returned: " in result.output  # too big to come back, and said so


def test_an_infinite_loop_hits_the_deadline(sandboxed: Server) -> None:
    started = time.monotonic()
    result = sandboxed.execute("while True:\n    pass")
    assert result.outcome == DEADLINE
    assert time.monotonic() - started < 6


def test_a_hundred_megabytes_of_output_are_capped(sandboxed: Server) -> None:
    started = time.monotonic()
    result = sandboxed.execute("import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))")
    assert result.outcome == OK
    assert len(result.output) < 65536 + 200
    assert "[output truncated: " in result.output
    assert time.monotonic() - started < 20


PTRACE = (
    "import ctypes, os, signal, time\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "child = os.fork()\n"
    "if child == 0:\n"
    "    time.sleep(30)\n"
    "    os._exit(0)\n"
    "attached = libc.ptrace(16, child, 0, 0) == 0\n"  # PTRACE_ATTACH
    "os.kill(child, signal.SIGKILL)\n"
    "os.waitpid(child, 0)\n"
    "print('ATTACHED' if attached else f'DENIED {ctypes.get_errno()}')\n"
)


def test_ptrace_is_denied(sandboxed: Server, unsandboxed: Server) -> None:
    assert unsandboxed.execute(PTRACE).output == "ATTACHED\n"
    assert sandboxed.execute(PTRACE).output == "DENIED 1\n"  # EPERM


def test_mount_is_denied(sandboxed: Server) -> None:
    # Not run unsandboxed: as root it would mount over the test machine's /tmp.
    code = (
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None), ctypes.get_errno())\n"
    )
    assert sandboxed.execute(code).output == "-1 1\n"


NAMESPACES = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "print('unshare', libc.unshare(0x10000000), ctypes.get_errno())\n"  # CLONE_NEWUSER
    "fd = os.open('/proc/self/ns/net', os.O_RDONLY)\n"
    "print('setns', libc.setns(fd, 0), ctypes.get_errno())\n"
)


def test_entering_or_making_namespaces_is_denied(sandboxed: Server, unsandboxed: Server) -> None:
    assert unsandboxed.execute(NAMESPACES).output.startswith("unshare 0 ")
    assert sandboxed.execute(NAMESPACES).output == "unshare -1 1\nsetns -1 1\n"


def test_one_session_sees_nothing_of_another(sandboxed: Server, unsandboxed: Server) -> None:
    writer = (
        "import time\n"
        "SECRET = 'first'\n"
        "open('/tmp/secret.txt', 'w').write('s')\n"
        "open('secret.txt', 'w').write('s')\n"
        "time.sleep(3)\n"
    )
    reader = (
        "import os\n"
        "print(os.path.exists('/tmp/secret.txt'), os.path.exists('secret.txt'), 'SECRET' in globals())\n"
    )

    def concurrently(server: Server) -> str:
        thread = threading.Thread(target=server.execute, args=(writer,))
        thread.start()
        time.sleep(1.5)
        try:
            return server.execute(reader).output
        finally:
            thread.join()

    assert concurrently(unsandboxed).startswith("True")  # both sessions share the host's /tmp
    with_sandbox = concurrently(sandboxed)
    assert with_sandbox == "False False False\n"
    if os.path.exists("/tmp/secret.txt"):
        os.unlink("/tmp/secret.txt")


def test_no_process_outlives_a_killed_server() -> None:
    served = start_serve("--model", "scripted", *LIMITS, *NO_PRELOAD_LONG_DEADLINE)
    server, url = served.process, served.url
    try:
        code = "import subprocess, time\nsubprocess.Popen(['setsid', 'sleep', '1000'])\ntime.sleep(60)"
        body = json.dumps(
            {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}
        )
        with httpx.Client(base_url=url, timeout=30) as http:
            path = "/v1beta/models/scripted:streamGenerateContent?alt=sse"
            with http.stream("POST", path, content=body) as stream:
                lines = stream.iter_lines()
                assert any("executableCode" in line for line in lines)
                time.sleep(1.0)
                tree = descendants(server.pid)
                assert len(tree) >= 4  # zygote, keeper, session, sleep
                server.kill()
                server.wait()
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [pid for pid in tree if alive(pid)] == []
    finally:
        server.kill()
        server.wait()


HOST_LAYOUT = (
    "import json, os, sys\n"
    "def read(path):\n"
    "    try:\n"
    "        return open(path, 'rb').read().decode(errors='replace')\n"
    "    except OSError as exc:\n"
    "        return str(exc)\n"
    "places = {path: read(path) for path in\n"
    "          ('/proc/1/cmdline', '/proc/self/cmdline', '/proc/1/environ', '/proc/self/environ')}\n"
    "places.update(environ=repr(dict(os.environ)), cwd=os.getcwd(), home=os.path.expanduser('~'),\n"
    "              argv=repr(sys.argv), orig_argv=repr(sys.orig_argv), path=repr(sys.path),\n"
    "              mountinfo=read('/proc/self/mountinfo'))\n"
    "print(json.dumps(places))\n"
)


def test_no_trace_of_the_servers_pid_temp_dir_or_project(sandboxed: Server, unsandboxed: Server) -> None:
    def seen(server: Server) -> dict[str, str]:
        result = server.execute(HOST_LAYOUT)
        assert result.outcome == OK, result.output
        return json.loads(result.output)

    def numbers(text: str) -> set[str]:
        return set(re.findall(r"\d+", text))

    plain = seen(unsandboxed)  # the probe finds all three where nothing hides them
    assert str(unsandboxed.process.pid) in numbers(plain["/proc/self/cmdline"])
    assert "codeloop-sandbox-" in plain["home"]
    assert str(REPO) in plain["/proc/self/cmdline"]

    places = seen(sandboxed)
    pid, project = str(sandboxed.process.pid), str(REPO)
    for name, text in places.items():
        assert "codeloop-sandbox-" not in text, name  # the server's private dir, named after its pid
    for name in ("/proc/1/cmdline", "/proc/self/cmdline", "/proc/1/environ", "/proc/self/environ"):
        assert pid not in numbers(places[name]), name
        assert project not in places[name], name
    for name in ("cwd", "home", "argv", "orig_argv"):
        assert project not in places[name] and pid not in numbers(places[name]), name
    # Only the Python install is on sys.path (and so, as sys.prefix, in the session's view);
    # the project's source dir, which an editable install adds, is not.
    assert str(REPO / "src") not in places["path"]
