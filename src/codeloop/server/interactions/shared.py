"""Stored interactions several servers share: one JSON record per interaction in a directory they all reach.

With `--shared-data-dir` (and always under Ray Serve) the records on disk are the truth: any server
finds, continues, cancels or deletes an interaction another one created. The rules are
InteractionStore's, applied across servers:

- A record is written when it is created, at each step its run completes, and when it ends; a GET
  through another server shows that progress. Its file is named, as a stored file's, after its
  owner's key hash and its unguessable id: another key's lookup names another file and finds none.
- Last use is the file's modification time: a GET touches it, and expiry (ttl_s unused, never while
  running) is read from it by every server.
- The per-key and server caps count the files on disk, under an exclusive lock (fcntl.flock) on the
  directory, so two servers creating at once never both take the last place.
- A conversation's interpreter is found by the thread id its records keep (threads.Threads): on a
  cluster, a session on a sandbox node any server reaches.

A run stays on the server that started it: its stream is followed there; another server replays
what is written and ends. A delete through another server removes the record; the run's server
sees it gone at its next step and stops the run. A cancel through another server asks for it the
same way (a marker beside the record), and answers with the record as it then stands.

A server with records in progress touches a file of its own every HEARTBEAT_S. A record still in
progress whose server has been silent for ORPHAN_AFTER_S (it was killed, or its machine went) is
written as failed by whichever server next reads it: it then expires, and leaves its key's cap, as
any finished record does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic

from codeloop.dirlock import exclusive
from codeloop.errors import NotFound, QuotaExceeded
from codeloop.owners import ANONYMOUS, KEY_PREFIX, is_key, is_owner
from codeloop.sandbox.base import Sandbox
from codeloop.server.interactions.log import EventLog
from codeloop.server.interactions.store import _ID, InteractionLimits, InteractionStore, Record
from codeloop.server.interactions.threads import Threads
from codeloop.wire.interactions import events
from codeloop.wire.interactions.events import dump
from codeloop.wire.interactions.request import parse_create_request
from codeloop.wire.interactions.shapes import InteractionError, InteractionUsage, Step

_STEPS: pydantic.TypeAdapter[list[Step]] = pydantic.TypeAdapter(list[Step])
LOCK = ".lock"
STAGING = ".tmp"
CANCEL = ".cancel"  # beside a record: another server asks the run's server to cancel it
EXPIRE_EVERY_S = 5.0  # the most often one server scans the directory for expired records
SERVERS = ".servers"  # one heartbeat file per server with records in progress
HEARTBEAT_S = 5.0
ORPHAN_AFTER_S = 60.0
_SERVER_ID = re.compile(r"[0-9a-f]{16}")
STOPPED = "The server running this interaction stopped before it ended."


class SharedInteractionStore(InteractionStore):
    def __init__(
        self, root: Path, sandbox: Sandbox, limits: InteractionLimits, threads: Threads | None = None
    ) -> None:
        super().__init__(sandbox, limits, threads)
        self.root = root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        (root / STAGING).mkdir(exist_ok=True, mode=0o700)
        (root / SERVERS).mkdir(exist_ok=True, mode=0o700)
        self._expired_at = float("-inf")
        self.server = secrets.token_hex(8)  # this server, as its records in progress name it
        self._beating: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._files())

    def counts_by_owner(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for path in self._files():
            owner = _owner_of(path)
            counts[owner] = counts.get(owner, 0) + 1
        return counts

    async def get(self, owner: str, interaction_id: str) -> Record:
        """Owner's interaction, as this server runs it or as the disk holds it; NotFound otherwise."""
        await self._expire()
        missing = NotFound(f"Interaction {interaction_id[:128]} is not found; it may have expired.")
        if not _ID.fullmatch(interaction_id):
            raise missing
        path = self._path(owner, interaction_id)
        try:
            os.utime(path)  # used now: what expiry reads
        except FileNotFoundError:
            raise missing from None
        live = self._records.get(interaction_id)
        if live is not None and live.owner == owner:
            return live
        record = self._load(path, owner)
        if record is None:
            raise missing
        return record

    async def cancel(self, owner: str, interaction_id: str) -> Record:
        record = await self.get(owner, interaction_id)
        if record.running and record.task is None:  # running on another server: ask it
            with contextlib.suppress(OSError):
                self._path(owner, interaction_id).with_suffix(CANCEL).touch()
            record = await self._settled(owner, interaction_id, record)
        return await super().cancel(owner, interaction_id) if record.task is not None else record

    async def start(self, record: Record, run: Any) -> None:
        await super().start(record, run)
        if record.stored and record.task is not None:
            record.task.add_done_callback(lambda _: self._records.pop(record.id, None))

    async def close(self) -> None:
        """Stop this server's runs (each ends written as cancelled); the records stay for the others."""
        running = [record for record in self._running if record.task is not None]
        for record in running:
            assert record.task is not None
            record.task.cancel()
        await asyncio.gather(*(r.task for r in running if r.task), return_exceptions=True)
        if self._beating is not None:
            self._beating.cancel()
            await asyncio.gather(self._beating, return_exceptions=True)
        (self.root / SERVERS / self.server).unlink(missing_ok=True)

    def _background_running(self, owner: str) -> int:
        count = 0
        for path in self._files(owner):
            data = self._settled_read(path)
            if data and _running(data) and data["request"].get("background"):
                count += 1
        return count

    async def _keep(self, record: Record) -> None:
        record.earlier = record.previous.history() if record.previous is not None else []
        record.saved = self._save
        self._beat()
        evicted = await asyncio.to_thread(self._admit, record.owner, record.id, self._dump(record))
        for thread_id in evicted:
            await self._threads.find(thread_id, record.owner).let_go()
        self._records[record.id] = record
        if record.thread is not None:
            await record.thread.hold()

    def _admit(self, owner: str, interaction_id: str, text: bytes) -> list[str]:
        """Write the new record once the caps allow it, making room by dropping owner's least recently
        used finished records; their thread ids, to let go. One server at a time (the lock)."""
        evicted: list[str] = []
        with exclusive(self.root / LOCK):
            while True:
                files = self._files()
                mine = [path for path in files if _owner_of(path) == owner]
                over_key = is_key(owner) and len(mine) >= self.limits.max_per_key
                if not over_key and len(files) < self.limits.max_records:
                    break
                finished = [
                    (path, data)
                    for path in mine
                    if (data := self._settled_read_locked(path)) and not _running(data)
                ]
                if not finished:
                    raise QuotaExceeded(
                        f"No room for another stored interaction: this key's {len(mine)} are all "
                        "running; wait for one to end, or send store=false."
                    )
                path, data = min(finished, key=lambda item: _mtime(item[0]))
                if _unlink(path) and data.get("thread"):
                    evicted.append(data["thread"])
            self._write(self._path(owner, interaction_id), text)
        return evicted

    async def _expire(self) -> None:
        if time.monotonic() - self._expired_at < min(self.limits.ttl_s / 4, EXPIRE_EVERY_S):
            return
        self._expired_at = time.monotonic()
        deadline = time.time() - self.limits.ttl_s
        for path in self._files():
            if _mtime(path) >= deadline or path.stem in self._live_stems():
                continue
            data = self._settled_read(path)
            if data is None or _running(data):
                continue
            if _unlink(path) and data.get("thread"):
                await self._threads.find(data["thread"], _owner_of(path)).let_go()

    async def _drop(self, record: Record) -> None:
        self._records.pop(record.id, None)
        if _unlink(self._path(record.owner, record.id)) and record.thread is not None:
            await record.thread.let_go()

    def _save(self, record: Record) -> None:
        """Write a record's progress, unless another server deleted it (its run then stops) or asked
        for it to be cancelled."""
        path = self._path(record.owner, record.id)
        asked = path.with_suffix(CANCEL)
        gone = not path.exists()
        if (gone or asked.exists()) and record.running and record.task is not None:
            record.task.cancel()
        asked.unlink(missing_ok=True)
        if not gone:
            self._write(path, self._dump(record))

    async def _settled(self, owner: str, interaction_id: str, record: Record) -> Record:
        """The record once its own server has cancelled it (at its next step), or as it stands."""
        for _ in range(20):
            await asyncio.sleep(0.1)
            found = self._load(self._path(owner, interaction_id), owner)
            if found is None or not found.running:
                return found or record
        return record

    def _dump(self, record: Record) -> bytes:
        request = record.request
        data = {
            "id": record.id,
            "owner": record.owner,
            "request": {
                **request.body.model_dump(mode="json", exclude_none=True),
                "input": [dump(step) for step in request.input],
            },
            "previous_id": record.previous.id if record.previous is not None else record.previous_id,
            "earlier": [dump(step) for step in record.earlier or ()],
            "thread": record.thread.id if record.thread is not None else None,
            "created": record.created.isoformat(),
            "updated": record.updated.isoformat(),
            "status": record.status,
            "server": self.server,
            "output": [dump(step) for step in record.output],
            "usage": record.usage.model_dump(mode="json") if record.usage is not None else None,
            "errors": [error.model_dump(mode="json") for error in record.errors],
            "history_bytes": record.history_bytes,
            "events": record.log.events(),
        }
        return json.dumps(data, ensure_ascii=False).encode()

    def _load(self, path: Path, owner: str) -> Record | None:
        """The record at path, as another server wrote it: its stream replays and ends."""
        data = self._settled_read(path)
        if data is None or data.get("owner") != owner:
            return None
        try:
            thread = self._threads.find(data["thread"], owner) if data.get("thread") else None
            return Record(
                id=data["id"],
                owner=owner,
                request=parse_create_request(json.dumps(data["request"])),
                previous=None,
                thread=thread,
                stored=True,
                created=datetime.fromisoformat(data["created"]),
                updated=datetime.fromisoformat(data["updated"]),
                log=EventLog(data["events"], closed=True),
                status=data["status"],
                output=_STEPS.validate_python(data["output"]),
                usage=InteractionUsage.model_validate(data["usage"]) if data["usage"] else None,
                errors=[InteractionError.model_validate(error) for error in data["errors"]],
                history_bytes=int(data["history_bytes"]),
                earlier=_STEPS.validate_python(data["earlier"]),
                previous_id=data["previous_id"],
            )
        except (KeyError, TypeError, ValueError):
            return None

    def _beat(self) -> None:
        """Start touching this server's heartbeat file, once."""
        if self._beating is not None:
            return
        heart = self.root / SERVERS / self.server
        heart.touch()

        async def beating() -> None:
            while True:
                await asyncio.sleep(HEARTBEAT_S)
                with contextlib.suppress(OSError):
                    heart.touch()

        self._beating = asyncio.create_task(beating())

    def _settled_read(self, path: Path) -> dict[str, Any] | None:
        """The record at path; one in progress on a server silent for ORPHAN_AFTER_S is written as
        failed first (under the lock, so that two readers write it once)."""
        data = _read(path)
        if data is None or not self._orphaned(data):
            return data
        with exclusive(self.root / LOCK):
            return self._settled_read_locked(path)

    def _settled_read_locked(self, path: Path) -> dict[str, Any] | None:
        """_settled_read, for a caller that holds the directory's lock."""
        data = _read(path)
        if data is None or not self._orphaned(data):
            return data
        data["status"] = "failed"
        data["updated"] = datetime.now(UTC).isoformat()
        data["errors"] = [*data.get("errors", []), {"code": "UNAVAILABLE", "message": STOPPED}]
        data["events"] = [*data.get("events", []), events.error("UNAVAILABLE", STOPPED)]
        self._write(path, json.dumps(data, ensure_ascii=False).encode())
        return data

    def _orphaned(self, data: dict[str, Any]) -> bool:
        server = data.get("server")
        if not _running(data) or server == self.server:
            return False
        if not isinstance(server, str) or not _SERVER_ID.fullmatch(server):
            return False  # written before servers named themselves: left as it was
        beat = _mtime(self.root / SERVERS / server)  # inf: no heartbeat file, the server has gone
        return beat == float("inf") or time.time() - beat > ORPHAN_AFTER_S

    def _path(self, owner: str, interaction_id: str) -> Path:
        name = f"{owner.removeprefix(KEY_PREFIX)}.{interaction_id}" if is_key(owner) else interaction_id
        return self.root / f"{name}.json"

    def _files(self, owner: str | None = None) -> list[Path]:
        """The records on disk, everyone's or owner's."""
        return [
            path
            for path in self.root.glob("*.json")
            if (holder := _owner_of(path)) and (owner is None or holder == owner)
        ]

    def _live_stems(self) -> set[str]:
        return {self._path(r.owner, r.id).stem for r in self._records.values()}

    def _write(self, path: Path, text: bytes) -> None:
        staged = self.root / STAGING / secrets.token_hex(16)
        try:
            staged.write_bytes(text)
            os.replace(staged, path)
        finally:
            staged.unlink(missing_ok=True)


def _owner_of(path: Path) -> str:
    """The owner a record's file name gives: a key's hash before the dot, or the anonymous owner."""
    head, dot, _ = path.stem.partition(".")
    if not dot:
        return ANONYMOUS
    owner = KEY_PREFIX + head
    return owner if is_owner(owner) else ""


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _running(data: dict[str, Any]) -> bool:
    return data.get("status") == "in_progress"


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _unlink(path: Path) -> bool:
    """Remove a record; whether this call removed it (another server may have been first)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    path.with_suffix(CANCEL).unlink(missing_ok=True)
    return True
