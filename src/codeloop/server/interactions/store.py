"""Stored interactions: each its owner's, found by id only with its owner's key, kept while in use.

Within InteractionLimits: an interaction unused (created, read, continued) for `ttl_s` seconds
expires, as a kept session does; one still running never does. A key keeps at most `max_per_key`
and the server `max_records`: to make room, the creating owner's least recently used finished
interaction goes, never another key's; when all of its interactions are running, the create is
refused (429). A key runs at most `max_background_per_key` background interactions at once. A
conversation continued turn after turn keeps its history; past `max_history_bytes` (what one request
may carry) it must start anew.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from codeloop.errors import Aborted, InvalidRequest, NotFound, QuotaExceeded
from codeloop.owners import is_key
from codeloop.sandbox.base import Sandbox
from codeloop.server.interactions.log import EventLog
from codeloop.server.interactions.threads import LocalThreads, Thread, Threads, ThreadSession
from codeloop.wire.interactions.request import CreateInteraction
from codeloop.wire.interactions.shapes import (
    Interaction,
    InteractionError,
    InteractionUsage,
    Status,
    Step,
)
from codeloop.wire.interactions.steps import timestamp

_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


@dataclass(eq=False)
class Record:
    """One interaction: what was asked, what the model did so far, and how it stands."""

    id: str
    owner: str
    request: CreateInteraction
    previous: Record | None
    thread: Thread | None  # the conversation's interpreter, if it has one
    stored: bool
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    log: EventLog = field(default_factory=EventLog)
    status: Status = "in_progress"
    output: list[Step] = field(default_factory=list)  # the run's steps, filled as it goes
    usage: InteractionUsage | None = None
    errors: list[InteractionError] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    updated: datetime = field(default_factory=lambda: datetime.now(UTC))
    last_used: float = field(default_factory=time.monotonic)
    history_bytes: int = 0  # the conversation's size up to and including this interaction
    # Read back from a shared store: the conversation before it, in place of the chain of `previous`.
    earlier: list[Step] | None = None
    previous_id: str | None = None
    saved: Callable[[Record], None] | None = None  # told of each change, where records are shared

    def changed(self) -> None:
        """Its status or steps changed: a shared store writes it where every server reads it."""
        if self.saved is not None:
            self.saved(self)

    @property
    def running(self) -> bool:
        return self.status == "in_progress"

    @property
    def background(self) -> bool:
        return self.request.body.background is True

    def steps(self) -> list[Step]:
        return [*self.request.input, *self.output]

    def history(self) -> list[Step]:
        """The conversation this interaction ends: every turn's steps, the first turn's first."""
        chain: list[Record] = []
        record: Record | None = self
        while record is not None:
            chain.append(record)
            if record.earlier is not None:
                break
            record = record.previous
        earlier = chain[-1].earlier or []
        return [*earlier, *(step for turn in reversed(chain) for step in turn.steps())]

    def interaction(self, include_input: bool = False) -> Interaction:
        body = self.request.body
        return Interaction(
            id=self.id,
            status=self.status,
            model=self.request.model,
            created=timestamp(self.created),
            updated=timestamp(self.updated),
            previous_interaction_id=self.previous.id if self.previous else self.previous_id,
            system_instruction=body.system_instruction,
            tools=body.tools,
            generation_config=body.generation_config,
            labels=body.labels,
            input=list(self.request.input) if include_input else None,
            steps=self.steps(),
            usage=self.usage,
            errors=self.errors or None,
        )


@dataclass(frozen=True)
class InteractionLimits:
    """How long stored interactions live and how many there may be (see the module's docstring)."""

    ttl_s: float
    max_records: int
    max_per_key: int
    max_background_per_key: int | None  # None: no cap
    max_history_bytes: int


class InteractionStore:
    def __init__(self, sandbox: Sandbox, limits: InteractionLimits, threads: Threads | None = None) -> None:
        self._sandbox = sandbox
        self._threads = threads or LocalThreads(sandbox)
        self.limits = limits
        self._records: dict[str, Record] = {}
        self._running: set[Record] = set()  # stored or not: all are cancelled when the server stops

    def __len__(self) -> int:
        return len(self._records)

    def counts_by_owner(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for record in self._records.values():
            counts[record.owner] = counts.get(record.owner, 0) + 1
        return counts

    async def begin(
        self, owner: str, request: CreateInteraction, previous: Record | None
    ) -> tuple[Record, ThreadSession | None]:
        """A new interaction, stored if asked, and the interpreter its run is to use (None: one of its
        own). Every refusal comes before anything is kept."""
        await self._expire()
        if previous is not None:
            self._check_continuable(previous)
        if request.body.background and self.limits.max_background_per_key:
            mine = self._background_running(owner)
            if mine >= self.limits.max_background_per_key:
                raise QuotaExceeded(
                    f"This API key runs {mine} background interactions, as many as it may at once; "
                    "wait for one to end, or cancel one."
                )
        thread = previous.thread if previous is not None else None
        if thread is None and request.code_execution and request.store:
            thread = self._threads.new(owner)
        interaction_id = _new_id()
        session = None
        if thread is not None and request.code_execution:
            session = await thread.take(previous.id if previous is not None else interaction_id)
        record = Record(interaction_id, owner, request, previous, thread, stored=request.store)
        try:
            if record.stored:
                await self._keep(record)
        except BaseException:
            if thread is not None and session is not None:
                await thread.give_back()
            raise
        return record, session

    def _background_running(self, owner: str) -> int:
        return sum(1 for r in self._running if r.owner == owner and r.background)

    async def _keep(self, record: Record) -> None:
        """Store a new record, once there is room for it (QuotaExceeded where there is none)."""
        await self._make_room(record.owner)
        self._records[record.id] = record
        if record.thread is not None:
            await record.thread.hold()

    async def start(self, record: Record, run: Coroutine[Any, Any, None]) -> None:
        """Run `run` (runs.drive) as the record's task, stopped by cancel, delete and close."""
        task = asyncio.create_task(run, name=f"interaction {record.id}")
        record.task = task
        self._running.add(record)
        task.add_done_callback(lambda _: self._running.discard(record))
        # Let it take its first step: a task cancelled before that never runs, its cleanup included.
        await asyncio.sleep(0)

    async def get(self, owner: str, interaction_id: str) -> Record:
        """Owner's interaction; NotFound for another key's, as for one that never was."""
        await self._expire()
        record = self._records.get(interaction_id) if _ID.fullmatch(interaction_id) else None
        if record is None or record.owner != owner:
            raise NotFound(f"Interaction {interaction_id[:128]} is not found; it may have expired.")
        record.last_used = time.monotonic()
        return record

    async def cancel(self, owner: str, interaction_id: str) -> Record:
        """Stop it if it runs (its steps so far are kept); a finished one is returned as it is."""
        record = await self.get(owner, interaction_id)
        await _stopped(record)
        return record

    async def delete(self, owner: str, interaction_id: str) -> None:
        record = await self.get(owner, interaction_id)
        await _stopped(record)
        await self._drop(record)

    async def close(self) -> None:
        running = [record for record in self._running if record.task is not None]
        for record in running:
            assert record.task is not None
            record.task.cancel()
        await asyncio.gather(*(r.task for r in running if r.task), return_exceptions=True)
        for record in list(self._records.values()):
            await self._drop(record)

    def _check_continuable(self, previous: Record) -> None:
        if previous.running:
            raise Aborted(f"Interaction {previous.id} is still in progress; continue it once it has ended.")
        if previous.history_bytes > self.limits.max_history_bytes:
            raise InvalidRequest(
                f"* previous_interaction_id: the conversation holds {previous.history_bytes} bytes, more "
                f"than the {self.limits.max_history_bytes} one request may carry; start a new one."
            )

    async def _make_room(self, owner: str) -> None:
        while True:
            mine = [record for record in self._records.values() if record.owner == owner]
            over_key = is_key(owner) and len(mine) >= self.limits.max_per_key
            if not over_key and len(self._records) < self.limits.max_records:
                return
            finished = [record for record in mine if not record.running]
            if not finished:
                raise QuotaExceeded(
                    f"No room for another stored interaction: this key's {len(mine)} are all running; "
                    "wait for one to end, or send store=false."
                )
            await self._drop(min(finished, key=lambda record: record.last_used))

    async def _expire(self) -> None:
        deadline = time.monotonic() - self.limits.ttl_s
        for record in list(self._stale(deadline)):
            await self._drop(record)

    def _stale(self, deadline: float) -> Iterator[Record]:
        return (r for r in self._records.values() if not r.running and r.last_used < deadline)

    async def _drop(self, record: Record) -> None:
        if self._records.pop(record.id, None) is not None and record.thread is not None:
            await record.thread.let_go()


def _new_id() -> str:
    return "v1_" + secrets.token_urlsafe(24)


async def _stopped(record: Record) -> None:
    """The record once its run has ended, cancelled if it was still going."""
    task = record.task
    if task is not None and not task.done():
        task.cancel()
        await asyncio.wait({task})
