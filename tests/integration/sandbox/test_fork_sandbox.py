"""ForkSandbox end to end: isolated sessions forked from a real zygote, running real blocks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import LoopThread

from codeloop.errors import QuotaExceeded, SandboxFailure
from codeloop.sandbox import ForkSandbox, Limits, SandboxConfig
from codeloop.sandbox.base import SessionCounts
from codeloop.sandbox.execution import Outcome
from processes import alive, descendants, wait_gone

LIMITS = Limits(timeout_s=10.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=32, file_mib=32)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sandbox(loop_thread: LoopThread) -> Iterator[ForkSandbox]:
    sandbox = ForkSandbox(LIMITS)
    loop_thread.run(sandbox.start())
    yield sandbox
    loop_thread.run(sandbox.close())


def run_blocks(loop_thread: LoopThread, sandbox: ForkSandbox, *blocks: str, timeout_s: float | None = None):
    async def go():
        session = await sandbox.open_session()
        try:
            return [await session.run(code, timeout_s) for code in blocks]
        finally:
            await session.close()

    return loop_thread.run(go())


def test_a_session_starts_with_the_stack_loaded_and_keeps_state(loop_thread, sandbox) -> None:
    first, second = run_blocks(
        loop_thread,
        sandbox,
        "import sys\nprint(sorted(m for m in ('numpy', 'pandas', 'matplotlib.pyplot') if m in sys.modules))\n"
        "x = 41",
        "print(x + 1)",
    )
    assert first.output == "['matplotlib.pyplot', 'numpy', 'pandas']\n"
    assert second.outcome == Outcome.OUTCOME_OK
    assert second.output == "42\n"


def test_output_of_prints_and_subprocesses_interleaves(loop_thread, sandbox) -> None:
    code = (
        "import os, sys\nprint('one')\nos.system('echo two')\nprint('three', file=sys.stderr)\nprint('four')"
    )
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert result.output == "one\ntwo\nthree\nfour\n"


def test_exceptions_fail_with_a_repl_traceback(loop_thread, sandbox) -> None:
    (result,) = run_blocks(loop_thread, sandbox, "print('before')\n1/0")
    assert result.outcome == Outcome.OUTCOME_FAILED
    assert result.output.startswith("before\nTraceback (most recent call last):\n")
    assert result.output.endswith("ZeroDivisionError: division by zero\n")
    assert "zygote" not in result.output and "child.py" not in result.output


def test_misspelt_names_get_python_3_12s_hint(loop_thread, sandbox) -> None:
    typo, missing_import, attribute, hostile, unknown = run_blocks(
        loop_thread,
        sandbox,
        "ebay_price = 13\nprint(eBay_price)",
        "print(math.sqrt(2))",
        "import numpy as np\nnp.arange(3).summ()",
        "class Odd:\n    def __dir__(self): raise RuntimeError\nOdd().missing",
        "print(qqqq)",
    )
    assert typo.output.endswith("NameError: name 'eBay_price' is not defined. Did you mean: 'ebay_price'?\n")
    assert missing_import.output.endswith(". Did you forget to import 'math'?\n")
    assert attribute.output.endswith("has no attribute 'summ'. Did you mean: 'sum'?\n")
    assert hostile.output.endswith("AttributeError: 'Odd' object has no attribute 'missing'\n")
    assert unknown.output.endswith("NameError: name 'qqqq' is not defined\n")


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


def test_a_dying_interpreter_fails_the_block_and_recovers(loop_thread, sandbox) -> None:
    exited, back, killed, again = run_blocks(
        loop_thread,
        sandbox,
        "import os\nprint('bye', flush=True)\nos._exit(3)",
        "print('back')",
        # Signals from inside cannot kill pid 1 of a pid namespace; a fault still does.
        "import ctypes\nctypes.string_at(0)",
        "print('back again')",
    )
    assert exited.outcome == Outcome.OUTCOME_FAILED
    assert exited.output.startswith("bye\n") and "exited with code 3" in exited.output
    assert back.output == "back\n"
    assert "Fatal Python error: Segmentation fault" in killed.output
    assert "killed by signal SIGSEGV" in killed.output
    assert again.output == "back again\n"


def test_output_is_capped_with_a_marker(loop_thread, sandbox) -> None:
    (flood,) = run_blocks(loop_thread, sandbox, "print('x' * 5_000_000)\nprint('tail')")
    assert flood.outcome == Outcome.OUTCOME_OK
    assert len(flood.output.encode()) < 64 * 1024 + 100
    assert "[output truncated: " in flood.output


def test_figures_and_written_files_come_back(loop_thread, sandbox) -> None:
    plot = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"
    write = f"open('out.png', 'wb').write({PNG_SIGNATURE!r} + b'rest')\nopen('notes.txt', 'w').write('x')"
    figure, written = run_blocks(loop_thread, sandbox, plot, write)
    assert figure.outcome == Outcome.OUTCOME_OK, figure.output
    assert figure.output == ""
    assert [(f.name, f.mime_type) for f in figure.files] == [("figure_1.png", "image/png")]
    assert figure.files[0].data.startswith(PNG_SIGNATURE)
    assert [(f.name, f.mime_type, f.data) for f in written.files] == [
        ("notes.txt", "text/plain", b"x"),
        ("out.png", "image/png", PNG_SIGNATURE + b"rest"),
    ]


def test_each_block_reports_what_it_cost(loop_thread, sandbox) -> None:
    idle, busy = run_blocks(
        loop_thread,
        sandbox,
        "pass",
        "import time\nblob = bytearray(64 << 20)\nt = time.process_time()\n"
        "while time.process_time() - t < 0.2: pass\ntime.sleep(0.1)",
    )
    assert idle.stats is not None and busy.stats is not None
    assert busy.stats.cpu_ms >= 150 and busy.stats.wall_ms >= 250
    assert busy.stats.peak_memory_bytes >= idle.stats.peak_memory_bytes + (60 << 20)
    # The peak is the block's own: after the big block, a small one reports a small peak again.
    (after,) = run_blocks(loop_thread, sandbox, "pass")
    assert after.stats is not None and after.stats.peak_memory_bytes < busy.stats.peak_memory_bytes


def test_input_files_are_staged_in_the_working_dir(loop_thread, sandbox) -> None:
    async def go():
        session = await sandbox.open_session()
        try:
            await session.put_file("data.csv", b"a,b\n1,2\n")
            with pytest.raises(SandboxFailure, match="not a plain file name"):
                await session.put_file("../escape.csv", b"x")
            summed = await session.run("import pandas as pd\nprint(pd.read_csv('data.csv').b.sum())")
            # Bigger than one protocol frame: it travels in pieces.
            await session.put_file("big.bin", bytes(range(256)) * (90_000))
            big = await session.run(
                "import hashlib\nprint(hashlib.sha256(open('big.bin','rb').read()).hexdigest())"
            )
            return summed, big
        finally:
            await session.close()

    summed, big = loop_thread.run(go())
    assert summed.output == "2\n" and summed.files == ()  # staged files are inputs, not results
    assert big.output.strip() == hashlib.sha256(bytes(range(256)) * 90_000).hexdigest()


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


def test_close_leaves_no_process(loop_thread, sandbox) -> None:
    async def go():
        session = await sandbox.open_session()
        await session.run("import subprocess\nsubprocess.Popen(['sleep', '1000'])")
        pid = session.pid
        tree = descendants(pid) | {pid}
        assert len(tree) >= 2
        await session.close()
        await session.close()  # idempotent
        with pytest.raises(SandboxFailure):
            await session.run("print(1)")
        return tree

    tree = loop_thread.run(go())
    assert wait_gone(*tree) == []


def test_a_cancelled_run_leaves_a_usable_session(loop_thread, sandbox) -> None:
    async def go():
        session = await sandbox.open_session()
        try:
            pid = session.pid
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(session.run("while True:\n    pass"), 0.3)
            assert await asyncio.to_thread(wait_gone, pid) == []
            return await session.run("print('fresh')")
        finally:
            await session.close()

    assert loop_thread.run(go()).output == "fresh\n"


def test_idle_sessions_are_reset_and_the_least_recently_used_evicted(loop_thread) -> None:
    config = SandboxConfig(preload=(), max_sessions=2, idle_timeout_s=0.5)

    async def go():
        sandbox = ForkSandbox(LIMITS, config)
        try:
            one, two = await sandbox.open_session(), await sandbox.open_session()
            await one.run("x = 1")
            await two.run("y = 2")
            first_pid = one.pid
            three = await sandbox.open_session()  # one more than max: `one` is the least recently used
            assert one.pid is None and two.pid is not None and three.pid is not None
            assert await asyncio.to_thread(wait_gone, first_pid) == []
            evicted = await one.run("print('x' in globals())")
            assert evicted.output.startswith("[session evicted")
            assert evicted.output.endswith("False\n")
            await asyncio.sleep(1.5)
            assert [one.pid, two.pid, three.pid] == [None, None, None]
            idle = await three.run("print(1)")
            assert idle.output.startswith("[session idle for over 0.5 s")
        finally:
            await sandbox.close()

    loop_thread.run(go())


def test_too_many_busy_sessions_is_a_quota_error(loop_thread) -> None:
    async def go():
        sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=(), max_sessions=1))
        try:
            one = await sandbox.open_session()
            busy = asyncio.create_task(one.run("import time\ntime.sleep(2)"))
            await asyncio.sleep(0.3)
            with pytest.raises(QuotaExceeded):
                await sandbox.open_session()
            await busy
        finally:
            await sandbox.close()

    loop_thread.run(go())


def test_a_python_that_cannot_start_is_a_sandbox_failure(loop_thread, tmp_path: Path) -> None:
    async def go():
        sandbox = ForkSandbox(LIMITS, python=str(tmp_path / "no-such-python"))
        try:
            with pytest.raises(SandboxFailure, match="cannot start"):
                await sandbox.open_session()
        finally:
            await sandbox.close()

    loop_thread.run(go())


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


def test_files_come_back_base64_safe(loop_thread, sandbox) -> None:
    data = bytes(range(256))
    code = f"open('raw.png', 'wb').write(bytes.fromhex({data.hex()!r}))"
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert base64.b64encode(result.files[0].data) == base64.b64encode(data)


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


def test_spare_interpreters_are_fresh_and_closing_ends_them(loop_thread) -> None:
    async def go():
        sandbox = ForkSandbox(LIMITS, SandboxConfig(preload=(), spare_sessions=2))
        await sandbox.start()
        zygote = sandbox._zygotes[0].proc.pid
        try:
            first = await sandbox.open_session()
            await first.run("leftover = 1\nopen('mine.txt', 'w').write('x')")
            await first.close()
            await asyncio.sleep(0.5)
            assert len(descendants(zygote)) == 4  # two spares: a keeper and an interpreter each
            second = await sandbox.open_session()
            return await second.run("import os\nprint('leftover' in globals(), os.listdir('.'))")
        finally:
            tree = descendants(zygote) | {zygote}
            await sandbox.close()
            assert await asyncio.to_thread(wait_gone, *tree) == []

    assert loop_thread.run(go()).output == "False []\n"


def test_session_counts_follow_opens_closes_and_spares(loop_thread) -> None:
    config = SandboxConfig(preload=(), max_sessions=3, spare_sessions=1)

    async def go():
        sandbox = ForkSandbox(LIMITS, config)
        try:
            await sandbox.start()
            assert sandbox.session_counts == SessionCounts(open=0, spare=1, max_live=3)
            one, two = await sandbox.open_session(), await sandbox.open_session()
            assert sandbox.session_counts == SessionCounts(open=2, spare=1, max_live=3)  # spares refilled
            await one.close()
            await two.close()
            assert sandbox.session_counts.open == 0
        finally:
            await sandbox.close()
        assert sandbox.session_counts.spare == 0

    loop_thread.run(go())
