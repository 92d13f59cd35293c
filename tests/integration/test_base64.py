"""Bytes on the wire are standard base64 with padding, as proto3 JSON and Gemini write them, in every
framing and on every path; requests may use either alphabet, padded or not."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from google import genai
from google.genai import types

from live import LiveServer

# Every byte value: its base64 has '+' and '/' (URL-safe: '-' and '_'), and 256 bytes need padding.
BLOB = bytes(range(256))
WRITE_FILES = (
    "```python\n"
    "open('blob.bin', 'wb').write(bytes(range(256)))\n"
    "import matplotlib.pyplot as plt\n"
    "plt.plot([1, 2, 3])\n"
    "plt.show()\n"
    "```"
)
BODY = json.dumps({"contents": {"parts": {"text": WRITE_FILES}}, "tools": {"codeExecution": {}}})
PATHS = {
    "gemini": "/v1beta/models/scripted:{method}",
    "vertex": "/v1/projects/p/locations/us-central1/publishers/google/models/scripted:{method}",
}


def inline_data(parts: list[dict]) -> dict[str, dict]:
    return {part["inlineData"]["displayName"]: part["inlineData"] for part in parts if "inlineData" in part}


def decoded(blob: dict) -> bytes:
    data = blob["data"]
    assert "-" not in data and "_" not in data and len(data) % 4 == 0, data[:40]
    return base64.b64decode(data, validate=True)


def check(parts: list[dict]) -> None:
    files = inline_data(parts)
    assert decoded(files["blob.bin"]) == BLOB
    assert decoded(files["figure_1.png"]).startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.parametrize("path", list(PATHS))
def test_a_whole_response(live_server: LiveServer, path: str) -> None:
    with live_server.client() as http:
        response = http.post(PATHS[path].format(method="generateContent"), content=BODY)
    assert response.status_code == 200, response.text
    check(response.json()["candidates"][0]["content"]["parts"])


@pytest.mark.parametrize("path", list(PATHS))
def test_a_json_array_stream(live_server: LiveServer, path: str) -> None:
    with live_server.client() as http:
        response = http.post(PATHS[path].format(method="streamGenerateContent"), content=BODY)
    assert response.status_code == 200, response.text
    check([part for chunk in response.json() for part in chunk["candidates"][0]["content"]["parts"]])


@pytest.mark.parametrize("path", list(PATHS))
def test_server_sent_events(live_server: LiveServer, path: str) -> None:
    with live_server.client() as http:
        response = http.post(PATHS[path].format(method="streamGenerateContent") + "?alt=sse", content=BODY)
    assert response.status_code == 200, response.text
    chunks = [json.loads(line.removeprefix("data: ")) for line in response.text.splitlines() if line]
    check([part for chunk in chunks for part in chunk["candidates"][0]["content"]["parts"]])


@pytest.mark.parametrize(
    "encode",
    [base64.b64encode, base64.urlsafe_b64encode, lambda data: base64.urlsafe_b64encode(data).rstrip(b"=")],
    ids=["standard", "url-safe", "url-safe unpadded"],
)
def test_inline_data_in_either_alphabet_reaches_the_code_intact(live_server: LiveServer, encode) -> None:
    data = encode(BLOB).decode()
    part = {"inlineData": {"mimeType": "application/octet-stream", "data": data, "displayName": "in.bin"}}
    code = "```python\nimport hashlib\nprint(hashlib.sha256(open('in.bin', 'rb').read()).hexdigest())\n```"
    body = {"contents": {"parts": [part, {"text": code}]}, "tools": {"codeExecution": {}}}
    with live_server.client() as http:
        response = http.post(PATHS["gemini"].format(method="generateContent"), json=body)
    assert response.status_code == 200, response.text
    parts = response.json()["candidates"][0]["content"]["parts"]
    result = next(part["codeExecutionResult"] for part in parts if "codeExecutionResult" in part)
    assert result["output"] == hashlib.sha256(BLOB).hexdigest() + "\n"


def test_the_sdk_reads_the_files_back(gemini_client: genai.Client) -> None:
    config = types.GenerateContentConfig(tools=[types.Tool(code_execution=types.ToolCodeExecution())])
    response = gemini_client.models.generate_content(model="scripted", contents=WRITE_FILES, config=config)
    files = {
        p.inline_data.display_name: p.inline_data.data
        for p in response.candidates[0].content.parts
        if p.inline_data
    }
    assert files["blob.bin"] == BLOB
