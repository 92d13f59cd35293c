"""The Files API: uploads (resumable, multipart, media), list, get, delete and download.

Uploads are capped by --max-file-bytes, not by the request size limit of the other routes. A resumable
upload's later requests carry its upload id instead of an API key (server/access.py lets them in).
Every file and upload is its owner's (the request's API key): other keys find none of them."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from codeloop.errors import CodeloopError, InvalidRequest, NotFound
from codeloop.files.disk import map_disk_full
from codeloop.files.multipart import METADATA_LIMIT, boundary_of, read_multipart
from codeloop.files.store import FileStore, StoredFile, file_too_large
from codeloop.files.uploads import UploadStore, finish_in_thread, write_chunk, write_stream
from codeloop.server import openapi
from codeloop.server.access import owner_of, upload_owner_of
from codeloop.server.body import read_body
from codeloop.server.handlers import error_response
from codeloop.server.routes import files_openapi as doc
from codeloop.server.runtime import runtime_of
from codeloop.wire.files import (
    DEFAULT_MIME_TYPE,
    FileMetadata,
    file_resource,
    mime_type,
    parse_metadata,
    whole_number,
)

router = APIRouter()

STATUS = "x-goog-upload-status"
RECEIVED = "x-goog-upload-size-received"
CHUNK_GRANULARITY = 8 << 20  # what Google announces; any chunk size is accepted
_DOWNLOAD_CHUNK = 1 << 20


@router.post(
    "/upload/{version}/files",
    summary="Upload a file: resumable, multipart or media",
    response_model=doc.CreateFileResponse,
    responses=doc.UPLOAD_RESPONSES,
    openapi_extra={"parameters": doc.UPLOAD_PARAMETERS, "requestBody": doc.UPLOAD_BODY},
)
async def upload(request: Request, version: openapi.FileVersion) -> Response:
    openapi.check_version(request, version, openapi.FILE_VERSIONS)
    if "upload_id" in request.query_params:
        return await _continue_upload(request, request.query_params["upload_id"])
    protocol = request.query_params.get("uploadType") or request.headers.get("x-goog-upload-protocol")
    if not protocol:
        multipart = request.headers.get("content-type", "").lower().startswith("multipart/")
        protocol = "multipart" if multipart else "media"
    protocol = protocol.strip().lower()
    with map_disk_full():
        if protocol == "resumable":
            return await _start_upload(request, version)
        if protocol == "multipart":
            return await _multipart_upload(request)
        if protocol in ("media", "raw"):
            return await _media_upload(request)
    raise InvalidRequest(f"Unknown upload protocol {protocol!r}: use resumable, multipart or media.")


@router.get(
    "/{version}/files",
    response_model=doc.ListFilesResponse,
    responses=openapi.error_responses(400, 404),
    openapi_extra={"parameters": doc.LIST_PARAMETERS},
)
async def list_files(request: Request, version: openapi.FileVersion) -> JSONResponse:
    openapi.check_version(request, version, openapi.FILE_VERSIONS)
    query = request.query_params
    page_size = whole_number(query.get("pageSize", query.get("page_size")), "pageSize")
    page_token = query.get("pageToken", query.get("page_token")) or None
    files, next_token = runtime_of(request).files.list(owner_of(request), page_size or 0, page_token)
    body: dict[str, object] = {}
    if files:
        body["files"] = [file_resource(file, str(request.base_url)) for file in files]
    if next_token:
        body["nextPageToken"] = next_token
    return JSONResponse(body)


@router.get(
    "/{version}/files/{file_id}:download",
    response_class=Response,
    responses=doc.DOWNLOAD_RESPONSES,
    openapi_extra={"parameters": doc.DOWNLOAD_PARAMETERS},
)
@router.get(
    "/download/{version}/files/{file_id}:download",
    response_class=Response,
    responses=doc.DOWNLOAD_RESPONSES,
    openapi_extra={"parameters": doc.DOWNLOAD_PARAMETERS},
)
async def download_file(request: Request, version: openapi.FileVersion, file_id: doc.FileId) -> Response:
    openapi.check_version(request, version, openapi.FILE_VERSIONS)
    alt = request.query_params.get("alt", "media")
    if alt != "media":
        raise InvalidRequest(f"Invalid alt {alt!r}: a download is alt=media.")
    files, owner = runtime_of(request).files, owner_of(request)
    stored = files.get(owner, file_id)
    try:
        # Opened here, so that a delete from now on cannot cut the download short.
        blob = open(files.path(owner, stored.id), "rb")  # noqa: SIM115 (closed by the response)
    except FileNotFoundError:
        raise NotFound(f"File {stored.name} is not found; it may have expired or been deleted.") from None
    return BlobResponse(blob, stored)


@router.get(
    "/{version}/files/{file_id}",
    response_model=doc.FileResource,
    responses=openapi.error_responses(404),
    openapi_extra={"parameters": [openapi.KEY_PARAMETER]},
)
async def get_file(request: Request, version: openapi.FileVersion, file_id: doc.FileId) -> JSONResponse:
    openapi.check_version(request, version, openapi.FILE_VERSIONS)
    stored = runtime_of(request).files.get(owner_of(request), file_id)
    return JSONResponse(file_resource(stored, str(request.base_url)))


@router.delete(
    "/{version}/files/{file_id}",
    responses=doc.DELETE_RESPONSES,
    response_description="The file is deleted: an empty object.",
    openapi_extra={"parameters": [openapi.KEY_PARAMETER]},
)
async def delete_file(request: Request, version: openapi.FileVersion, file_id: doc.FileId) -> JSONResponse:
    openapi.check_version(request, version, openapi.FILE_VERSIONS)
    runtime_of(request).files.delete(owner_of(request), file_id)
    return JSONResponse({})


class BlobResponse(Response):
    """A stored file's bytes, streamed from a handle opened in advance, closed however the send ends."""

    def __init__(self, blob: BinaryIO, stored: StoredFile) -> None:
        super().__init__(media_type=stored.mime_type)
        self.blob = blob
        self.headers["content-length"] = str(stored.size_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            while chunk := await asyncio.to_thread(self.blob.read, _DOWNLOAD_CHUNK):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.blob.close()


async def _start_upload(request: Request, version: str) -> Response:
    """X-Goog-Upload-Command: start, with the File as JSON: answers with the URL the bytes go to."""
    runtime = runtime_of(request)
    command = request.headers.get("x-goog-upload-command", "start").strip().lower()
    if command != "start":
        raise InvalidRequest(
            f"Invalid X-Goog-Upload-Command {command!r}: a resumable upload begins with start, and "
            "continues at the X-Goog-Upload-URL it answers with."
        )
    metadata = parse_metadata(await read_body(request, runtime.settings.max_request_bytes))
    size = whole_number(
        request.headers.get("x-goog-upload-header-content-length"), "X-Goog-Upload-Header-Content-Length"
    )
    declared_type = request.headers.get("x-goog-upload-header-content-type")
    mime = metadata.mime_type or DEFAULT_MIME_TYPE
    if declared_type:
        mime = mime_type(declared_type, "X-Goog-Upload-Header-Content-Type")
    upload = runtime.uploads.start(
        owner_of(request),
        mime,
        metadata.display_name,
        size if size is not None else metadata.size_bytes,
        metadata.file_id,
    )
    url = f"{request.base_url}upload/{version}/files?upload_id={upload.id}&upload_protocol=resumable"
    headers = {
        "x-goog-upload-url": url,
        "x-goog-upload-control-url": url,
        STATUS: "active",
        "x-goog-upload-chunk-granularity": str(CHUNK_GRANULARITY),
    }
    return _empty(headers)


async def _continue_upload(request: Request, upload_id: str) -> Response:
    """A request to an upload URL; every answer says whether the upload goes on (its status header)."""
    uploads = runtime_of(request).uploads
    try:
        with map_disk_full():
            return await _upload_command(request, uploads, upload_id)
    except CodeloopError as exc:
        try:
            uploads.get(upload_id, upload_owner_of(request))
            status = "active"
        except NotFound:
            status = "final"
        return error_response(exc, {STATUS: status})


async def _upload_command(request: Request, uploads: UploadStore, upload_id: str) -> Response:
    owner = upload_owner_of(request)
    upload = uploads.get(upload_id, owner)  # an unknown upload is a 404, whatever else the request says
    header = request.headers.get("x-goog-upload-command", "")
    commands = {command.strip().lower() for command in header.split(",") if command.strip()}
    if commands == {"query"}:
        return _empty({STATUS: "active", RECEIVED: str(upload.received)})
    if commands == {"cancel"}:
        uploads.cancel(upload_id, owner)
        return _empty({STATUS: "cancelled"})
    if not commands or not commands <= {"upload", "finalize"}:
        raise InvalidRequest(
            f"Invalid X-Goog-Upload-Command {header!r}: expected upload, finalize, "
            "'upload, finalize', query or cancel."
        )
    offset = whole_number(request.headers.get("x-goog-upload-offset"), "X-Goog-Upload-Offset")
    if offset is None and "upload" in commands:
        raise InvalidRequest("An upload command needs X-Goog-Upload-Offset: the bytes sent before this one.")
    if offset is not None:
        length = whole_number(request.headers.get("content-length"), "Content-Length")
        upload = await uploads.append(upload_id, owner, offset, request.stream(), length)
    if "finalize" not in commands:
        return _empty({STATUS: "active", RECEIVED: str(upload.received)})
    stored = await uploads.finalize(upload_id, owner)
    return JSONResponse({"file": file_resource(stored, str(request.base_url))}, headers={STATUS: "final"})


async def _media_upload(request: Request) -> JSONResponse:
    """The body is the file, its Content-Type the file's."""
    files, owner = runtime_of(request).files, owner_of(request)
    _check_length(request, files.max_file_bytes)
    content_type = request.headers.get("content-type")
    mime = mime_type(content_type, "Content-Type") if content_type else DEFAULT_MIME_TYPE
    staged, claim = files.staging_path(), _claim_token()
    try:
        with open(staged, "wb") as out:
            limit = files.max_file_bytes
            claimer = _claimer(files, owner, claim)
            await write_stream(out, request.stream(), limit, file_too_large(limit), claimer)
        stored = await finish_in_thread(files.adopt, owner, staged, mime, None, "UPLOADED", None, claim)
    finally:
        staged.unlink(missing_ok=True)
        files.ledger.release(claim)
    return JSONResponse({"file": file_resource(stored, str(request.base_url))})


async def _multipart_upload(request: Request) -> JSONResponse:
    """Two parts, the File as JSON and the bytes (multipart/related or form-data), or the bytes alone."""
    files, owner = runtime_of(request).files, owner_of(request)
    _check_length(request, files.max_file_bytes + METADATA_LIMIT)
    boundary = boundary_of(request.headers.get("content-type", ""))
    staged, claim = files.staging_path(), _claim_token()
    grow = _claimer(files, owner, claim)
    try:
        with open(staged, "wb") as out:
            written = 0

            async def write(data: bytes) -> None:
                nonlocal written
                written += len(data)
                if written > files.max_file_bytes:
                    raise file_too_large(files.max_file_bytes)
                grow(written)
                await write_chunk(out, data)

            parts = await read_multipart(request.stream(), boundary, write)
        metadata = parse_metadata(parts.metadata) if parts.metadata is not None else FileMetadata()
        mime = metadata.mime_type
        if mime is None:
            mime = mime_type(parts.media_type, "the media part") if parts.media_type else DEFAULT_MIME_TYPE
        stored = await finish_in_thread(
            files.adopt, owner, staged, mime, metadata.display_name, "UPLOADED", metadata.file_id, claim
        )
    finally:
        staged.unlink(missing_ok=True)
        files.ledger.release(claim)
    return JSONResponse({"file": file_resource(stored, str(request.base_url))})


def _claim_token() -> str:
    """What the ledger holds a body's bytes under while it arrives, before the store takes them over."""
    return "body:" + secrets.token_hex(16)


def _claimer(files: FileStore, owner: str, token: str) -> Callable[[int], None]:
    """Claims a body's bytes as they arrive, so that a body over a quota is refused before it is whole."""

    def claim(size: int) -> None:
        files.ledger.grow(token, owner, size)

    return claim


def _check_length(request: Request, limit: int) -> None:
    """Refuse a body whose declared length is over limit before reading any of it."""
    length = whole_number(request.headers.get("content-length"), "Content-Length")
    if length is not None and length > limit:
        raise file_too_large(limit)


def _empty(headers: dict[str, str]) -> Response:
    """A resumable upload's answer that is all headers; typed, as Google's are, though it has no body."""
    return Response(headers=headers, media_type="text/plain")
