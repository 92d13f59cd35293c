"""Streaming reader of a multipart upload (multipart/related or form-data): a metadata part, then the media.

The media part goes to a writer as it arrives, never held whole. A body of one part is media alone."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from email.message import Message

from codeloop.errors import InvalidRequest

METADATA_LIMIT = 1 << 20
_HEADERS_LIMIT = 16 << 10
_PREAMBLE_LIMIT = 64 << 10


@dataclass(frozen=True)
class Multipart:
    metadata: bytes | None  # the first of two parts
    media_type: str | None  # the media part's Content-Type


def boundary_of(content_type: str) -> bytes:
    message = Message()
    message["content-type"] = content_type
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not 0 < len(boundary) <= 70:
        raise InvalidRequest("A multipart upload needs a Content-Type with a boundary of 1 to 70 characters.")
    try:
        return boundary.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidRequest("The multipart boundary must be ASCII.") from None


async def read_multipart(
    chunks: AsyncIterable[bytes],
    boundary: bytes,
    write: Callable[[bytes], Awaitable[None]],
    metadata_limit: int = METADATA_LIMIT,
) -> Multipart:
    """Read the body, passing the media's bytes to write; the metadata part comes back whole."""
    headers: list[dict[str, str]] = []
    first = bytearray()  # held while the first part may yet be the metadata
    first_is_media = False  # it outgrew metadata_limit
    async for event in _events(chunks, boundary):
        if isinstance(event, dict):
            headers.append(event)
            if len(headers) > 2 or (len(headers) == 2 and first_is_media):
                raise InvalidRequest(
                    "A multipart upload has at most two parts: the metadata (JSON), then the media."
                )
        elif len(headers) == 1 and not first_is_media:
            first += event
            if len(first) > metadata_limit:
                first_is_media = True
                await write(bytes(first))
                first.clear()
        else:
            await write(event)
    if not headers:
        raise InvalidRequest("The multipart body has no parts.")
    if len(headers) == 1:
        if first:
            await write(bytes(first))
        return Multipart(None, headers[0].get("content-type"))
    return Multipart(bytes(first), headers[1].get("content-type"))


async def _events(chunks: AsyncIterable[bytes], boundary: bytes) -> AsyncIterator[dict[str, str] | bytes]:
    """A part's headers where it starts, then its bytes, in order."""
    delimiter = b"\r\n--" + boundary
    keep = len(delimiter) - 1  # bytes that may be the start of a delimiter split across chunks
    buffer = bytearray(b"\r\n")  # so that a boundary on the first line matches the same delimiter
    state = "preamble"
    source = aiter(chunks)
    while True:
        if state == "preamble":
            found = buffer.find(delimiter)
            if found >= 0:
                del buffer[: found + len(delimiter)]
                state = "delimited"
                continue
            if len(buffer) > _PREAMBLE_LIMIT:
                raise InvalidRequest("The multipart body does not start with its boundary.")
        elif state == "delimited":  # after a delimiter: "--" ends the body, a line break starts a part
            if buffer.startswith(b"--"):
                return
            end = buffer.find(b"\r\n")
            if end >= 0:
                if buffer[:end].strip(b" \t"):
                    raise InvalidRequest("Unexpected bytes after a multipart boundary.")
                del buffer[: end + 2]
                state = "headers"
                continue
            if len(buffer) > _HEADERS_LIMIT:
                raise InvalidRequest("Unexpected bytes after a multipart boundary.")
        elif state == "headers":
            # A blank line ends the headers; a part may have none, its blank line right away.
            end = 0 if buffer.startswith(b"\r\n") else buffer.find(b"\r\n\r\n")
            if end >= 0:
                yield _parse_headers(bytes(buffer[:end]))
                del buffer[: end + (2 if end == 0 else 4)]
                state = "body"
                continue
            if len(buffer) > _HEADERS_LIMIT:
                raise InvalidRequest("A multipart part's headers are too long.")
        else:
            found = buffer.find(delimiter)
            if found >= 0:
                if found:
                    yield bytes(buffer[:found])
                del buffer[: found + len(delimiter)]
                state = "delimited"
                continue
            if len(buffer) > keep:
                yield bytes(buffer[:-keep])
                del buffer[:-keep]
        chunk = await anext(source, None)
        if chunk is None:
            raise InvalidRequest("The multipart body ends before its closing boundary.")
        buffer += chunk


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not block:
        return headers
    for line in block.decode("latin-1").split("\r\n"):
        name, colon, value = line.partition(":")
        if not colon:
            raise InvalidRequest(f"Malformed multipart part header: {line[:100]!r}.")
        headers[name.strip().lower()] = value.strip()
    return headers
