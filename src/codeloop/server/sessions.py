"""Interpreter sessions that outlive a request: a chat keeps its variables and files between turns.

Opt-in per request with the `x-codeloop-session` header: `new` opens one, and the response's
`x-codeloop-session` header names it; sending that id again continues it. A session unused for
`session_ttl` seconds is closed; one in use by another request is a 409 ABORTED, never shared.
A session is its owner's (the API key that opened it): another key's request finds none, as if it
did not exist, and each key may keep at most `max_per_key` of the server's `max_sessions`.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field

from codeloop.errors import Aborted, InvalidRequest, NotFound, QuotaExceeded
from codeloop.owners import is_key
from codeloop.sandbox.base import Sandbox, Session

HEADER = "x-codeloop-session"
NEW = "new"


@dataclass
class Lease:
    """A session held by one request until release()."""

    id: str
    session: Session
    _store: SessionStore = field(repr=False)

    def release(self) -> None:
        self._store._release(self.id)


@dataclass
class _Kept:
    session: Session
    owner: str
    last_used: float
    busy: bool = False


class SessionStore:
    def __init__(
        self, sandbox: Sandbox, ttl_s: float, max_sessions: int, max_per_key: int | None = None
    ) -> None:
        self._sandbox = sandbox
        self._ttl_s = ttl_s
        self._max = max_sessions
        self._max_per_key = max_per_key
        self._kept: dict[str, _Kept] = {}
        self._opening: Counter[str] = Counter()  # sessions being opened, by owner: they count already

    def __len__(self) -> int:
        return len(self._kept)

    def counts_by_owner(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for kept in self._kept.values():
            counts[kept.owner] = counts.get(kept.owner, 0) + 1
        return counts

    async def acquire(self, key: str, owner: str) -> Lease:
        """Open (`new`) or take up one of owner's sessions; errors come before any response is sent."""
        await self._expire()
        if key == NEW:
            if len(self._kept) + self._opening.total() >= self._max:
                raise QuotaExceeded(f"All {self._max} kept sessions are in use; end one or let it expire.")
            mine = self._opening[owner] + sum(1 for kept in self._kept.values() if kept.owner == owner)
            if is_key(owner) and self._max_per_key is not None and mine >= self._max_per_key:
                raise QuotaExceeded(
                    f"This API key keeps {mine} sessions, as many as it may; end one or let it expire."
                )
            self._opening[owner] += 1
            try:
                session = await self._sandbox.open_session()
            finally:
                self._opening[owner] -= 1
            session_id = secrets.token_urlsafe(16)
            kept = _Kept(session, owner, time.monotonic(), busy=True)
            self._kept[session_id] = kept
            return Lease(session_id, kept.session, self)
        if len(key) > 64 or not key.replace("-", "").replace("_", "").isalnum():
            raise InvalidRequest(f"{HEADER} must be '{NEW}' or a session id this server gave.")
        kept_or_none = self._kept.get(key)
        if kept_or_none is None or kept_or_none.owner != owner:
            raise NotFound(
                f"Session {key} is not found; it may have expired. Start one with {HEADER}: {NEW}."
            )
        if kept_or_none.busy:
            raise Aborted(f"Session {key} is busy with another request; send one request at a time.")
        kept_or_none.busy = True
        return Lease(key, kept_or_none.session, self)

    def _release(self, session_id: str) -> None:
        kept = self._kept.get(session_id)
        if kept is not None:
            kept.busy = False
            kept.last_used = time.monotonic()

    async def close(self) -> None:
        kept, self._kept = list(self._kept.values()), {}
        await asyncio.gather(*(k.session.close() for k in kept), return_exceptions=True)

    async def _expire(self) -> None:
        deadline = time.monotonic() - self._ttl_s
        stale = [sid for sid, kept in self._kept.items() if not kept.busy and kept.last_used < deadline]
        for session_id in stale:
            await self._kept.pop(session_id).session.close()
