"""SessionDirectory: the Ray actor that knows every kept session of the cluster, whoever opened it.

One named, detached actor on the head node: any server (any Serve replica) looks a session id up here
to learn its owner and where it lives, and takes it for a request. Being one actor, each of its
methods runs alone: a session is never taken twice, a quota never overrun by two servers at once.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import ray

from codeloop.cluster.sandbox import NAMESPACE, START_TIMEOUT_S, SessionRef, call_actor

NAME = "codeloop-session-directory"
HEAD_NODE = "node:__internal_head__"  # the resource only the head node has: the directory lives there


@dataclass
class _Entry:
    owner: str
    ref: SessionRef
    last_used: float
    busy_since: float | None


@dataclass
class _Thread:
    """A conversation's interpreter (stored interactions): its session once opened, the stored
    interactions that hold it, and whether a run has it."""

    owner: str
    ref: SessionRef | None = None
    holders: int = 0
    busy_since: float | None = None


class SessionDirectory:
    """Kept sessions by id: owner, where each lives, when last used, which request holds it; and the
    interpreters of stored interactions' conversations, by thread id."""

    def __init__(self) -> None:
        self._kept: dict[str, _Entry] = {}
        self._threads: dict[str, _Thread] = {}
        self._opening: Counter[str] = Counter()  # sessions being opened, by owner: they count already

    def reserve(self, owner: str, keyed: bool, max_sessions: int, max_per_key: int | None) -> str | None:
        """Count one more of owner's sessions, about to open; or say which quota refuses it."""
        if len(self._kept) + self._opening.total() >= max_sessions:
            return f"All {max_sessions} kept sessions are in use; end one or let it expire."
        mine = self._opening[owner] + sum(1 for e in self._kept.values() if e.owner == owner)
        if keyed and max_per_key is not None and mine >= max_per_key:
            return f"This API key keeps {mine} sessions, as many as it may; end one or let it expire."
        self._opening[owner] += 1
        return None

    def unreserve(self, owner: str) -> None:
        self._opening[owner] -= 1

    def add(self, session_id: str, owner: str, ref: SessionRef) -> None:
        """The session reserved for owner opened: kept, and held by the request that opened it."""
        self._opening[owner] -= 1
        now = time.monotonic()
        self._kept[session_id] = _Entry(owner, ref, now, busy_since=now)

    def take(self, session_id: str, owner: str, busy_for_s: float) -> SessionRef | str:
        """The session's ref, now held; "missing" (none of owner's by that id) or "busy".

        A hold older than busy_for_s is taken to be left by a server that died mid-request."""
        entry = self._kept.get(session_id)
        if entry is None or entry.owner != owner:
            return "missing"
        now = time.monotonic()
        if entry.busy_since is not None and now - entry.busy_since < busy_for_s:
            return "busy"
        entry.busy_since = now
        return entry.ref

    def release(self, session_id: str) -> None:
        entry = self._kept.get(session_id)
        if entry is not None:
            entry.busy_since = None
            entry.last_used = time.monotonic()

    def drop(self, session_id: str) -> None:
        self._kept.pop(session_id, None)

    def expire(self, ttl_s: float) -> list[SessionRef]:
        """Forget the sessions idle over ttl_s; their refs, for the caller to close."""
        deadline = time.monotonic() - ttl_s
        stale = [sid for sid, e in self._kept.items() if e.busy_since is None and e.last_used < deadline]
        return [self._kept.pop(sid).ref for sid in stale]

    def counts_by_owner(self) -> dict[str, int]:
        return dict(Counter(e.owner for e in self._kept.values()))

    def node_of(self, session_id: str) -> str | None:
        """Which node holds a session (for operators and tests: placement by node id)."""
        entry = self._kept.get(session_id)
        return entry.ref.node_id if entry is not None else None

    def take_thread(self, thread_id: str, owner: str, busy_for_s: float) -> SessionRef | str | None:
        """A conversation's session for one run, now held: its ref (None: none opened yet), or
        "busy" while another run has it (a hold older than busy_for_s is a dead server's)."""
        thread = self._threads.setdefault(thread_id, _Thread(owner))
        if thread.owner != owner:
            return "busy"
        now = time.monotonic()
        if thread.busy_since is not None and now - thread.busy_since < busy_for_s:
            return "busy"
        thread.busy_since = now
        return thread.ref

    def thread_opened(self, thread_id: str, ref: SessionRef) -> None:
        thread = self._threads.get(thread_id)
        if thread is not None:
            thread.ref = ref

    def hold_thread(self, thread_id: str, owner: str) -> None:
        self._threads.setdefault(thread_id, _Thread(owner)).holders += 1

    def give_back_thread(self, thread_id: str) -> SessionRef | None:
        """The run is done with it; with no stored interaction left holding it, its ref to close."""
        thread = self._threads.get(thread_id)
        if thread is None:
            return None
        thread.busy_since = None
        return self._closing(thread_id) if thread.holders <= 0 else None

    def let_go_thread(self, thread_id: str) -> SessionRef | None:
        """One stored interaction no longer holds it; the last one, once no run has it, closes it."""
        thread = self._threads.get(thread_id)
        if thread is None:
            return None
        thread.holders -= 1
        return self._closing(thread_id) if thread.holders <= 0 and thread.busy_since is None else None

    def _closing(self, thread_id: str) -> SessionRef | None:
        return self._threads.pop(thread_id).ref


def directory_actor() -> Any:
    """The cluster's SessionDirectory, started on the head node by whichever server asks first."""
    return (
        ray.remote(SessionDirectory)
        .options(
            name=NAME,
            namespace=NAMESPACE,
            get_if_exists=True,
            lifetime="detached",
            num_cpus=0,
            resources={HEAD_NODE: 0.001},
        )
        .remote()
    )


async def ready_directory() -> Any:
    """directory_actor(), once it answers: its first start launches a worker process on the head node,
    which a busy cluster may take longer to do than any later call is given."""
    directory = directory_actor()
    await call_actor(directory.counts_by_owner.remote(), START_TIMEOUT_S)
    return directory
