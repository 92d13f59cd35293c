"""Stored interactions on a directory several servers share: two stores over one directory stand for
two servers. What one writes the other reads; caps, owners and expiry hold across them."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from test_interaction_store import A, B, FakeSandbox, finished, limits, request

from codeloop.errors import NotFound, QuotaExceeded
from codeloop.owners import ANONYMOUS
from codeloop.server.interactions.shared import ORPHAN_AFTER_S, SERVERS, STOPPED, SharedInteractionStore


def shared(root: Path, **caps: Any) -> SharedInteractionStore:
    return SharedInteractionStore(root, FakeSandbox(), limits(**caps))


def test_a_record_written_by_one_server_is_read_by_another_its_owners_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        one, other = shared(tmp_path), shared(tmp_path)
        record = await finished(one, A)
        record.changed()  # as its run writes it when it ends
        found = await other.get(A, record.id)
        assert found is not record
        assert found.interaction() == record.interaction()
        for owner in (B, ANONYMOUS):
            with pytest.raises(NotFound):
                await other.get(owner, record.id)
        assert other.counts_by_owner() == {A: 1} and len(other) == 1
        await other.delete(A, record.id)
        with pytest.raises(NotFound):
            await one.get(A, record.id)

    asyncio.run(scenario())


def test_a_keys_cap_holds_across_servers_running_ones_never_evicted(tmp_path: Path) -> None:
    async def scenario() -> None:
        one, other = shared(tmp_path, max_per_key=2), shared(tmp_path, max_per_key=2)
        await one.begin(A, request(), None)  # still running
        await other.begin(A, request(), None)
        with pytest.raises(QuotaExceeded):
            await one.begin(A, request(), None)
        await other.begin(B, request(), None)  # another key's room is its own

    asyncio.run(scenario())


def test_the_least_recently_used_finished_record_makes_room_whoever_wrote_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        one, other = shared(tmp_path, max_per_key=2), shared(tmp_path, max_per_key=2)
        first, second = await finished(one, A), await finished(one, A)
        for record in (first, second):
            record.changed()
        past = time.time() - 10
        os.utime(one._path(A, first.id), (past, past))
        await other.get(A, first.id)  # read again, through the other: now second is the older
        await finished(other, A)
        with pytest.raises(NotFound):
            await one.get(A, second.id)
        assert await one.get(A, first.id)

    asyncio.run(scenario())


def test_an_unused_record_expires_for_every_server(tmp_path: Path) -> None:
    async def scenario() -> None:
        one, other = shared(tmp_path, ttl_s=1), shared(tmp_path, ttl_s=1)
        record = await finished(one, A)
        record.changed()
        past = time.time() - 5
        os.utime(one._path(A, record.id), (past, past))
        with pytest.raises(NotFound):
            await other.get(A, record.id)
        assert not list(tmp_path.glob("*.json"))

    asyncio.run(scenario())


def test_a_run_whose_server_stopped_is_failed_and_leaves_its_keys_cap(tmp_path: Path) -> None:
    async def scenario() -> None:
        dead, alive = shared(tmp_path, max_per_key=1), shared(tmp_path, max_per_key=1)
        record, _ = await dead.begin(A, request(), None)  # in progress on `dead`
        found = await alive.get(A, record.id)
        assert found.running  # its server beats: still in progress for everyone
        with pytest.raises(QuotaExceeded):
            await alive.begin(A, request(), None)
        assert dead._beating is not None
        dead._beating.cancel()  # killed: no more heartbeats, nothing cleaned up
        past = time.time() - ORPHAN_AFTER_S - 1
        os.utime(tmp_path / SERVERS / dead.server, (past, past))
        found = await alive.get(A, record.id)
        assert found.status == "failed" and not found.running
        assert [(error.code, error.message) for error in found.errors] == [("UNAVAILABLE", STOPPED)]
        assert found.log.events()[-1] == {
            "event_type": "error",
            "error": {"code": "UNAVAILABLE", "message": STOPPED},
        }
        await alive.begin(A, request(), None)  # the failed record made room
        with pytest.raises(NotFound):
            await alive.get(A, record.id)

    asyncio.run(scenario())


def test_a_server_closing_removes_its_heartbeat(tmp_path: Path) -> None:
    async def scenario() -> None:
        one = shared(tmp_path)
        await finished(one, A)
        assert (tmp_path / SERVERS / one.server).exists()
        await one.close()
        assert not (tmp_path / SERVERS / one.server).exists()

    asyncio.run(scenario())


@pytest.mark.timeout(30)
def test_a_create_is_the_first_to_find_a_stopped_servers_run(tmp_path: Path) -> None:
    async def scenario() -> None:
        dead, alive = shared(tmp_path, max_per_key=1), shared(tmp_path, max_per_key=1)
        record, _ = await dead.begin(A, request(), None)
        assert dead._beating is not None
        dead._beating.cancel()
        past = time.time() - ORPHAN_AFTER_S - 1
        os.utime(tmp_path / SERVERS / dead.server, (past, past))
        # The cap check reads the stopped run under the directory's lock: failed, then evicted.
        await asyncio.wait_for(alive.begin(A, request(), None), timeout=10)
        with pytest.raises(NotFound):
            await alive.get(A, record.id)

    asyncio.run(scenario())
