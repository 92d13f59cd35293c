"""Tenants kept apart: with API keys, a file, an upload or a kept session is its key's alone.

One server on loopback with two keys; key B tries everything it can on what key A made, and finds
nothing there: 404 NOT_FOUND, as if it did not exist. Records written by a version that kept no
owner stay the anonymous owner's, out of every key's sight.
"""

from __future__ import annotations

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

A, B = "tenant-key-a", "tenant-key-b"
CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
GENERATE = "/v1beta/models/scripted:generateContent"
SESSION = "x-codeloop-session"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings(
        model="scripted",
        exec_timeout=10,
        api_keys=f"{A},{B}",
        data_dir=tmp_path_factory.mktemp("tenancy"),
        inline_file_bytes=1000,  # bigger files come back as Files API links: GENERATED files
    )
    with serving(settings) as server:
        yield server


def sdk(server: LiveServer, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.url))


def http(server: LiveServer, key: str | None) -> httpx.Client:
    client = server.client()
    if key is not None:
        client.headers["x-goog-api-key"] = key
    return client


def block(code: str) -> dict:
    return {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": f"```python\n{code}\n```"}}}


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["status"] == "NOT_FOUND"


def assert_hidden_from_b(server: LiveServer, file: types.File) -> None:
    """Key B can neither list, get, download nor delete the file; the SDK and plain HTTP agree."""
    assert file.name
    with sdk(server, B) as client:
        assert file.name not in [listed.name for listed in client.files.list()]
        for call in (client.files.get, client.files.delete):
            with pytest.raises(errors.ClientError) as raised:
                call(name=file.name)
            assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")
    with http(server, B) as client:
        assert file.name not in json.dumps(client.get("/v1beta/files").json())
        assert_not_found(client.get(f"/v1beta/{file.name}:download", params={"alt": "media"}))
        assert_not_found(client.get(f"/download/v1beta/{file.name}:download", params={"alt": "media"}))


def test_another_key_cannot_list_get_download_or_delete_an_upload(server: LiveServer) -> None:
    with sdk(server, A) as client:
        uploaded = client.files.upload(file=io.BytesIO(b"a's notes"), config={"mime_type": "text/plain"})
    assert_hidden_from_b(server, uploaded)
    with sdk(server, A) as client:
        assert client.files.get(name=uploaded.name) == uploaded
        assert client.files.download(file=uploaded.name) == b"a's notes"
        assert uploaded.name in [listed.name for listed in client.files.list()]


def test_generated_files_are_their_keys_alone(server: LiveServer) -> None:
    code = "```python\nopen('report.txt', 'w').write('r' * 5000)\n```"
    with sdk(server, A) as client:
        response = client.models.generate_content(model="scripted", contents=code, config=CODE_TOOL)
        parts = response.candidates[0].content.parts
        (linked,) = [part.file_data for part in parts if part.file_data]
        generated = client.files.get(name=linked.file_uri.rsplit("/", 1)[1])
    assert generated.source == types.FileSource.GENERATED
    assert_hidden_from_b(server, generated)
    with http(server, A) as client:
        download = client.get(linked.file_uri + ":download", params={"alt": "media"})
        assert download.status_code == 200 and download.content == b"r" * 5000


def test_another_key_cannot_read_a_file_through_file_data(server: LiveServer) -> None:
    with sdk(server, A) as client:
        secret = client.files.upload(file=io.BytesIO(b"a's secret"), config={"mime_type": "text/plain"})
    assert secret.uri and secret.name
    read_it: list[types.PartUnionDict] = [
        types.Part.from_uri(file_uri=secret.uri, mime_type="text/plain"),
        types.Part(text="```python\nimport glob\nprint([open(p).read() for p in glob.glob('*')])\n```"),
    ]
    with sdk(server, B) as client:
        for uri in (secret.uri, secret.name):
            read_it[0] = types.Part.from_uri(file_uri=uri, mime_type="text/plain")
            with pytest.raises(errors.ClientError) as raised:
                client.models.generate_content(model="scripted", contents=read_it, config=CODE_TOOL)
            assert (raised.value.code, raised.value.status) == (404, "NOT_FOUND")
            with pytest.raises(errors.ClientError) as counted:
                client.models.count_tokens(model="scripted", contents=read_it)
            assert counted.value.code == 404
    with sdk(server, A) as client:
        response = client.models.generate_content(model="scripted", contents=read_it, config=CODE_TOOL)
        assert "a's secret" in (response.code_execution_result or "")


def test_another_key_cannot_continue_cancel_or_finish_an_upload(server: LiveServer) -> None:
    with http(server, A) as client:
        started = client.post(
            "/upload/v1beta/files",
            json={"file": {"displayName": "a's upload"}},
            headers={
                "x-goog-upload-protocol": "resumable",
                "x-goog-upload-command": "start",
                "x-goog-upload-header-content-length": "10",
                "x-goog-upload-header-content-type": "text/plain",
            },
        )
    url = started.headers["x-goog-upload-url"]
    with http(server, B) as client:
        commands = (("upload", "0"), ("upload, finalize", "0"), ("query", None), ("cancel", None))
        for command, offset in commands:
            headers = {"x-goog-upload-command": command}
            if offset is not None:
                headers["x-goog-upload-offset"] = offset
            refused = client.post(url, content=b"b's bytes!" if offset else b"", headers=headers)
            assert_not_found(refused)
            assert refused.headers["x-goog-upload-status"] == "final"
    # The upload id alone is still the credential, as at Google: a request without a key goes on.
    with http(server, None) as client:
        headers = {"x-goog-upload-command": "upload", "x-goog-upload-offset": "0"}
        sent = client.post(url, content=b"a's upload", headers=headers)
        assert sent.status_code == 200 and sent.headers["x-goog-upload-size-received"] == "10"
    with http(server, A) as client:
        done = client.post(url, headers={"x-goog-upload-command": "finalize"})
        assert done.status_code == 200, done.text
    finished = types.File.model_validate(done.json()["file"])
    assert_hidden_from_b(server, finished)
    with sdk(server, A) as client:
        assert client.files.download(file=finished.name) == b"a's upload"


def test_another_key_cannot_continue_a_kept_session(server: LiveServer) -> None:
    with http(server, A) as a, http(server, B) as b:
        opened = a.post(GENERATE, json=block("secret = 'a-only'"), headers={SESSION: "new"})
        session_id = opened.headers[SESSION]
        assert_not_found(b.post(GENERATE, json=block("print(secret)"), headers={SESSION: session_id}))
        streamed = b.post(
            GENERATE.replace("generateContent", "streamGenerateContent"),
            json=block("print(secret)"),
            headers={SESSION: session_id},
        )
        assert_not_found(streamed)
        again = a.post(GENERATE, json=block("print(secret)"), headers={SESSION: session_id})
    parts = again.json()["candidates"][0]["content"]["parts"]
    assert [p["codeExecutionResult"]["output"] for p in parts if "codeExecutionResult" in p] == ["a-only\n"]


def test_each_key_names_its_own_files(server: LiveServer) -> None:
    """A name one key chose tells another key nothing: each may have its own files/ID."""
    config = types.UploadFileConfig(mime_type="text/plain", name="shared-name")
    with sdk(server, A) as a, sdk(server, B) as b:
        assert a.files.upload(file=io.BytesIO(b"from a"), config=config).name == "files/shared-name"
        assert b.files.upload(file=io.BytesIO(b"from b"), config=config).name == "files/shared-name"
        assert a.files.download(file="files/shared-name") == b"from a"
        assert b.files.download(file="files/shared-name") == b"from b"
        b.files.delete(name="files/shared-name")
        assert a.files.download(file="files/shared-name") == b"from a"


def old_file_record(data_dir: Path, file_id: str, data: bytes) -> None:
    """A file as a version that kept no owner wrote it: no "owner" in its record."""
    files = data_dir / "files"
    files.mkdir(parents=True)
    (files / file_id).write_bytes(data)
    record = {
        "id": file_id,
        "display_name": None,
        "mime_type": "text/plain",
        "size_bytes": len(data),
        "sha256": "0" * 64,
        "create_time": "2030-01-01T00:00:00+00:00",
        "expiration_time": "2999-01-01T00:00:00+00:00",
        "source": "UPLOADED",
    }
    (files / f"{file_id}.json").write_text(json.dumps(record))


def test_records_without_an_owner_are_no_keys(tmp_path: Path) -> None:
    old_file_record(tmp_path, "oldfile12345", b"from before owners")
    keyed = Settings(model="scripted", api_keys=f"{A},{B}", data_dir=tmp_path)
    with serving(keyed) as server:
        for key in (A, B):
            with http(server, key) as client:
                assert client.get("/v1beta/files").json() == {}
                assert_not_found(client.get("/v1beta/files/oldfile12345"))
                assert_not_found(client.get("/v1beta/files/oldfile12345:download", params={"alt": "media"}))
                assert_not_found(client.delete("/v1beta/files/oldfile12345"))
    with serving(Settings(model="scripted", data_dir=tmp_path)) as server, http(server, None) as client:
        # Without keys they are the one owner's, as before.
        download = client.get("/v1beta/files/oldfile12345:download", params={"alt": "media"})
        assert download.content == b"from before owners"
