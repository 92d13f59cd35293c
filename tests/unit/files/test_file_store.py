"""FileStore: files on disk, one blob and one record each, capped, paged and expiring."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
from clock import Clock

from codeloop.errors import AlreadyExists, DiskFull, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from codeloop.files.store import FileStore, file_id_of
from codeloop.files.sweep import sweep, sweep_interval
from codeloop.owners import ANONYMOUS, key_owner


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> FileStore:
    return FileStore(tmp_path / "files", max_file_bytes=100, max_total_bytes=250, ttl_s=60, clock=clock)


def test_a_put_file_comes_back_by_name_id_and_uri(store: FileStore) -> None:
    stored = store.put(ANONYMOUS, b"hello", "text/plain", "greeting")
    assert stored.name == f"files/{stored.id}"
    assert len(stored.id) == 12 and stored.id.isalnum() and stored.id.islower()
    assert stored.size_bytes == 5
    assert stored.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert (stored.display_name, stored.mime_type, stored.source) == ("greeting", "text/plain", "UPLOADED")
    assert (stored.expiration_time - stored.create_time).total_seconds() == 60
    for name in (
        stored.name,
        stored.id,
        f"http://127.0.0.1:8080/v1beta/files/{stored.id}",
        f"https://host/download/v1beta/files/{stored.id}:download?alt=media",
    ):
        assert store.get(ANONYMOUS, name) == stored
    assert store.read(ANONYMOUS, stored.name) == b"hello"
    assert store.path(ANONYMOUS, stored.name).read_bytes() == b"hello"


def test_generated_files_say_so(store: FileStore) -> None:
    assert store.put(ANONYMOUS, b"png", "image/png", source="GENERATED").source == "GENERATED"
    with pytest.raises(ValueError):
        store.put(ANONYMOUS, b"png", "image/png", source="ELSEWHERE")


@pytest.mark.parametrize(
    "name", ["files/nosuchfile1", "nosuchfile1", "files/", "files/UPPER", "../etc/passwd"]
)
def test_unknown_or_malformed_names_are_not_found(store: FileStore, name: str) -> None:
    with pytest.raises(NotFound):
        store.get(ANONYMOUS, name)


def test_file_ids_are_parsed_from_every_form() -> None:
    assert file_id_of("files/abc-123") == "abc-123"
    assert file_id_of(" abc123 ") == "abc123"
    assert file_id_of("http://h:1/v1beta/files/abc123") == "abc123"


def test_records_are_written_atomically_and_survive_a_restart(store: FileStore, clock: Clock) -> None:
    stored = store.put(ANONYMOUS, b"kept", "text/plain")
    record = json.loads((store.root / f"{stored.id}.json").read_text())
    assert record["sha256"] == stored.sha256
    assert not list((store.root / ".tmp").iterdir())  # nothing left half-written
    (store.root / "orphanblob1").write_bytes(b"a blob whose record was never written")
    (store.root / "brokenrec1.json").write_text("{not json")
    reopened = FileStore(store.root, 100, 250, 60, clock=clock)
    assert reopened.get(ANONYMOUS, stored.name) == stored
    assert reopened.read(ANONYMOUS, stored.name) == b"kept"
    assert sorted(p.name for p in store.root.iterdir()) == sorted([stored.id, f"{stored.id}.json"])


def test_a_store_touches_no_disk_until_it_holds_a_file(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "never", 10, 10, 60)
    assert store.list(ANONYMOUS) == ([], None)
    assert store.purge_expired() == 0
    assert not (tmp_path / "never").exists()


def test_lists_page_newest_first_and_tokens_survive_deletes(store: FileStore, clock: Clock) -> None:
    made = []
    for n in range(5):
        clock.now += 1
        made.append(store.put(ANONYMOUS, bytes([n]), "application/octet-stream"))
    first, token = store.list(ANONYMOUS, page_size=2)
    assert first == [made[4], made[3]] and token
    store.delete(ANONYMOUS, made[2].name)
    second, token = store.list(ANONYMOUS, page_size=2, page_token=token)
    assert second == [made[1], made[0]]
    assert token is None
    assert store.list(ANONYMOUS, page_size=0)[0] == [
        made[4],
        made[3],
        made[1],
        made[0],
    ]  # the default size, 10


@pytest.mark.parametrize("token", ["garbage!", "bm90IGEgdG9rZW4", ""])
def test_bad_page_tokens_are_invalid(store: FileStore, token: str) -> None:
    store.put(ANONYMOUS, b"x", "text/plain")
    if token:
        with pytest.raises(InvalidRequest):
            store.list(ANONYMOUS, page_token=token)
    else:
        assert len(store.list(ANONYMOUS, page_token=token)[0]) == 1


def test_deleted_files_are_gone_from_disk(store: FileStore) -> None:
    stored = store.put(ANONYMOUS, b"bye", "text/plain")
    store.delete(ANONYMOUS, stored.id)
    with pytest.raises(NotFound):
        store.get(ANONYMOUS, stored.name)
    with pytest.raises(NotFound):
        store.delete(ANONYMOUS, stored.name)
    assert not (store.root / stored.id).exists() and not (store.root / f"{stored.id}.json").exists()


def test_files_expire_on_access_and_by_purge(store: FileStore, clock: Clock) -> None:
    early = store.put(ANONYMOUS, b"early", "text/plain")
    clock.now += 30
    late = store.put(ANONYMOUS, b"late", "text/plain")
    clock.now += 30
    with pytest.raises(NotFound):
        store.get(ANONYMOUS, early.name)
    assert not (store.root / early.id).exists()
    assert store.get(ANONYMOUS, late.name) == late
    assert store.list(ANONYMOUS)[0] == [late]
    clock.now += 30
    assert store.purge_expired() == 1
    assert list(store.root.glob("*.json")) == []


def test_sizes_are_capped_per_file_and_in_total(store: FileStore, clock: Clock) -> None:
    with pytest.raises(PayloadTooLarge):
        store.put(ANONYMOUS, b"x" * 101, "text/plain")
    store.put(ANONYMOUS, b"x" * 100, "text/plain")
    store.put(ANONYMOUS, b"x" * 100, "text/plain")
    with pytest.raises(QuotaExceeded):
        store.put(ANONYMOUS, b"x" * 51, "text/plain")
    assert store.used_bytes == 200
    clock.now += 61  # expired files make room
    store.put(ANONYMOUS, b"x" * 100, "text/plain")
    assert not list((store.root / ".tmp").iterdir())  # refused files leave nothing behind


def test_adopt_takes_a_staged_file_under_a_chosen_id(store: FileStore) -> None:
    staged = store.staging_path()
    staged.write_bytes(b"chosen")
    stored = store.adopt(ANONYMOUS, staged, "text/plain", file_id="my-file-1")
    assert stored.name == "files/my-file-1" and not staged.exists()
    for bad, error in (("my-file-1", AlreadyExists), ("-bad", InvalidRequest), ("Bad", InvalidRequest)):
        staged = store.staging_path()
        staged.write_bytes(b"again")
        with pytest.raises(error):
            store.adopt(ANONYMOUS, staged, "text/plain", file_id=bad)
        assert not staged.exists()


def test_the_sweep_purges_periodically_until_cancelled(store: FileStore, clock: Clock) -> None:
    store.put(ANONYMOUS, b"x", "text/plain")
    clock.now += 61

    async def run() -> None:
        sweeping = asyncio.create_task(sweep([store.purge_expired], interval_s=0.01))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not list(store.root.glob("*.json")):
                break
        sweeping.cancel()

    asyncio.run(run())
    assert list(store.root.glob("*.json")) == []
    assert sweep_interval(48 * 3600) == 600 and sweep_interval(60) == 6 and sweep_interval(1) == 1


def test_files_are_their_owners_and_ids_are_each_owners_own(store: FileStore, clock: Clock) -> None:
    a, b = key_owner("a"), key_owner("b")
    mine = store.put(a, b"a's", "text/plain")
    for call in (store.get, store.read, store.delete):
        with pytest.raises(NotFound):
            call(b, mine.name)
        with pytest.raises(NotFound):
            call(ANONYMOUS, mine.name)
    assert store.list(b) == ([], None) and store.list(a)[0] == [mine]
    staged = store.staging_path()
    staged.write_bytes(b"b's")
    theirs = store.adopt(b, staged, "text/plain", file_id=mine.id)
    assert (store.read(a, mine.id), store.read(b, theirs.id)) == (b"a's", b"b's")
    assert store.counts_by_owner() == {a: 1, b: 1}
    reopened = FileStore(store.root, 100, 250, 60, clock=clock)
    assert reopened.get(a, mine.id) == mine and reopened.get(b, mine.id) == theirs
    assert reopened.ledger.by_owner() == {a: 3, b: 3}


def test_records_without_an_owner_are_the_anonymous_owners(store: FileStore, clock: Clock) -> None:
    stored = store.put(ANONYMOUS, b"old", "text/plain")
    record_path = store.root / f"{stored.id}.json"
    record = json.loads(record_path.read_text())
    del record["owner"]  # as versions that kept no owner wrote it
    record_path.write_text(json.dumps(record))
    forged = store.put(ANONYMOUS, b"forged", "text/plain")
    forged_path = store.root / f"{forged.id}.json"
    forged_path.write_text(json.dumps({**json.loads(forged_path.read_text()), "owner": "../../x"}))
    reopened = FileStore(store.root, 100, 250, 60, clock=clock)
    assert reopened.get(ANONYMOUS, stored.id) == stored
    with pytest.raises(NotFound):
        reopened.get(key_owner("a"), stored.id)
    with pytest.raises(NotFound):  # an owner this server could not have written: the record is dropped
        reopened.get(ANONYMOUS, forged.id)


def test_per_key_quotas_and_a_full_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FileStore(tmp_path, max_file_bytes=100, max_total_bytes=250, ttl_s=60, max_key_bytes=100)
    a = key_owner("a")
    store.put(a, b"x" * 100, "text/plain")
    with pytest.raises(QuotaExceeded, match="This API key's"):
        store.put(a, b"x", "text/plain")
    store.put(key_owner("b"), b"x" * 100, "text/plain")

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DiskFull, match="disk is full"):
        store.put(ANONYMOUS, b"x", "text/plain")
    assert store.used_bytes == 200  # the refused file holds nothing
