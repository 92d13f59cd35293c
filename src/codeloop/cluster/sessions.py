"""ClusterSessionStore: kept sessions that any server of the cluster continues, whoever opened them.

The rules are SessionStore's (server/sessions.py): the same header, owners, quotas and expiry; the
records live in the cluster's SessionDirectory instead of this process. A session whose node was
lost answers 404, saying so, and is forgotten.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import ray

from codeloop.cluster.directory import directory_actor, ready_directory
from codeloop.cluster.sandbox import CONTROL_TIMEOUT_S, RaySandbox, SessionRef, call_actor
from codeloop.errors import Aborted, InvalidRequest, NotFound, QuotaExceeded, SessionLost
from codeloop.owners import is_key
from codeloop.sandbox.base import Sandbox
from codeloop.server.sessions import HEADER, NEW, Lease, SessionStore

log = logging.getLogger("codeloop.cluster")

EXPIRE_EVERY_S = 5.0  # the most often one server sweeps the directory for expired sessions
BUSY_FOR_S = 3600.0  # a request holding a session longer than this is taken to have died with its server


class ClusterSessionStore(SessionStore):
    def __init__(
        self, sandbox: Sandbox, ttl_s: float, max_sessions: int, max_per_key: int | None = None
    ) -> None:
        if not isinstance(sandbox, RaySandbox):
            raise TypeError("kept sessions on a cluster need the cluster's sandbox, a RaySandbox")
        super().__init__(sandbox, ttl_s, max_sessions, max_per_key)
        self._cluster = sandbox
        self._directory: Any = None
        self._counts: dict[str, int] = {}  # as last read from the directory, for /metrics
        self._expired_at = float("-inf")

    def __len__(self) -> int:
        return sum(self._counts.values())

    def counts_by_owner(self) -> dict[str, int]:
        return dict(self._counts)

    async def acquire(self, key: str, owner: str) -> Lease:
        await self._expire()
        directory = await self._ready_directory()
        if key == NEW:
            refusal = await call_actor(
                directory.reserve.remote(owner, is_key(owner), self._max, self._max_per_key),
                CONTROL_TIMEOUT_S,
            )
            if refusal is not None:
                raise QuotaExceeded(refusal)
            try:
                session = await self._cluster.open_session()
            except BaseException:
                directory.unreserve.remote(owner)
                raise
            session.keep()
            session_id = secrets.token_urlsafe(16)
            await call_actor(directory.add.remote(session_id, owner, session.ref), CONTROL_TIMEOUT_S)
            await self._refresh_counts()
            return Lease(session_id, session, self)
        if len(key) > 64 or not key.replace("-", "").replace("_", "").isalnum():
            raise InvalidRequest(f"{HEADER} must be '{NEW}' or a session id this server gave.")
        found = await call_actor(directory.take.remote(key, owner, BUSY_FOR_S), CONTROL_TIMEOUT_S)
        if found == "missing":
            raise NotFound(
                f"Session {key} is not found; it may have expired. Start one with {HEADER}: {NEW}."
            )
        if found == "busy":
            raise Aborted(f"Session {key} is busy with another request; send one request at a time.")
        assert isinstance(found, SessionRef)
        session = await self._cluster.session_for(found)
        if await session.lost():
            directory.drop.remote(key)
            await self._refresh_counts()
            raise NotFound(
                f"Session {key} is lost: the sandbox node that held it is gone. "
                f"Start one with {HEADER}: {NEW}."
            )
        return Lease(key, session, self)

    def node_of(self, session_id: str) -> str | None:
        """Which node holds a kept session, or None."""
        node: str | None = ray.get(
            self._open_directory().node_of.remote(session_id), timeout=CONTROL_TIMEOUT_S
        )
        return node

    def _release(self, session_id: str) -> None:
        # Ordered after this server's earlier calls to the directory; nothing to wait for.
        self._open_directory().release.remote(session_id)

    async def close(self) -> None:
        """Kept sessions are the cluster's: they stay for other servers to continue, until they expire."""

    async def _expire(self) -> None:
        # Every server sweeps the directory, so each need not on every request.
        if time.monotonic() - self._expired_at < min(self._ttl_s / 4, EXPIRE_EVERY_S):
            return
        self._expired_at = time.monotonic()
        directory = await self._ready_directory()
        stale: list[SessionRef] = await call_actor(directory.expire.remote(self._ttl_s), CONTROL_TIMEOUT_S)
        sessions = [await self._cluster.session_for(ref) for ref in stale]
        closing = await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        for outcome in closing:
            if isinstance(outcome, BaseException) and not isinstance(outcome, SessionLost):
                log.warning("cluster: closing an expired session: %s", outcome)
        if stale:
            await self._refresh_counts()

    async def _refresh_counts(self) -> None:
        directory = await self._ready_directory()
        self._counts = await call_actor(directory.counts_by_owner.remote(), CONTROL_TIMEOUT_S)

    async def _ready_directory(self) -> Any:
        if self._directory is None:
            self._directory = await ready_directory()
        return self._directory

    def _open_directory(self) -> Any:
        if self._directory is None:
            self._directory = directory_actor()
        return self._directory
