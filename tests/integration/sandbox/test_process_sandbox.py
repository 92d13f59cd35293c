"""ProcessSandbox (--insecure-no-sandbox) only: what plain child processes do that isolated sessions don't.

What both kinds do is in test_contract.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from codeloop.execution import Outcome
from codeloop.sandbox import Limits, ProcessSandbox

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


def test_an_interpreter_killed_by_a_signal_fails_and_recovers() -> None:
    # Isolated sessions are pid 1 of their namespace: no signal of their own can kill them.
    async def scenario(sandbox: ProcessSandbox) -> None:
        session = await sandbox.open_session()
        killed = await session.run("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
        assert killed.outcome == Outcome.OUTCOME_FAILED
        assert "killed by signal SIGKILL" in killed.output
        assert (await session.run("print('back again')")).output == "back again\n"

    in_sandbox(scenario)


def test_each_session_works_in_its_own_dir_on_the_host() -> None:
    async def scenario(sandbox: ProcessSandbox) -> None:
        first, second = await sandbox.open_session(), await sandbox.open_session()
        assert first.workdir is not None and second.workdir is not None
        written = await first.run(f"open('out.png', 'wb').write({PNG_SIGNATURE!r} + b'rest')")
        assert [f.name for f in written.files] == ["out.png"]
        assert (first.workdir / "out.png").exists()
        cwd1 = (await first.run("import os\nprint(os.getcwd())")).output.strip()
        cwd2 = (await second.run("import os\nprint(os.getcwd())")).output.strip()
        assert cwd1 == str(first.workdir) and cwd2 == str(second.workdir)
        assert cwd1 != cwd2

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
