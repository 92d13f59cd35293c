"""SandboxHost: the Ray actor that holds one node's sandbox (its zygote) and the sessions living there.

A session is a number the host gave; every block of it runs here, where its interpreter lives, because
the actor is pinned to its node. Each node offers `codeloop_sandbox` logical resources: as many as it
may hold sessions at once; the host reads its own share of them as its capacity.

A session a server opens for one request is that server's: the server renews its lease with every
host every few seconds, and a host closes the sessions of a server that stopped renewing for
lease_s (killed, or cut off), so that their room is not taken forever. A kept session (a kept
session or a conversation's interpreter) is the cluster's, and ends by its own expiry instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

import ray

from codeloop.errors import NotFound, QuotaExceeded
from codeloop.execution import Execution
from codeloop.sandbox.base import Sandbox, Session, SessionMemory
from codeloop.sandbox.factory import start_sandbox
from codeloop.sandbox.limits import Limits, SandboxConfig

RESOURCE = "codeloop_sandbox"  # the logical resource that marks a node as a sandbox node, and its capacity
LEASE_S = 30.0  # how long a server's sessions outlive its last renewal

log = logging.getLogger("codeloop.cluster")


class SandboxHost:
    """Sessions of one node's sandbox, by number. Run as an async actor: blocks of different sessions
    overlap; blocks of one session are serialised by its own lock."""

    def __init__(
        self, limits: Limits, config: SandboxConfig, capacity: int, lease_s: float = LEASE_S
    ) -> None:
        self._limits = limits
        self._config = config
        self._capacity = max(1, capacity)
        self._lease_s = lease_s
        self._sessions: dict[int, Session] = {}
        self._servers: dict[int, str] = {}  # session number -> the server whose lease it lives on
        self._renewed: dict[str, float] = {}  # server -> when it last renewed its lease
        self._opening = 0
        self._count = 0
        self._sandbox: Sandbox | None = None
        self._start_lock = asyncio.Lock()
        self._reaping: asyncio.Task[None] | None = None

    async def start(self) -> str:
        """Start the node's sandbox (its zygote); SandboxFailure where it cannot isolate. The node id."""
        await self._started()
        if self._reaping is None:
            self._reaping = asyncio.create_task(self._reap_forever())
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

    def renew(self, server: str) -> tuple[SessionMemory, ...]:
        """server is alive: its sessions stay another lease_s. Each session's memory, for its /metrics."""
        self._renewed[server] = time.monotonic()
        return self._sandbox.session_memory() if self._sandbox is not None else ()

    def keep(self, number: int) -> None:
        """The session is the cluster's now, no longer on its server's lease."""
        self._servers.pop(number, None)

    def servers(self) -> dict[int, str]:
        """Which server's lease each session lives on (kept sessions: none)."""
        return dict(self._servers)

    async def reap(self) -> list[int]:
        """Close the sessions of the servers whose lease ran out; their numbers."""
        deadline = time.monotonic() - self._lease_s
        gone = {server for server, renewed in self._renewed.items() if renewed < deadline}
        numbers = [number for number, server in self._servers.items() if server in gone]
        for server in gone:
            del self._renewed[server]
        for number in numbers:
            await self.close_session(number)
        if numbers:
            log.warning(
                "cluster: closed %d sessions of %d servers that stopped renewing", len(numbers), len(gone)
            )
        return numbers

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self._lease_s / 4)
            try:
                await self.reap()
            except Exception:
                log.exception("cluster: reaping sessions of lost servers")

    async def open_session(self, server: str | None = None) -> int:
        """A new session; on server's lease unless None."""
        if len(self._sessions) + self._opening >= self._capacity:
            raise QuotaExceeded(f"this node holds {self._capacity} sessions already")
        self._opening += 1
        try:
            session = await (await self._started()).open_session()
        finally:
            self._opening -= 1
        self._count += 1
        self._sessions[self._count] = session
        if server is not None:
            self._servers[self._count] = server
            self._renewed[server] = time.monotonic()
        return self._count

    async def run(self, number: int, code: str, timeout_s: float | None) -> Execution:
        return await self._session(number).run(code, timeout_s)

    async def put_file(self, number: int, name: str, data: bytes) -> None:
        await self._session(number).put_file(name, data)

    async def close_session(self, number: int) -> None:
        self._servers.pop(number, None)
        session = self._sessions.pop(number, None)
        if session is not None:
            await session.close()

    async def close(self) -> None:
        """Every session, then the sandbox: no process of this host is left."""
        if self._reaping is not None:
            self._reaping.cancel()
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
