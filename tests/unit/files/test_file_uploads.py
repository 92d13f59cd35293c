"""UploadStore: resumable uploads in progress, chunk by chunk, until they become files."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clock import Clock

from codeloop.errors import Aborted, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from codeloop.files.store import FileStore
from codeloop.files.uploads import UploadStore
from codeloop.owners import ANONYMOUS, key_owner


@pytest.fixture
def uploads(tmp_path: Path, clock: Clock) -> UploadStore:
    files = FileStore(tmp_path / "files", max_file_bytes=100, max_total_bytes=150, ttl_s=60, clock=clock)
    return UploadStore(tmp_path / "uploads", files, ttl_s=60, clock=clock)


async def body(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def append(uploads: UploadStore, upload_id: str, offset: int, *chunks: bytes) -> int:
    return asyncio.run(uploads.append(upload_id, ANONYMOUS, offset, body(*chunks))).received


def test_chunks_add_up_to_a_file(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain", "notes", size_bytes=11)
    assert len(upload.id) >= 32
    assert append(uploads, upload.id, 0, b"hello", b" ") == 6
    assert uploads.get(upload.id, ANONYMOUS).received == 6
    assert append(uploads, upload.id, 6, b"world") == 11
    stored = asyncio.run(uploads.finalize(upload.id, ANONYMOUS))
    assert (stored.display_name, stored.mime_type, stored.size_bytes) == ("notes", "text/plain", 11)
    assert uploads.files.read(ANONYMOUS, stored.name) == b"hello world"
    with pytest.raises(NotFound):
        uploads.get(upload.id, ANONYMOUS)
    assert list(uploads.root.iterdir()) == []


def test_an_offset_must_continue_where_the_upload_stands(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain")
    append(uploads, upload.id, 0, b"abc")
    with pytest.raises(InvalidRequest, match="offset 1 does not match the 3 bytes"):
        append(uploads, upload.id, 1, b"x")
    assert uploads.get(upload.id, ANONYMOUS).received == 3  # still there, unchanged


def test_a_body_cut_short_is_undone(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain")
    append(uploads, upload.id, 0, b"abc")

    async def broken() -> AsyncIterator[bytes]:
        yield b"partial"
        raise ConnectionResetError

    with pytest.raises(ConnectionResetError):
        asyncio.run(uploads.append(upload.id, ANONYMOUS, 3, broken()))
    assert uploads.get(upload.id, ANONYMOUS).received == 3


@pytest.mark.parametrize(("declared", "sent"), [(5, b"toolong"), (None, b"x" * 101)])
def test_going_past_the_declared_size_or_the_cap_ends_the_upload(
    uploads: UploadStore, declared: int | None, sent: bytes
) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain", size_bytes=declared)
    with pytest.raises(PayloadTooLarge):
        append(uploads, upload.id, 0, sent[:3], sent[3:])
    with pytest.raises(NotFound):
        uploads.get(upload.id, ANONYMOUS)


def test_a_declared_length_over_the_limit_is_refused_before_reading(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain", size_bytes=4)

    async def unread() -> AsyncIterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    with pytest.raises(PayloadTooLarge):
        asyncio.run(uploads.append(upload.id, ANONYMOUS, 0, unread(), length=5))


def test_sizes_that_cannot_fit_are_refused_at_the_start(uploads: UploadStore) -> None:
    with pytest.raises(PayloadTooLarge):
        uploads.start(ANONYMOUS, "text/plain", size_bytes=101)
    uploads.files.put(ANONYMOUS, b"x" * 100, "text/plain")
    with pytest.raises(QuotaExceeded):
        uploads.start(ANONYMOUS, "text/plain", size_bytes=51)


def test_finalizing_short_of_the_declared_size_fails_and_ends_the_upload(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain", size_bytes=10)
    append(uploads, upload.id, 0, b"abc")
    with pytest.raises(InvalidRequest, match="3 of its 10 bytes"):
        asyncio.run(uploads.finalize(upload.id, ANONYMOUS))
    with pytest.raises(NotFound):
        uploads.get(upload.id, ANONYMOUS)


def test_one_request_at_a_time_per_upload(uploads: UploadStore) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain")

    async def race() -> None:
        gate = asyncio.Event()

        async def slow() -> AsyncIterator[bytes]:
            yield b"a"
            await gate.wait()

        first = asyncio.create_task(uploads.append(upload.id, ANONYMOUS, 0, slow()))
        await asyncio.sleep(0.01)
        with pytest.raises(Aborted):
            await uploads.append(upload.id, ANONYMOUS, 0, body(b"b"))
        gate.set()
        await first

    asyncio.run(race())
    assert uploads.get(upload.id, ANONYMOUS).received == 1


@pytest.mark.parametrize("upload_id", ["short", "../../files/x" + "a" * 40, "a" * 200])
def test_unknown_or_malformed_upload_ids_are_not_found(uploads: UploadStore, upload_id: str) -> None:
    with pytest.raises(NotFound):
        uploads.get(upload_id, ANONYMOUS)


def test_uploads_expire_and_can_be_cancelled(uploads: UploadStore, clock: Clock) -> None:
    stale = uploads.start(ANONYMOUS, "text/plain")
    cancelled = uploads.start(ANONYMOUS, "text/plain")
    uploads.cancel(cancelled.id, ANONYMOUS)
    with pytest.raises(NotFound):
        uploads.get(cancelled.id, ANONYMOUS)
    clock.now += 30
    fresh = uploads.start(ANONYMOUS, "text/plain")
    clock.now += 30
    assert uploads.purge_expired() == 1
    with pytest.raises(NotFound):
        uploads.get(stale.id, ANONYMOUS)
    assert uploads.get(fresh.id, ANONYMOUS).received == 0


def test_an_upload_is_its_owners_and_a_request_without_a_key_may_go_on(uploads: UploadStore) -> None:
    a, b = key_owner("a"), key_owner("b")
    upload = uploads.start(a, "text/plain", size_bytes=3)
    with pytest.raises(NotFound):
        uploads.get(upload.id, b)
    with pytest.raises(NotFound):
        asyncio.run(uploads.append(upload.id, b, 0, body(b"bbb")))
    with pytest.raises(NotFound):
        uploads.cancel(upload.id, b)
    assert asyncio.run(uploads.append(upload.id, None, 0, body(b"aaa"))).received == 3
    stored = asyncio.run(uploads.finalize(upload.id, None))
    assert stored.owner == a and uploads.files.read(a, stored.name) == b"aaa"


def test_unfinished_uploads_hold_their_bytes_against_the_quota(uploads: UploadStore) -> None:
    ledger = uploads.files.ledger
    declared = uploads.start(ANONYMOUS, "text/plain", size_bytes=100)
    assert ledger.used() == 100  # held from the start, before any byte came
    with pytest.raises(QuotaExceeded):
        uploads.start(ANONYMOUS, "text/plain", size_bytes=51)
    growing = uploads.start(ANONYMOUS, "text/plain")
    append(uploads, growing.id, 0, b"x" * 50)
    assert ledger.used() == 150
    with pytest.raises(QuotaExceeded):
        append(uploads, growing.id, 50, b"x")
    with pytest.raises(NotFound):  # an upload past the quota is over, and what it held is free
        uploads.get(growing.id, ANONYMOUS)
    assert ledger.used() == 100
    uploads.cancel(declared.id, ANONYMOUS)
    assert ledger.used() == 0


def test_open_uploads_per_key_are_capped(tmp_path: Path, clock: Clock) -> None:
    files = FileStore(tmp_path / "files", max_file_bytes=100, max_total_bytes=150, ttl_s=60, clock=clock)
    uploads = UploadStore(tmp_path / "uploads", files, ttl_s=60, clock=clock, max_per_key=2)
    a = key_owner("a")
    first = uploads.start(a, "text/plain")
    uploads.start(a, "text/plain")
    with pytest.raises(QuotaExceeded, match="2 unfinished uploads"):
        uploads.start(a, "text/plain")
    uploads.start(key_owner("b"), "text/plain")
    for _ in range(3):
        uploads.start(ANONYMOUS, "text/plain")  # without keys, no cap
    uploads.cancel(first.id, a)
    uploads.start(a, "text/plain")
    assert uploads.counts_by_owner() == {a: 2, key_owner("b"): 1, ANONYMOUS: 3}


def test_uploads_expire_when_idle_not_when_old(uploads: UploadStore, clock: Clock) -> None:
    upload = uploads.start(ANONYMOUS, "text/plain")
    for offset in range(3):
        clock.now += 50
        append(uploads, upload.id, offset, b"x")  # each request keeps it alive for ttl_s more
    clock.now += 61
    assert uploads.purge_expired() == 1
    assert uploads.files.ledger.used() == 0


def test_uploads_on_disk_are_taken_up_at_start(uploads: UploadStore, clock: Clock) -> None:
    a = key_owner("a")
    kept = uploads.start(a, "text/plain", size_bytes=10)
    asyncio.run(uploads.append(kept.id, a, 0, body(b"abc")))
    old = uploads.start(ANONYMOUS, "text/plain")
    record_path = uploads.root / f"{old.id}.json"
    record = json.loads(record_path.read_text())
    del record["owner"]  # as versions that kept no owner wrote it, with their 48 hours
    record_path.write_text(json.dumps({**record, "expires_at": clock.now + 48 * 3600}))
    (uploads.root / "orphan.part").write_bytes(b"no record")
    files = FileStore(uploads.files.root, 100, 150, 60, clock=clock)
    reopened = UploadStore(uploads.root, files, ttl_s=60, clock=clock)
    assert reopened.get(kept.id, a).received == 3
    assert reopened.get(old.id, ANONYMOUS).owner == ANONYMOUS
    with pytest.raises(NotFound):
        reopened.get(old.id, a)
    assert files.ledger.by_owner() == {a: 10}
    assert not (uploads.root / "orphan.part").exists()
    clock.now += 61  # the old record's 48 hours are cut to the idle timeout
    assert reopened.purge_expired() == 2
