"""ProcessSandbox end to end: real child processes running real blocks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from codeloop.errors import SandboxFailure
from codeloop.sandbox import Limits, ProcessSandbox
from codeloop.sandbox.base import SessionCounts
from codeloop.sandbox.execution import Outcome
from codeloop.sandbox.process import ProcessSession
from processes import alive, wait_gone

LIMITS = Limits(timeout_s=10.0, output_bytes=64 * 1024)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Scenario = Callable[[ProcessSandbox], Awaitable[None]]


def in_sandbox(scenario: Scenario, limits: Limits = LIMITS) -> None:
    async def main() -> None:
        sandbox = ProcessSandbox(limits)
        try:
            await scenario(sandbox)
        finally:
            await sandbox.close()

    asyncio.run(main())


def test_state_persists_across_blocks() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        assert (await session.run("x = 41\ndef inc(v):\n    return v + 1")).output == ""
        result = await session.run("print(inc(x))")
        assert result.outcome == Outcome.OUTCOME_OK
        assert result.output == "42\n"
        assert result.files == ()

    in_sandbox(scenario)


def test_prints_and_subprocess_output_interleave_in_order() -> None:
    code = (
        "import os, sys\n"
        "print('one')\n"
        "os.system('echo two')\n"
        "print('three', file=sys.stderr)\n"
        "os.system('echo four >&2')\n"
        "os.write(1, b'five\\n')\n"
        "print('six')\n"
    )

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(code)
        assert result.outcome == Outcome.OUTCOME_OK
        assert result.output == "one\ntwo\nthree\nfour\nfive\nsix\n"

    in_sandbox(scenario)


def test_exception_fails_with_a_repl_traceback() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        await session.run("def check(v):\n    raise ValueError(f'bad value {v}')\n")
        result = await session.run("print('before')\ncheck(42)\nprint('never')")
        assert result.outcome == Outcome.OUTCOME_FAILED
        assert result.output.startswith("before\nTraceback (most recent call last):\n")
        # Frames of both blocks, each with its own source line.
        assert 'File "<string>", line 2, in <module>\n    check(42)\n' in result.output
        assert 'File "<string>", line 2, in check\n    raise ValueError' in result.output
        assert result.output.endswith("ValueError: bad value 42\n")
        assert "never" not in result.output
        assert "child.py" not in result.output
        assert (await session.run("print('still here')")).output == "still here\n"

    in_sandbox(scenario)


def test_syntax_error_fails() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run("print('not run')\nx = (")
        assert result.outcome == Outcome.OUTCOME_FAILED
        assert result.output.startswith('  File "<string>", line 2\n')
        assert "SyntaxError: '(' was never closed" in result.output
        assert "not run" not in result.output

    in_sandbox(scenario)


def test_system_exit_keeps_the_session() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        pid = session.pid
        assert (await session.run("x = 1\nimport sys\nsys.exit(0)")).outcome == Outcome.OUTCOME_OK
        assert (await session.run("exit()")).outcome == Outcome.OUTCOME_OK
        failed = await session.run("import sys\nsys.exit(2)")
        assert failed.outcome == Outcome.OUTCOME_FAILED
        assert failed.output == "SystemExit: 2\n"
        after = await session.run("print(x, input.__name__)")
        assert after.output == "1 input\n"
        assert session.pid == pid

    in_sandbox(scenario)


def test_deadline_kills_restarts_and_resets_state() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        await session.run("x = 1")
        first_pid = session.pid
        assert first_pid is not None
        code = (
            "import subprocess\n"
            "sleeper = subprocess.Popen(['sleep', '1000'])\n"
            "print('started', sleeper.pid, flush=True)\n"
            "while True:\n    pass\n"
        )
        started = time.monotonic()
        result = await session.run(code, timeout_s=1)
        elapsed = time.monotonic() - started
        assert result.outcome == Outcome.OUTCOME_DEADLINE_EXCEEDED
        assert 1 <= elapsed < 3
        assert result.output.startswith("started ")
        assert "Execution timed out after 1 s" in result.output
        assert "state lost" in result.output
        sleeper = int(result.output.split()[1])
        assert wait_gone(first_pid, sleeper) == []

        reset = await session.run("print(x)")
        assert reset.outcome == Outcome.OUTCOME_FAILED
        assert "NameError: name 'x' is not defined" in reset.output
        assert session.pid not in (None, first_pid)
        assert (await session.run("print('alive')")).output == "alive\n"

    in_sandbox(scenario)


def test_interpreter_exit_fails_and_recovers() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        await session.run("x = 1")
        exited = await session.run("import os\nprint('bye', flush=True)\nos._exit(3)")
        assert exited.outcome == Outcome.OUTCOME_FAILED
        assert exited.output.startswith("bye\n")
        assert "exited with code 3" in exited.output
        assert (await session.run("print('back')")).output == "back\n"

        killed = await session.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
        assert killed.outcome == Outcome.OUTCOME_FAILED
        assert "killed by signal SIGKILL" in killed.output
        assert (await session.run("print('back again')")).output == "back again\n"

    in_sandbox(scenario)


def test_output_is_capped_with_a_marker_and_the_traceback_kept() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        flood = await session.run("print('x' * 5_000_000)\nprint('tail')")
        assert flood.outcome == Outcome.OUTCOME_OK
        assert len(flood.output.encode()) < 64 * 1024 + 100
        assert flood.output.startswith("xxxx")
        assert "[output truncated: " in flood.output
        assert flood.output.endswith(" bytes not shown]\n")

        failed = await session.run("print('y' * 5_000_000)\nraise ValueError('after the flood')")
        assert failed.outcome == Outcome.OUTCOME_FAILED
        assert len(failed.output.encode()) < 64 * 1024 + 100
        assert "[output truncated: " in failed.output
        assert failed.output.endswith("ValueError: after the flood\n")

    in_sandbox(scenario)


def test_matplotlib_figures_come_back_as_png() -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.plot([1, 2, 3], [1, 4, 9])\n"
        "plt.title('squares')\n"
        "plt.show()\n"
        "plt.close()\n"  # show() already rendered it: closing after must not lose it
    )

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(code)
        assert result.outcome == Outcome.OUTCOME_OK, result.output
        assert result.output == ""  # no "non-interactive" warning
        assert [(f.name, f.mime_type) for f in result.files] == [("figure_1.png", "image/png")]
        assert result.files[0].data.startswith(PNG_SIGNATURE)

        # A figure left open without show() is collected at the end of the block, once.
        left_open = await session.run("plt.figure()\nplt.bar(['a', 'b'], [3, 5])")
        assert [f.name for f in left_open.files] == ["figure_1.png"]
        assert (await session.run("print(plt.get_fignums())")).files == ()

    in_sandbox(scenario)


def test_files_written_to_the_working_dir_are_collected() -> None:
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

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(write)
        assert result.outcome == Outcome.OUTCOME_OK
        assert [(f.name, f.mime_type) for f in result.files] == [
            ("notes.txt", "text/plain"),
            ("out.png", "image/png"),
            ("plots/b.JPG", "image/jpeg"),
        ]
        assert result.files[1].data == PNG_SIGNATURE + b"rest"
        assert (session.workdir / "out.png").exists()

        assert (await session.run("print(sorted(os.listdir()))")).files == ()
        changed = await session.run("open('out.png', 'ab').write(b'more')")
        assert [f.name for f in changed.files] == ["out.png"]

    in_sandbox(scenario)


def test_server_environment_does_not_leak(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODELOOP_TEST_CANARY", "secret-xyz")
    code = (
        "import os\n"
        "print(sorted(os.environ))\n"
        "print(b'secret-xyz' in open('/proc/self/environ', 'rb').read())\n"
        "print(os.environ['HOME'] == os.getcwd())\n"
    )

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(code)
        assert "secret-xyz" not in result.output
        assert "CODELOOP_TEST_CANARY" not in result.output
        names, in_proc, home_is_cwd = result.output.splitlines()
        assert names == str(
            sorted(
                [
                    "HOME",
                    "LANG",
                    "MPLBACKEND",
                    "MPLCONFIGDIR",
                    "PATH",
                    "PYTHONDONTWRITEBYTECODE",
                    "PYTHONUNBUFFERED",
                ]
            )
        )
        assert in_proc == "False"
        assert home_is_cwd == "True"

    in_sandbox(scenario)


def test_close_leaves_no_process_and_no_dir() -> None:
    code = "import subprocess\nsleeper = subprocess.Popen(['sleep', '1000'])\nprint(sleeper.pid)"

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(code)
        sleeper, pid = int(result.output), session.pid
        assert pid is not None
        assert alive(pid) and alive(sleeper)
        await session.close()
        assert wait_gone(pid, sleeper) == []
        assert not session.workdir.exists()
        await session.close()  # idempotent
        with pytest.raises(SandboxFailure):
            await session.run("print(1)")

    in_sandbox(scenario)


def test_sessions_share_neither_variables_nor_dirs() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        first, second = await sandbox.open_session(), await sandbox.open_session()
        await first.run("secret = 'first'\nopen('mine.txt', 'w').write('x')")
        result = await second.run("import os\nprint(os.path.exists('mine.txt'))\nprint(secret)")
        assert result.outcome == Outcome.OUTCOME_FAILED
        assert result.output.startswith("False\n")
        assert "NameError: name 'secret' is not defined" in result.output
        cwd1 = (await first.run("import os\nprint(os.getcwd())")).output.strip()
        cwd2 = (await second.run("print(os.getcwd())")).output.strip()
        assert cwd1 == str(first.workdir) and cwd2 == str(second.workdir)
        assert cwd1 != cwd2

    in_sandbox(scenario)


def test_sandbox_close_closes_every_session() -> None:
    async def scenario() -> None:
        sandbox = ProcessSandbox(LIMITS)
        sessions: list[ProcessSession] = [await sandbox.open_session() for _ in range(3)]
        pids = [s.pid for s in sessions]
        await sandbox.close()
        assert wait_gone(*[pid for pid in pids if pid is not None]) == []
        assert not any(s.workdir.exists() for s in sessions)
        with pytest.raises(SandboxFailure):
            await sandbox.open_session()

    asyncio.run(scenario())


def test_repl_conveniences() -> None:
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

    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        result = await session.run(code)
        assert result.outcome == Outcome.OUTCOME_OK, result.output
        assert result.output == "Point(x=3)\nmain\nforked child\nparent\n"
        assert (await session.run("print(Point(4))")).output == "Point(x=4)\n"

    in_sandbox(scenario)


def test_a_cancelled_run_leaves_a_usable_session() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        pid = session.pid
        assert pid is not None
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(session.run("while True:\n    pass"), 0.3)
        assert wait_gone(pid) == []
        assert (await session.run("print('fresh')")).output == "fresh\n"

    in_sandbox(scenario)


def test_close_during_a_run_ends_it() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        pid = session.pid
        assert pid is not None
        running = asyncio.create_task(session.run("import time\ntime.sleep(60)"))
        await asyncio.sleep(0.2)
        await session.close()
        with pytest.raises(SandboxFailure):
            await running
        assert wait_gone(pid) == []

    in_sandbox(scenario)


def test_an_interpreter_that_cannot_start_is_a_sandbox_failure(tmp_path: Path) -> None:
    async def scenario() -> None:
        sandbox = ProcessSandbox(LIMITS, python=str(tmp_path / "no-such-python"))
        try:
            with pytest.raises(SandboxFailure, match="cannot start"):
                await sandbox.open_session()
        finally:
            await sandbox.close()

    asyncio.run(scenario())


SERVER = """
import asyncio, sys, time
from codeloop.sandbox import Limits, ProcessSandbox
from codeloop.sandbox.base import SessionCounts

async def main():
    session = await ProcessSandbox(Limits(), root=sys.argv[1]).open_session()
    print(session.pid, flush=True)
    time.sleep(60)

asyncio.run(main())
"""


def test_session_processes_die_with_the_server(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        child = int(server.stdout.readline())
        assert alive(child)
        server.kill()  # no close(), no cleanup: only PR_SET_PDEATHSIG can take the child down
        server.wait()
        assert wait_gone(child) == []
    finally:
        server.kill()
        server.wait()
        if server.stdout is not None:
            server.stdout.close()


def test_session_counts_follow_opens_and_closes() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        assert sandbox.session_counts == SessionCounts(open=0, spare=0, max_live=None)
        one, two = await sandbox.open_session(), await sandbox.open_session()
        assert sandbox.session_counts.open == 2
        await one.close()
        assert sandbox.session_counts.open == 1
        await two.close()
        assert sandbox.session_counts.open == 0

    in_sandbox(scenario)
