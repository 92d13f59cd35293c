"""The Files API through the official google-genai SDK and raw HTTP: upload, get, list, delete, download."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from google import genai
from google.genai import errors, types

from codeloop.settings import Settings
from live import LiveServer, serving

KEY = "files-key"
SMALL_FILE = 1024
SMALL_TOTAL = 4 * SMALL_FILE


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[genai.Client]:
    client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=live_server.url))
    yield client
    client.close()


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Keys required, and caps small enough to reach."""
    settings = Settings(
        model="scripted",
        api_keys=KEY,
        data_dir=tmp_path_factory.mktemp("small"),
        max_file_bytes=SMALL_FILE,
        max_files_bytes=SMALL_TOTAL,
    )
    with serving(settings) as server:
        yield server


def start(http: httpx.Client, size: int, mime: str = "text/plain", **metadata: object) -> str:
    """A resumable upload's URL, as the SDK starts one."""
    response = http.post(
        "/upload/v1beta/files",
        json={"file": metadata},
        headers={
            "x-goog-upload-protocol": "resumable",
            "x-goog-upload-command": "start",
            "x-goog-upload-header-content-length": str(size),
            "x-goog-upload-header-content-type": mime,
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-goog-upload-status"] == "active"
    return response.headers["x-goog-upload-url"]


def send(http: httpx.Client, url: str, command: str, offset: int, data: bytes = b"") -> httpx.Response:
    headers = {"x-goog-upload-command": command, "x-goog-upload-offset": str(offset)}
    return http.post(url, content=data, headers=headers)


def error_of(response: httpx.Response) -> tuple[int, str]:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    return error["code"], error["status"]


def test_the_sdk_uploads_gets_and_downloads(
    client: genai.Client, live_server: LiveServer, tmp_path: Path
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"hello files")
    uploaded = client.files.upload(file=path)
    assert uploaded.name and uploaded.name.startswith("files/")
    file_id = uploaded.name.removeprefix("files/")
    assert len(file_id) == 12 and file_id.isalnum() and file_id.islower()
    assert uploaded.mime_type == "text/plain"  # guessed by the SDK from the name
    assert uploaded.size_bytes == 11
    assert uploaded.display_name is None
    assert uploaded.uri == f"{live_server.url}/v1beta/files/{file_id}"
    assert uploaded.state == types.FileState.ACTIVE
    assert uploaded.source == types.FileSource.UPLOADED
    hex_digest = hashlib.sha256(b"hello files").hexdigest()
    assert uploaded.sha256_hash == base64.b64encode(hex_digest.encode()).decode()  # as Gemini encodes it
    assert uploaded.create_time and uploaded.expiration_time
    assert (uploaded.expiration_time - uploaded.create_time).total_seconds() == 48 * 3600

    assert client.files.get(name=uploaded.name) == uploaded
    assert client.files.get(name=file_id) == uploaded
    assert client.files.download(file=uploaded.name) == b"hello files"
    with pytest.raises(ValueError, match="uploaded files can't be downloaded"):
        client.files.download(file=uploaded)  # the SDK's own rule for File objects without downloadUri


def test_the_sdk_uploads_a_stream_with_its_metadata(client: genai.Client) -> None:
    data = bytes(range(256)) * 32800  # past the SDK's 8 MiB chunks: sent in two requests
    uploaded = client.files.upload(
        file=io.BytesIO(data),
        config={"mime_type": "application/x-custom", "display_name": "Bytes, all of them"},
    )
    assert (uploaded.display_name, uploaded.mime_type, uploaded.size_bytes) == (
        "Bytes, all of them",
        "application/x-custom",
        len(data),
    )
    assert uploaded.name
    assert client.files.download(file=uploaded.name) == data


def test_the_async_sdk_uploads_too(live_server: LiveServer) -> None:
    async def upload() -> types.File:
        client = genai.Client(api_key="unused", http_options=types.HttpOptions(base_url=live_server.url))
        try:
            return await client.aio.files.upload(
                file=io.BytesIO(b"async"), config={"mime_type": "text/plain"}
            )
        finally:
            await client.aio.aclose()

    uploaded = asyncio.run(upload())
    assert uploaded.size_bytes == 5


def test_the_sdk_names_a_file_when_asked_and_refuses_a_taken_name(client: genai.Client) -> None:
    config = types.UploadFileConfig(mime_type="text/plain", name="chosen-name-1")
    uploaded = client.files.upload(file=io.BytesIO(b"mine"), config=config)
    assert uploaded.name == "files/chosen-name-1"
    with pytest.raises(errors.ClientError) as raised:
        client.files.upload(file=io.BytesIO(b"again"), config=config)
    assert (raised.value.code, raised.value.status) == (409, "ALREADY_EXISTS")


def test_the_sdk_lists_page_by_page(client: genai.Client) -> None:
    names = [
        client.files.upload(file=io.BytesIO(b"%d" % n), config={"mime_type": "text/plain"}).name
        for n in range(3)
    ]
    pager = client.files.list(config={"page_size": 2})
    assert len(pager.page) == 2
    assert pager.page[0].name == names[-1]  # newest first
    listed = [file.name for file in pager]  # the pager fetches the later pages itself
    assert set(names) <= set(listed)
    assert len(listed) == len(set(listed))


def test_the_sdk_deletes_and_then_gets_404(client: genai.Client) -> None:
    uploaded = client.files.upload(file=io.BytesIO(b"short-lived"), config={"mime_type": "text/plain"})
    assert uploaded.name
    client.files.delete(name=uploaded.name)
    for call in (client.files.get, client.files.delete):
        with pytest.raises(errors.ClientError) as raised:
            call(name=uploaded.name)
        assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")


def test_downloads_on_both_paths_and_the_v1_alias(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.post(
            "/upload/v1/files?uploadType=media", content=b"\x89PNG...", headers={"content-type": "image/png"}
        )
        assert response.status_code == 200, response.text
        file = response.json()["file"]
        assert (file["mimeType"], file["sizeBytes"], file["source"]) == ("image/png", "7", "UPLOADED")
        file_id = file["name"].removeprefix("files/")
        for path in (f"/v1beta/files/{file_id}:download", f"/download/v1beta/files/{file_id}:download"):
            response = http.get(path, params={"alt": "media"})
            assert response.status_code == 200
            assert response.content == b"\x89PNG..."
            assert response.headers["content-type"] == "image/png"
            assert response.headers["content-length"] == "7"
        assert http.get(f"/v1/files/{file_id}").json() == file
        assert http.delete(f"/v1/files/{file_id}").json() == {}
        assert error_of(http.get(f"/v1beta/files/{file_id}:download?alt=media")) == (404, "NOT_FOUND")
        assert error_of(http.get(f"/v1beta1/files/{file_id}")) == (404, "NOT_FOUND")


def test_multipart_related_uploads_metadata_and_media(live_server: LiveServer) -> None:
    metadata = json.dumps({"file": {"displayName": "Report", "mimeType": "text/csv"}}).encode()
    body = (
        b"--sep\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n" + metadata + b"\r\n"
        b"--sep\r\nContent-Type: application/octet-stream\r\n\r\na,b\r\n1,2\r\n\r\n--sep--\r\n"
    )
    with live_server.client() as http:
        response = http.post(
            "/upload/v1beta/files?uploadType=multipart",
            content=body,
            headers={"content-type": "multipart/related; boundary=sep"},
        )
        assert response.status_code == 200, response.text
        file = response.json()["file"]
        assert (file["displayName"], file["mimeType"], file["sizeBytes"]) == ("Report", "text/csv", "10")
        assert http.get(f"/v1beta/{file['name']}:download?alt=media").content == b"a,b\r\n1,2\r\n"


def test_form_data_uploads_as_curl_sends_them(live_server: LiveServer) -> None:
    with live_server.client() as http:
        response = http.post(
            "/upload/v1beta/files",
            headers={"x-goog-upload-protocol": "multipart"},
            files={
                "metadata": (None, '{"file": {"display_name": "drawing"}}', "application/json"),
                "file": ("drawing.svg", b"<svg/>", "image/svg+xml"),
            },
        )
        assert response.status_code == 200, response.text
        file = response.json()["file"]
        assert (file["displayName"], file["mimeType"], file["sizeBytes"]) == ("drawing", "image/svg+xml", "6")


def test_a_resumable_upload_in_chunks_with_a_query_between(live_server: LiveServer) -> None:
    with live_server.client() as http:
        url = start(http, 10, display_name="chunked")
        response = send(http, url, "upload", 0, b"01234")
        assert (response.status_code, response.headers["x-goog-upload-status"]) == (200, "active")
        assert (response.headers["content-type"], response.content) == ("text/plain; charset=utf-8", b"")
        response = http.post(url, headers={"x-goog-upload-command": "query"})
        assert response.headers["x-goog-upload-size-received"] == "5"

        response = send(http, url, "upload", 3, b"34567")  # an offset that is not where the upload stands
        assert error_of(response) == (400, "INVALID_ARGUMENT")
        assert response.headers["x-goog-upload-status"] == "active"

        response = send(http, url, "upload, finalize", 5, b"56789")
        assert response.headers["x-goog-upload-status"] == "final"
        file = response.json()["file"]
        assert (file["displayName"], file["sizeBytes"]) == ("chunked", "10")
        response = send(http, url, "upload", 10, b"more")  # the upload is over
        assert error_of(response) == (404, "NOT_FOUND")
        assert response.headers["x-goog-upload-status"] == "final"


def test_a_resumable_upload_finalized_short_fails(live_server: LiveServer) -> None:
    with live_server.client() as http:
        url = start(http, 10)
        send(http, url, "upload", 0, b"abc")
        response = send(http, url, "finalize", 3)
        assert error_of(response) == (400, "INVALID_ARGUMENT")
        assert "3 of its 10 bytes" in response.json()["error"]["message"]
        assert response.headers["x-goog-upload-status"] == "final"


def test_a_resumable_upload_can_be_cancelled(live_server: LiveServer) -> None:
    with live_server.client() as http:
        url = start(http, 10)
        response = http.post(url, headers={"x-goog-upload-command": "cancel"})
        assert response.headers["x-goog-upload-status"] == "cancelled"
        assert error_of(send(http, url, "upload", 0, b"abc")) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("path", "headers", "body"),
    [
        ("/upload/v1beta/files?upload_id=" + "x" * 43, {"x-goog-upload-command": "upload, finalize"}, b""),
        ("/upload/v1beta/files?upload_id=../../etc", {"x-goog-upload-command": "query"}, b""),
        ("/upload/v1beta2/files", {}, b"data"),
    ],
    ids=["unknown-upload", "malformed-upload-id", "unknown-version"],
)
def test_unknown_uploads_are_not_found(
    live_server: LiveServer, path: str, headers: dict[str, str], body: bytes
) -> None:
    with live_server.client() as http:
        assert error_of(http.post(path, headers={"x-goog-upload-offset": "0", **headers}, content=body)) == (
            404,
            "NOT_FOUND",
        )


RESUMABLE = {"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"}


@pytest.mark.parametrize(
    ("query", "headers", "body"),
    [
        ("", {**RESUMABLE, "x-goog-upload-header-content-length": "ten"}, b""),
        ("", {**RESUMABLE, "x-goog-upload-header-content-type": "not a type"}, b""),
        ("", {**RESUMABLE, "x-goog-upload-command": "upload"}, b""),
        ("", {**RESUMABLE, "content-type": "application/json"}, b"{not json"),
        ("", {**RESUMABLE, "content-type": "application/json"}, b'{"file": {"displayName": 7}}'),
        ("", {**RESUMABLE, "content-type": "application/json"}, b'{"file": {"name": "files/Bad_Name"}}'),
        ("", {**RESUMABLE, "content-type": "application/json"}, b'{"file": {"sizeBytes": "-1"}}'),
        ("", {**RESUMABLE, "content-type": "application/json"}, b'{"file": {"displayName": "\\udcff"}}'),
        ("", RESUMABLE, '{"file": {"mimeType": "text/plain; x=\u4e2d"}}'.encode()),
        ("", RESUMABLE, b'{"file": {"mimeType": "text/plain; x=\\u0001"}}'),
        ("?uploadType=carrier-pigeon", {}, b"data"),
        ("?uploadType=media", {"content-type": "no-slash"}, b"data"),
        ("?uploadType=multipart", {"content-type": "multipart/related"}, b"data"),
        ("?uploadType=multipart", {"content-type": "multipart/related; boundary=x"}, b"--x\r\n\r\nunended"),
        (
            "?uploadType=multipart",
            {"content-type": "multipart/related; boundary=x"},
            b"--x\r\n\r\n{]\r\n--x\r\n\r\ny\r\n--x--",
        ),
        (
            "?uploadType=multipart",
            {"content-type": "multipart/related; boundary=x"},
            b'--x\r\n\r\n{"file": {"displayName": "\\ud800"}}\r\n--x\r\n\r\ny\r\n--x--',
        ),
    ],
    ids=[
        "size-not-a-number",
        "bad-mime-type",
        "start-without-start",
        "metadata-not-json",
        "metadata-wrong-type",
        "bad-file-name",
        "negative-size",
        "lone-surrogate",  # no response could carry it: the file would break every list of files
        "mime-type-not-latin-1",  # no download's Content-Type could carry it
        "mime-type-control-character",
        "unknown-protocol",
        "media-bad-mime-type",
        "multipart-no-boundary",
        "multipart-unended",
        "multipart-bad-metadata",
        "multipart-lone-surrogate",
    ],
)
def test_bad_uploads_are_400(
    live_server: LiveServer, query: str, headers: dict[str, str], body: bytes
) -> None:
    with live_server.client() as http:
        assert error_of(http.post("/upload/v1beta/files" + query, headers=headers, content=body)) == (
            400,
            "INVALID_ARGUMENT",
        )


def test_bad_chunk_requests_are_400_and_leave_the_upload_going(live_server: LiveServer) -> None:
    with live_server.client() as http:
        url = start(http, 4)
        for headers in (
            {"x-goog-upload-command": "upload"},  # no offset
            {"x-goog-upload-command": "upload", "x-goog-upload-offset": "zero"},
            {"x-goog-upload-command": "rewind", "x-goog-upload-offset": "0"},
            {},
        ):
            response = http.post(url, headers=headers, content=b"abcd")
            assert error_of(response) == (400, "INVALID_ARGUMENT"), headers
            assert response.headers["x-goog-upload-status"] == "active"
        assert send(http, url, "upload, finalize", 0, b"abcd").status_code == 200


def test_bad_list_parameters_are_400(live_server: LiveServer) -> None:
    with live_server.client() as http:
        assert error_of(http.get("/v1beta/files", params={"pageToken": "not-a-token"})) == (
            400,
            "INVALID_ARGUMENT",
        )
        assert error_of(http.get("/v1beta/files", params={"pageSize": "many"})) == (400, "INVALID_ARGUMENT")


def test_files_need_a_key_but_an_upload_url_is_its_own_credential(small_server: LiveServer) -> None:
    with small_server.client() as http:
        assert error_of(http.get("/v1beta/files")) == (401, "UNAUTHENTICATED")
        assert error_of(http.post("/upload/v1beta/files?uploadType=media", content=b"x")) == (
            401,
            "UNAUTHENTICATED",
        )
        response = http.post("/upload/v1beta/files", headers={**RESUMABLE, "x-goog-api-key": "wrong"})
        assert error_of(response) == (403, "PERMISSION_DENIED")
        # An upload id lets a request continue that upload, and do nothing else.
        response = http.post("/upload/v1beta/files?uploadType=media&upload_id=" + "a" * 43, content=b"x")
        assert error_of(response) == (404, "NOT_FOUND")
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=small_server.url))
    uploaded = client.files.upload(file=io.BytesIO(b"keyed"), config={"mime_type": "text/plain"})
    assert uploaded.name
    client.files.delete(name=uploaded.name)


