"""What every Sandbox does, whichever kind: each test runs against isolated sessions forked from a
real zygote (ForkSandbox) and against plain child processes (ProcessSandbox, --insecure-no-sandbox)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sandbox_helpers import LoopThread, run_blocks

from codeloop.errors import QuotaExceeded, SandboxFailure
from codeloop.execution import Outcome
from codeloop.sandbox import ForkSandbox, Limits, ProcessSandbox, SandboxConfig
from codeloop.sandbox.base import SessionCounts
from processes import alive, descendants, wait_gone

LIMITS = Limits(timeout_s=10.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=32, file_mib=32)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KINDS: dict[str, type[ForkSandbox] | type[ProcessSandbox]] = {"fork": ForkSandbox, "process": ProcessSandbox}


def make(kind: str, config: SandboxConfig | None = None, **options: Any) -> ForkSandbox | ProcessSandbox:
    return KINDS[kind](LIMITS, config, **options)


@pytest.fixture(scope="module", params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def sandbox(loop_thread: LoopThread, kind: str) -> Iterator[ForkSandbox | ProcessSandbox]:
    sandbox = make(kind)
    loop_thread.run(sandbox.start())
    yield sandbox
    loop_thread.run(sandbox.close())


def in_session(loop_thread: LoopThread, sandbox, scenario) -> Any:
    async def go():
        session = await sandbox.open_session()
        try:
            return await scenario(session)
        finally:
            await session.close()

    return loop_thread.run(go())


def in_new_sandbox(loop_thread: LoopThread, kind: str, scenario, config: SandboxConfig | None = None) -> Any:
    async def go():
        sandbox = make(kind, config)
        try:
            return await scenario(sandbox)
        finally:
            await sandbox.close()

    return loop_thread.run(go())


def test_state_persists_across_blocks(loop_thread, sandbox) -> None:
    defined, used = run_blocks(loop_thread, sandbox, "x = 41\ndef inc(v):\n    return v + 1", "print(inc(x))")
    assert defined.output == ""
    assert used.outcome == Outcome.OUTCOME_OK
    assert used.output == "42\n"
    assert used.files == ()


def test_prints_and_subprocess_output_interleave_in_order(loop_thread, sandbox) -> None:
    code = (
        "import os, sys\n"
        "print('one')\n"
        "os.system('echo two')\n"
        "print('three', file=sys.stderr)\n"
        "os.system('echo four >&2')\n"
        "os.write(1, b'five\\n')\n"
        "print('six')\n"
    )
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert result.outcome == Outcome.OUTCOME_OK
    assert result.output == "one\ntwo\nthree\nfour\nfive\nsix\n"


def test_exceptions_fail_with_a_repl_traceback(loop_thread, sandbox) -> None:
    _, failed, still, divided = run_blocks(
        loop_thread,
        sandbox,
        "def check(v):\n    raise ValueError(f'bad value {v}')\n",
        "print('before')\ncheck(42)\nprint('never')",
        "print('still here')",
        "print('before')\n1/0",
    )
    assert failed.outcome == Outcome.OUTCOME_FAILED
    assert failed.output.startswith("before\nTraceback (most recent call last):\n")
    # Frames of both blocks, each with its own source line.
    assert 'File "<string>", line 2, in <module>\n    check(42)\n' in failed.output
    assert 'File "<string>", line 2, in check\n    raise ValueError' in failed.output
    assert failed.output.endswith("ValueError: bad value 42\n")
    assert "never" not in failed.output
    assert "child.py" not in failed.output
    assert still.output == "still here\n"
    assert divided.outcome == Outcome.OUTCOME_FAILED
    assert divided.output.startswith("before\nTraceback (most recent call last):\n")
    assert divided.output.endswith("ZeroDivisionError: division by zero\n")
    assert "zygote" not in divided.output and "child.py" not in divided.output


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


def test_syntax_error_fails(loop_thread, sandbox) -> None:
    (result,) = run_blocks(loop_thread, sandbox, "print('not run')\nx = (")
    assert result.outcome == Outcome.OUTCOME_FAILED
    assert result.output.startswith('  File "<string>", line 2\n')
    assert "SyntaxError: '(' was never closed" in result.output
    assert "not run" not in result.output


def test_system_exit_keeps_the_session(loop_thread, sandbox) -> None:
    async def scenario(session):
        pid = session.pid
        assert (await session.run("x = 1\nimport sys\nsys.exit(0)")).outcome == Outcome.OUTCOME_OK
        assert (await session.run("exit()")).outcome == Outcome.OUTCOME_OK
        failed = await session.run("import sys\nsys.exit(2)")
        assert failed.outcome == Outcome.OUTCOME_FAILED
        assert failed.output == "SystemExit: 2\n"
        after = await session.run("print(x, input.__name__)")
        assert after.output == "1 input\n"
        assert session.pid == pid

    in_session(loop_thread, sandbox, scenario)


def test_the_deadline_kills_restarts_and_resets_state(loop_thread, sandbox) -> None:
    code = (
        "import subprocess\n"
        "sleeper = subprocess.Popen(['sleep', '1000'])\n"
        "print('started', sleeper.pid, flush=True)\n"
        "while True:\n    pass\n"
    )

    async def scenario(session):
        await session.run("x = 1")
        first_pid = session.pid
        assert first_pid is not None
        started = time.monotonic()
        running = asyncio.create_task(session.run(code, timeout_s=1))
        await asyncio.sleep(0.5)
        tree = descendants(first_pid) | {first_pid}
        assert len(tree) >= 2  # the interpreter and the sleeper
        result = await running
        elapsed = time.monotonic() - started
        assert result.outcome == Outcome.OUTCOME_DEADLINE_EXCEEDED
        assert 1 <= elapsed < 3
        assert result.output.startswith("started ")
        assert "Execution timed out after 1 s" in result.output
        assert "state lost" in result.output
        assert await asyncio.to_thread(wait_gone, *tree) == []

        reset = await session.run("print(x)")
        assert reset.outcome == Outcome.OUTCOME_FAILED
        assert "NameError: name 'x' is not defined" in reset.output
        assert session.pid not in (None, first_pid)
        assert (await session.run("print('alive')")).output == "alive\n"

    in_session(loop_thread, sandbox, scenario)


def test_a_dying_interpreter_fails_the_block_and_recovers(loop_thread, sandbox) -> None:
    exited, back, crashed, again = run_blocks(
        loop_thread,
        sandbox,
        "x = 1\nimport os\nprint('bye', flush=True)\nos._exit(3)",
        "print('back', 'x' in globals())",
        "import ctypes\nctypes.string_at(0)",
        "print('back again')",
    )
    assert exited.outcome == Outcome.OUTCOME_FAILED
    assert exited.output.startswith("bye\n") and "exited with code 3" in exited.output
    assert "state lost" in exited.output
    assert back.output == "back False\n"  # the block that died said so: no note on the next one
    assert crashed.outcome == Outcome.OUTCOME_FAILED
    assert "Fatal Python error: Segmentation fault" in crashed.output
    assert "killed by signal SIGSEGV" in crashed.output
    assert again.output == "back again\n"


def test_output_is_capped_with_a_marker_and_the_traceback_kept(loop_thread, sandbox) -> None:
    flood, failed = run_blocks(
        loop_thread,
        sandbox,
        "print('x' * 5_000_000)\nprint('tail')",
        "print('y' * 5_000_000)\nraise ValueError('after the flood')",
    )
    assert flood.outcome == Outcome.OUTCOME_OK
    assert len(flood.output.encode()) < 64 * 1024 + 100
    assert flood.output.startswith("xxxx")
    assert "[output truncated: " in flood.output
    assert flood.output.endswith(" bytes not shown]\n")
    assert failed.outcome == Outcome.OUTCOME_FAILED
    assert len(failed.output.encode()) < 64 * 1024 + 100
    assert "[output truncated: " in failed.output
    assert failed.output.endswith("ValueError: after the flood\n")


def test_matplotlib_figures_come_back_as_png(loop_thread, sandbox) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "plt.show()\n"
        "plt.close()\n"  # show() already rendered it: closing after must not lose it
    )
    # A figure left open without show() is collected at the end of the block, once.
    result, left_open, after = run_blocks(
        loop_thread, sandbox, code, "plt.figure()\nplt.bar(['a', 'b'], [3, 5])", "print(plt.get_fignums())"
    )
    assert result.outcome == Outcome.OUTCOME_OK, result.output
    assert result.output == ""  # no "non-interactive" warning
    assert [(f.name, f.mime_type) for f in result.files] == [("figure_1.png", "image/png")]
    assert result.files[0].data.startswith(PNG_SIGNATURE)
    assert [f.name for f in left_open.files] == ["figure_1.png"]
    assert after.files == ()


def test_files_written_to_the_working_dir_are_collected(loop_thread, sandbox) -> None:
    write = (
        "import os\n"
        f"png = {PNG_SIGNATURE!r} + b'rest'\n"
        "open('out.png', 'wb').write(png)\n"
        "os.makedirs('plots', exist_ok=True)\n"
        "open('plots/b.JPG', 'wb').write(b'jpeg')\n"
        "open('notes.txt', 'w').write('not an image')\n"
        "open('.hidden', 'w').write('dot files are not results')\n"
        "os.makedirs('__pycache__', exist_ok=True)\n"
        "open('__pycache__/m.pyc', 'wb').write(b'neither are caches')\n"
    )
    result, listed, changed = run_blocks(
        loop_thread, sandbox, write, "print(sorted(os.listdir()))", "open('out.png', 'ab').write(b'more')"
    )
    assert result.outcome == Outcome.OUTCOME_OK
    assert [(f.name, f.mime_type, f.data) for f in result.files] == [
        ("notes.txt", "text/plain", b"not an image"),
        ("out.png", "image/png", PNG_SIGNATURE + b"rest"),
        ("plots/b.JPG", "image/jpeg", b"jpeg"),
    ]
    assert listed.files == ()
    assert [f.name for f in changed.files] == ["out.png"]


def test_files_come_back_base64_safe(loop_thread, sandbox) -> None:
    data = bytes(range(256))
    code = f"open('raw.png', 'wb').write(bytes.fromhex({data.hex()!r}))"
    (result,) = run_blocks(loop_thread, sandbox, code)
    assert base64.b64encode(result.files[0].data) == base64.b64encode(data)


def test_input_files_are_staged_in_the_working_dir(loop_thread, sandbox) -> None:
    async def scenario(session):
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

    summed, big = in_session(loop_thread, sandbox, scenario)
    assert summed.output == "2\n" and summed.files == ()  # staged files are inputs, not results
    assert big.output.strip() == hashlib.sha256(bytes(range(256)) * 90_000).hexdigest()


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


def test_repl_conveniences(loop_thread, sandbox) -> None:
    code = (
        "import os, pickle, dataclasses\n"
        "@dataclasses.dataclass\n"
        "class Point:\n"
        "    x: int\n"
        "print(pickle.loads(pickle.dumps(Point(3))))\n"
        "if __name__ == '__main__':\n"
        "    print('main')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    print('forked child')\n"  # falls out of the block: must not answer as the session
        "else:\n"
        "    os.waitpid(pid, 0)\n"
        "    print('parent')\n"
    )
    result, again = run_blocks(loop_thread, sandbox, code, "print(Point(4))")
    assert result.outcome == Outcome.OUTCOME_OK, result.output
    assert result.output == "Point(x=3)\nmain\nforked child\nparent\n"
    assert again.output == "Point(x=4)\n"


def test_sessions_share_neither_variables_nor_files(loop_thread, sandbox) -> None:
    async def go():
        first, second = await sandbox.open_session(), await sandbox.open_session()
        try:
            await first.run("secret = 'first'\nopen('mine.txt', 'w').write('x')")
            return await second.run("import os\nprint(os.path.exists('mine.txt'))\nprint(secret)")
        finally:
            await first.close()
            await second.close()

    result = loop_thread.run(go())
    assert result.outcome == Outcome.OUTCOME_FAILED
    assert result.output.startswith("False\n")
    assert "NameError: name 'secret' is not defined" in result.output


def test_close_leaves_no_process_and_no_dir(loop_thread, sandbox) -> None:
    async def go():
        session = await sandbox.open_session()
        await session.run("import subprocess\nsubprocess.Popen(['sleep', '1000'])")
        pid = session.pid
        tree = descendants(pid) | {pid}
        assert len(tree) >= 2
        assert all(alive(p) for p in tree)
        await session.close()
        await session.close()  # idempotent
        with pytest.raises(SandboxFailure):
            await session.run("print(1)")
        return tree, session.workdir

    tree, workdir = loop_thread.run(go())
    assert wait_gone(*tree) == []
    assert workdir is None or not workdir.exists()  # only plain processes have a dir on the host


def test_a_cancelled_run_leaves_a_usable_session(loop_thread, sandbox) -> None:
    async def scenario(session):
        pid = session.pid
        assert pid is not None
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.run("while True:\n    pass"), 0.3)
        assert await asyncio.to_thread(wait_gone, pid) == []
        return await session.run("print('fresh')")

    assert in_session(loop_thread, sandbox, scenario).output == "fresh\n"


def test_close_during_a_run_ends_it(loop_thread, sandbox) -> None:
    async def go():
        session = await sandbox.open_session()
        pid = session.pid
        assert pid is not None
        running = asyncio.create_task(session.run("import time\ntime.sleep(60)"))
        await asyncio.sleep(0.2)
        await session.close()
        with pytest.raises(SandboxFailure):
            await running
        return pid

    assert wait_gone(loop_thread.run(go())) == []


def test_sandbox_close_closes_every_session(loop_thread, kind) -> None:
    async def go():
        sandbox = make(kind)
        sessions = [await sandbox.open_session() for _ in range(3)]
        pids = [s.pid for s in sessions]
        await sandbox.close()
        with pytest.raises(SandboxFailure):
            await sandbox.open_session()
        return pids, [s.workdir for s in sessions]

    pids, workdirs = loop_thread.run(go())
    assert None not in pids
    assert wait_gone(*pids) == []
    assert not any(workdir is not None and workdir.exists() for workdir in workdirs)


def test_an_interpreter_that_cannot_start_is_a_sandbox_failure(loop_thread, kind, tmp_path: Path) -> None:
    async def go():
        sandbox = make(kind, python=str(tmp_path / "no-such-python"))
        try:
            with pytest.raises(SandboxFailure, match="cannot start"):
                await sandbox.open_session()
        finally:
            await sandbox.close()

    loop_thread.run(go())


SERVER = """
import asyncio, sys, time
from codeloop.sandbox import {kind}, Limits, SandboxConfig

