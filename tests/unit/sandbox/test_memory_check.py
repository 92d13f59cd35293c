"""When a block ends, the live sessions' memory is read only while they could pass the budget together:
not while each has a cgroup whose limits add up within it; always where one's use has no known limit."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.session import ShellSession
from codeloop.sandbox.shell import Launcher, ShellSandbox

MIB = 1 << 20


class Handle:
    """What fit_memory asks of an interpreter: is it usable, its limit, and its memory (counted)."""

    def __init__(self, used_mib: int, limit_mib: int | None, usable: bool = True) -> None:
        self.used = used_mib * MIB
        self.memory_limit_bytes = None if limit_mib is None else limit_mib * MIB
        self.usable = usable
        self.reads = 0

    def memory_bytes(self) -> int:
        self.reads += 1
        return self.used


class Unused:
    async def start(self) -> None: ...

    def new_workdir(self) -> Path | None:
        return None

    def remove_workdir(self, workdir: Path) -> None: ...

    async def launch(self, number: int, workdir: Path | None) -> Any:
        raise AssertionError("no interpreter is started here")

    async def close(self) -> None: ...


class Budgeted(ShellSandbox):
    def _make_launcher(self, python: str, root: Any) -> Launcher:
        return Unused()


def sandbox_with(budget_mib: int, *handles: Handle) -> tuple[Budgeted, list[ShellSession]]:
    sandbox = Budgeted(Limits(), SandboxConfig(sessions_memory_mib=budget_mib))
    sessions = []
    for number, handle in enumerate(handles, start=1):
        session = ShellSession(sandbox, number)
        session._handle = handle  # type: ignore[assignment]
        sandbox._sessions.add(session)
        sessions.append(session)
    return sandbox, sessions


async def fit(sandbox: Budgeted) -> None:
    await sandbox.fit_memory()


def test_sessions_whose_limits_fit_the_budget_are_not_read() -> None:
    handles = [Handle(250, limit_mib=300), Handle(250, limit_mib=300)]
    sandbox, _ = sandbox_with(600, *handles)
    assert not sandbox.memory_may_pass_budget()
    asyncio.run(fit(sandbox))
    assert [h.reads for h in handles] == [0, 0]


def test_limits_that_add_up_past_the_budget_are_read_and_the_excess_reset() -> None:
    handles = [Handle(250, limit_mib=300), Handle(250, limit_mib=300), Handle(250, limit_mib=300)]
    sandbox, sessions = sandbox_with(600, *handles)
    for session, last_used in zip(sessions, (3.0, 1.0, 2.0), strict=True):
        session.last_used = last_used
    assert sandbox.memory_may_pass_budget()
    killed: list[int] = []
    for session in sessions:
        session.reset = _recorder(session, killed)  # type: ignore[method-assign]
    asyncio.run(fit(sandbox))
    assert [h.reads for h in handles] == [1, 1, 1]
    assert killed == [2]  # 750 MiB used, over 600: the least recently used goes


def test_a_session_without_a_known_limit_is_always_read() -> None:
    handles = [Handle(10, limit_mib=300), Handle(10, limit_mib=None)]
    sandbox, _ = sandbox_with(100_000, *handles)
    assert sandbox.memory_may_pass_budget()
    asyncio.run(fit(sandbox))
    assert [h.reads for h in handles] == [1, 1]


def test_only_live_sessions_count_toward_the_limits() -> None:
    sandbox, _ = sandbox_with(600, Handle(0, limit_mib=300), Handle(0, limit_mib=300, usable=False))
    assert not sandbox.memory_may_pass_budget()
    sandbox, _ = sandbox_with(600, Handle(0, limit_mib=300), Handle(0, limit_mib=301))
    assert sandbox.memory_may_pass_budget()


def _recorder(session: ShellSession, killed: list[int]) -> Any:
    async def reset(reason: str) -> None:
        killed.append(session.number)

    return reset


def test_after_a_block_only_its_session_the_busy_and_the_unread_are_read_afresh() -> None:
    handles = [Handle(10, limit_mib=None) for _ in range(4)]
    sandbox, sessions = sandbox_with(100_000, *handles)
    asyncio.run(fit(sandbox))  # the reaper's tick: everyone
    assert [h.reads for h in handles] == [1, 1, 1, 1]
    sessions[2].running = True
    asyncio.run(sandbox.fit_memory(sessions[0]))
    assert [h.reads for h in handles] == [2, 1, 2, 1]
    newcomer = Handle(10, limit_mib=None)
    sessions[3]._handle = newcomer  # type: ignore[assignment]  # restarted: its old reading is not its own
    asyncio.run(sandbox.fit_memory(sessions[0]))
    assert [h.reads for h in handles[:3]] == [3, 1, 3] and newcomer.reads == 1


def test_no_session_is_reset_on_an_old_reading() -> None:
    handles = [Handle(400, limit_mib=None), Handle(100, limit_mib=None)]
    sandbox, sessions = sandbox_with(450, *handles)
    sessions[0].last_used, sessions[1].last_used = 1.0, 2.0
    killed: list[int] = []
    for session in sessions:
        session.reset = _recorder(session, killed)  # type: ignore[method-assign]
    asyncio.run(fit(sandbox))
    assert killed == [1]  # 500 MiB, over 450: the least recently used idle one is due
    killed.clear()
    handles[0].used = 50 * MIB  # it freed its memory since: only a fresh reading knows
    asyncio.run(sandbox.fit_memory(sessions[1]))
    assert killed == []
    assert handles[0].reads == 2  # read afresh once its old reading said over
