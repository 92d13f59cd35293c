"""What one request makes the server hold: ten blocks of legitimate 31 MiB images, one response.

A real `codeloop serve` process (scripted model, real sandbox). Each block writes a 31 MiB PNG-named
file, the most a block may return (32 MiB), and removes the one before, so the working dir stays within
its size. Every image comes back, inline or as a Files API link, and the server's peak memory grows by
a bounded amount, not by the sum of the files held as bytes, base64 and JSON at once.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import Server, start_server, stop_server

FILES = 10
FILE_MIB = 31
# What the request may cost the server: one block's result crossing the sandbox seam at a time (its
# ~42 MiB base64 frame read, parsed and decoded to 31 MiB, ~115 MiB at its peak) while the loop still
# holds the block before's (31 MiB), and at most the response's inline budget (16 MiB, ~65 MiB once
# rendered as base64 into the body; none of these images fits in it): 220-230 MiB here. The ten files
# held to the end, as bytes, base64 and JSON, would take over a gigabyte.
MAX_GROWTH_MIB = 400


def _block(index: int) -> str:
    remove = f"os.remove('img{index - 1}.png')\n" if index else ""
    return (
        "```python\nimport hashlib, os\n"
        f"{remove}data = os.urandom({FILE_MIB} << 20)\n"
        f"open('img{index}.png', 'wb').write(data)\n"
        f"print('img{index}.png', hashlib.sha256(data).hexdigest())\n```\n"
    )


def _generate(server: Server, blocks: list[str]) -> dict[str, object]:
    body = {"tools": {"codeExecution": {}}, "contents": {"parts": {"text": "".join(blocks)}}}
    response = httpx.post(
        f"{server.url}/v1beta/models/scripted:generateContent", content=json.dumps(body), timeout=110
    )
    assert response.status_code == 200, response.text[:1000]
    parsed: dict[str, object] = response.json()
    return parsed


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for pid {pid}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("memory")
    server = start_server("--exec-timeout", "30", "--exec-memory-mib", "512", "--data-dir", str(data_dir))
    yield server
    stop_server(server)


def test_ten_large_images_are_all_returned_within_bounded_server_memory(server: Server) -> None:
    # A small file through the same path first: what that path imports is not the request's cost.
    _generate(server, ["```python\nopen('warm.png', 'wb').write(b'x' * 1000)\n```\n"])
    before = _peak_rss_mib(server.process.pid)

    response = _generate(server, [_block(i) for i in range(FILES)])
    growth = _peak_rss_mib(server.process.pid) - before

    parts = response["candidates"][0]["content"]["parts"]  # type: ignore[index]
    outputs = "".join(
        part["codeExecutionResult"]["output"] for part in parts if "codeExecutionResult" in part
    )
    digests = dict(re.findall(r"^(img\d+\.png) ([0-9a-f]{64})$", outputs, re.MULTILINE))
    assert sorted(digests) == sorted(f"img{i}.png" for i in range(FILES))
    returned = {}
    for part in parts:
        if "inlineData" in part:
            returned[part["inlineData"]["displayName"]] = base64.urlsafe_b64decode(part["inlineData"]["data"])
        elif "fileData" in part:
            download = httpx.get(
                part["fileData"]["fileUri"] + ":download", params={"alt": "media"}, timeout=60
            )
            assert download.status_code == 200
            returned[part["fileData"]["displayName"]] = download.content
    assert {name: hashlib.sha256(data).hexdigest() for name, data in returned.items()} == digests
    assert growth < MAX_GROWTH_MIB, f"the server's peak memory grew by {growth:.0f} MiB"
    server.assert_healthy()
