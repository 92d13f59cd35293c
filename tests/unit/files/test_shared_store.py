"""A Files API store shared by several servers (one directory, as under Ray Serve): each sees what the
others stored, removed and started, with the same per-key isolation and quotas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clock import Clock

from codeloop.errors import NotFound, QuotaExceeded
from codeloop.files.store import FileStore
from codeloop.files.uploads import UploadStore
from codeloop.owners import key_owner

ALICE, BOB = key_owner("alice"), key_owner("bob")


def server(root: Path, clock: Clock, shared: bool = True) -> tuple[FileStore, UploadStore]:
    """One server's view of the shared directory."""
    files = FileStore(
        root / "files",
        max_file_bytes=100,
        max_total_bytes=300,
        ttl_s=60,
        clock=clock,
        max_key_bytes=150,
        shared=shared,
    )
    return files, UploadStore(root / "uploads", files, ttl_s=60, clock=clock, max_per_key=2)


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_a_file_stored_through_one_server_is_read_listed_and_deleted_through_another(
    tmp_path: Path, clock: Clock
) -> None:
    (one, _), (other, _) = server(tmp_path, clock), server(tmp_path, clock)
    stored = one.put(ALICE, b"shared bytes", "text/plain", "notes")
    assert other.get(ALICE, stored.name) == stored
    assert other.read(ALICE, stored.name) == b"shared bytes"
    assert other.list(ALICE)[0] == [stored]
    assert other.counts_by_owner() == {ALICE: 1}
    other.delete(ALICE, stored.name)
    with pytest.raises(NotFound):
        one.get(ALICE, stored.name)
    assert one.list(ALICE)[0] == []


def test_another_key_finds_nothing_through_any_server(tmp_path: Path, clock: Clock) -> None:
    (one, _), (other, _) = server(tmp_path, clock), server(tmp_path, clock)
    stored = one.put(ALICE, b"alice only", "text/plain")
    for store in (one, other):
        with pytest.raises(NotFound):
            store.get(BOB, stored.name)
        assert store.list(BOB)[0] == []


def test_a_keys_quota_counts_what_it_stored_through_every_server(tmp_path: Path, clock: Clock) -> None:
    (one, _), (other, _) = server(tmp_path, clock), server(tmp_path, clock)
    one.put(ALICE, b"x" * 100, "text/plain")
    with pytest.raises(QuotaExceeded):
        other.put(ALICE, b"y" * 60, "text/plain")  # 160 > the key's 150
    other.put(BOB, b"y" * 60, "text/plain")


def test_a_file_expires_for_every_server(tmp_path: Path, clock: Clock) -> None:
    (one, _), (other, _) = server(tmp_path, clock), server(tmp_path, clock)
    stored = one.put(ALICE, b"brief", "text/plain")
    clock.now += 61
    assert other.purge_expired() == 1
    with pytest.raises(NotFound):
        one.get(ALICE, stored.name)


def test_an_upload_started_through_one_server_finishes_through_another(tmp_path: Path, clock: Clock) -> None:
    (_, first), (files, second) = server(tmp_path, clock), server(tmp_path, clock)
    upload = first.start(ALICE, "text/plain", "notes", size_bytes=11)
    asyncio.run(second.append(upload.id, ALICE, 0, body(b"hello ")))
    assert first.get(upload.id, ALICE).received == 6
    asyncio.run(first.append(upload.id, ALICE, 6, body(b"world")))
    with pytest.raises(NotFound):
        second.get(upload.id, BOB)
    stored = asyncio.run(second.finalize(upload.id, ALICE))
    assert files.read(ALICE, stored.name) == b"hello world"
    with pytest.raises(NotFound):
        first.get(upload.id, ALICE)


def test_a_keys_open_uploads_count_across_servers(tmp_path: Path, clock: Clock) -> None:
    (_, first), (_, second) = server(tmp_path, clock), server(tmp_path, clock)
    first.start(ALICE, "text/plain")
    second.start(ALICE, "text/plain")
    with pytest.raises(QuotaExceeded):
        first.start(ALICE, "text/plain")


def test_unshared_stores_do_not_see_each_other(tmp_path: Path, clock: Clock) -> None:
    """What shared changes: without it a server knows only what it loaded at start and did since."""
    (one, _), (other, _) = server(tmp_path, clock, shared=False), server(tmp_path, clock, shared=False)
    stored = one.put(ALICE, b"private", "text/plain")
    with pytest.raises(NotFound):
        other.get(ALICE, stored.name)