def test_files_over_the_size_limit_are_413(small_server: LiveServer) -> None:
    too_big = b"x" * (SMALL_FILE + 1)
    with small_server.client() as http:
        http.headers["x-goog-api-key"] = KEY
        response = http.post(
            "/upload/v1beta/files", headers={**RESUMABLE, "x-goog-upload-header-content-length": "1025"}
        )
        assert error_of(response) == (413, "INVALID_ARGUMENT")
        response = http.post("/upload/v1beta/files?uploadType=media", content=too_big)
        assert error_of(response) == (413, "INVALID_ARGUMENT")

        def streamed() -> Iterator[bytes]:  # no Content-Length: refused as the bytes arrive
            yield too_big[:600]
            yield too_big[600:]

        response = http.post("/upload/v1beta/files?uploadType=media", content=streamed())
        assert error_of(response) == (413, "INVALID_ARGUMENT")
        # No size declared: the file cap applies.
        url = http.post("/upload/v1beta/files", headers=RESUMABLE, json={}).headers["x-goog-upload-url"]
        response = http.post(
            url, headers={"x-goog-upload-command": "upload", "x-goog-upload-offset": "0"}, content=streamed()
        )
        assert error_of(response) == (413, "INVALID_ARGUMENT")
        assert response.headers["x-goog-upload-status"] == "final"
        response = http.post(
            "/upload/v1beta/files",
            files={"file": ("big.bin", too_big, "application/octet-stream")},
            headers={"x-goog-upload-protocol": "multipart"},
        )
        assert error_of(response) == (413, "INVALID_ARGUMENT")
    client = genai.Client(api_key=KEY, http_options=types.HttpOptions(base_url=small_server.url))
    with pytest.raises(errors.ClientError) as raised:
        client.files.upload(file=io.BytesIO(too_big), config={"mime_type": "text/plain"})
    assert raised.value.code == 413


def test_a_full_store_is_429_until_files_are_deleted(small_server: LiveServer) -> None:
    with small_server.client() as http:
        http.headers["x-goog-api-key"] = KEY
        names = []
        for _ in range(SMALL_TOTAL // SMALL_FILE):
            response = http.post("/upload/v1beta/files?uploadType=media", content=b"f" * SMALL_FILE)
            assert response.status_code == 200, response.text
            names.append(response.json()["file"]["name"])
        response = http.post("/upload/v1beta/files?uploadType=media", content=b"f")
        assert error_of(response) == (429, "RESOURCE_EXHAUSTED")
        for name in names:
            assert http.delete(f"/v1beta/{name}").status_code == 200
        assert http.post("/upload/v1beta/files?uploadType=media", content=b"f").status_code == 200
