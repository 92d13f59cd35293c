"""Interpreter sessions that outlive a request: a chat keeps its variables and files between turns.

Opt-in per request with the `x-codeloop-session` header: `new` opens one, and the response's
`x-codeloop-session` header names it; sending that id again continues it. A session unused for
`session_ttl` seconds is closed; one in use by another request is a 409 ABORTED, never shared.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from codeloop.errors import Aborted, InvalidRequest, NotFound, QuotaExceeded
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
    last_used: float
    busy: bool = False


class SessionStore:
    def __init__(self, sandbox: Sandbox, ttl_s: float, max_sessions: int) -> None:
        self._sandbox = sandbox
        self._ttl_s = ttl_s
        self._max = max_sessions
        self._kept: dict[str, _Kept] = {}

    def __len__(self) -> int:
        return len(self._kept)

    async def acquire(self, key: str) -> Lease:
        """Open (`new`) or take up a session; errors come before any response is sent."""
        await self._expire()
        if key == NEW:
            if len(self._kept) >= self._max:
                raise QuotaExceeded(f"All {self._max} kept sessions are in use; end one or let it expire.")
            session_id = secrets.token_urlsafe(16)
            kept = _Kept(await self._sandbox.open_session(), time.monotonic(), busy=True)
            self._kept[session_id] = kept
            return Lease(session_id, kept.session, self)
        if len(key) > 64 or not key.replace("-", "").replace("_", "").isalnum():
            raise InvalidRequest(f"{HEADER} must be '{NEW}' or a session id this server gave.")
        kept_or_none = self._kept.get(key)
        if kept_or_none is None:
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
