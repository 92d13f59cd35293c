"""ShellSandbox: sessions, spares, idle reaping, caps on live interpreters and their memory, over a launcher.

A Launcher is what differs between the kinds of sandbox: how an interpreter process starts and
shakes hands (a plain child process, process.py; a fork of the zygote, forkserver.py) and
where its working dir is. Everything else a Sandbox does is here, once, for both.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from codeloop.errors import QuotaExceeded, SandboxFailure
from codeloop.sandbox.base import SessionCounts, SessionMemory
from codeloop.sandbox.handle import ProcessHandle
from codeloop.sandbox.limits import Limits, SandboxConfig
from codeloop.sandbox.memory_budget import machine_share_mib, sessions_to_reset
from codeloop.sandbox.session import ShellSession

__all__ = ["Launcher", "ShellSandbox"]

log = logging.getLogger("codeloop.sandbox")


class Launcher(Protocol):
    """How one kind of sandbox starts interpreter processes."""

    async def start(self) -> None:
        """Whatever must run before the first interpreter (the zygote); SandboxFailure if it cannot."""

    def new_workdir(self) -> Path | None:
        """A fresh working dir on the host for a session, or None where each interpreter brings its own."""

    def remove_workdir(self, workdir: Path) -> None: ...

    async def launch(self, number: int, workdir: Path | None) -> ProcessHandle:
        """A new interpreter, ready for blocks; SandboxFailure saying why not."""

    async def close(self) -> None: ...


@dataclass
class _Spare:
    workdir: Path | None
    handle: asyncio.Task[ProcessHandle]


class ShellSandbox:
    """Opens ShellSessions; keeps spare interpreters started ahead of demand; resets idle ones.
    A kind of sandbox is a subclass that names its launcher."""

    def __init__(
        self,
        limits: Limits,
        config: SandboxConfig | None = None,
        python: str = sys.executable,
        *,
        root: str | os.PathLike[str] | None = None,  # where its private dir goes: the temp dir by default
    ) -> None:
        self.limits = limits
        self.config = config or SandboxConfig()
        self.launcher = self._make_launcher(python, root)
        self._sessions: set[ShellSession] = set()
        self._spares: list[_Spare] = []
        self._started = False
        self._start_lock: asyncio.Lock | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._count = 0
        self._closed = False
        self.memory_budget_mib = self.config.sessions_memory_mib or machine_share_mib()
        self._memory_seen: dict[ProcessHandle, int] = {}  # each live interpreter's last reading
        self._fitting = asyncio.Lock()

    def _make_launcher(self, python: str, root: str | os.PathLike[str] | None) -> Launcher:
        raise NotImplementedError

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(len(self._sessions), len(self._spares), self.config.max_sessions)

    def session_memory(self) -> tuple[SessionMemory, ...]:
        """Each live session's memory now: a file read per session, nothing more."""
        found = [SessionMemory(session.number, used) for session, used in self._live_memory().items()]
        return tuple(sorted(found, key=lambda m: m.session))

    def _live_memory(self, finished: ShellSession | None = None) -> dict[ShellSession, int]:
        """Each live session's memory, read afresh; or, after finished's block, afresh only for it, the
        busy ones and those never read: an idle one's memory grows only by what its background threads
        do, and the reaper's tick reads everyone afresh."""
        found = {}
        seen: dict[ProcessHandle, int] = {}
        for session in list(self._sessions):
            handle = session.handle
            if handle is None or not handle.usable:
                continue
            stale = finished is None or session is finished or session.running
            used = self._memory_seen.get(handle) if not stale else None
            if used is None:
                used = handle.memory_bytes()
            if used is not None:
                found[session] = seen[handle] = used
        self._memory_seen = seen
        return found

    def memory_may_pass_budget(self) -> bool:
        """Whether the live sessions could use more than the budget together. Not while each has a
        cgroup whose limits add up within it: then no block's end needs to read any session's memory."""
        ceiling = 0
        for session in self._sessions:
            handle = session.handle
            if handle is None or not handle.usable:
                continue
            if handle.memory_limit_bytes is None:  # counted by RSS, with no limit we know of
                return True
            ceiling += handle.memory_limit_bytes
        return ceiling > self.memory_budget_mib << 20

    async def fit_memory(self, finished: ShellSession | None = None) -> None:
        """While the live sessions together use more than the budget, reset idle ones, least recently
        used first. Run when a block ends (finished's) and on the reaper's tick: none of them is read
        while they cannot pass the budget, and after a block only the few whose memory can have grown
        much (see _live_memory)."""
        if not self.memory_may_pass_budget():
            return
        async with self._fitting:
            budget = self.memory_budget_mib
            usage = self._live_memory(finished)
            if finished is not None and sessions_to_reset(usage, budget << 20):
                usage = self._live_memory()  # never reset a session on an old reading
            victims = sessions_to_reset(usage, budget << 20)
            if victims:
                log.info(
                    "sandbox: live sessions use %d MiB, over the budget of %d MiB: resetting %d idle",
                    sum(usage.values()) >> 20,
                    budget,
                    len(victims),
                )
            for session in victims:
                if session.live and not session.running:  # it may have started a block meanwhile
                    await session.reset(
                        f"session reset for memory: the live sessions used over {budget} MiB together"
                    )

    async def start(self) -> None:
        """Ready the launcher and prove that a session can start; SandboxFailure (saying why) if not."""
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._started:
                return
            try:
                await self.launcher.start()
                self._started = True
                probe = ShellSession(self, self._next_number())
                await probe.start()
                await probe.close()
            except BaseException:
                self._started = False
                await self.launcher.close()
                raise
            self._reaper = asyncio.create_task(self._reap_idle())
            self._refill()

    async def open_session(self) -> ShellSession:
        await self.start()
        if self._closed:
            raise SandboxFailure("the sandbox is closed")
        session = ShellSession(self, self._next_number())
        self._sessions.add(session)
        try:
            await session.start()
        except BaseException:
            await session.close()
            raise
        return session

    async def close(self) -> None:
        """Close every session and spare, then the launcher: no process of the sandbox is left."""
        self._closed = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        spares, self._spares = self._spares, []
        abandoned = []
        for spare in spares:
            task = spare.handle
            if task.done() and not task.cancelled() and task.exception() is None:
                abandoned.append(task.result())
                abandoned[-1].abandon()
            else:
                task.cancel()
        await asyncio.gather(*(s.handle for s in spares), return_exceptions=True)
        await asyncio.gather(*(session.close() for session in list(self._sessions)))
        await asyncio.gather(*(handle.wait_exited(handle.lifeline.grace_s) for handle in abandoned))
        await self.launcher.close()

    async def _spawn(self, session: ShellSession) -> ProcessHandle:
        """An interpreter for session: a spare if one fits (or is about to be ready), else a new one."""
        await self._admit(session)
        try:
            fresh = not session.started or session.workdir is None
            while fresh and self._spares:
                spare = self._spares.pop(0)
                try:
                    handle = await spare.handle
                except Exception as exc:  # e.g. its zygote died; a fresh start below says why, if it must
                    log.debug("sandbox: a spare interpreter failed to start: %s", exc)
                    self._drop_workdir(spare.workdir)
                    continue
                if handle.usable and not handle.hung_up():
                    self._drop_workdir(session.workdir)
                    session.workdir = spare.workdir
                    return handle
                await handle.kill()
                self._drop_workdir(spare.workdir)
            if session.workdir is None:
                session.workdir = self.launcher.new_workdir()
            return await self.launcher.launch(self._next_number(), session.workdir)
        finally:
            self._refill()

    def _refill(self) -> None:
        if self._closed or self._reaper is None:  # not before start() has proved that sessions start
            return
        while len(self._spares) < self.config.spare_sessions:
            workdir = self.launcher.new_workdir()
            task = asyncio.create_task(self.launcher.launch(self._next_number(), workdir))
            self._spares.append(_Spare(workdir, task))

    def _drop_workdir(self, workdir: Path | None) -> None:
        if workdir is not None:
            self.launcher.remove_workdir(workdir)

    async def _admit(self, session: ShellSession) -> None:
        """Make room for one more live interpreter: reset the least recently used idle one."""
        live = [s for s in self._sessions if s.live and s is not session]
        if len(live) < self.config.max_sessions:
            return
        idle = [s for s in live if not s.running]
        if not idle:
            raise QuotaExceeded(f"all {self.config.max_sessions} sandbox sessions are busy; try again later")
        victim = min(idle, key=lambda s: s.last_used)
        await victim.reset(f"session evicted: more than {self.config.max_sessions} sessions were open")

    async def _reap_idle(self) -> None:
        period = min(max(self.config.idle_timeout_s / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for session in list(self._sessions):
                idle = session.live and not session.running
                if idle and now - session.last_used > self.config.idle_timeout_s:
                    await session.reset(f"session idle for over {self.config.idle_timeout_s:g} s")
            await self.fit_memory()

    def _next_number(self) -> int:
        self._count += 1
        return self._count

    def _forget(self, session: ShellSession) -> None:
        self._sessions.discard(session)
