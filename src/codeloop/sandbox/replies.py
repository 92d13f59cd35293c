"""What a session process answers, checked against the wire's limits before the server believes it.

User code runs in the process that answers and can write on its channel: a reply is hostile input,
like a request body. A check that fails raises InvalidMessage saying what was wrong; the caller
fails that block and kills the interpreter, whose channel can no longer be trusted.
"""

from __future__ import annotations

import binascii
import math
import secrets
from collections.abc import Set
from dataclasses import dataclass
from typing import Any

from codeloop.execution import BlockStats, NamedFile
from codeloop.sandbox.protocol import (
    FILE_BUDGET,
    MAX_FIGURES,
    MAX_FILES,
    MAX_TRAILER_BYTES,
    InvalidMessage,
    mime_problem,
    name_problem,
    shown,
)

__all__ = ["Result", "carried_bytes", "new_id", "put_error", "result"]

# Far past anything a machine measures, and well inside JSON's exact integers and int64.
MAX_STAT_MS = 1e12
MAX_PEAK_MEMORY_BYTES = 1 << 50
MAX_ERROR_CHARS = 4096
# base64 is decoded a piece at a time, so that the thread doing it lets the event loop in between.
_DECODE_CHUNK = 1 << 20
_MOST_FILES = MAX_FILES + MAX_FIGURES


@dataclass(frozen=True)
class Result:
    """A block's result as its session process reported it, within the limits."""

    ok: bool
    trailer: str
    files: tuple[NamedFile, ...]
    stats: BlockStats


def new_id() -> str:
    """A request's id, which its reply must echo: a frame left over from another request has another."""
    return secrets.token_hex(8)


def carried_bytes(reply: dict[str, Any]) -> int:
    """About how many bytes of files a result carries: decoding many is for a thread, not the event loop."""
    files = reply.get("files")
    if not isinstance(files, list) or len(files) > _MOST_FILES:
        return 0
    return sum(len(f["data"]) for f in files if isinstance(f, dict) and isinstance(f.get("data"), str))


def result(reply: dict[str, Any], request_id: str) -> Result:
    _check_reply(reply, "result", request_id, {"trailer", "files", "stats"})
    return Result(reply["ok"], _trailer(reply["trailer"]), _files(reply["files"]), _stats(reply["stats"]))


def put_error(reply: dict[str, Any], request_id: str) -> str | None:
    """Why the file could not be staged, or None if it was."""
    _check_reply(reply, "put", request_id, set(), {"error"})
    error = reply.get("error", "")
    if not isinstance(error, str) or len(error) > MAX_ERROR_CHARS or not _is_utf8(error):
        raise InvalidMessage(f"the put message's error is not a string of up to {MAX_ERROR_CHARS} characters")
    return None if reply["ok"] else error or "no reason given"


def _check_keys(obj: dict[str, Any], what: str, required: Set[str], optional: Set[str] = frozenset()) -> None:
    if missing := required - obj.keys():
        raise InvalidMessage(f"{what} has no {min(missing)!r}")
    if unknown := obj.keys() - required - optional:
        raise InvalidMessage(f"{what} has an unknown field {shown(min(unknown))}")


def _check_reply(
    reply: dict[str, Any], kind: str, request_id: str, fields: Set[str], optional: Set[str] = frozenset()
) -> None:
    """The type, the fields, the id echoed and ok, which every reply has."""
    if reply.get("type") != kind:
        raise InvalidMessage(f"expected a {kind} message, got type {shown(reply.get('type'))}")
    what = f"the {kind} message"
    _check_keys(reply, what, {"type", "id", "ok", *fields}, optional)
    if reply["id"] != request_id:
        raise InvalidMessage(f"{what} answers another request (id {shown(reply['id'])})")
    if type(reply["ok"]) is not bool:
        raise InvalidMessage(f"{what}'s ok is not a bool")


