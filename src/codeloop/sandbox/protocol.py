"""The sandbox wire: frames of a 4-byte big-endian length and a UTF-8 JSON object, over any fd.

The session process loads this module by path, so it imports only the stdlib and
never the codeloop package (whose __init__ pulls in google.genai).
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "MAX_MESSAGE_BYTES",
    "ProtocolError",
    "decode",
    "encode",
    "read_message",
    "read_message_async",
    "write_message",
    "write_message_async",
]

# Results carry base64 images; anything bigger than this is a bug or an attack, not a message.
MAX_MESSAGE_BYTES = 64 << 20

_HEADER = struct.Struct(">I")
_READ_CHUNK = 1 << 20


class ProtocolError(Exception):
    """A frame that cannot be a message: absurd length, truncated, or not a JSON object."""


def encode(obj: Mapping[str, Any]) -> bytes:
    """One whole frame, header included."""
    # ASCII escapes keep lone surrogates (valid in JSON strings, not in UTF-8) encodable.
    payload = json.dumps(obj, separators=(",", ":")).encode("ascii")
    if len(payload) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return _HEADER.pack(len(payload)) + payload


def decode(payload: bytes) -> dict[str, Any]:
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"frame is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"frame holds a {type(obj).__name__}, not an object")
    return obj


def _length(header: bytes) -> int:
    (length,) = _HEADER.unpack(header)
    if length > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"frame announces {length} bytes, more than {MAX_MESSAGE_BYTES}")
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
    """The next message, or None on a clean end of stream between frames."""
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
    return decode(payload)
