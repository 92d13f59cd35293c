"""Quotas that hold: per key and in all, unfinished uploads included, and what they leave of a response.

A real server on loopback with API keys and small caps; each test takes keys of its own, so that
what one test stores never counts against another's quota.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from prometheus_client.parser import text_string_to_metric_families

from codeloop.settings import Settings
from live import LiveServer, serving, wait_until

MIB = 1 << 20
KEY_QUOTA = 4 * MIB
KEYS = [f"quota-key-{n}" for n in range(12)]
CODE_TOOL = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
GENERATE = "/v1beta/models/scripted:generateContent"


def keyed_server(data_dir: Path, **caps: Any) -> contextlib.AbstractContextManager[LiveServer]:
    settings = Settings(model="scripted", exec_timeout=20, api_keys=",".join(KEYS), data_dir=data_dir, **caps)
    return serving(settings)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with keyed_server(
        tmp_path_factory.mktemp("quotas"),
        max_files_bytes=64 * MIB,
        max_files_bytes_per_key=KEY_QUOTA,
        max_uploads_per_key=3,
        max_kept_sessions_per_key=1,
    ) as server:
        yield server


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Room for 1 MiB in all, and uploads abandoned after a second."""
    with keyed_server(tmp_path_factory.mktemp("tiny"), max_files_bytes=MIB, upload_idle_timeout=1) as server:
        yield server


def http(server: LiveServer, key: str) -> httpx.Client:
    client = server.client()
    client.headers["x-goog-api-key"] = key
    return client


def sdk(server: LiveServer, key: str) -> genai.Client:
    return genai.Client(api_key=key, http_options=types.HttpOptions(base_url=server.url))


def status_of(response: httpx.Response) -> tuple[int, str]:
    error = response.json()["error"]
    assert error["code"] == response.status_code
    return error["code"], error["status"]


def start(client: httpx.Client, size: int | None = None, **metadata: object) -> httpx.Response:
    headers = {"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"}
    if size is not None:
        headers["x-goog-upload-header-content-length"] = str(size)
    return client.post("/upload/v1beta/files", json={"file": metadata}, headers=headers)


def send(client: httpx.Client, url: str, offset: int, data: bytes) -> httpx.Response:
    headers = {"x-goog-upload-command": "upload", "x-goog-upload-offset": str(offset)}
    return client.post(url, content=data, headers=headers)


def upload_bytes_on_disk(server: LiveServer) -> int:
    return sum(part.stat().st_size for part in (server.settings.data_dir / "uploads").glob("*.part"))


