"""UploadStore: resumable uploads in progress, chunk by chunk, until they become files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from clock import Clock

from codeloop.errors import Aborted, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from codeloop.files.store import FileStore
from codeloop.files.uploads import UploadStore
from codeloop.owners import ANONYMOUS


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
