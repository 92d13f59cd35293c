"""ClusterThreads: the interpreters of stored interactions' conversations, reachable from every server.

A conversation's interpreter is a session on a sandbox node, kept (closing the server that opened it
leaves it open), and entered in the cluster's SessionDirectory under the thread id its records keep:
a continuation through any server runs in it, with its variables and files. The directory counts the
stored interactions that hold it and the run that has it, across servers; the last holder to go closes
it. A session whose node is gone is replaced by a fresh one, as an interpreter the sandbox reset is.
"""

from __future__ import annotations

import logging
from typing import Any

from codeloop.cluster.directory import ready_directory
from codeloop.cluster.sandbox import CONTROL_TIMEOUT_S, RaySandbox, SessionRef, call_actor
from codeloop.errors import Aborted, CodeloopError
from codeloop.sandbox.base import Session
from codeloop.server.interactions.threads import Thread, ThreadSession

log = logging.getLogger("codeloop.cluster")

BUSY_FOR_S = 3600.0  # a run holding an interpreter longer than this is taken to have died with its server


class ClusterThreads:
    def __init__(self, sandbox: RaySandbox) -> None:
        self._sandbox = sandbox
        self._directory: Any = None

    def new(self, owner: str) -> Thread:
        return ClusterThread(self, owner)

    def find(self, thread_id: str, owner: str) -> Thread:
        return ClusterThread(self, owner, thread_id)

    async def ask(self, method: str, *args: Any) -> Any:
        """The directory's answer to one of its methods."""
        if self._directory is None:
            self._directory = await ready_directory()
        return await call_actor(getattr(self._directory, method).remote(*args), CONTROL_TIMEOUT_S)

    async def close_ref(self, ref: SessionRef | None) -> None:
        if ref is None:
            return
        try:
            await (await self._sandbox.session_for(ref)).close()
        except CodeloopError as exc:
            log.debug("cluster: closing a conversation's interpreter: %s", exc)


class ClusterThread(Thread):
    """A handle on one conversation's interpreter; every count lives in the directory."""

    def __init__(self, threads: ClusterThreads, owner: str, thread_id: str | None = None) -> None:
        super().__init__(threads._sandbox, thread_id)
        self._threads = threads
        self._cluster = threads._sandbox
        self._owner = owner
        self._ref: SessionRef | None = None

    async def take(self, interaction_id: str) -> ThreadSession:
        found = await self._threads.ask("take_thread", self.id, self._owner, BUSY_FOR_S)
        if found == "busy":
            raise Aborted(
                f"The conversation of {interaction_id} is busy with another interaction; send one at a time."
            )
        self._ref = found
        self.busy = True
        return ThreadSession(self)

    async def hold(self) -> None:
        await self._threads.ask("hold_thread", self.id, self._owner)

    async def give_back(self) -> None:
        self.busy = False
        self._session = None
        await self._threads.close_ref(await self._threads.ask("give_back_thread", self.id))

    async def let_go(self) -> None:
        await self._threads.close_ref(await self._threads.ask("let_go_thread", self.id))

    async def session(self) -> Session:
        async with self._opening:
            if self._session is None:
                self._session = await self._found_or_opened()
            return self._session

    async def close(self) -> None:
        """Its session is the directory's to close, when the last holder goes."""

    async def _found_or_opened(self) -> Session:
        if self._ref is not None:
            found = await self._cluster.session_for(self._ref)
            if not await found.lost():
                return found
        opened = await self._cluster.open_session()
        opened.keep()
        self._ref = opened.ref
        await self._threads.ask("thread_opened", self.id, opened.ref)
        return opened
