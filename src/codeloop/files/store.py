"""The Files API's storage: one blob and one JSON record per file on disk, each written atomically.

A file exists once its record does: the blob is renamed into place first and the record last, and a
delete removes the record first, so a crash leaves at worst an orphan blob, removed on the next start.
Files expire ttl_s after they are created, as Gemini's do after 48 hours; expired ones are purged
when touched and by purge_expired().

A store may be shared: one directory (a network filesystem) under several servers, Serve replicas
say. Then the records on disk are the truth: each call first takes in what the others wrote and drops
what they removed, and nothing is taken for a leftover, since another server may be mid-write. A
file is admitted under an exclusive lock on the directory (fcntl.flock on its .lock file), from the
quota check to its record's write, so two servers storing at once never both take the last room.

Each file belongs to its owner (owners.py), as Gemini's belong to a project: ids are the owner's own,
and every lookup takes the owner, so another owner's file is NotFound as if it did not exist. On disk
an API key's files are named after the key's hash and a dot, the anonymous owner's by their id alone
(the layout of versions that kept no owner, whose records therefore stay the anonymous owner's).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codeloop.dirlock import exclusive
from codeloop.errors import AlreadyExists, InvalidRequest, NotFound, PayloadTooLarge
from codeloop.files.disk import map_disk_full
from codeloop.files.quota import Ledger
from codeloop.owners import ANONYMOUS, KEY_PREFIX, is_key, is_owner

ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ID_LENGTH = 12
# Gemini's rule for an id the client picks: up to 40 lowercase alphanumerics or dashes, no dash at an end.
CLIENT_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
# "files/ID", "ID", or a URI ending in /files/ID (a download URI's ":download?alt=media" included).
_NAME = re.compile(r"(?:(?:.*/)?files/)?([a-z0-9-]{1,40})(?::download)?(?:\?.*)?", re.DOTALL)
SOURCES = frozenset({"UPLOADED", "GENERATED"})
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
STAGING = ".tmp"  # ids never start with a dot, so this name cannot clash with a file's
LOCK = ".lock"  # in a shared store, held by the server admitting a file
_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredFile:
    id: str
    display_name: str | None
    mime_type: str
    size_bytes: int
    sha256: str
    create_time: datetime
    expiration_time: datetime
    source: str
    owner: str = ANONYMOUS

    @property
    def name(self) -> str:
        return "files/" + self.id

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "display_name": self.display_name,
            "mime_type": self.mime_type,
            "size_bytes": self.size_bytes,
            "sha256": self.sha256,
            "create_time": self.create_time.isoformat(),
            "expiration_time": self.expiration_time.isoformat(),
            "source": self.source,
            "owner": self.owner,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> StoredFile:
        owner = record.get("owner", ANONYMOUS)
        if not is_owner(owner):
            raise ValueError(f"not an owner: {owner!r}")
        return cls(
            id=str(record["id"]),
            display_name=record["display_name"],
            mime_type=str(record["mime_type"]),
            size_bytes=int(record["size_bytes"]),
            sha256=str(record["sha256"]),
            create_time=datetime.fromisoformat(record["create_time"]),
            expiration_time=datetime.fromisoformat(record["expiration_time"]),
            source=str(record["source"]),
            owner=owner,
        )


class FileStore:
    """Files under root, at most max_file_bytes each and max_total_bytes together (max_key_bytes per
    API key), kept for ttl_s; the ledger also holds what unfinished uploads take.

    Safe to call from several threads; the index of records is held in memory."""

    def __init__(
        self,
        root: Path,
        max_file_bytes: int,
        max_total_bytes: int,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        max_key_bytes: int | None = None,
        shared: bool = False,
    ) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        self.ttl_s = ttl_s
        self.ledger = Ledger(max_total_bytes, max_key_bytes)
        self.shared = shared
        self._clock = clock
        self._lock = threading.Lock()
        self._index: dict[tuple[str, str], StoredFile] = {}
        if shared:
            self._refresh_locked()
        else:
            self._index = self._load()

    @property
    def used_bytes(self) -> int:
        """Bytes held against the cap: stored files and unfinished uploads."""
        return self.ledger.used()

    def counts_by_owner(self) -> dict[str, int]:
        """How many files each owner has."""
        with self._lock:
            self._refresh_locked()
            counts: dict[str, int] = {}
            for (owner, _), stored in self._index.items():
                if not self._expired(stored):
                    counts[owner] = counts.get(owner, 0) + 1
            return counts

    def put(
        self,
        owner: str,
        data: bytes,
        mime_type: str,
        display_name: str | None = None,
        source: str = "UPLOADED",
    ) -> StoredFile:
        staged = self.staging_path()
        try:
            if len(data) > self.max_file_bytes:
                raise file_too_large(self.max_file_bytes)
            with map_disk_full():
                staged.write_bytes(data)
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return self.adopt(owner, staged, mime_type, display_name, source)

    def adopt(
        self,
        owner: str,
        blob: Path,
        mime_type: str,
        display_name: str | None = None,
        source: str = "UPLOADED",
        file_id: str | None = None,
        claim: str | None = None,
    ) -> StoredFile:
        """Store the file at blob (on root's filesystem, as staging_path() gives) as owner's, under a new id.

        The blob is moved into the store, or removed if it is refused: too large (PayloadTooLarge), no
        room left (QuotaExceeded), or file_id invalid (InvalidRequest) or taken (AlreadyExists). What
        the ledger held under claim (the bytes of an upload) becomes the file's, or is released."""
        if source not in SOURCES:
            raise ValueError(f"unknown file source {source!r}")
        try:
            if file_id is not None:
                check_client_id(file_id)
            size = blob.stat().st_size
            if size > self.max_file_bytes:
                raise file_too_large(self.max_file_bytes)
            with map_disk_full():
                sha256 = _digest_and_sync(blob)
            with self._lock, self._admitting():
                self._refresh_locked()
                self._purge_locked()
                if file_id is None:
                    file_id = self._new_id(owner)
                elif (owner, file_id) in self._index:
                    raise AlreadyExists(f"File files/{file_id} already exists.")
                self.ledger.charge(_stem(owner, file_id), owner, size, instead_of=claim)
                now = self._clock()
                stored = StoredFile(
                    id=file_id,
                    display_name=display_name,
                    mime_type=mime_type,
                    size_bytes=size,
                    sha256=sha256,
                    create_time=_utc(now),
                    expiration_time=_utc(now + self.ttl_s),
                    source=source,
                    owner=owner,
                )
                try:
                    with map_disk_full():
                        os.replace(blob, self._blob(owner, file_id))
                        self._write_record(stored)
                except BaseException:
                    self._blob(owner, file_id).unlink(missing_ok=True)
                    self.ledger.release(_stem(owner, file_id))
                    raise
                self._index[owner, file_id] = stored
                return stored
        finally:
            blob.unlink(missing_ok=True)
            if claim is not None:
                self.ledger.release(claim)

    def get(self, owner: str, name: str) -> StoredFile:
        file_id = file_id_of(name)
        with self._lock:
            self._refresh_locked()
            stored = self._index.get((owner, file_id))
            if stored is not None and self._expired(stored):
                self._remove_locked(owner, file_id)
                stored = None
        if stored is None:
            raise NotFound(f"File files/{file_id} is not found; it may have expired or been deleted.")
        return stored

    def read(self, owner: str, name: str) -> bytes:
        return self.path(owner, name).read_bytes()

    def path(self, owner: str, name: str) -> Path:
        """The blob on disk; open it before a concurrent delete may remove it."""
        return self._blob(owner, self.get(owner, name).id)

    def list(
        self, owner: str, page_size: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> tuple[list[StoredFile], str | None]:
        """A page of owner's files, newest first, and the token of the next page (None on the last)."""
        if page_size <= 0:
            page_size = DEFAULT_PAGE_SIZE
        page_size = min(page_size, MAX_PAGE_SIZE)
        after = _token_key(page_token) if page_token else None
        with self._lock:
            self._refresh_locked()
            self._purge_locked()
            files = sorted(
                (file for (holder, _), file in self._index.items() if holder == owner),
                key=_order_key,
                reverse=True,
            )
        if after is not None:
            files = [file for file in files if _order_key(file) < after]
        page = files[:page_size]
        next_token = _token_of(page[-1]) if len(files) > page_size else None
        return page, next_token

    def delete(self, owner: str, name: str) -> None:
        stored = self.get(owner, name)
        with self._lock:
            if (owner, stored.id) in self._index:
                self._remove_locked(owner, stored.id)

    def purge_expired(self) -> int:
        with self._lock:
            self._refresh_locked()
            return self._purge_locked()

    def staging_path(self) -> Path:
        """A new path on the store's filesystem to write a file to before adopt() takes it."""
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        return staging / secrets.token_hex(16)

    @contextlib.contextmanager
    def _admitting(self) -> Iterator[None]:
        """In a shared store, this server alone between reading what is stored and writing a new
        record: the quota check and the charge it allows are one step across servers."""
        if not self.shared:
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with exclusive(self.root / LOCK):
            yield

    def _load(self) -> dict[tuple[str, str], StoredFile]:
        """The records on disk, charged to their owners; leftovers of interrupted writes are removed."""
        if not self.root.is_dir():
            return {}
        shutil.rmtree(self.root / STAGING, ignore_errors=True)
        index: dict[tuple[str, str], StoredFile] = {}
        for record in self.root.glob("*.json"):
            try:
                stored = StoredFile.from_record(json.loads(record.read_bytes()))
            except (OSError, ValueError, KeyError, TypeError):
                record.unlink(missing_ok=True)
                continue
            stem = _stem(stored.owner, stored.id)
            if stem == record.stem and self._blob(stored.owner, stored.id).is_file():
                index[stored.owner, stored.id] = stored
                self.ledger.charge(stem, stored.owner, stored.size_bytes, force=True)
            else:
                record.unlink(missing_ok=True)
        kept = {_stem(owner, file_id) for owner, file_id in index}
        for blob in self.root.iterdir():
            if blob.is_file() and blob.suffix != ".json" and blob.name not in kept:
                blob.unlink(missing_ok=True)
        return index

    def _refresh_locked(self) -> None:
        """In a shared store: take in the records other servers wrote, drop those they removed. A record
        is written after its blob and removed before it, so one without its blob is being removed."""
        if not self.shared:
            return
        on_disk = {record.stem for record in self.root.glob("*.json")} if self.root.is_dir() else set()
        known = {_stem(owner, file_id): (owner, file_id) for owner, file_id in self._index}
        for stem, key in known.items():
            if stem not in on_disk:
                del self._index[key]
                self.ledger.release(stem)
        for stem in on_disk - known.keys():
            try:
                stored = StoredFile.from_record(json.loads((self.root / f"{stem}.json").read_bytes()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # removed meanwhile, or not a record of ours
            if _stem(stored.owner, stored.id) == stem and self._blob(stored.owner, stored.id).is_file():
                self._index[stored.owner, stored.id] = stored
                self.ledger.charge(stem, stored.owner, stored.size_bytes, force=True)

    def _new_id(self, owner: str) -> str:
        while True:
            file_id = "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))
            if (owner, file_id) not in self._index:
                return file_id

    def _blob(self, owner: str, file_id: str) -> Path:
        return self.root / _stem(owner, file_id)

    def _write_record(self, stored: StoredFile) -> None:
        staged = self.staging_path()
        try:
            with open(staged, "wb") as out:
                out.write(json.dumps(stored.to_record()).encode())
                out.flush()
                os.fsync(out.fileno())
            os.replace(staged, self.root / f"{_stem(stored.owner, stored.id)}.json")
        finally:
            staged.unlink(missing_ok=True)  # gone already unless the write failed

    def _expired(self, stored: StoredFile) -> bool:
        return stored.expiration_time.timestamp() <= self._clock()

    def _purge_locked(self) -> int:
        expired = [key for key, stored in self._index.items() if self._expired(stored)]
        for owner, file_id in expired:
            self._remove_locked(owner, file_id)
        return len(expired)

    def _remove_locked(self, owner: str, file_id: str) -> None:
        del self._index[owner, file_id]
        (self.root / f"{_stem(owner, file_id)}.json").unlink(missing_ok=True)
        self._blob(owner, file_id).unlink(missing_ok=True)
        self.ledger.release(_stem(owner, file_id))


def _stem(owner: str, file_id: str) -> str:
    """The file's name on disk, and what the ledger holds its bytes under: its id, after its API key's
    hash and a dot (ids have no dots, and the tokens of uploads have a colon)."""
    return f"{owner.removeprefix(KEY_PREFIX)}.{file_id}" if is_key(owner) else file_id


def file_id_of(name: str) -> str:
    """The id in "files/ID", "ID" or a URI ending in /files/ID; NotFound for anything else."""
    match = _NAME.fullmatch(name.strip())
    if match is None:
        raise NotFound(f"{name} is not a file name: expected files/ID or the file's URI.")
    return match[1]


def check_client_id(file_id: str) -> None:
    if not CLIENT_ID.fullmatch(file_id):
        raise InvalidRequest(
            f"Invalid file name files/{file_id}: the id after files/ has at most 40 lowercase letters, "
            "digits or dashes, and neither starts nor ends with a dash."
        )


def file_too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"File size exceeds the limit of {limit} bytes.")


def _digest_and_sync(path: Path) -> str:
    """The blob's SHA-256 hex digest, once its bytes are on disk."""
    digest = hashlib.sha256()
    with open(path, "rb") as blob:
        while chunk := blob.read(_READ_CHUNK):
            digest.update(chunk)
        os.fsync(blob.fileno())
    return digest.hexdigest()


def _utc(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _order_key(stored: StoredFile) -> tuple[datetime, str]:
    return stored.create_time, stored.id


def _token_of(stored: StoredFile) -> str:
    """An opaque page token: where the previous page ended, so deletes in between skip nothing."""
    text = f"{stored.create_time.isoformat()}|{stored.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _token_key(token: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        created, _, file_id = text.partition("|")
        key = datetime.fromisoformat(created), file_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        key = None
    if key is None or key[0].tzinfo is None or not key[1]:
        raise InvalidRequest(f"Invalid page token {token!r}: pass the nextPageToken of the previous page.")
    return key
