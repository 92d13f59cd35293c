"""The Files API's part of /openapi.json: its File schemas, and the parameters, bodies and responses
of routes that read their requests by hand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import pydantic
from fastapi import Path
from pydantic.alias_generators import to_camel

from codeloop.server import openapi

FileId = Annotated[str, Path(description="The file's id: its name without the files/ prefix.")]


class _Wire(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(alias_generator=to_camel, populate_by_name=True)


class FileResource(_Wire):
    """Gemini's File, as wire.files.file_resource writes it."""

    name: str = pydantic.Field(description="files/ID.")
    display_name: str | None = None
    mime_type: str
    size_bytes: str = pydantic.Field(pattern="^[0-9]+$", description="A decimal string, as Google's int64.")
    create_time: datetime
    update_time: datetime
    expiration_time: datetime
    sha256_hash: str = pydantic.Field(description="The base64 of the SHA-256 hex digest, as Gemini's.")
    uri: str = pydantic.Field(description="What fileData.fileUri names.")
    download_uri: str | None = pydantic.Field(None, description="Files that code wrote (GENERATED) only.")
    state: Literal["ACTIVE"]
    source: Literal["UPLOADED", "GENERATED"]


class CreateFileResponse(_Wire):
    file: FileResource


class ListFilesResponse(_Wire):
    files: list[FileResource] = pydantic.Field(default_factory=list, description="Absent when empty.")
    next_page_token: str | None = None


def _header(description: str, **schema: Any) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string", **schema}}


UPLOAD_STATUS = _header("On a resumable upload: whether it goes on.", enum=["active", "final", "cancelled"])
UPLOAD_PARAMETERS = [
    openapi.KEY_PARAMETER,
    {
        "name": "uploadType",
        "in": "query",
        "description": "The protocol, if no X-Goog-Upload-Protocol says it; by default multipart for a "
        "multipart body, else media.",
        "schema": {"type": "string", "enum": ["resumable", "multipart", "media", "raw"]},
    },
    {
        "name": "upload_id",
        "in": "query",
        "description": "A resumable upload's id, in the X-Goog-Upload-URL its start answers with; it stands "
        "in for the API key.",
        "schema": {"type": "string"},
    },
    {
        "name": "x-goog-upload-protocol",
        "in": "header",
        "schema": {"type": "string", "enum": ["resumable", "multipart", "media", "raw"]},
        "example": "resumable",
    },
    {
        "name": "x-goog-upload-command",
        "in": "header",
        "description": "start; at the upload URL: upload, finalize, 'upload, finalize', query or cancel.",
        "schema": {"type": "string"},
        "example": "start",
    },
    {
        "name": "x-goog-upload-offset",
        "in": "header",
        "description": "The bytes sent before this request's, with upload.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    {
        "name": "x-goog-upload-header-content-length",
        "in": "header",
        "description": "start: the file's size in bytes.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "example": "11",
    },
    {
        "name": "x-goog-upload-header-content-type",
        "in": "header",
        "description": "start: the file's MIME type.",
        "schema": {"type": "string"},
        "example": "text/plain",
    },
]
_METADATA = {
    "type": "object",
    "properties": {
        "file": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "files/ID, an id of the client's choosing."},
                "displayName": {"type": "string", "maxLength": 512},
                "mimeType": {"type": "string"},
                "sizeBytes": {"type": ["string", "integer"]},
            },
        }
    },
}
_BYTES = {"schema": {"type": "string", "format": "binary"}}
UPLOAD_BODY = {
    "required": False,
    "description": 'resumable start: the metadata, {"file": {...}}, or nothing. multipart: the metadata '
    "part, then the media part. media, and the upload command: the file's bytes, of any media type.",
    "content": {
        "application/json": {"schema": _METADATA, "example": {"file": {"displayName": "notes.txt"}}},
        "multipart/related": _BYTES,
        "application/octet-stream": _BYTES,
    },
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "multipart, media, and a resumable upload's finalize: the File. A resumable "
        "upload's other commands: an empty body; the headers say where and how the upload goes on.",
        "headers": {
            "x-goog-upload-status": UPLOAD_STATUS,
            "x-goog-upload-url": _header("start: where the upload goes on, with no API key."),
            "x-goog-upload-control-url": _header("start: the same URL."),
            "x-goog-upload-chunk-granularity": _header("start: a chunk size in bytes.", pattern="^[0-9]+$"),
            "x-goog-upload-size-received": _header(
                "upload and query: the bytes received so far.", pattern="^[0-9]+$"
            ),
        },
        "content": {"text/plain": {"schema": {"type": "string", "maxLength": 0}}},
    },
    **{
        code: response | {"headers": {"x-goog-upload-status": UPLOAD_STATUS}}
        for code, response in openapi.error_responses(400, 404, 409, 413, 429).items()
    },
}


LIST_PARAMETERS = [
    openapi.KEY_PARAMETER,
    {
        "name": "pageSize",
        "in": "query",
        "description": "Files per page: 10 if 0 or none, at most 100 whatever is asked.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {"name": "pageToken", "in": "query", "schema": {"type": "string"}},
]


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The file's bytes; its MIME type is the Content-Type.", "content": {"*/*": {}}},
    **openapi.error_responses(400, 404),
}
DOWNLOAD_PARAMETERS = [
    openapi.KEY_PARAMETER,
    {"name": "alt", "in": "query", "schema": {"type": "string", "enum": ["media"]}},
]
DELETE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}}},
    **openapi.error_responses(404),
}
