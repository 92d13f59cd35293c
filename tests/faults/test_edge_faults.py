"""Faults at the edge, through a live server: a full disk under --data-dir, and callers past their limit.

The data dir is a 1 MiB tmpfs, so that the disk fills for real and writes fail with ENOSPC."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from codeloop.settings import Settings
from live import LiveServer, serving, wait_until

DISK_BYTES = 1 << 20
GENERATE = "/v1beta/models/scripted:generateContent"
ROUTE = "/{version}/models/{model}:{method}"
BODY = json.dumps(
    {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "```python\nprint(1)\n```"}}}
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    mount_point = tmp_path_factory.mktemp("small-disk")
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES}", "tmpfs", str(mount_point)], check=True
    )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "--lazy", str(mount_point)], check=True)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[LiveServer]:
    settings = Settings(
        model="scripted",
        exec_timeout=10,
        data_dir=data_dir,
        inline_file_bytes=1024,
        max_concurrent_per_key=1,
    )
    with serving(settings) as live:
        yield live


@pytest.fixture
def filler(data_dir: Path) -> Iterator[Path]:
    """A file to take the disk's space with; removed after the test."""
    path = data_dir / "filler"
    yield path
    path.unlink(missing_ok=True)


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def fill(path: Path, leave: int = 0) -> None:
    with open(path, "ab") as out:
        out.write(b"\0" * (free_bytes(path.parent) - leave))


def leftovers(data_dir: Path) -> list[str]:
    """Every file under the data dir but the filler: what a failed write left behind."""
    return sorted(
        str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file() and p.name != "filler"
    )


def assert_disk_full(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == 503 and error["status"] == "UNAVAILABLE"
    assert "disk is full" in error["message"]


def media_upload(http: httpx.Client, data: bytes) -> httpx.Response:
    return http.post("/upload/v1beta/files", content=data, headers={"content-type": "text/plain"})


def test_an_upload_larger_than_the_free_disk_is_a_503_and_leaves_nothing(server, data_dir) -> None:
    with server.client() as http:
        assert_disk_full(media_upload(http, b"x" * (2 * DISK_BYTES)))
        assert leftovers(data_dir) == []
        stored = media_upload(http, b"fits")  # the space the failed upload took is back
        assert stored.status_code == 200, stored.text
        assert http.delete(f"/v1beta/{stored.json()['file']['name']}").status_code == 200


def test_a_record_that_cannot_be_written_takes_its_blob_with_it(server, data_dir, filler) -> None:
    with server.client() as http:
        fill(filler, leave=2 * 4096)
        # The bytes fill the disk to its last page: the blob is stored, then its record has no room.
        assert_disk_full(media_upload(http, b"y" * free_bytes(data_dir)))
        assert leftovers(data_dir) == []


def test_a_resumable_upload_started_on_a_full_disk_leaves_no_record(server, data_dir, filler) -> None:
    fill(filler)
    with server.client() as http:
        started = http.post(
            "/upload/v1beta/files",
            json={"file": {"displayName": "notes"}},
            headers={"x-goog-upload-protocol": "resumable", "x-goog-upload-command": "start"},
        )
    assert_disk_full(started)
    assert leftovers(data_dir) == []


def test_a_file_the_code_writes_onto_a_full_disk_is_left_out_with_a_note(server, data_dir, filler) -> None:
    # Over inline_file_bytes, the file goes to the Files API, on the full disk: the block's output says
    # so, and the rest of the response stands (it is not a 500, nor a 503 after the code ran).
    code = "```python\nprint('ran')\nopen('big.bin', 'wb').write(b'z' * 100_000)\n```"
    body = json.dumps({"tools": {"codeExecution": {}}, "contents": {"parts": {"text": code}}})
    fill(filler)
    with server.client() as http:
        plain = http.post(GENERATE, content=body)
        streamed = http.post("/v1beta/models/scripted:streamGenerateContent", content=body)
    assert plain.status_code == 200, plain.text
    parts = plain.json()["candidates"][0]["content"]["parts"]
    chunks = streamed.json()
    assert all("error" not in chunk for chunk in chunks), chunks
    parts_streamed = [part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]]
    for found in (parts, parts_streamed):
        (result,) = [p["codeExecutionResult"] for p in found if "codeExecutionResult" in p]
        assert result["outcome"] == "OUTCOME_OK"
        assert result["output"].startswith("ran\n")
        assert "[big.bin (100000 bytes) is not returned: " in result["output"]
        assert "disk is full" in result["output"]
        assert not [p for p in found if "fileData" in p or "inlineData" in p]
    assert leftovers(data_dir) == []


def stalled_request(url: str) -> socket.socket:
    """A request whose body never comes, from this address."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(f"POST {GENERATE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n\r\n{{".encode())
    return sock


def hold_the_slot(server: LiveServer, http: httpx.Client) -> socket.socket:
    """A stalled request holding this address's one slot: once a request after it is refused.

    The slot of a request whose answer the client has read comes back an instant later, so a
    stalled request sent at once after it may itself be the one refused: then it is sent again."""
    for _ in range(50):
        sock = stalled_request(server.url)
        refused = http.post(GENERATE, content=BODY)
        if refused.status_code == 429:
            return sock
        sock.close()
    raise AssertionError("no stalled request held the slot")


def requests_total(http: httpx.Client, status: str) -> float:
    labels = {"route": ROUTE, "method": "POST", "status": status}
    for family in text_string_to_metric_families(http.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "codeloop_http_requests_total" and sample.labels == labels:
                return sample.value
    return 0.0


def test_a_429_says_when_to_retry_and_is_counted_under_its_route(server) -> None:
    with server.client() as http:
        assert http.post(GENERATE, content=BODY).status_code == 200
        before = requests_total(http, "429")
        with hold_the_slot(server, http):
            refused = http.post(GENERATE, content=BODY)
        assert refused.status_code == 429
        assert refused.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        assert int(refused.headers["retry-after"]) >= 1
        # The same route label as the 200s, not the GET route whose path also matches.
        assert requests_total(http, "429") >= before + 2
        assert requests_total(http, "200") >= 1
        assert wait_until(lambda: http.post(GENERATE, content=BODY).status_code == 200)
