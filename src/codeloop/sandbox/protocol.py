"""The sandbox wire: frames of a 4-byte big-endian length and a UTF-8 JSON object, over any fd,
and the hard limits on what a session process may put in them.

The session process loads this module by path, so it imports only the stdlib and
never the codeloop package (whose __init__ pulls in google.genai).
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import os
import re
import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "FILE_BUDGET",
    "MAX_COMPONENT_BYTES",
    "MAX_FIGURES",
    "MAX_FILES",
    "MAX_MESSAGE_BYTES",
    "MAX_MIME_CHARS",
    "MAX_PATH_BYTES",
    "MAX_TRAILER_BYTES",
    "MAX_VALUES",
    "InvalidMessage",
    "ProtocolError",
    "decode",
    "encode",
    "mime_problem",
    "name_problem",
    "read_message",
    "read_message_async",
    "shown",
    "write_message",
    "write_message_async",
]

# What one block's result may carry: the child cuts to fit, the server refuses more.
FILE_BUDGET = 32 << 20  # raw bytes of all its files together
MAX_FILES = 100  # files it wrote or changed
MAX_FIGURES = 100  # pyplot figures, returned as PNGs before the files
MAX_TRAILER_BYTES = 1 << 20  # traceback and notes, as they travel (JSON-escaped)
MAX_PATH_BYTES = 1024  # a file's name relative to the working dir, in UTF-8
MAX_COMPONENT_BYTES = 255  # one component of it (Linux's NAME_MAX)
MAX_MIME_CHARS = 255  # RFC 6838: type and subtype of up to 127 characters each
_ENTRIES = MAX_FILES + MAX_FIGURES
# The largest frame a legitimate result needs: every file in base64 (each padded on its own), the
# trailer, the names (JSON's \u escapes at most triple UTF-8), mime types and keys, plus slack.
MAX_MESSAGE_BYTES = (
    4 * (FILE_BUDGET // 3 + 1 + _ENTRIES)
    + MAX_TRAILER_BYTES
    + _ENTRIES * (3 * MAX_PATH_BYTES + MAX_MIME_CHARS + 64)
    + 4096
)
# JSON values in a big frame: a result holds four per file and a dozen more. Millions of tiny
# values cost seconds and gigabytes to build, so a frame holding more is refused while it is parsed.
MAX_VALUES = 64 + 4 * _ENTRIES
# Every frame type either side sends; anything else is not a message of ours.
TYPES = frozenset({"run", "put", "result", "ready", "error", "started", "exited"})

_HEADER = struct.Struct(">I")
_READ_CHUNK = 1 << 20
# Frames up to this size are parsed by json's C scanner, on the event loop: their size bounds
# what that costs. Bigger ones by the counting scanner below, in a thread.
_SMALL_FRAME_BYTES = 64 << 10
_MIME = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class ProtocolError(Exception):
    """The channel broke: the stream ended inside a frame, or a frame cannot be a message."""


class InvalidMessage(ProtocolError):
    """A frame arrived but cannot be believed: too big, not JSON, or past the limits above."""


def encode(obj: Mapping[str, Any]) -> bytes:
    """One whole frame, header included."""
    # ASCII escapes keep lone surrogates (valid in JSON strings, not in UTF-8) encodable.
    payload = json.dumps(obj, separators=(",", ":")).encode("ascii")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return _HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> dict[str, Any]:
    """The frame's object, parsed within bounded time; InvalidMessage if it is not one of ours."""
    try:
        text = payload.decode("utf-8")
        if len(payload) <= _SMALL_FRAME_BYTES:
            obj = json.loads(text, parse_constant=_no_constant)
        else:
            obj = _BoundedDecoder(MAX_VALUES).decode(text)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidMessage(f"frame is not UTF-8 JSON: {_brief(exc)}") from None
    except RecursionError:
        raise InvalidMessage("frame nests too deep") from None
    if not isinstance(obj, dict):
        raise InvalidMessage(f"frame holds a {type(obj).__name__}, not an object")
    kind = obj.get("type")
    if kind not in TYPES:
        raise InvalidMessage(f"frame of unknown type {shown(kind)}")
    return obj


