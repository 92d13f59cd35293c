"""SandboxHost: the Ray actor that holds one node's sandbox (its zygote) and the sessions living there.

A session is a number the host gave; every block of it runs here, where its interpreter lives, because
the actor is pinned to its node. Each node offers `codeloop_sandbox` logical resources: as many as it
may hold sessions at once; the host reads its own share of them as its capacity.
"""

from __future__ import annotations

import asyncio
import os

import ray

from codeloop.errors import NotFound, QuotaExceeded
from codeloop.execution import Execution
from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.factory import start_sandbox
from codeloop.sandbox.limits import Limits, SandboxConfig

RESOURCE = "codeloop_sandbox"  # the logical resource that marks a node as a sandbox node, and its capacity


class SandboxHost:
    """Sessions of one node's sandbox, by number. Run as an async actor: blocks of different sessions
    overlap; blocks of one session are serialised by its own lock."""

    def __init__(self, limits: Limits, config: SandboxConfig, capacity: int) -> None:
        self._limits = limits
        self._config = config
        self._capacity = max(1, capacity)
        self._sessions: dict[int, Session] = {}
        self._opening = 0
        self._count = 0
        self._sandbox: Sandbox | None = None
        self._start_lock = asyncio.Lock()

    async def start(self) -> str:
        """Start the node's sandbox (its zygote); SandboxFailure where it cannot isolate. The node id."""
        await self._started()
        return self.node_id()

    async def _started(self) -> Sandbox:
        async with self._start_lock:
            if self._sandbox is None:
                self._sandbox = await start_sandbox(self._limits, self._config)
            return self._sandbox

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def pid(self) -> int:
        return os.getpid()

    def load(self) -> tuple[int, int]:
        """Sessions open (and opening) here, and how many the node may hold."""
        return len(self._sessions) + self._opening, self._capacity

    def numbers(self) -> list[int]:
        return sorted(self._sessions)

    def has_session(self, number: int) -> bool:
        return number in self._sessions

    async def open_session(self) -> int:
        if len(self._sessions) + self._opening >= self._capacity:
            raise QuotaExceeded(f"this node holds {self._capacity} sessions already")
        self._opening += 1
        try:
            session = await (await self._started()).open_session()
        finally:
            self._opening -= 1
        self._count += 1
        self._sessions[self._count] = session
        return self._count

    async def run(self, number: int, code: str, timeout_s: float | None) -> Execution:
        return await self._session(number).run(code, timeout_s)

    async def put_file(self, number: int, name: str, data: bytes) -> None:
        await self._session(number).put_file(name, data)

    async def close_session(self, number: int) -> None:
        session = self._sessions.pop(number, None)
        if session is not None:
            await session.close()

    async def close(self) -> None:
        """Every session, then the sandbox: no process of this host is left."""
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        sandbox, self._sandbox = self._sandbox, None
        if sandbox is not None:
            await sandbox.close()

    def _session(self, number: int) -> Session:
        session = self._sessions.get(number)
        if session is None:
            raise NotFound(f"session {number} is not on this node")
        return session