def _trailer(trailer: Any) -> str:
    # The length in characters first: encoding costs time in it.
    if not isinstance(trailer, str) or len(trailer) > MAX_TRAILER_BYTES:
        raise InvalidMessage(f"the trailer is not a string of up to {MAX_TRAILER_BYTES} bytes")
    if not _is_utf8(trailer):
        raise InvalidMessage("the trailer is not valid UTF-8")
    if len(trailer.encode("utf-8")) > MAX_TRAILER_BYTES:
        raise InvalidMessage(f"the trailer is longer than {MAX_TRAILER_BYTES} bytes")
    return trailer


def _files(files: Any) -> tuple[NamedFile, ...]:
    """Every entry checked, and their sizes added up, before any data is decoded."""
    if not isinstance(files, list):
        raise InvalidMessage("the files are not a list")
    if len(files) > _MOST_FILES:
        raise InvalidMessage(f"the result lists {len(files)} files, more than {_MOST_FILES}")
    budget = FILE_BUDGET
    for number, entry in enumerate(files, start=1):
        what = f"file {number}"
        if not isinstance(entry, dict):
            raise InvalidMessage(f"{what} is not an object")
        _check_keys(entry, what, {"name", "mime_type", "data"})
        if problem := name_problem(entry["name"]):
            raise InvalidMessage(f"{what}'s name {shown(entry['name'])} {problem}")
        if problem := mime_problem(entry["mime_type"]):
            raise InvalidMessage(f"{what}'s mime type {shown(entry['mime_type'])} {problem}")
        budget -= _base64_size(entry["data"], what)
        if budget < 0:
            raise InvalidMessage(f"the files hold more than {FILE_BUDGET} bytes")
    return tuple(
        NamedFile(entry["name"], entry["mime_type"], _base64_decode(entry["data"], f"file {number}"))
        for number, entry in enumerate(files, start=1)
    )


def _base64_size(data: Any, what: str) -> int:
    """The decoded size, from the length alone."""
    if not isinstance(data, str) or len(data) % 4:
        raise InvalidMessage(f"{what}'s data is not base64")
    padding = 2 if data.endswith("==") else 1 if data.endswith("=") else 0
    return len(data) // 4 * 3 - padding


def _base64_decode(data: str, what: str) -> bytes:
    pieces: list[bytes] = []
    for start in range(0, len(data), _DECODE_CHUNK):
        chunk = data[start : start + _DECODE_CHUNK]
        try:
            if chunk.endswith("=") and start + _DECODE_CHUNK < len(data):
                raise ValueError("padding before the end")
            pieces.append(binascii.a2b_base64(chunk.encode("ascii"), strict_mode=True))
        except ValueError:  # binascii.Error and UnicodeEncodeError are ValueErrors
            raise InvalidMessage(f"{what}'s data is not base64") from None
    return b"".join(pieces)


def _stats(stats: Any) -> BlockStats:
    if not isinstance(stats, dict):
        raise InvalidMessage("the stats are not an object")
    _check_keys(stats, "the stats", {"cpu_ms", "wall_ms", "peak_memory_bytes"})
    for key in ("cpu_ms", "wall_ms"):
        value = stats[key]
        if type(value) not in (int, float) or not (math.isfinite(value) and 0 <= value <= MAX_STAT_MS):
            raise InvalidMessage(
                f"the stats' {key} {shown(value)} is not a time from 0 to {MAX_STAT_MS:g} ms"
            )
    peak = stats["peak_memory_bytes"]
    if type(peak) is not int or not 0 <= peak <= MAX_PEAK_MEMORY_BYTES:
        raise InvalidMessage(f"the stats' peak_memory_bytes {shown(peak)} is not a size from 0 to 2**50")
    return BlockStats(float(stats["cpu_ms"]), float(stats["wall_ms"]), peak)


def _is_utf8(text: str) -> bool:
    """False for a lone surrogate, which JSON's \\u escapes allow and UTF-8 does not."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