class _BoundedDecoder(json.JSONDecoder):
    """json's pure-Python scanner, counting values: it stops at the first past the limit, and its
    bytecode lets other threads in, where the C scanner would hold the GIL for the whole frame."""

    def __init__(self, limit: int) -> None:
        super().__init__(parse_constant=_no_constant)
        self.left = limit
        self.parse_object = self._object
        self.parse_array = self._array
        self.scan_once = self._counted(json.scanner.py_make_scanner(self))  # type: ignore[attr-defined]

    def _counted(self, scan: Callable[[str, int], tuple[Any, int]]) -> Callable[[str, int], tuple[Any, int]]:
        def scan_counted(text: str, index: int) -> tuple[Any, int]:
            self.left -= 1
            if self.left < 0:
                raise InvalidMessage(f"frame holds more than {MAX_VALUES} values")
            return scan(text, index)

        return scan_counted

    def _object(self, s_and_end: tuple[str, int], strict: bool, scan: Any, *rest: Any) -> Any:
        return json.decoder.JSONObject(s_and_end, strict, self._counted(scan), *rest)  # type: ignore[attr-defined]

    def _array(self, s_and_end: tuple[str, int], scan: Any) -> Any:
        return json.decoder.JSONArray(s_and_end, self._counted(scan))  # type: ignore[attr-defined]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def name_problem(name: object) -> str | None:
    """What makes name unsafe as a file's path relative to the working dir, or None if nothing."""
    if not isinstance(name, str):
        return f"is a {type(name).__name__}, not a string"
    if len(name) > MAX_PATH_BYTES:  # checked first: the checks below cost time in its length
        return f"is longer than {MAX_PATH_BYTES} bytes"
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if size > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if _CONTROL.search(name):
        return "holds a control character"
    if name.startswith("/"):
        return "is absolute"
    for part in name.split("/"):
        if part in ("", ".", ".."):
            return f"has a {part!r} component" if part else "has an empty component"
        if len(part.encode("utf-8")) > MAX_COMPONENT_BYTES:
            return f"has a component longer than {MAX_COMPONENT_BYTES} bytes"
    return None


def mime_problem(mime_type: object) -> str | None:
    """What keeps mime_type from being RFC 6838's `type/subtype`, or None if nothing."""
    if not isinstance(mime_type, str):
        return f"is a {type(mime_type).__name__}, not a string"
    if len(mime_type) > MAX_MIME_CHARS or not _MIME.match(mime_type):
        return "is not a type/subtype"
    return None


def shown(value: object) -> str:
    """A value as an error names it: short and printable, whatever its size or characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _brief(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _length(header: bytes) -> int:
    (length,) = _HEADER.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise InvalidMessage(f"frame announces {length} bytes, more than {MAX_MESSAGE_BYTES}")
    return int(length)


# Sync side (the session process): blocking reads and writes on a raw fd.


def write_message(fd: int, obj: Mapping[str, Any]) -> None:
    view = memoryview(encode(obj))
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, min(n - len(buf), _READ_CHUNK))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


def read_message(fd: int) -> dict[str, Any] | None:
    """The next message, or None on a clean end of stream between frames."""
    header = _read_exactly(fd, _HEADER.size)
    if not header:
        return None
    if len(header) < _HEADER.size:
        raise ProtocolError("stream ended inside a frame header")
    length = _length(header)
    payload = _read_exactly(fd, length)
    if len(payload) < length:
        raise ProtocolError("stream ended inside a frame")
    return decode(payload)


# Async side (the server): asyncio streams.


async def write_message_async(writer: asyncio.StreamWriter, obj: Mapping[str, Any]) -> None:
    writer.write(encode(obj))
    await writer.drain()


async def read_message_async(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None on a clean end of stream between frames.

    A big frame is decoded in a thread, so that the event loop serves other requests meanwhile."""
    import asyncio  # already loaded wherever this runs; kept out of the session process

    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("stream ended inside a frame header") from None
    try:
        payload = await reader.readexactly(_length(header))
    except asyncio.IncompleteReadError:
        raise ProtocolError("stream ended inside a frame") from None
    if len(payload) <= _SMALL_FRAME_BYTES:
        return decode(payload)
    return await asyncio.to_thread(decode, payload)
