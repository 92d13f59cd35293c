"""Resumable uploads in progress: what each will become, and the bytes received so far, on disk.

An upload is a record (upload_id.json) and its bytes (upload_id.part); its id, long and random, is
the only credential its later requests need, as with Google's upload URLs. The record names the owner
that started it, and the finished file is that owner's; a later request that carries another owner's
key finds no upload. Until it finishes, an upload's bytes (or the size it declared, if larger) count
against the store's quotas. An upload unused for ttl_s expires; a finished one is handed to the FileStore.

Shared (a directory under several servers, as the FileStore may be), an upload started through one
server continues through any: each lookup reads its record and its bytes' size from disk afresh.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO, TypeVar

from codeloop.errors import Aborted, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from codeloop.files.store import FileStore, StoredFile, check_client_id, file_too_large
from codeloop.owners import ANONYMOUS, is_key, is_owner

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32,128}")
_WRITE_BATCH = 1 << 20
_T = TypeVar("_T")


@dataclass(frozen=True)
class Upload:
    id: str
    mime_type: str
    display_name: str | None
    size_bytes: int | None  # as declared at the start; None if it was not
    file_id: str | None  # the id the client asked for
    expires_at: float
    received: int = 0
    owner: str = ANONYMOUS  # records of versions that kept no owner are the anonymous owner's

    @property
    def held_bytes(self) -> int:
        """What the upload counts against the quotas: its bytes, or its declared size if larger."""
        return max(self.size_bytes or 0, self.received)


class UploadStore:
    """Uploads under root; at most max_per_key open per API key. Safe to call from several threads."""

    def __init__(
        self,
        root: Path,
        files: FileStore,
        ttl_s: float,
        clock: Callable[[], float] = time.time,
        max_per_key: int | None = None,
    ) -> None:
        self.root = root
        self.files = files
        self.ttl_s = ttl_s
        self.max_per_key = max_per_key
        self.shared = files.shared
        self._clock = clock
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._open: dict[str, Upload] = {}
        if self.shared:
            self._refresh_locked()
        else:
            self._open = self._load()

    def counts_by_owner(self) -> dict[str, int]:
        """How many uploads each owner has open."""
        now = self._clock()
        with self._lock:
            self._refresh_locked()
            counts: dict[str, int] = {}
            for upload in self._open.values():
                if upload.expires_at > now:
                    counts[upload.owner] = counts.get(upload.owner, 0) + 1
            return counts

    def start(
        self,
        owner: str,
        mime_type: str,
        display_name: str | None = None,
        size_bytes: int | None = None,
        file_id: str | None = None,
    ) -> Upload:
        """A new upload of owner's; refused at once if its declared size cannot fit, or if the owner
        has as many uploads open as it may."""
        if file_id is not None:
            check_client_id(file_id)
        if size_bytes is not None and size_bytes > self.files.max_file_bytes:
            raise file_too_large(self.files.max_file_bytes)
        self.purge_expired()
        upload = Upload(
            id=secrets.token_urlsafe(32),
            mime_type=mime_type,
            display_name=display_name,
            size_bytes=size_bytes,
            file_id=file_id,
            expires_at=self._clock() + self.ttl_s,
            owner=owner,
        )
        with self._lock:
            self._refresh_locked()
            open_uploads = sum(1 for held in self._open.values() if held.owner == owner)
            if is_key(owner) and self.max_per_key is not None and open_uploads >= self.max_per_key:
                raise QuotaExceeded(
                    f"This API key has {open_uploads} unfinished uploads, as many as it may have open. "
                    "Finish or cancel one, or wait for it to expire."
                )
            self.files.ledger.charge(_token(upload.id), owner, upload.held_bytes)
            self._open[upload.id] = upload
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._write_record(upload)
            # The part comes after the record: a start finds parts without one, and removes them.
            self._part(upload.id).touch(mode=0o600)
        except BaseException:
            self._end(upload.id)
            raise
        return upload

    def get(self, upload_id: str, owner: str | None) -> Upload:
        """The upload and the bytes it has received; NotFound if unknown, finished, expired, or
        another owner's. owner is None for a request that carries no key: its upload id is its credential."""
        missing = NotFound("This upload is not found; it may have finished, failed or expired.")
        if not UPLOAD_ID.fullmatch(upload_id):
            raise missing
        with self._lock:
            if self.shared:
                self._reread_locked(upload_id)
            upload = self._open.get(upload_id)
            if upload is None or (owner is not None and owner != upload.owner):
                raise missing
            if upload.expires_at <= self._clock():
                if upload_id not in self._busy:
                    self._end_locked(upload_id)
                raise missing
        return upload

    async def append(
        self,
        upload_id: str,
        owner: str | None,
        offset: int,
        chunks: AsyncIterable[bytes],
        length: int | None = None,
    ) -> Upload:
        """Add a request body's bytes at offset, which must be the bytes received so far.

        length is the body's declared size, if known. A body that would take the upload past its
        declared size or the file size limit (PayloadTooLarge), or past a quota (QuotaExceeded), ends
        it; a body cut short is undone."""
        with self._hold(upload_id):
            upload = self.get(upload_id, owner)
            if offset != upload.received:
                raise InvalidRequest(
                    f"Upload offset {offset} does not match the {upload.received} bytes received so far."
                )
            limit, too_large = self._limit(upload)
            ledger, token = self.files.ledger, _token(upload_id)

            def claim(size: int) -> None:
                ledger.grow(token, upload.owner, upload.received + size)

            try:
                if length is not None:
                    if upload.received + length > limit:
                        raise too_large
                    claim(length)
                with open(self._part(upload_id), "r+b") as part:
                    part.seek(upload.received)
                    try:
                        written = await write_stream(part, chunks, limit - upload.received, too_large, claim)
                    except BaseException:
                        part.truncate(upload.received)
                        raise
            except (PayloadTooLarge, QuotaExceeded):
                self._end(upload_id)
                raise
            except BaseException:
                ledger.charge(token, upload.owner, upload.held_bytes)
                raise
            grown = replace(upload, received=upload.received + written, expires_at=self._clock() + self.ttl_s)
            ledger.charge(token, upload.owner, grown.held_bytes)
            self._write_record(grown)
            with self._lock:
                self._open[upload_id] = grown
        return grown

    async def finalize(self, upload_id: str, owner: str | None) -> StoredFile:
        """Store the upload's bytes as a file of the owner that started it; the upload ends either way."""
        with self._hold(upload_id):
            upload = self.get(upload_id, owner)
            try:
                if upload.size_bytes is not None and upload.received != upload.size_bytes:
                    raise InvalidRequest(
                        f"The upload was finalized after {upload.received} of its {upload.size_bytes} bytes."
                    )
                blob = self.files.staging_path()
                shutil.move(self._part(upload_id), blob)
            except BaseException:
                self._end(upload_id)
                raise
            # Its bytes stay charged to the upload until the store takes them over (or refuses them).
            self._end(upload_id, release=False)
        return await finish_in_thread(
            self.files.adopt,
            upload.owner,
            blob,
            upload.mime_type,
            upload.display_name,
            "UPLOADED",
            upload.file_id,
            _token(upload_id),
        )

    def cancel(self, upload_id: str, owner: str | None) -> None:
        with self._hold(upload_id):
            self.get(upload_id, owner)
            self._end(upload_id)

    def purge_expired(self) -> int:
        now = self._clock()
        with self._lock:
            self._refresh_locked()
            expired = [
                upload_id
                for upload_id, upload in self._open.items()
                if upload.expires_at <= now and upload_id not in self._busy
            ]
            for upload_id in expired:
                self._end_locked(upload_id)
        return len(expired)

    def _load(self) -> dict[str, Upload]:
        """The uploads on disk, charged to their owners; records without bytes and bytes without a
        record (an interrupted start) are removed. Records written before uploads expired when idle
        expire within ttl_s."""
        if not self.root.is_dir():
            return {}
        now = self._clock()
        uploads: dict[str, Upload] = {}
        for record in self.root.glob("*.json"):
            upload_id = record.stem
            try:
                fields = json.loads(record.read_bytes())
                upload = Upload(**fields, received=self._part(upload_id).stat().st_size)
                if upload.id != upload_id or not is_owner(upload.owner):
                    raise ValueError(upload_id)
            except (OSError, ValueError, TypeError):
                self._remove_files(upload_id)
                continue
            upload = replace(upload, expires_at=min(upload.expires_at, now + self.ttl_s))
            uploads[upload_id] = upload
            self.files.ledger.charge(_token(upload_id), upload.owner, upload.held_bytes, force=True)
        for leftover in self.root.iterdir():
            if leftover.name.endswith(".tmp") or leftover.stem not in uploads:
                leftover.unlink(missing_ok=True)
        return uploads

    def _refresh_locked(self) -> None:
        """In a shared store: take in the uploads other servers started, drop those they ended."""
        if not self.shared:
            return
        on_disk = {record.stem for record in self.root.glob("*.json")} if self.root.is_dir() else set()
        for upload_id in on_disk | set(self._open):
            self._reread_locked(upload_id)

    def _reread_locked(self, upload_id: str) -> None:
        """The upload as its record and bytes on disk stand now; gone (and released) if they are not."""
        try:
            fields = json.loads(self._record(upload_id).read_bytes())
            upload = Upload(**fields, received=self._part(upload_id).stat().st_size)
            if upload.id != upload_id or not is_owner(upload.owner):
                raise ValueError(upload_id)
        except (OSError, ValueError, TypeError):
            if self._open.pop(upload_id, None) is not None:
                self.files.ledger.release(_token(upload_id))
            return
        self._open[upload_id] = upload
        self.files.ledger.charge(_token(upload_id), upload.owner, upload.held_bytes, force=True)

    def _limit(self, upload: Upload) -> tuple[int, PayloadTooLarge]:
        if upload.size_bytes is not None:
            message = f"The upload is larger than the {upload.size_bytes} bytes declared at its start."
            return upload.size_bytes, PayloadTooLarge(message)
        return self.files.max_file_bytes, file_too_large(self.files.max_file_bytes)

    @contextmanager
    def _hold(self, upload_id: str) -> Iterator[None]:
        """One request at a time per upload; get() inside it sees no purge remove the upload."""
        with self._lock:
            if upload_id in self._busy:
                raise Aborted(f"Upload {upload_id} is busy with another request.")
            self._busy.add(upload_id)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(upload_id)

    def _write_record(self, upload: Upload) -> None:
        record = asdict(upload)
        del record["received"]
        staged = self.root / f"{upload.id}.json.tmp"
        try:
            staged.write_text(json.dumps(record))
            os.replace(staged, self._record(upload.id))
        finally:
            staged.unlink(missing_ok=True)  # gone already unless the write failed

    def _record(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.json"

    def _part(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def _end(self, upload_id: str, release: bool = True) -> None:
        with self._lock:
            self._end_locked(upload_id, release)

    def _end_locked(self, upload_id: str, release: bool = True) -> None:
        self._open.pop(upload_id, None)
        self._remove_files(upload_id)
        if release:
            self.files.ledger.release(_token(upload_id))

    def _remove_files(self, upload_id: str) -> None:
        self._record(upload_id).unlink(missing_ok=True)
        self._part(upload_id).unlink(missing_ok=True)


def _token(upload_id: str) -> str:
    """What the ledger holds an upload's bytes under: a colon, which no stored file's token has."""
    return "upload:" + upload_id


async def write_stream(
    out: BinaryIO,
    chunks: AsyncIterable[bytes],
    limit: int,
    too_large: PayloadTooLarge,
    claim: Callable[[int], None] | None = None,
) -> int:
    """Write chunks to out, in batches off the event loop; too_large once more than limit bytes came.

    claim, if given, is told the bytes received so far before they are kept, and raises to refuse them."""
    size = 0
    batch = bytearray()
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        if claim is not None:
            claim(size)
        batch += chunk
        if len(batch) >= _WRITE_BATCH:
            full, batch = batch, bytearray()
            await write_chunk(out, full)
    if batch:
        await write_chunk(out, batch)
    return size


async def write_chunk(out: BinaryIO, data: bytes | bytearray) -> None:
    """Write off the event loop, to the end even if the caller is cancelled."""
    await finish_in_thread(out.write, data)


async def finish_in_thread(func: Callable[..., _T], *args: object) -> _T:
    """func(*args) off the event loop; a cancelled caller still waits for it to end, so that what it
    does next (truncating, removing) never races with work still under way, and what func takes
    over (a blob, a charge) is never left half taken."""
    running: Awaitable[_T] = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await running
        raise
