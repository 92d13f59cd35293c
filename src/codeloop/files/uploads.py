"""Resumable uploads in progress: what each will become, and the bytes received so far, on disk.

An upload is a record (upload_id.json) and its bytes (upload_id.part); its id, long and random, is
the only credential its later requests carry, as with Google's upload URLs. Uploads expire ttl_s
after they start; a finished one is handed to the FileStore.
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
from collections.abc import AsyncIterable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import BinaryIO

from codeloop.errors import Aborted, InvalidRequest, NotFound, PayloadTooLarge, QuotaExceeded
from codeloop.files.store import FileStore, StoredFile, check_client_id, file_too_large

UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{32,128}")
_WRITE_BATCH = 1 << 20


@dataclass(frozen=True)
class Upload:
    id: str
    mime_type: str
    display_name: str | None
    size_bytes: int | None  # as declared at the start; None if it was not
    file_id: str | None  # the id the client asked for
    expires_at: float
    received: int = 0


class UploadStore:
    def __init__(
        self, root: Path, files: FileStore, ttl_s: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.files = files
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        for staged in root.glob("*.json.tmp") if root.is_dir() else ():
            staged.unlink(missing_ok=True)  # a record whose write a crash interrupted

    @property
    def pending_bytes(self) -> int:
        """Bytes held by uploads in progress."""
        return sum(part.stat().st_size for part in self._parts())

    def start(
        self,
        mime_type: str,
        display_name: str | None = None,
        size_bytes: int | None = None,
        file_id: str | None = None,
    ) -> Upload:
        """A new upload; refused at once if its declared size cannot fit."""
        if file_id is not None:
            check_client_id(file_id)
        if size_bytes is not None:
            if size_bytes > self.files.max_file_bytes:
                raise file_too_large(self.files.max_file_bytes)
            self._check_room(size_bytes)
        self.purge_expired()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        upload = Upload(
            id=secrets.token_urlsafe(32),
            mime_type=mime_type,
            display_name=display_name,
            size_bytes=size_bytes,
            file_id=file_id,
            expires_at=self._clock() + self.ttl_s,
        )
        record = asdict(upload)
        del record["received"]
        staged = self.root / f"{upload.id}.json.tmp"
        try:
            staged.write_text(json.dumps(record))
            os.replace(staged, self._record(upload.id))
            # The part comes after the record: purge_expired() removes parts that have none.
            self._part(upload.id).touch(mode=0o600)
        except BaseException:
            staged.unlink(missing_ok=True)
            self._remove(upload.id)
            raise
        return upload

    def get(self, upload_id: str) -> Upload:
        """The upload and the bytes it has received; NotFound if unknown, finished or expired."""
        missing = NotFound("This upload is not found; it may have finished, failed or expired.")
        if not UPLOAD_ID.fullmatch(upload_id):
            raise missing
        try:
            record = json.loads(self._record(upload_id).read_bytes())
            upload = Upload(**record, received=self._part(upload_id).stat().st_size)
            expired = upload.expires_at <= self._clock()
        except (OSError, ValueError, TypeError):
            raise missing from None
        if expired:
            with self._lock:
                if upload_id not in self._busy:
                    self._remove(upload_id)
            raise missing
        return upload

    async def append(
        self, upload_id: str, offset: int, chunks: AsyncIterable[bytes], length: int | None = None
    ) -> Upload:
        """Add a request body's bytes at offset, which must be the bytes received so far.

        length is the body's declared size, if known. A body that would take the upload past its
        declared size or the file size limit ends it (PayloadTooLarge); a body cut short is undone."""
        with self._hold(upload_id):
            upload = self.get(upload_id)
            if offset != upload.received:
                raise InvalidRequest(
                    f"Upload offset {offset} does not match the {upload.received} bytes received so far."
                )
            limit, too_large = self._limit(upload)
            if length is not None and upload.received + length > limit:
                self._remove(upload_id)
                raise too_large
            with open(self._part(upload_id), "r+b") as part:
                part.seek(upload.received)
                try:
                    written = await write_stream(part, chunks, limit - upload.received, too_large)
                except BaseException as exc:
                    part.truncate(upload.received)
                    if isinstance(exc, PayloadTooLarge):
                        self._remove(upload_id)
                    raise
        return replace(upload, received=upload.received + written)

    async def finalize(self, upload_id: str) -> StoredFile:
        """Store the upload's bytes as a file; the upload ends either way."""
        with self._hold(upload_id):
            upload = self.get(upload_id)
            try:
                if upload.size_bytes is not None and upload.received != upload.size_bytes:
                    raise InvalidRequest(
                        f"The upload was finalized after {upload.received} of its {upload.size_bytes} bytes."
                    )
                blob = self.files.staging_path()
                shutil.move(self._part(upload_id), blob)
            finally:
                self._remove(upload_id)
        return await asyncio.to_thread(
            self.files.adopt, blob, upload.mime_type, upload.display_name, "UPLOADED", upload.file_id
        )

    def cancel(self, upload_id: str) -> None:
        with self._hold(upload_id):
            self.get(upload_id)
            self._remove(upload_id)

    def purge_expired(self) -> int:
        now = self._clock()
        purged = 0
        for record in self.root.glob("*.json") if self.root.is_dir() else ():
            upload_id = record.stem
            try:
                expired = json.loads(record.read_bytes())["expires_at"] <= now
            except (OSError, ValueError, KeyError, TypeError):
                expired = True
            with self._lock:
                if expired and upload_id not in self._busy:
                    self._remove(upload_id)
                    purged += 1
        for part in self._parts():
            if not self._record(part.stem).exists():
                part.unlink(missing_ok=True)
        return purged

    def _limit(self, upload: Upload) -> tuple[int, PayloadTooLarge]:
        if upload.size_bytes is not None:
            message = f"The upload is larger than the {upload.size_bytes} bytes declared at its start."
            return upload.size_bytes, PayloadTooLarge(message)
        return self.files.max_file_bytes, file_too_large(self.files.max_file_bytes)

    def _check_room(self, size: int) -> None:
        used = self.files.used_bytes + self.pending_bytes
        if used + size > self.files.max_total_bytes:
            raise QuotaExceeded(
                f"File storage is full: {used} of {self.files.max_total_bytes} bytes are in use and this "
                f"upload declares {size}. Delete files or wait for them to expire."
            )

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

    def _parts(self) -> list[Path]:
        return list(self.root.glob("*.part")) if self.root.is_dir() else []

    def _record(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.json"

    def _part(self, upload_id: str) -> Path:
        return self.root / f"{upload_id}.part"

    def _remove(self, upload_id: str) -> None:
        self._record(upload_id).unlink(missing_ok=True)
        self._part(upload_id).unlink(missing_ok=True)


async def write_stream(
    out: BinaryIO, chunks: AsyncIterable[bytes], limit: int, too_large: PayloadTooLarge
) -> int:
    """Write chunks to out, in batches off the event loop; too_large once more than limit bytes came."""
    size = 0
    batch = bytearray()
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        batch += chunk
        if len(batch) >= _WRITE_BATCH:
            full, batch = batch, bytearray()
            await write_chunk(out, full)
    if batch:
        await write_chunk(out, batch)
    return size


async def write_chunk(out: BinaryIO, data: bytes | bytearray) -> None:
    """Write off the event loop; a cancelled caller still waits for the write to end, so that what it
    does next (truncating, removing) never races with a write still under way."""
    writing = asyncio.ensure_future(asyncio.to_thread(out.write, data))
    try:
        await asyncio.shield(writing)
    except asyncio.CancelledError:
        await writing
        raise
