"""Idle sessions cannot hold the machine's memory: past the budget for all live sessions together, idle ones
are reset, least recently used first, and never a busy one; for both kinds of sandbox."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sandbox_helpers import LoopThread

from codeloop.sandbox import ForkSandbox, Limits, ProcessSandbox, SandboxConfig
from processes import wait_gone

MIB = 1 << 20
LIMITS = Limits(timeout_s=20.0, output_bytes=64 * 1024, memory_mib=256, pids=64, disk_mib=16, file_mib=16)
HOLD = "blob = b'x' * (150 << 20)"  # bytes * n writes every page: 150 MiB resident
CHECK = "print(len(blob) if 'blob' in globals() else 'gone')"
KEPT = f"{150 * MIB}\n"
RESET_NOTE = "[session reset for memory: the live sessions used over {} MiB together; the interpreter was"


@pytest.fixture(params=["fork", "process"])
def kind(request: pytest.FixtureRequest) -> type[ForkSandbox | ProcessSandbox]:
    kinds: dict[str, type[ForkSandbox | ProcessSandbox]] = {"fork": ForkSandbox, "process": ProcessSandbox}
    return kinds[request.param]


def in_sandbox(loop_thread: LoopThread, kind: type, budget_mib: int, scenario, **config: Any) -> Any:
    async def go() -> Any:
        sandbox = kind(LIMITS, SandboxConfig(preload=(), sessions_memory_mib=budget_mib, **config))
        try:
            return await scenario(sandbox)
        finally:
            await sandbox.close()

    return loop_thread.run(go())


def total(sandbox) -> int:
    return sum(m.bytes for m in sandbox.session_memory())


def test_past_the_budget_the_least_recently_used_idle_session_is_reset(loop_thread, kind) -> None:
    async def scenario(sandbox):
        one, two, three = [await sandbox.open_session() for _ in range(3)]
        await one.run(HOLD)
        await two.run(HOLD)
        two_held = total(sandbox)
        first_pid = one.pid
        await three.run(HOLD)  # 450 MiB and more: over the budget of 400
        after = total(sandbox)
        live = [one.pid, two.pid, three.pid]
        gone = await asyncio.to_thread(wait_gone, first_pid)
        kept = [await two.run(CHECK), await three.run(CHECK)]
        reset = await one.run(CHECK)
        return two_held, after, live, gone, kept, reset

    two_held, after, live, gone, kept, reset = in_sandbox(loop_thread, kind, 400, scenario)
    assert two_held >= 300 * MIB  # the sessions really hold what they allocated
    assert after <= 400 * MIB
    assert live[0] is None and None not in live[1:]
    assert gone == []
    assert [k.output for k in kept] == [KEPT, KEPT]  # the two most recent keep their state, and no note
    assert reset.output.startswith(RESET_NOTE.format(400))
    assert reset.output.endswith("gone\n")


def test_a_busy_session_is_never_reset_for_memory(loop_thread, kind) -> None:
    async def scenario(sandbox):
        one, two, three = [await sandbox.open_session() for _ in range(3)]
        busy = asyncio.create_task(one.run(f"{HOLD}\nimport time\ntime.sleep(4)"))
        for _ in range(100):
            if any(m.bytes >= 150 * MIB for m in sandbox.session_memory()):
                break
            await asyncio.sleep(0.05)
        await two.run(HOLD)
        await three.run(HOLD)  # over the budget: `one` is least recently used, but busy
        still_busy = one.running
        live = [one.pid, two.pid, three.pid]
        await busy
        after = total(sandbox)
        results = [await one.run(CHECK), await two.run(CHECK), await three.run(CHECK)]
        return still_busy, live, after, results

    still_busy, live, after, results = in_sandbox(loop_thread, kind, 400, scenario)
    assert still_busy  # else the scenario proved nothing
    assert live[1] is None and None not in (live[0], live[2])
    assert after <= 400 * MIB  # once `one` is idle again the rest fit: nothing more is reset
    assert results[0].output == KEPT
    assert results[1].output.startswith(RESET_NOTE.format(400)) and results[1].output.endswith("gone\n")
    assert results[2].output == KEPT


def test_memory_grown_while_idle_is_caught_on_the_reapers_tick(loop_thread, kind) -> None:
    grow_later = (
        "import threading, time\n"
        "def grow():\n"
        "    global blob\n"
        "    time.sleep(0.3)\n"
        f"    {HOLD}\n"
        "threading.Thread(target=grow).start()"
    )

    async def scenario(sandbox):
        one, two = await sandbox.open_session(), await sandbox.open_session()
        await one.run(HOLD)
        await two.run(grow_later)  # ends within budget; its thread passes it 0.3 s later
        within = total(sandbox)
        for _ in range(100):  # the reaper ticks every 1.5 s; idle resets come only after 6 s
            if one.pid is None:
                break
            await asyncio.sleep(0.05)
        after = total(sandbox)
        return within, after, await two.run(CHECK), await one.run(CHECK)

    within, after, grown, reset = in_sandbox(loop_thread, kind, 250, scenario, idle_timeout_s=6.0)
    assert within <= 250 * MIB
    assert after <= 250 * MIB
    assert grown.output == KEPT
    assert reset.output.startswith(RESET_NOTE.format(250)) and reset.output.endswith("gone\n")
