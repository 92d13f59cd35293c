"""Gemini's File resource: upload metadata in, File JSON out."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from codeloop.errors import InvalidRequest
from codeloop.wire import lenient

DEFAULT_MIME_TYPE = "application/octet-stream"
MAX_DISPLAY_NAME = 512
# A file's MIME type is its download's Content-Type: what an HTTP header can carry, ASCII names and
# parameters without control characters (Latin-1 letters, HTTP's obs-text, pass too).
_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w.+-]*/[\w.+-]+(?:[ \t]*;[\t\x20-\x7e\x80-\xff]*)?", re.ASCII)


@dataclass(frozen=True)
class FileMetadata:
    """What an upload says of the file it creates: {"file": {"name", "displayName", "mimeType", ...}}."""

    file_id: str | None = None
    display_name: str | None = None
    mime_type: str | None = None
    size_bytes: int | None = None


def parse_metadata(body: bytes) -> FileMetadata:
    """The metadata of an upload body, {"file": {...}} (or the File alone); empty if the body is."""
    if not body.strip():
        return FileMetadata()
    data = lenient.loads(body)
    if not isinstance(data, dict):
        raise InvalidRequest('The upload metadata must be a JSON object, {"file": {...}}.')
    file = data.get("file", data)
    if file is None:
        return FileMetadata()
    if not isinstance(file, dict):
        raise InvalidRequest('Invalid value at "file": expected an object.')
    name = _string(file, "name", "name")
    display_name = _string(file, "displayName", "display_name")
    mime = _string(file, "mimeType", "mime_type")
    if display_name is not None and len(display_name) > MAX_DISPLAY_NAME:
        raise InvalidRequest(f"The display name is longer than {MAX_DISPLAY_NAME} characters.")
    return FileMetadata(
        file_id=name.removeprefix("files/") if name else None,
        display_name=display_name,
        mime_type=mime_type(mime, "file.mimeType") if mime else None,
        size_bytes=_size(file),
    )


def mime_type(value: str, where: str) -> str:
    value = value.strip()
    if len(value) > 255 or not _MIME_TYPE.fullmatch(value):
        raise InvalidRequest(f"Invalid MIME type {value[:100]!r} in {where}: expected type/subtype.")
    return value


def whole_number(value: str | None, where: str) -> int | None:
    """A header's or query parameter's count, such as X-Goog-Upload-Offset; None if it is absent."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise InvalidRequest(f"Invalid {where} {value[:40]!r}: expected a whole number.")
    return int(value)


class FileRecord(Protocol):
    """What the Files API's resource is rendered from (the store's record, read-only)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def mime_type(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def sha256(self) -> str: ...
    @property
    def create_time(self) -> datetime: ...
    @property
    def expiration_time(self) -> datetime: ...
    @property
    def source(self) -> str: ...


def file_resource(file: FileRecord, base_url: str) -> dict[str, Any]:
    """The File as Gemini returns it; base_url (ending in /) is the server's as the client reaches it."""
    resource: dict[str, Any] = {"name": file.name}
    if file.display_name is not None:
        resource["displayName"] = file.display_name
    created = rfc3339(file.create_time)
    resource |= {
        "mimeType": file.mime_type,
        "sizeBytes": str(file.size_bytes),
        "createTime": created,
        "updateTime": created,
        "expirationTime": rfc3339(file.expiration_time),
        # Gemini's sha256Hash is the base64 of the hex digest, not of the digest's bytes.
        "sha256Hash": base64.b64encode(file.sha256.encode()).decode(),
        "uri": file_uri(file, base_url),
        "state": "ACTIVE",
        "source": file.source,
    }
    if file.source == "GENERATED":
        resource["downloadUri"] = f"{base_url}v1beta/files/{file.id}:download?alt=media"
    return resource


def file_uri(file: FileRecord, base_url: str) -> str:
    """Where clients of this server find the file: what fileData.fileUri names."""
    return f"{base_url}v1beta/files/{file.id}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _string(file: dict[str, Any], camel: str, snake: str) -> str | None:
    value = file.get(camel, file.get(snake))
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f'Invalid value at "file.{camel}": expected a string.')
    # JSON's \ud800 escapes can spell lone surrogates, which no UTF-8 response could carry back.
    if value is not None and not _encodable(value):
        raise InvalidRequest(f'Invalid value at "file.{camel}": a lone surrogate is not a character.')
    return value


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _size(file: dict[str, Any]) -> int | None:
    value = file.get("sizeBytes", file.get("size_bytes"))
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        return whole_number(value, '"file.sizeBytes"')
    raise InvalidRequest('Invalid value at "file.sizeBytes": expected a number of bytes.')
