"""The store of interactions on its own, over an in-memory sandbox: owners, caps, eviction, expiry, and the
interpreter a conversation shares."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from codeloop.errors import Aborted, InvalidRequest, NotFound, QuotaExceeded
from codeloop.execution import Execution, Outcome
from codeloop.owners import ANONYMOUS, key_owner
from codeloop.sandbox.base import SessionCounts, SessionMemory
from codeloop.server.interactions.store import InteractionLimits, InteractionStore, Record
from codeloop.wire.interactions.request import parse_create_request

A, B = key_owner("a"), key_owner("b")


class FakeSession:
    def __init__(self, sandbox: FakeSandbox) -> None:
        self.sandbox = sandbox
        self.ran: list[str] = []

    async def run(self, code: str, timeout_s: float | None = None, on_output: object = None) -> Execution:
        self.ran.append(code)
        return Execution(Outcome.OUTCOME_OK, "")

    async def put_file(self, name: str, data: bytes) -> None:
        pass

    async def close(self) -> None:
        self.sandbox.closed += 1


class FakeSandbox:
    def __init__(self) -> None:
        self.opened = self.closed = 0

    async def open_session(self) -> FakeSession:
        self.opened += 1
        return FakeSession(self)

    @property
    def session_counts(self) -> SessionCounts:
        return SessionCounts(self.opened - self.closed)

    def session_memory(self) -> tuple[SessionMemory, ...]:
        return ()

    async def close(self) -> None:
        pass


def limits(**caps: Any) -> InteractionLimits:
    """Small caps for tests, `caps` on top."""
    settings: dict[str, Any] = {
        "ttl_s": 60,
        "max_records": 10,
        "max_per_key": 3,
        "max_background_per_key": 1,
        "max_history_bytes": 1 << 20,
    }
    return InteractionLimits(**{**settings, **caps})


def store(sandbox: FakeSandbox | None = None, **caps: Any) -> InteractionStore:
    return InteractionStore(sandbox or FakeSandbox(), limits(**caps))


def request(code: bool = False, **body: object):
    tools = [{"type": "code_execution"}] if code else []
    return parse_create_request(json.dumps({"model": "m", "input": "Hi", "tools": tools, **body}))


async def finished(
    interactions: InteractionStore, owner: str, previous: Record | None = None, **body
) -> Record:
    """An interaction begun and ended, as a run would end it."""
    record, session = await interactions.begin(owner, request(**body), previous)
    record.status = "completed"
    if session is not None:
        await session.run("pass")
        await session.thread.give_back()
    return record


def test_an_interaction_is_its_owners_alone() -> None:
    async def scenario() -> None:
        interactions = store()
        record = await finished(interactions, A)
        assert await interactions.get(A, record.id) is record
        for other in (B, ANONYMOUS):
            with pytest.raises(NotFound):
                await interactions.get(other, record.id)
            with pytest.raises(NotFound):
                await interactions.delete(other, record.id)
        with pytest.raises(NotFound):
            await interactions.get(A, "../" + record.id)
        unstored = await finished(interactions, A, store=False)
        with pytest.raises(NotFound):
            await interactions.get(A, unstored.id)
        assert interactions.counts_by_owner() == {A: 1}

    asyncio.run(scenario())


def test_a_full_key_loses_its_least_recently_used_finished_interaction() -> None:
    async def scenario() -> None:
        interactions = store()
        theirs = await finished(interactions, B)
        first, second, third = [await finished(interactions, A) for _ in range(3)]
        await interactions.get(A, first.id)  # used again: now second is the least recently used
        await finished(interactions, A)
        with pytest.raises(NotFound):
            await interactions.get(A, second.id)
        assert await interactions.get(A, first.id) and await interactions.get(A, third.id)
        assert await interactions.get(B, theirs.id)
        assert interactions.counts_by_owner() == {A: 3, B: 1}

    asyncio.run(scenario())


def test_running_interactions_are_never_dropped_to_make_room() -> None:
    async def scenario() -> None:
        interactions = store(max_per_key=2)
        for _ in range(2):
            await interactions.begin(A, request(), None)  # still running
        with pytest.raises(QuotaExceeded):
            await interactions.begin(A, request(), None)
        await interactions.begin(A, request(store=False), None)  # needs no room
        anonymous = store(max_records=2, max_per_key=1)
        for _ in range(2):
            await finished(anonymous, ANONYMOUS)  # past the per-key cap: the anonymous owner has none
        assert len(anonymous) == 2
        await finished(anonymous, ANONYMOUS)
        assert len(anonymous) == 2  # the server's cap holds

    asyncio.run(scenario())


def test_a_conversation_shares_one_interpreter_and_the_last_turn_closes_it() -> None:
    async def scenario() -> None:
        sandbox = FakeSandbox()
        interactions = store(sandbox)
        first = await finished(interactions, A, code=True)
        second, session = await interactions.begin(A, request(code=True), first)
        assert session is not None and second.thread is first.thread
        await session.run("y = 2")
        with pytest.raises(Aborted):  # a branch from the first turn, while the second runs
            await interactions.begin(A, request(code=True), first)
        second.status = "completed"
        await session.thread.give_back()
        assert (sandbox.opened, sandbox.closed) == (1, 0)
        await interactions.delete(A, first.id)
        assert sandbox.closed == 0, "the second turn holds it still"
        await interactions.delete(A, second.id)
        assert sandbox.closed == 1
        without_code = await finished(interactions, A)
        assert without_code.thread is None and sandbox.opened == 1

    asyncio.run(scenario())


def test_unused_interactions_expire_and_close_their_interpreter() -> None:
    async def scenario() -> None:
        sandbox = FakeSandbox()
        interactions = store(sandbox, ttl_s=0.05)
        record = await finished(interactions, A, code=True)
        running, _ = await interactions.begin(A, request(), None)
        await asyncio.sleep(0.1)
        with pytest.raises(NotFound):
            await interactions.get(A, record.id)
        assert sandbox.closed == 1
        assert await interactions.get(A, running.id), "a running interaction never expires"

    asyncio.run(scenario())


def test_what_cannot_be_continued() -> None:
    async def scenario() -> None:
        interactions = store(max_history_bytes=10)
        running, _ = await interactions.begin(A, request(), None)
        with pytest.raises(Aborted):
            await interactions.begin(A, request(), running)
        done = await finished(interactions, A)
        done.history_bytes = 11
        with pytest.raises(InvalidRequest, match="start a new one"):
            await interactions.begin(A, request(), done)

    asyncio.run(scenario())


def test_a_key_runs_so_many_in_the_background() -> None:
    async def scenario() -> None:
        interactions = store()
        record, _ = await interactions.begin(A, request(background=True), None)
        await interactions.start(record, asyncio.sleep(10))
        task = record.task
        assert task is not None
        with pytest.raises(QuotaExceeded):
            await interactions.begin(A, request(background=True), None)
        await interactions.begin(B, request(background=True), None)  # another key's own count
        await interactions.cancel(A, record.id)
        assert task.cancelled()
        await asyncio.sleep(0)
        await interactions.begin(A, request(background=True), None)

    asyncio.run(scenario())
