"""ForkSandbox only: what isolated sessions forked from a real zygote do beyond what plain processes do.

What both kinds do is in test_contract.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import LoopThread, run_blocks

from codeloop.errors import SandboxFailure
from codeloop.execution import Outcome
from codeloop.sandbox import ForkSandbox, Limits, SandboxConfig
from processes import alive, descendants, wait_gone

LIMITS = Limits(timeout_s=10.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=32, file_mib=32)


@pytest.fixture(scope="module")
def sandbox(loop_thread: LoopThread) -> Iterator[ForkSandbox]:
    sandbox = ForkSandbox(LIMITS)
    loop_thread.run(sandbox.start())
    yield sandbox
    loop_thread.run(sandbox.close())


def test_a_session_starts_with_the_stack_loaded(loop_thread, sandbox) -> None:
    (first,) = run_blocks(
        loop_thread,
        sandbox,
        "import sys\nprint(sorted(m for m in ('numpy', 'pandas', 'matplotlib.pyplot') if m in sys.modules))",
    )
    assert first.output == "['matplotlib.pyplot', 'numpy', 'pandas']\n"


def test_the_deadline_kills_the_whole_tree_and_resets_the_session(loop_thread, sandbox) -> None:
    code = (
        "import os, subprocess\n"
        # A daemon in its own session: a process group kill would miss it, the pid namespace does not.
        "subprocess.Popen(['setsid', 'sleep', '1000'])\n"
        "print('started', flush=True)\n"
        "while True:\n    pass\n"
    )

    async def go():
        session = await sandbox.open_session()
        try:
            await session.run("x = 1")
            pid = session.pid
            started = time.monotonic()
            running = asyncio.create_task(session.run(code, timeout_s=1))
            await asyncio.sleep(0.5)
            tree = descendants(pid) | {pid}
            assert len(tree) >= 2  # the interpreter and the daemon (setsid exec()s sleep)
            result = await running
            elapsed = time.monotonic() - started
            assert result.outcome == Outcome.OUTCOME_DEADLINE_EXCEEDED
            assert 1 <= elapsed < 4
            assert result.output.startswith("started\n")
            assert "Execution timed out after 1 s" in result.output
            assert await asyncio.to_thread(wait_gone, *tree) == []
            reset = await session.run("print(x)")
            assert "NameError: name 'x' is not defined" in reset.output
            assert session.pid not in (None, pid)
        finally:
            await session.close()

    loop_thread.run(go())


def test_each_session_draws_its_own_random_numbers(loop_thread, sandbox) -> None:
    code = "import random, numpy\nprint(random.random(), numpy.random.rand())"
    (one,) = run_blocks(loop_thread, sandbox, code)
    (two,) = run_blocks(loop_thread, sandbox, code)
    assert one.output != two.output


def test_pip_install_fails_cleanly(loop_thread, sandbox) -> None:
    code = (
        "import subprocess, sys\n"
        "print(subprocess.run([sys.executable, '-m', 'pip', 'install', 'no-such-package-xyz']).returncode)"
    )
    started = time.monotonic()
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert time.monotonic() - started < 8
    assert result.outcome == Outcome.OUTCOME_OK
    assert result.output.rstrip().endswith("1")
    assert "ERROR" in result.output


def test_memory_exhaustion_fails_with_a_clear_message(loop_thread, sandbox) -> None:
    grow = "chunks = []\nwhile True:\n    chunks.append(bytearray(16 << 20))"
    at_once = "import numpy as np\nnp.ones((1 << 40,), dtype=np.uint8)"
    grown, big, after = run_blocks(loop_thread, sandbox, grow, at_once, "print('ok')")
    assert grown.outcome == Outcome.OUTCOME_FAILED
    assert "MemoryError" in grown.output or "ran out of memory" in grown.output
    assert big.outcome == Outcome.OUTCOME_FAILED
    assert "Unable to allocate" in big.output
    assert after.output == "ok\n"


SERVER = """
import asyncio, os, sys, time
from codeloop.sandbox import ForkSandbox, Limits, SandboxConfig
from codeloop.sandbox.base import SessionCounts