async def main():
    session = await {kind}(Limits(), SandboxConfig(preload=()), root=sys.argv[1]).open_session()
    print(session.pid, flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_the_interpreter_dies_with_the_server(kind, tmp_path: Path) -> None:
    script = SERVER.format(kind=KINDS[kind].__name__)
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        interpreter = int(server.stdout.readline())
        assert alive(interpreter)
        server.kill()  # no close(), no cleanup: only the kernel's death signals can take it down
        server.wait()
        assert wait_gone(interpreter) == []
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def test_spare_interpreters_are_fresh(loop_thread, kind) -> None:
    async def scenario(sandbox):
        first = await sandbox.open_session()
        await first.run("leftover = 1\nopen('mine.txt', 'w').write('x')")
        await first.close()
        await asyncio.sleep(0.5)
        second = await sandbox.open_session()
        return await second.run("import os\nprint('leftover' in globals(), os.listdir('.'))")

    result = in_new_sandbox(loop_thread, kind, scenario, SandboxConfig(preload=(), spare_sessions=2))
    assert result.output == "False []\n"


def test_session_counts_follow_opens_closes_and_spares(loop_thread, kind) -> None:
    config = SandboxConfig(preload=(), max_sessions=3, spare_sessions=1)

    async def scenario(sandbox):
        assert sandbox.session_counts == SessionCounts(open=0, spare=0, max_live=3)
        await sandbox.start()
        assert sandbox.session_counts == SessionCounts(open=0, spare=1, max_live=3)
        one, two = await sandbox.open_session(), await sandbox.open_session()
        assert sandbox.session_counts == SessionCounts(open=2, spare=1, max_live=3)  # spares refilled
        await one.close()
        assert sandbox.session_counts.open == 1
        await two.close()
        assert sandbox.session_counts.open == 0
        return sandbox

    sandbox = in_new_sandbox(loop_thread, kind, scenario, config)
    assert sandbox.session_counts.spare == 0


def test_idle_sessions_are_reset_and_the_least_recently_used_evicted(loop_thread, kind) -> None:
    config = SandboxConfig(preload=(), max_sessions=2, idle_timeout_s=0.5)

    async def scenario(sandbox):
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
        assert evicted.stats is not None  # the note is added to the block's result, which stays whole
        await asyncio.sleep(1.5)
        assert [one.pid, two.pid, three.pid] == [None, None, None]
        idle = await three.run("print(1)")
        assert idle.output.startswith("[session idle for over 0.5 s")

    in_new_sandbox(loop_thread, kind, scenario, config)


def test_too_many_busy_sessions_is_a_quota_error(loop_thread, kind) -> None:
    async def scenario(sandbox):
        one = await sandbox.open_session()
        busy = asyncio.create_task(one.run("import time\ntime.sleep(2)"))
        await asyncio.sleep(0.3)
        with pytest.raises(QuotaExceeded):
            await sandbox.open_session()
        await busy

    in_new_sandbox(loop_thread, kind, scenario, SandboxConfig(preload=(), max_sessions=1))


def test_each_live_sessions_memory_is_reported(loop_thread, sandbox) -> None:
    async def go():
        small, big = await sandbox.open_session(), await sandbox.open_session()
        try:
            await small.run("pass")
            await big.run("blob = b'x' * (96 << 20)")
            memory = {m.session: m.bytes for m in sandbox.session_memory()}
            return memory, small.number, big.number
        finally:
            await small.close()
            await big.close()

    memory, small, big = loop_thread.run(go())
    assert {small, big} <= set(memory)
    assert memory[big] >= memory[small] + (90 << 20)
    assert all(m.session not in (small, big) for m in sandbox.session_memory())  # closed: gone
