"""An interpreter lost between two blocks of a kept session (killed, out of memory, its zygote gone):
the next block runs in a fresh one, and its output starts by saying the state was lost, and why."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from codeloop.execution import Outcome
from codeloop.sandbox import ForkSandbox, Limits, ProcessSandbox, SandboxConfig
from processes import wait_gone, zygotes

LIMITS = Limits(timeout_s=10.0, memory_mib=256)
CONFIG = SandboxConfig(preload=())


async def lost(session, within_s: float = 10.0) -> bool:
    """Whether the sandbox saw the session's interpreter end (its pid is gone) within within_s."""
    deadline = time.monotonic() + within_s
    while session.pid is not None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return session.pid is None


async def kill_between_blocks(session, victim: int) -> None:
    """SIGKILL victim from outside, as an operator or the OOM killer would, and wait for the loss."""
    pid = session.pid
    os.kill(victim, signal.SIGKILL)
    assert await asyncio.to_thread(wait_gone, pid) == []
    assert await lost(session)


@pytest.mark.parametrize("kind", [ForkSandbox, ProcessSandbox])
def test_an_interpreter_killed_between_blocks_is_restarted_with_a_note(kind) -> None:
    async def scenario():
        sandbox = kind(LIMITS, CONFIG)
        try:
            session = await sandbox.open_session()
            await session.run("x = 1")
            await kill_between_blocks(session, session.pid)
            return await session.run("print('x' in globals())"), await session.run("print('again')")
        finally:
            await sandbox.close()

    after, again = asyncio.run(scenario())
    assert after.outcome == Outcome.OUTCOME_OK
    assert after.output == (
        "[between blocks the interpreter was killed by signal SIGKILL; it was restarted and its state lost]\n"
        "False\n"
    )
    assert after.stats is not None
    assert again.output == "again\n"  # said once


def test_an_interpreter_out_of_memory_between_blocks_says_so() -> None:
    hog = (
        "import threading, time\n"
        "def hog():\n"
        "    time.sleep(0.2)\n"
        "    chunks = []\n"
        "    while True:\n"
        "        chunks.append(b'x' * (16 << 20))\n"
        "threading.Thread(target=hog, daemon=True).start()\n"
        "x = 1\n"
    )

    async def scenario():
        sandbox = ForkSandbox(LIMITS, CONFIG)
        try:
            session = await sandbox.open_session()
            started = await session.run(hog)
            await lost(session, within_s=5)
            return started, await session.run("print('x' in globals())")
        finally:
            await sandbox.close()

    started, after = asyncio.run(scenario())
    assert started.outcome == Outcome.OUTCOME_OK
    note = (
        "[between blocks the interpreter ran out of memory (the limit is 256 MiB) and was killed; "
        "it was restarted and its state lost]\n"
    )
    # Without a cgroup the address-space rlimit stops the thread with a MemoryError instead.
    assert after.output in (note + "False\n", "True\n")


def test_a_kept_session_outlives_its_zygote_with_a_note() -> None:
    before = zygotes(os.getpid())  # other tests' sandboxes may still run in this process

    async def scenario():
        sandbox = ForkSandbox(LIMITS, CONFIG)
        try:
            session = await sandbox.open_session()
            await session.run("x = 1")
            (zygote,) = zygotes(os.getpid()) - before
            await kill_between_blocks(session, zygote)
            return await session.run("print('x' in globals())")
        finally:
            await sandbox.close()

    after = asyncio.run(scenario())
    assert after.outcome == Outcome.OUTCOME_OK
    assert after.output == (
        "[between blocks the interpreter died with the sandbox's zygote, which was killed by signal SIGKILL; "
        "it was restarted and its state lost]\nFalse\n"
    )
