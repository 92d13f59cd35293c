"""The interpreter a conversation of interactions shares, so that its variables and files survive turns.

A Thread's session opens at the conversation's first code block, not before: a conversation that
never runs code holds no interpreter. Each stored interaction of the conversation holds the Thread;
the last one to go (deleted, evicted, expired) closes its session. One run at a time uses it: a
second, concurrent continuation is refused (409 ABORTED), never interleaved. Idle, its interpreter
is reset by the sandbox like any other (its next block says so), and the conversation goes on.

A store gets its Threads from a Threads, which also finds a conversation's Thread by the id its
records keep: in this process (LocalThreads), or on a cluster, from any server (cluster/threads.py).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Protocol

from codeloop.errors import Aborted
from codeloop.execution import Execution
from codeloop.sandbox.base import Sandbox, Session
from codeloop.sandbox.output import Listener


class Thread:
    def __init__(self, sandbox: Sandbox, thread_id: str | None = None) -> None:
        self.id = thread_id or secrets.token_urlsafe(16)
        self._sandbox = sandbox
        self._session: Session | None = None
        self._opening = asyncio.Lock()
        self.holders = 0  # stored interactions that hold it
        self.busy = False

    async def take(self, interaction_id: str) -> ThreadSession:
        """The session for one run; Aborted while another run has it."""
        if self.busy:
            raise Aborted(
                f"The conversation of {interaction_id} is busy with another interaction; send one at a time."
            )
        self.busy = True
        return ThreadSession(self)

    async def hold(self) -> None:
        """One more stored interaction holds it."""
        self.holders += 1

    async def give_back(self) -> None:
        self.busy = False
        if self.holders <= 0:
            await self.close()

    async def let_go(self) -> None:
        """One stored interaction no longer holds it: the last one closes it, once no run has it."""
        self.holders -= 1
        if self.holders <= 0 and not self.busy:
            await self.close()

    async def session(self) -> Session:
        async with self._opening:
            if self._session is None:
                self._session = await self._sandbox.open_session()
            return self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()


class Threads(Protocol):
    """Where a store gets its conversations' interpreters: a new one, or one its records name by id."""

    def new(self, owner: str) -> Thread: ...

    def find(self, thread_id: str, owner: str) -> Thread: ...


class LocalThreads:
    """Interpreters of this process, by id: a conversation continued here finds the one it began with
    here; one begun by another server (without a cluster to reach it) starts a fresh interpreter."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._threads: dict[str, Thread] = {}

    def new(self, owner: str) -> Thread:
        thread = _ClosingForgets(self._sandbox, self._threads)
        self._threads[thread.id] = thread
        return thread

    def find(self, thread_id: str, owner: str) -> Thread:
        thread = self._threads.get(thread_id)
        if thread is None:
            thread = _ClosingForgets(self._sandbox, self._threads, thread_id)
            self._threads[thread_id] = thread
        return thread


class _ClosingForgets(Thread):
    def __init__(self, sandbox: Sandbox, known: dict[str, Thread], thread_id: str | None = None) -> None:
        super().__init__(sandbox, thread_id)
        self._known = known

    async def close(self) -> None:
        self._known.pop(self.id, None)
        await super().close()


class ThreadSession:
    """A Session for the loop that opens its Thread's interpreter when the first block runs; closing
    it is the Thread's to do."""

    def __init__(self, thread: Thread) -> None:
        self.thread = thread

    async def run(
        self, code: str, timeout_s: float | None = None, on_output: Listener | None = None
    ) -> Execution:
        return await (await self.thread.session()).run(code, timeout_s, on_output)

    async def put_file(self, name: str, data: bytes) -> None:
        await (await self.thread.session()).put_file(name, data)

    async def close(self) -> None:
        pass