def test_one_key_at_its_quota_leaves_the_other_able_to_store(server: LiveServer) -> None:
    a, b = KEYS[0], KEYS[1]
    with http(server, a) as client:
        for _ in range(KEY_QUOTA // MIB):
            stored = client.post("/upload/v1beta/files?uploadType=media", content=b"a" * MIB)
            assert stored.status_code == 200, stored.text
        refused = client.post("/upload/v1beta/files?uploadType=media", content=b"a")
        assert status_of(refused) == (429, "RESOURCE_EXHAUSTED")
        assert "This API key's file storage is full" in refused.json()["error"]["message"]
    with sdk(server, b) as client:
        uploaded = client.files.upload(file=io.BytesIO(b"b" * MIB), config={"mime_type": "text/plain"})
        assert uploaded.size_bytes == MIB


def test_unfinished_uploads_count_against_the_quota(server: LiveServer) -> None:
    a, b = KEYS[2], KEYS[3]
    half = KEY_QUOTA // 2
    with http(server, a) as client:
        # Declared sizes are held from the start: a third one cannot fit, though no byte came yet.
        first, second = start(client, half), start(client, half)
        assert first.status_code == second.status_code == 200
        assert status_of(start(client, half)) == (429, "RESOURCE_EXHAUSTED")
        assert status_of(client.post("/upload/v1beta/files?uploadType=media", content=b"x")) == (
            429,
            "RESOURCE_EXHAUSTED",
        )
        for started in (first, second):
            assert send(client, started.headers["x-goog-upload-url"], 0, b"u" * half).status_code == 200
        assert upload_bytes_on_disk(server) <= KEY_QUOTA
    with http(server, b) as client:
        # No size declared: the bytes are claimed as they come, and the quota stops them.
        url = start(client).headers["x-goog-upload-url"]
        offset = 0
        for _ in range(KEY_QUOTA // MIB):
            assert send(client, url, offset, b"v" * MIB).status_code == 200
            offset += MIB
        refused = send(client, url, offset, b"v" * MIB)
        assert status_of(refused) == (429, "RESOURCE_EXHAUSTED")
        assert refused.headers["x-goog-upload-status"] == "final"  # its bytes are dropped
    assert upload_bytes_on_disk(server) <= 2 * KEY_QUOTA


def test_open_uploads_per_key_are_capped(server: LiveServer) -> None:
    a, b = KEYS[4], KEYS[5]
    with http(server, a) as client:
        urls = [start(client, 1).headers["x-goog-upload-url"] for _ in range(3)]
        refused = start(client, 1)
        assert status_of(refused) == (429, "RESOURCE_EXHAUSTED")
        assert "unfinished uploads" in refused.json()["error"]["message"]
    with http(server, b) as client:
        assert start(client, 1).status_code == 200
    with http(server, a) as client:
        cancelled = client.post(urls[0], headers={"x-goog-upload-command": "cancel"})
        assert cancelled.headers["x-goog-upload-status"] == "cancelled"
        assert start(client, 1).status_code == 200


def test_an_abandoned_upload_expires_and_frees_the_quota(tiny_server: LiveServer) -> None:
    with http(tiny_server, KEYS[0]) as client:
        url = start(client, MIB).headers["x-goog-upload-url"]
        assert send(client, url, 0, b"a" * 1000).status_code == 200
        assert status_of(client.post("/upload/v1beta/files?uploadType=media", content=b"x")) == (
            429,
            "RESOURCE_EXHAUSTED",
        )
        # Abandoned for its idle timeout, it is gone, and so is what it held.
        assert wait_until(lambda: upload_bytes_on_disk(tiny_server) == 0, timeout=10)
        assert status_of(send(client, url, 1000, b"a")) == (404, "NOT_FOUND")
        assert client.post("/upload/v1beta/files?uploadType=media", content=b"x" * MIB).status_code == 200


def test_kept_sessions_per_key_are_capped(server: LiveServer) -> None:
    a, b = KEYS[6], KEYS[7]
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\nx = 1\n```"}}}
    new = {"x-codeloop-session": "new"}
    with http(server, a) as client:
        assert client.post(GENERATE, json=body, headers=new).status_code == 200
        refused = client.post(GENERATE, json=body, headers=new)
        assert status_of(refused) == (429, "RESOURCE_EXHAUSTED")
        assert "This API key keeps 1 sessions" in refused.json()["error"]["message"]
    with http(server, b) as client:
        assert client.post(GENERATE, json=body, headers=new).status_code == 200


def test_a_file_that_cannot_be_stored_leaves_the_rest_of_the_response(tiny_server: LiveServer) -> None:
    """A legitimate 4.5 MB file, with room for 1 MiB: that file is left out with a note; the earlier
    block's result, the block's own output and its small file all come back."""
    blocks = (
        "```python\nprint('first block')\n```\n"
        "```python\n"
        "open('big.bin', 'wb').write(b'b' * 4_500_000)\n"
        "open('small.txt', 'w').write('small')\n"
        "print('second block')\n"
        "```"
    )
    with sdk(tiny_server, KEYS[8]) as client:
        response = client.models.generate_content(model="scripted", contents=blocks, config=CODE_TOOL)
        streamed = list(
            client.models.generate_content_stream(model="scripted", contents=blocks, config=CODE_TOOL)
        )
        listed = list(client.files.list())
    streamed_parts = [part for chunk in streamed for part in chunk.candidates[0].content.parts]
    for parts in (response.candidates[0].content.parts, streamed_parts):
        outputs = [part.code_execution_result.output for part in parts if part.code_execution_result]
        assert outputs[0] == "first block\n"
        assert outputs[1].startswith("second block\n[big.bin (4500000 bytes) is not returned: ")
        assert "File storage is full" in outputs[1]
        files = [part.inline_data or part.file_data for part in parts if part.inline_data or part.file_data]
        assert [file.display_name for file in files] == ["small.txt"]
    assert listed == []


def metric_values(text: str, name: str) -> dict[str, float]:
    return {
        sample.labels["key"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def test_metrics_show_each_keys_usage_under_its_hash_alone(server: LiveServer) -> None:
    key = KEYS[9]
    tag = hashlib.sha256(key.encode()).hexdigest()[:12]
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\nx = 1\n```"}}}
    with http(server, key) as client:
        assert client.post("/upload/v1beta/files?uploadType=media", content=b"m" * 1000).status_code == 200
        assert start(client, 500).status_code == 200
        assert client.post(GENERATE, json=body, headers={"x-codeloop-session": "new"}).status_code == 200
        scraped = client.get("/metrics").text
    assert metric_values(scraped, "codeloop_key_stored_bytes")[tag] == 1500
    assert metric_values(scraped, "codeloop_key_files")[tag] == 1
    assert metric_values(scraped, "codeloop_key_open_uploads")[tag] == 1
    assert metric_values(scraped, "codeloop_key_kept_sessions")[tag] == 1
    for secret in KEYS:
        assert secret not in scraped
        assert hashlib.sha256(secret.encode()).hexdigest() not in scraped


def test_display_names_are_bounded_with_a_clear_400(server: LiveServer) -> None:
    key = KEYS[10]
    with sdk(server, key) as client:
        named = types.Part.from_bytes(data=b"a,b\n1,2\n", mime_type="text/csv")
        assert named.inline_data
        named.inline_data.display_name = "d" * 300 + ".csv"
        with pytest.raises(errors.ClientError) as refused:
            client.models.generate_content(
                model="scripted",
                contents=types.Content(role="user", parts=[named, types.Part(text="```python\n1\n```")]),
                config=CODE_TOOL,
            )
        assert (refused.value.code, refused.value.status) == (400, "INVALID_ARGUMENT")
        assert "inlineData.displayName" in (refused.value.message or "")
        # The Files API keeps Gemini's 512 characters; such a file still reaches the sandbox.
        long_name = "n" * 508 + ".csv"
        stored = client.files.upload(
            file=io.BytesIO(b"a,b\n1,2\n"), config={"mime_type": "text/csv", "display_name": long_name}
        )
        assert stored.display_name == long_name
        listing = "```python\nimport os\nprint([len(n) for n in os.listdir('.') if n.endswith('.csv')])\n```"
        staged: list[types.PartUnionDict] = [stored, listing]
        response = client.models.generate_content(model="scripted", contents=staged, config=CODE_TOOL)
        assert response.code_execution_result == "[255]\n"
    with http(server, key) as client:
        too_long = start(client, 1, displayName="n" * 513)
        assert status_of(too_long) == (400, "INVALID_ARGUMENT")
        multipart = client.post(
            "/upload/v1beta/files",
            files={
                "metadata": (None, json.dumps({"file": {"displayName": "n" * 513}}), "application/json"),
                "file": ("x.txt", b"x", "text/plain"),
            },
            headers={"x-goog-upload-protocol": "multipart"},
        )
        assert status_of(multipart) == (400, "INVALID_ARGUMENT")