async def main():
    sandbox = ForkSandbox(Limits(), SandboxConfig(preload=()))
    session = await sandbox.open_session()
    await session.run("import subprocess\\nsubprocess.Popen(['setsid', 'sleep', '1000'])")
    print(os.getpid(), flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_every_sandbox_process_dies_with_the_server() -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        pid = int(server.stdout.readline())
        tree = descendants(pid)
        assert len(tree) >= 4  # zygote, keeper, session, sleep (at least)
        assert all(alive(p) for p in tree)
        server.kill()  # kill -9: no cleanup at all, only the kernel's death signals
        server.wait()
        assert wait_gone(*tree) == []
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


GEMINI_LIBRARIES = [
    "numpy",
    "pandas",
    "matplotlib",
    "scipy",
    "sympy",
    "sklearn",
    "seaborn",
    "PIL",
    "openpyxl",
    "xlrd",
    "docx",
    "pptx",
    "reportlab",
    "fpdf",
    "PyPDF2",
    "lxml",
    "jinja2",
    "tabulate",
    "mpmath",
    "chess",
    "striprtf",
    "imageio",
    "cv2",
    "geopandas",
    "pylatex",
    "joblib",
    "jsonschema",
    "attrs",
    "toolz",
    "six",
    "dateutil",
    "packaging",
    "google.protobuf",
    "pyparsing",
    "contourpy",
]


def test_geminis_libraries_import_in_a_session(loop_thread, sandbox) -> None:
    code = (
        "import importlib, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"for name in {GEMINI_LIBRARIES!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(name, type(exc).__name__, exc)\n"
        "print('done')\n"
    )
    (result,) = run_blocks(loop_thread, sandbox, code, timeout_s=60)
    assert result.output == "done\n"


def test_where_isolation_is_impossible_the_sandbox_refuses(loop_thread, tmp_path: Path) -> None:
    # A user namespace with no mapping: no uid of ours maps, so no nested user namespace can be made.
    python = tmp_path / "python-without-userns"
    python.write_text(f'#!/bin/sh\nexec unshare --user {sys.executable} "$@"\n')
    python.chmod(0o755)

    async def go():
        sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=()), python=str(python))
        try:
            with pytest.raises(SandboxFailure, match=r"CLONE_NEWUSER.*--insecure-no-sandbox"):
                await sandbox.start()
        finally:
            await sandbox.close()

    loop_thread.run(go())


def test_threads_processes_and_pools_work_inside(loop_thread, sandbox) -> None:
    code = (
        "import concurrent.futures as cf, multiprocessing as mp, socket\n"
        "with cf.ThreadPoolExecutor(4) as ex:\n"
        "    print(list(ex.map(abs, [-1, -2])))\n"
        "with mp.Pool(2) as pool:\n"
        "    print(pool.map(abs, [-3, -4]))\n"
        "print(socket.gethostname())\n"
    )
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert result.output == "[1, 2]\n[3, 4]\nsandbox\n"


def test_an_unprivileged_server_isolates_sessions_too(loop_thread, tmp_path: Path) -> None:
    # The server's root is only root of a user namespace here, as in a rootless container: the
    # sandbox takes the unprivileged path (user namespace first, no cgroups, rlimits only).
    python = tmp_path / "python-in-userns"
    python.write_text(f'#!/bin/sh\nexec unshare --user --map-root-user {sys.executable} "$@"\n')
    python.chmod(0o755)
    readme = Path(__file__).resolve().parents[3] / "README.md"
    code = (
        "import os, socket\n"
        f"print(os.path.exists({str(readme)!r}), os.listdir('/proc').count('1'))\n"
        "try:\n"
        "    socket.socket()\n"
        "except OSError as exc:\n"
        "    print(exc.errno)\n"
        "open('written', 'w').write('x')\n"
    )

    async def go():
        sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=()), python=str(python))
        try:
            session = await sandbox.open_session()
            return await session.run(code)
        finally:
            await sandbox.close()

    result = loop_thread.run(go())
    assert result.outcome == Outcome.OUTCOME_OK, result.output
    assert result.output == "False 1\n97\n"  # EAFNOSUPPORT


def test_spare_interpreters_are_kept_started_and_closing_ends_them(loop_thread) -> None:
    async def go():
        sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=(), spare_sessions=2))
        await sandbox.start()
        (zygote,) = sandbox.zygote_pids
        try:
            first = await sandbox.open_session()
            await first.close()
            await asyncio.sleep(0.5)
            assert len(descendants(zygote)) == 4  # two spares: a keeper and an interpreter each
        finally:
            tree = descendants(zygote) | {zygote}
            await sandbox.close()
            assert await asyncio.to_thread(wait_gone, *tree) == []

    loop_thread.run(go())
